//! Multipart uploads: initiate, upload part (and part copy), complete, abort, list parts and
//! uploads. Completion copies no bytes: the object's segments are the parts' blobs, its CRC is
//! combined from the part CRCs, so its cost grows with the number of parts only.

use super::list::{parse_max_keys, url_encode};
use super::object_read::{RangeRequest, check_copy_conditions, parse_range, stream_object};
use super::object_write::{load_copy_source, receive_body, write_attrs};
use super::{read_xml_body, store_error};
use crate::body::{self, MAX_OBJECT_SIZE};
use crate::callbacks;
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::checksum::{crc64_combine, etag_from_md5, multipart_etag};
use ossd_proto::timefmt::now_ms;
use ossd_proto::xml::{self, multipart as mxml};
use ossd_store::{
    BatchRows, BucketRecord, ObjectRecord, PartRecord, PutMode, Segment, StoreError, UploadRecord, common_prefix,
};

pub const MAX_PART_NUMBER: u32 = 10_000;
/// Every part but the last must be at least this large.
pub const MIN_PART_SIZE: u64 = 100 * 1024;

fn no_such_upload(id: &str) -> OssError {
    OssError::new(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
        .with("UploadId", id)
}

fn upload_error(id: &str) -> impl Fn(StoreError) -> OssError + '_ {
    move |e| match e {
        StoreError::NoSuchUpload => no_such_upload(id),
        e => store_error(e),
    }
}

fn encoding(ctx: &RequestContext) -> Option<&'static str> {
    ctx.query.non_empty("encoding-type").filter(|e| *e == "url").map(|_| "url")
}

/// Loads the upload named by `uploadId`, which must belong to this bucket and key.
async fn load_upload(state: &AppState, ctx: &RequestContext) -> Result<UploadRecord, OssError> {
    let id = ctx.query.get("uploadId").unwrap_or("").to_string();
    let upload = state.meta.get_upload(&id).await.map_err(store_error)?;
    match upload {
        Some(u) if u.bucket == ctx.bucket()? && u.key == ctx.key()? => Ok(u),
        _ => Err(no_such_upload(&id)),
    }
}

pub async fn initiate(
    state: &AppState,
    ctx: &RequestContext,
    bucket_record: &BucketRecord,
) -> Result<Response<Body>, OssError> {
    let (bucket, key) = (ctx.bucket()?, ctx.key()?);
    let attrs = write_attrs(ctx, bucket_record)?;
    let upload = UploadRecord {
        bucket: bucket.to_string(),
        key: key.to_string(),
        upload_id: hex::encode_upper(rand::random::<[u8; 16]>()),
        initiated_ms: now_ms(),
        content_type: attrs.content_type,
        acl: attrs.acl,
        headers: attrs.headers,
        tags: attrs.tags,
        storage_class: attrs.storage_class,
        encryption: attrs.encryption,
    };
    state.meta.create_upload(&upload).await.map_err(store_error)?;
    let enc = encoding(ctx);
    let shown_key = if enc.is_some() { url_encode(key) } else { key.to_string() };
    let mut r = response::xml(200, mxml::initiate_result(bucket, &shown_key, &upload.upload_id, enc));
    response::encryption_headers(&mut r, &upload.encryption);
    Ok(r)
}

fn part_number(ctx: &RequestContext) -> Result<u32, OssError> {
    let raw = ctx.query.get("partNumber").unwrap_or("");
    raw.parse::<u32>().ok().filter(|n| (1..=MAX_PART_NUMBER).contains(n)).ok_or_else(|| {
        OssError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive.")
            .with("ArgumentName", "partNumber")
            .with("ArgumentValue", raw)
    })
}

async fn save_part(
    state: &AppState,
    upload: &UploadRecord,
    number: u32,
    stored: body::StoredBody,
) -> Result<PartRecord, OssError> {
    let part = PartRecord {
        upload_id: upload.upload_id.clone(),
        part_number: number,
        blob: stored.blob.clone(),
        size: stored.size,
        etag: etag_from_md5(&stored.md5),
        crc64: stored.crc64,
        last_modified_ms: now_ms(),
    };
    match state.meta.put_part(&part).await {
        Ok(freed) => {
            state.reclaim(freed).await;
            Ok(part)
        }
        Err(e) => {
            state.reclaim(vec![stored.blob]).await;
            Err(upload_error(&upload.upload_id)(e))
        }
    }
}

pub async fn upload_part(state: &AppState, ctx: &RequestContext, body: Incoming) -> Result<Response<Body>, OssError> {
    let number = part_number(ctx)?;
    let upload = load_upload(state, ctx).await?;
    let stored = receive_body(state, ctx, body).await?;
    let md5 = stored.content_md5();
    let part = save_part(state, &upload, number, stored).await?;
    let mut r = response::status(200);
    response::set(&mut r, "etag", &format!("\"{}\"", part.etag));
    response::set(&mut r, "x-oss-hash-crc64ecma", &part.crc64.to_string());
    response::set(&mut r, "content-md5", &md5);
    response::encryption_headers(&mut r, &upload.encryption);
    Ok(r)
}

pub async fn upload_part_copy(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let number = part_number(ctx)?;
    let upload = load_upload(state, ctx).await?;
    // Taken before the source record is read: its blobs stay until the bytes are copied.
    let guard = state.blobs.read_guard();
    let src = load_copy_source(state, ctx).await?;
    check_copy_conditions(ctx, &src)?;
    super::object_read::check_restored(&src)?;
    let (offset, len) = match ctx.header("x-oss-copy-source-range") {
        None => (0, src.size),
        Some(h) => match parse_range(Some(h), src.size) {
            RangeRequest::Part(a, b) => (a, b - a + 1),
            RangeRequest::Whole => (0, src.size),
            RangeRequest::Unsatisfiable => {
                return Err(OssError::new(416, "InvalidRange", "The requested range cannot be satisfied."));
            }
        },
    };
    let data = stream_object(state.blob_store(), &src, offset, len, guard).await?.into_data_stream();
    let stored = body::store_stream(&state.blobs, data, MAX_OBJECT_SIZE, Some(len)).await?;
    let part = save_part(state, &upload, number, stored).await?;
    let mut r = response::xml(200, mxml::copy_part_result(&part.etag, part.last_modified_ms));
    response::set(&mut r, "etag", &format!("\"{}\"", part.etag));
    response::set(&mut r, "x-oss-hash-crc64ecma", &part.crc64.to_string());
    response::encryption_headers(&mut r, &upload.encryption);
    Ok(r)
}

/// All parts of an upload, in part-number order.
async fn all_parts(state: &AppState, upload_id: &str) -> Result<Vec<PartRecord>, OssError> {
    state.meta.list_parts(upload_id, 0, MAX_PART_NUMBER as usize).await.map_err(store_error)
}

/// Chooses the parts named by the request body (or all, with `x-oss-complete-all: yes`) and
/// checks OSS's rules: ascending numbers, known parts with matching ETags, minimum sizes.
pub fn choose_parts(
    requested: Option<Vec<(u32, String)>>,
    uploaded: Vec<PartRecord>,
) -> Result<Vec<PartRecord>, OssError> {
    let chosen = match requested {
        None => uploaded,
        Some(list) => {
            if list.is_empty() {
                return Err(OssError::malformed_xml("The XML you provided did not name any part."));
            }
            let mut chosen = Vec::with_capacity(list.len());
            let mut last = 0;
            for (number, etag) in list {
                if number <= last {
                    return Err(OssError::new(
                        400,
                        "InvalidPartOrder",
                        "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
                    ));
                }
                last = number;
                let etag = etag.trim().trim_matches('"');
                let part = uploaded
                    .iter()
                    .find(|p| p.part_number == number && p.etag.eq_ignore_ascii_case(etag))
                    .ok_or_else(|| {
                        OssError::new(400, "InvalidPart", "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.")
                            .with("PartNumber", number.to_string())
                            .with("ETag", etag)
                    })?;
                chosen.push(part.clone());
            }
            chosen
        }
    };
    if chosen.is_empty() {
        return Err(OssError::invalid_argument("The upload has no parts to complete."));
    }
    if let Some(small) = chosen[..chosen.len() - 1].iter().find(|p| p.size < MIN_PART_SIZE) {
        return Err(OssError::new(
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size.",
        )
        .with("PartNumber", small.part_number.to_string())
        .with("MinSizeAllowed", MIN_PART_SIZE.to_string()));
    }
    Ok(chosen)
}

/// The object a completed upload becomes.
pub fn assemble(upload: &UploadRecord, parts: &[PartRecord]) -> ObjectRecord {
    let mut crc = 0u64;
    let mut size = 0u64;
    let mut md5s = Vec::with_capacity(parts.len());
    for p in parts {
        crc = crc64_combine(crc, p.crc64, p.size);
        size += p.size;
        let mut m = [0u8; 16];
        let _ = hex::decode_to_slice(&p.etag, &mut m);
        md5s.push(m);
    }
    ObjectRecord {
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        segments: parts.iter().filter(|p| p.size > 0).map(|p| Segment { blob: p.blob.clone(), len: p.size }).collect(),
        size,
        etag: multipart_etag(&md5s),
        crc64: crc,
        content_md5: String::new(),
        content_type: upload.content_type.clone(),
        last_modified_ms: now_ms(),
        object_type: "Multipart".to_string(),
        acl: upload.acl.clone(),
        headers: upload.headers.clone(),
        tags: upload.tags.clone(),
        storage_class: upload.storage_class.clone(),
        symlink_target: None,
        restore: Default::default(),
        encryption: upload.encryption.clone(),
    }
}

/// Reads the completion request: the upload and the parts it names (`None`: all).
async fn read_completion(
    state: &AppState,
    ctx: &RequestContext,
    body: Incoming,
) -> Result<(UploadRecord, Option<Vec<(u32, String)>>), OssError> {
    let upload = load_upload(state, ctx).await?;
    let complete_all = ctx.header("x-oss-complete-all").is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let text = read_xml_body(state, body, 4 * 1024 * 1024).await?;
    let requested = if complete_all {
        if !text.trim().is_empty() {
            return Err(OssError::invalid_argument("x-oss-complete-all: yes must come with an empty body."));
        }
        None
    } else {
        let doc: mxml::CompleteMultipartUpload = xml::parse(&text)?;
        Some(doc.parts.into_iter().map(|p| (p.part_number, p.etag)).collect())
    };
    Ok((upload, requested))
}

/// CompleteMultipartUpload. The object is published in the same transaction that removes the
/// upload (and inserts the pending callback entry, if any); with a callback, the receiver's
/// answer replaces the XML result.
pub async fn complete(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let callback = callbacks::from_request(state, ctx, bucket).await?;
    let (upload, requested) = read_completion(state, ctx, body).await?;
    let mode = if ctx.header("x-oss-forbid-overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        PutMode::MustNotExist
    } else {
        PutMode::Overwrite
    };
    // The parts are chosen from a read of the part list; the store checks inside the commit
    // that each still holds the same blob. A part re-uploaded meanwhile makes the completion
    // start over with the new list (where the requested ETag may then no longer match).
    for _ in 0..super::object_write::CONFLICT_RETRIES {
        let parts = choose_parts(requested.clone(), all_parts(state, &upload.upload_id).await?)?;
        let record = assemble(&upload, &parts);
        let chosen: Vec<(u32, ossd_store::BlobId)> = parts.iter().map(|p| (p.part_number, p.blob.clone())).collect();
        let entry = match &callback {
            Some(cb) => Some(callbacks::prepare_entry(state, ctx, cb, &record, "CompleteMultipartUpload").await),
            None => None,
        };
        let freed = match state.meta.complete_upload(&upload.upload_id, &record, &chosen, mode, entry.as_ref()).await {
            Ok(freed) => freed,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(upload_error(&upload.upload_id)(e)),
        };
        state.reclaim(freed).await;
        return Ok(match (&callback, entry) {
            (Some(cb), Some(entry)) => callbacks::deliver_and_answer(state, cb, entry, &record, ctx).await,
            _ => complete_response(ctx, &record),
        });
    }
    Err(super::object_write::conflict_exhausted())
}

pub fn complete_response(ctx: &RequestContext, record: &ObjectRecord) -> Response<Body> {
    let enc = encoding(ctx);
    let key = if enc.is_some() { url_encode(&record.key) } else { record.key.clone() };
    let location = format!("http://{}/{}", ctx.host_id, key);
    let mut r = response::xml(200, mxml::complete_result(&location, &record.bucket, &key, &record.etag, enc));
    response::upload_headers(&mut r, record);
    r
}

pub async fn abort(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let upload = load_upload(state, ctx).await?;
    let freed = state.meta.abort_upload(&upload.upload_id).await.map_err(upload_error(&upload.upload_id))?;
    state.reclaim(freed).await;
    Ok(response::status(204))
}

pub async fn list_parts(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let upload = load_upload(state, ctx).await?;
    let max = parse_max_keys(ctx.query.non_empty("max-parts"), 1000)?;
    let marker: u32 = ctx.query.non_empty("part-number-marker").and_then(|m| m.parse().ok()).unwrap_or(0);
    let mut parts = state.meta.list_parts(&upload.upload_id, marker, max + 1).await.map_err(store_error)?;
    let truncated = parts.len() > max;
    parts.truncate(max);
    let enc = encoding(ctx);
    let key = if enc.is_some() { url_encode(&upload.key) } else { upload.key.clone() };
    let page = mxml::PartsPage {
        bucket: &upload.bucket,
        key: &key,
        upload_id: &upload.upload_id,
        marker,
        max,
        truncated,
        encoding: enc,
        storage_class: &upload.storage_class,
    };
    Ok(response::xml(
        200,
        mxml::list_parts(
            &page,
            &parts
                .iter()
                .map(|p| (p.part_number, p.last_modified_ms, p.etag.as_str(), p.crc64, p.size))
                .collect::<Vec<_>>(),
        ),
    ))
}

pub async fn list_uploads(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let q = &ctx.query;
    let bucket = ctx.bucket()?.to_string();
    let prefix = q.get("prefix").unwrap_or("").to_string();
    let delimiter = q.get("delimiter").unwrap_or("").to_string();
    let key_marker = q.get("key-marker").unwrap_or("").to_string();
    let id_marker = q.get("upload-id-marker").unwrap_or("").to_string();
    let max = parse_max_keys(q.non_empty("max-uploads"), 1000)?;
    let page =
        uploads_page(state, &bucket, &prefix, &delimiter, &key_marker, &id_marker, max).await.map_err(store_error)?;
    let enc = encoding(ctx);
    let e = |s: &str| if enc.is_some() { url_encode(s) } else { s.to_string() };
    let entries: Vec<(String, String, i64, String)> = page
        .uploads
        .iter()
        .map(|u| (e(&u.key), u.upload_id.clone(), u.initiated_ms, u.storage_class.clone()))
        .collect();
    let next = page.next.as_ref().map(|(k, id)| (e(k), id.clone()));
    let shown = mxml::UploadsPage {
        bucket: &bucket,
        prefix: &e(&prefix),
        delimiter: &e(&delimiter),
        key_marker: &e(&key_marker),
        upload_id_marker: &id_marker,
        max,
        truncated: page.next.is_some(),
        next: next.as_ref().map(|(k, i)| (k.as_str(), i.as_str())),
        encoding: enc,
    };
    let prefixes: Vec<String> = page.prefixes.iter().map(|p| e(p)).collect();
    Ok(response::xml(200, mxml::list_uploads(&shown, &entries, &prefixes)))
}

/// One ListMultipartUploads page: uploads and common prefixes in key order, at most `max`
/// together.
struct UploadsPage {
    uploads: Vec<UploadRecord>,
    prefixes: Vec<String>,
    /// `(NextKeyMarker, NextUploadIdMarker)` when truncated: the last upload's key and id, or
    /// the last common prefix and an empty id when the page ended on one (without it an
    /// iterator asks for the same page again, forever).
    next: Option<(String, String)>,
}

/// Computes a page. A common prefix at or before `key_marker` was listed on an earlier page;
/// each common prefix found is skipped over with one seek, and batches are sized as object
/// listings size theirs ([`BatchRows`]), so a page costs O(max) reads, not O(uploads under its
/// prefixes) nor O(max) per prefix.
async fn uploads_page(
    state: &AppState,
    bucket: &str,
    prefix: &str,
    delimiter: &str,
    key_marker: &str,
    id_marker: &str,
    max: usize,
) -> Result<UploadsPage, StoreError> {
    let mut page = UploadsPage { uploads: Vec::new(), prefixes: Vec::new(), next: None };
    let (mut after_key, mut after_id) = (key_marker.to_string(), id_marker.to_string());
    let mut last: Option<(String, String)> = None;
    let mut batch_rows = BatchRows::new(delimiter);
    loop {
        let asked = batch_rows.ask(max + 1 - (page.uploads.len() + page.prefixes.len()));
        let batch = state.meta.list_uploads(bucket, prefix, &after_key, &after_id, asked).await?;
        let exhausted = batch.len() < asked;
        let mut jumped = false;
        for u in batch {
            let common = common_prefix(&u.key, prefix, delimiter);
            let listed_before = |cp: &str| cp <= key_marker || page.prefixes.last().is_some_and(|p| p == cp);
            let is_new = common.as_deref().is_none_or(|cp| !listed_before(cp));
            if is_new && page.uploads.len() + page.prefixes.len() == max {
                page.next = last;
                return Ok(page);
            }
            match common {
                Some(cp) => {
                    if is_new {
                        page.prefixes.push(cp.clone());
                        last = Some((cp.clone(), String::new()));
                    }
                    // No UTF-8 key continues `cp` with a byte above U+10FFFF's first one.
                    after_key = format!("{cp}\u{10FFFF}");
                    after_id = String::new();
                    jumped = true;
                    break;
                }
                None => {
                    after_key = u.key.clone();
                    after_id = u.upload_id.clone();
                    last = Some((u.key.clone(), u.upload_id.clone()));
                    page.uploads.push(u);
                }
            }
        }
        if exhausted && !jumped {
            return Ok(page);
        }
        if jumped { batch_rows.restart() } else { batch_rows.grow() }
    }
}
