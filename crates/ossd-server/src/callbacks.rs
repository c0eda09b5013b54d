//! Upload callbacks, wired into the uploads: PutObject, PostObject and CompleteMultipartUpload
//! validate the parameters before storing, publish the object together with a `pending` log
//! entry, deliver, record the outcome, and answer 200 with the receiver's JSON or 203
//! `CallbackFailed` (callback.md §4). No store lock is held while a callback is in flight.

use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use ossd_callback::deliver::{Deliverer, Delivery, Outcome};
use ossd_callback::render::{self, SystemVars};
use ossd_callback::spec::{CallbackParams, CallbackSpec, CallbackVars};
use ossd_proto::OssError;
use ossd_proto::timefmt::now_ms;
use ossd_store::{CallbackLogEntry, ObjectRecord};
use tokio::io::AsyncReadExt;

/// The callback machinery a server runs with.
pub struct CallbackRuntime {
    pub deliverer: Deliverer,
    /// PEM served at [`crate::service::CALLBACK_PUBLIC_KEY_PATH`].
    pub public_key_pem: String,
}

/// Validated callback parameters of one upload.
pub struct PendingCallback {
    pub spec: CallbackSpec,
    pub vars: CallbackVars,
    /// The base64 `callback` parameter as sent, kept in the log for replay.
    pub param: String,
}

/// Callback parameters from headers or a presigned URL's query (exactly one carrier).
pub fn from_request(ctx: &RequestContext) -> Result<Option<PendingCallback>, OssError> {
    let Some(params) = CallbackParams::from_request(&ctx.headers, &ctx.query.0)? else { return Ok(None) };
    let (spec, vars) = params.decode()?;
    Ok(Some(PendingCallback { spec, vars, param: params.callback }))
}

/// Callback parameters from PostObject form fields (`callback`, `x:*`, `callback-var`).
pub fn from_form(fields: &[(String, String)]) -> Result<Option<PendingCallback>, OssError> {
    let Some(param) = fields.iter().find(|(k, _)| k == "callback").map(|(_, v)| v.clone()) else {
        return Ok(None);
    };
    let spec = CallbackSpec::decode(&param)?;
    let vars = CallbackVars::from_form_fields(fields)?;
    Ok(Some(PendingCallback { spec, vars, param }))
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
    let delivery = match &state.callbacks {
        Some(rt) => rt.deliverer.deliver(&pending.spec, entry.body.clone(), &ctx.request_id).await,
        None => Delivery {
            attempts: Vec::new(),
            outcome: Outcome::Failed {
                message: "Callbacks are not configured on this server.".into(),
                ec: ossd_callback::deliver::EC_STATUS,
            },
        },
    };
    state.metrics.callback_delivered(&delivery);
    record_outcome(&mut entry, &delivery);
    if let Err(e) = state.meta.finish_callback(&entry).await {
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
