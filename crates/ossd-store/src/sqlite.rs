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
//! writer connection, owned by a writer thread (`writer.rs`) that commits the writes queued
//! while the previous commit waited for the disk as one group, a savepoint each (SQLite
//! serialises writers anyway; one fsync per group instead of per write), and a small pool of
//! read-only (`query_only`) connections, each behind its own `Mutex`, chosen round-robin with
//! `try_lock` so a read only waits when every reader is busy. Every trait method is one
//! statement or one transaction (or savepoint of a group) that commits or leaves nothing.
//! Durability: `synchronous=FULL` (fsync of the WAL on every commit) when `durable`, else
//! `NORMAL` (a crash may lose the last commits, never corrupt the database); a write is
//! answered only after the commit holding it returned.
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
use crate::page::{ListPage, PageBuilder};
use crate::rows::{RawObject, RawUpload, list_bounds, past_prefix, text_prefix_end};
use crate::summaries::{ObjectSummary, Summaries};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

mod writer;
pub use writer::WriteStats;

/// Current schema version (stored in `PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 9;
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

/// Version 5: room for object versions (a `version` column in the objects' key, `''` for the
/// one current version until versioning exists), and node-shared state: STS signature nonces
/// and background-worker leases.
const SCHEMA_V5: &str = "
CREATE TABLE objects_v5 (
    bucket           TEXT NOT NULL,
    key              BLOB NOT NULL,
    version          TEXT NOT NULL DEFAULT '',
    size             INTEGER NOT NULL,
    etag             TEXT NOT NULL,
    crc64            INTEGER NOT NULL,
    content_md5      TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    object_type      TEXT NOT NULL,
    acl              TEXT NOT NULL,
    headers          TEXT NOT NULL,
    tags             TEXT NOT NULL,
    segments         TEXT NOT NULL,
    PRIMARY KEY (bucket, key, version)
) WITHOUT ROWID;
INSERT INTO objects_v5 (bucket, key, version, size, etag, crc64, content_md5, content_type,
                        last_modified_ms, object_type, acl, headers, tags, segments)
    SELECT bucket, key, '', size, etag, crc64, content_md5, content_type,
           last_modified_ms, object_type, acl, headers, tags, segments FROM objects;
DROP TABLE objects;
ALTER TABLE objects_v5 RENAME TO objects;

CREATE TABLE sts_nonces (
    nonce      TEXT PRIMARY KEY NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sts_nonces_by_expiry ON sts_nonces (expires_ms, nonce);

CREATE TABLE workers (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 6: per-bucket callback policies (`?policy&comp=callback`).
const SCHEMA_V6: &str = "ALTER TABLE buckets ADD COLUMN callback_policy TEXT;";

/// Version 8: bucket configurations (website, referer, lifecycle, policy, tagging, ...), one row
/// per bucket and kind, the body opaque here (the server validates and renders it).
/// (Version 7 is the storage-class work; the two migrations are independent.)
const SCHEMA_V8: &str = "
CREATE TABLE bucket_configs (
    bucket TEXT NOT NULL,
    kind   TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
CREATE INDEX bucket_configs_by_kind ON bucket_configs (kind, bucket);
";

/// Version 7: storage classes (objects, uploads; the bucket's data redundancy type), symlinks,
/// RestoreObject state, and server-side encryption (objects, uploads, the bucket default).
const SCHEMA_V7: &str = "
ALTER TABLE objects ADD COLUMN storage_class TEXT NOT NULL DEFAULT 'Standard';
ALTER TABLE objects ADD COLUMN symlink_target TEXT;
ALTER TABLE objects ADD COLUMN restore_ready_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN restore_expiry_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN sse_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN sse_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN sse_data_encryption TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN storage_class TEXT NOT NULL DEFAULT 'Standard';
ALTER TABLE uploads ADD COLUMN sse_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN sse_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN sse_data_encryption TEXT NOT NULL DEFAULT '';
ALTER TABLE buckets ADD COLUMN data_redundancy_type TEXT NOT NULL DEFAULT 'LRS';
ALTER TABLE buckets ADD COLUMN sse_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE buckets ADD COLUMN sse_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE buckets ADD COLUMN sse_data_encryption TEXT NOT NULL DEFAULT '';
";

/// Version 9: a covering index of the listing columns. A listing page read the objects table
/// itself, whose rows carry the headers, tags and segments JSON (several hundred bytes each, the
/// listing columns behind them): ~100 B-tree pages and the record parsing of 1,000 wide rows
/// per page, 40% of a page's CPU (perf). The index rows are ~100 bytes, so a page reads a
/// quarter of the B-tree pages; each write maintains one more index entry.
const SCHEMA_V9: &str = "
CREATE INDEX IF NOT EXISTS objects_listing ON objects
    (bucket, key, size, etag, last_modified_ms, object_type, storage_class, restore_ready_ms, restore_expiry_ms);
";

const UPLOAD_COLUMNS: &str = "bucket, key, upload_id, initiated_ms, content_type, acl, headers, tags, \
     storage_class, sse_algorithm, sse_key_id, sse_data_encryption";
const BUCKET_COLUMNS: &str = "name, created_ms, acl, storage_class, cors, callback_policy, \
     data_redundancy_type, sse_algorithm, sse_key_id, sse_data_encryption";
const PART_COLUMNS: &str = "upload_id, part_number, blob, size, etag, crc64, last_modified_ms";

const OBJECT_COLUMNS: &str = "bucket, key, size, etag, crc64, content_md5, content_type, \
     last_modified_ms, object_type, acl, headers, tags, segments, storage_class, symlink_target, \
     restore_ready_ms, restore_expiry_ms, sse_algorithm, sse_key_id, sse_data_encryption";

/// One page of a bucket: `?1` bucket, `?2` inclusive lower key, `?3` exclusive upper key,
/// `?4` limit.
const LIST_OBJECTS_SQL: &str = "SELECT bucket, key, size, etag, crc64, content_md5, content_type, \
     last_modified_ms, object_type, acl, headers, tags, segments, storage_class, symlink_target, \
     restore_ready_ms, restore_expiry_ms, sse_algorithm, sse_key_id, sse_data_encryption \
     FROM objects WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4";

/// The listing columns only: `?1` bucket, `?2` inclusive lower key, `?3` exclusive upper key, `?4` limit.
const LIST_SUMMARIES_SQL: &str = "SELECT key, size, etag, last_modified_ms, object_type, storage_class, \
     restore_ready_ms, restore_expiry_ms \
     FROM objects WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4";

const CALLBACK_COLUMNS: &str = "request_id, bucket, object, operation, created_ms, outcome, \
     callback_param, body, attempts, message, finished_ms, key_url";

/// A cheap-to-clone handle (the connections live behind an `Arc`), so that its [`MetaStore`]
/// futures can run writes on the blocking pool. The inherent methods are the same operations,
/// synchronous (for tests and the CLI).
#[derive(Clone)]
pub struct SqliteMetaStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The write connection, on its own thread, committing queued writes in groups.
    writer: writer::Writer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// Bytes kept in a file beside the database so that, on a full disk, a delete can still
/// commit: when a write fails with `SQLITE_FULL`, the reserve is released and the write is
/// tried once more. The reserve is put back, when space allows, by a later write.
const RESERVE_BYTES: usize = 4 * 1024 * 1024;
/// How often a released reserve is tried again.
const RESERVE_RETRY: Duration = Duration::from_secs(10);

struct SpaceReserve {
    path: PathBuf,
    /// When the reserve was released (or last failed to be restored); `None` while in place.
    released_at: Mutex<Option<std::time::Instant>>,
}

impl SpaceReserve {
    fn new(path: PathBuf) -> Self {
        let r = SpaceReserve { path, released_at: Mutex::new(None) };
        if !r.fill() {
            *r.released_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
        }
        r
    }

    /// Writes the reserve file (if missing); `false` if there was no room.
    fn fill(&self) -> bool {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() as usize >= RESERVE_BYTES) {
            return true;
        }
        let ok = std::fs::write(&self.path, vec![0u8; RESERVE_BYTES])
            .and_then(|_| std::fs::File::open(&self.path)?.sync_all())
            .is_ok();
        if !ok {
            let _ = std::fs::remove_file(&self.path);
        }
        ok
    }

    /// Frees the reserve's space; `true` if there was a reserve to free.
    fn release(&self) -> bool {
        *self.released_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
        let freed = std::fs::remove_file(&self.path).is_ok();
        if freed {
            tracing::warn!(path = %self.path.display(), "disk full: released the metadata space reserve");
        }
        freed
    }

    /// Puts a released reserve back, at most every [`RESERVE_RETRY`].
    fn restore_if_due(&self) {
        let mut at = self.released_at.lock().unwrap_or_else(|e| e.into_inner());
        if at.is_some_and(|t| t.elapsed() >= RESERVE_RETRY) {
            *at = if self.fill() { None } else { Some(std::time::Instant::now()) };
        }
    }
}

/// rusqlite / serde_json errors become `StoreError::Backend`.
trait Backend<T> {
    fn db(self) -> StoreResult<T>;
}

impl<T> Backend<T> for rusqlite::Result<T> {
    fn db(self) -> StoreResult<T> {
        self.map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::Full(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        })
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

/// A text column borrowed from the row (no `String` for a value that is about to be matched).
fn text_ref<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

fn to_i64(v: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} {v} out of range")))
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
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
        0..SCHEMA_VERSION => {
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
            if version < 5 {
                tx.execute_batch(SCHEMA_V5).db()?;
            }
            if version < 6 {
                tx.execute_batch(SCHEMA_V6).db()?;
            }
            if version < 7 {
                tx.execute_batch(SCHEMA_V7).db()?;
            }
            if version < 8 {
                tx.execute_batch(SCHEMA_V8).db()?;
            }
            if version < 9 {
                tx.execute_batch(SCHEMA_V9).db()?;
            }
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
        storage_class: r.get(8)?,
        sse_algorithm: r.get(9)?,
        sse_key_id: r.get(10)?,
        sse_data_encryption: r.get(11)?,
    })
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
        data_redundancy_type: r.get(6)?,
        encryption: crate::rows::bucket_encryption(r.get(7)?, r.get(8)?, r.get(9)?),
    })
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
        storage_class: r.get(13)?,
        symlink_target: r.get(14)?,
        restore_ready_ms: r.get(15)?,
        restore_expiry_ms: r.get(16)?,
        sse_algorithm: r.get(17)?,
        sse_key_id: r.get(18)?,
        sse_data_encryption: r.get(19)?,
    })
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

/// Adds one reference per segment. A `fresh` blob gets its first reference (it must have none:
/// ids are random, so a row means a bug). Any other blob must be live: a blob whose last
/// reference went was (or is being) reclaimed and is never referenced again, so naming it is a
/// `Conflict` and nothing is written.
fn add_refs(tx: &Transaction<'_>, segments: &[Segment], fresh: &[BlobId]) -> StoreResult<()> {
    let mut first = tx.prepare_cached("INSERT INTO blob_refs (blob, refs) VALUES (?1, 1)").db()?;
    let mut more = tx.prepare_cached("UPDATE blob_refs SET refs = refs + 1 WHERE blob = ?1 AND refs > 0").db()?;
    for s in segments {
        if fresh.contains(&s.blob) {
            first.execute([&s.blob.0]).db()?;
        } else if more.execute([&s.blob.0]).db()? == 0 {
            return Err(StoreError::Conflict(format!("blob {} is no longer live", s.blob.0)));
        }
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

/// Deletes the object at `(bucket, key)`, if any; returns the blobs left without references.
fn remove_object(tx: &Transaction<'_>, bucket: &str, key: &str) -> StoreResult<Vec<BlobId>> {
    let Some((_, _, segments)) = current_object(tx, bucket, key)? else {
        return Ok(Vec::new());
    };
    tx.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")
        .db()?
        .execute(params![bucket, key.as_bytes()])
        .db()?;
    drop_refs(tx, &segments)
}

/// Publishes an object inside a transaction (PutObject, AppendObject, CopyObject and multipart
/// completion share it): mode checks, the row, blob reference counts, the callback entry.
fn publish_object(
    tx: &Transaction<'_>,
    o: &ObjectRecord,
    mode: PutMode,
    fresh: &[BlobId],
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
        (PutMode::AppendAt(pos), Some((ty, size, segments))) => {
            if ty != "Appendable" {
                return Err(StoreError::NotAppendable);
            }
            if *size != pos {
                return Err(StoreError::PositionNotEqualToLength(*size));
            }
            // The append was built on a read of the object: it must still be that object (a
            // delete and re-create at the same length is another object).
            if !o.segments.starts_with(segments) {
                return Err(StoreError::Conflict("the appendable object was replaced".into()));
            }
        }
    }
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO objects ({OBJECT_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
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
        segments,
        o.storage_class,
        o.symlink_target,
        o.restore.ready_ms,
        o.restore.expiry_ms,
        o.encryption.algorithm,
        o.encryption.key_id,
        o.encryption.data_encryption
    ])
    .db()?;
    // New references first, so blobs the new record keeps (append) never reach zero.
    add_refs(tx, &o.segments, fresh)?;
    let freed = match old {
        Some((_, _, old_segments)) => drop_refs(tx, &old_segments)?,
        None => Vec::new(),
    };
    if let Some(cb) = callback {
        upsert_callback(tx, cb)?;
    }
    Ok(freed)
}

/// The writes that every upload makes, as transactions both APIs submit (the async one straight
/// to the writer thread, see [`SqliteMetaStore::write_async`]).
fn put_object_tx(
    o: ObjectRecord,
    mode: PutMode,
    fresh: Vec<BlobId>,
    callback: Option<CallbackLogEntry>,
) -> impl Fn(&Transaction<'_>) -> StoreResult<Vec<BlobId>> + Send + 'static {
    move |tx| publish_object(tx, &o, mode, &fresh, callback.as_ref())
}

fn delete_object_tx(
    bucket: String,
    key: String,
) -> impl Fn(&Transaction<'_>) -> StoreResult<Vec<BlobId>> + Send + 'static {
    move |tx| remove_object(tx, &bucket, &key)
}

/// Updates the outcome fields of `e.request_id`; if the entry is missing (e.g. pruned
/// meanwhile) the whole entry is inserted so the result is not lost. Submitted unsynced or
/// detached (the trait allows it): the object and its `pending` entry were committed durably
/// with the publish; a crash before the outcome is on the disk leaves the entry `pending`.
fn finish_callback_tx(e: CallbackLogEntry) -> impl Fn(&Transaction<'_>) -> StoreResult<()> + Send + 'static {
    move |tx| {
        let n = tx
            .prepare_cached(
                "UPDATE callbacks SET outcome = ?2, attempts = ?3, message = ?4, finished_ms = ?5 \
                 WHERE request_id = ?1",
            )
            .db()?
            .execute(params![e.request_id, e.outcome, e.attempts_json, e.message, e.finished_ms])
            .db()?;
        if n == 0 {
            upsert_callback(tx, &e)?;
        }
        Ok(())
    }
}

/// One batch of listing rows from `c`. Columns are read in place and copied into the batch's
/// one buffer.
fn read_summaries(
    c: &Connection,
    bucket: &str,
    prefix: &str,
    start: ListStart<'_>,
    limit: usize,
) -> StoreResult<Summaries> {
    let Some((lower, upper)) = list_bounds(prefix, start, limit) else { return Ok(Summaries::default()) };
    let mut stmt = c.prepare_cached(LIST_SUMMARIES_SQL).db()?;
    let mut rows = stmt.query(params![bucket, lower, upper, limit_i64(limit)]).db()?;
    let mut out = Summaries::with_capacity(limit);
    while let Some(r) = rows.next().db()? {
        let key = r.get_ref(0).and_then(|v| Ok(v.as_bytes()?)).db()?;
        out.push(ObjectSummary {
            key: std::str::from_utf8(key).unwrap_or_default(),
            size: r.get::<_, i64>(1).db()?.max(0) as u64,
            etag: text_ref(r, 2).db()?,
            last_modified_ms: r.get(3).db()?,
            object_type: text_ref(r, 4).db()?,
            storage_class: text_ref(r, 5).db()?,
            restore: RestoreState { ready_ms: r.get(6).db()?, expiry_ms: r.get(7).db()? },
        });
    }
    Ok(out)
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
        let mut reserve = path.as_os_str().to_owned();
        reserve.push(".reserve");
        let writer = writer::Writer::start(writer, durable, SpaceReserve::new(PathBuf::from(reserve)))?;
        Ok(SqliteMetaStore {
            inner: Arc::new(Inner { path: path.to_path_buf(), writer, readers, next_reader: AtomicUsize::new(0) }),
        })
    }

    /// How many writes and commits the writer has made (group commit: fewer commits than writes).
    pub fn write_stats(&self) -> WriteStats {
        self.inner.writer.stats()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a read connection: the first free one from a round-robin start, else waits
    /// for the start one.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let readers = &self.inner.readers;
        let n = readers.len();
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            match readers[(start + i) % n].try_lock() {
                Ok(conn) => return f(&conn),
                Err(std::sync::TryLockError::Poisoned(p)) => return f(&p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        f(&lock(&readers[start]))
    }

    /// Runs `f` in one transaction on the writer (`BEGIN IMMEDIATE`, or a savepoint of a group
    /// commit, see `writer.rs`); returns once its changes are committed and, when `durable`,
    /// fsynced. An `Err` from `f` leaves no changes. A write that fails because the disk is
    /// full is tried once more after releasing the space reserve (so that deletes, which free
    /// space, still commit on a full disk).
    fn write<T: Send + 'static>(
        &self,
        f: impl Fn(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.inner.writer.write(true, f)
    }

    /// [`write`](Self::write) awaited by a task (with `synced` false the commit is not fsynced
    /// unless it shares a group with synced writes): the async API's frequent writes, with no
    /// blocking-pool thread.
    fn write_async<T: Send + 'static>(
        &self,
        synced: bool,
        f: impl Fn(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        Box::pin(self.inner.writer.write_async(synced, f))
    }

    /// `EXPLAIN QUERY PLAN` of the `list_objects` query (for tests and diagnostics).
    pub fn explain_list_objects(&self) -> StoreResult<String> {
        self.explain(LIST_OBJECTS_SQL)
    }

    /// `EXPLAIN QUERY PLAN` of the `list_object_summaries` query (what listings run).
    pub fn explain_list_object_summaries(&self) -> StoreResult<String> {
        self.explain(LIST_SUMMARIES_SQL)
    }

    fn explain(&self, sql: &str) -> StoreResult<String> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).db()?;
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

/// The operations, synchronous: one statement or one transaction each.
impl SqliteMetaStore {
    pub fn create_bucket(&self, b: &BucketRecord) -> StoreResult<()> {
        let b = b.clone();
        self.write(move |tx| {
            let sse = crate::rows::encryption_columns(b.encryption.as_ref());
            let n = tx
                .prepare_cached(&format!(
                    "INSERT INTO buckets ({BUCKET_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (name) DO NOTHING"
                ))
                .db()?
                .execute(params![
                    b.name,
                    b.created_ms,
                    b.acl,
                    b.storage_class,
                    b.cors,
                    b.callback_policy,
                    b.data_redundancy_type,
                    sse.0,
                    sse.1,
                    sse.2
                ])
                .db()?;
            if n == 0 { Err(StoreError::BucketExists) } else { Ok(()) }
        })
    }

    pub fn delete_bucket(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.write(move |tx| {
            let exists = tx.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1").db()?.exists([&name]).db()?;
            if !exists {
                return Err(StoreError::NoSuchBucket);
            }
            let has_objects =
                tx.prepare_cached("SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1").db()?.exists([&name]).db()?;
            let has_uploads =
                tx.prepare_cached("SELECT 1 FROM uploads WHERE bucket = ?1 LIMIT 1").db()?.exists([&name]).db()?;
            if has_objects || has_uploads {
                return Err(StoreError::BucketNotEmpty);
            }
            tx.prepare_cached("DELETE FROM buckets WHERE name = ?1").db()?.execute([&name]).db()?;
            tx.prepare_cached("DELETE FROM bucket_configs WHERE bucket = ?1").db()?.execute([&name]).db()?;
            Ok(())
        })
    }

    pub fn get_bucket(&self, name: &str) -> StoreResult<Option<BucketRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?1"))
                .db()?
                .query_row([name], bucket_from_row)
                .optional()
                .db()
        })
    }

    pub fn list_buckets(&self, prefix: &str, marker: &str, limit: usize) -> StoreResult<Vec<BucketRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let end = text_prefix_end(prefix);
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {BUCKET_COLUMNS} FROM buckets \
                     WHERE name >= ?1 AND name > ?2 AND (?3 IS NULL OR name < ?3) ORDER BY name LIMIT ?4"
                ))
                .db()?;
            let rows = stmt.query_map(params![prefix, marker, end, limit_i64(limit)], bucket_from_row).db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    pub fn set_bucket_acl(&self, name: &str, acl: &str) -> StoreResult<()> {
        let (name, acl) = (name.to_owned(), acl.to_owned());
        self.write(move |tx| {
            let n =
                tx.prepare_cached("UPDATE buckets SET acl = ?2 WHERE name = ?1").db()?.execute([&name, &acl]).db()?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        })
    }

    pub fn set_bucket_cors(&self, name: &str, cors: Option<&str>) -> StoreResult<()> {
        let (name, cors) = (name.to_owned(), cors.map(str::to_owned));
        self.write(move |tx| {
            let n = tx
                .prepare_cached("UPDATE buckets SET cors = ?2 WHERE name = ?1")
                .db()?
                .execute(params![name, cors])
                .db()?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        })
    }

    pub fn set_bucket_callback_policy(&self, name: &str, policy: Option<&str>) -> StoreResult<()> {
        let (name, policy) = (name.to_owned(), policy.map(str::to_owned));
        self.write(move |tx| {
            let n = tx
                .prepare_cached("UPDATE buckets SET callback_policy = ?2 WHERE name = ?1")
                .db()?
                .execute(params![name, policy])
                .db()?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        })
    }

    pub fn set_bucket_config(&self, name: &str, kind: &str, body: Option<&str>) -> StoreResult<()> {
        let (name, kind, body) = (name.to_owned(), kind.to_owned(), body.map(str::to_owned));
        self.write(move |tx| {
            let exists = tx.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1").db()?.exists([&name]).db()?;
            if !exists {
                return Err(StoreError::NoSuchBucket);
            }
            match &body {
                Some(b) => tx
                    .prepare_cached(
                        "INSERT INTO bucket_configs (bucket, kind, body) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (bucket, kind) DO UPDATE SET body = excluded.body",
                    )
                    .db()?
                    .execute([&name, &kind, b])
                    .db()?,
                None => tx
                    .prepare_cached("DELETE FROM bucket_configs WHERE bucket = ?1 AND kind = ?2")
                    .db()?
                    .execute([&name, &kind])
                    .db()?,
            };
            Ok(())
        })
    }

    pub fn bucket_configs(&self, name: &str) -> StoreResult<Vec<(String, String)>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT kind, body FROM bucket_configs WHERE bucket = ?1 ORDER BY kind").db()?;
            let rows = stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    pub fn list_bucket_configs(&self, kind: &str, after: &str, limit: usize) -> StoreResult<Vec<(String, String)>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT bucket, body FROM bucket_configs WHERE kind = ?1 AND bucket > ?2 ORDER BY bucket LIMIT ?3",
                )
                .db()?;
            let rows = stmt.query_map(params![kind, after, limit_i64(limit)], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    pub fn bucket_usage(&self, name: &str) -> StoreResult<BucketUsage> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT storage_class, COALESCE(SUM(size), 0), COUNT(*), COALESCE(MAX(last_modified_ms), 0) \
                     FROM objects WHERE bucket = ?1 GROUP BY storage_class ORDER BY storage_class",
                )
                .db()?;
            let rows = stmt
                .query_map([name], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64, r.get(3)?))
                })
                .db()?;
            Ok(BucketUsage::from_classes(rows.collect::<rusqlite::Result<Vec<_>>>().db()?))
        })
    }

    pub fn set_bucket_encryption(&self, name: &str, rule: Option<&Encryption>) -> StoreResult<()> {
        let (name, rule) = (name.to_owned(), rule.cloned());
        self.write(move |tx| {
            let (algorithm, key_id, data) = crate::rows::encryption_columns(rule.as_ref());
            let n = tx
                .prepare_cached(
                    "UPDATE buckets SET sse_algorithm = ?2, sse_key_id = ?3, sse_data_encryption = ?4 WHERE name = ?1",
                )
                .db()?
                .execute(params![name, algorithm, key_id, data])
                .db()?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        })
    }

    pub fn set_object_restore(&self, bucket: &str, key: &str, restore: RestoreState) -> StoreResult<()> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE objects SET restore_ready_ms = ?3, restore_expiry_ms = ?4 WHERE bucket = ?1 AND key = ?2",
                )
                .db()?
                .execute(params![bucket, key.as_bytes(), restore.ready_ms, restore.expiry_ms])
                .db()?;
            if n == 0 { Err(StoreError::NoSuchObject) } else { Ok(()) }
        })
    }

    pub fn put_object(
        &self,
        o: &ObjectRecord,
        mode: PutMode,
        fresh: &[BlobId],
        callback: Option<&CallbackLogEntry>,
    ) -> StoreResult<Vec<BlobId>> {
        self.write(put_object_tx(o.clone(), mode, fresh.to_vec(), callback.cloned()))
    }

    pub fn get_object(&self, bucket: &str, key: &str) -> StoreResult<Option<ObjectRecord>> {
        let raw = self.read(|c| {
            c.prepare_cached(&format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"))
                .db()?
                .query_row(params![bucket, key.as_bytes()], raw_object)
                .optional()
                .db()
        })?;
        raw.map(RawObject::into_record).transpose()
    }

    pub fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Vec<BlobId>> {
        self.write(delete_object_tx(bucket.to_owned(), key.to_owned()))
    }

    pub fn delete_objects(&self, bucket: &str, keys: &[String]) -> StoreResult<Vec<BlobId>> {
        let (bucket, keys) = (bucket.to_owned(), keys.to_vec());
        self.write(move |tx| {
            let mut freed = Vec::new();
            for k in &keys {
                freed.extend(remove_object(tx, &bucket, k)?);
            }
            Ok(freed)
        })
    }

    pub fn delete_objects_unchanged(&self, bucket: &str, objects: &[(String, i64)]) -> StoreResult<Vec<BlobId>> {
        let (bucket, objects) = (bucket.to_owned(), objects.to_vec());
        self.write(move |tx| {
            let mut freed = Vec::new();
            for (k, modified) in &objects {
                let current: Option<i64> = tx
                    .prepare_cached("SELECT last_modified_ms FROM objects WHERE bucket = ?1 AND key = ?2")
                    .db()?
                    .query_row(params![bucket, k.as_bytes()], |r| r.get(0))
                    .optional()
                    .db()?;
                if current == Some(*modified) {
                    freed.extend(remove_object(tx, &bucket, k)?);
                }
            }
            Ok(freed)
        })
    }

    pub fn transition_objects(&self, bucket: &str, objects: &[(String, i64)], class: &str) -> StoreResult<u64> {
        let (bucket, objects, class) = (bucket.to_owned(), objects.to_vec(), class.to_owned());
        self.write(move |tx| {
            let mut moved = 0;
            for (k, modified) in &objects {
                moved += tx
                    .prepare_cached(
                        "UPDATE objects SET storage_class = ?4 WHERE bucket = ?1 AND key = ?2 AND last_modified_ms = ?3",
                    )
                    .db()?
                    .execute(params![bucket, k.as_bytes(), modified, class])
                    .db()? as u64;
            }
            Ok(moved)
        })
    }

    pub fn update_object_attrs(
        &self,
        bucket: &str,
        key: &str,
        acl: Option<&str>,
        tags: Option<&[(String, String)]>,
    ) -> StoreResult<()> {
        let tags = tags.map(serde_json::to_string).transpose().db()?;
        let (bucket, key, acl) = (bucket.to_owned(), key.to_owned(), acl.map(str::to_owned));
        self.write(move |tx| {
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

    pub fn list_objects(
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

    pub fn list_object_summaries(
        &self,
        bucket: &str,
        prefix: &str,
        start: ListStart<'_>,
        limit: usize,
    ) -> StoreResult<Summaries> {
        self.read(|c| read_summaries(c, bucket, prefix, start, limit))
    }

    /// A listing page, its batches read in one read transaction: one snapshot of the bucket,
    /// and one WAL read lock instead of one per batch (a statement outside a transaction takes
    /// and drops it with `fcntl` calls; that was ~40% of a common prefix's cost).
    pub fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        start: &str,
        max_keys: usize,
    ) -> StoreResult<ListPage> {
        self.read(|c| {
            // Without a delimiter a page is one batch, whose statement is its own snapshot.
            let snapshot = (!delimiter.is_empty()).then(|| c.unchecked_transaction()).transpose().db()?;
            let mut page = PageBuilder::new(prefix, delimiter, start, max_keys);
            while let Some((from, rows)) = page.next_batch() {
                let batch = read_summaries(c, bucket, prefix, from, rows)?;
                page.take(batch);
            }
            // Read only: ending it either way releases the snapshot.
            if let Some(snapshot) = snapshot {
                snapshot.commit().db()?;
            }
            Ok(page.finish())
        })
    }

    pub fn referenced_blobs(&self) -> StoreResult<Vec<BlobId>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT blob FROM blob_refs ORDER BY blob").db()?;
            let rows = stmt.query_map([], |r| r.get(0).map(BlobId)).db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
    }

    pub fn create_upload(&self, u: &UploadRecord) -> StoreResult<()> {
        let headers = serde_json::to_string(&u.headers).db()?;
        let tags = serde_json::to_string(&u.tags).db()?;
        let u = u.clone();
        self.write(move |tx| {
            let bucket_exists =
                tx.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1").db()?.exists([&u.bucket]).db()?;
            if !bucket_exists {
                return Err(StoreError::NoSuchBucket);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO uploads ({UPLOAD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
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
                tags,
                u.storage_class,
                u.encryption.algorithm,
                u.encryption.key_id,
                u.encryption.data_encryption
            ])
            .db()?;
            Ok(())
        })
    }

    pub fn get_upload(&self, upload_id: &str) -> StoreResult<Option<UploadRecord>> {
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

    pub fn put_part(&self, p: &PartRecord) -> StoreResult<Vec<BlobId>> {
        let size = to_i64(p.size, "part size")?;
        let p = p.clone();
        self.write(move |tx| {
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
            add_refs(tx, &[Segment { blob: p.blob.clone(), len: p.size }], std::slice::from_ref(&p.blob))?;
            match old {
                Some(b) => drop_refs(tx, &[Segment { blob: BlobId(b), len: 0 }]),
                None => Ok(Vec::new()),
            }
        })
    }

    pub fn list_parts(&self, upload_id: &str, after_part: u32, limit: usize) -> StoreResult<Vec<PartRecord>> {
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

    pub fn list_uploads(
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

    pub fn complete_upload(
        &self,
        upload_id: &str,
        object: &ObjectRecord,
        chosen: &[(u32, BlobId)],
        mode: PutMode,
        callback: Option<&CallbackLogEntry>,
    ) -> StoreResult<Vec<BlobId>> {
        let (upload_id, object, chosen, callback) =
            (upload_id.to_owned(), object.clone(), chosen.to_vec(), callback.cloned());
        self.write(move |tx| {
            let exists =
                tx.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1").db()?.exists([&upload_id]).db()?;
            if !exists {
                return Err(StoreError::NoSuchUpload);
            }
            // The parts were chosen from an earlier read: each must still hold the same blob.
            let mut part_blob =
                tx.prepare_cached("SELECT blob FROM parts WHERE upload_id = ?1 AND part_number = ?2").db()?;
            for (number, blob) in &chosen {
                let now: Option<String> =
                    part_blob.query_row(params![upload_id, number], |r| r.get(0)).optional().db()?;
                if now.as_deref() != Some(blob.0.as_str()) {
                    return Err(StoreError::Conflict(format!("part {number} changed during completion")));
                }
            }
            // The object's references are added before the parts' are dropped, so the parts it
            // uses keep their blobs and only the unused ones are freed.
            let mut freed = publish_object(tx, &object, mode, &[], callback.as_ref())?;
            freed.extend(remove_upload(tx, &upload_id)?);
            Ok(freed)
        })
    }

    pub fn abort_upload(&self, upload_id: &str) -> StoreResult<Vec<BlobId>> {
        let upload_id = upload_id.to_owned();
        self.write(move |tx| {
            let exists =
                tx.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1").db()?.exists([&upload_id]).db()?;
            if !exists {
                return Err(StoreError::NoSuchUpload);
            }
            remove_upload(tx, &upload_id)
        })
    }

    pub fn record_callback(&self, entry: &CallbackLogEntry) -> StoreResult<()> {
        let entry = entry.clone();
        self.write(move |tx| upsert_callback(tx, &entry))
    }

    /// See [`finish_callback_tx`]; returns once committed (not fsynced unless it shares a
    /// group with synced writes).
    pub fn finish_callback(&self, e: &CallbackLogEntry) -> StoreResult<()> {
        self.inner.writer.write(false, finish_callback_tx(e.clone()))
    }

    /// [`finish_callback`](Self::finish_callback), detached (`Writer::write_detached`): it
    /// returns at once and the outcome commits with the next write anyone waits for (or alone
    /// within 2 ms), never fsynced on its own; a failure is logged.
    /// [`get_callback`](Self::get_callback) and [`list_callbacks`](Self::list_callbacks) see it.
    pub fn finish_callback_queued(&self, e: &CallbackLogEntry) -> StoreResult<()> {
        self.inner.writer.write_detached("a callback's outcome", finish_callback_tx(e.clone()))
    }

    /// The entry of `request_id`, with every outcome recorded before the call.
    pub fn get_callback(&self, request_id: &str) -> StoreResult<Option<CallbackLogEntry>> {
        self.inner.writer.barrier()?;
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE request_id = ?1"))
                .db()?
                .query_row([request_id], callback_from_row)
                .optional()
                .db()
        })
    }

    /// Newest first (by `created_ms`, then `request_id`). `since_ms` and `until_ms` are both
    /// inclusive bounds on `created_ms`; `limit` 0 means [`DEFAULT_CALLBACK_LIMIT`]. Every
    /// outcome recorded before the call is seen.
    pub fn list_callbacks(&self, f: &CallbackFilter) -> StoreResult<Vec<CallbackLogEntry>> {
        let limit = if f.limit == 0 { DEFAULT_CALLBACK_LIMIT } else { f.limit };
        self.inner.writer.barrier()?;
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
    pub fn prune_callbacks(&self, keep: usize, max_age_ms: i64, now_ms: i64) -> StoreResult<usize> {
        let cutoff = now_ms.saturating_sub(max_age_ms);
        self.write(move |tx| {
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

/// Node-shared state (STS nonces, worker leases).
impl SqliteMetaStore {
    pub fn remember_nonce(&self, nonce: &str, now_ms: i64, expires_ms: i64) -> StoreResult<bool> {
        let nonce = nonce.to_owned();
        self.write(move |tx| {
            // Expired nonces go a few at a time, so the table stays as small as the window.
            tx.prepare_cached(
                "DELETE FROM sts_nonces WHERE nonce IN \
                 (SELECT nonce FROM sts_nonces WHERE expires_ms < ?1 ORDER BY expires_ms LIMIT 16)",
            )
            .db()?
            .execute([now_ms])
            .db()?;
            let n = tx
                .prepare_cached(
                    "INSERT INTO sts_nonces (nonce, expires_ms) VALUES (?1, ?2) \
                     ON CONFLICT (nonce) DO UPDATE SET expires_ms = excluded.expires_ms \
                     WHERE sts_nonces.expires_ms < ?3",
                )
                .db()?
                .execute(params![nonce, expires_ms, now_ms])
                .db()?;
            Ok(n == 1)
        })
    }

    pub fn acquire_worker(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> StoreResult<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |tx| {
            let n = tx
                .prepare_cached(
                    "INSERT INTO workers (name, holder, expires_ms) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms \
                     WHERE workers.holder = excluded.holder OR workers.expires_ms < ?4",
                )
                .db()?
                .execute(params![name, holder, now_ms.saturating_add(ttl_ms), now_ms])
                .db()?;
            Ok(n == 1)
        })
    }
}

/// Runs a synchronous store call on the blocking pool (writes fsync; listings scan).
fn blocking<T: Send + 'static>(
    store: &SqliteMetaStore,
    f: impl FnOnce(&SqliteMetaStore) -> StoreResult<T> + Send + 'static,
) -> StoreFuture<'static, T> {
    let store = store.clone();
    Box::pin(async move {
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Backend(format!("metadata task failed: {e}")))?
    })
}

/// Answers a point lookup on the calling thread: a lookup in SQLite's page cache takes
/// microseconds, less than a hand-off to the blocking pool would.
fn inline<'a, T: Send + 'a>(r: StoreResult<T>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(r))
}

fn owned_start(start: ListStart<'_>) -> OwnedListStart {
    match start {
        ListStart::Beginning => OwnedListStart::Beginning,
        ListStart::After(k) => OwnedListStart::After(k.to_string()),
        ListStart::PastPrefix(p) => OwnedListStart::PastPrefix(p.to_string()),
    }
}

enum OwnedListStart {
    Beginning,
    After(String),
    PastPrefix(String),
}

impl OwnedListStart {
    fn borrow(&self) -> ListStart<'_> {
        match self {
            OwnedListStart::Beginning => ListStart::Beginning,
            OwnedListStart::After(k) => ListStart::After(k),
            OwnedListStart::PastPrefix(p) => ListStart::PastPrefix(p),
        }
    }
}

impl MetaStore for SqliteMetaStore {
    fn create_bucket<'a>(&'a self, bucket: &'a BucketRecord) -> StoreFuture<'a, ()> {
        let b = bucket.clone();
        blocking(self, move |s| s.create_bucket(&b))
    }
    fn delete_bucket<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()> {
        let n = name.to_string();
        blocking(self, move |s| s.delete_bucket(&n))
    }
    fn get_bucket<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<BucketRecord>> {
        inline(SqliteMetaStore::get_bucket(self, name))
    }
    fn list_buckets<'a>(
        &'a self,
        prefix: &'a str,
        marker: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<BucketRecord>> {
        let (p, m) = (prefix.to_string(), marker.to_string());
        blocking(self, move |s| s.list_buckets(&p, &m, limit))
    }
    fn set_bucket_acl<'a>(&'a self, name: &'a str, acl: &'a str) -> StoreFuture<'a, ()> {
        let (n, a) = (name.to_string(), acl.to_string());
        blocking(self, move |s| s.set_bucket_acl(&n, &a))
    }
    fn set_bucket_cors<'a>(&'a self, name: &'a str, cors: Option<&'a str>) -> StoreFuture<'a, ()> {
        let (n, c) = (name.to_string(), cors.map(str::to_string));
        blocking(self, move |s| s.set_bucket_cors(&n, c.as_deref()))
    }
    fn set_bucket_callback_policy<'a>(&'a self, name: &'a str, policy: Option<&'a str>) -> StoreFuture<'a, ()> {
        let (n, p) = (name.to_string(), policy.map(str::to_string));
        blocking(self, move |s| s.set_bucket_callback_policy(&n, p.as_deref()))
    }
    fn delete_objects_unchanged<'a>(
        &'a self,
        bucket: &'a str,
        objects: &'a [(String, i64)],
    ) -> StoreFuture<'a, Vec<BlobId>> {
        let (b, o) = (bucket.to_string(), objects.to_vec());
        blocking(self, move |s| s.delete_objects_unchanged(&b, &o))
    }
    fn transition_objects<'a>(
        &'a self,
        bucket: &'a str,
        objects: &'a [(String, i64)],
        storage_class: &'a str,
    ) -> StoreFuture<'a, u64> {
        let (b, o, c) = (bucket.to_string(), objects.to_vec(), storage_class.to_string());
        blocking(self, move |s| s.transition_objects(&b, &o, &c))
    }
    fn set_bucket_config<'a>(&'a self, name: &'a str, kind: &'a str, body: Option<&'a str>) -> StoreFuture<'a, ()> {
        let (n, k, b) = (name.to_string(), kind.to_string(), body.map(str::to_string));
        blocking(self, move |s| s.set_bucket_config(&n, &k, b.as_deref()))
    }
    fn bucket_configs<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Vec<(String, String)>> {
        inline(SqliteMetaStore::bucket_configs(self, name))
    }
    fn list_bucket_configs<'a>(
        &'a self,
        kind: &'a str,
        after: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<(String, String)>> {
        let (k, a) = (kind.to_string(), after.to_string());
        blocking(self, move |s| s.list_bucket_configs(&k, &a, limit))
    }
    fn bucket_usage<'a>(&'a self, name: &'a str) -> StoreFuture<'a, BucketUsage> {
        let n = name.to_string();
        blocking(self, move |s| s.bucket_usage(&n))
    }
    fn set_bucket_encryption<'a>(&'a self, name: &'a str, rule: Option<&'a Encryption>) -> StoreFuture<'a, ()> {
        let (name, rule) = (name.to_string(), rule.cloned());
        blocking(self, move |s| s.set_bucket_encryption(&name, rule.as_ref()))
    }
    fn set_object_restore<'a>(&'a self, bucket: &'a str, key: &'a str, restore: RestoreState) -> StoreFuture<'a, ()> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(self, move |s| s.set_object_restore(&bucket, &key, restore))
    }
    fn put_object<'a>(
        &'a self,
        object: &'a ObjectRecord,
        mode: PutMode,
        fresh: &'a [BlobId],
        callback: Option<&'a CallbackLogEntry>,
    ) -> StoreFuture<'a, Vec<BlobId>> {
        self.write_async(true, put_object_tx(object.clone(), mode, fresh.to_vec(), callback.cloned()))
    }
    fn get_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> StoreFuture<'a, Option<ObjectRecord>> {
        inline(SqliteMetaStore::get_object(self, bucket, key))
    }
    fn delete_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> StoreFuture<'a, Vec<BlobId>> {
        self.write_async(true, delete_object_tx(bucket.to_owned(), key.to_owned()))
    }
    fn delete_objects<'a>(&'a self, bucket: &'a str, keys: &'a [String]) -> StoreFuture<'a, Vec<BlobId>> {
        let (b, k) = (bucket.to_string(), keys.to_vec());
        blocking(self, move |s| s.delete_objects(&b, &k))
    }
    fn update_object_attrs<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        acl: Option<&'a str>,
        tags: Option<&'a [(String, String)]>,
    ) -> StoreFuture<'a, ()> {
        let (b, k, a, t) = (bucket.to_string(), key.to_string(), acl.map(str::to_string), tags.map(<[_]>::to_vec));
        blocking(self, move |s| s.update_object_attrs(&b, &k, a.as_deref(), t.as_deref()))
    }
    fn list_objects<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        start: ListStart<'a>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<ObjectRecord>> {
        let (b, p, st) = (bucket.to_string(), prefix.to_string(), owned_start(start));
        blocking(self, move |s| s.list_objects(&b, &p, st.borrow(), limit))
    }
    fn list_object_summaries<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        start: ListStart<'a>,
        limit: usize,
    ) -> StoreFuture<'a, Summaries> {
        inline(SqliteMetaStore::list_object_summaries(self, bucket, prefix, start, limit))
    }
    fn list_page<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        delimiter: &'a str,
        start: &'a str,
        max_keys: usize,
    ) -> StoreFuture<'a, ListPage> {
        inline(SqliteMetaStore::list_page(self, bucket, prefix, delimiter, start, max_keys))
    }
    fn referenced_blobs(&self) -> StoreFuture<'_, Vec<BlobId>> {
        blocking(self, |s| s.referenced_blobs())
    }
    fn create_upload<'a>(&'a self, upload: &'a UploadRecord) -> StoreFuture<'a, ()> {
        let u = upload.clone();
        blocking(self, move |s| s.create_upload(&u))
    }
    fn get_upload<'a>(&'a self, upload_id: &'a str) -> StoreFuture<'a, Option<UploadRecord>> {
        inline(SqliteMetaStore::get_upload(self, upload_id))
    }
    fn put_part<'a>(&'a self, part: &'a PartRecord) -> StoreFuture<'a, Vec<BlobId>> {
        let p = part.clone();
        blocking(self, move |s| s.put_part(&p))
    }
    fn list_parts<'a>(&'a self, upload_id: &'a str, after_part: u32, limit: usize) -> StoreFuture<'a, Vec<PartRecord>> {
        let id = upload_id.to_string();
        blocking(self, move |s| s.list_parts(&id, after_part, limit))
    }
    fn list_uploads<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        key_marker: &'a str,
        upload_id_marker: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<UploadRecord>> {
        let (b, p, k, u) =
            (bucket.to_string(), prefix.to_string(), key_marker.to_string(), upload_id_marker.to_string());
        blocking(self, move |s| s.list_uploads(&b, &p, &k, &u, limit))
    }
    fn complete_upload<'a>(
        &'a self,
        upload_id: &'a str,
        object: &'a ObjectRecord,
        chosen: &'a [(u32, BlobId)],
        mode: PutMode,
        callback: Option<&'a CallbackLogEntry>,
    ) -> StoreFuture<'a, Vec<BlobId>> {
        let (id, o, ch, cb) = (upload_id.to_string(), object.clone(), chosen.to_vec(), callback.cloned());
        blocking(self, move |s| s.complete_upload(&id, &o, &ch, mode, cb.as_ref()))
    }
    fn abort_upload<'a>(&'a self, upload_id: &'a str) -> StoreFuture<'a, Vec<BlobId>> {
        let id = upload_id.to_string();
        blocking(self, move |s| s.abort_upload(&id))
    }
    fn record_callback<'a>(&'a self, entry: &'a CallbackLogEntry) -> StoreFuture<'a, ()> {
        let e = entry.clone();
        blocking(self, move |s| s.record_callback(&e))
    }
    fn finish_callback<'a>(&'a self, entry: &'a CallbackLogEntry) -> StoreFuture<'a, ()> {
        self.write_async(false, finish_callback_tx(entry.clone()))
    }
    fn finish_callback_queued<'a>(&'a self, entry: &'a CallbackLogEntry) -> StoreFuture<'a, ()> {
        inline(SqliteMetaStore::finish_callback_queued(self, entry))
    }
    fn get_callback<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<CallbackLogEntry>> {
        // On the blocking pool: it waits for the writer (detached outcomes) before reading.
        let id = request_id.to_string();
        blocking(self, move |s| s.get_callback(&id))
    }
    fn flush(&self) -> StoreFuture<'_, ()> {
        blocking(self, |s| s.inner.writer.barrier())
    }
    fn list_callbacks<'a>(&'a self, filter: &'a CallbackFilter) -> StoreFuture<'a, Vec<CallbackLogEntry>> {
        let f = filter.clone();
        blocking(self, move |s| s.list_callbacks(&f))
    }
    fn prune_callbacks(&self, keep: usize, max_age_ms: i64, now_ms: i64) -> StoreFuture<'_, usize> {
        blocking(self, move |s| s.prune_callbacks(keep, max_age_ms, now_ms))
    }
    fn remember_nonce<'a>(&'a self, nonce: &'a str, now_ms: i64, expires_ms: i64) -> StoreFuture<'a, bool> {
        let n = nonce.to_string();
        blocking(self, move |s| s.remember_nonce(&n, now_ms, expires_ms))
    }
    fn acquire_worker<'a>(&'a self, name: &'a str, holder: &'a str, now_ms: i64, ttl_ms: i64) -> StoreFuture<'a, bool> {
        let (n, h) = (name.to_string(), holder.to_string());
        blocking(self, move |s| s.acquire_worker(&n, &h, now_ms, ttl_ms))
    }
}
