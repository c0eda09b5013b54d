//! One access-log line and one metrics update per request.
//!
//! The line names the request, never its credentials: no query string (presigned URLs carry
//! signatures and security tokens there), no headers, no key secret.

use crate::response::Body;
use crate::state::AppState;
use http::Response;
use http_body::Body as _;
use std::net::IpAddr;
use std::time::Instant;

/// What is known about a request for its log line and metrics (routing fills in the rest).
pub struct RequestInfo {
    /// The operation's name (an OSS action such as `PutObject`, or one of ossd's own endpoints);
    /// `Unrouted` when the request failed before routing decided.
    pub operation: &'static str,
    pub bucket: Option<String>,
    started: Instant,
    /// Request body bytes, as declared.
    received: u64,
}

impl RequestInfo {
    pub fn start(headers: &http::HeaderMap) -> RequestInfo {
        RequestInfo { operation: "Unrouted", bucket: None, started: Instant::now(), received: declared_length(headers) }
    }
}

/// Bytes a message declares (`Content-Length`), 0 when it declares none.
pub fn declared_length(headers: &http::HeaderMap) -> u64 {
    headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Response body bytes: the body's exact size when known, else its declared length (streamed
/// object bodies). A HEAD answer sends none.
fn sent_length(resp: &Response<Body>) -> u64 {
    resp.body().size_hint().exact().unwrap_or_else(|| declared_length(resp.headers()))
}

/// Records the request: metrics, then the access-log line (target `ossd::access`, so that
/// `--log info,ossd::access=off` silences it alone). Latency is measured to the response head.
pub fn finish(
    state: &AppState,
    info: &RequestInfo,
    request_id: &str,
    method: &http::Method,
    client_ip: IpAddr,
    resp: &Response<Body>,
) {
    let (took, received) = (info.started.elapsed(), info.received);
    let status = resp.status().as_u16();
    let sent = sent_length(resp);
    state.metrics.finish_request(info.operation, status, received, sent, took);
    tracing::info!(
        target: "ossd::access",
        request_id,
        method = method.as_str(),
        operation = info.operation,
        bucket = info.bucket.as_deref().unwrap_or("-"),
        status,
        received,
        sent,
        duration_ms = took.as_secs_f64() * 1000.0,
        client_ip = %client_ip,
        "request"
    );
}
