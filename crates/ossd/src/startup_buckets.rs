//! `--bucket` and `[[buckets]]`: buckets created before the port opens (so a ready server has
//! them). Idempotent: an existing bucket keeps its objects; an ACL or CORS rules given in the
//! configuration are applied to it, so the configuration describes the bucket.

use crate::config::BucketSpec;
use ossd_store::{BucketRecord, MetaStore, StoreError};

pub async fn ensure(meta: &dyn MetaStore, specs: &[BucketSpec]) -> Result<(), String> {
    for b in specs {
        let fail = |e: StoreError| format!("cannot set up bucket {}: {e}", b.name);
        match meta.get_bucket(&b.name).await.map_err(fail)? {
            None => {
                let record = BucketRecord {
                    name: b.name.clone(),
                    created_ms: ossd_proto::timefmt::now_ms(),
                    acl: b.acl.clone().unwrap_or_else(|| "private".into()),
                    storage_class: "Standard".into(),
                    cors: None,
                    callback_policy: None,
                    data_redundancy_type: "LRS".into(),
                    encryption: None,
                };
                match meta.create_bucket(&record).await {
                    Ok(()) => tracing::info!(bucket = %b.name, acl = %record.acl, "created bucket"),
                    // Another node sharing the store created it first.
                    Err(StoreError::BucketExists) => {}
                    Err(e) => return Err(fail(e)),
                }
            }
            Some(existing) => {
                if let Some(acl) = b.acl.as_ref().filter(|acl| **acl != existing.acl) {
                    meta.set_bucket_acl(&b.name, acl).await.map_err(fail)?;
                    tracing::info!(bucket = %b.name, acl = %acl, "set bucket ACL");
                }
            }
        }
        if let Some(cors) = &b.cors {
            let json = serde_json::to_string(cors).map_err(|e| e.to_string())?;
            meta.set_bucket_cors(&b.name, Some(&json)).await.map_err(fail)?;
        }
    }
    Ok(())
}
