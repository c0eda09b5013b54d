//! PutSymlink, GetSymlink and RestoreObject. Reading through a symlink, and the restore rule for
//! archived objects, live with the readers (`object_read::load_readable`, `check_restored`).

use super::object_write::{forbid_overwrite, publish, write_attrs};
use super::{read_xml_body, store_error};
use crate::access;
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use hyper::body::Incoming;
use md5::{Digest, Md5};
use ossd_proto::OssError;
use ossd_proto::checksum::etag_from_md5;
use ossd_proto::object_class;
use ossd_proto::timefmt::{http_date, now_ms};
use ossd_store::{BucketRecord, ObjectRecord, PutMode, RestoreState};

const MAX_RESTORE_BODY: usize = 16 * 1024;
const DAY_MS: i64 = 86_400_000;

pub async fn put_symlink(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
) -> Result<Response<Body>, OssError> {
    let key = ctx.key()?;
    let raw = ctx.headers.get("x-oss-symlink-target").map(|v| v.as_bytes()).unwrap_or_default();
    let target = object_class::decode_symlink_target(raw)?;
    let attrs = write_attrs(ctx, bucket)?;
    let mode = if forbid_overwrite(ctx) { PutMode::MustNotExist } else { PutMode::Overwrite };
    let record = ObjectRecord {
        bucket: bucket.name.clone(),
        key: key.to_string(),
        segments: Vec::new(),
        size: 0,
        etag: etag_from_md5(&Md5::digest(target.as_bytes())),
        crc64: 0,
        content_md5: String::new(),
        content_type: attrs.content_type,
        last_modified_ms: now_ms(),
        object_type: "Symlink".to_string(),
        acl: attrs.acl,
        headers: attrs.headers,
        tags: attrs.tags,
        storage_class: attrs.storage_class,
        symlink_target: Some(target),
        restore: RestoreState::default(),
        encryption: attrs.encryption,
    };
    let record = publish(state, record, mode, None, None).await?;
    let mut r = response::status(200);
    response::set(&mut r, "etag", &format!("\"{}\"", record.etag));
    Ok(r)
}

pub async fn get_symlink(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
) -> Result<Response<Body>, OssError> {
    let key = ctx.key()?;
    let o = state.meta.get_object(&bucket.name, key).await.map_err(store_error)?;
    let o = o.ok_or_else(|| OssError::no_such_key(key))?;
    if ctx.identity.is_none() {
        access::anonymous_may_read(access::effective_acl(&bucket.acl, &o.acl))?;
    }
    let Some(target) = o.symlink_target.as_deref() else { return Err(object_class::not_symlink()) };
    let mut r = response::status(200);
    response::set(&mut r, "x-oss-symlink-target", &object_class::encode_symlink_target(target));
    response::set(&mut r, "etag", &format!("\"{}\"", o.etag));
    response::set(&mut r, "last-modified", &http_date(o.last_modified_ms));
    response::set(&mut r, "content-type", &o.content_type);
    for (k, v) in o.headers.iter().filter(|(k, _)| k.starts_with("x-oss-meta-")) {
        response::set(&mut r, k, v);
    }
    Ok(r)
}

/// RestoreObject: 202 when a restore starts, 409 while it runs, 200 once restored (the
/// restored copy then stays readable for at least the requested days from now).
pub async fn restore_object(
    state: &AppState,
    ctx: &RequestContext,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let (bucket, key) = (ctx.bucket()?, ctx.key()?);
    let text = read_xml_body(state, body, MAX_RESTORE_BODY).await?;
    let o = state.meta.get_object(bucket, key).await.map_err(store_error)?;
    let o = o.ok_or_else(|| OssError::no_such_key(key))?;
    if !object_class::needs_restore(&o.storage_class) {
        return Err(object_class::restore_not_supported());
    }
    let req = object_class::parse_restore(&text, &o.storage_class)?;
    let now = now_ms();
    let days_ms = i64::from(req.days) * DAY_MS;
    let r = o.restore;
    let (status, restore) = if r.requested() && now < r.ready_ms {
        return Err(object_class::restore_in_progress());
    } else if r.requested() && now < r.expiry_ms {
        (200, RestoreState { ready_ms: r.ready_ms, expiry_ms: r.expiry_ms.max(now + days_ms) })
    } else {
        let ready_ms = now + i64::try_from(state.config.restore_delay.as_millis()).unwrap_or(i64::MAX / 2);
        (202, RestoreState { ready_ms, expiry_ms: ready_ms + days_ms })
    };
    state.meta.set_object_restore(bucket, key, restore).await.map_err(|e| store_error(e).with("Key", key))?;
    let mut resp = response::status(status);
    if o.storage_class != "Archive" {
        response::set(&mut resp, "x-oss-object-restore-priority", req.tier.as_deref().unwrap_or("Standard"));
    }
    Ok(resp)
}
