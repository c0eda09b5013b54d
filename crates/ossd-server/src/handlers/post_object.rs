//! PostObject: HTML form uploads (`multipart/form-data`), signed by a policy (V1 or V4) or
//! anonymous on a public-read-write bucket. Fields are read until the `file` field, whose bytes
//! stream straight into a blob; anything after it is ignored, as OSS does.

use super::object_write::{WriteAttrs, check_tags, check_user_meta, publish, simple_record};
use crate::access;
use crate::body::{self, MAX_OBJECT_SIZE};
use crate::callbacks;
use crate::context::RequestContext;
use crate::limits::StallGuarded;
use crate::response::{self, Body};
use crate::state::AppState;
use bytes::Bytes;
use futures_util::StreamExt;
use http::Response;
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::auth::{SecretLookup, post_policy};
use ossd_proto::form::{self, FormEvent, FormLimits, FormParser};
use ossd_proto::post_policy::PolicyDocument;
use ossd_store::{BucketRecord, ObjectRecord, PutMode};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The text fields of a form, names lower-cased (form field names are case-insensitive).
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Authenticates the form: V4 fields, V1 fields, or none (anonymous, public-read-write only).
fn authenticate(state: &AppState, fields: &FormFields, bucket: &BucketRecord) -> Result<(), OssError> {
    let token = fields.get("x-oss-security-token");
    let policy = fields.get("policy");
    if let Some(version) = fields.get("x-oss-signature-version") {
        if version != "OSS4-HMAC-SHA256" {
            return Err(OssError::invalid_argument("x-oss-signature-version is not valid."));
        }
        let (Some(cred), Some(_date), Some(sig), Some(policy)) =
            (fields.get("x-oss-credential"), fields.get("x-oss-date"), fields.get("x-oss-signature"), policy)
        else {
            return Err(OssError::invalid_argument(
                "A V4 POST needs the fields x-oss-credential, x-oss-date, x-oss-signature and policy.",
            ));
        };
        let cred = post_policy::parse_credential(cred)
            .ok_or_else(|| OssError::invalid_argument("x-oss-credential is not valid."))?;
        post_policy::check_scope(&cred)?;
        let secret = state.config.credentials.secret_for(&cred.access_key_id, token)?;
        if !post_policy::verify_v4(policy, sig, &secret, &cred.date, &cred.region) {
            return Err(OssError::new(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        return Ok(());
    }
    let ak = fields.get("ossaccesskeyid");
    let sig = fields.get("signature");
    match (ak, policy, sig) {
        (Some(ak), Some(policy), Some(sig)) => {
            let secret = state.config.credentials.secret_for(ak, token)?;
            if !post_policy::verify_v1(policy, sig, &secret) {
                return Err(OssError::new(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.",
                ));
            }
            Ok(())
        }
        (None, None, None) => {
            if bucket.acl == access::PUBLIC_READ_WRITE {
                Ok(())
            } else {
                Err(OssError::access_denied("You have no right to access this object because of bucket acl."))
            }
        }
        _ => Err(OssError::invalid_argument(
            "OSSAccessKeyId, policy and Signature must all be present or all be absent.",
        )),
    }
}

fn attrs_from_fields(fields: &FormFields, key: &str, bucket: &BucketRecord) -> Result<WriteAttrs, OssError> {
    let mut headers = BTreeMap::new();
    for (k, v) in &fields.0 {
        if k.starts_with("x-oss-meta-")
            || matches!(k.as_str(), "cache-control" | "content-disposition" | "content-encoding" | "expires")
        {
            headers.insert(k.clone(), v.clone());
        }
    }
    check_user_meta(&headers)?;
    let acl = match fields.get("x-oss-object-acl") {
        None => access::DEFAULT.to_string(),
        Some(a) if access::is_object_acl(a) => a.to_string(),
        Some(a) => return Err(OssError::invalid_argument(format!("no such object access control exists: {a}"))),
    };
    let tags = super::object_write::parse_tagging_header(fields.get("x-oss-tagging"))?;
    check_tags(&tags)?;
    Ok(WriteAttrs {
        content_type: match fields.get("content-type").filter(|c| !c.is_empty()) {
            Some(c) => c.to_string(),
            None => ossd_proto::names::content_type_for_key(key).to_string(),
        },
        acl,
        headers,
        tags,
        storage_class: super::object_write::storage_class_for(fields.get("x-oss-storage-class"), bucket)?,
        encryption: super::object_write::encryption_for(|n| fields.get(n).map(str::to_string), bucket)?,
    })
}

/// What the form asked for besides the object itself.
/// A received form: the object (its blob finished, not yet published) and what else it asked.
pub struct PostedObject {
    pub record: ObjectRecord,
    pub fields: FormFields,
    pub mode: PutMode,
    pub callback: Option<callbacks::PendingCallback>,
}

/// Pulls form events out of the request body, a chunk at a time (the body may stall at most
/// `limits.body_stall_timeout` between chunks).
struct FormReader {
    parser: FormParser,
    body: StallGuarded,
}

impl FormReader {
    /// The next event; `None` once the file part has ended.
    async fn next(&mut self) -> Result<Option<FormEvent>, OssError> {
        loop {
            if let Some(event) = self.parser.next_event()? {
                return Ok(Some(event));
            }
            if self.parser.is_done() {
                return Ok(None);
            }
            match self.body.next().await {
                Some(chunk) => self.parser.push(&chunk?)?,
                None => self.parser.finish(),
            }
        }
    }
}

/// Reads the form, authenticates it, checks the policy, and stores the file in a new blob.
/// Everything before the file is bounded by [`FormLimits`]; the form is authenticated as soon as
/// the file part starts, so no file byte is read for a caller who may not upload.
pub async fn receive_form(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
    body: Incoming,
) -> Result<PostedObject, OssError> {
    let boundary = ctx
        .header("content-type")
        .and_then(form::boundary)
        .ok_or_else(|| OssError::invalid_argument("The Content-Type of a POST request must be multipart/form-data."))?;
    let limits = FormLimits::default();
    let declared: Option<u64> = ctx.header("content-length").and_then(|v| v.parse().ok());
    body::check_declared_length(declared, MAX_OBJECT_SIZE.saturating_add(limits.max_before_file))?;
    let mut reader = FormReader {
        parser: FormParser::new(&boundary, limits),
        body: StallGuarded::new(body, state.config.limits.body_stall_timeout),
    };
    let mut fields = FormFields(Vec::new());
    let filename = loop {
        match reader.next().await? {
            Some(FormEvent::Field { name, value }) => fields.0.push((name.to_ascii_lowercase(), value)),
            Some(FormEvent::FileStart { filename, .. }) => break filename,
            // The parser starts the file before any of its data and ends the form after it.
            Some(FormEvent::FileData(_) | FormEvent::FileEnd) | None => {
                return Err(form::malformed("no file field"));
            }
        }
    };
    let key_template = fields
        .get("key")
        .ok_or_else(|| {
            OssError::invalid_argument("The bucket POST must contain the specified 'key'.").with("ArgumentName", "key")
        })?
        .to_string();
    let key = key_template.replace("${filename}", &filename);
    ossd_proto::names::check_object_key(&key)?;
    if let Some(i) = fields.0.iter().position(|(k, _)| k == "key") {
        fields.0[i].1 = key.clone();
    }
    // The policy's `bucket` condition is checked against the bucket addressed, never against a
    // `bucket` field the uploader added.
    fields.0.retain(|(k, _)| k != "bucket");
    fields.0.push(("bucket".into(), bucket.name.clone()));
    authenticate(state, &fields, bucket)?;
    // STS: temporary credentials may upload only where their policies allow.
    let token = fields.get("x-oss-security-token");
    crate::authz::check(state, token, "oss:PutObject", &bucket.name, Some(&key), ctx)?;
    for (field, action) in crate::authz::ATTRIBUTE_ACTIONS {
        if fields.get(field).is_some() {
            crate::authz::check(state, token, action, &bucket.name, Some(&key), ctx)?;
        }
    }
    let mut limit = MAX_OBJECT_SIZE;
    let mut min = 0;
    if let Some(p) = fields.get("policy") {
        let policy = PolicyDocument::decode(p)?;
        policy.check_expiration(SystemTime::now())?;
        policy.check_fields(|n| fields.get(n).map(str::to_string))?;
        if let Some((lo, hi)) = policy.content_length_range() {
            limit = limit.min(hi);
            min = lo;
        }
    }
    let attrs = attrs_from_fields(&fields, &key, bucket)?;
    // Validated before the file is read: a bad callback stores nothing.
    let callback = callbacks::from_form(state, bucket, &fields.0).await?;
    // The file's bytes as a stream; a form error (say, no closing boundary) is kept aside so the
    // uploader gets its own code rather than store_stream's generic one.
    let form_error = Arc::new(Mutex::new(None::<OssError>));
    let slot = form_error.clone();
    let chunks = Box::pin(futures_util::stream::unfold(reader, move |mut reader| {
        let slot = slot.clone();
        async move {
            match reader.next().await {
                Ok(Some(FormEvent::FileData(data))) => Some((Ok(Bytes::from(data)), reader)),
                Ok(_) => None,
                Err(e) => {
                    let shown = e.to_string();
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Some((Err(shown), reader))
                }
            }
        }
    }));
    let stored = match body::store_stream(&state.blobs, chunks, limit, declared).await {
        Ok(stored) => stored,
        Err(e) => return Err(form_error.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or(e)),
    };
    if stored.size < min {
        state.reclaim(vec![stored.blob]).await;
        return Err(OssError::new(
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size.",
        ));
    }
    let mode = if fields.get("x-oss-forbid-overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        PutMode::MustNotExist
    } else {
        PutMode::Overwrite
    };
    let record = simple_record(&bucket.name, &key, &stored, attrs);
    Ok(PostedObject { record, fields, mode, callback })
}

/// The answer without a callback: redirect, or 200/201/204 as `success_action_status` asks.
pub fn success_response(ctx: &RequestContext, posted: &PostedObject) -> Response<Body> {
    let rec = &posted.record;
    if let Some(url) = posted.fields.get("success_action_redirect").filter(|u| !u.is_empty()) {
        let enc = super::list::url_encode;
        let sep = if url.contains('?') { '&' } else { '?' };
        let location = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            enc(&rec.bucket),
            enc(&rec.key),
            enc(&format!("\"{}\"", rec.etag))
        );
        let mut r = response::status(303);
        response::set(&mut r, "location", &location);
        response::upload_headers(&mut r, rec);
        return r;
    }
    let status = match posted.fields.get("success_action_status") {
        Some("200") => 200,
        Some("201") => 201,
        _ => 204,
    };
    let mut r = if status == 201 {
        let location = format!("http://{}/{}", ctx.host_id, super::list::url_encode(&rec.key));
        response::xml(201, ossd_proto::xml::post_response(&rec.bucket, &location, &rec.key, &rec.etag))
    } else {
        response::status(status)
    };
    response::upload_headers(&mut r, rec);
    r
}

pub async fn post_object(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let mut posted = receive_form(state, ctx, bucket, body).await?;
    let blob = posted.record.segments.first().map(|s| s.blob.clone());
    let Some(cb) = posted.callback.take() else {
        posted.record = publish(state, posted.record, posted.mode, blob, None).await?;
        return Ok(success_response(ctx, &posted));
    };
    let entry = callbacks::prepare_entry(state, ctx, &cb, &posted.record, "PostObject").await;
    let record = publish(state, posted.record, posted.mode, blob, Some(entry.clone())).await?;
    Ok(callbacks::deliver_and_answer(state, &cb, entry, &record, ctx).await)
}
