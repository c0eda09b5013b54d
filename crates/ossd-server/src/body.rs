//! Streaming request bodies into new blobs while computing MD5, CRC-64 and size, so that no
//! object is ever held in memory.

use base64::Engine;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use md5::{Digest, Md5};
use ossd_proto::OssError;
use ossd_proto::checksum::Crc64;
use ossd_store::{BlobId, BlobLifecycle, InflightLease};
use tokio::io::AsyncWriteExt;

/// Largest single upload (PutObject, AppendObject, PostObject): 5 GiB.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// A body written to a finished (durable) blob. The blob stays registered as in flight (safe
/// from the orphan sweep) until this value is dropped: keep it until the blob is published.
pub struct StoredBody {
    pub blob: BlobId,
    pub size: u64,
    pub md5: [u8; 16],
    pub crc64: u64,
    pub lease: InflightLease,
}

impl StoredBody {
    pub fn content_md5(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.md5)
    }
}

/// A write that failed because the disk is full (HTTP 507, as WebDAV defines it; OSS documents
/// no code for a full disk since it has none), anything else is internal.
pub fn blob_write_error(what: &str, e: std::io::Error) -> OssError {
    if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
        tracing::warn!(error = %e, "{what}: no space left");
        OssError::new(507, "InsufficientStorage", "There is not enough space left on the server to store the object.")
    } else {
        OssError::internal(format!("{what}: {e}"))
    }
}

fn too_large() -> OssError {
    OssError::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
}

/// Rejects a declared Content-Length over `limit` before reading anything.
pub fn check_declared_length(content_length: Option<u64>, limit: u64) -> Result<(), OssError> {
    match content_length {
        Some(n) if n > limit => Err(too_large()),
        _ => Ok(()),
    }
}

/// Bodies at least this large are hashed on blocking threads while the next bytes arrive and
/// are written; smaller ones are hashed inline (a thread hand-off would cost more than it saves).
const PARALLEL_HASH_MIN: u64 = 1024 * 1024;

/// Uploads hashed on their own threads at once. More than the machine's cores gain nothing, and
/// each holds a few chunks in flight: further large uploads hash inline, so memory stays bounded
/// by concurrency (64 parallel 256 MiB uploads stay well under 150 MiB of RSS).
static PARALLEL_HASHERS: std::sync::LazyLock<std::sync::Arc<tokio::sync::Semaphore>> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    std::sync::Arc::new(tokio::sync::Semaphore::new(cores))
});

/// MD5 and CRC-64 of a byte stream, computed inline or on two blocking threads (one each, so
/// the CRC-64 runs beside the MD5 instead of after it and a large PUT goes at one core's MD5
/// rate). The body's frames (often 16 KiB or less) are gathered into batches of
/// [`hash_batch_bytes`], so each thread wakes once per batch, not per frame; each thread is fed
/// through a bounded channel of [`HASH_QUEUE`] batches, and both share the same refcounted
/// `Bytes`, so the queues cost no copy. The bench's `floor-md5` hashes with this same type, so
/// ossd / floor-md5 compares everything but the hashing.
pub struct BodyHasher(Hashing);

impl BodyHasher {
    /// Threaded for declared lengths from [`PARALLEL_HASH_MIN`] on, while a slot is free.
    pub fn new(size_hint: Option<u64>) -> BodyHasher {
        BodyHasher(Hashing::new(size_hint))
    }

    pub async fn update(&mut self, chunk: &Bytes) -> Result<(), OssError> {
        self.0.update(chunk).await
    }

    /// The MD5 and the CRC-64 of every byte passed to [`update`](Self::update).
    pub async fn finish(self) -> Result<([u8; 16], u64), OssError> {
        self.0.finish().await
    }
}

enum Hashing {
    Inline(Md5, Crc64),
    Threaded {
        md5: (tokio::sync::mpsc::Sender<HashBatch>, tokio::task::JoinHandle<[u8; 16]>),
        crc: (tokio::sync::mpsc::Sender<HashBatch>, tokio::task::JoinHandle<u64>),
        batch: Vec<Bytes>,
        batch_len: usize,
        batch_limit: usize,
        _permit: tokio::sync::OwnedSemaphorePermit,
    },
}

type HashBatch = std::sync::Arc<Vec<Bytes>>;

/// Batches queued per hashing thread.
const HASH_QUEUE: usize = 4;

/// Bytes gathered before a batch is handed to the hashing threads: an eighth of the body, between
/// 256 KiB and 1 MiB. Each batch wakes both threads; with 256 KiB batches a 256 MiB PUT spent 15%
/// of its CPU in thread hand-offs (perf), and 1 MiB batches took it from 0.67-0.78 to 0.83-0.94 of
/// one core's MD5 rate. Bodies near [`PARALLEL_HASH_MIN`] keep small batches so that hashing still
/// overlaps the rest of the body. At most [`PARALLEL_HASHERS`] uploads hold batches.
fn hash_batch_bytes(size_hint: u64) -> usize {
    (size_hint / 8).clamp(256 * 1024, 1024 * 1024) as usize
}

impl Hashing {
    fn new(size_hint: Option<u64>) -> Hashing {
        // Small bodies never touch the semaphore (it is shared by every request).
        if size_hint.unwrap_or(0) < PARALLEL_HASH_MIN {
            return Hashing::Inline(Md5::new(), Crc64::new());
        }
        let Ok(permit) = PARALLEL_HASHERS.clone().try_acquire_owned() else {
            return Hashing::Inline(Md5::new(), Crc64::new());
        };
        let (md5_tx, mut md5_rx) = tokio::sync::mpsc::channel::<HashBatch>(HASH_QUEUE);
        let md5_task = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            while let Some(batch) = md5_rx.blocking_recv() {
                batch.iter().for_each(|chunk| md5.update(chunk));
            }
            md5.finalize().into()
        });
        let (crc_tx, mut crc_rx) = tokio::sync::mpsc::channel::<HashBatch>(HASH_QUEUE);
        let crc_task = tokio::task::spawn_blocking(move || {
            let mut crc = Crc64::new();
            while let Some(batch) = crc_rx.blocking_recv() {
                batch.iter().for_each(|chunk| crc.update(chunk));
            }
            crc.finish()
        });
        Hashing::Threaded {
            md5: (md5_tx, md5_task),
            crc: (crc_tx, crc_task),
            batch: Vec::new(),
            batch_len: 0,
            batch_limit: hash_batch_bytes(size_hint.unwrap_or(0)),
            _permit: permit,
        }
    }

    async fn update(&mut self, chunk: &Bytes) -> Result<(), OssError> {
        match self {
            Hashing::Inline(md5, crc) => {
                md5.update(chunk);
                crc.update(chunk);
                Ok(())
            }
            Hashing::Threaded { md5, crc, batch, batch_len, batch_limit, .. } => {
                batch.push(chunk.clone());
                *batch_len += chunk.len();
                if *batch_len < *batch_limit {
                    return Ok(());
                }
                *batch_len = 0;
                send_batch(&md5.0, &crc.0, std::mem::take(batch)).await
            }
        }
    }

    async fn finish(self) -> Result<([u8; 16], u64), OssError> {
        match self {
            Hashing::Inline(md5, crc) => Ok((md5.finalize().into(), crc.finish())),
            Hashing::Threaded { md5: (md5_tx, md5_task), crc: (crc_tx, crc_task), batch, .. } => {
                if !batch.is_empty() {
                    send_batch(&md5_tx, &crc_tx, batch).await?;
                }
                drop((md5_tx, crc_tx));
                let failed = |e| OssError::internal(format!("a hashing thread failed: {e}"));
                let md5 = md5_task.await.map_err(failed)?;
                let crc = crc_task.await.map_err(failed)?;
                Ok((md5, crc))
            }
        }
    }
}

async fn send_batch(
    md5: &tokio::sync::mpsc::Sender<HashBatch>,
    crc: &tokio::sync::mpsc::Sender<HashBatch>,
    batch: Vec<Bytes>,
) -> Result<(), OssError> {
    let batch = std::sync::Arc::new(batch);
    let stopped = |_| OssError::internal("a hashing thread stopped");
    md5.send(batch.clone()).await.map_err(stopped)?;
    crc.send(batch).await.map_err(stopped)
}

/// Writes `body` into a new blob. On any failure the partial blob is removed (the writer is
/// dropped unfinished) and the error is returned. `size_hint` (the declared length) picks
/// inline or parallel hashing.
pub async fn store_stream<S, E>(
    blobs: &BlobLifecycle,
    body: S,
    limit: u64,
    size_hint: Option<u64>,
) -> Result<StoredBody, OssError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut body = body;
    let new = blobs.create().await.map_err(|e| blob_write_error("cannot create blob", e))?;
    let (mut writer, lease) = (new.writer, new.lease);
    let mut hasher = BodyHasher::new(size_hint);
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            OssError::new(
                400,
                "RequestTimeout",
                format!("Your socket connection to the server was not read from or written to: {e}"),
            )
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large());
        }
        hasher.update(&chunk).await?;
        writer.write_all(&chunk).await.map_err(|e| blob_write_error("cannot write blob", e))?;
    }
    let blob = writer.id().clone();
    writer.finish().await.map_err(|e| blob_write_error("cannot finish blob", e))?;
    let (md5, crc64) = hasher.finish().await?;
    Ok(StoredBody { blob, size, md5, crc64, lease })
}

/// `Content-MD5` must be the base64 MD5 of the body (`InvalidDigest` otherwise).
pub fn check_content_md5(header: Option<&str>, stored: &StoredBody) -> Result<(), OssError> {
    match header {
        Some(h) if h.trim() != stored.content_md5() => {
            Err(OssError::new(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
                .with("Content-MD5", h))
        }
        _ => Ok(()),
    }
}
