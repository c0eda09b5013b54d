//! Accepting connections: HTTP/1.1 on hyper (over TLS when configured), TCP_NODELAY, graceful
//! shutdown, and the connection
//! bounds of [`Limits`]: a cap on concurrent connections (excess ones wait in the accept
//! backlog), hyper's head-size and header-count limits, a header-read deadline and an idle
//! timeout. Both timeouts are kept here rather than by hyper, whose header-read timer also runs
//! while a keep-alive connection waits for its next request (it would cut every idle
//! connection at the header deadline).

use crate::limits::Limits;
use crate::service;
use crate::state::AppState;
use crate::tls::TlsFiles;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

/// Serves until `shutdown` resolves, then stops accepting and waits (up to 30 s) for in-flight
/// requests to finish. With `tls`, every connection starts with a TLS handshake.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<Arc<TlsFiles>>,
    shutdown: impl Future<Output = ()>,
) {
    let limits = state.config.limits;
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // One permit per open connection. Waiting for a permit *before* accepting leaves excess
    // connections in the kernel's backlog (they are served in order once others close) instead
    // of spending memory on them.
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Small responses must not wait for Nagle + delayed ACK.
        let _ = stream.set_nodelay(true);
        let (state, tls, watcher) = (state.clone(), tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(stream, state, peer, limits, watcher).await,
                Some(tls) => match tls.handshake(stream).await {
                    Ok(stream) => serve_connection(stream, state, peer, limits, watcher).await,
                    Err(e) => tracing::debug!(error = %e, peer = %peer, "TLS handshake failed"),
                },
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("in-flight requests did not finish within 30 s");
        }
    }
}

/// HTTP/1.1 on one accepted connection (plain TCP or TLS), under the connection bounds and
/// watched for graceful shutdown.
async fn serve_connection<S>(stream: S, state: Arc<AppState>, peer: SocketAddr, limits: Limits, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let in_flight = activity.clone();
    let svc = service_fn(move |req| {
        let state = state.clone();
        let guard = InFlight::enter(in_flight.clone());
        async move {
            let resp = service::handle(state, req, peer.ip()).await;
            // An answer that closes the connection may leave the request's body unread.
            if resp.headers().get(http::header::CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
            {
                guard.0.linger.store(true, Ordering::Relaxed);
            }
            drop(guard);
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let io = TokioIo::new(TrackedIo { inner: stream, activity: activity.clone(), linger: None });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .max_buf_size(limits.max_head_bytes.max(8192))
        .max_header_size(limits.max_head_bytes)
        .max_headers(limits.max_headers)
        .serve_connection(io, svc);
    let conn = watcher.watch(conn);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        why = activity.expired(limits.header_read_timeout, limits.idle_timeout) => {
            tracing::debug!(peer = %peer, why, "closing a connection");
        }
    }
}

/// When a connection last moved bytes, whether a request head is being received (and since
/// when), and how many of its requests are being handled.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    /// Since when the next request's head has been arriving; [`NO_HEAD`] between requests. A new
    /// connection starts at 0: one that never sends a complete head has the header deadline.
    head_since_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// An answer said `Connection: close`: close lingering (see [`Linger`]).
    linger: AtomicBool,
}

const NO_HEAD: u64 = u64::MAX;

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            head_since_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            linger: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Bytes arrived: between requests they are the start of the next head.
    fn read(&self) {
        let now = self.now_ms();
        self.last_ms.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let _ = self.head_since_ms.compare_exchange(NO_HEAD, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// Resolves, naming the reason, once no request is in flight and either a head has been
    /// arriving for longer than `header` or nothing has moved for `idle`. A request being
    /// handled is bounded by its own timeouts (body stall, callback), never by these.
    async fn expired(&self, header: Duration, idle: Duration) -> &'static str {
        let (header, idle) = (header.as_millis() as u64, idle.as_millis() as u64);
        loop {
            let now = self.now_ms();
            let wait = if self.in_flight.load(Ordering::Relaxed) > 0 {
                header.min(idle)
            } else {
                match self.head_since_ms.load(Ordering::Relaxed) {
                    NO_HEAD => {
                        let quiet = now.saturating_sub(self.last_ms.load(Ordering::Relaxed));
                        if quiet >= idle {
                            return "idle timeout";
                        }
                        idle - quiet
                    }
                    since => {
                        let taken = now.saturating_sub(since);
                        if taken >= header {
                            return "header read timeout";
                        }
                        header - taken
                    }
                }
            };
            tokio::time::sleep(Duration::from_millis(wait.max(50))).await;
        }
    }
}

/// Counts a request as in flight until dropped (also when its future is cancelled).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.head_since_ms.store(NO_HEAD, Ordering::Relaxed);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's stream (TCP or TLS), noting every read and write that moved bytes.
struct TrackedIo<S> {
    inner: S,
    activity: Arc<Activity>,
    /// Set once hyper closes the connection: the lingering close in progress.
    linger: Option<Linger>,
}

/// A lingering close (as Apache and nginx do it). An error may answer before the request's body
/// was read (a refused PostObject form, a failed precondition); closing a socket whose receive
/// buffer still holds unread bytes makes the kernel send a reset, and a client still writing its
/// body then gets EPIPE/ECONNRESET instead of reading the answer already sent. So the write side
/// is shut down first (the answer and a FIN go out), and what the client still sends is read and
/// discarded until it closes, for at most [`LINGER_TIME`] and [`LINGER_MAX_BYTES`].
struct Linger {
    deadline: Pin<Box<tokio::time::Sleep>>,
    drained: usize,
    scratch: Box<[u8]>,
}

const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_MAX_BYTES: usize = 16 << 20;

impl<S: AsyncRead + Unpin> AsyncRead for TrackedIo<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        r
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TrackedIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.linger.is_none() {
            std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            if !this.activity.linger.load(Ordering::Relaxed) {
                return Poll::Ready(Ok(()));
            }
            this.linger = Some(Linger {
                deadline: Box::pin(tokio::time::sleep(LINGER_TIME)),
                drained: 0,
                scratch: vec![0; 16 * 1024].into_boxed_slice(),
            });
        }
        let Some(linger) = this.linger.as_mut() else { return Poll::Ready(Ok(())) };
        while linger.drained < LINGER_MAX_BYTES && linger.deadline.as_mut().poll(cx).is_pending() {
            let mut buf = ReadBuf::new(&mut linger.scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => linger.drained += buf.filled().len(),
                // The client closed (or the connection failed): nothing left to wait for.
                Poll::Ready(_) => break,
            }
        }
        Poll::Ready(Ok(()))
    }
}
