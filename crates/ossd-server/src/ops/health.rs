//! `health/live` (the process answers) and `health/ready` (it can do its work: the metadata
//! store answers and writes, the blob store writes, the keys are loaded). Both are cheap enough
//! to poll every second: ready costs one small metadata transaction and one tiny blob.

use super::{VERSION, json};
use crate::response::Body;
use crate::state::AppState;
use http::Response;
use serde_json::json;
use tokio::io::AsyncWriteExt;

pub fn live() -> Response<Body> {
    json(200, &json!({"status": "live", "server": "ossd", "version": VERSION}))
}

pub async fn ready(state: &AppState) -> Response<Body> {
    let now = ossd_proto::timefmt::now_ms();
    // A worker lease is the cheapest write the store has; it expires at once (1 ms), so every
    // node sharing the store takes it in turn.
    let metadata = match state.meta.acquire_worker("ready-probe", &state.ops.node_id, now, 1).await {
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    let blobs = probe_blob_store(state).await;
    let keys = if state.callbacks.is_some() { Ok(()) } else { Err("callback signing key not loaded".to_string()) };
    let checks = [("metadata", &metadata), ("blobs", &blobs), ("keys", &keys)];
    let ok = checks.iter().all(|(_, r)| r.is_ok());
    let detail: serde_json::Map<String, serde_json::Value> = checks
        .iter()
        .map(|(name, r)| (name.to_string(), json!(r.as_ref().map(|_| "ok").unwrap_or_else(|e| e.as_str()))))
        .collect();
    if !ok {
        tracing::warn!(checks = ?detail, "not ready");
    }
    let status = if ok { "ready" } else { "not ready" };
    json(if ok { 200 } else { 503 }, &json!({"status": status, "server": "ossd", "version": VERSION, "checks": detail}))
}

/// Writes and removes a tiny blob. It is registered as in flight like any upload, so the orphan
/// sweep leaves it alone; it is never published, so no reader can name it and it is deleted
/// directly rather than through reclaim (which would count it as reclaimed space).
async fn probe_blob_store(state: &AppState) -> Result<(), String> {
    let mut blob = state.blobs.create().await.map_err(|e| format!("cannot create a blob: {e}"))?;
    let id = blob.writer.id().clone();
    let written = async {
        blob.writer.write_all(b"ready").await?;
        blob.writer.finish().await
    }
    .await;
    let removed = state.blob_store().delete(&id).await;
    drop(blob.lease);
    written.map_err(|e| format!("cannot write a blob: {e}"))?;
    removed.map_err(|e| format!("cannot remove a blob: {e}"))
}
