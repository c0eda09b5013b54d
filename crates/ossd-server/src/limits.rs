//! Bounds that hold whatever a client sends: connection counts, how long a connection may sit
//! idle or dribble its headers, how long a body may stall, and how large the parts of a request
//! that are held in memory may grow.

use bytes::Bytes;
use futures_util::Stream;
use http_body::Body as _;
use hyper::body::Incoming;
use ossd_proto::OssError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Connection and body limits, set by `ossd serve` flags. The defaults are far above what a
/// browser (6 connections per host), the SDKs' resumable uploads (a few parallel parts, each
/// sent without pauses) or the benchmark at c=64 use, and far below what exhausts a machine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; further ones wait in the kernel's accept backlog.
    pub max_connections: usize,
    /// From the first byte of a request's head to its end (slowloris on headers).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes moving is closed after this.
    pub idle_timeout: Duration,
    /// A request body that delivers no bytes for this long is abandoned (its blob removed).
    pub body_stall_timeout: Duration,
    /// Bytes of a request head (request line and headers) hyper buffers at most.
    pub max_head_bytes: usize,
    /// Header fields per request.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(30),
            // Longer than the SDKs' pooled-connection idle times (urllib3 keeps sockets until the
            // server closes them, agentkeepalive frees them after 15 s), so a client rarely
            // reuses a connection the server is closing.
            idle_timeout: Duration::from_secs(75),
            body_stall_timeout: Duration::from_secs(60),
            max_head_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// The answer to a body that stalled or broke off (OSS's wording).
pub fn request_timeout(detail: impl std::fmt::Display) -> OssError {
    OssError::new(
        400,
        "RequestTimeout",
        format!(
            "Your socket connection to the server was not read from or written to within the timeout period: {detail}"
        ),
    )
}

/// A request body as a stream of data chunks that fails with `RequestTimeout` when no chunk
/// arrives within `stall` (trailers are skipped).
pub struct StallGuarded {
    body: Incoming,
    stall: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl StallGuarded {
    pub fn new(body: Incoming, stall: Duration) -> StallGuarded {
        StallGuarded { body, stall, timer: Box::pin(tokio::time::sleep(stall)) }
    }
}

impl Stream for StallGuarded {
    type Item = Result<Bytes, OssError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let deadline = tokio::time::Instant::now() + self.stall;
                    self.timer.as_mut().reset(deadline);
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(request_timeout(e)))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    return match self.timer.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            Poll::Ready(Some(Err(request_timeout(format!("no data for {:?}", self.stall)))))
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }
}
