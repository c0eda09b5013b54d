//! `SqliteMetaStore`: the embedded default metadata store (SQLite, WAL).

pub struct SqliteMetaStore {}
