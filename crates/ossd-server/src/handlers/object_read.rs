//! GetObject, HeadObject and GetObjectMeta: conditional requests, ranges, streamed bodies.

use super::store_error;
use crate::access;
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use futures_util::{StreamExt, TryStreamExt};
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use ossd_proto::OssError;
use ossd_proto::object_class;
pub use ossd_proto::request_headers::{RangeRequest, parse_range};
use ossd_proto::request_headers::{accepts_gzip, etag_matches, gzip_compressible};
use ossd_proto::timefmt::{http_date, parse_http_date};
use ossd_store::{BlobStore, BucketRecord, ObjectRecord, ReadGuard};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// Loads an object for reading and applies the anonymous object-ACL check. A symlink answers
/// for its target: the record returned has the target's bytes and attributes under the link's
/// key, type `Symlink`, the link's ACL, and the later of the two modification times.
pub async fn load_readable(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
    key: &str,
) -> Result<ObjectRecord, OssError> {
    let obj = state.meta.get_object(&bucket.name, key).await.map_err(store_error)?;
    let obj = obj.ok_or_else(|| OssError::no_such_key(key))?;
    if ctx.identity.is_none() && !ctx.policy_allowed {
        let acl = access::effective_acl(&bucket.acl, &obj.acl);
        access::anonymous_may_read(if ctx.block_public_access { access::PRIVATE } else { acl })?;
    }
    let Some(target) = obj.symlink_target.as_deref() else { return Ok(obj) };
    let t = state.meta.get_object(&bucket.name, target).await.map_err(store_error)?;
    // A link's target is never itself a link (PutSymlink refuses that target type only when
    // it exists then; a link made first and replaced later by a link is dangling here).
    let Some(t) = t.filter(|t| t.symlink_target.is_none()) else {
        return Err(object_class::dangling_symlink(key));
    };
    Ok(ObjectRecord {
        bucket: obj.bucket,
        key: obj.key,
        last_modified_ms: obj.last_modified_ms.max(t.last_modified_ms),
        object_type: "Symlink".to_string(),
        acl: obj.acl,
        ..t
    })
}

/// Reading the bytes of an Archive, ColdArchive or DeepColdArchive object needs a finished,
/// unexpired restore (403 `InvalidObjectState` otherwise).
pub fn check_restored(o: &ObjectRecord) -> Result<(), OssError> {
    if !object_class::needs_restore(&o.storage_class) {
        return Ok(());
    }
    let now = ossd_proto::timefmt::now_ms();
    if o.restore.requested() && o.restore.ready_ms <= now && now < o.restore.expiry_ms {
        Ok(())
    } else {
        Err(object_class::invalid_object_state())
    }
}

/// The outcome of `If-*` headers.
enum Precondition {
    Proceed,
    NotModified,
}

/// Seconds resolution, as HTTP dates carry.
fn modified_secs(o: &ObjectRecord) -> u64 {
    (o.last_modified_ms.max(0) as u64) / 1000
}

fn check_conditions(ctx: &RequestContext, o: &ObjectRecord, prefix: &str) -> Result<Precondition, OssError> {
    let h = |n: &str| ctx.header(&format!("{prefix}{n}"));
    let secs = |t: std::time::SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    if let Some(v) = h("if-match")
        && !etag_matches(v, &o.etag)
    {
        return Err(OssError::precondition_failed(&condition_name(prefix, "If-Match")));
    }
    if let Some(t) = h("if-unmodified-since").and_then(parse_http_date)
        && modified_secs(o) > secs(t)
    {
        return Err(OssError::precondition_failed(&condition_name(prefix, "If-Unmodified-Since")));
    }
    if let Some(v) = h("if-none-match")
        && etag_matches(v, &o.etag)
    {
        return Ok(Precondition::NotModified);
    }
    if let Some(t) = h("if-modified-since").and_then(parse_http_date)
        && modified_secs(o) <= secs(t)
    {
        return Ok(Precondition::NotModified);
    }
    Ok(Precondition::Proceed)
}

/// The `Condition` an answer names: the plain header (`If-Match`) or its copy-source form.
fn condition_name(prefix: &str, header: &str) -> String {
    if prefix.is_empty() { header.to_string() } else { format!("{prefix}{}", header.to_ascii_lowercase()) }
}

/// `x-oss-copy-source-if-*` for CopyObject and UploadPartCopy, as OSS answers them: a failed
/// if-match or if-unmodified-since is 412, a failed if-none-match or if-modified-since 304
/// (with no body, as every 304).
pub fn check_copy_conditions(ctx: &RequestContext, o: &ObjectRecord) -> Result<(), OssError> {
    match check_conditions(ctx, o, "x-oss-copy-source-")? {
        Precondition::Proceed => Ok(()),
        Precondition::NotModified => Err(OssError::new(304, "NotModified", "The source object was not modified.")),
    }
}

/// Streams `len` bytes of an object from `offset`, across its segments. `guard` was taken before
/// the record was read and is held until the stream ends, so no segment is reclaimed under it.
/// The first segment is opened (and its length checked) before this returns, so a blob that is
/// missing or short is an error answer, never a status line followed by a cut-off body.
pub async fn stream_object(
    blobs: Arc<dyn BlobStore>,
    o: &ObjectRecord,
    offset: u64,
    len: u64,
    guard: ReadGuard,
) -> Result<Body, OssError> {
    let mut pieces = Vec::new();
    let (mut pos, end) = (0u64, offset + len);
    for s in &o.segments {
        let (s_start, s_end) = (pos, pos + s.len);
        pos = s_end;
        if s_end <= offset || s_start >= end {
            continue;
        }
        let from = offset.max(s_start) - s_start;
        let to = end.min(s_end) - s_start;
        pieces.push((s.blob.clone(), from, to - from));
    }
    let mut pieces = pieces.into_iter();
    let first = match pieces.next() {
        Some((blob, from, n)) => Some(blobs.read(&blob, from, n).await.map_err(|e| {
            tracing::error!(bucket = %o.bucket, key = %o.key, blob = %blob.0, error = %e, "object bytes unreadable");
            OssError::internal("We encountered an internal error. Please try again.")
        })?),
        None => None,
    };
    let rest = futures_util::stream::iter(pieces).then(move |(blob, from, n)| {
        let blobs = blobs.clone();
        let _held = &guard;
        async move { blobs.read(&blob, from, n).await }
    });
    let readers = futures_util::stream::iter(first.map(Ok)).chain(rest);
    let stream = readers
        .map_ok(|r| tokio_util::io::ReaderStream::with_capacity(r, 256 * 1024))
        .try_flatten()
        .map_ok(Frame::data);
    Ok(BodyExt::boxed_unsync(StreamBody::new(stream)))
}

const OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// Response-header overrides are for signed requests only: anonymous ones could otherwise serve
/// an uploaded file as, say, `text/html` from the API origin (EC 0017-00000902).
fn check_overrides_signed(ctx: &RequestContext) -> Result<(), OssError> {
    if ctx.identity.is_none() && OVERRIDES.iter().any(|(param, _)| ctx.query.get(param).is_some()) {
        return Err(OssError::new(
            400,
            "InvalidRequest",
            "Request specific response headers cannot be used for anonymous GET requests.",
        )
        .with_ec("0017-00000902"));
    }
    Ok(())
}

pub async fn get_object(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
) -> Result<Response<Body>, OssError> {
    let key = ctx.key()?;
    check_overrides_signed(ctx)?;
    // Taken before the record is read: blobs it names stay until the body is sent.
    let guard = state.blobs.read_guard();
    let o = load_readable(state, ctx, bucket, key).await?;
    if let Precondition::NotModified = check_conditions(ctx, &o, "")? {
        let mut r = response::status(304);
        response::set(&mut r, "etag", &format!("\"{}\"", o.etag));
        response::set(&mut r, "last-modified", &http_date(o.last_modified_ms));
        return Ok(r);
    }
    let range = parse_range(ctx.header("range"), o.size);
    let (status, offset, len) = match range {
        RangeRequest::Whole => (200, 0, o.size),
        RangeRequest::Part(a, b) => (206, a, b - a + 1),
        // OSS ignores an unsatisfiable range unless the client opts into standard behaviour.
        RangeRequest::Unsatisfiable if ctx.header("x-oss-range-behavior") != Some("standard") => (200, 0, o.size),
        RangeRequest::Unsatisfiable => {
            return Err(OssError::new(416, "InvalidRange", "The requested range cannot be satisfied.")
                .with("ActualObjectSize", o.size.to_string())
                .with_header("content-range", format!("bytes */{}", o.size)));
        }
    };
    let head = ctx.method == Method::HEAD;
    if !head {
        check_restored(&o)?;
    }
    // OSS compresses whole-object reads of text types for clients that accept gzip; the answer
    // is then chunked, without Content-Length, ETag or Accept-Ranges (HEAD shows the same).
    let gzip = status == 200
        && ctx.header("range").is_none()
        && !o.headers.contains_key("content-encoding")
        && ctx.query.get("response-content-encoding").is_none()
        && accepts_gzip(ctx.header("accept-encoding"))
        && gzip_compressible(&o.content_type, o.size);
    let body = if head || len == 0 {
        response::empty_body()
    } else {
        let body = stream_object(state.blob_store(), &o, offset, len, guard).await?;
        if gzip { response::gzip(body) } else { body }
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response::set(&mut r, "content-type", &o.content_type);
    response::object_headers(&mut r, &o);
    if gzip {
        r.headers_mut().remove("etag");
        response::set(&mut r, "content-encoding", "gzip");
        response::set(&mut r, "vary", "Accept-Encoding");
    } else {
        response::set(&mut r, "accept-ranges", "bytes");
        response::set(&mut r, "content-length", &len.to_string());
    }
    if status == 206 {
        response::set(&mut r, "content-range", &format!("bytes {}-{}/{}", offset, offset + len - 1, o.size));
    }
    for (param, header) in OVERRIDES {
        if let Some(v) = ctx.query.get(param) {
            response::set(&mut r, header, v);
        }
    }
    Ok(r)
}

pub async fn get_object_meta(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
) -> Result<Response<Body>, OssError> {
    let o = load_readable(state, ctx, bucket, ctx.key()?).await?;
    let mut r = response::status(200);
    response::set(&mut r, "etag", &format!("\"{}\"", o.etag));
    response::set(&mut r, "content-length", &o.size.to_string());
    response::set(&mut r, "last-modified", &http_date(o.last_modified_ms));
    response::set(&mut r, "x-oss-last-access-time", &http_date(o.last_modified_ms));
    response::set(&mut r, "x-oss-hash-crc64ecma", &o.crc64.to_string());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Part(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Part(0, 9));
        assert_eq!(parse_range(Some("bytes=3-100"), 10), Part(3, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=a-b"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Whole);
        assert_eq!(parse_range(None, 10), Whole);
    }
}
