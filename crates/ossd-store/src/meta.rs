//! `MetaStore`: the domain records and the transactional, ordered metadata interface.

use crate::blob::{BlobId, BoxFuture};
use crate::page::ListPage;
use crate::summaries::Summaries;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("bucket already exists")]
    BucketExists,
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("bucket not empty")]
    BucketNotEmpty,
    #[error("no such object")]
    NoSuchObject,
    /// `PutMode::MustNotExist` and the key exists.
    #[error("object already exists")]
    ObjectExists,
    /// `PutMode::AppendAt` whose position is not the current length; carries the length.
    #[error("position not equal to length {0}")]
    PositionNotEqualToLength(u64),
    /// `PutMode::AppendAt` on an object that is not appendable.
    #[error("object not appendable")]
    NotAppendable,
    /// The multipart upload does not exist (never, or aborted, or completed).
    #[error("no such upload")]
    NoSuchUpload,
    /// What the write was built on changed before it committed (a copy's source blob is no
    /// longer live, a completion's part was replaced, an append's base object was replaced).
    /// Nothing was written; the caller re-reads and retries, or answers OSS's error.
    #[error("conflicting concurrent change: {0}")]
    Conflict(String),
    /// The metadata database cannot grow (disk full). Nothing was written.
    #[error("storage full: {0}")]
    Full(String),
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRecord {
    pub name: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// `private`, `public-read` or `public-read-write`.
    pub acl: String,
    pub storage_class: String,
    /// The bucket's CORS configuration as stored by the server (opaque here), if any.
    pub cors: Option<String>,
    /// The bucket's callback policies (`PutBucketCallbackPolicy`) as stored by the server
    /// (opaque here), if any.
    pub callback_policy: Option<String>,
    /// `LRS` or `ZRS`.
    pub data_redundancy_type: String,
    /// The default server-side encryption of new objects (`PutBucketEncryption`), if any.
    pub encryption: Option<Encryption>,
}

/// Server-side encryption of an object, or a bucket's default for new objects. An empty
/// `algorithm` means none. Values are OSS's header values (`AES256`, `KMS`, `SM4`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Encryption {
    pub algorithm: String,
    /// `x-oss-server-side-encryption-key-id` (KMS only; may be empty).
    pub key_id: String,
    /// `x-oss-server-side-data-encryption` (KMS only: `SM4`, or empty).
    pub data_encryption: String,
}

/// RestoreObject state of an object in an archive storage class (both 0: never asked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreState {
    /// Unix milliseconds at which the restored copy becomes readable.
    pub ready_ms: i64,
    /// Unix milliseconds at which the restored copy expires.
    pub expiry_ms: i64,
}

impl RestoreState {
    pub fn requested(&self) -> bool {
        self.ready_ms != 0
    }
}

/// What a bucket's objects add up to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketUsage {
    pub bytes: u64,
    pub objects: u64,
    /// Unix milliseconds of the newest object's last change (0 when empty).
    pub last_modified_ms: i64,
    /// `(storage class, bytes, objects)` for each class the bucket holds, in class-name order.
    pub by_class: Vec<(String, u64, u64)>,
}

impl BucketUsage {
    /// Totals from per-class rows `(class, bytes, objects, newest change)`.
    pub fn from_classes(rows: Vec<(String, u64, u64, i64)>) -> BucketUsage {
        let mut u = BucketUsage::default();
        for (class, bytes, objects, newest) in rows {
            u.bytes += bytes;
            u.objects += objects;
            u.last_modified_ms = u.last_modified_ms.max(newest);
            u.by_class.push((class, bytes, objects));
        }
        u
    }
}

/// A contiguous run of an object's bytes held in one blob.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    pub blob: BlobId,
    pub len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub bucket: String,
    pub key: String,
    /// The object's bytes, in order (one segment for simple uploads; several for multipart).
    pub segments: Vec<Segment>,
    pub size: u64,
    /// Without quotes, upper-case hex (or `HEX-N` for multipart).
    pub etag: String,
    pub crc64: u64,
    /// Base64 MD5 of the content for simple uploads, else empty.
    pub content_md5: String,
    pub content_type: String,
    /// Unix milliseconds.
    pub last_modified_ms: i64,
    /// `Normal`, `Appendable`, `Multipart` or `Symlink`.
    pub object_type: String,
    /// `default`, `private`, `public-read` or `public-read-write`.
    pub acl: String,
    /// Stored response headers: `cache-control`, `content-disposition`, `content-encoding`,
    /// `content-language`, `expires` and every `x-oss-meta-*` (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// Object tags in order of insertion.
    pub tags: Vec<(String, String)>,
    /// `Standard`, `IA`, `Archive`, `ColdArchive` or `DeepColdArchive`.
    pub storage_class: String,
    /// The target key of a `Symlink` object (which then has no segments).
    pub symlink_target: Option<String>,
    pub restore: RestoreState,
    pub encryption: Encryption,
}

/// A multipart upload in progress, with the attributes given at initiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: i64,
    pub content_type: String,
    pub acl: String,
    pub headers: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    pub storage_class: String,
    pub encryption: Encryption,
}

/// One uploaded part; its bytes are one finished blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    pub upload_id: String,
    pub part_number: u32,
    pub blob: BlobId,
    pub size: u64,
    /// Upper-case hex MD5 of the part, without quotes.
    pub etag: String,
    pub crc64: u64,
    pub last_modified_ms: i64,
}

/// How `put_object` treats an existing object under the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Replace whatever is there (last commit wins).
    Overwrite,
    /// Fail with `ObjectExists` if the key exists (`x-oss-forbid-overwrite: true`).
    MustNotExist,
    /// Append: the existing object must be `Appendable` with `size == position`, or absent with
    /// `position == 0`. The new record replaces it; its segments include the old ones.
    AppendAt(u64),
}

/// A page of `list_objects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStart<'a> {
    /// From the first key with the prefix.
    Beginning,
    /// Strictly after this key.
    After(&'a str),
    /// After every key that starts with this string (skips a whole common prefix).
    PastPrefix(&'a str),
}

/// One callback delivery in the durable callback log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallbackLogEntry {
    /// The upload's `x-oss-request-id`.
    pub request_id: String,
    pub bucket: String,
    pub object: String,
    pub operation: String,
    /// Unix milliseconds when the upload was published.
    pub created_ms: i64,
    /// `pending`, `200` or `203`.
    pub outcome: String,
    /// The callback spec as the uploader sent it (base64 `callback` parameter), for replay.
    pub callback_param: String,
    /// The rendered body that was (or will be) sent.
    pub body: Vec<u8>,
    /// JSON array of attempts: `{url, status, error, latency_ms, response_bytes}`.
    pub attempts_json: String,
    /// Final message (receiver's answer summary or failure reason).
    pub message: String,
    /// Unix milliseconds when the outcome was recorded (0 while pending).
    pub finished_ms: i64,
    /// The `x-oss-pub-key-url` the callback was signed for.
    pub key_url: String,
}

#[derive(Debug, Clone, Default)]
pub struct CallbackFilter {
    pub bucket: Option<String>,
    pub outcome: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub limit: usize,
}

/// A metadata call's future. Implementations decide where the work runs (SQLite answers point
/// lookups inline and runs writes on the blocking pool; a networked store awaits its driver).
pub type StoreFuture<'a, T> = BoxFuture<'a, StoreResult<T>>;

/// Metadata store. Every method is one transaction and returns a future, so that no
/// implementation ever blocks a runtime thread for longer than it chooses to.
///
/// Blob lifecycle rules every implementation enforces inside the publishing transaction:
/// - a published record may reference a blob only if it is `fresh` (written by this request,
///   never referenced before) or currently live (referenced by some object or part);
/// - a blob whose last reference goes is returned to the caller and never becomes live again
///   (a later publish that names it fails with [`StoreError::Conflict`]).
pub trait MetaStore: Send + Sync + 'static {
    fn create_bucket<'a>(&'a self, bucket: &'a BucketRecord) -> StoreFuture<'a, ()>;
    /// Fails with `BucketNotEmpty` while it holds objects or multipart uploads.
    fn delete_bucket<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()>;
    fn get_bucket<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<BucketRecord>>;
    /// Buckets with `prefix`, names strictly after `marker`, at most `limit`, in name order.
    fn list_buckets<'a>(&'a self, prefix: &'a str, marker: &'a str, limit: usize)
    -> StoreFuture<'a, Vec<BucketRecord>>;
    fn set_bucket_acl<'a>(&'a self, name: &'a str, acl: &'a str) -> StoreFuture<'a, ()>;
    /// Sets (or with `None` removes) the bucket's CORS configuration (`NoSuchBucket` if absent).
    fn set_bucket_cors<'a>(&'a self, name: &'a str, cors: Option<&'a str>) -> StoreFuture<'a, ()>;
    /// Replaces (`Some`) or removes (`None`) the bucket's callback policies (`NoSuchBucket` if absent).
    fn set_bucket_callback_policy<'a>(&'a self, name: &'a str, policy: Option<&'a str>) -> StoreFuture<'a, ()>;
    /// Sets (`Some`) or removes (`None`) one configuration of a bucket, by kind (`website`,
    /// `lifecycle`, ...; the body is opaque here). `NoSuchBucket` if the bucket is absent.
    fn set_bucket_config<'a>(&'a self, name: &'a str, kind: &'a str, body: Option<&'a str>) -> StoreFuture<'a, ()>;
    /// Every configuration of a bucket as `(kind, body)`, in kind order (empty for a missing bucket).
    fn bucket_configs<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Vec<(String, String)>>;
    /// Buckets that have a configuration of `kind`, as `(bucket, body)`, names after `after`, at
    /// most `limit`, in name order (the lifecycle worker, ListBuckets' tag filter).
    fn list_bucket_configs<'a>(
        &'a self,
        kind: &'a str,
        after: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<(String, String)>>;
    /// Bytes, number and latest change of the bucket's objects (GetBucketStat, the
    /// storage-capacity quota). One aggregate over the bucket's rows.
    fn bucket_usage<'a>(&'a self, name: &'a str) -> StoreFuture<'a, BucketUsage>;
    /// Replaces (`Some`) or removes (`None`) the bucket's default encryption (`NoSuchBucket` if absent).
    fn set_bucket_encryption<'a>(&'a self, name: &'a str, rule: Option<&'a Encryption>) -> StoreFuture<'a, ()>;

    /// Publishes an object. `fresh` names the blobs this request wrote (never referenced
    /// before); every other segment must be live, else `Conflict`. With `AppendAt`, the current
    /// object's segments must be the new record's leading segments (else `Conflict`). Returns
    /// the blobs no longer referenced by anything (to reclaim after the commit). If `callback`
    /// is given it is inserted in the same transaction. `NoSuchBucket` when the bucket is gone.
    fn put_object<'a>(
        &'a self,
        object: &'a ObjectRecord,
        mode: PutMode,
        fresh: &'a [BlobId],
        callback: Option<&'a CallbackLogEntry>,
    ) -> StoreFuture<'a, Vec<BlobId>>;
    fn get_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> StoreFuture<'a, Option<ObjectRecord>>;
    /// Deletes an object; returns its unreferenced blobs (empty when it did not exist).
    fn delete_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> StoreFuture<'a, Vec<BlobId>>;
    /// Deletes several objects of one bucket in one transaction; returns the unreferenced blobs.
    fn delete_objects<'a>(&'a self, bucket: &'a str, keys: &'a [String]) -> StoreFuture<'a, Vec<BlobId>>;
    /// Deletes each `(key, last_modified_ms)` only if the object still has that last-modified
    /// time (the lifecycle worker: an object overwritten since it was judged expired stays);
    /// one transaction; returns the unreferenced blobs.
    fn delete_objects_unchanged<'a>(
        &'a self,
        bucket: &'a str,
        objects: &'a [(String, i64)],
    ) -> StoreFuture<'a, Vec<BlobId>>;
    /// Moves each `(key, last_modified_ms)` to `storage_class` if the object still has that
    /// last-modified time (lifecycle Transitions; the last-modified time stays, as in OSS).
    /// Returns how many moved.
    fn transition_objects<'a>(
        &'a self,
        bucket: &'a str,
        objects: &'a [(String, i64)],
        storage_class: &'a str,
    ) -> StoreFuture<'a, u64>;
    /// Updates ACL and/or tags of an existing object (`NoSuchObject` otherwise).
    fn update_object_attrs<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        acl: Option<&'a str>,
        tags: Option<&'a [(String, String)]>,
    ) -> StoreFuture<'a, ()>;
    /// Records a RestoreObject request on an existing object (`NoSuchObject` otherwise).
    fn set_object_restore<'a>(&'a self, bucket: &'a str, key: &'a str, restore: RestoreState) -> StoreFuture<'a, ()>;
    /// Objects of `bucket` whose key starts with `prefix`, from `start`, at most `limit`, in
    /// byte order of the key. Cost grows with `limit`, not with the bucket.
    fn list_objects<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        start: ListStart<'a>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<ObjectRecord>>;
    /// Like [`MetaStore::list_objects`], but only the fields a listing page shows.
    fn list_object_summaries<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        start: ListStart<'a>,
        limit: usize,
    ) -> StoreFuture<'a, Summaries>;
    /// A listing page: objects and common prefixes after `start` (see [`crate::PageBuilder`]),
    /// read in batches of [`MetaStore::list_object_summaries`]. A store that can read the
    /// batches in one snapshot overrides it.
    fn list_page<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        delimiter: &'a str,
        start: &'a str,
        max_keys: usize,
    ) -> StoreFuture<'a, ListPage> {
        Box::pin(crate::page::list_page_in_batches(self, bucket, prefix, delimiter, start, max_keys))
    }
    /// Every blob id referenced by metadata (for the orphan sweep).
    fn referenced_blobs(&self) -> StoreFuture<'_, Vec<BlobId>>;

    /// Starts a multipart upload (`NoSuchBucket` when the bucket is gone).
    fn create_upload<'a>(&'a self, upload: &'a UploadRecord) -> StoreFuture<'a, ()>;
    fn get_upload<'a>(&'a self, upload_id: &'a str) -> StoreFuture<'a, Option<UploadRecord>>;
    /// Records a part (its blob is fresh), replacing one with the same number; returns the
    /// blobs that became unreferenced (`NoSuchUpload` when the upload is gone: the caller then
    /// drops the blob).
    fn put_part<'a>(&'a self, part: &'a PartRecord) -> StoreFuture<'a, Vec<BlobId>>;
    /// Parts with numbers above `after_part`, in order, at most `limit`.
    fn list_parts<'a>(&'a self, upload_id: &'a str, after_part: u32, limit: usize) -> StoreFuture<'a, Vec<PartRecord>>;
    /// Uploads of `bucket` with `prefix`, ordered by (key, upload id), after the markers: with an
    /// empty `upload_id_marker`, keys strictly after `key_marker`; otherwise also the uploads of
    /// `key_marker` whose id is after `upload_id_marker`.
    fn list_uploads<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
        key_marker: &'a str,
        upload_id_marker: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<UploadRecord>>;
    /// Publishes `object` (made of the upload's parts `chosen`, as `(part number, blob)`) and
    /// removes the upload and its parts, in one transaction. Each chosen part must still hold
    /// that blob (`Conflict` otherwise: it was re-uploaded meanwhile). Returns the blobs no
    /// longer referenced.
    fn complete_upload<'a>(
        &'a self,
        upload_id: &'a str,
        object: &'a ObjectRecord,
        chosen: &'a [(u32, BlobId)],
        mode: PutMode,
        callback: Option<&'a CallbackLogEntry>,
    ) -> StoreFuture<'a, Vec<BlobId>>;
    /// Removes the upload and its parts; returns their blobs (`NoSuchUpload` if absent).
    fn abort_upload<'a>(&'a self, upload_id: &'a str) -> StoreFuture<'a, Vec<BlobId>>;

    fn record_callback<'a>(&'a self, entry: &'a CallbackLogEntry) -> StoreFuture<'a, ()>;
    /// Sets outcome, attempts, message and finished time of an existing entry; resolves once it
    /// is recorded (or with the error). May be less durable than a publish (a crash may lose an
    /// outcome; the entry then stays `pending`).
    fn finish_callback<'a>(&'a self, entry: &'a CallbackLogEntry) -> StoreFuture<'a, ()>;
    /// [`finish_callback`](Self::finish_callback) for an upload's answer, which need not wait
    /// for it: a store may queue it and record it with its next commit (SQLite does), logging a
    /// failure instead of returning it. [`get_callback`](Self::get_callback) and
    /// [`list_callbacks`](Self::list_callbacks) called after it see it.
    fn finish_callback_queued<'a>(&'a self, entry: &'a CallbackLogEntry) -> StoreFuture<'a, ()> {
        self.finish_callback(entry)
    }
    fn get_callback<'a>(&'a self, request_id: &'a str) -> StoreFuture<'a, Option<CallbackLogEntry>>;
    /// Commits what the store holds back for a later commit (queued callback outcomes). The
    /// server calls it when it stops, before it marks the stop as clean; dropping the last
    /// handle does the same, later.
    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    /// Newest first.
    fn list_callbacks<'a>(&'a self, filter: &'a CallbackFilter) -> StoreFuture<'a, Vec<CallbackLogEntry>>;
    /// Keeps the newest `keep` entries and those younger than `max_age_ms`; returns how many went.
    fn prune_callbacks(&self, keep: usize, max_age_ms: i64, now_ms: i64) -> StoreFuture<'_, usize>;

    /// Node-shared state. Records a one-time value (an STS signature nonce) until
    /// `expires_ms`; returns `false` if it was already recorded and has not expired.
    fn remember_nonce<'a>(&'a self, nonce: &'a str, now_ms: i64, expires_ms: i64) -> StoreFuture<'a, bool>;
    /// Takes (or renews) the lease on a background worker `name` for `holder` until
    /// `now_ms + ttl_ms`; `false` while another holder's lease has not expired. One runner at
    /// a time, and a runner that dies loses the lease when it expires.
    fn acquire_worker<'a>(&'a self, name: &'a str, holder: &'a str, now_ms: i64, ttl_ms: i64) -> StoreFuture<'a, bool>;
}
