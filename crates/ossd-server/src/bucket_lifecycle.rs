//! The bucket lifecycle worker: applies every bucket's lifecycle rules (Expiration by Days,
//! Date or CreatedBeforeDate; AbortMultipartUpload) to the objects and uploads they name by
//! prefix and tags. Deletions take the same path as DeleteObject (one metadata commit, then
//! the freed blobs go to the blob lifecycle's `reclaim`), and only of objects unchanged since
//! they were judged. One runner at a time across nodes,
//! by the `bucket-lifecycle` worker lease. Transitions move objects to a colder storage class
//! (never back), keeping their last-modified time.

use crate::state::AppState;
use ossd_proto::bucket_config::{ConfigKind, Due, LifecycleConfiguration, LifecycleRule};
use ossd_store::{ListStart, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Objects (and uploads) read per store call.
const PAGE: usize = 500;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    pub expired_objects: u64,
    pub aborted_uploads: u64,
    pub transitioned_objects: u64,
}

/// Runs a pass every 1/24 of a `day` (at least every second, at most hourly) while this
/// node holds the lease.
pub async fn run_periodically(state: Arc<AppState>, day: Duration) {
    let interval = (day / 24).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let holder = hex::encode(rand::random::<[u8; 8]>());
    let ttl_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX / 4).saturating_mul(3);
    let day_ms = i64::try_from(day.as_millis()).unwrap_or(i64::MAX / 4);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = ossd_proto::timefmt::now_ms();
        match state.meta.acquire_worker("bucket-lifecycle", &holder, now, ttl_ms).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not take the bucket-lifecycle lease");
                continue;
            }
        }
        match run_pass(&state, now, day_ms).await {
            Ok(s) if s != PassStats::default() => tracing::info!(
                expired_objects = s.expired_objects,
                aborted_uploads = s.aborted_uploads,
                "bucket lifecycle pass"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "bucket lifecycle pass failed"),
        }
    }
}

/// One pass over every bucket with a lifecycle configuration, at `now_ms`, with `day_ms` a day.
pub async fn run_pass(state: &AppState, now_ms: i64, day_ms: i64) -> Result<PassStats, StoreError> {
    let mut stats = PassStats::default();
    let mut after = String::new();
    loop {
        let page = state.meta.list_bucket_configs(ConfigKind::Lifecycle.subresource(), &after, 100).await?;
        for (bucket, body) in &page {
            let Ok(config) = LifecycleConfiguration::parse(body) else { continue };
            for rule in config.rules.iter().filter(|r| r.enabled()) {
                stats.transitioned_objects += transition(state, bucket, rule, now_ms, day_ms).await?;
                stats.expired_objects += expire(state, bucket, rule, now_ms, day_ms).await?;
                stats.aborted_uploads += abort_uploads(state, bucket, rule, now_ms, day_ms).await?;
            }
        }
        match page.last() {
            Some((b, _)) if page.len() == 100 => after = b.clone(),
            _ => return Ok(stats),
        }
    }
}

async fn expire(
    state: &AppState,
    bucket: &str,
    rule: &LifecycleRule,
    now: i64,
    day_ms: i64,
) -> Result<u64, StoreError> {
    let Some(due) = rule.expiration.as_ref().and_then(|e| e.due().ok()) else { return Ok(0) };
    let mut deleted = 0;
    let mut after: Option<String> = None;
    loop {
        let start = after.as_deref().map_or(ListStart::Beginning, ListStart::After);
        let page = state.meta.list_objects(bucket, &rule.prefix, start, PAGE).await?;
        let keys: Vec<(String, i64)> = page
            .iter()
            .filter(|o| rule.applies_to(&o.key, &o.tags) && due.is_due(o.last_modified_ms, now, day_ms))
            .map(|o| (o.key.clone(), o.last_modified_ms))
            .collect();
        if !keys.is_empty() {
            // Only if unchanged since judged: an overwrite in between is a new object.
            let freed = state.meta.delete_objects_unchanged(bucket, &keys).await?;
            state.reclaim(freed).await;
            deleted += keys.len() as u64;
        }
        if page.len() < PAGE {
            return Ok(deleted);
        }
        after = page.last().map(|o| o.key.clone());
    }
}

/// How cold a storage class is (`Standard` 0 ... `DeepColdArchive` 4): transitions only go colder.
fn coldness(class: &str) -> usize {
    ossd_proto::object_class::STORAGE_CLASSES.iter().position(|c| *c == class).unwrap_or(0)
}

/// Transitions: each due object moves to the coldest class among the rule's due transitions,
/// if that is colder than its own (only if unchanged since judged; the last-modified time stays).
async fn transition(
    state: &AppState,
    bucket: &str,
    rule: &LifecycleRule,
    now: i64,
    day_ms: i64,
) -> Result<u64, StoreError> {
    let steps: Vec<(Due, &str)> =
        rule.transitions.iter().filter_map(|t| t.due().ok().map(|d| (d, t.storage_class.as_str()))).collect();
    if steps.is_empty() {
        return Ok(0);
    }
    let mut moved = 0;
    let mut after: Option<String> = None;
    loop {
        let start = after.as_deref().map_or(ListStart::Beginning, ListStart::After);
        let page = state.meta.list_objects(bucket, &rule.prefix, start, PAGE).await?;
        let mut by_class: Vec<(&str, Vec<(String, i64)>)> = Vec::new();
        for o in page.iter().filter(|o| rule.applies_to(&o.key, &o.tags) && o.object_type != "Symlink") {
            let target = steps
                .iter()
                .filter(|(due, _)| due.is_due(o.last_modified_ms, now, day_ms))
                .map(|(_, class)| *class)
                .max_by_key(|c| coldness(c));
            if let Some(class) = target.filter(|c| coldness(c) > coldness(&o.storage_class)) {
                match by_class.iter_mut().find(|(c, _)| *c == class) {
                    Some((_, keys)) => keys.push((o.key.clone(), o.last_modified_ms)),
                    None => by_class.push((class, vec![(o.key.clone(), o.last_modified_ms)])),
                }
            }
        }
        for (class, keys) in &by_class {
            moved += state.meta.transition_objects(bucket, keys, class).await?;
        }
        if page.len() < PAGE {
            return Ok(moved);
        }
        after = page.last().map(|o| o.key.clone());
    }
}

async fn abort_uploads(
    state: &AppState,
    bucket: &str,
    rule: &LifecycleRule,
    now: i64,
    day_ms: i64,
) -> Result<u64, StoreError> {
    let Some(due) = rule.abort_multipart_upload.as_ref().and_then(|a| a.due().ok()) else { return Ok(0) };
    let mut aborted = 0;
    let (mut key_marker, mut id_marker) = (String::new(), String::new());
    loop {
        let page = state.meta.list_uploads(bucket, &rule.prefix, &key_marker, &id_marker, PAGE).await?;
        for u in &page {
            if rule.applies_to(&u.key, &u.tags) && due.is_due(u.initiated_ms, now, day_ms) {
                match state.meta.abort_upload(&u.upload_id).await {
                    Ok(freed) => {
                        state.reclaim(freed).await;
                        aborted += 1;
                    }
                    // Completed or aborted meanwhile.
                    Err(StoreError::NoSuchUpload) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        match page.last() {
            Some(u) if page.len() == PAGE => (key_marker, id_marker) = (u.key.clone(), u.upload_id.clone()),
            _ => return Ok(aborted),
        }
    }
}
