//! Service-level operations: ListBuckets, and the callback public key.

use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use ossd_proto::OssError;
use ossd_proto::bucket_config::{self, ConfigKind};
use ossd_proto::xml::{self, BucketEntry, ListBucketsPage, Owner, RegionInfo};
use ossd_store::BucketRecord;

/// The bucket owner: an opaque account id, never the root AccessKeyId.
pub fn owner(state: &AppState) -> Owner<'_> {
    Owner { id: &state.config.owner_id, display_name: &state.config.owner_id }
}

pub fn region(state: &AppState) -> RegionInfo<'_> {
    RegionInfo { region: &state.config.region, endpoint: &state.config.public_endpoint }
}

/// ListBuckets: by prefix and marker; with `tag-key` (and `tag-value`) or the
/// `x-oss-resource-group-id` header, only the buckets that match (each bucket's
/// configurations read once; pages are scanned until the page is full).
pub async fn list_buckets(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let prefix = ctx.query.get("prefix").unwrap_or("").to_string();
    let marker = ctx.query.get("marker").unwrap_or("").to_string();
    let max_keys = super::list::parse_max_keys(ctx.query.non_empty("max-keys"), 100)?;
    let tag_key = ctx.query.non_empty("tag-key");
    let tag_value = ctx.query.non_empty("tag-value");
    if tag_value.is_some() && tag_key.is_none() {
        return Err(OssError::invalid_argument("tag-value needs tag-key.")
            .with("ArgumentName", "tag-value")
            .with("ArgumentValue", tag_value.unwrap_or("")));
    }
    let group = ctx.header("x-oss-resource-group-id").filter(|g| !g.is_empty());
    let filtered = tag_key.is_some() || group.is_some();
    let mut chosen: Vec<(BucketRecord, Option<String>)> = Vec::new();
    let mut after = marker.clone();
    let mut truncated = false;
    loop {
        let page = state.meta.list_buckets(&prefix, &after, max_keys + 1).await.map_err(super::store_error)?;
        let exhausted = page.len() <= max_keys;
        for b in page {
            after = b.name.clone();
            let rg = if filtered {
                let configs = state.meta.bucket_configs(&b.name).await.map_err(super::store_error)?;
                let tags = configs
                    .iter()
                    .find(|(k, _)| k == ConfigKind::Tagging.subresource())
                    .and_then(|(_, body)| bucket_config::parse_tagging(body).ok())
                    .unwrap_or_default();
                let tag_ok =
                    tag_key.is_none_or(|k| tags.iter().any(|(tk, tv)| tk == k && tag_value.is_none_or(|v| tv == v)));
                let rg = super::bucket::resource_group_of(state, &configs);
                if !tag_ok || group.is_some_and(|g| g != rg) {
                    continue;
                }
                group.map(|_| rg)
            } else {
                None
            };
            if chosen.len() == max_keys {
                truncated = true;
                break;
            }
            chosen.push((b, rg));
        }
        if truncated || exhausted {
            break;
        }
    }
    let next_marker = if truncated { chosen.last().map(|(b, _)| b.name.clone()) } else { None };
    let entries: Vec<BucketEntry> = chosen
        .iter()
        .map(|(b, rg)| BucketEntry {
            name: &b.name,
            created_ms: b.created_ms,
            storage_class: &b.storage_class,
            resource_group_id: rg.as_deref(),
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
