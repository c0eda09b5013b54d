//! Building responses: bodies, object headers and error answers.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use ossd_proto::OssError;
use ossd_store::{Encryption, ObjectRecord, RestoreState};

pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

pub fn empty_body() -> Body {
    full(Bytes::new())
}

pub fn status(code: u16) -> Response<Body> {
    let mut r = Response::new(empty_body());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    r
}

pub fn xml(code: u16, body: String) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    set(&mut r, "content-type", "application/xml");
    r
}

/// Sets a header, dropping values that cannot be header values.
pub fn set(r: &mut Response<Body>, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value.as_bytes())) {
        r.headers_mut().insert(n, v);
    }
}

/// The error answer. HEAD answers carry no body; OSS puts the error XML, base64, in `x-oss-err`.
pub fn error(err: &OssError, request_id: &str, host_id: &str, head: bool) -> Response<Body> {
    use base64::Engine;
    let body = err.to_xml(request_id, host_id);
    let mut r = if head {
        let mut r = status(err.status);
        let b64 = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
        set(&mut r, "x-oss-err", &b64);
        r
    } else {
        xml(err.status, body)
    };
    if let Some(ec) = &err.ec {
        set(&mut r, "x-oss-ec", ec);
    }
    for (name, value) in &err.headers {
        set(&mut r, name, value);
    }
    r
}

/// ETag, CRC, type, metadata and stored headers of an object (for GET, HEAD and uploads).
pub fn object_headers(r: &mut Response<Body>, o: &ObjectRecord) {
    set(r, "etag", &format!("\"{}\"", o.etag));
    set(r, "x-oss-hash-crc64ecma", &o.crc64.to_string());
    set(r, "last-modified", &ossd_proto::timefmt::http_date(o.last_modified_ms));
    set(r, "x-oss-object-type", &o.object_type);
    set(r, "x-oss-storage-class", &o.storage_class);
    encryption_headers(r, &o.encryption);
    if let Some(v) = restore_info(&o.restore, ossd_proto::timefmt::now_ms()) {
        set(r, "x-oss-restore", &v);
    }
    for (k, v) in &o.headers {
        set(r, k, v);
    }
    if !o.tags.is_empty() {
        set(r, "x-oss-tagging-count", &o.tags.len().to_string());
    }
    if o.object_type == "Appendable" {
        set(r, "x-oss-next-append-position", &o.size.to_string());
    }
}

/// The headers an upload answer carries (PutObject, AppendObject, and callback answers).
pub fn upload_headers(r: &mut Response<Body>, o: &ObjectRecord) {
    set(r, "etag", &format!("\"{}\"", o.etag));
    encryption_headers(r, &o.encryption);
    set(r, "x-oss-hash-crc64ecma", &o.crc64.to_string());
    if !o.content_md5.is_empty() {
        set(r, "content-md5", &o.content_md5);
    }
}

/// `x-oss-server-side-encryption` and its companions, when the object (or part's upload) is
/// encrypted.
pub fn encryption_headers(r: &mut Response<Body>, e: &Encryption) {
    let sse = ossd_proto::object_class::Sse {
        algorithm: e.algorithm.clone(),
        key_id: e.key_id.clone(),
        data_encryption: e.data_encryption.clone(),
    };
    for (name, value) in ossd_proto::object_class::sse_response_headers(&sse) {
        set(r, name, value);
    }
}

/// `x-oss-restore` / `RestoreInfo` at `now_ms`: while a restore runs, and until the restored copy
/// expires (then the object is archived again and shows nothing).
pub fn restore_info(restore: &RestoreState, now_ms: i64) -> Option<String> {
    (restore.requested() && now_ms < restore.expiry_ms)
        .then(|| ossd_proto::object_class::restore_header(now_ms < restore.ready_ms, restore.expiry_ms))
}
