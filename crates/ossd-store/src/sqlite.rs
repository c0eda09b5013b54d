//! `SqliteMetaStore`: the embedded default metadata store (SQLite, WAL).
//!
//! Why SQLite: it is embedded (no server to run next to ossd, one file beside the blobs), fully
//! transactional (an object publish, its blob reference counts and its callback-log entry commit
//! or vanish together), and its tables are B-trees ordered by primary key, so listing a page of
//! a bucket is a bounded range scan whose cost grows with the page, not with the bucket.
//! A PostgreSQL implementation of the same [`MetaStore`] trait can come later for deployments
//! that need several ossd nodes on one metadata store; nothing here leaks out of the trait.
//!
//! Concurrency: WAL mode lets readers proceed while a commit is in progress. There is one
//! writer connection behind a `Mutex` (SQLite serialises writers anyway; queueing them on the
//! mutex avoids `SQLITE_BUSY` churn) and a small pool of read-only (`query_only`) connections,
//! each behind its own `Mutex`, chosen round-robin with `try_lock` so a read only waits when
//! every reader is busy. Every trait method is one statement or one `BEGIN IMMEDIATE`
//! transaction. Durability: `synchronous=FULL` (fsync of the WAL on every commit) when
//! `durable`, else `NORMAL` (a crash may lose the last commits, never corrupt the database).
//!
//! Keys: object keys are stored as BLOBs holding their UTF-8 bytes, so the primary-key order is
//! byte order, as OSS lists. A string never contains the byte 0xFF, hence the keys starting with
//! `p` are exactly those in `[p, p || 0xFF)`, and the keys strictly after `k` are those
//! `>= k || 0x00`. Every listing is thus one `SEARCH` of the `(bucket, key)` primary key with a
//! `LIMIT`.
//!
//! Blobs: `blob_refs(blob, refs)` counts, per blob, the object segments that reference it
//! (maintained in the same transaction as the objects), so an overwrite, append or delete returns
//! exactly the blobs nothing references any more, and `referenced_blobs` is one index read.
//!
//! Schema versions live in `PRAGMA user_version` (0 = empty database, [`SCHEMA_VERSION`] now);
//! `open` refuses a database newer than it knows.

use crate::blob::BlobId;
use crate::meta::*;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Current schema version (stored in `PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 5;
/// Read connections opened by [`SqliteMetaStore::open`].
pub const DEFAULT_READERS: usize = 4;
/// `list_callbacks` page size when the filter's `limit` is 0.
pub const DEFAULT_CALLBACK_LIMIT: usize = 100;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA_V1: &str = "
CREATE TABLE buckets (
    name          TEXT PRIMARY KEY NOT NULL,
    created_ms    INTEGER NOT NULL,
    acl           TEXT NOT NULL,
    storage_class TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE objects (
    bucket           TEXT NOT NULL,
    key              BLOB NOT NULL,   -- UTF-8 bytes of the key: byte order
    size             INTEGER NOT NULL,
    etag             TEXT NOT NULL,
    crc64            INTEGER NOT NULL, -- u64 bit pattern as i64
    content_md5      TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    object_type      TEXT NOT NULL,
    acl              TEXT NOT NULL,
    headers          TEXT NOT NULL,   -- JSON object {name: value}
    tags             TEXT NOT NULL,   -- JSON array [[key, value], ...]
    segments         TEXT NOT NULL,   -- JSON array [{blob, len}, ...]
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;

CREATE TABLE blob_refs (
    blob TEXT PRIMARY KEY NOT NULL,
    refs INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE callbacks (
    request_id     TEXT PRIMARY KEY NOT NULL,
    bucket         TEXT NOT NULL,
    object         TEXT NOT NULL,
    operation      TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    outcome        TEXT NOT NULL,
    callback_param TEXT NOT NULL,
    body           BLOB NOT NULL,
    attempts       TEXT NOT NULL,
    message        TEXT NOT NULL,
    finished_ms    INTEGER NOT NULL
);
CREATE INDEX callbacks_by_time ON callbacks (created_ms, request_id);
";

/// Version 2: multipart uploads. Part blobs are counted in `blob_refs` like object segments.
const SCHEMA_V2: &str = "
CREATE TABLE uploads (
    upload_id    TEXT PRIMARY KEY NOT NULL,
    bucket       TEXT NOT NULL,
    key          BLOB NOT NULL,
    initiated_ms INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    acl          TEXT NOT NULL,
    headers      TEXT NOT NULL,
    tags         TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);

CREATE TABLE parts (
    upload_id        TEXT NOT NULL,
    part_number      INTEGER NOT NULL,
    blob             TEXT NOT NULL,
    size             INTEGER NOT NULL,
    etag             TEXT NOT NULL,
    crc64            INTEGER NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
";

/// Version 3: per-bucket CORS configuration.
const SCHEMA_V3: &str = "ALTER TABLE buckets ADD COLUMN cors TEXT;";

/// Version 4: the public-key URL a callback was signed for (replay re-signs for the same URL).
const SCHEMA_V4: &str = "ALTER TABLE callbacks ADD COLUMN key_url TEXT NOT NULL DEFAULT '';";

/// Version 5: per-bucket callback policies (`?policy&comp=callback`).
const SCHEMA_V5: &str = "ALTER TABLE buckets ADD COLUMN callback_policy TEXT;";

const UPLOAD_COLUMNS: &str = "bucket, key, upload_id, initiated_ms, content_type, acl, headers, tags";
const PART_COLUMNS: &str = "upload_id, part_number, blob, size, etag, crc64, last_modified_ms";

const OBJECT_COLUMNS: &str = "bucket, key, size, etag, crc64, content_md5, content_type, \
     last_modified_ms, object_type, acl, headers, tags, segments";

/// One page of a bucket: `?1` bucket, `?2` inclusive lower key, `?3` exclusive upper key,
/// `?4` limit.
const LIST_OBJECTS_SQL: &str = "SELECT bucket, key, size, etag, crc64, content_md5, content_type, \
     last_modified_ms, object_type, acl, headers, tags, segments \
     FROM objects WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4";

/// The listing columns only: `?1` bucket, `?2` inclusive lower key, `?3` exclusive upper key, `?4` limit.
const LIST_SUMMARIES_SQL: &str = "SELECT key, size, etag, last_modified_ms, object_type \
     FROM objects WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4";

const CALLBACK_COLUMNS: &str = "request_id, bucket, object, operation, created_ms, outcome, \
     callback_param, body, attempts, message, finished_ms, key_url";

pub struct SqliteMetaStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// rusqlite / serde_json errors become `StoreError::Backend`.
trait Backend<T> {
    fn db(self) -> StoreResult<T>;
}

impl<T> Backend<T> for rusqlite::Result<T> {
    fn db(self) -> StoreResult<T> {
        self.map_err(|e| StoreError::Backend(e.to_string()))
    }
}

impl<T> Backend<T> for serde_json::Result<T> {
    fn db(self) -> StoreResult<T> {
        self.map_err(|e| StoreError::Backend(format!("json: {e}")))
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves the connection usable (an open transaction was
    // rolled back when its guard dropped), so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn to_i64(v: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} {v} out of range")))
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// `s || 0xFF`: greater than every string that starts with `s`, smaller than any other string
/// greater than `s`.
fn past_prefix(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0xFF);
    v
}

/// The `[lower, upper)` key range of a listing page, or `None` when it is empty.
fn list_bounds(prefix: &str, start: ListStart<'_>, limit: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    if limit == 0 {
        return None;
    }
    let upper = past_prefix(prefix);
    let lower = match start {
        ListStart::Beginning => prefix.as_bytes().to_vec(),
        ListStart::After(k) => successor(k),
        ListStart::PastPrefix(p) => past_prefix(p),
    }
    .max(prefix.as_bytes().to_vec());
    (lower < upper).then_some((lower, upper))
}

/// `s || 0x00`: the smallest byte string strictly greater than `s`.
fn successor(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0x00);
    v
}

/// Smallest string greater than every string starting with `p` (`None`: no bound), for TEXT
/// columns where a 0xFF byte cannot be bound. UTF-8 byte order is code point order.
fn text_prefix_end(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn open_connection(path: &Path, durable: bool, reader: bool) -> StoreResult<Connection> {
    // No SQLITE_OPEN_URI: the path is a path, never interpreted as a `file:` URI.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.set_prepared_statement_cache_capacity(32);
    if reader {
        // The writer (opened first) already switched the database to WAL, which persists.
        conn.execute_batch("PRAGMA query_only = ON;").db()?;
    } else {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).db()?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "SQLite did not enable WAL mode");
        }
        // Checkpoints run on the writer's commits; cap the WAL file left behind by one.
        conn.execute_batch("PRAGMA journal_size_limit = 67108864;").db()?;
    }
    conn.execute_batch(if durable { "PRAGMA synchronous = FULL;" } else { "PRAGMA synchronous = NORMAL;" }).db()?;
    conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192;").db()?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive).db()?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).db()?;
    match version {
        0..=4 => {
            if version < 1 {
                tx.execute_batch(SCHEMA_V1).db()?;
            }
            if version < 2 {
                tx.execute_batch(SCHEMA_V2).db()?;
            }
            if version < 3 {
                tx.execute_batch(SCHEMA_V3).db()?;
            }
            if version < 4 {
                tx.execute_batch(SCHEMA_V4).db()?;
            }
            tx.execute_batch(SCHEMA_V5).db()?;
            tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};")).db()?;
        }
        SCHEMA_VERSION => {}
        v => {
            return Err(StoreError::Backend(format!(
                "metadata schema version {v} is not supported (this build knows {SCHEMA_VERSION})"
            )));
        }
    }
    tx.commit().db()
}

/// Deletes an upload and its parts; returns the part blobs left without references.
fn remove_upload(tx: &Transaction<'_>, upload_id: &str) -> StoreResult<Vec<BlobId>> {
    let blobs: Vec<Segment> = {
        let mut stmt = tx.prepare_cached("SELECT blob FROM parts WHERE upload_id = ?1").db()?;
        let rows = stmt.query_map([upload_id], |r| r.get(0).map(|b| Segment { blob: BlobId(b), len: 0 })).db()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().db()?
    };
    tx.prepare_cached("DELETE FROM parts WHERE upload_id = ?1").db()?.execute([upload_id]).db()?;
    tx.prepare_cached("DELETE FROM uploads WHERE upload_id = ?1").db()?.execute([upload_id]).db()?;
    drop_refs(tx, &blobs)
}

struct RawUpload {
    bucket: String,
    key: Vec<u8>,
    upload_id: String,
    initiated_ms: i64,
    content_type: String,
    acl: String,
    headers: String,
    tags: String,
}

fn raw_upload(r: &Row<'_>) -> rusqlite::Result<RawUpload> {
    Ok(RawUpload {
        bucket: r.get(0)?,
        key: r.get(1)?,
        upload_id: r.get(2)?,
        initiated_ms: r.get(3)?,
        content_type: r.get(4)?,
        acl: r.get(5)?,
        headers: r.get(6)?,
        tags: r.get(7)?,
    })
}

impl RawUpload {
    fn into_record(self) -> StoreResult<UploadRecord> {
        Ok(UploadRecord {
            bucket: self.bucket,
            key: String::from_utf8(self.key).map_err(|_| StoreError::Backend("upload key is not UTF-8".into()))?,
            upload_id: self.upload_id,
            initiated_ms: self.initiated_ms,
            content_type: self.content_type,
            acl: self.acl,
            headers: serde_json::from_str(&self.headers).db()?,
            tags: serde_json::from_str(&self.tags).db()?,
        })
    }
}

fn part_from_row(r: &Row<'_>) -> rusqlite::Result<PartRecord> {
    Ok(PartRecord {
        upload_id: r.get(0)?,
        part_number: r.get(1)?,
        blob: BlobId(r.get(2)?),
        size: r.get::<_, i64>(3)?.max(0) as u64,
        etag: r.get(4)?,
        crc64: r.get::<_, i64>(5)? as u64,
        last_modified_ms: r.get(6)?,
    })
}

fn bucket_from_row(r: &Row<'_>) -> rusqlite::Result<BucketRecord> {
    Ok(BucketRecord {
        name: r.get(0)?,
        created_ms: r.get(1)?,
        acl: r.get(2)?,
        storage_class: r.get(3)?,
        cors: r.get(4)?,
        callback_policy: r.get(5)?,
    })
}

/// Columns in `OBJECT_COLUMNS` order, decoded to plain values first (JSON parsed afterwards
/// so its errors are ours, not rusqlite's).
struct RawObject {
    bucket: String,
    key: Vec<u8>,
    size: i64,
    etag: String,
    crc64: i64,
    content_md5: String,
    content_type: String,
    last_modified_ms: i64,
    object_type: String,
    acl: String,
    headers: String,
    tags: String,
    segments: String,
}

fn raw_object(r: &Row<'_>) -> rusqlite::Result<RawObject> {
    Ok(RawObject {
        bucket: r.get(0)?,
        key: r.get(1)?,
        size: r.get(2)?,
        etag: r.get(3)?,
        crc64: r.get(4)?,
        content_md5: r.get(5)?,
        content_type: r.get(6)?,
        last_modified_ms: r.get(7)?,
        object_type: r.get(8)?,
        acl: r.get(9)?,
        headers: r.get(10)?,
        tags: r.get(11)?,
        segments: r.get(12)?,
    })
}

impl RawObject {
    fn into_record(self) -> StoreResult<ObjectRecord> {
        let key =
            String::from_utf8(self.key).map_err(|_| StoreError::Backend("stored object key is not UTF-8".into()))?;
        let size =
            u64::try_from(self.size).map_err(|_| StoreError::Backend(format!("negative size stored for {key:?}")))?;
        Ok(ObjectRecord {
            bucket: self.bucket,
            key,
            segments: serde_json::from_str(&self.segments).db()?,
            size,
            etag: self.etag,
            crc64: self.crc64 as u64,
            content_md5: self.content_md5,
            content_type: self.content_type,
            last_modified_ms: self.last_modified_ms,
            object_type: self.object_type,
            acl: self.acl,
            headers: serde_json::from_str(&self.headers).db()?,
            tags: serde_json::from_str(&self.tags).db()?,
        })
    }
}

fn callback_from_row(r: &Row<'_>) -> rusqlite::Result<CallbackLogEntry> {
    Ok(CallbackLogEntry {
        request_id: r.get(0)?,
        bucket: r.get(1)?,
        object: r.get(2)?,
        operation: r.get(3)?,
        created_ms: r.get(4)?,
        outcome: r.get(5)?,
        callback_param: r.get(6)?,
        body: r.get(7)?,
        attempts_json: r.get(8)?,
        message: r.get(9)?,
        finished_ms: r.get(10)?,
        key_url: r.get(11)?,
    })
}

/// Inserts (or replaces: request ids are unique, a replay overwrites) a callback-log entry.
fn upsert_callback(tx: &Connection, e: &CallbackLogEntry) -> StoreResult<()> {
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO callbacks ({CALLBACK_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))
    .db()?
    .execute(params![
        e.request_id,
        e.bucket,
        e.object,
        e.operation,
        e.created_ms,
        e.outcome,
        e.callback_param,
        e.body,
        e.attempts_json,
        e.message,
        e.finished_ms,
        e.key_url
    ])
    .db()?;
    Ok(())
}

fn add_refs(tx: &Transaction<'_>, segments: &[Segment]) -> StoreResult<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO blob_refs (blob, refs) VALUES (?1, 1) \
             ON CONFLICT (blob) DO UPDATE SET refs = refs + 1",
        )
        .db()?;
    for s in segments {
        stmt.execute([&s.blob.0]).db()?;
    }
    Ok(())
}

/// Drops one reference per segment; returns the blobs left without any.
fn drop_refs(tx: &Transaction<'_>, segments: &[Segment]) -> StoreResult<Vec<BlobId>> {
    let mut dec = tx.prepare_cached("UPDATE blob_refs SET refs = refs - 1 WHERE blob = ?1 RETURNING refs").db()?;
    let mut del = tx.prepare_cached("DELETE FROM blob_refs WHERE blob = ?1").db()?;
    let mut freed = Vec::new();
    for s in segments {
        let left: Option<i64> = dec.query_row([&s.blob.0], |r| r.get(0)).optional().db()?;
        if let Some(left) = left
            && left <= 0
        {
            del.execute([&s.blob.0]).db()?;
            freed.push(s.blob.clone());
        }
    }
    Ok(freed)
}

/// Segments of the current object at `(bucket, key)` plus its type and size, if any.
fn current_object(tx: &Transaction<'_>, bucket: &str, key: &str) -> StoreResult<Option<(String, u64, Vec<Segment>)>> {
    let row: Option<(String, i64, String)> = tx
        .prepare_cached("SELECT object_type, size, segments FROM objects WHERE bucket = ?1 AND key = ?2")
        .db()?
        .query_row(params![bucket, key.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .db()?;
    match row {
        None => Ok(None),
        Some((ty, size, segs)) => {
            let segs: Vec<Segment> = serde_json::from_str(&segs).db()?;
            Ok(Some((ty, u64::try_from(size).unwrap_or(0), segs)))
        }
    }
}

/// Publishes an object inside a transaction (PutObject, AppendObject, CopyObject and multipart
/// completion share it): mode checks, the row, blob reference counts, the callback entry.
fn publish_object(
    tx: &Transaction<'_>,
    o: &ObjectRecord,
    mode: PutMode,
    callback: Option<&CallbackLogEntry>,
) -> StoreResult<Vec<BlobId>> {
    let headers = serde_json::to_string(&o.headers).db()?;
    let tags = serde_json::to_string(&o.tags).db()?;
    let segments = serde_json::to_string(&o.segments).db()?;
    let size = to_i64(o.size, "object size")?;
    let bucket_exists = tx.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1").db()?.exists([&o.bucket]).db()?;
    if !bucket_exists {
        return Err(StoreError::NoSuchBucket);
    }
    let old = current_object(tx, &o.bucket, &o.key)?;
    match (mode, &old) {
        (PutMode::Overwrite, _) | (PutMode::MustNotExist, None) => {}
        (PutMode::MustNotExist, Some(_)) => return Err(StoreError::ObjectExists),
        (PutMode::AppendAt(0), None) => {}
        (PutMode::AppendAt(_), None) => {
            return Err(StoreError::PositionNotEqualToLength(0));
        }
        (PutMode::AppendAt(pos), Some((ty, size, _))) => {
            if ty != "Appendable" {
                return Err(StoreError::NotAppendable);
            }
            if *size != pos {
                return Err(StoreError::PositionNotEqualToLength(*size));
            }
        }
    }
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO objects ({OBJECT_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))
    .db()?
    .execute(params![
        o.bucket,
        o.key.as_bytes(),
        size,
        o.etag,
        o.crc64 as i64,
        o.content_md5,
        o.content_type,
        o.last_modified_ms,
        o.object_type,
        o.acl,
        headers,
        tags,
        segments
    ])
    .db()?;
    // New references first, so blobs the new record keeps (append) never reach zero.
    add_refs(tx, &o.segments)?;
    let freed = match old {
        Some((_, _, old_segments)) => drop_refs(tx, &old_segments)?,
        None => Vec::new(),
    };
    if let Some(cb) = callback {
        upsert_callback(tx, cb)?;
    }
    Ok(freed)
}

impl SqliteMetaStore {
    /// Opens (creating if needed) the database at `path` with [`DEFAULT_READERS`] read
    /// connections. `durable` selects `synchronous=FULL` (else `NORMAL`).
    pub fn open(path: &Path, durable: bool) -> StoreResult<Self> {
        Self::open_with_readers(path, durable, DEFAULT_READERS)
    }

    /// Like [`open`](Self::open) with `readers` read connections (at least 1).
    pub fn open_with_readers(path: &Path, durable: bool, readers: usize) -> StoreResult<Self> {
        let mut writer = open_connection(path, durable, false)?;
        migrate(&mut writer)?;
        let readers = (0..readers.max(1))
            .map(|_| open_connection(path, durable, true).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SqliteMetaStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a read connection: the first free one from a round-robin start, else waits
    /// for the start one.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            match self.readers[(start + i) % n].try_lock() {
                Ok(conn) => return f(&conn),
                Err(std::sync::TryLockError::Poisoned(p)) => return f(&p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        f(&lock(&self.readers[start]))
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer; commits if it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let out = f(&tx)?;
        tx.commit().db()?;
        Ok(out)
    }

    /// `EXPLAIN QUERY PLAN` of the `list_objects` query (for tests and diagnostics).
    pub fn explain_list_objects(&self) -> StoreResult<String> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {LIST_OBJECTS_SQL}")).db()?;
            let rows =
                stmt.query_map(params!["b", b"a".as_slice(), b"b".as_slice(), 10], |r| r.get::<_, String>(3)).db()?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r.db()?);
            }
            Ok(out.join("\n"))
        })
    }
}

impl MetaStore for SqliteMetaStore {
    fn create_bucket(&self, b: &BucketRecord) -> StoreResult<()> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "INSERT INTO buckets (name, created_ms, acl, storage_class, cors, callback_policy) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
                )
                .db()?
                .execute(params![b.name, b.created_ms, b.acl, b.storage_class, b.cors, b.callback_policy])
                .db()?;
            if n == 0 { Err(StoreError::BucketExists) } else { Ok(()) }
        })
    }

    fn delete_bucket(&self, name: &str) -> StoreResult<()> {
        self.write(|tx| {
            let exists = tx.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1").db()?.exists([name]).db()?;
            if !exists {
                return Err(StoreError::NoSuchBucket);
            }
            let has_objects =
                tx.prepare_cached("SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1").db()?.exists([name]).db()?;
            let has_uploads =
                tx.prepare_cached("SELECT 1 FROM uploads WHERE bucket = ?1 LIMIT 1").db()?.exists([name]).db()?;
            if has_objects || has_uploads {
                return Err(StoreError::BucketNotEmpty);
            }
            tx.prepare_cached("DELETE FROM buckets WHERE name = ?1").db()?.execute([name]).db()?;
            Ok(())
        })
    }

    fn get_bucket(&self, name: &str) -> StoreResult<Option<BucketRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT name, created_ms, acl, storage_class, cors, callback_policy FROM buckets WHERE name = ?1",
            )
            .db()?
            .query_row([name], bucket_from_row)
            .optional()
            .db()
        })
    }

    fn list_buckets(&self, prefix: &str, marker: &str, limit: usize) -> StoreResult<Vec<BucketRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let end = text_prefix_end(prefix);
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT name, created_ms, acl, storage_class, cors, callback_policy FROM buckets \
                     WHERE name >= ?1 AND name > ?2 AND (?3 IS NULL OR name < ?3) ORDER BY name LIMIT ?4",
                )
                .db()?;
            let rows = stmt.query_map(params![prefix, marker, end, limit_i64(limit)], bucket_from_row).db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    fn set_bucket_acl(&self, name: &str, acl: &str) -> StoreResult<()> {
        self.write(|tx| {
            let n = tx.prepare_cached("UPDATE buckets SET acl = ?2 WHERE name = ?1").db()?.execute([name, acl]).db()?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        })
    }

    fn set_bucket_cors(&self, name: &str, cors: Option<&str>) -> StoreResult<()> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("UPDATE buckets SET cors = ?2 WHERE name = ?1")
                .db()?
                .execute(params![name, cors])
                .db()?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        })
    }

    fn set_bucket_callback_policy(&self, name: &str, policy: Option<&str>) -> StoreResult<()> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("UPDATE buckets SET callback_policy = ?2 WHERE name = ?1")
                .db()?
                .execute(params![name, policy])
                .db()?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        })
    }

    fn put_object(
        &self,
        o: &ObjectRecord,
        mode: PutMode,
        callback: Option<&CallbackLogEntry>,
    ) -> StoreResult<Vec<BlobId>> {
        self.write(|tx| publish_object(tx, o, mode, callback))
    }

    fn get_object(&self, bucket: &str, key: &str) -> StoreResult<Option<ObjectRecord>> {
        let raw = self.read(|c| {
            c.prepare_cached(&format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"))
                .db()?
                .query_row(params![bucket, key.as_bytes()], raw_object)
                .optional()
                .db()
        })?;
        raw.map(RawObject::into_record).transpose()
    }

    fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Vec<BlobId>> {
        self.write(|tx| {
            let Some((_, _, segments)) = current_object(tx, bucket, key)? else {
                return Ok(Vec::new());
            };
            tx.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")
                .db()?
                .execute(params![bucket, key.as_bytes()])
                .db()?;
            drop_refs(tx, &segments)
        })
    }

    fn update_object_attrs(
        &self,
        bucket: &str,
        key: &str,
        acl: Option<&str>,
        tags: Option<&[(String, String)]>,
    ) -> StoreResult<()> {
        let tags = tags.map(serde_json::to_string).transpose().db()?;
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE objects SET acl = coalesce(?3, acl), tags = coalesce(?4, tags) \
                     WHERE bucket = ?1 AND key = ?2",
                )
                .db()?
                .execute(params![bucket, key.as_bytes(), acl, tags])
                .db()?;
            if n == 0 { Err(StoreError::NoSuchObject) } else { Ok(()) }
        })
    }

    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start: ListStart<'_>,
        limit: usize,
    ) -> StoreResult<Vec<ObjectRecord>> {
        let Some((lower, upper)) = list_bounds(prefix, start, limit) else { return Ok(Vec::new()) };
        let raws = self.read(|c| {
            let mut stmt = c.prepare_cached(LIST_OBJECTS_SQL).db()?;
            let rows = stmt.query_map(params![bucket, lower, upper, limit_i64(limit)], raw_object).db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })?;
        raws.into_iter().map(RawObject::into_record).collect()
    }

    fn list_object_summaries(
        &self,
        bucket: &str,
        prefix: &str,
        start: ListStart<'_>,
        limit: usize,
    ) -> StoreResult<Vec<ObjectSummary>> {
        let Some((lower, upper)) = list_bounds(prefix, start, limit) else { return Ok(Vec::new()) };
        self.read(|c| {
            let mut stmt = c.prepare_cached(LIST_SUMMARIES_SQL).db()?;
            let rows = stmt
                .query_map(params![bucket, lower, upper, limit_i64(limit)], |r| {
                    let key: Vec<u8> = r.get(0)?;
                    Ok(ObjectSummary {
                        key: String::from_utf8(key).unwrap_or_default(),
                        size: r.get::<_, i64>(1)?.max(0) as u64,
                        etag: r.get(2)?,
                        last_modified_ms: r.get(3)?,
                        object_type: r.get(4)?,
                    })
                })
                .db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    fn referenced_blobs(&self) -> StoreResult<Vec<BlobId>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT blob FROM blob_refs ORDER BY blob").db()?;
            let rows = stmt.query_map([], |r| r.get(0).map(BlobId)).db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    fn create_upload(&self, u: &UploadRecord) -> StoreResult<()> {
        let headers = serde_json::to_string(&u.headers).db()?;
        let tags = serde_json::to_string(&u.tags).db()?;
        self.write(|tx| {
            let bucket_exists =
                tx.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1").db()?.exists([&u.bucket]).db()?;
            if !bucket_exists {
                return Err(StoreError::NoSuchBucket);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO uploads ({UPLOAD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))
            .db()?
            .execute(params![
                u.bucket,
                u.key.as_bytes(),
                u.upload_id,
                u.initiated_ms,
                u.content_type,
                u.acl,
                headers,
                tags
            ])
            .db()?;
            Ok(())
        })
    }

    fn get_upload(&self, upload_id: &str) -> StoreResult<Option<UploadRecord>> {
        self.read(|c| {
            let raw = c
                .prepare_cached(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?1"))
                .db()?
                .query_row([upload_id], raw_upload)
                .optional()
                .db()?;
            raw.map(RawUpload::into_record).transpose()
        })
    }

    fn put_part(&self, p: &PartRecord) -> StoreResult<Vec<BlobId>> {
        let size = to_i64(p.size, "part size")?;
        self.write(|tx| {
            let exists =
                tx.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1").db()?.exists([&p.upload_id]).db()?;
            if !exists {
                return Err(StoreError::NoSuchUpload);
            }
            let old: Option<String> = tx
                .prepare_cached("SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2")
                .db()?
                .query_row(params![p.upload_id, p.part_number], |r| r.get(0))
                .optional()
                .db()?;
            tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO parts ({PART_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .db()?
            .execute(params![p.upload_id, p.part_number, p.blob.0, size, p.etag, p.crc64 as i64, p.last_modified_ms])
            .db()?;
            add_refs(tx, &[Segment { blob: p.blob.clone(), len: p.size }])?;
            match old {
                Some(b) => drop_refs(tx, &[Segment { blob: BlobId(b), len: 0 }]),
                None => Ok(Vec::new()),
            }
        })
    }

    fn list_parts(&self, upload_id: &str, after_part: u32, limit: usize) -> StoreResult<Vec<PartRecord>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {PART_COLUMNS} FROM parts WHERE upload_id = ?1 AND part_number > ?2 \
                     ORDER BY part_number LIMIT ?3"
                ))
                .db()?;
            let rows = stmt.query_map(params![upload_id, after_part, limit_i64(limit)], part_from_row).db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        upload_id_marker: &str,
        limit: usize,
    ) -> StoreResult<Vec<UploadRecord>> {
        let upper = past_prefix(prefix);
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {UPLOAD_COLUMNS} FROM uploads \
                     WHERE bucket = ?1 AND key >= ?2 AND key < ?3 AND (key > ?4 OR (key = ?4 AND upload_id > ?5)) \
                     ORDER BY key, upload_id LIMIT ?6"
                ))
                .db()?;
            // An empty upload-id marker skips every upload of the key marker.
            let id_marker = if upload_id_marker.is_empty() { "\u{10FFFF}" } else { upload_id_marker };
            let rows = stmt
                .query_map(
                    params![bucket, prefix.as_bytes(), upper, key_marker.as_bytes(), id_marker, limit_i64(limit)],
                    raw_upload,
                )
                .db()?;
            let raws = rows.collect::<rusqlite::Result<Vec<_>>>().db()?;
            raws.into_iter().map(RawUpload::into_record).collect()
        })
    }

    fn complete_upload(
        &self,
        upload_id: &str,
        object: &ObjectRecord,
        mode: PutMode,
        callback: Option<&CallbackLogEntry>,
    ) -> StoreResult<Vec<BlobId>> {
        self.write(|tx| {
            let exists =
                tx.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1").db()?.exists([upload_id]).db()?;
            if !exists {
                return Err(StoreError::NoSuchUpload);
            }
            // The object's references are added before the parts' are dropped, so the parts it
            // uses keep their blobs and only the unused ones are freed.
            let mut freed = publish_object(tx, object, mode, callback)?;
            freed.extend(remove_upload(tx, upload_id)?);
            Ok(freed)
        })
    }

    fn abort_upload(&self, upload_id: &str) -> StoreResult<Vec<BlobId>> {
        self.write(|tx| {
            let exists =
                tx.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1").db()?.exists([upload_id]).db()?;
            if !exists {
                return Err(StoreError::NoSuchUpload);
            }
            remove_upload(tx, upload_id)
        })
    }

    fn record_callback(&self, entry: &CallbackLogEntry) -> StoreResult<()> {
        self.write(|tx| upsert_callback(tx, entry))
    }

    /// Updates the outcome fields of `entry.request_id`; if the entry is missing (e.g. pruned
    /// meanwhile) the whole entry is inserted so the result is not lost.
    fn finish_callback(&self, e: &CallbackLogEntry) -> StoreResult<()> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE callbacks SET outcome = ?2, attempts = ?3, message = ?4, finished_ms = ?5 \
                     WHERE request_id = ?1",
                )
                .db()?
                .execute(params![e.request_id, e.outcome, e.attempts_json, e.message, e.finished_ms])
                .db()?;
            if n == 0 {
                upsert_callback(tx, e)?;
            }
            Ok(())
        })
    }

    fn get_callback(&self, request_id: &str) -> StoreResult<Option<CallbackLogEntry>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE request_id = ?1"))
                .db()?
                .query_row([request_id], callback_from_row)
                .optional()
                .db()
        })
    }

    /// Newest first (by `created_ms`, then `request_id`). `since_ms` and `until_ms` are both
    /// inclusive bounds on `created_ms`; `limit` 0 means [`DEFAULT_CALLBACK_LIMIT`].
    fn list_callbacks(&self, f: &CallbackFilter) -> StoreResult<Vec<CallbackLogEntry>> {
        let limit = if f.limit == 0 { DEFAULT_CALLBACK_LIMIT } else { f.limit };
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {CALLBACK_COLUMNS} FROM callbacks \
                     WHERE (?1 IS NULL OR bucket = ?1) AND (?2 IS NULL OR outcome = ?2) \
                       AND created_ms >= ?3 AND created_ms <= ?4 \
                     ORDER BY created_ms DESC, request_id DESC LIMIT ?5"
                ))
                .db()?;
            let rows = stmt
                .query_map(
                    params![
                        f.bucket,
                        f.outcome,
                        f.since_ms.unwrap_or(i64::MIN),
                        f.until_ms.unwrap_or(i64::MAX),
                        limit_i64(limit)
                    ],
                    callback_from_row,
                )
                .db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    /// Deletes the entries that are both beyond the newest `keep` (by `created_ms`, then
    /// `request_id`, as listed) and created before `now_ms - max_age_ms`, whatever their
    /// outcome: an entry survives if it is among the newest `keep` or younger than `max_age_ms`.
    fn prune_callbacks(&self, keep: usize, max_age_ms: i64, now_ms: i64) -> StoreResult<usize> {
        let cutoff = now_ms.saturating_sub(max_age_ms);
        self.write(|tx| {
            // The newest entry beyond the first `keep`: it and everything older may go.
            let first_beyond: Option<(i64, String)> = tx
                .prepare_cached(
                    "SELECT created_ms, request_id FROM callbacks \
                     ORDER BY created_ms DESC, request_id DESC LIMIT 1 OFFSET ?1",
                )
                .db()?
                .query_row([limit_i64(keep)], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .db()?;
            let Some((ms, id)) = first_beyond else { return Ok(0) };
            let n = tx
                .prepare_cached("DELETE FROM callbacks WHERE (created_ms, request_id) <= (?1, ?2) AND created_ms < ?3")
                .db()?
                .execute(params![ms, id, cutoff])
                .db()?;
            Ok(n)
        })
    }
}
