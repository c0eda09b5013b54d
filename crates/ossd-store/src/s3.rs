//! `S3BlobStore`: blobs as objects of an S3-compatible store (SeaweedFS, Garage, Ceph RGW,
//! MinIO, OSS itself), one backend object per blob under a prefix, through `object_store`.
//!
//! Writes go through `object_store`'s `BufWriter`: a small blob is one PUT, a large one a
//! multipart upload whose parts are sent as they fill, so memory stays bounded by the part size
//! whatever the blob's size. Reads are ranged GETs streamed to the client. Multipart completion
//! in ossd stays metadata-only: each uploaded part is already its own blob.

use crate::blob::{BlobId, BlobReader, BlobStore, BlobWriter, BoxFuture};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

/// Bytes buffered before a blob becomes a multipart upload (and the size of each part).
const PART_BYTES: usize = 8 * 1024 * 1024;

pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

fn backend(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e.to_string()),
        e => io::Error::other(e.to_string()),
    }
}

/// Credentials for the S3 store given in ossd's configuration. `Debug` hides the secret.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// Opens `s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION]`. Credentials come from the
    /// usual environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, ...) or, when the
    /// environment has none, from `config` (ossd's `[s3]` table).
    pub fn open(url: &str, config: Option<&S3Credentials>) -> Result<Self, String> {
        let rest = url.strip_prefix("s3://").ok_or("a blob store URL starts with s3://")?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err("the s3:// URL names no bucket".into());
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(c) = config
            && std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
        {
            builder = builder.with_access_key_id(&c.access_key_id).with_secret_access_key(&c.secret_access_key);
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            builder = match k {
                "endpoint" => builder.with_allow_http(v.starts_with("http://")).with_endpoint(v),
                "region" => builder.with_region(v),
                "virtual_hosted" => builder.with_virtual_hosted_style_request(v == "true"),
                other => return Err(format!("unknown s3:// URL parameter {other}")),
            };
        }
        let store: AmazonS3 = builder.build().map_err(|e| format!("cannot open the S3 blob store: {e}"))?;
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { "blobs".to_string() } else { format!("{prefix}/blobs") };
        Ok(S3BlobStore { store: Arc::new(store), prefix })
    }

    fn path_of(&self, id: &BlobId) -> io::Result<Path> {
        crate::blob::validate_id(id)?;
        Ok(Path::from(format!("{}/{}", self.prefix, id.0)))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len() + 1
            && let Some(b) =
                bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct S3Writer {
    id: BlobId,
    inner: BufWriter,
    written: u64,
}

impl AsyncWrite for S3Writer {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.written += n as u64;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl BlobWriter for S3Writer {
    fn id(&self) -> &BlobId {
        &self.id
    }

    /// Completes the PUT or the multipart upload: the blob exists once this returns.
    fn finish(mut self: Box<Self>) -> BoxFuture<'static, io::Result<u64>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            self.inner.shutdown().await?;
            Ok(self.written)
        })
    }
}

impl BlobStore for S3BlobStore {
    fn create(&self, id: &BlobId) -> BoxFuture<'_, io::Result<Box<dyn BlobWriter>>> {
        let made = self.path_of(id).map(|path| {
            let inner = BufWriter::with_capacity(self.store.clone(), path, PART_BYTES);
            Box::new(S3Writer { id: id.clone(), inner, written: 0 }) as Box<dyn BlobWriter>
        });
        Box::pin(async move { made })
    }

    fn read(&self, id: &BlobId, offset: u64, len: u64) -> BoxFuture<'_, io::Result<BlobReader>> {
        let path = self.path_of(id);
        let name = id.0.clone();
        Box::pin(async move {
            let path = path?;
            if len == 0 {
                return Ok(Box::pin(std::io::Cursor::new(Vec::new())) as BlobReader);
            }
            let opts = GetOptions { range: Some(GetRange::Bounded(offset..offset + len)), ..Default::default() };
            let got = self.store.get_opts(&path, opts).await.map_err(backend)?;
            if got.range.end - got.range.start != len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("blob {name} holds {} bytes, range {offset}+{len} is past its end", got.meta.size),
                ));
            }
            let stream = got.into_stream().map_err(backend).boxed();
            Ok(Box::pin(tokio_util::io::StreamReader::new(stream)) as BlobReader)
        })
    }

    fn delete(&self, id: &BlobId) -> BoxFuture<'_, io::Result<()>> {
        let path = self.path_of(id);
        Box::pin(async move {
            match self.store.delete(&path?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(backend(e)),
            }
        })
    }

    fn list(&self, idle_for: std::time::Duration) -> BoxFuture<'_, io::Result<Vec<BlobId>>> {
        Box::pin(async move {
            let prefix = Path::from(self.prefix.as_str());
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let cutoff_ms = now_ms.saturating_sub(i64::try_from(idle_for.as_millis()).unwrap_or(i64::MAX));
            let mut out = Vec::new();
            let mut listing = self.store.list(Some(&prefix));
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(backend)?;
                let Some(name) = meta.location.filename() else { continue };
                let id = BlobId(name.to_string());
                if crate::blob::validate_id(&id).is_ok()
                    && (idle_for.is_zero() || meta.last_modified.timestamp_millis() <= cutoff_ms)
                {
                    out.push(id);
                }
            }
            out.sort();
            Ok(out)
        })
    }

    fn len(&self, id: &BlobId) -> BoxFuture<'_, io::Result<Option<u64>>> {
        let path = self.path_of(id);
        Box::pin(async move {
            match self.store.head(&path?).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(backend(e)),
            }
        })
    }
}
