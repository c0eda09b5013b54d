//! Opening the stores a configuration names: the one place that maps `--meta` and `--blobs` to
//! a `MetaStore` and a `BlobStore` (the server and the CLI both open them here).

use crate::config::Settings;
use ossd_store::{BlobStore, LocalBlobStore, MetaStore, NodeId, PostgresMetaStore, SqliteMetaStore};
use std::sync::Arc;

/// The metadata store: the embedded SQLite database in the data directory, or PostgreSQL.
/// `must_exist`: refuse to create an empty embedded database (the CLI reads an existing one).
pub async fn open_meta(settings: &Settings, must_exist: bool) -> Result<Arc<dyn MetaStore>, String> {
    match settings.meta.as_deref() {
        None => {
            let path = settings.data.join("meta.sqlite");
            if must_exist && !path.exists() {
                return Err(format!("no ossd data at {}", settings.data.display()));
            }
            let meta = SqliteMetaStore::open(&path, settings.fsync).map_err(|e| e.to_string())?;
            Ok(Arc::new(meta))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let meta = PostgresMetaStore::connect(url)
                .await
                .map_err(|e| format!("cannot open the PostgreSQL metadata store: {e}"))?;
            Ok(Arc::new(meta))
        }
        Some(other) => {
            let scheme = other.split("://").next().unwrap_or(other);
            Err(format!("--meta must be a postgres:// URL (or absent for the embedded store), not {scheme}://..."))
        }
    }
}

/// Checks that a setting every node must share (by a one-way fingerprint, never the secret
/// itself) agrees with what the first node recorded in a shared metadata store.
pub async fn check_shared_setting(settings: &Settings, name: &str, fingerprint: &str) -> Result<(), String> {
    let Some(url) = settings.meta.as_deref() else { return Ok(()) };
    let meta = PostgresMetaStore::connect(url).await.map_err(|e| e.to_string())?;
    match meta.check_cluster_setting(name, fingerprint).await.map_err(|e| e.to_string())? {
        Ok(()) => Ok(()),
        Err(_) => Err(format!(
            "this node's {name} differs from the one the other nodes sharing this metadata store use \
             (compare SHA-256 fingerprints; give every node the same {name})"
        )),
    }
}

/// The blob store: `DATA/blobs`, the directory `--blobs` names, or an S3-compatible store
/// (`s3://BUCKET/PREFIX?endpoint=URL&region=REGION`).
pub fn open_blobs(settings: &Settings) -> Result<Arc<dyn BlobStore>, String> {
    let root = match settings.blobs.as_deref() {
        None => settings.data.join("blobs"),
        Some(url) if url.starts_with("s3://") => {
            return Ok(Arc::new(ossd_store::S3BlobStore::open(url, settings.s3_credentials.as_ref())?));
        }
        Some(dir) => std::path::PathBuf::from(dir),
    };
    let blobs = LocalBlobStore::open(root.clone(), settings.fsync)
        .map_err(|e| format!("cannot open the blob store {}: {e}", root.display()))?;
    Ok(Arc::new(blobs))
}

/// This node's id, kept in `DATA/node_id` (created on first start), so that after a restart the
/// node recognises the blobs it made before.
pub fn node_id(data: &std::path::Path) -> Result<NodeId, String> {
    let path = data.join("node_id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return NodeId::parse(&text).ok_or_else(|| format!("{} does not hold a node id", path.display()));
    }
    let node = NodeId::random();
    std::fs::write(&path, format!("{}\n", node.0)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(node)
}
