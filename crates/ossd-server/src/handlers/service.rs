//! Service-level operations: ListBuckets, and the callback public key.

use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use ossd_proto::OssError;
use ossd_proto::xml::{self, BucketEntry, ListBucketsPage, Owner, RegionInfo};

/// The bucket owner: an opaque account id, never the root AccessKeyId.
pub fn owner(state: &AppState) -> Owner<'_> {
    Owner { id: &state.config.owner_id, display_name: &state.config.owner_id }
}

pub fn region(state: &AppState) -> RegionInfo<'_> {
    RegionInfo { region: &state.config.region, endpoint: &state.config.public_endpoint }
}

pub async fn list_buckets(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let prefix = ctx.query.get("prefix").unwrap_or("").to_string();
    let marker = ctx.query.get("marker").unwrap_or("").to_string();
    let max_keys = super::list::parse_max_keys(ctx.query.non_empty("max-keys"), 100)?;
    let mut buckets = state.meta.list_buckets(&prefix, &marker, max_keys + 1).await.map_err(super::store_error)?;
    let truncated = buckets.len() > max_keys;
    buckets.truncate(max_keys);
    let next_marker = if truncated { buckets.last().map(|b| b.name.clone()) } else { None };
    let entries: Vec<BucketEntry> = buckets
        .iter()
        .map(|b| BucketEntry {
            name: &b.name,
            created_ms: b.created_ms,
            storage_class: &b.storage_class,
            data_redundancy_type: &b.data_redundancy_type,
            encryption: None,
        })
        .collect();
    let page = ListBucketsPage { prefix: &prefix, marker: &marker, max_keys, next_marker: next_marker.as_deref() };
    Ok(response::xml(200, xml::list_buckets(&owner(state), &region(state), &page, &entries)))
}

/// The PEM public key receivers fetch through `x-oss-pub-key-url`.
pub fn callback_public_key(state: &AppState) -> Result<Response<Body>, OssError> {
    let rt =
        state.callbacks.as_ref().ok_or_else(|| OssError::new(404, "NoSuchKey", "Callbacks are not configured."))?;
    let mut r = Response::new(response::full(rt.public_key_pem.clone()));
    response::set(&mut r, "content-type", "application/x-pem-file");
    Ok(r)
}
