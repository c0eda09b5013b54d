//! ossd's own endpoints under `/_ossd/` (no bucket name can start with `_`, so none collides):
//! health (`health/live`, `health/ready`, no authentication), Prometheus metrics (`metrics`,
//! optionally behind a bearer token), the web console (`console/`, static files) and the JSON
//! API the console uses (`api/`, root credentials only).

mod admin_api;
mod console;
mod health;

use crate::access_log::RequestInfo;
use crate::response::{self, Body};
use crate::state::AppState;
use http::request::Parts;
use http::{Method, Response};
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::query::Query;

pub const PREFIX: &str = "/_ossd/";

/// The version reported by `ossd --version` and the health endpoints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn handle(
    state: &AppState,
    parts: &Parts,
    query: &Query,
    body: Incoming,
    info: &mut RequestInfo,
) -> Result<Response<Body>, OssError> {
    // Decoded like an object key (the API path is signed as one).
    let rest = percent_encoding::percent_decode_str(&parts.uri.path()[PREFIX.len()..])
        .decode_utf8()
        .map_err(|_| OssError::invalid_argument("The path is not UTF-8."))?;
    let rest = rest.as_ref();
    let read = parts.method == Method::GET || parts.method == Method::HEAD;
    match rest {
        "health/live" if read => {
            info.operation = "HealthLive";
            Ok(health::live())
        }
        "health/ready" if read => {
            info.operation = "HealthReady";
            Ok(health::ready(state).await)
        }
        "metrics" if read => {
            info.operation = "Metrics";
            metrics(state, parts)
        }
        "console" if read => {
            info.operation = "Console";
            let mut r = response::status(308);
            response::set(&mut r, "location", "/_ossd/console/");
            Ok(r)
        }
        _ if read && rest.starts_with("console/") => {
            info.operation = "Console";
            console::asset(&rest["console/".len()..])
        }
        _ if rest.starts_with("api/") => {
            info.operation = "ConsoleApi";
            admin_api::handle(state, parts, query, body, rest).await
        }
        _ => Err(not_found()),
    }
}

fn not_found() -> OssError {
    OssError::new(404, "NotFound", "No such ossd endpoint.")
}

fn metrics(state: &AppState, parts: &Parts) -> Result<Response<Body>, OssError> {
    if let Some(token) = &state.ops.metrics_token {
        let given = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        use subtle::ConstantTimeEq;
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            let mut r = response::status(401);
            response::set(&mut r, "www-authenticate", "Bearer realm=\"ossd metrics\"");
            return Ok(r);
        }
    }
    let mut r = Response::new(response::full(state.metrics.encode()));
    response::set(&mut r, "content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8");
    response::set(&mut r, "cache-control", "no-store");
    Ok(r)
}

/// A JSON answer.
fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(response::full(value.to_string()));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    response::set(&mut r, "content-type", "application/json");
    response::set(&mut r, "cache-control", "no-store");
    r
}
