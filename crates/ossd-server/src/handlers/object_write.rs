//! PutObject, AppendObject, CopyObject, DeleteObject and DeleteMultipleObjects.
//!
//! Every write follows the store's durability contract: stream into a new blob, finish it,
//! publish with one metadata commit, then reclaim what the commit unreferenced. Blobs are
//! immutable once finished, so objects may share them (CopyObject copies no bytes, AppendObject
//! adds a segment).

use super::list::url_encode;
use super::object_read::check_copy_conditions;
use super::{read_xml_body, store_error};
use crate::access;
use crate::body::{self, MAX_OBJECT_SIZE, StoredBody};
use crate::callbacks;
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use hyper::body::Incoming;
use md5::{Digest, Md5};
use ossd_proto::OssError;
use ossd_proto::checksum::{crc64_combine, etag_from_md5};
use ossd_proto::object_class;
use ossd_proto::query::decode;
use ossd_proto::timefmt::now_ms;
use ossd_proto::xml;
use ossd_store::{BucketRecord, Encryption, ObjectRecord, PutMode, RestoreState, Segment};
use std::collections::BTreeMap;

/// Largest total of user metadata (`x-oss-meta-*` names and values).
const MAX_USER_META: usize = 8 * 1024;
/// Largest source of a plain CopyObject.
const MAX_COPY_SIZE: u64 = 1024 * 1024 * 1024;
const STORED_HEADERS: &[&str] =
    &["cache-control", "content-disposition", "content-encoding", "content-language", "expires"];

/// The object attributes a write request sets through its headers.
pub struct WriteAttrs {
    pub content_type: String,
    pub acl: String,
    pub headers: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    /// `x-oss-storage-class`, else the bucket's class.
    pub storage_class: String,
    /// `x-oss-server-side-encryption*`, else the bucket's default rule.
    pub encryption: Encryption,
}

/// `x-oss-storage-class` (validated), else the bucket's class.
pub fn storage_class_for(value: Option<&str>, bucket: &BucketRecord) -> Result<String, OssError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) => Ok(object_class::parse_storage_class(v)?.to_string()),
        None => Ok(bucket.storage_class.clone()),
    }
}

/// The encryption a write asks for (headers, or PostObject fields, via `get`), else the
/// bucket's default rule.
pub fn encryption_for(get: impl Fn(&str) -> Option<String>, bucket: &BucketRecord) -> Result<Encryption, OssError> {
    Ok(match object_class::sse_from_headers(get)? {
        Some(s) => Encryption { algorithm: s.algorithm, key_id: s.key_id, data_encryption: s.data_encryption },
        None => bucket.encryption.clone().unwrap_or_default(),
    })
}

fn header_text(v: &http::HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

/// Content-Type from the request, else guessed from the key's extension, else binary.
pub fn content_type_for(ctx: &RequestContext, key: &str) -> String {
    match ctx.header("content-type").filter(|v| !v.is_empty()) {
        Some(v) => v.to_string(),
        None => ossd_proto::names::content_type_for_key(key).to_string(),
    }
}

pub fn object_acl_header(ctx: &RequestContext) -> Result<String, OssError> {
    match ctx.header("x-oss-object-acl") {
        None => Ok(access::DEFAULT.to_string()),
        Some(v) if access::is_object_acl(v) => Ok(v.to_string()),
        Some(v) => Err(OssError::invalid_argument(format!("no such object access control exists: {v}"))
            .with("ArgumentName", "x-oss-object-acl")
            .with("ArgumentValue", v)),
    }
}

/// `x-oss-tagging: k1=v1&k2=v2` (URL-encoded).
pub fn parse_tagging_header(v: Option<&str>) -> Result<Vec<(String, String)>, OssError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else { return Ok(Vec::new()) };
    let tags: Vec<(String, String)> = v
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, val) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(val))
        })
        .collect();
    check_tags(&tags)?;
    Ok(tags)
}

pub fn check_tags(tags: &[(String, String)]) -> Result<(), OssError> {
    let bad = |m: &str| OssError::new(400, "InvalidTag", m.to_string());
    if tags.len() > 10 {
        return Err(bad("Object tags cannot be greater than 10."));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(bad("The tag key is not valid."));
        }
        if v.chars().count() > 256 {
            return Err(bad("The tag value is not valid."));
        }
        if tags[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(bad("Duplicate tag keys are not allowed."));
        }
    }
    Ok(())
}

/// User metadata (`x-oss-meta-*` names without the prefix, and values) totals at most 8 KB,
/// from headers and PostObject form fields alike.
pub fn check_user_meta(headers: &BTreeMap<String, String>) -> Result<(), OssError> {
    let size: usize =
        headers.iter().filter_map(|(n, v)| n.strip_prefix("x-oss-meta-").map(|m| m.len() + v.len())).sum();
    if size > MAX_USER_META {
        return Err(OssError::invalid_argument("Your metadata headers exceed the maximum allowed metadata size."));
    }
    Ok(())
}

pub fn write_attrs(ctx: &RequestContext, key: &str, bucket: &BucketRecord) -> Result<WriteAttrs, OssError> {
    let mut headers = BTreeMap::new();
    for (name, value) in ctx.headers.iter() {
        let n = name.as_str();
        if n.starts_with("x-oss-meta-") || STORED_HEADERS.contains(&n) {
            headers.insert(n.to_string(), header_text(value));
        }
    }
    check_user_meta(&headers)?;
    Ok(WriteAttrs {
        content_type: content_type_for(ctx, key),
        acl: object_acl_header(ctx)?,
        headers,
        tags: parse_tagging_header(ctx.header("x-oss-tagging"))?,
        storage_class: storage_class_for(ctx.header("x-oss-storage-class"), bucket)?,
        encryption: encryption_for(|n| ctx.header(n).map(str::to_string), bucket)?,
    })
}

fn forbid_overwrite(ctx: &RequestContext) -> bool {
    ctx.header("x-oss-forbid-overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Declared body length: required unless the body is chunked (411 otherwise).
pub fn declared_length(ctx: &RequestContext) -> Result<Option<u64>, OssError> {
    match ctx.header("content-length") {
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| OssError::invalid_argument("The Content-Length header is not valid.")),
        None if ctx.header("transfer-encoding").is_some() => Ok(None),
        None => Err(OssError::new(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")),
    }
}

/// Streams the request body into a durable blob, checking size limit and Content-MD5.
pub async fn receive_body(state: &AppState, ctx: &RequestContext, body: Incoming) -> Result<StoredBody, OssError> {
    let declared = declared_length(ctx)?;
    body::check_declared_length(declared, MAX_OBJECT_SIZE)?;
    let stored = body::store_stream(
        &state.blobs,
        crate::limits::StallGuarded::new(body, state.config.limits.body_stall_timeout),
        MAX_OBJECT_SIZE,
        declared,
    )
    .await?;
    if let Err(e) = body::check_content_md5(ctx.header("content-md5"), &stored) {
        state.reclaim(vec![stored.blob]).await;
        return Err(e);
    }
    Ok(stored)
}

/// Publishes `record`; on failure the new blob goes, on success the replaced ones.
pub async fn publish(
    state: &AppState,
    record: ObjectRecord,
    mode: PutMode,
    new_blob: Option<ossd_store::BlobId>,
    callback: Option<ossd_store::CallbackLogEntry>,
) -> Result<ObjectRecord, OssError> {
    match try_publish(state, &record, mode, new_blob.clone(), callback.as_ref()).await {
        Ok(()) => Ok(record),
        Err(e) => {
            if let Some(b) = new_blob {
                state.reclaim(vec![b]).await;
            }
            Err(store_error(e).with("Key", record.key.clone()))
        }
    }
}

/// One publish attempt: commits `record` (whose segments other than `new_blob` must be live)
/// and reclaims what it replaced. On failure nothing was written and `new_blob` is kept, so
/// that a caller may rebuild the record and try again.
async fn try_publish(
    state: &AppState,
    record: &ObjectRecord,
    mode: PutMode,
    new_blob: Option<ossd_store::BlobId>,
    callback: Option<&ossd_store::CallbackLogEntry>,
) -> Result<(), ossd_store::StoreError> {
    let fresh: Vec<ossd_store::BlobId> = new_blob.into_iter().collect();
    let freed = state.meta.put_object(record, mode, &fresh, callback).await?;
    state.reclaim(freed).await;
    Ok(())
}

/// How often a write built on a read (copy, append) is rebuilt when what it read changed
/// before it committed; each retry re-reads, so only a storm of concurrent changes exhausts it.
pub const CONFLICT_RETRIES: usize = 16;

/// A simple object made of one finished blob.
pub fn simple_record(bucket: &str, key: &str, stored: &StoredBody, attrs: WriteAttrs) -> ObjectRecord {
    ObjectRecord {
        bucket: bucket.to_string(),
        key: key.to_string(),
        segments: vec![Segment { blob: stored.blob.clone(), len: stored.size }],
        size: stored.size,
        etag: etag_from_md5(&stored.md5),
        crc64: stored.crc64,
        content_md5: stored.content_md5(),
        content_type: attrs.content_type,
        last_modified_ms: now_ms(),
        object_type: "Normal".to_string(),
        acl: attrs.acl,
        headers: attrs.headers,
        tags: attrs.tags,
        storage_class: attrs.storage_class,
        symlink_target: None,
        restore: RestoreState::default(),
        encryption: attrs.encryption,
    }
}

pub async fn put_object(
    state: &AppState,
    ctx: &RequestContext,
    bucket_record: &BucketRecord,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let (bucket, key) = (ctx.bucket()?, ctx.key()?);
    let attrs = write_attrs(ctx, key, bucket_record)?;
    let mode = if forbid_overwrite(ctx) { PutMode::MustNotExist } else { PutMode::Overwrite };
    let callback = callbacks::from_request(state, ctx, bucket_record).await?;
    let stored = receive_body(state, ctx, body).await?;
    let blob = stored.blob.clone();
    let record = simple_record(bucket, key, &stored, attrs);
    let Some(cb) = callback else {
        let record = publish(state, record, mode, Some(blob), None).await?;
        let mut r = response::status(200);
        response::upload_headers(&mut r, &record);
        return Ok(r);
    };
    let entry = callbacks::prepare_entry(state, ctx, &cb, &record, "PutObject").await;
    let record = publish(state, record, mode, Some(blob), Some(entry.clone())).await?;
    Ok(callbacks::deliver_and_answer(state, &cb, entry, &record, ctx).await)
}

/// Checks that `existing` (the object at the key, if any) accepts an append at `position`.
fn check_append(existing: Option<&ObjectRecord>, position: u64) -> Result<(), ossd_store::StoreError> {
    use ossd_store::StoreError::{NotAppendable, PositionNotEqualToLength};
    match existing {
        Some(o) if o.object_type != "Appendable" => Err(NotAppendable),
        Some(o) if o.size != position => Err(PositionNotEqualToLength(o.size)),
        None if position != 0 => Err(PositionNotEqualToLength(0)),
        _ => Ok(()),
    }
}

pub async fn append_object(
    state: &AppState,
    ctx: &RequestContext,
    bucket_record: &BucketRecord,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let (bucket, key) = (ctx.bucket()?.to_string(), ctx.key()?.to_string());
    let position = ctx.query.get("position").and_then(|p| p.parse::<u64>().ok()).ok_or_else(|| {
        OssError::invalid_argument("Argument position is not valid.").with("ArgumentName", "position")
    })?;
    let existing = state.meta.get_object(&bucket, &key).await.map_err(store_error)?;
    check_append(existing.as_ref(), position).map_err(store_error)?;
    let stored = receive_body(state, ctx, body).await?;
    let first_attrs = if existing.is_none() { Some(write_attrs(ctx, &key, bucket_record)?) } else { None };
    // The record is built on the object read above; if that object is replaced before the
    // commit (delete and re-create at the same length), the store refuses it and the append is
    // rebuilt on what is there now, or refused by OSS's rules.
    let mut existing = existing;
    let mut first_attrs = first_attrs;
    for _ in 0..CONFLICT_RETRIES {
        let record = appended_record(&bucket, &key, existing.clone(), &stored, &mut first_attrs, ctx, bucket_record)?;
        match try_publish(state, &record, PutMode::AppendAt(position), Some(stored.blob.clone()), None).await {
            Ok(()) => {
                let mut r = response::status(200);
                response::upload_headers(&mut r, &record);
                response::set(&mut r, "x-oss-next-append-position", &record.size.to_string());
                return Ok(r);
            }
            Err(ossd_store::StoreError::Conflict(_)) => {
                existing = state.meta.get_object(&bucket, &key).await.map_err(store_error)?;
                if let Err(e) = check_append(existing.as_ref(), position) {
                    state.reclaim(vec![stored.blob.clone()]).await;
                    return Err(store_error(e));
                }
            }
            Err(e) => {
                state.reclaim(vec![stored.blob.clone()]).await;
                return Err(store_error(e).with("Key", key.clone()));
            }
        }
    }
    state.reclaim(vec![stored.blob.clone()]).await;
    Err(conflict_exhausted())
}

/// 409 after [`CONFLICT_RETRIES`] rebuilds all lost to concurrent changes.
pub fn conflict_exhausted() -> OssError {
    OssError::new(
        409,
        "OperationAborted",
        "A conflicting operation is in progress against this resource. Please try again.",
    )
}

/// The record an append publishes: `existing` with the new segment, or a new appendable
/// object (whose attributes come from this first append's headers).
fn appended_record(
    bucket: &str,
    key: &str,
    existing: Option<ObjectRecord>,
    stored: &StoredBody,
    first_attrs: &mut Option<WriteAttrs>,
    ctx: &RequestContext,
    bucket_record: &BucketRecord,
) -> Result<ObjectRecord, OssError> {
    let new_segment = Segment { blob: stored.blob.clone(), len: stored.size };
    Ok(match existing {
        Some(mut o) => {
            let mut h = Md5::new();
            h.update(o.etag.as_bytes());
            h.update(stored.md5);
            o.etag = etag_from_md5(&h.finalize());
            o.crc64 = crc64_combine(o.crc64, stored.crc64, stored.size);
            o.size += stored.size;
            if stored.size > 0 {
                o.segments.push(new_segment);
            }
            o.content_md5 = String::new();
            o.last_modified_ms = now_ms();
            o
        }
        None => {
            // Metadata and ACL are taken from the first append only.
            let attrs = match first_attrs.take() {
                Some(a) => a,
                None => write_attrs(ctx, key, bucket_record)?,
            };
            let mut o = simple_record(bucket, key, stored, attrs);
            o.object_type = "Appendable".to_string();
            o.content_md5 = String::new();
            o
        }
    })
}

/// Parses `x-oss-copy-source: /bucket/url-encoded-key`.
pub fn parse_copy_source(v: &str) -> Result<(String, String), OssError> {
    let bad = || {
        OssError::invalid_argument("Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.")
            .with("ArgumentName", "x-oss-copy-source")
            .with("ArgumentValue", v)
    };
    let path = v.split('?').next().unwrap_or("");
    let path = path.strip_prefix('/').unwrap_or(path);
    let (b, k) = path.split_once('/').ok_or_else(bad)?;
    let (b, k) = (decode(b), decode(k));
    if b.is_empty() || k.is_empty() {
        return Err(bad());
    }
    ossd_proto::names::check_bucket_name(&b)?;
    ossd_proto::names::check_object_key(&k)?;
    Ok((b, k))
}

/// Loads the source of a copy, applying the bucket/object ACL for anonymous callers.
pub async fn load_copy_source(state: &AppState, ctx: &RequestContext) -> Result<ObjectRecord, OssError> {
    let src = ctx.header("x-oss-copy-source").unwrap_or("");
    let (sb, sk) = parse_copy_source(src)?;
    let src_bucket =
        state.meta.get_bucket(&sb).await.map_err(store_error)?.ok_or_else(|| OssError::no_such_bucket(&sb))?;
    super::object_read::load_readable(state, ctx, &src_bucket, &sk).await
}

pub async fn copy_object(
    state: &AppState,
    ctx: &RequestContext,
    bucket_record: &BucketRecord,
) -> Result<Response<Body>, OssError> {
    let (bucket, key) = (ctx.bucket()?, ctx.key()?);
    // The copy shares the source's blobs. If the source is deleted or replaced before the
    // commit, the store refuses blobs that are no longer live; the copy then starts over from
    // the source as it is now (or answers NoSuchKey once it is gone).
    for _ in 0..CONFLICT_RETRIES {
        let src = load_copy_source(state, ctx).await?;
        let record = copy_record(ctx, bucket, key, src, bucket_record)?;
        let mode = if forbid_overwrite(ctx) { PutMode::MustNotExist } else { PutMode::Overwrite };
        match try_publish(state, &record, mode, None, None).await {
            Ok(()) => {
                let mut r = response::xml(200, xml::copy_object_result(&record.etag, record.last_modified_ms));
                response::set(&mut r, "etag", &format!("\"{}\"", record.etag));
                response::set(&mut r, "x-oss-hash-crc64ecma", &record.crc64.to_string());
                response::encryption_headers(&mut r, &record.encryption);
                return Ok(r);
            }
            Err(ossd_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(store_error(e).with("Key", key)),
        }
    }
    Err(conflict_exhausted())
}

/// The record CopyObject publishes for `src` under the request's directives.
fn copy_record(
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    src: ObjectRecord,
    bucket_record: &BucketRecord,
) -> Result<ObjectRecord, OssError> {
    check_copy_conditions(ctx, &src)?;
    if src.size > MAX_COPY_SIZE {
        return Err(OssError::new(
            400,
            "EntityTooLarge",
            "The source object of CopyObject is larger than 1 GB; use UploadPartCopy.",
        ));
    }
    let replace = match ctx.header("x-oss-metadata-directive").unwrap_or("COPY") {
        "COPY" => false,
        "REPLACE" => true,
        other => {
            return Err(OssError::invalid_argument("x-oss-metadata-directive is not valid.")
                .with("ArgumentName", "x-oss-metadata-directive")
                .with("ArgumentValue", other));
        }
    };
    let attrs = write_attrs(ctx, key, bucket_record)?;
    let tags = match ctx.header("x-oss-tagging-directive").unwrap_or("Copy") {
        d if d.eq_ignore_ascii_case("replace") => attrs.tags.clone(),
        _ => src.tags.clone(),
    };
    let mut record = src;
    record.bucket = bucket.to_string();
    record.key = key.to_string();
    record.last_modified_ms = now_ms();
    record.acl = attrs.acl.clone();
    record.tags = tags;
    // The copy is a new object: the request's (or the destination bucket's) class and
    // encryption, and nothing restored yet.
    record.storage_class = attrs.storage_class;
    record.encryption = attrs.encryption;
    record.restore = RestoreState::default();
    if record.object_type == "Appendable" {
        record.object_type = "Normal".to_string();
    }
    if replace {
        record.content_type = attrs.content_type;
        record.headers = attrs.headers;
    }
    Ok(record)
}

pub async fn delete_object(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let freed = state.meta.delete_object(ctx.bucket()?, ctx.key()?).await.map_err(store_error)?;
    state.reclaim(freed).await;
    Ok(response::status(204))
}

const MAX_DELETE_BODY: usize = 2 * 1024 * 1024;
const MAX_DELETE_KEYS: usize = 1000;

pub async fn delete_multiple(
    state: &AppState,
    ctx: &RequestContext,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let text = read_xml_body(state, body, MAX_DELETE_BODY).await?;
    if let Some(md5) = ctx.header("content-md5") {
        use base64::Engine;
        let actual = base64::engine::general_purpose::STANDARD.encode(Md5::digest(text.as_bytes()));
        if md5.trim() != actual {
            return Err(OssError::new(400, "InvalidDigest", "The Content-MD5 you specified was invalid."));
        }
    }
    let req: xml::DeleteRequest = xml::parse(&text)?;
    if req.objects.is_empty() || req.objects.len() > MAX_DELETE_KEYS {
        return Err(OssError::malformed_xml("The request must name between 1 and 1000 objects."));
    }
    let token = ctx.identity.as_ref().and_then(|i| i.security_token.as_deref());
    for o in &req.objects {
        ossd_proto::names::check_object_key(&o.key)?;
        crate::authz::check(state, token, "oss:DeleteObject", ctx.bucket()?, Some(&o.key), ctx)?;
    }
    let quiet = req.quiet.as_deref().is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    let encoding = ctx.query.non_empty("encoding-type").filter(|e| *e == "url");
    let keys: Vec<String> = req.objects.into_iter().map(|o| o.key).collect();
    let freed = state.meta.delete_objects(ctx.bucket()?, &keys).await.map_err(store_error)?;
    state.reclaim(freed).await;
    let deleted: Vec<String> = if quiet {
        Vec::new()
    } else {
        keys.iter().map(|k| if encoding.is_some() { url_encode(k) } else { k.clone() }).collect()
    };
    Ok(response::xml(200, xml::delete_result(&deleted, encoding)))
}
