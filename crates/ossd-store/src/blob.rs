//! `BlobStore`: streaming put/get/delete of immutable byte blobs by id.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, ReadBuf, Take};
use tokio::task::JoinHandle;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Opaque blob identifier (random hex; never derived from an object key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct BlobId(pub String);

impl BlobId {
    /// A fresh id: 128 random bits as lower-case hex.
    pub fn random() -> BlobId {
        BlobId(hex::encode(rand::random::<[u8; 16]>()))
    }

    /// A fresh id made by `node`: 96 random bits, then the node id (8 hex), so that the orphan
    /// sweep of a store shared by several nodes knows whose in-flight registry covers it.
    pub fn for_node(node: &NodeId) -> BlobId {
        BlobId(format!("{}{}", hex::encode(rand::random::<[u8; 12]>()), node.0))
    }

    /// The node that made this id (the last 8 hex digits; ids from before node ids carry
    /// random digits there, which name no live node).
    pub fn node(&self) -> NodeId {
        NodeId(self.0.get(self.0.len().saturating_sub(8)..).unwrap_or("").to_string())
    }
}

/// A node's identity in a shared store: 8 lower-case hex digits, kept in its data directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeId(pub String);

impl NodeId {
    pub fn random() -> NodeId {
        NodeId(hex::encode(rand::random::<[u8; 4]>()))
    }

    pub fn parse(s: &str) -> Option<NodeId> {
        let s = s.trim();
        (s.len() == 8 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then(|| NodeId(s.to_string()))
    }
}

/// A blob being written. Bytes go in through `AsyncWrite`; `finish` makes them durable
/// (per the store's durability setting) and returns the length written. Dropping a writer
/// without finishing it removes the partial blob.
pub trait BlobWriter: AsyncWrite + Send + Unpin {
    fn id(&self) -> &BlobId;
    fn finish(self: Box<Self>) -> BoxFuture<'static, io::Result<u64>>;
}

pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob under `id`, a fresh id ([`BlobId::random`]) chosen by the caller so
    /// that it can be registered as in flight before anything exists in the store.
    fn create(&self, id: &BlobId) -> BoxFuture<'_, io::Result<Box<dyn BlobWriter>>>;
    /// Reads `len` bytes starting at `offset`.
    fn read(&self, id: &BlobId, offset: u64, len: u64) -> BoxFuture<'_, io::Result<BlobReader>>;
    /// Removes a blob; a missing blob is not an error.
    fn delete(&self, id: &BlobId) -> BoxFuture<'_, io::Result<()>>;
    /// Ids of the blobs not written to for at least `idle_for` (`Duration::ZERO`: all), for the
    /// orphan sweep (which also skips the blobs registered as in flight).
    fn list(&self, idle_for: std::time::Duration) -> BoxFuture<'_, io::Result<Vec<BlobId>>>;
    /// The length of a blob's bytes, `None` if it does not exist (for the start-up check after
    /// an unclean stop with relaxed durability).
    fn len(&self, id: &BlobId) -> BoxFuture<'_, io::Result<Option<u64>>>;
}

/// Blobs as files under `<data>/blobs/<2 hex>/<id>`. Writes go to the final path (ids are
/// fresh, so no reader can see them before metadata publishes them).
pub struct LocalBlobStore {
    pub root: std::path::PathBuf,
    /// fsync each finished blob and its directory entry (and a new shard's entry) when true.
    pub fsync: bool,
}

// Writers drive a std `File` through `spawn_blocking`, one blocking call per 256 KiB chunk
// (plus one for the last chunk, fsync and directory fsync together in `finish`). Measured on
// tmpfs with 16 KiB writes this is ~3x the throughput of `tokio::fs::File`, which hands every
// small write to a blocking thread separately. Readers are `tokio::fs::File` behind a 256 KiB
// `BufReader`, so each blocking read is large whatever the caller's buffer size.

/// Bytes a writer buffers before handing them to a blocking thread. While one chunk is being
/// written the next one fills, so a writer holds at most two chunks.
const WRITE_CHUNK: usize = 256 * 1024;
/// Ranges up to this size are read whole in one blocking call.
const SMALL_READ: u64 = 64 * 1024;
/// Read-ahead of a blob reader (each fill is one blocking read of up to this many bytes).
const READ_CHUNK: usize = 256 * 1024;

impl LocalBlobStore {
    /// Opens (creating `root` if needed) a blob store. Shard directories are created lazily.
    pub fn open(root: PathBuf, fsync: bool) -> io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(LocalBlobStore { root, fsync })
    }

    /// The file of a (valid) blob id: `<root>/<first 2 hex>/<id>`.
    fn path_of(&self, id: &BlobId) -> io::Result<PathBuf> {
        validate_id(id)?;
        Ok(self.root.join(&id.0[..2]).join(&id.0))
    }
}

/// Blob ids are lower-case hex (32 chars when made by [`LocalBlobStore`]); nothing else is
/// ever turned into a path.
pub(crate) fn validate_id(id: &BlobId) -> io::Result<()> {
    let s = id.0.as_bytes();
    if (8..=64).contains(&s.len()) && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid blob id {:?}", id.0)))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

/// Creates the file of blob `id` (which must not exist). Returns the open file and whether
/// this call created the shard directory (which then needs an fsync of the root directory).
fn create_blob_file(root: &Path, id: &BlobId) -> io::Result<(File, bool)> {
    let shard = root.join(&id.0[..2]);
    let path = shard.join(&id.0);
    // `create_new`: a 128-bit collision is astronomically unlikely, but never clobber a blob.
    let open = || OpenOptions::new().write(true).create_new(true).open(&path);
    match open() {
        Ok(f) => Ok((f, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut created_shard = false;
            match std::fs::create_dir(&shard) {
                Ok(()) => created_shard = true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // The root itself is gone (or the store was built without `open`).
                    std::fs::create_dir_all(root)?;
                    match std::fs::create_dir(&shard) {
                        Ok(()) => created_shard = true,
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
            Ok((open()?, created_shard))
        }
        Err(e) => Err(e),
    }
}

/// Reads `len` bytes at `offset`; a file that ends early is `UnexpectedEof`.
fn read_small(path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let mut file = File::open(path)?;
    let have = file.metadata()?.len();
    if offset.checked_add(len).is_none_or(|end| end > have) {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("blob {} holds {have} bytes, range {offset}+{len} is past its end", path.display()),
        ));
    }
    if offset > 0 {
        file.seek(io::SeekFrom::Start(offset))?;
    }
    let mut buf = vec![0u8; len as usize];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl BlobStore for LocalBlobStore {
    fn create(&self, id: &BlobId) -> BoxFuture<'_, io::Result<Box<dyn BlobWriter>>> {
        // The file is created by the writer's first blocking call, together with the first
        // bytes (or with everything, for a small blob): one thread hop instead of two.
        let made = self.path_of(id).map(|path| {
            let w = LocalBlobWriter::new(id.clone(), path, WriterState::Unopened, self.fsync, self.root.clone(), true);
            Box::new(w) as Box<dyn BlobWriter>
        });
        Box::pin(async move { made })
    }

    fn read(&self, id: &BlobId, offset: u64, len: u64) -> BoxFuture<'_, io::Result<BlobReader>> {
        let path = self.path_of(id);
        Box::pin(async move {
            let path = path?;
            if len <= SMALL_READ {
                // One blocking call (open, check, read) instead of one per step.
                let bytes = blocking(move || read_small(&path, offset, len)).await?;
                return Ok(Box::pin(std::io::Cursor::new(bytes)) as BlobReader);
            }
            let mut file = tokio::fs::File::open(&path).await?;
            let have = file.metadata().await?.len();
            let end = offset
                .checked_add(len)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "blob range overflows"))?;
            if end > have {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("blob {} holds {have} bytes, range ends at {end}", path.display()),
                ));
            }
            if offset > 0 {
                file.seek(io::SeekFrom::Start(offset)).await?;
            }
            let cap = usize::try_from(len).unwrap_or(usize::MAX).clamp(1, READ_CHUNK);
            let reader = ExactReader { inner: tokio::io::BufReader::with_capacity(cap, file).take(len) };
            Ok(Box::pin(reader) as BlobReader)
        })
    }

    fn delete(&self, id: &BlobId) -> BoxFuture<'_, io::Result<()>> {
        let path = self.path_of(id);
        Box::pin(async move {
            match tokio::fs::remove_file(path?).await {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                r => r,
            }
        })
    }

    fn list(&self, idle_for: std::time::Duration) -> BoxFuture<'_, io::Result<Vec<BlobId>>> {
        let root = self.root.clone();
        Box::pin(blocking(move || list_blobs(&root, idle_for)))
    }

    fn len(&self, id: &BlobId) -> BoxFuture<'_, io::Result<Option<u64>>> {
        let path = self.path_of(id);
        Box::pin(async move {
            match tokio::fs::metadata(path?).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

fn list_blobs(root: &Path, idle_for: std::time::Duration) -> io::Result<Vec<BlobId>> {
    let mut out = Vec::new();
    let now = std::time::SystemTime::now();
    let idle_enough = |f: &std::fs::DirEntry| {
        idle_for.is_zero()
            || f.metadata()
                .and_then(|m| m.modified())
                .map(|t| now.duration_since(t).unwrap_or_default() >= idle_for)
                .unwrap_or(false)
    };
    let shards = match std::fs::read_dir(root) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for shard in shards {
        let shard = shard?;
        let Some(name) = shard.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.len() != 2 || !name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            continue;
        }
        if !shard.file_type()?.is_dir() {
            continue;
        }
        let files = match std::fs::read_dir(shard.path()) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for f in files {
            let f = f?;
            let Some(fname) = f.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let id = BlobId(fname);
            if validate_id(&id).is_ok() && id.0.starts_with(&name) && idle_enough(&f) {
                out.push(id);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads exactly the bytes `take` allows: a file that ends early is an error
/// (`UnexpectedEof`) rather than a silently short body.
struct ExactReader<R> {
    inner: Take<R>,
}

impl<R: AsyncRead + Unpin> AsyncRead for ExactReader<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if buf.filled().len() == before && buf.remaining() > 0 && this.inner.limit() > 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("blob ended {} bytes early", this.inner.limit()),
            )));
        }
        Poll::Ready(Ok(()))
    }
}

enum WriterState {
    /// A new blob whose file does not exist yet: the first blocking call creates it.
    Unopened,
    /// The file is ours; nothing in flight.
    Idle(File),
    /// A blocking thread is writing a chunk; it hands back the file and the (emptied) buffer.
    Busy(JoinHandle<ChunkWritten>),
    /// A write failed (or the file was taken by `finish`): every further call fails.
    Failed,
}

/// Buffers writes into chunks and writes each chunk with one blocking call (double-buffered:
/// the next chunk fills while the previous one is being written).
struct LocalBlobWriter {
    id: BlobId,
    path: PathBuf,
    state: WriterState,
    buf: Vec<u8>,
    /// Recycled buffer of the chunk last written.
    spare: Vec<u8>,
    /// Bytes accepted by `poll_write`.
    written: u64,
    /// Bytes handed to chunk writes, and where the range not yet sent to writeback starts.
    handed: u64,
    writeback_from: u64,
    fsync: bool,
    /// The store's root; with the shard, fsynced on `finish` when this writer created the shard.
    root: PathBuf,
    created_shard: bool,
    /// Remove the file when dropped unfinished (true for new blobs only).
    remove_on_drop: bool,
}

/// What a blocking chunk write hands back.
struct ChunkWritten {
    file: Option<File>,
    spare: Vec<u8>,
    result: io::Result<()>,
    created_shard: bool,
}

/// Opens the file when `file` is `None` (a new blob's first write), then writes `data`; then
/// starts the writeback of the byte range `writeback` (offset, length), if any.
fn write_chunk(
    file: Option<File>,
    root: &Path,
    id: &BlobId,
    mut data: Vec<u8>,
    writeback: Option<(u64, u64)>,
) -> ChunkWritten {
    let (mut file, created_shard) = match file {
        Some(f) => (f, false),
        None => match create_blob_file(root, id) {
            Ok(x) => x,
            Err(e) => return ChunkWritten { file: None, spare: data, result: Err(e), created_shard: false },
        },
    };
    let result = file.write_all(&data);
    if let (Some((offset, len)), Ok(())) = (writeback, &result) {
        start_writeback(&file, offset, len);
    }
    data.clear();
    ChunkWritten { file: Some(file), spare: data, result, created_shard }
}

/// How much of a blob at `fsync` is written before its writeback is started (see
/// [`start_writeback`]). Each start is one pass of the file system's writeback (block
/// allocation, a journal handle, the I/O submission): started for every 256 KiB chunk, those
/// passes took 50-200 us each and kept the chunk writer busy long enough to stall the receive of
/// a 256 MiB PUT. Every 4 MiB costs 64 passes per 256 MiB and leaves at most 4 MiB (a few
/// milliseconds of this disk) for the fsync in `finish`.
const WRITEBACK_EVERY: u64 = 4 * 1024 * 1024;

/// Starts writing `len` bytes of the file from `offset` to the disk without waiting (Linux
/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that the fsync in `finish` waits only for the
/// tail: a 256 MiB PUT at `fsync` otherwise paid the whole body's writeback after its last byte.
/// Durability still comes from that fsync; this only moves work earlier. Only full chunks get
/// here (`finish` writes the last chunk and fsyncs at once), so small PUTs pay nothing.
fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        let (Ok(offset), Ok(len)) = (libc::off64_t::try_from(offset), libc::off64_t::try_from(len)) else { return };
        // SAFETY: the descriptor is open for the duration of the call (borrowed from `file`); the
        // call reads no memory of ours. A failure is harmless (the fsync in `finish` does the
        // work), so its result is ignored.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

impl LocalBlobWriter {
    fn new(id: BlobId, path: PathBuf, state: WriterState, fsync: bool, root: PathBuf, remove_on_drop: bool) -> Self {
        LocalBlobWriter {
            id,
            path,
            state,
            buf: Vec::new(),
            spare: Vec::new(),
            written: 0,
            handed: 0,
            writeback_from: 0,
            fsync,
            root,
            created_shard: false,
            remove_on_drop,
        }
    }

    /// Waits until no chunk is in flight, surfacing its error.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.state {
            WriterState::Idle(_) | WriterState::Unopened => Poll::Ready(Ok(())),
            WriterState::Failed => Poll::Ready(Err(io::Error::other("blob writer failed earlier"))),
            WriterState::Busy(handle) => {
                let done = ready!(Pin::new(handle).poll(cx));
                match done {
                    Ok(ChunkWritten { file: Some(file), spare, result: Ok(()), created_shard }) => {
                        self.state = WriterState::Idle(file);
                        self.spare = spare;
                        self.created_shard |= created_shard;
                        Poll::Ready(Ok(()))
                    }
                    Ok(ChunkWritten { result, .. }) => {
                        self.state = WriterState::Failed;
                        Poll::Ready(Err(result.err().unwrap_or_else(|| io::Error::other("blob file missing"))))
                    }
                    Err(join) => {
                        self.state = WriterState::Failed;
                        Poll::Ready(Err(io::Error::other(join)))
                    }
                }
            }
        }
    }

    /// Hands the buffered bytes to a blocking thread. Call only when idle.
    fn start_write(&mut self) -> io::Result<()> {
        let file = match std::mem::replace(&mut self.state, WriterState::Failed) {
            WriterState::Idle(file) => Some(file),
            WriterState::Unopened => None,
            other => {
                self.state = other;
                return Err(io::Error::other("blob writer is not idle"));
            }
        };
        let data = std::mem::replace(&mut self.buf, std::mem::take(&mut self.spare));
        self.handed += data.len() as u64;
        let writeback = (self.fsync && self.handed - self.writeback_from >= WRITEBACK_EVERY).then(|| {
            let range = (self.writeback_from, self.handed - self.writeback_from);
            self.writeback_from = self.handed;
            range
        });
        let (root, id) = (self.root.clone(), self.id.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                self.state =
                    WriterState::Busy(rt.spawn_blocking(move || write_chunk(file, &root, &id, data, writeback)))
            }
            // Polled outside a Tokio runtime: write inline.
            Err(_) => {
                let w = write_chunk(file, &root, &id, data, writeback);
                w.result?;
                self.state = WriterState::Idle(w.file.ok_or_else(|| io::Error::other("blob file missing"))?);
                self.spare = w.spare;
                self.created_shard |= w.created_shard;
            }
        }
        Ok(())
    }

    fn poll_flush_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_idle(cx))?;
            if self.buf.is_empty() {
                return Poll::Ready(Ok(()));
            }
            self.start_write()?;
        }
    }
}

impl AsyncWrite for LocalBlobWriter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let WriterState::Failed = this.state {
            return Poll::Ready(Err(io::Error::other("blob writer failed earlier")));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.buf.len() >= WRITE_CHUNK {
            ready!(this.poll_idle(cx))?;
            this.start_write()?;
        }
        let n = data.len().min(WRITE_CHUNK - this.buf.len());
        this.buf.extend_from_slice(&data[..n]);
        this.written += n as u64;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_buf(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_buf(cx)
    }
}

impl BlobWriter for LocalBlobWriter {
    fn id(&self) -> &BlobId {
        &self.id
    }

    fn finish(mut self: Box<Self>) -> BoxFuture<'static, io::Result<u64>> {
        Box::pin(async move {
            std::future::poll_fn(|cx| self.poll_idle(cx)).await?;
            let file = match std::mem::replace(&mut self.state, WriterState::Failed) {
                WriterState::Idle(file) => Some(file),
                WriterState::Unopened => None,
                _ => return Err(io::Error::other("blob writer is not idle")),
            };
            let data = std::mem::take(&mut self.buf);
            let fsync = self.fsync;
            let (root, id, created_before) = (self.root.clone(), self.id.clone(), self.created_shard);
            // One blocking call: (creating the file,) the last chunk, the fsync of the file, of
            // the shard directory that holds its new name, and of the root when this writer
            // created the shard: metadata may only name a file whose name is durable too.
            // On error `self` drops and removes a new blob.
            blocking(move || {
                let w = write_chunk(file, &root, &id, data, None);
                w.result?;
                let file = w.file.ok_or_else(|| io::Error::other("blob file missing"))?;
                if fsync {
                    file.sync_data()?;
                    sync_dir(&root.join(&id.0[..2]))?;
                    if created_before || w.created_shard {
                        sync_dir(&root)?;
                    }
                }
                Ok(())
            })
            .await?;
            self.remove_on_drop = false;
            Ok(self.written)
        })
    }
}

impl Drop for LocalBlobWriter {
    fn drop(&mut self) {
        if self.remove_on_drop {
            // Best effort; a chunk still in flight keeps writing to the unlinked inode, which
            // goes away when that thread closes it. Leftovers are caught by the orphan sweep.
            if let Err(e) = std::fs::remove_file(&self.path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %self.path.display(), error = %e, "removing unfinished blob");
            }
        }
    }
}
