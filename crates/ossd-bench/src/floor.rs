//! The floor: the least an object server over files can do with ossd's durability. `PUT
//! /bucket/key` streams the body into a new blob of ossd's own [`LocalBlobStore`] (so the same
//! sharded directories `<2 hex>/<id>`, the same double-buffered 256 KiB blocking writes, and at
//! `fsync` the same fsync of the file and of its directory entry), then swaps the key's entry
//! in an in-memory map and deletes the blob it replaced; `GET` streams the blob back through
//! the same reader (one blocking read for small blobs). No auth, no metadata store, no
//! checksums; with `--hash` (the `floor-md5` target) it also computes MD5 and CRC-64 of each
//! body, as OSS's ETag and `x-oss-hash-crc64ecma` require, with ossd's own `BodyHasher` (MD5
//! and CRC-64 on two blocking threads beside the writes for bodies of 1 MiB and more). A
//! replaced blob is deleted after the answer, as ossd does. `PUT /bucket` answers 200. Runs as its own process
//! (`ossd-bench floor`) so its memory and CPU are measured like any other server's.
//!
//! ossd ÷ floor is thus what ossd's protocol, auth and metadata cost over its own blob path.
//!
//! Also here: the callback receiver, which answers every request at once.

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ossd_server::body::BodyHasher;
use ossd_store::{BlobId, BlobStore as _, LocalBlobStore};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;

const CHUNK: usize = 256 * 1024;

type Body = UnsyncBoxBody<Bytes, io::Error>;

fn full(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r =
        Response::new(Full::new(Bytes::from_static(body.as_bytes())).map_err(|never| match never {}).boxed_unsync());
    *r.status_mut() = status;
    r
}

struct Floor {
    blobs: Arc<LocalBlobStore>,
    /// `/bucket/key` to its blob and length: the least "metadata" that finds an object again.
    objects: Mutex<HashMap<String, (BlobId, u64)>>,
    hash: bool,
}

/// `ossd-bench floor`: serve until killed, after printing `floor listening on http://ADDR`.
pub fn serve(listen: std::net::SocketAddr, dir: PathBuf, fsync: bool, hash: bool) -> Result<(), String> {
    let blobs = LocalBlobStore::open(dir.clone(), fsync).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen).await.map_err(|e| format!("bind {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("floor listening on http://{addr}");
        let _ = io::stdout().flush();
        let floor = Arc::new(Floor { blobs: Arc::new(blobs), objects: Mutex::new(HashMap::new()), hash });
        loop {
            let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
            stream.set_nodelay(true).ok();
            let floor = floor.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let floor = floor.clone();
                    async move { Ok::<_, io::Error>(handle(&floor, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    })
}

fn object_name(path: &str) -> Option<&str> {
    let (_bucket, key) = path.strip_prefix('/')?.split_once('/')?;
    (!key.is_empty()).then_some(path)
}

async fn handle(floor: &Floor, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let Some(name) = object_name(&path) else {
        // Bucket-level requests (create bucket) succeed and do nothing.
        return full(StatusCode::OK, "");
    };
    match *req.method() {
        http::Method::PUT => {
            let size_hint = req
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            match put(floor, name, req.into_body(), size_hint).await {
                Ok(()) => full(StatusCode::OK, ""),
                Err(e) => {
                    eprintln!("floor: PUT {path}: {e}");
                    full(StatusCode::INTERNAL_SERVER_ERROR, "write failed")
                }
            }
        }
        http::Method::GET => {
            let found = floor.objects.lock().expect("floor map").get(name).cloned();
            let Some((id, len)) = found else { return full(StatusCode::NOT_FOUND, "no such key") };
            match floor.blobs.read(&id, 0, len).await {
                Ok(reader) => {
                    let stream = tokio_util::io::ReaderStream::with_capacity(reader, CHUNK).map_ok(Frame::data);
                    let mut r = Response::new(BodyExt::boxed_unsync(StreamBody::new(stream)));
                    r.headers_mut().insert(http::header::CONTENT_LENGTH, len.into());
                    r
                }
                // Overwritten (and its blob deleted) between the lookup and the open.
                Err(_) => full(StatusCode::NOT_FOUND, "no such key"),
            }
        }
        http::Method::DELETE => {
            let removed = floor.objects.lock().expect("floor map").remove(name);
            if let Some((id, _)) = removed
                && let Err(e) = floor.blobs.delete(&id).await
            {
                eprintln!("floor: DELETE {path}: {e}");
            }
            full(StatusCode::NO_CONTENT, "")
        }
        _ => full(StatusCode::METHOD_NOT_ALLOWED, ""),
    }
}

async fn put(floor: &Floor, name: &str, mut body: Incoming, size_hint: Option<u64>) -> io::Result<()> {
    let id = BlobId::random();
    let mut writer = floor.blobs.create(&id).await?;
    let mut hasher = floor.hash.then(|| BodyHasher::new(size_hint));
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(io::Error::other)?;
        if let Ok(data) = frame.into_data() {
            len += data.len() as u64;
            if let Some(h) = &mut hasher {
                h.update(&data).await.map_err(|e| io::Error::other(e.to_string()))?;
            }
            writer.write_all(&data).await?;
        }
    }
    writer.finish().await?;
    if let Some(h) = hasher {
        std::hint::black_box(h.finish().await.map_err(|e| io::Error::other(e.to_string()))?);
    }
    let replaced = floor.objects.lock().expect("floor map").insert(name.to_string(), (id, len));
    if let Some((old, _)) = replaced {
        // After the answer, as ossd's blob lifecycle does: unlinking a 256 MiB file takes
        // milliseconds that an upload does not wait for.
        let blobs = floor.blobs.clone();
        tokio::spawn(async move {
            if let Err(e) = blobs.delete(&old).await {
                eprintln!("floor: deleting a replaced blob: {e}");
            }
        });
    }
    Ok(())
}

/// The callback receiver: answers every request with `{"Status":"OK"}` at once. Returns its
/// address and a counter of requests received.
pub async fn start_callback_receiver() -> io::Result<(std::net::SocketAddr, Arc<AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { break };
            stream.set_nodelay(true).ok();
            let counter = counter.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let counter = counter.clone();
                    async move {
                        let _ = req.into_body().collect().await;
                        counter.fetch_add(1, Ordering::Relaxed);
                        let mut r = Response::new(Full::new(Bytes::from_static(br#"{"Status":"OK"}"#)));
                        r.headers_mut().insert(http::header::CONTENT_TYPE, "application/json".parse().expect("valid"));
                        Ok::<_, io::Error>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Ok((addr, hits))
}
