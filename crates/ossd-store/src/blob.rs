//! `BlobStore`: streaming put/get/delete of immutable byte blobs by id.

use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Opaque blob identifier (random hex; never derived from an object key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct BlobId(pub String);

/// A blob being written. Bytes go in through `AsyncWrite`; `finish` makes them durable
/// (per the store's durability setting) and returns the length written. Dropping a writer
/// without finishing it removes the partial blob.
pub trait BlobWriter: AsyncWrite + Send + Unpin {
    fn id(&self) -> &BlobId;
    fn finish(self: Box<Self>) -> BoxFuture<'static, io::Result<u64>>;
}

pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob with a fresh id.
    fn create(&self) -> BoxFuture<'_, io::Result<Box<dyn BlobWriter>>>;
    /// Reads `len` bytes starting at `offset`.
    fn read(&self, id: &BlobId, offset: u64, len: u64) -> BoxFuture<'_, io::Result<BlobReader>>;
    /// Opens an existing blob to append bytes after its first `keep_len` bytes (anything past
    /// `keep_len`, left by an earlier unfinished append, is cut off first).
    fn append(&self, id: &BlobId, keep_len: u64) -> BoxFuture<'_, io::Result<Box<dyn BlobWriter>>>;
    /// Removes a blob; a missing blob is not an error.
    fn delete(&self, id: &BlobId) -> BoxFuture<'_, io::Result<()>>;
    /// Ids of all blobs (for the orphan sweep at start-up).
    fn list(&self) -> BoxFuture<'_, io::Result<Vec<BlobId>>>;
}

/// Blobs as files under `<data>/blobs/<2 hex>/<id>`. Writes go to the final path (ids are
/// fresh, so no reader can see them before metadata publishes them).
pub struct LocalBlobStore {
    pub root: std::path::PathBuf,
    /// fsync each finished blob (and its directory on creation) when true.
    pub fsync: bool,
}
