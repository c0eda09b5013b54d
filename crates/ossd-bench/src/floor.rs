//! The floor: the least an object server over files can do. No auth, no metadata, no checksums.
//! `PUT /bucket/key` streams the body into a file (256 KiB blocking writes, one in flight while
//! the next fills, like ossd's blob store), fsyncs it when durable, and renames it into place;
//! `GET` streams the file back; `PUT /bucket` answers 200. Runs as its own process
//! (`ossd-bench floor`) so its memory and CPU are measured like any other server's.
//!
//! Also here: the callback receiver, which answers every request at once.

use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

const CHUNK: usize = 256 * 1024;

type Body = BoxBody<Bytes, io::Error>;

fn full(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    r
}

struct Floor {
    dir: PathBuf,
    fsync: bool,
    seq: AtomicU64,
}

/// `ossd-bench floor`: serve until killed, after printing `floor listening on http://ADDR`.
pub fn serve(listen: std::net::SocketAddr, dir: PathBuf, fsync: bool) -> Result<(), String> {
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen).await.map_err(|e| format!("bind {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("floor listening on http://{addr}");
        let _ = io::stdout().flush();
        let floor = Arc::new(Floor { dir, fsync, seq: AtomicU64::new(0) });
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

fn file_name(path: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?;
    let (bucket, key) = rest.split_once('/')?;
    if key.is_empty() {
        return None;
    }
    Some(format!("{}.{}", hex::encode(bucket), hex::encode(key)))
}

async fn handle(floor: &Floor, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let Some(name) = file_name(&path) else {
        // Bucket-level requests (create bucket) succeed and do nothing.
        return full(StatusCode::OK, "");
    };
    let target = floor.dir.join(name);
    match *req.method() {
        http::Method::PUT => match put(floor, &target, req.into_body()).await {
            Ok(()) => full(StatusCode::OK, ""),
            Err(e) => {
                eprintln!("floor: PUT {path}: {e}");
                full(StatusCode::INTERNAL_SERVER_ERROR, "write failed")
            }
        },
        http::Method::GET => match tokio::fs::File::open(&target).await {
            Ok(file) => {
                let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
                let reader = tokio::io::BufReader::with_capacity(CHUNK, file);
                let stream = tokio_util::io::ReaderStream::with_capacity(reader, CHUNK).map_ok(Frame::data);
                let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
                r.headers_mut().insert(http::header::CONTENT_LENGTH, len.into());
                r
            }
            Err(_) => full(StatusCode::NOT_FOUND, "no such key"),
        },
        _ => full(StatusCode::METHOD_NOT_ALLOWED, ""),
    }
}

async fn put(floor: &Floor, target: &Path, mut body: Incoming) -> io::Result<()> {
    let tmp = floor.dir.join(format!(".tmp.{}", floor.seq.fetch_add(1, Ordering::Relaxed)));
    let tmp2 = tmp.clone();
    let mut file = Some(tokio::task::spawn_blocking(move || std::fs::File::create(tmp2)).await??);
    let mut pending: Option<tokio::task::JoinHandle<io::Result<std::fs::File>>> = None;
    let mut buf = BytesMut::with_capacity(CHUNK);
    let write_chunk = |file: std::fs::File, chunk: Bytes| {
        tokio::task::spawn_blocking(move || {
            let mut file = file;
            file.write_all(&chunk)?;
            Ok(file)
        })
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(io::Error::other)?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() >= CHUNK {
                let chunk = buf.split().freeze();
                let f = match pending.take() {
                    Some(h) => h.await??,
                    None => file.take().expect("file held when nothing is pending"),
                };
                pending = Some(write_chunk(f, chunk));
            }
        }
    }
    let f = match pending.take() {
        Some(h) => h.await??,
        None => file.take().expect("file held when nothing is pending"),
    };
    let chunk = buf.split().freeze();
    let fsync = floor.fsync;
    let target = target.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut f = f;
        f.write_all(&chunk)?;
        if fsync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &target)
    })
    .await?
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
