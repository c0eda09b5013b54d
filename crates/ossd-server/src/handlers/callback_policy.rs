//! Bucket callback policies: Put/Get/DeleteBucketCallbackPolicy (`?policy&comp=callback`).
//! The document and its checks live in `ossd_callback::policy`; uploads that name a policy
//! are resolved in `crate::callbacks`.

use super::{read_xml_body, store_error};
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use hyper::body::Incoming;
use ossd_callback::policy::BucketCallbackPolicy;
use ossd_proto::OssError;
use ossd_store::BucketRecord;

/// Largest accepted PutBucketCallbackPolicy body: 100 policies of two 5 KB parameters each.
const MAX_BODY: usize = 1024 * 1024;

/// The bucket's stored policies, if any.
pub fn stored(bucket: &BucketRecord) -> Option<BucketCallbackPolicy> {
    bucket.callback_policy.as_deref().and_then(|j| serde_json::from_str(j).ok())
}

pub async fn put(state: &AppState, ctx: &RequestContext, body: Incoming) -> Result<Response<Body>, OssError> {
    let text = read_xml_body(state, body, MAX_BODY).await?;
    let policy = BucketCallbackPolicy::from_xml(&text)?;
    let json = serde_json::to_string(&policy).map_err(|e| OssError::internal(e.to_string()))?;
    let name = ctx.bucket()?.to_string();
    state.meta.set_bucket_callback_policy(&name, Some(&json)).await.map_err(store_error)?;
    Ok(response::status(200))
}

pub fn get(bucket: &BucketRecord) -> Result<Response<Body>, OssError> {
    // The code oss2's test expects after a delete.
    let policy = stored(bucket).ok_or_else(|| {
        OssError::new(404, "BucketCallbackPolicyNotExist", "The bucket callback policy does not exist.")
            .with("BucketName", bucket.name.clone())
    })?;
    Ok(response::xml(200, policy.to_xml()))
}

pub async fn delete(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let name = ctx.bucket()?.to_string();
    state.meta.set_bucket_callback_policy(&name, None).await.map_err(store_error)?;
    Ok(response::status(204))
}
