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
use ossd_proto::bucket_config::{self, ConfigKind};
use ossd_proto::object_class;
use ossd_proto::xml::{self, BucketEntry};
use ossd_store::{BucketRecord, Encryption};

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
    let resource_group = match ctx.header("x-oss-resource-group-id") {
        None => None,
        Some(rg) if bucket_config::is_resource_group_id(rg) => Some(rg.to_string()),
        Some(rg) => {
            return Err(OssError::invalid_argument("The resource group id is not valid.")
                .with("ArgumentName", "x-oss-resource-group-id")
                .with("ArgumentValue", rg));
        }
    };
    let text = read_xml_body(state, body, MAX_XML_BODY).await?;
    create_bucket(state, ctx, &name, acl, &text).await?;
    if let Some(rg) = &resource_group {
        state.meta.set_bucket_config(&name, bucket_config::RESOURCE_GROUP_KIND, Some(rg)).await.map_err(store_error)?;
    }
    let mut r = response::status(200);
    response::set(&mut r, "location", &format!("/{name}"));
    Ok(r)
}

/// Creates bucket `name` with `acl`, the storage class and data redundancy type of a
/// CreateBucketConfiguration body (`text`, empty for the defaults) and the request's default
/// encryption headers.
async fn create_bucket(
    state: &AppState,
    ctx: &RequestContext,
    name: &str,
    acl: String,
    text: &str,
) -> Result<(), OssError> {
    let cfg: xml::CreateBucketConfiguration =
        if text.trim().is_empty() { Default::default() } else { xml::parse(text)? };
    let storage_class = match cfg.storage_class.as_deref().map(str::trim) {
        None | Some("") => "Standard".to_string(),
        Some(c) => object_class::parse_storage_class(c)
            .map_err(|_| {
                OssError::new(400, "InvalidStorageClass", format!("The storage class you specified is not valid: {c}"))
            })?
            .to_string(),
    };
    let data_redundancy_type = match cfg.data_redundancy_type.as_deref().map(str::trim) {
        None | Some("") => "LRS".to_string(),
        Some(d @ ("LRS" | "ZRS")) => d.to_string(),
        Some(d) => {
            return Err(OssError::invalid_argument(format!("The data redundancy type is not valid: {d}"))
                .with("ArgumentName", "DataRedundancyType")
                .with("ArgumentValue", d));
        }
    };
    // `x-oss-server-side-encryption` (with its KMS key id and data encryption) on PutBucket
    // sets the bucket's default rule.
    let encryption = object_class::sse_from_headers(|n| ctx.header(n).map(str::to_string))?.map(encryption_of);
    let rec = BucketRecord {
        name: name.to_string(),
        created_ms: ossd_proto::timefmt::now_ms(),
        acl,
        storage_class,
        cors: None,
        callback_policy: None,
        data_redundancy_type,
        encryption,
    };
    state.meta.create_bucket(&rec).await.map_err(|e| store_error(e).with("BucketName", name))
}

/// The stored form of a validated encryption rule.
pub fn encryption_of(s: object_class::Sse) -> Encryption {
    Encryption { algorithm: s.algorithm, key_id: s.key_id, data_encryption: s.data_encryption }
}

fn sse_of(e: &Encryption) -> object_class::Sse {
    object_class::Sse {
        algorithm: e.algorithm.clone(),
        key_id: e.key_id.clone(),
        data_encryption: e.data_encryption.clone(),
    }
}

pub async fn put_bucket_encryption(
    state: &AppState,
    ctx: &RequestContext,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let text = read_xml_body(state, body, MAX_XML_BODY).await?;
    let rule = encryption_of(object_class::parse_bucket_encryption(&text)?);
    state.meta.set_bucket_encryption(ctx.bucket()?, Some(&rule)).await.map_err(store_error)?;
    Ok(response::status(200))
}

pub fn get_bucket_encryption(b: &BucketRecord) -> Result<Response<Body>, OssError> {
    match &b.encryption {
        Some(e) => Ok(response::xml(200, object_class::bucket_encryption_xml(&sse_of(e)))),
        None => Err(object_class::no_encryption_rule(&b.name)),
    }
}

pub async fn delete_bucket_encryption(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    state.meta.set_bucket_encryption(ctx.bucket()?, None).await.map_err(store_error)?;
    Ok(response::status(204))
}

pub async fn delete_bucket(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let name = ctx.bucket()?;
    state.meta.delete_bucket(name).await.map_err(|e| store_error(e).with("BucketName", name))?;
    Ok(response::status(204))
}

/// The bucket's resource group: the one PutBucket named, else the account's default.
pub fn resource_group_of(state: &AppState, configs: &[(String, String)]) -> String {
    configs
        .iter()
        .find(|(k, _)| k == bucket_config::RESOURCE_GROUP_KIND)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| bucket_config::default_resource_group_id(&state.config.owner_id))
}

pub async fn get_bucket_info(state: &AppState, b: &BucketRecord) -> Result<Response<Body>, OssError> {
    let configs = state.meta.bucket_configs(&b.name).await.map_err(store_error)?;
    let get = |kind: ConfigKind| configs.iter().find(|(k, _)| k == kind.subresource()).map(|(_, v)| v.as_str());
    let logging = get(ConfigKind::Logging).and_then(|body| xml::parse::<bucket_config::BucketLoggingStatus>(body).ok());
    let logging = logging.and_then(|l| l.logging_enabled);
    let versioning = get(ConfigKind::Versioning).and_then(bucket_config::versioning_status);
    let resource_group_id = resource_group_of(state, &configs);
    let extras = xml::BucketInfoExtras {
        resource_group_id: &resource_group_id,
        transfer_acceleration: get(ConfigKind::TransferAcceleration)
            .is_some_and(bucket_config::transfer_acceleration_enabled),
        versioning: versioning.as_deref(),
        block_public_access: get(ConfigKind::PublicAccessBlock).is_some_and(bucket_config::blocks_public_access),
        log_bucket: logging.as_ref().map_or("", |l| l.target_bucket.as_str()),
        log_prefix: logging.as_ref().map_or("", |l| l.target_prefix.as_str()),
    };
    let sse = b.encryption.as_ref().map(sse_of);
    let entry = BucketEntry {
        name: &b.name,
        created_ms: b.created_ms,
        storage_class: &b.storage_class,
        resource_group_id: None,
        data_redundancy_type: &b.data_redundancy_type,
        encryption: sse.as_ref(),
    };
    let body = xml::bucket_info(&owner(state), &region(state), &entry, &b.acl, &extras);
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
    super::bucket_config::refuse_if_public_blocked(state, name, acl != access::PRIVATE).await?;
    if bucket.is_none() {
        match create_bucket(state, ctx, name, acl.clone(), "").await {
            Ok(()) => return Ok(response::status(200)),
            // Created meanwhile by another request: set its ACL like any other.
            Err(e) if e.code == "BucketAlreadyExists" => {}
            Err(e) => return Err(e),
        }
    }
    state.meta.set_bucket_acl(name, &acl).await.map_err(store_error)?;
    Ok(response::status(200))
}

/// `GET /?stat`: bytes and objects from one aggregate read; multipart uploads counted a page
/// at a time (bounded per page).
pub async fn get_bucket_stat(state: &AppState, b: &BucketRecord) -> Result<Response<Body>, OssError> {
    let usage = state.meta.bucket_usage(&b.name).await.map_err(store_error)?;
    let mut uploads = 0u64;
    let (mut key, mut id) = (String::new(), String::new());
    loop {
        let page = state.meta.list_uploads(&b.name, "", &key, &id, 1000).await.map_err(store_error)?;
        uploads += page.len() as u64;
        match page.last() {
            Some(u) if page.len() == 1000 => (key, id) = (u.key.clone(), u.upload_id.clone()),
            _ => break,
        }
    }
    let stat = xml::BucketStat {
        storage: usage.bytes,
        objects: usage.objects,
        multipart_uploads: uploads,
        last_modified_secs: usage.last_modified_ms / 1000,
        by_class: usage.by_class,
    };
    Ok(response::xml(200, xml::bucket_stat(&stat)))
}

pub fn list_live_channels() -> Response<Body> {
    response::xml(200, xml::empty_live_channels())
}
