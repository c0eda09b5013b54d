//! Bucket configurations: Put/Get/Delete of website, referer, logging, lifecycle, policy,
//! tagging, requestPayment, transferAcceleration, versioning, publicAccessBlock,
//! userDefinedLogFieldsConfig and qos. What each body must be, and what Get answers when
//! nothing is stored, is `ossd_proto::bucket_config`'s; the store keeps the body by kind.

use super::{read_xml_body, store_error};
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::bucket_config::{self, ConfigKind, ConfigOp, MAX_BODY};
use ossd_proto::route::Endpoint;
use ossd_store::BucketRecord;

/// One stored configuration of a bucket.
pub async fn stored(state: &AppState, bucket: &str, kind: ConfigKind) -> Result<Option<String>, OssError> {
    let configs = state.meta.bucket_configs(bucket).await.map_err(store_error)?;
    Ok(configs.into_iter().find(|(k, _)| k == kind.subresource()).map(|(_, b)| b))
}

pub async fn handle(
    state: &AppState,
    ctx: &RequestContext,
    bucket: &BucketRecord,
    kind: ConfigKind,
    op: ConfigOp,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let name = bucket.name.as_str();
    match op {
        ConfigOp::Put => {
            let text = read_xml_body(state, body, MAX_BODY).await?;
            let body = kind.validate(&text)?;
            if kind == ConfigKind::Policy {
                let public = ossd_proto::ram::Policy::parse_bucket_policy(&text).is_ok_and(|p| p.is_public());
                refuse_if_public_blocked(state, name, public).await?;
            }
            if kind == ConfigKind::Logging
                && let Some(target) = bucket_config::logging_target(&text)?
                && state.meta.get_bucket(&target).await.map_err(store_error)?.is_none()
            {
                return Err(OssError::new(
                    400,
                    "InvalidTargetBucketForLogging",
                    "The target bucket for logging does not exist.",
                )
                .with("TargetBucket", target));
            }
            state.meta.set_bucket_config(name, kind.subresource(), body.as_deref()).await.map_err(store_error)?;
            Ok(response::status(200))
        }
        ConfigOp::Get => {
            let body = match stored(state, name, kind).await? {
                Some(b) => b,
                None => kind.when_absent(name)?,
            };
            if kind == ConfigKind::Policy {
                let mut r = response::status(200);
                *r.body_mut() = response::full(body);
                response::set(&mut r, "content-type", "application/json");
                return Ok(r);
            }
            Ok(response::xml(200, body))
        }
        ConfigOp::Delete => {
            // DeleteBucketTags with `tagging=k1,k2` removes only those keys.
            let only = ctx.query.non_empty("tagging").filter(|_| kind == ConfigKind::Tagging);
            let remaining = match (only, stored(state, name, kind).await?) {
                (Some(keys), Some(current)) => {
                    let drop: Vec<&str> = keys.split(',').map(str::trim).collect();
                    let tags: Vec<(String, String)> = bucket_config::parse_tagging(&current)?
                        .into_iter()
                        .filter(|(k, _)| !drop.contains(&k.as_str()))
                        .collect();
                    (!tags.is_empty()).then(|| ossd_proto::xml::tagging(&tags))
                }
                _ => None,
            };
            state.meta.set_bucket_config(name, kind.subresource(), remaining.as_deref()).await.map_err(store_error)?;
            Ok(response::status(204))
        }
    }
}

/// `GET /?policyStatus`: public when a statement allows everybody without conditions (and
/// PublicAccessBlock does not switch such grants off).
pub async fn policy_status(state: &AppState, bucket: &BucketRecord) -> Result<Response<Body>, OssError> {
    let configs = state.meta.bucket_configs(&bucket.name).await.map_err(store_error)?;
    let settings = crate::access::BucketSettings::from_configs(&configs);
    let public = settings.policy.as_ref().is_some_and(|p| p.is_public());
    Ok(response::xml(200, bucket_config::policy_status(public)))
}

/// Operations that add bytes to a bucket, which its storage capacity (`?qos`) limits.
fn adds_bytes(endpoint: Endpoint) -> bool {
    use Endpoint::*;
    matches!(
        endpoint,
        PutObject | AppendObject | CopyObject | PostObject | UploadPart | UploadPartCopy | CompleteMultipartUpload
    )
}

/// The storage-capacity quota: a write whose declared length would take the bucket's objects
/// over the capacity (GB) is refused before any byte is read. Costs one configuration read per
/// write, and a sum over the bucket's objects only when a capacity is set.
pub async fn check_capacity(state: &AppState, ctx: &RequestContext, bucket: &BucketRecord) -> Result<(), OssError> {
    if !adds_bytes(ctx.endpoint) {
        return Ok(());
    }
    let Some(body) = stored(state, &bucket.name, ConfigKind::StorageCapacity).await? else { return Ok(()) };
    let gb = bucket_config::storage_capacity_gb(&body)?;
    if gb < 0 {
        return Ok(());
    }
    let incoming: u64 = ctx.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let used = state.meta.bucket_usage(&bucket.name).await.map_err(store_error)?.bytes;
    let capacity = (gb as u64).saturating_mul(1 << 30);
    if used.saturating_add(incoming) > capacity || (incoming == 0 && used >= capacity && capacity > 0) {
        return Err(bucket_config::capacity_exceeded());
    }
    Ok(())
}

/// Block Public Access refuses new public permissions (a public ACL, a public bucket policy)
/// while it is on, as OSS documents.
pub async fn refuse_if_public_blocked(state: &AppState, bucket: &str, public: bool) -> Result<(), OssError> {
    if !public {
        return Ok(());
    }
    match stored(state, bucket, ConfigKind::PublicAccessBlock).await? {
        Some(body) if bucket_config::blocks_public_access(&body) => {
            Err(OssError::access_denied("Public access is blocked by the bucket's Block Public Access setting."))
        }
        _ => Ok(()),
    }
}
