//! `BlobLifecycle`: the one component that decides when a blob's bytes may be removed.
//!
//! A blob is, in order: **in flight** (registered here before its first byte is written, until
//! the request that writes it has published it or given up), **live** (referenced by metadata:
//! the `MetaStore` counts references and refuses to reference a blob that is no longer live),
//! then **unreferenced** (a commit dropped its last reference and handed it back) and finally
//! **reclaimed** (its bytes removed). Reclaiming goes through [`BlobLifecycle::reclaim`] only,
//! which waits for every reader that started before the blob became unreferenced:
//!
//! - Readers take a [`ReadGuard`] *before* they read the metadata that names the blobs, and keep
//!   it until the last byte is sent. Each guard carries the epoch in which it started.
//! - `reclaim` stamps the blobs with the current epoch and advances it. The blobs go at once if
//!   no reader of that epoch or an earlier one is active, else when the last such reader ends.
//!   A reader that starts later read metadata after the commit, so it cannot name these blobs.
//!
//! This is correct by construction, not by timing: a slow reader delays the reclaim of blobs
//! freed after it started (their space comes back when it finishes), never the other way round.
//! The guards are per process; blob stores shared by several nodes need a time-based grace
//! period on top (see ARCHITECTURE.md).
//!
//! The orphan sweep ([`BlobLifecycle::sweep`]) removes blobs that are neither referenced nor in
//! flight: left by a crash between writing and publishing, or between a commit and its reclaim.

use crate::blob::{BlobId, BlobStore, BlobWriter, NodeId};
use crate::meta::{ListStart, MetaStore};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Clone)]
pub struct BlobLifecycle {
    shared: Arc<Shared>,
}

struct Shared {
    blobs: Arc<dyn BlobStore>,
    node: NodeId,
    /// Blob stores shared with other nodes: their readers hold no guard here, so freed bytes
    /// wait this long before they go (zero for a store this node owns alone).
    grace: Duration,
    inflight: Mutex<HashSet<BlobId>>,
    readers: Mutex<Readers>,
}

#[derive(Default)]
struct Readers {
    /// The epoch new readers start in; `reclaim` advances it.
    epoch: u64,
    /// Active readers per start epoch.
    active: BTreeMap<u64, usize>,
    /// Blobs waiting for the readers of their epoch and earlier, oldest first.
    deferred: VecDeque<(u64, Vec<BlobId>)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new blob being written, registered as in flight until this value is dropped.
pub struct NewBlob {
    pub writer: Box<dyn BlobWriter>,
    pub lease: InflightLease,
}

/// Keeps a blob out of the orphan sweep while the request that writes it runs. Drop it only
/// after the blob is published (referenced) or has been given up and reclaimed.
pub struct InflightLease {
    id: BlobId,
    shared: Arc<Shared>,
}

impl Drop for InflightLease {
    fn drop(&mut self) {
        lock(&self.shared.inflight).remove(&self.id);
    }
}

/// Held by a reader from before its metadata read until its last byte: blobs unreferenced
/// after it started are not removed before it ends.
pub struct ReadGuard {
    epoch: u64,
    shared: Arc<Shared>,
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        let due = {
            let mut r = lock(&self.shared.readers);
            if let Some(n) = r.active.get_mut(&self.epoch) {
                *n -= 1;
                if *n == 0 {
                    r.active.remove(&self.epoch);
                }
            }
            let oldest = r.active.keys().next().copied().unwrap_or(u64::MAX);
            let mut due = Vec::new();
            while r.deferred.front().is_some_and(|(e, _)| *e < oldest) {
                if let Some((_, blobs)) = r.deferred.pop_front() {
                    due.extend(blobs);
                }
            }
            due
        };
        if due.is_empty() {
            return;
        }
        let (blobs, grace) = (self.shared.blobs.clone(), self.shared.grace);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    tokio::time::sleep(grace).await;
                    delete_all(blobs.as_ref(), due).await
                });
            }
            Err(_) => tracing::warn!(count = due.len(), "no runtime to reclaim blobs; the sweep will"),
        }
    }
}

async fn delete_all(blobs: &dyn BlobStore, ids: Vec<BlobId>) -> usize {
    let mut removed = 0;
    for id in ids {
        match blobs.delete(&id).await {
            Ok(()) => removed += 1,
            // Only an orphan is left; the sweep removes it later.
            Err(e) => tracing::warn!(blob = %id.0, error = %e, "could not delete unreferenced blob"),
        }
    }
    removed
}

impl BlobLifecycle {
    /// A lifecycle for a blob store this node owns alone (no grace period).
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self::shared(blobs, NodeId::random(), Duration::ZERO)
    }

    /// A lifecycle for node `node` of a blob store that other nodes may read too: freed blobs
    /// wait `grace` after the last local reader (readers on other nodes hold no guard here).
    pub fn shared(blobs: Arc<dyn BlobStore>, node: NodeId, grace: Duration) -> Self {
        BlobLifecycle {
            shared: Arc::new(Shared { blobs, node, grace, inflight: Mutex::default(), readers: Mutex::default() }),
        }
    }

    pub fn node(&self) -> &NodeId {
        &self.shared.node
    }

    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.shared.blobs
    }

    /// Starts a new blob with a fresh id, registered as in flight before anything is written.
    pub async fn create(&self) -> io::Result<NewBlob> {
        let id = BlobId::for_node(&self.shared.node);
        lock(&self.shared.inflight).insert(id.clone());
        let lease = InflightLease { id: id.clone(), shared: self.shared.clone() };
        let writer = self.shared.blobs.create(&id).await?;
        Ok(NewBlob { writer, lease })
    }

    /// Registers a reader; take it before reading the metadata that names the blobs.
    pub fn read_guard(&self) -> ReadGuard {
        let mut r = lock(&self.shared.readers);
        let epoch = r.epoch;
        *r.active.entry(epoch).or_default() += 1;
        ReadGuard { epoch, shared: self.shared.clone() }
    }

    /// Removes blobs that a commit left unreferenced (or that were never published): now, or,
    /// while a reader that started earlier is active, when the last such reader ends. Failures
    /// only leave an orphan for the sweep, so they are logged, not returned.
    pub async fn reclaim(&self, blobs: Vec<BlobId>) {
        if blobs.is_empty() {
            return;
        }
        {
            let mut r = lock(&self.shared.readers);
            let epoch = r.epoch;
            r.epoch += 1;
            if r.active.keys().next().is_some_and(|oldest| *oldest <= epoch) {
                r.deferred.push_back((epoch, blobs));
                return;
            }
        }
        if self.shared.grace.is_zero() {
            delete_all(self.shared.blobs.as_ref(), blobs).await;
        } else {
            // A node that dies before the grace ends leaves orphans; the sweep removes them.
            let (store, grace) = (self.shared.blobs.clone(), self.shared.grace);
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                delete_all(store.as_ref(), blobs).await
            });
        }
    }

    /// Blob ids registered as in flight now.
    fn inflight(&self) -> HashSet<BlobId> {
        lock(&self.shared.inflight).clone()
    }

    /// Reclaims blobs that metadata does not reference and no request is writing, among those
    /// not written to for `idle_for` (an extra margin; correctness rests on the in-flight
    /// registry). Order matters: blobs are listed first, then the in-flight set is taken, then
    /// the referenced set is read, so a blob published in between is seen as in flight or as
    /// referenced. Returns how many were reclaimed.
    pub async fn sweep(&self, meta: &dyn MetaStore, idle_for: Duration, scope: SweepScope) -> Result<usize, String> {
        let candidates = self.shared.blobs.list(idle_for).await.map_err(|e| format!("cannot list blobs: {e}"))?;
        if candidates.is_empty() {
            return Ok(0);
        }
        let inflight = self.inflight();
        let referenced = referenced_set(meta).await?;
        let mut orphans: Vec<BlobId> =
            candidates.into_iter().filter(|id| !inflight.contains(id) && !referenced.contains(id)).collect();
        if let SweepScope::OwnAndDeadNodes { now_ms } = scope {
            // Another node's blobs are covered by that node's in-flight registry while it lives
            // (its heartbeat lease holds); a node whose lease lapsed has nothing in flight. The
            // referenced set is read again after that is known, for blobs such a node
            // published before it died.
            let mut alive: std::collections::HashMap<NodeId, bool> = std::collections::HashMap::new();
            let mut kept = Vec::with_capacity(orphans.len());
            for id in orphans {
                let node = id.node();
                let is_alive = if node == self.shared.node {
                    false
                } else if let Some(a) = alive.get(&node) {
                    *a
                } else {
                    let a = node_alive(meta, &node, &self.shared.node, now_ms).await?;
                    alive.insert(node.clone(), a);
                    a
                };
                if !is_alive {
                    kept.push(id);
                }
            }
            let referenced = referenced_set(meta).await?;
            orphans = kept.into_iter().filter(|id| !referenced.contains(id)).collect();
        }
        let n = orphans.len();
        if n > 0 {
            tracing::info!(orphans = n, "reclaiming orphaned blobs");
        }
        self.reclaim(orphans).await;
        Ok(n)
    }

    /// After an unclean stop with relaxed durability, the metadata may have outlived the bytes
    /// of the last uploads (the page cache was lost). Finds every object whose blobs are missing
    /// or short and removes its record, so that it answers as absent instead of serving a torn
    /// body. Returns the `(bucket, key)` pairs removed. Runs before the port opens.
    pub async fn drop_torn_objects(&self, meta: &dyn MetaStore) -> Result<Vec<(String, String)>, String> {
        let mut torn = Vec::new();
        let mut bucket_marker = String::new();
        loop {
            let buckets = meta.list_buckets("", &bucket_marker, 1000).await.map_err(|e| e.to_string())?;
            for b in &buckets {
                let mut after: Option<String> = None;
                loop {
                    let start = after.as_deref().map_or(ListStart::Beginning, ListStart::After);
                    let page = meta.list_objects(&b.name, "", start, 1000).await.map_err(|e| e.to_string())?;
                    for o in &page {
                        let mut whole = true;
                        for s in &o.segments {
                            let len = self.shared.blobs.len(&s.blob).await.map_err(|e| e.to_string())?;
                            whole &= len.is_some_and(|n| n >= s.len);
                        }
                        if !whole {
                            tracing::error!(bucket = %o.bucket, key = %o.key,
                                "object lost in an unclean stop (relaxed durability): its bytes are missing or short; removed");
                            let freed = meta.delete_object(&o.bucket, &o.key).await.map_err(|e| e.to_string())?;
                            self.reclaim(freed).await;
                            torn.push((o.bucket.clone(), o.key.clone()));
                        }
                    }
                    if page.len() < 1000 {
                        break;
                    }
                    after = page.last().map(|o| o.key.clone());
                }
            }
            if buckets.len() < 1000 {
                break;
            }
            bucket_marker = buckets.last().map(|b| b.name.clone()).unwrap_or_default();
        }
        Ok(torn)
    }
}

/// Which blobs a sweep may consider.
#[derive(Debug, Clone, Copy)]
pub enum SweepScope {
    /// Every blob: the store belongs to this node alone (the embedded default).
    All,
    /// This node's blobs and those of nodes whose heartbeat lease lapsed (a shared store).
    OwnAndDeadNodes { now_ms: i64 },
}

async fn referenced_set(meta: &dyn MetaStore) -> Result<HashSet<BlobId>, String> {
    Ok(meta.referenced_blobs().await.map_err(|e| e.to_string())?.into_iter().collect())
}

/// The worker-lease name of a node's heartbeat.
pub fn heartbeat_name(node: &NodeId) -> String {
    format!("node:{}", node.0)
}

/// Whether `node`'s heartbeat lease still holds. Probing takes a lapsed lease with a zero
/// lifetime (harmless: a node that comes back renews it).
async fn node_alive(meta: &dyn MetaStore, node: &NodeId, me: &NodeId, now_ms: i64) -> Result<bool, String> {
    let probe = format!("sweeper:{}", me.0);
    let took = meta.acquire_worker(&heartbeat_name(node), &probe, now_ms, 0).await.map_err(|e| e.to_string())?;
    Ok(!took)
}
