//! The console's JSON API: the callback log (list with filters, one entry, replay). Root
//! credentials only, authenticated by the ordinary OSS V1/V4 signature check (the path signs as
//! bucket `_ossd`, key `api/...`), so the console signs these calls like any other request.

use super::json;
use crate::response::Body;
use crate::state::AppState;
use http::request::Parts;
use http::{Method, Response};
use hyper::body::Incoming;
use ossd_callback::spec::CallbackSpec;
use ossd_proto::OssError;
use ossd_proto::auth::{self, SignedRequest};
use ossd_proto::query::Query;
use ossd_store::{CallbackFilter, CallbackLogEntry};
use serde_json::{Value, json};
use std::time::SystemTime;

const MAX_LIST: usize = 500;

pub async fn handle(
    state: &AppState,
    parts: &Parts,
    query: &Query,
    body: Incoming,
    path: &str,
) -> Result<Response<Body>, OssError> {
    drop(body);
    authenticate_root(state, parts, query, path)?;
    let rest = &path["api/".len()..];
    match (&parts.method, rest.split('/').collect::<Vec<_>>().as_slice()) {
        (&Method::GET, ["callbacks"]) => list(state, query).await,
        (&Method::GET, ["callbacks", id]) => {
            let e = entry(state, id).await?;
            Ok(json(200, &detail(&e, None)))
        }
        (&Method::POST, ["callbacks", id, "replay"]) => replay(state, id).await,
        _ => Err(super::not_found()),
    }
}

fn authenticate_root(state: &AppState, parts: &Parts, query: &Query, path: &str) -> Result<(), OssError> {
    let signed = SignedRequest {
        method: parts.method.as_str(),
        bucket: Some("_ossd"),
        key: Some(path),
        query: &query.0,
        headers: &parts.headers,
    };
    let identity = auth::authenticate(&signed, SystemTime::now(), &state.config.credentials)?;
    match identity {
        Some(id) if id.security_token.is_none() && id.access_key_id == state.config.credentials.access_key_id => Ok(()),
        Some(_) => Err(OssError::access_denied("The ossd API is for the root access key only.")),
        None => Err(OssError::access_denied("The ossd API needs a signed request.")),
    }
}

async fn entry(state: &AppState, id: &str) -> Result<CallbackLogEntry, OssError> {
    state
        .meta
        .get_callback(id)
        .await
        .map_err(crate::handlers::store_error)?
        .ok_or_else(|| OssError::new(404, "NoSuchCallback", format!("No callback delivery with request id {id}.")))
}

fn number(query: &Query, name: &str) -> Result<Option<i64>, OssError> {
    match query.non_empty(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| OssError::invalid_argument(format!("{name} must be a number."))),
    }
}

async fn list(state: &AppState, query: &Query) -> Result<Response<Body>, OssError> {
    let limit = number(query, "limit")?.unwrap_or(100).clamp(1, MAX_LIST as i64) as usize;
    let filter = CallbackFilter {
        bucket: query.non_empty("bucket").map(str::to_string),
        outcome: query.non_empty("outcome").map(str::to_string),
        since_ms: number(query, "since_ms")?,
        until_ms: number(query, "until_ms")?,
        limit,
    };
    let entries = state.meta.list_callbacks(&filter).await.map_err(crate::handlers::store_error)?;
    let items: Vec<Value> = entries.iter().map(summary).collect();
    Ok(json(200, &json!({ "entries": items })))
}

fn urls(e: &CallbackLogEntry) -> Vec<String> {
    CallbackSpec::decode(&e.callback_param).map(|s| s.urls.iter().map(|u| u.to_string()).collect()).unwrap_or_default()
}

fn summary(e: &CallbackLogEntry) -> Value {
    json!({
        "request_id": e.request_id,
        "bucket": e.bucket,
        "object": e.object,
        "operation": e.operation,
        "created_ms": e.created_ms,
        "finished_ms": e.finished_ms,
        "outcome": e.outcome,
        "message": e.message,
        "urls": urls(e),
    })
}

fn detail(e: &CallbackLogEntry, answer: Option<&[u8]>) -> Value {
    let attempts: Value = serde_json::from_str(&e.attempts_json).unwrap_or_else(|_| json!([]));
    let spec = CallbackSpec::decode(&e.callback_param).ok();
    let mut v = summary(e);
    v["attempts"] = attempts.clone();
    v["body"] = json!(String::from_utf8_lossy(&e.body));
    v["body_type"] = json!(spec.as_ref().map(|s| s.body_type.content_type()));
    v["key_url"] = json!(e.key_url);
    v["hints"] = json!(hints(e, &attempts));
    if let Some(a) = answer {
        v["answer"] = json!(String::from_utf8_lossy(a));
    }
    v
}

/// Plain-language explanations of a failed or stuck delivery.
fn hints(e: &CallbackLogEntry, attempts: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if e.outcome == "pending" {
        out.push("No outcome was recorded: the delivery is still running, or ossd stopped during it.".into());
    }
    for a in attempts.as_array().into_iter().flatten() {
        let url = a["url"].as_str().unwrap_or("?");
        let error = a["error"].as_str().unwrap_or("");
        match a["status"].as_u64() {
            Some(200) if error.is_empty() => {}
            Some(200) => out.push(format!("{url} answered 200 but the answer was refused: {error}")),
            Some(s) => out.push(format!("{url} answered {s}; OSS treats any status but 200 as a failed callback.")),
            None if error.contains("destination policy") => out.push(format!(
                "{url} is refused by the callback destination policy; allow it with --callback-allow if it is yours."
            )),
            None if error.contains("time") => out
                .push(format!("{url} did not answer in time (--callback-timeout-ms): is the receiver slow or stuck?")),
            None if !error.is_empty() => {
                out.push(format!("Nothing answered at {url}: is the receiver running and reachable from ossd?"))
            }
            None => {}
        }
    }
    out
}

async fn replay(state: &AppState, id: &str) -> Result<Response<Body>, OssError> {
    let mut e = entry(state, id).await?;
    let rt = state.callbacks.as_ref().ok_or_else(|| OssError::internal("Callbacks are not configured."))?;
    let spec = CallbackSpec::decode(&e.callback_param)?;
    let delivery = rt.deliverer.deliver(&spec, e.body.clone(), &e.request_id).await;
    state.metrics.callback_delivered(&delivery);
    crate::callbacks::record_outcome(&mut e, &delivery);
    state.meta.finish_callback(&e).await.map_err(crate::handlers::store_error)?;
    Ok(json(200, &detail(&e, delivery.answer().map(|b| b.as_ref()))))
}
