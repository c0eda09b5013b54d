//! `MetaStore`: the domain records and the transactional, ordered metadata interface.

use crate::blob::BlobId;
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
    /// `Normal`, `Appendable` or `Multipart`.
    pub object_type: String,
    /// `default`, `private`, `public-read` or `public-read-write`.
    pub acl: String,
    /// Stored response headers: `cache-control`, `content-disposition`, `content-encoding`,
    /// `content-language`, `expires` and every `x-oss-meta-*` (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// Object tags in order of insertion.
    pub tags: Vec<(String, String)>,
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

/// What a listing shows of an object (no JSON columns decoded: listings stay cheap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub object_type: String,
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

/// Metadata store. Every method is one transaction; calls may block (the server runs them on
/// a blocking thread), so implementations must be `Send + Sync`.
pub trait MetaStore: Send + Sync + 'static {
    fn create_bucket(&self, bucket: &BucketRecord) -> StoreResult<()>;
    /// Fails with `BucketNotEmpty` while it holds objects or multipart uploads.
    fn delete_bucket(&self, name: &str) -> StoreResult<()>;
    fn get_bucket(&self, name: &str) -> StoreResult<Option<BucketRecord>>;
    /// Buckets with `prefix`, names strictly after `marker`, at most `limit`, in name order.
    fn list_buckets(&self, prefix: &str, marker: &str, limit: usize) -> StoreResult<Vec<BucketRecord>>;
    fn set_bucket_acl(&self, name: &str, acl: &str) -> StoreResult<()>;
    /// Sets (or with `None` removes) the bucket's CORS configuration (`NoSuchBucket` if absent).
    fn set_bucket_cors(&self, name: &str, cors: Option<&str>) -> StoreResult<()>;
    /// Replaces (`Some`) or removes (`None`) the bucket's callback policies.
    fn set_bucket_callback_policy(&self, name: &str, policy: Option<&str>) -> StoreResult<()>;

    /// Publishes an object. Returns the blobs no longer referenced by any object (to delete
    /// after the commit). If `callback` is given it is inserted in the same transaction.
    /// Fails with `NoSuchBucket` when the bucket is gone.
    fn put_object(
        &self,
        object: &ObjectRecord,
        mode: PutMode,
        callback: Option<&CallbackLogEntry>,
    ) -> StoreResult<Vec<BlobId>>;
    fn get_object(&self, bucket: &str, key: &str) -> StoreResult<Option<ObjectRecord>>;
    /// Deletes an object; returns its unreferenced blobs (empty when it did not exist).
    fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Vec<BlobId>>;
    /// Updates ACL and/or tags of an existing object (`NoSuchObject` otherwise).
    fn update_object_attrs(
        &self,
        bucket: &str,
        key: &str,
        acl: Option<&str>,
        tags: Option<&[(String, String)]>,
    ) -> StoreResult<()>;
    /// Objects of `bucket` whose key starts with `prefix`, from `start`, at most `limit`, in
    /// byte order of the key. Cost grows with `limit`, not with the bucket.
    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start: ListStart<'_>,
        limit: usize,
    ) -> StoreResult<Vec<ObjectRecord>>;
    /// Like [`MetaStore::list_objects`], but only the fields a listing page shows.
    fn list_object_summaries(
        &self,
        bucket: &str,
        prefix: &str,
        start: ListStart<'_>,
        limit: usize,
    ) -> StoreResult<Vec<ObjectSummary>>;
    /// Every blob id referenced by metadata (for the orphan sweep).
    fn referenced_blobs(&self) -> StoreResult<Vec<BlobId>>;

    /// Starts a multipart upload (`NoSuchBucket` when the bucket is gone).
    fn create_upload(&self, upload: &UploadRecord) -> StoreResult<()>;
    fn get_upload(&self, upload_id: &str) -> StoreResult<Option<UploadRecord>>;
    /// Records a part, replacing one with the same number; returns the blobs that became
    /// unreferenced (`NoSuchUpload` when the upload is gone: the caller then drops the blob).
    fn put_part(&self, part: &PartRecord) -> StoreResult<Vec<BlobId>>;
    /// Parts with numbers above `after_part`, in order, at most `limit`.
    fn list_parts(&self, upload_id: &str, after_part: u32, limit: usize) -> StoreResult<Vec<PartRecord>>;
    /// Uploads of `bucket` with `prefix`, ordered by (key, upload id), after the markers: with an
    /// empty `upload_id_marker`, keys strictly after `key_marker`; otherwise also the uploads of
    /// `key_marker` whose id is after `upload_id_marker`.
    fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        upload_id_marker: &str,
        limit: usize,
    ) -> StoreResult<Vec<UploadRecord>>;
    /// Publishes `object` (made of some of the upload's part blobs) and removes the upload and its
    /// parts, in one transaction; returns the blobs no longer referenced.
    fn complete_upload(
        &self,
        upload_id: &str,
        object: &ObjectRecord,
        mode: PutMode,
        callback: Option<&CallbackLogEntry>,
    ) -> StoreResult<Vec<BlobId>>;
    /// Removes the upload and its parts; returns their blobs (`NoSuchUpload` if absent).
    fn abort_upload(&self, upload_id: &str) -> StoreResult<Vec<BlobId>>;

    fn record_callback(&self, entry: &CallbackLogEntry) -> StoreResult<()>;
    /// Sets outcome, attempts, message and finished time of an existing entry.
    fn finish_callback(&self, entry: &CallbackLogEntry) -> StoreResult<()>;
    fn get_callback(&self, request_id: &str) -> StoreResult<Option<CallbackLogEntry>>;
    /// Newest first.
    fn list_callbacks(&self, filter: &CallbackFilter) -> StoreResult<Vec<CallbackLogEntry>>;
    /// Keeps the newest `keep` entries and those younger than `max_age_ms`; returns how many went.
    fn prune_callbacks(&self, keep: usize, max_age_ms: i64, now_ms: i64) -> StoreResult<usize>;
}
