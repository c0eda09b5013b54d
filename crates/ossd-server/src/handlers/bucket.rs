//! Bucket operations: create, delete, info, location, ACL, stat.

use super::service::{owner, region};
use super::{read_xml_body, store_error};
use crate::access;
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::xml::{self, BucketEntry};
use ossd_store::{BucketRecord, ListStart};

const MAX_XML_BODY: usize = 64 * 1024;

fn acl_header(ctx: &RequestContext, name: &str) -> Result<Option<String>, OssError> {
    match ctx.header(name) {
        None => Ok(None),
        Some(v) if access::is_bucket_acl(v) => Ok(Some(v.to_string())),
        Some(v) => Err(OssError::invalid_argument(format!("no such bucket access control exists: {v}"))
            .with("ArgumentName", name)
            .with("ArgumentValue", v)),
    }
}

pub async fn put_bucket(state: &AppState, ctx: &RequestContext, body: Incoming) -> Result<Response<Body>, OssError> {
    let name = ctx.bucket()?.to_string();
    let acl = acl_header(ctx, "x-oss-acl")?.unwrap_or_else(|| access::PRIVATE.to_string());
    let text = read_xml_body(state, body, MAX_XML_BODY).await?;
    create_bucket(state, &name, acl, &text).await?;
    let mut r = response::status(200);
    response::set(&mut r, "location", &format!("/{name}"));
    Ok(r)
}

/// Creates bucket `name` with `acl` and the storage class of a CreateBucketConfiguration body
/// (`text`, empty for the default).
async fn create_bucket(state: &AppState, name: &str, acl: String, text: &str) -> Result<(), OssError> {
    let storage_class = if text.trim().is_empty() {
        "Standard".to_string()
    } else {
        let cfg: xml::CreateBucketConfiguration = xml::parse(text)?;
        match cfg.storage_class.as_deref().map(str::trim) {
            None | Some("") => "Standard".to_string(),
            Some(c @ ("Standard" | "IA" | "Archive" | "ColdArchive" | "DeepColdArchive")) => c.to_string(),
            Some(c) => {
                return Err(OssError::new(
                    400,
                    "InvalidStorageClass",
                    format!("The storage class you specified is not valid: {c}"),
                ));
            }
        }
    };
    let rec = BucketRecord {
        name: name.to_string(),
        created_ms: ossd_proto::timefmt::now_ms(),
        acl,
        storage_class,
        cors: None,
        callback_policy: None,
    };
    state.meta.create_bucket(&rec).await.map_err(|e| store_error(e).with("BucketName", name))
}

pub async fn delete_bucket(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let name = ctx.bucket()?;
    state.meta.delete_bucket(name).await.map_err(|e| store_error(e).with("BucketName", name))?;
    Ok(response::status(204))
}

pub fn get_bucket_info(state: &AppState, ctx: &RequestContext, b: &BucketRecord) -> Result<Response<Body>, OssError> {
    let entry = BucketEntry { name: &b.name, created_ms: b.created_ms, storage_class: &b.storage_class };
    let body = xml::bucket_info(&owner(state), &region(state), &entry, &b.acl);
    let _ = ctx;
    Ok(response::xml(200, body))
}

pub fn get_bucket_location(state: &AppState) -> Response<Body> {
    response::xml(200, xml::location(&state.config.region))
}

pub fn get_bucket_acl(state: &AppState, b: &BucketRecord) -> Response<Body> {
    response::xml(200, xml::access_control_policy(&owner(state), &b.acl))
}

/// `PUT /?acl`: the ACL comes in `x-oss-acl`, or (S3-like clients) an AccessControlPolicy body.
/// On a bucket that does not exist (`bucket` is `None`), OSS creates it with that ACL and
/// answers as it does for a change of ACL.
pub async fn put_bucket_acl(
    state: &AppState,
    ctx: &RequestContext,
    bucket: Option<&BucketRecord>,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let acl = match acl_header(ctx, "x-oss-acl")? {
        Some(a) => a,
        None => {
            let text = read_xml_body(state, body, MAX_XML_BODY).await?;
            let policy: xml::AccessControlPolicyRequest = xml::parse(&text)?;
            let grant = policy.acl.grant.trim();
            if !access::is_bucket_acl(grant) {
                return Err(OssError::malformed_xml("The ACL grant is not valid."));
            }
            grant.to_string()
        }
    };
    let name = ctx.bucket()?;
    if bucket.is_none() {
        match create_bucket(state, name, acl.clone(), "").await {
            Ok(()) => return Ok(response::status(200)),
            // Created meanwhile by another request: set its ACL like any other.
            Err(e) if e.code == "BucketAlreadyExists" => {}
            Err(e) => return Err(e),
        }
    }
    state.meta.set_bucket_acl(name, &acl).await.map_err(store_error)?;
    Ok(response::status(200))
}

/// `GET /?stat`: counts by walking the listing in pages (bounded per page).
pub async fn get_bucket_stat(state: &AppState, b: &BucketRecord) -> Result<Response<Body>, OssError> {
    let mut storage = 0u64;
    let mut count = 0u64;
    let mut after: Option<String> = None;
    loop {
        let start = match &after {
            Some(k) => ListStart::After(k),
            None => ListStart::Beginning,
        };
        let page = state.meta.list_object_summaries(&b.name, "", start, 1000).await.map_err(store_error)?;
        count += page.len() as u64;
        storage += page.iter().map(|o| o.size).sum::<u64>();
        if page.len() < 1000 {
            break;
        }
        after = page.last().map(|o| o.key.clone());
    }
    Ok(response::xml(200, xml::bucket_stat(storage, count)))
}

pub fn list_live_channels() -> Response<Body> {
    response::xml(200, xml::empty_live_channels())
}
