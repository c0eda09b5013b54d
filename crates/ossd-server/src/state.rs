//! What every request handler shares.

use ossd_proto::route::VirtualHosts;
use ossd_store::{BlobId, BlobStore, MetaStore, StoreError};
use std::sync::Arc;

use crate::callbacks::CallbackRuntime;
use crate::credentials::CredentialProvider;

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
}

pub struct AppState {
    pub config: ServerConfig,
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// `None` when callbacks are not configured (then a callback upload answers 203).
    pub callbacks: Option<CallbackRuntime>,
}

impl AppState {
    /// Runs a metadata call on the blocking pool (SQLite calls block, and commits fsync).
    pub async fn meta<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn MetaStore) -> Result<T, StoreError> + Send + 'static,
    {
        let meta = self.meta.clone();
        tokio::task::spawn_blocking(move || f(meta.as_ref()))
            .await
            .map_err(|e| StoreError::Backend(format!("metadata task failed: {e}")))?
    }

    /// Runs a short metadata *read* (a point lookup) on the calling thread: a lookup in SQLite's
    /// page cache takes microseconds, less than the hand-off to a blocking thread would.
    /// Writes (which fsync) and listings go through [`AppState::meta`].
    pub fn meta_now<T>(&self, f: impl FnOnce(&dyn MetaStore) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(self.meta.as_ref())
    }

    /// Deletes blobs that a commit left unreferenced. Failures only leave an orphan that the
    /// start-up sweep removes, so they are logged, not returned.
    pub async fn reclaim(&self, blobs: Vec<BlobId>) {
        for id in blobs {
            if let Err(e) = self.blobs.delete(&id).await {
                tracing::warn!(blob = %id.0, error = %e, "could not delete unreferenced blob");
            }
        }
    }
}
