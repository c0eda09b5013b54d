//! Upload callbacks, wired into the uploads: PutObject, PostObject and CompleteMultipartUpload
//! validate the parameters before storing, publish the object together with a `pending` log
//! entry, deliver, record the outcome, and answer 200 with the receiver's JSON or 203
//! `CallbackFailed` (callback.md §4). No store lock is held while a callback is in flight.

use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use ossd_callback::deliver::{Deliverer, Delivery, Outcome};
use ossd_callback::oss_mode::{self, CallbackMode};
use ossd_callback::render::{self, SystemVars};
use ossd_callback::spec::{CallbackConfig, CallbackParams, CallbackSpec, CallbackVars};
use ossd_proto::OssError;
use ossd_proto::timefmt::now_ms;
use ossd_store::{BucketRecord, CallbackLogEntry, ObjectRecord};
use tokio::io::AsyncReadExt;

/// The callback machinery a server runs with.
pub struct CallbackRuntime {
    pub deliverer: Deliverer,
    /// PEM served at [`crate::service::CALLBACK_PUBLIC_KEY_PATH`] (and, for Host
    /// `gosspublic.alicdn.com`, at [`crate::service::ALIYUN_PUBLIC_KEY_PATH`]).
    pub public_key_pem: String,
    /// `--callback-mode`: with `oss`, destinations real OSS refuses are refused up front.
    pub mode: CallbackMode,
}

/// Validated callback parameters of one upload.
pub struct PendingCallback {
    pub spec: CallbackSpec,
    pub vars: CallbackVars,
    /// The base64 `callback` parameter the callback was built from (the bucket policy's when
    /// the upload named one), kept in the log for replay.
    pub param: String,
}

/// Callback parameters from headers or a presigned URL's query (exactly one carrier).
/// `Ok(None)`: no callback (none given, or `callbackUrl` empty).
pub async fn from_request(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
) -> Result<Option<PendingCallback>, OssError> {
    let Some(params) = CallbackParams::from_request(&ctx.headers, &ctx.query.0)? else { return Ok(None) };
    let (config, vars) = params.decode()?;
    resolve(state, bucket, config, params.callback, vars).await
}

/// Callback parameters from PostObject form fields (`callback`, `x:*`, `callback-var`).
pub async fn from_form(
    state: &AppState,
    bucket: &BucketRecord,
    fields: &[(String, String)],
) -> Result<Option<PendingCallback>, OssError> {
    let Some(param) = fields.iter().find(|(k, _)| k == "callback").map(|(_, v)| v.clone()) else {
        return Ok(None);
    };
    let config = CallbackConfig::decode(&param)?;
    let vars = CallbackVars::from_form_fields(fields)?;
    resolve(state, bucket, config, param, vars).await
}

/// Turns a decoded parameter into the callback to deliver: a `callbackPolicy` is looked up on
/// the bucket (its `callback-var` first, the upload's own variables over it), and with
/// `--callback-mode oss` the destinations are judged as OSS would.
async fn resolve(
    state: &AppState,
    bucket: &BucketRecord,
    config: CallbackConfig,
    param: String,
    vars: CallbackVars,
) -> Result<Option<PendingCallback>, OssError> {
    let pending = match config {
        CallbackConfig::NotConfigured => return Ok(None),
        CallbackConfig::Spec(spec) => PendingCallback { spec, vars, param },
        CallbackConfig::Policy(name) => {
            let policies = crate::handlers::callback_policy::stored(bucket).unwrap_or_default();
            let Some(item) = policies.get(&name) else {
                return Err(OssError::invalid_argument(format!(
                    "The callback policy {name:?} does not exist on this bucket."
                ))
                .with("ArgumentName", "callbackPolicy")
                .with("ArgumentValue", name));
            };
            let mut spec = CallbackSpec::decode(&item.callback)?;
            spec.policy = Some(name.clone());
            let mut merged = if item.callback_var.is_empty() {
                CallbackVars::default()
            } else {
                CallbackVars::decode(&item.callback_var)?
            };
            for (k, v) in vars.0 {
                merged.set(k, v);
            }
            PendingCallback { spec, vars: merged, param: item.callback.clone() }
        }
    };
    if state.callbacks.as_ref().is_some_and(|rt| rt.mode == CallbackMode::Oss) {
        oss_mode::check(&pending.spec).await?;
    }
    Ok(Some(pending))
}

/// Bytes read from the object's start to find image dimensions (JPEG headers may sit behind
/// large EXIF blocks).
const IMAGE_PROBE_BYTES: u64 = 256 * 1024;

async fn probe_image(state: &AppState, o: &ObjectRecord) -> Option<render::ImageInfo> {
    let first = o.segments.first()?;
    let mut reader = state.blobs.store().read(&first.blob, 0, first.len.min(IMAGE_PROBE_BYTES)).await.ok()?;
    let mut head = Vec::new();
    reader.read_to_end(&mut head).await.ok()?;
    render::probe_image(&head)
}

/// Renders the body and the `pending` log entry that is committed with the object.
pub async fn prepare_entry(
    state: &AppState,
    ctx: &RequestContext,
    pending: &PendingCallback,
    o: &ObjectRecord,
    operation: &str,
) -> CallbackLogEntry {
    let image = if pending.spec.body.contains("imageInfo") { probe_image(state, o).await } else { None };
    let sys = SystemVars {
        bucket: o.bucket.clone(),
        object: o.key.clone(),
        etag: o.etag.clone(),
        size: o.size,
        mime_type: o.content_type.clone(),
        image,
        crc64: o.crc64,
        content_md5: o.content_md5.clone(),
        vpc_id: String::new(),
        client_ip: ctx.client_ip.to_string(),
        req_id: ctx.request_id.clone(),
        operation: operation.to_string(),
    };
    let body = render::render(&pending.spec, &sys, &pending.vars);
    CallbackLogEntry {
        request_id: ctx.request_id.clone(),
        bucket: o.bucket.clone(),
        object: o.key.clone(),
        operation: operation.to_string(),
        created_ms: now_ms(),
        outcome: "pending".to_string(),
        callback_param: pending.param.clone(),
        body,
        attempts_json: "[]".to_string(),
        message: String::new(),
        finished_ms: 0,
        key_url: state.callbacks.as_ref().map(|rt| rt.deliverer.config().public_key_url.clone()).unwrap_or_default(),
    }
}

/// Records a delivery's outcome in the log entry.
pub fn record_outcome(entry: &mut CallbackLogEntry, delivery: &Delivery) {
    entry.attempts_json = serde_json::to_string(&delivery.attempts).unwrap_or_else(|_| "[]".into());
    entry.finished_ms = now_ms();
    match &delivery.outcome {
        Outcome::Answered(body) => {
            entry.outcome = "200".into();
            entry.message = format!("receiver answered 200 with {} bytes of JSON", body.len());
        }
        Outcome::Failed { message, .. } => {
            entry.outcome = "203".into();
            entry.message = message.clone();
        }
    }
}

/// Delivers the callback of a published object and builds the uploader's answer.
pub async fn deliver_and_answer(
    state: &AppState,
    pending: &PendingCallback,
    mut entry: CallbackLogEntry,
    o: &ObjectRecord,
    ctx: &RequestContext,
) -> Response<Body> {
    // The body moves into the delivery (shared by its attempts) and back into the entry
    // afterwards; `Vec::from(Bytes)` reuses the allocation once the delivery has dropped its
    // handles, so the rendered body is not copied.
    let body = bytes::Bytes::from(std::mem::take(&mut entry.body));
    let delivery = match &state.callbacks {
        Some(rt) => rt.deliverer.deliver(&pending.spec, body.clone(), &ctx.request_id).await,
        None => Delivery {
            attempts: Vec::new(),
            outcome: Outcome::Failed {
                message: "Callbacks are not configured on this server.".into(),
                ec: ossd_callback::deliver::EC_STATUS,
            },
        },
    };
    entry.body = Vec::from(body);
    state.metrics.callback_delivered(&delivery);
    record_outcome(&mut entry, &delivery);
    // Queued: the uploader's answer does not wait for the log (SQLite folds the outcome into
    // its next commit).
    if let Err(e) = state.meta.finish_callback_queued(&entry).await {
        tracing::warn!(request_id = %ctx.request_id, error = %e, "could not record the callback outcome");
    }
    let mut r = match (&delivery.outcome, delivery.failure_error()) {
        (Outcome::Answered(body), _) => {
            let mut r = Response::new(response::full(body.clone()));
            response::set(&mut r, "content-type", "application/json");
            r
        }
        (_, Some(err)) => response::error(&err, &ctx.request_id, &ctx.host_id, false),
        (_, None) => response::status(203),
    };
    response::upload_headers(&mut r, o);
    r
}
