//! What every request handler shares.

use ossd_proto::route::VirtualHosts;
use ossd_store::{BlobId, BlobLifecycle, BlobStore, MetaStore};
use std::sync::Arc;

use crate::callbacks::CallbackRuntime;
use crate::credentials::CredentialProvider;
use crate::metrics::Metrics;

/// Settings the service needs (the CLI builds this from flags, environment and config file).
#[derive(Clone)]
pub struct ServerConfig {
    /// Bare region id, e.g. `cn-hangzhou`.
    pub region: String,
    pub vhosts: VirtualHosts,
    /// The root key and, with STS set up, temporary keys (security tokens).
    pub credentials: CredentialProvider,
    /// `host:port` shown as the bucket endpoint in listings (oss2's test harness reuses it).
    pub public_endpoint: String,
    /// `<Owner><ID>` in listings and ACLs: `ossd_proto::names::owner_account_id` of the root key.
    pub owner_id: String,
    /// Connection, timeout and size bounds (see `limits`).
    pub limits: crate::limits::Limits,
    /// How long a RestoreObject takes before an archived object is readable.
    pub restore_delay: std::time::Duration,
}

pub struct AppState {
    pub config: ServerConfig,
    /// Every metadata call is `state.meta.op(..).await`; the implementation decides where the
    /// work runs (SQLite: point lookups inline, writes and listings on the blocking pool).
    pub meta: Arc<dyn MetaStore>,
    /// Blob bytes, behind the lifecycle that decides when they may go (in-flight registry,
    /// reader guards, reclaim, orphan sweep).
    pub blobs: BlobLifecycle,
    /// `None` when callbacks are not configured (then a callback upload answers 203).
    pub callbacks: Option<CallbackRuntime>,
    /// Prometheus metrics, updated by every request.
    pub metrics: Metrics,
    /// Health, metrics and console settings (`/_ossd/...`).
    pub ops: OpsConfig,
}

/// Settings of the service's own endpoints under `/_ossd/`.
#[derive(Clone, Default)]
pub struct OpsConfig {
    /// When set, `/_ossd/metrics` wants `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Names this node in the metadata store's ready probe (a worker lease it writes).
    pub node_id: String,
}

impl std::fmt::Debug for OpsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsConfig")
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "<redacted>"))
            .field("node_id", &self.node_id)
            .finish()
    }
}

impl AppState {
    /// The blob store itself (reads, for streaming).
    pub fn blob_store(&self) -> Arc<dyn BlobStore> {
        self.blobs.store().clone()
    }

    /// Hands blobs that a commit left unreferenced (or that were never published) to the
    /// lifecycle, which removes them once no earlier reader needs them.
    pub async fn reclaim(&self, blobs: Vec<BlobId>) {
        self.blobs.reclaim(blobs).await
    }
}
