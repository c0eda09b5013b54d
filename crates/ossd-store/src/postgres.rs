//! `PostgresMetaStore`: the metadata of several stateless ossd nodes in one PostgreSQL (or
//! PostgreSQL-compatible) database.
//!
//! Why this shape: every trait method is one transaction at `SERIALIZABLE` isolation, retried
//! on a serialization failure, so conditional writes (forbid-overwrite, append positions, live
//! blobs, completion parts) are enforced by the database for all nodes at once, not by a node.
//! Object keys are `BYTEA` (byte order, as OSS lists, whatever the database's collation);
//! names that are listed in order are `TEXT COLLATE "C"`. The SQL is plain (no stored
//! procedures, no extensions) so that PostgreSQL-compatible distributed databases stay
//! possible. Connections come from a `deadpool-postgres` pool; schema versions live in
//! `ossd_schema` and migrations run at start under an advisory lock (one node migrates).

use crate::blob::BlobId;
use crate::meta::*;
use crate::page::ListPage;
use crate::rows::{RawObject, RawUpload, json, list_bounds, past_prefix, text_prefix_end};
use crate::summaries::{ObjectSummary, Summaries};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row, Transaction};

/// Current schema version (stored in `ossd_schema`).
pub const SCHEMA_VERSION: i32 = 8;
/// Pooled connections per node.
const POOL_SIZE: usize = 16;
/// Attempts of a transaction that keeps losing serialization races.
const TX_ATTEMPTS: usize = 32;

/// Version 8: bucket configurations, one row per bucket and kind (see the SQLite store).
const SCHEMA_V8: &str = r#"
CREATE TABLE bucket_configs (
    bucket TEXT COLLATE "C" NOT NULL,
    kind   TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (bucket, kind)
);
CREATE INDEX bucket_configs_by_kind ON bucket_configs (kind, bucket);
"#;

const SCHEMA_V1: &str = r#"
CREATE TABLE buckets (
    name          TEXT COLLATE "C" PRIMARY KEY,
    created_ms    BIGINT NOT NULL,
    acl           TEXT NOT NULL,
    storage_class TEXT NOT NULL,
    cors          TEXT,
    callback_policy TEXT
);
CREATE TABLE objects (
    bucket           TEXT COLLATE "C" NOT NULL,
    key              BYTEA NOT NULL,
    version          TEXT COLLATE "C" NOT NULL DEFAULT '',
    size             BIGINT NOT NULL,
    etag             TEXT NOT NULL,
    crc64            BIGINT NOT NULL,
    content_md5      TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    last_modified_ms BIGINT NOT NULL,
    object_type      TEXT NOT NULL,
    acl              TEXT NOT NULL,
    headers          TEXT NOT NULL,
    tags             TEXT NOT NULL,
    segments         TEXT NOT NULL,
    PRIMARY KEY (bucket, key, version)
);
CREATE TABLE blob_refs (
    blob TEXT COLLATE "C" PRIMARY KEY,
    refs BIGINT NOT NULL
);
CREATE TABLE uploads (
    upload_id    TEXT COLLATE "C" PRIMARY KEY,
    bucket       TEXT COLLATE "C" NOT NULL,
    key          BYTEA NOT NULL,
    initiated_ms BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    acl          TEXT NOT NULL,
    headers      TEXT NOT NULL,
    tags         TEXT NOT NULL
);
CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
CREATE TABLE parts (
    upload_id        TEXT COLLATE "C" NOT NULL,
    part_number      INTEGER NOT NULL,
    blob             TEXT NOT NULL,
    size             BIGINT NOT NULL,
    etag             TEXT NOT NULL,
    crc64            BIGINT NOT NULL,
    last_modified_ms BIGINT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
CREATE TABLE callbacks (
    request_id     TEXT COLLATE "C" PRIMARY KEY,
    bucket         TEXT NOT NULL,
    object         TEXT NOT NULL,
    operation      TEXT NOT NULL,
    created_ms     BIGINT NOT NULL,
    outcome        TEXT NOT NULL,
    callback_param TEXT NOT NULL,
    body           BYTEA NOT NULL,
    attempts       TEXT NOT NULL,
    message        TEXT NOT NULL,
    finished_ms    BIGINT NOT NULL,
    key_url        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX callbacks_by_time ON callbacks (created_ms, request_id);
CREATE TABLE sts_nonces (
    nonce      TEXT COLLATE "C" PRIMARY KEY,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX sts_nonces_by_expiry ON sts_nonces (expires_ms);
CREATE TABLE workers (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE cluster_settings (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);
"#;

/// Version 7 (numbered as in the SQLite store): storage classes (objects, uploads; the bucket's
/// data redundancy type), symlinks, RestoreObject state, and server-side encryption (objects,
/// uploads, the bucket default).
const SCHEMA_V7: &str = "
ALTER TABLE objects ADD COLUMN storage_class TEXT NOT NULL DEFAULT 'Standard';
ALTER TABLE objects ADD COLUMN symlink_target TEXT;
ALTER TABLE objects ADD COLUMN restore_ready_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN restore_expiry_ms BIGINT NOT NULL DEFAULT 0;
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

const OBJECT_COLUMNS: &str = "bucket, key, size, etag, crc64, content_md5, content_type, \
     last_modified_ms, object_type, acl, headers, tags, segments, storage_class, symlink_target, \
     restore_ready_ms, restore_expiry_ms, sse_algorithm, sse_key_id, sse_data_encryption";
const UPLOAD_COLUMNS: &str = "bucket, key, upload_id, initiated_ms, content_type, acl, headers, tags, \
     storage_class, sse_algorithm, sse_key_id, sse_data_encryption";
const BUCKET_COLUMNS: &str = "name, created_ms, acl, storage_class, cors, callback_policy, \
     data_redundancy_type, sse_algorithm, sse_key_id, sse_data_encryption";
const PART_COLUMNS: &str = "upload_id, part_number, blob, size, etag, crc64, last_modified_ms";
const CALLBACK_COLUMNS: &str = "request_id, bucket, object, operation, created_ms, outcome, \
     callback_param, body, attempts, message, finished_ms, key_url";

#[derive(Clone)]
pub struct PostgresMetaStore {
    pool: Pool,
}

fn pg(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!("postgres: {e}"))
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Backend(format!("postgres pool: {e}"))
}

fn to_i64(v: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} {v} out of range")))
}

/// Listing rows (key, size, etag, last_modified_ms, object_type, storage_class,
/// restore_ready_ms, restore_expiry_ms) as a batch.
fn summaries(rows: &[Row]) -> Summaries {
    let mut out = Summaries::with_capacity(rows.len());
    for r in rows {
        out.push(ObjectSummary {
            key: std::str::from_utf8(r.get(0)).unwrap_or_default(),
            size: r.get::<_, i64>(1).max(0) as u64,
            etag: r.get(2),
            last_modified_ms: r.get(3),
            object_type: r.get(4),
            storage_class: r.get(5),
            restore: RestoreState { ready_ms: r.get(6), expiry_ms: r.get(7) },
        });
    }
    out
}

/// A skip scan of `[$2, $3)` in bucket `$1`: the first key, then from each key the next one
/// after it, or, when the key holds delimiter `$5` after the prefix's `$4` bytes, the next one
/// past its common prefix (the prefix || 0xFF, as `past_prefix`; the bytes come from `decode`,
/// which does not depend on `standard_conforming_strings`); at most `$6` keys, each one
/// index seek (PostgreSQL's "loose index scan" idiom), in one statement and one snapshot.
const SKIP_SCAN_SQL: &str = "\
WITH RECURSIVE walk(key, n) AS ( \
    (SELECT key, 1 FROM objects WHERE bucket = $1 AND version = '' AND key >= $2 AND key < $3 \
     ORDER BY key LIMIT 1) \
  UNION ALL \
    SELECT (SELECT o.key FROM objects o WHERE o.bucket = $1 AND o.version = '' AND o.key < $3 AND o.key >= \
              CASE WHEN position($5::bytea IN substring(w.key FROM $4::int + 1)) > 0 \
                   THEN substring(w.key FROM 1 FOR $4::int + position($5::bytea IN substring(w.key FROM $4::int + 1)) \
                        + length($5::bytea) - 1) || decode('ff', 'hex') \
                   ELSE w.key || decode('00', 'hex') END \
            ORDER BY o.key LIMIT 1), \
           w.n + 1 \
    FROM walk w WHERE w.key IS NOT NULL AND w.n < $6::bigint \
) \
SELECT o.key, o.size, o.etag, o.last_modified_ms, o.object_type, o.storage_class, o.restore_ready_ms, \
       o.restore_expiry_ms \
FROM walk w JOIN objects o ON o.bucket = $1 AND o.key = w.key AND o.version = '' ORDER BY o.key";

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A transaction body; returns a boxed future borrowing the transaction.
type TxBody<'t, T> = crate::blob::BoxFuture<'t, StoreResult<T>>;

/// Whether an error is a lost serialization race (the transaction is then tried again).
fn is_retryable(e: &StoreError, raw: &Option<SqlState>) -> bool {
    matches!(e, StoreError::Backend(_))
        && matches!(raw, Some(s) if *s == SqlState::T_R_SERIALIZATION_FAILURE || *s == SqlState::T_R_DEADLOCK_DETECTED)
}

/// `tokio_postgres` errors keep their SQLSTATE through the transaction body.
struct Pg(tokio_postgres::Error);

impl From<Pg> for StoreError {
    fn from(e: Pg) -> Self {
        pg(e.0)
    }
}

impl PostgresMetaStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`), runs pending migrations
    /// (one node at a time, under an advisory lock).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("invalid postgres url: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Backend(format!("postgres pool: {e}")))?;
        let store = PostgresMetaStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(pg)?;
        // Any fixed key: every node migrating at once waits here for the first.
        tx.execute("SELECT pg_advisory_xact_lock(7405566)", &[]).await.map_err(pg)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS ossd_schema (version INTEGER NOT NULL)").await.map_err(pg)?;
        let version: Option<i32> =
            tx.query_opt("SELECT max(version) FROM ossd_schema", &[]).await.map_err(pg)?.and_then(|r| r.get(0));
        match version.unwrap_or(0) {
            version @ 0..SCHEMA_VERSION => {
                if version < 1 {
                    tx.batch_execute(SCHEMA_V1).await.map_err(pg)?;
                }
                if version < 7 {
                    tx.batch_execute(SCHEMA_V7).await.map_err(pg)?;
                }
                if version < 8 {
                    tx.batch_execute(SCHEMA_V8).await.map_err(pg)?;
                }
                tx.execute("DELETE FROM ossd_schema", &[]).await.map_err(pg)?;
                tx.execute("INSERT INTO ossd_schema (version) VALUES ($1)", &[&SCHEMA_VERSION]).await.map_err(pg)?;
            }
            SCHEMA_VERSION => {}
            v => {
                return Err(StoreError::Backend(format!(
                    "metadata schema version {v} is not supported (this build knows {SCHEMA_VERSION})"
                )));
            }
        }
        tx.commit().await.map_err(pg)
    }

    /// Runs `body` in one SERIALIZABLE transaction, committing if it returns `Ok`; a lost
    /// serialization race is tried again (the body must be repeatable).
    async fn tx<T, F>(&self, body: F) -> StoreResult<T>
    where
        F: for<'t> Fn(&'t Transaction<'t>) -> TxBody<'t, T>,
    {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::Serializable)
                .start()
                .await
                .map_err(pg)?;
            let mut state = None;
            let out: StoreResult<T> = match body(&tx).await {
                Ok(v) => match tx.commit().await {
                    Ok(()) => return Ok(v),
                    Err(e) => {
                        state = e.code().cloned();
                        Err(pg(e))
                    }
                },
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
            };
            let err = out.err().unwrap_or_else(|| StoreError::Backend("transaction failed".into()));
            let retry_state = state.or_else(|| last_sqlstate(&err));
            if attempt < TX_ATTEMPTS && is_retryable(&err, &retry_state) {
                tokio::time::sleep(std::time::Duration::from_millis((attempt as u64).min(20))).await;
                continue;
            }
            return Err(err);
        }
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Records `value` for `name` on first start, or checks that it matches what the first
    /// node recorded: settings every node must share (STS token key, callback key), by
    /// fingerprint, so that nodes that disagree refuse to start with a clear error.
    pub async fn check_cluster_setting(&self, name: &str, value: &str) -> StoreResult<Result<(), String>> {
        let (n, v) = (name.to_string(), value.to_string());
        self.tx(move |tx| {
            let (n, v) = (n.clone(), v.clone());
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO cluster_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    &[&n, &v],
                )
                .await
                .map_err(sql)?;
                let stored: String = tx
                    .query_one("SELECT value FROM cluster_settings WHERE name = $1", &[&n])
                    .await
                    .map_err(sql)?
                    .get(0);
                Ok(if stored == v { Ok(()) } else { Err(stored) })
            })
        })
        .await
    }
}

/// SQLSTATEs of errors raised inside a transaction body are carried in the message, so that
/// the retry loop can recognise a lost serialization race.
fn sql(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(code) => StoreError::Backend(format!("postgres [{}]: {e}", code.code())),
        None => pg(e),
    }
}

fn last_sqlstate(e: &StoreError) -> Option<SqlState> {
    let StoreError::Backend(msg) = e else { return None };
    let code = msg.strip_prefix("postgres [")?.split(']').next()?;
    Some(SqlState::from_code(code))
}

fn unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn bucket_from_row(r: &Row) -> BucketRecord {
    BucketRecord {
        name: r.get(0),
        created_ms: r.get(1),
        acl: r.get(2),
        storage_class: r.get(3),
        cors: r.get(4),
        callback_policy: r.get(5),
        data_redundancy_type: r.get(6),
        encryption: crate::rows::bucket_encryption(r.get(7), r.get(8), r.get(9)),
    }
}

fn raw_object(r: &Row) -> RawObject {
    RawObject {
        bucket: r.get(0),
        key: r.get(1),
        size: r.get(2),
        etag: r.get(3),
        crc64: r.get(4),
        content_md5: r.get(5),
        content_type: r.get(6),
        last_modified_ms: r.get(7),
        object_type: r.get(8),
        acl: r.get(9),
        headers: r.get(10),
        tags: r.get(11),
        segments: r.get(12),
        storage_class: r.get(13),
        symlink_target: r.get(14),
        restore_ready_ms: r.get(15),
        restore_expiry_ms: r.get(16),
        sse_algorithm: r.get(17),
        sse_key_id: r.get(18),
        sse_data_encryption: r.get(19),
    }
}

fn raw_upload(r: &Row) -> RawUpload {
    RawUpload {
        bucket: r.get(0),
        key: r.get(1),
        upload_id: r.get(2),
        initiated_ms: r.get(3),
        content_type: r.get(4),
        acl: r.get(5),
        headers: r.get(6),
        tags: r.get(7),
        storage_class: r.get(8),
        sse_algorithm: r.get(9),
        sse_key_id: r.get(10),
        sse_data_encryption: r.get(11),
    }
}

fn part_from_row(r: &Row) -> PartRecord {
    PartRecord {
        upload_id: r.get(0),
        part_number: r.get::<_, i32>(1) as u32,
        blob: BlobId(r.get(2)),
        size: r.get::<_, i64>(3).max(0) as u64,
        etag: r.get(4),
        crc64: r.get::<_, i64>(5) as u64,
        last_modified_ms: r.get(6),
    }
}

fn callback_from_row(r: &Row) -> CallbackLogEntry {
    CallbackLogEntry {
        request_id: r.get(0),
        bucket: r.get(1),
        object: r.get(2),
        operation: r.get(3),
        created_ms: r.get(4),
        outcome: r.get(5),
        callback_param: r.get(6),
        body: r.get(7),
        attempts_json: r.get(8),
        message: r.get(9),
        finished_ms: r.get(10),
        key_url: r.get(11),
    }
}

async fn bucket_exists(tx: &Transaction<'_>, name: &str) -> StoreResult<bool> {
    Ok(tx.query_opt("SELECT 1 FROM buckets WHERE name = $1", &[&name]).await.map_err(sql)?.is_some())
}

/// See `sqlite::add_refs`: fresh blobs get their first reference, others must be live.
async fn add_refs(tx: &Transaction<'_>, segments: &[Segment], fresh: &[BlobId]) -> StoreResult<()> {
    for s in segments {
        if fresh.contains(&s.blob) {
            tx.execute("INSERT INTO blob_refs (blob, refs) VALUES ($1, 1)", &[&s.blob.0]).await.map_err(sql)?;
        } else if tx
            .execute("UPDATE blob_refs SET refs = refs + 1 WHERE blob = $1 AND refs > 0", &[&s.blob.0])
            .await
            .map_err(sql)?
            == 0
        {
            return Err(StoreError::Conflict(format!("blob {} is no longer live", s.blob.0)));
        }
    }
    Ok(())
}

async fn drop_refs(tx: &Transaction<'_>, blobs: &[BlobId]) -> StoreResult<Vec<BlobId>> {
    let mut freed = Vec::new();
    for b in blobs {
        let left = tx
            .query_opt("UPDATE blob_refs SET refs = refs - 1 WHERE blob = $1 RETURNING refs", &[&b.0])
            .await
            .map_err(sql)?;
        if let Some(row) = left
            && row.get::<_, i64>(0) <= 0
        {
            tx.execute("DELETE FROM blob_refs WHERE blob = $1", &[&b.0]).await.map_err(sql)?;
            freed.push(b.clone());
        }
    }
    Ok(freed)
}

async fn current_object(
    tx: &Transaction<'_>,
    bucket: &str,
    key: &str,
) -> StoreResult<Option<(String, u64, Vec<Segment>)>> {
    let row = tx
        .query_opt(
            "SELECT object_type, size, segments FROM objects WHERE bucket = $1 AND key = $2 AND version = ''",
            &[&bucket, &key.as_bytes()],
        )
        .await
        .map_err(sql)?;
    match row {
        None => Ok(None),
        Some(r) => {
            let segs: Vec<Segment> = json(serde_json::from_str(r.get::<_, &str>(2)))?;
            Ok(Some((r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0), segs)))
        }
    }
}

async fn remove_object(tx: &Transaction<'_>, bucket: &str, key: &str) -> StoreResult<Vec<BlobId>> {
    let Some((_, _, segments)) = current_object(tx, bucket, key).await? else { return Ok(Vec::new()) };
    tx.execute("DELETE FROM objects WHERE bucket = $1 AND key = $2 AND version = ''", &[&bucket, &key.as_bytes()])
        .await
        .map_err(sql)?;
    drop_refs(tx, &segments.into_iter().map(|s| s.blob).collect::<Vec<_>>()).await
}

async fn upsert_callback(tx: &Transaction<'_>, e: &CallbackLogEntry) -> StoreResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO callbacks ({CALLBACK_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
             ON CONFLICT (request_id) DO UPDATE SET bucket = excluded.bucket, object = excluded.object, \
             operation = excluded.operation, created_ms = excluded.created_ms, outcome = excluded.outcome, \
             callback_param = excluded.callback_param, body = excluded.body, attempts = excluded.attempts, \
             message = excluded.message, finished_ms = excluded.finished_ms, key_url = excluded.key_url"
        ),
        &[
            &e.request_id,
            &e.bucket,
            &e.object,
            &e.operation,
            &e.created_ms,
            &e.outcome,
            &e.callback_param,
            &e.body,
            &e.attempts_json,
            &e.message,
            &e.finished_ms,
            &e.key_url,
        ],
    )
    .await
    .map_err(sql)?;
    Ok(())
}

/// See `sqlite::publish_object`: mode checks, the row, blob references, the callback entry.
async fn publish_object(
    tx: &Transaction<'_>,
    o: &ObjectRecord,
    mode: PutMode,
    fresh: &[BlobId],
    callback: Option<&CallbackLogEntry>,
) -> StoreResult<Vec<BlobId>> {
    let headers = json(serde_json::to_string(&o.headers))?;
    let tags = json(serde_json::to_string(&o.tags))?;
    let segments = json(serde_json::to_string(&o.segments))?;
    let size = to_i64(o.size, "object size")?;
    if !bucket_exists(tx, &o.bucket).await? {
        return Err(StoreError::NoSuchBucket);
    }
    let old = current_object(tx, &o.bucket, &o.key).await?;
    match (mode, &old) {
        (PutMode::Overwrite, _) | (PutMode::MustNotExist, None) | (PutMode::AppendAt(0), None) => {}
        (PutMode::MustNotExist, Some(_)) => return Err(StoreError::ObjectExists),
        (PutMode::AppendAt(_), None) => return Err(StoreError::PositionNotEqualToLength(0)),
        (PutMode::AppendAt(pos), Some((ty, size, segs))) => {
            if ty != "Appendable" {
                return Err(StoreError::NotAppendable);
            }
            if *size != pos {
                return Err(StoreError::PositionNotEqualToLength(*size));
            }
            if !o.segments.starts_with(segs) {
                return Err(StoreError::Conflict("the appendable object was replaced".into()));
            }
        }
    }
    let values = format!(
        "INSERT INTO objects ({OBJECT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) \
         ON CONFLICT (bucket, key, version) DO UPDATE SET size = excluded.size, etag = excluded.etag, \
         crc64 = excluded.crc64, content_md5 = excluded.content_md5, content_type = excluded.content_type, \
         last_modified_ms = excluded.last_modified_ms, object_type = excluded.object_type, acl = excluded.acl, \
         headers = excluded.headers, tags = excluded.tags, segments = excluded.segments, \
         storage_class = excluded.storage_class, symlink_target = excluded.symlink_target, \
         restore_ready_ms = excluded.restore_ready_ms, restore_expiry_ms = excluded.restore_expiry_ms, \
         sse_algorithm = excluded.sse_algorithm, sse_key_id = excluded.sse_key_id, \
         sse_data_encryption = excluded.sse_data_encryption"
    );
    let r = tx
        .execute(
            &values,
            &[
                &o.bucket,
                &o.key.as_bytes(),
                &size,
                &o.etag,
                &(o.crc64 as i64),
                &o.content_md5,
                &o.content_type,
                &o.last_modified_ms,
                &o.object_type,
                &o.acl,
                &headers,
                &tags,
                &segments,
                &o.storage_class,
                &o.symlink_target,
                &o.restore.ready_ms,
                &o.restore.expiry_ms,
                &o.encryption.algorithm,
                &o.encryption.key_id,
                &o.encryption.data_encryption,
            ],
        )
        .await;
    if let Err(e) = r {
        return Err(if unique_violation(&e) { StoreError::ObjectExists } else { sql(e) });
    }
    add_refs(tx, &o.segments, fresh).await?;
    let freed = match old {
        Some((_, _, segs)) => drop_refs(tx, &segs.into_iter().map(|s| s.blob).collect::<Vec<_>>()).await?,
        None => Vec::new(),
    };
    if let Some(cb) = callback {
        upsert_callback(tx, cb).await?;
    }
    Ok(freed)
}

async fn remove_upload(tx: &Transaction<'_>, upload_id: &str) -> StoreResult<Vec<BlobId>> {
    let rows = tx.query("DELETE FROM parts WHERE upload_id = $1 RETURNING blob", &[&upload_id]).await.map_err(sql)?;
    tx.execute("DELETE FROM uploads WHERE upload_id = $1", &[&upload_id]).await.map_err(sql)?;
    let blobs: Vec<BlobId> = rows.iter().map(|r| BlobId(r.get(0))).collect();
    drop_refs(tx, &blobs).await
}

async fn upload_exists(tx: &Transaction<'_>, upload_id: &str) -> StoreResult<bool> {
    Ok(tx.query_opt("SELECT 1 FROM uploads WHERE upload_id = $1", &[&upload_id]).await.map_err(sql)?.is_some())
}

/// Clones the arguments a transaction body needs on every attempt.
macro_rules! tx {
    ($self:ident, |$tx:ident| ($($arg:ident),*) $body:block) => {{
        $( let $arg = $arg.to_owned(); )*
        $self.tx(move |$tx| {
            $( let $arg = $arg.clone(); )*
            Box::pin(async move { $body })
        })
    }};
}

impl MetaStore for PostgresMetaStore {
    fn create_bucket<'a>(&'a self, bucket: &'a BucketRecord) -> StoreFuture<'a, ()> {
        let b = bucket.clone();
        Box::pin(tx!(self, |tx| (b) {
            let (alg, key_id, data) = crate::rows::encryption_columns(b.encryption.as_ref());
            let n = tx
                .execute(
                    &format!(
                        "INSERT INTO buckets ({BUCKET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                         ON CONFLICT (name) DO NOTHING"
                    ),
                    &[
                        &b.name,
                        &b.created_ms,
                        &b.acl,
                        &b.storage_class,
                        &b.cors,
                        &b.callback_policy,
                        &b.data_redundancy_type,
                        &alg,
                        &key_id,
                        &data,
                    ],
                )
                .await
                .map_err(sql)?;
            if n == 0 { Err(StoreError::BucketExists) } else { Ok(()) }
        }))
    }

    fn delete_bucket<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(tx!(self, |tx| (name) {
            if !bucket_exists(tx, &name).await? {
                return Err(StoreError::NoSuchBucket);
            }
            let busy = tx
                .query_opt(
                    "SELECT 1 FROM objects WHERE bucket = $1 UNION ALL SELECT 1 FROM uploads WHERE bucket = $1 LIMIT 1",
                    &[&name],
                )
                .await
                .map_err(sql)?;
            if busy.is_some() {
                return Err(StoreError::BucketNotEmpty);
            }
            tx.execute("DELETE FROM buckets WHERE name = $1", &[&name]).await.map_err(sql)?;
            tx.execute("DELETE FROM bucket_configs WHERE bucket = $1", &[&name]).await.map_err(sql)?;
            Ok(())
        }))
    }

    fn get_bucket<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<BucketRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            let row = c
                .query_opt(&format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = $1"), &[&name])
                .await
                .map_err(pg)?;
            Ok(row.as_ref().map(bucket_from_row))
        })
    }

    fn list_buckets<'a>(
        &'a self,
        prefix: &'a str,
        marker: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<BucketRecord>> {
        let end = text_prefix_end(prefix);
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {BUCKET_COLUMNS} FROM buckets \
                         WHERE name >= $1 AND name > $2 AND ($3::TEXT IS NULL OR name < $3) ORDER BY name LIMIT $4"
                    ),
                    &[&prefix, &marker, &end, &limit_i64(limit)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(bucket_from_row).collect())
        })
    }

    fn set_bucket_acl<'a>(&'a self, name: &'a str, acl: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(tx!(self, |tx| (name, acl) {
            let n = tx.execute("UPDATE buckets SET acl = $2 WHERE name = $1", &[&name, &acl]).await.map_err(sql)?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        }))
    }

    fn set_bucket_cors<'a>(&'a self, name: &'a str, cors: Option<&'a str>) -> StoreFuture<'a, ()> {
        let cors = cors.map(str::to_string);
        Box::pin(tx!(self, |tx| (name, cors) {
            let n = tx.execute("UPDATE buckets SET cors = $2 WHERE name = $1", &[&name, &cors]).await.map_err(sql)?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        }))
    }

    fn set_bucket_callback_policy<'a>(&'a self, name: &'a str, policy: Option<&'a str>) -> StoreFuture<'a, ()> {
        let policy = policy.map(str::to_string);
        Box::pin(tx!(self, |tx| (name, policy) {
            let n = tx
                .execute("UPDATE buckets SET callback_policy = $2 WHERE name = $1", &[&name, &policy])
                .await
                .map_err(sql)?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        }))
    }

    fn set_bucket_config<'a>(&'a self, name: &'a str, kind: &'a str, body: Option<&'a str>) -> StoreFuture<'a, ()> {
        let body = body.map(str::to_string);
        Box::pin(tx!(self, |tx| (name, kind, body) {
            if !bucket_exists(tx, &name).await? {
                return Err(StoreError::NoSuchBucket);
            }
            match &body {
                Some(b) => tx
                    .execute(
                        "INSERT INTO bucket_configs (bucket, kind, body) VALUES ($1, $2, $3) \
                         ON CONFLICT (bucket, kind) DO UPDATE SET body = excluded.body",
                        &[&name, &kind, b],
                    )
                    .await
                    .map_err(sql)?,
                None => tx
                    .execute("DELETE FROM bucket_configs WHERE bucket = $1 AND kind = $2", &[&name, &kind])
                    .await
                    .map_err(sql)?,
            };
            Ok(())
        }))
    }

    fn bucket_configs<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query("SELECT kind, body FROM bucket_configs WHERE bucket = $1 ORDER BY kind", &[&name])
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn list_bucket_configs<'a>(
        &'a self,
        kind: &'a str,
        after: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT bucket, body FROM bucket_configs WHERE kind = $1 AND bucket > $2 ORDER BY bucket LIMIT $3",
                    &[&kind, &after, &limit_i64(limit)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn bucket_usage<'a>(&'a self, name: &'a str) -> StoreFuture<'a, BucketUsage> {
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT storage_class, COALESCE(SUM(size), 0)::BIGINT, COUNT(*), \
                     COALESCE(MAX(last_modified_ms), 0)::BIGINT FROM objects WHERE bucket = $1 AND version = '' \
                     GROUP BY storage_class ORDER BY storage_class",
                    &[&name],
                )
                .await
                .map_err(pg)?;
            Ok(BucketUsage::from_classes(
                rows.iter()
                    .map(|r| (r.get(0), r.get::<_, i64>(1) as u64, r.get::<_, i64>(2) as u64, r.get(3)))
                    .collect(),
            ))
        })
    }

    fn set_bucket_encryption<'a>(&'a self, name: &'a str, rule: Option<&'a Encryption>) -> StoreFuture<'a, ()> {
        let rule = rule.cloned();
        Box::pin(tx!(self, |tx| (name, rule) {
            let (alg, key_id, data) = crate::rows::encryption_columns(rule.as_ref());
            let n = tx
                .execute(
                    "UPDATE buckets SET sse_algorithm = $2, sse_key_id = $3, sse_data_encryption = $4 WHERE name = $1",
                    &[&name, &alg, &key_id, &data],
                )
                .await
                .map_err(sql)?;
            if n == 0 { Err(StoreError::NoSuchBucket) } else { Ok(()) }
        }))
    }

    fn set_object_restore<'a>(&'a self, bucket: &'a str, key: &'a str, restore: RestoreState) -> StoreFuture<'a, ()> {
        Box::pin(tx!(self, |tx| (bucket, key) {
            let n = tx
                .execute(
                    "UPDATE objects SET restore_ready_ms = $3, restore_expiry_ms = $4 \
                     WHERE bucket = $1 AND key = $2 AND version = ''",
                    &[&bucket, &key.as_bytes(), &restore.ready_ms, &restore.expiry_ms],
                )
                .await
                .map_err(sql)?;
            if n == 0 { Err(StoreError::NoSuchObject) } else { Ok(()) }
        }))
    }

    fn put_object<'a>(
        &'a self,
        object: &'a ObjectRecord,
        mode: PutMode,
        fresh: &'a [BlobId],
        callback: Option<&'a CallbackLogEntry>,
    ) -> StoreFuture<'a, Vec<BlobId>> {
        let (o, f, cb) = (object.clone(), fresh.to_vec(), callback.cloned());
        Box::pin(tx!(self, |tx| (o, f, cb) { publish_object(tx, &o, mode, &f, cb.as_ref()).await }))
    }

    fn get_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> StoreFuture<'a, Option<ObjectRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            let row = c
                .query_opt(
                    &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = $1 AND key = $2 AND version = ''"),
                    &[&bucket, &key.as_bytes()],
                )
                .await
                .map_err(pg)?;
            row.as_ref().map(|r| raw_object(r).into_record()).transpose()
        })
    }

    fn delete_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> StoreFuture<'a, Vec<BlobId>> {
        Box::pin(tx!(self, |tx| (bucket, key) { remove_object(tx, &bucket, &key).await }))
    }

    fn delete_objects<'a>(&'a self, bucket: &'a str, keys: &'a [String]) -> StoreFuture<'a, Vec<BlobId>> {
        let keys = keys.to_vec();
        Box::pin(tx!(self, |tx| (bucket, keys) {
            let mut freed = Vec::new();
            for k in &keys {
                freed.extend(remove_object(tx, &bucket, k).await?);
            }
            Ok(freed)
        }))
    }

    fn delete_objects_unchanged<'a>(
        &'a self,
        bucket: &'a str,
        objects: &'a [(String, i64)],
    ) -> StoreFuture<'a, Vec<BlobId>> {
        let objects = objects.to_vec();
        Box::pin(tx!(self, |tx| (bucket, objects) {
            let mut freed = Vec::new();
            for (k, modified) in &objects {
                let current = tx
                    .query_opt(
                        "SELECT last_modified_ms FROM objects WHERE bucket = $1 AND key = $2 AND version = ''",
                        &[&bucket, &k.as_bytes()],
                    )
                    .await
                    .map_err(sql)?
                    .map(|r| r.get::<_, i64>(0));
                if current == Some(*modified) {
                    freed.extend(remove_object(tx, &bucket, k).await?);
                }
            }
            Ok(freed)
        }))
    }

    fn transition_objects<'a>(
        &'a self,
        bucket: &'a str,
        objects: &'a [(String, i64)],
        storage_class: &'a str,
    ) -> StoreFuture<'a, u64> {
        let objects = objects.to_vec();
        Box::pin(tx!(self, |tx| (bucket, objects, storage_class) {
            let mut moved = 0;
            for (k, modified) in &objects {
                moved += tx
                    .execute(
                        "UPDATE objects SET storage_class = $4 \
                         WHERE bucket = $1 AND key = $2 AND version = '' AND last_modified_ms = $3",
                        &[&bucket, &k.as_bytes(), modified, &storage_class],
                    )
                    .await
                    .map_err(sql)?;
            }
            Ok(moved)
        }))
    }

    fn update_object_attrs<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        acl: Option<&'a str>,
        tags: Option<&'a [(String, String)]>,
    ) -> StoreFuture<'a, ()> {
        let tags = match tags.map(serde_json::to_string).transpose() {
            Ok(t) => t,
            Err(e) => return Box::pin(std::future::ready(Err(StoreError::Backend(format!("json: {e}"))))),
        };
        let acl = acl.map(str::to_string);
        Box::pin(tx!(self, |tx| (bucket, key, acl, tags) {
            let n = tx
                .execute(
                    "UPDATE objects SET acl = coalesce($3, acl), tags = coalesce($4, tags) \
                     WHERE bucket = $1 AND key = $2 AND version = ''",
                    &[&bucket, &key.as_bytes(), &acl, &tags],
                )
                .await
                .map_err(sql)?;
            if n == 0 { Err(StoreError::NoSuchObject) } else { Ok(()) }
        }))
    }

    fn list_objects<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        start: ListStart<'a>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<ObjectRecord>> {
        let bounds = list_bounds(prefix, start, limit);
        Box::pin(async move {
            let c = self.client().await?;
            let Some((lower, upper)) = bounds else { return Ok(Vec::new()) };
            let rows = c
                .query(
                    &format!(
                        "SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = $1 AND key >= $2 AND key < $3 \
                         AND version = '' ORDER BY key LIMIT $4"
                    ),
                    &[&bucket, &lower, &upper, &limit_i64(limit)],
                )
                .await
                .map_err(pg)?;
            rows.iter().map(|r| raw_object(r).into_record()).collect()
        })
    }

    fn list_object_summaries<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        start: ListStart<'a>,
        limit: usize,
    ) -> StoreFuture<'a, Summaries> {
        let bounds = list_bounds(prefix, start, limit);
        Box::pin(async move {
            let c = self.client().await?;
            let Some((lower, upper)) = bounds else { return Ok(Summaries::default()) };
            let rows = c
                .query(
                    "SELECT key, size, etag, last_modified_ms, object_type, storage_class, restore_ready_ms, \
                     restore_expiry_ms FROM objects \
                     WHERE bucket = $1 AND key >= $2 AND key < $3 AND version = '' ORDER BY key LIMIT $4",
                    &[&bucket, &lower, &upper, &limit_i64(limit)],
                )
                .await
                .map_err(pg)?;
            Ok(summaries(&rows))
        })
    }

    /// With a delimiter, one skip scan per batch (`SKIP_SCAN_SQL`): the server seeks past each
    /// common prefix itself, so a page of 1,000 folders is one or two round trips instead of
    /// one per folder (the batch-by-batch default).
    fn list_page<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        delimiter: &'a str,
        start: &'a str,
        max_keys: usize,
    ) -> StoreFuture<'a, ListPage> {
        Box::pin(async move {
            if delimiter.is_empty() {
                return crate::page::list_page_in_batches(self, bucket, prefix, delimiter, start, max_keys).await;
            }
            let prefix_len = i32::try_from(prefix.len()).map_err(|_| StoreError::Backend("prefix too long".into()))?;
            let mut page = crate::page::PageBuilder::skipping(prefix, delimiter, start, max_keys);
            while let Some((from, rows)) = page.next_batch() {
                let Some((lower, upper)) = list_bounds(prefix, from, rows) else {
                    page.take(Summaries::default());
                    continue;
                };
                let c = self.client().await?;
                let found = c
                    .query(
                        SKIP_SCAN_SQL,
                        &[&bucket, &lower, &upper, &prefix_len, &delimiter.as_bytes(), &limit_i64(rows)],
                    )
                    .await
                    .map_err(pg)?;
                page.take(summaries(&found));
            }
            Ok(page.finish())
        })
    }

    fn referenced_blobs(&self) -> StoreFuture<'_, Vec<BlobId>> {
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c.query("SELECT blob FROM blob_refs ORDER BY blob", &[]).await.map_err(pg)?;
            Ok(rows.iter().map(|r| BlobId(r.get(0))).collect())
        })
    }

    fn create_upload<'a>(&'a self, upload: &'a UploadRecord) -> StoreFuture<'a, ()> {
        let u = upload.clone();
        Box::pin(tx!(self, |tx| (u) {
            if !bucket_exists(tx, &u.bucket).await? {
                return Err(StoreError::NoSuchBucket);
            }
            let headers = json(serde_json::to_string(&u.headers))?;
            let tags = json(serde_json::to_string(&u.tags))?;
            tx.execute(
                &format!("INSERT INTO uploads ({UPLOAD_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"),
                &[
                    &u.bucket,
                    &u.key.as_bytes(),
                    &u.upload_id,
                    &u.initiated_ms,
                    &u.content_type,
                    &u.acl,
                    &headers,
                    &tags,
                    &u.storage_class,
                    &u.encryption.algorithm,
                    &u.encryption.key_id,
                    &u.encryption.data_encryption,
                ],
            )
            .await
            .map_err(sql)?;
            Ok(())
        }))
    }

    fn get_upload<'a>(&'a self, upload_id: &'a str) -> StoreFuture<'a, Option<UploadRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            let row = c
                .query_opt(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = $1"), &[&upload_id])
                .await
                .map_err(pg)?;
            row.as_ref().map(|r| raw_upload(r).into_record()).transpose()
        })
    }

    fn put_part<'a>(&'a self, part: &'a PartRecord) -> StoreFuture<'a, Vec<BlobId>> {
        let p = part.clone();
        Box::pin(tx!(self, |tx| (p) {
            if !upload_exists(tx, &p.upload_id).await? {
                return Err(StoreError::NoSuchUpload);
            }
            let number = p.part_number as i32;
            let old = tx
                .query_opt("SELECT blob FROM parts WHERE upload_id = $1 AND part_number = $2", &[&p.upload_id, &number])
                .await
                .map_err(sql)?
                .map(|r| BlobId(r.get(0)));
            tx.execute(
                &format!(
                    "INSERT INTO parts ({PART_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7) \
                     ON CONFLICT (upload_id, part_number) DO UPDATE SET blob = excluded.blob, size = excluded.size, \
                     etag = excluded.etag, crc64 = excluded.crc64, last_modified_ms = excluded.last_modified_ms"
                ),
                &[&p.upload_id, &number, &p.blob.0, &to_i64(p.size, "part size")?, &p.etag, &(p.crc64 as i64), &p.last_modified_ms],
            )
            .await
            .map_err(sql)?;
            add_refs(tx, &[Segment { blob: p.blob.clone(), len: p.size }], std::slice::from_ref(&p.blob)).await?;
            match old {
                Some(b) => drop_refs(tx, &[b]).await,
                None => Ok(Vec::new()),
            }
        }))
    }

    fn list_parts<'a>(&'a self, upload_id: &'a str, after_part: u32, limit: usize) -> StoreFuture<'a, Vec<PartRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {PART_COLUMNS} FROM parts WHERE upload_id = $1 AND part_number > $2 \
                         ORDER BY part_number LIMIT $3"
                    ),
                    &[&upload_id, &(after_part as i32), &limit_i64(limit)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(part_from_row).collect())
        })
    }

    fn list_uploads<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        key_marker: &'a str,
        upload_id_marker: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<UploadRecord>> {
        let upper = past_prefix(prefix);
        let id_marker = if upload_id_marker.is_empty() { "\u{10FFFF}" } else { upload_id_marker };
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE bucket = $1 AND key >= $2 AND key < $3 \
                         AND (key > $4 OR (key = $4 AND upload_id > $5)) ORDER BY key, upload_id LIMIT $6"
                    ),
                    &[&bucket, &prefix.as_bytes(), &upper, &key_marker.as_bytes(), &id_marker, &limit_i64(limit)],
                )
                .await
                .map_err(pg)?;
            rows.iter().map(|r| raw_upload(r).into_record()).collect()
        })
    }

    fn complete_upload<'a>(
        &'a self,
        upload_id: &'a str,
        object: &'a ObjectRecord,
        chosen: &'a [(u32, BlobId)],
        mode: PutMode,
        callback: Option<&'a CallbackLogEntry>,
    ) -> StoreFuture<'a, Vec<BlobId>> {
        let (o, ch, cb) = (object.clone(), chosen.to_vec(), callback.cloned());
        Box::pin(tx!(self, |tx| (upload_id, o, ch, cb) {
            if !upload_exists(tx, &upload_id).await? {
                return Err(StoreError::NoSuchUpload);
            }
            for (number, blob) in &ch {
                let now = tx
                    .query_opt(
                        "SELECT blob FROM parts WHERE upload_id = $1 AND part_number = $2",
                        &[&upload_id, &(*number as i32)],
                    )
                    .await
                    .map_err(sql)?
                    .map(|r| r.get::<_, String>(0));
                if now.as_deref() != Some(blob.0.as_str()) {
                    return Err(StoreError::Conflict(format!("part {number} changed during completion")));
                }
            }
            let mut freed = publish_object(tx, &o, mode, &[], cb.as_ref()).await?;
            freed.extend(remove_upload(tx, &upload_id).await?);
            Ok(freed)
        }))
    }

    fn abort_upload<'a>(&'a self, upload_id: &'a str) -> StoreFuture<'a, Vec<BlobId>> {
        Box::pin(tx!(self, |tx| (upload_id) {
            if !upload_exists(tx, &upload_id).await? {
                return Err(StoreError::NoSuchUpload);
            }
            remove_upload(tx, &upload_id).await
        }))
    }

    fn record_callback<'a>(&'a self, entry: &'a CallbackLogEntry) -> StoreFuture<'a, ()> {
        let e = entry.clone();
        Box::pin(tx!(self, |tx| (e) { upsert_callback(tx, &e).await }))
    }

    fn finish_callback<'a>(&'a self, entry: &'a CallbackLogEntry) -> StoreFuture<'a, ()> {
        let e = entry.clone();
        Box::pin(tx!(self, |tx| (e) {
            // The outcome may be lost in a crash (the entry then stays `pending`, committed
            // durably with the object): do not wait for the WAL flush.
            tx.batch_execute("SET LOCAL synchronous_commit = off").await.map_err(sql)?;
            let n = tx
                .execute(
                    "UPDATE callbacks SET outcome = $2, attempts = $3, message = $4, finished_ms = $5 WHERE request_id = $1",
                    &[&e.request_id, &e.outcome, &e.attempts_json, &e.message, &e.finished_ms],
                )
                .await
                .map_err(sql)?;
            if n == 0 {
                upsert_callback(tx, &e).await?;
            }
            Ok(())
        }))
    }

    fn get_callback<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<CallbackLogEntry>> {
        Box::pin(async move {
            let c = self.client().await?;
            let row = c
                .query_opt(&format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE request_id = $1"), &[&request_id])
                .await
                .map_err(pg)?;
            Ok(row.as_ref().map(callback_from_row))
        })
    }

    fn list_callbacks<'a>(&'a self, f: &'a CallbackFilter) -> StoreFuture<'a, Vec<CallbackLogEntry>> {
        let limit = if f.limit == 0 { crate::sqlite::DEFAULT_CALLBACK_LIMIT } else { f.limit };
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {CALLBACK_COLUMNS} FROM callbacks \
                         WHERE ($1::TEXT IS NULL OR bucket = $1) AND ($2::TEXT IS NULL OR outcome = $2) \
                         AND created_ms >= $3 AND created_ms <= $4 \
                         ORDER BY created_ms DESC, request_id DESC LIMIT $5"
                    ),
                    &[
                        &f.bucket,
                        &f.outcome,
                        &f.since_ms.unwrap_or(i64::MIN),
                        &f.until_ms.unwrap_or(i64::MAX),
                        &limit_i64(limit),
                    ],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(callback_from_row).collect())
        })
    }

    fn prune_callbacks(&self, keep: usize, max_age_ms: i64, now_ms: i64) -> StoreFuture<'_, usize> {
        let cutoff = now_ms.saturating_sub(max_age_ms);
        Box::pin(self.tx(move |tx| {
            Box::pin(async move {
                let first = tx
                    .query_opt(
                        "SELECT created_ms, request_id FROM callbacks ORDER BY created_ms DESC, request_id DESC \
                         LIMIT 1 OFFSET $1",
                        &[&limit_i64(keep)],
                    )
                    .await
                    .map_err(sql)?;
                let Some(row) = first else { return Ok(0) };
                let (ms, id): (i64, String) = (row.get(0), row.get(1));
                let n = tx
                    .execute(
                        "DELETE FROM callbacks WHERE (created_ms < $1 OR (created_ms = $1 AND request_id <= $2)) \
                         AND created_ms < $3",
                        &[&ms, &id, &cutoff],
                    )
                    .await
                    .map_err(sql)?;
                Ok(n as usize)
            })
        }))
    }

    fn remember_nonce<'a>(&'a self, nonce: &'a str, now_ms: i64, expires_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(tx!(self, |tx| (nonce) {
            tx.execute("DELETE FROM sts_nonces WHERE expires_ms < $1", &[&now_ms]).await.map_err(sql)?;
            let n = tx
                .execute(
                    "INSERT INTO sts_nonces (nonce, expires_ms) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING",
                    &[&nonce, &expires_ms],
                )
                .await
                .map_err(sql)?;
            Ok(n == 1)
        }))
    }

    fn acquire_worker<'a>(&'a self, name: &'a str, holder: &'a str, now_ms: i64, ttl_ms: i64) -> StoreFuture<'a, bool> {
        let expires = now_ms.saturating_add(ttl_ms);
        Box::pin(tx!(self, |tx| (name, holder) {
            let n = tx
                .execute(
                    "INSERT INTO workers (name, holder, expires_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms \
                     WHERE workers.holder = excluded.holder OR workers.expires_ms < $4",
                    &[&name, &holder, &expires, &now_ms],
                )
                .await
                .map_err(sql)?;
            Ok(n == 1)
        }))
    }
}
