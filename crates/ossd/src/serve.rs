//! `ossd serve`: open the stores, sweep orphans, bind, serve until SIGINT/SIGTERM.

use crate::config::{ServeArgs, Settings};
use ossd_proto::route::VirtualHosts;
use ossd_server::{AppState, ServerConfig};
use ossd_store::{BlobStore, LocalBlobStore, MetaStore, SqliteMetaStore};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

pub fn run(args: ServeArgs) -> Result<(), String> {
    let settings = Settings::resolve(args)?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&settings.log).map_err(|e| format!("bad log filter: {e}"))?)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(serve(settings))
}

async fn serve(settings: Settings) -> Result<(), String> {
    std::fs::create_dir_all(&settings.data).map_err(|e| format!("cannot create {}: {e}", settings.data.display()))?;
    let (credentials, created) = crate::credentials::load_or_create(&settings.data)?;
    if created {
        println!(
            "ossd created root credentials (kept in {}):\n  access key id:     {}\n  access key secret: {}",
            settings.data.join("credentials.json").display(),
            credentials.access_key_id,
            credentials.access_key_secret
        );
    }
    let meta = SqliteMetaStore::open(&settings.data.join("meta.sqlite"), settings.fsync).map_err(|e| e.to_string())?;
    let blobs = LocalBlobStore::open(settings.data.join("blobs"), settings.fsync).map_err(|e| e.to_string())?;
    let meta: Arc<dyn MetaStore> = Arc::new(meta);
    let blobs: Arc<dyn BlobStore> = Arc::new(blobs);
    sweep_orphans(meta.as_ref(), blobs.as_ref()).await?;

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let config = ServerConfig {
        region: settings.region.clone(),
        vhosts: VirtualHosts::with_domains(&settings.domains),
        credentials,
        public_endpoint: settings.public_endpoint.clone().unwrap_or_else(|| addr.to_string()),
    };
    let state = Arc::new(AppState { config, meta, blobs });
    println!("ossd listening on http://{addr}");
    let _ = std::io::stdout().flush();
    ossd_server::serve(listener, state, shutdown_signal()).await;
    tracing::info!("ossd stopped");
    Ok(())
}

/// Removes blobs that no metadata references: left by a crash between writing a blob and
/// publishing it, or between a commit and the reclaim that follows it. Runs before serving, so
/// no upload is in flight.
async fn sweep_orphans(meta: &dyn MetaStore, blobs: &dyn BlobStore) -> Result<(), String> {
    let referenced: HashSet<_> = meta.referenced_blobs().map_err(|e| e.to_string())?.into_iter().collect();
    let all = blobs.list().await.map_err(|e| format!("cannot list blobs: {e}"))?;
    let mut removed = 0;
    for id in all.into_iter().filter(|id| !referenced.contains(id)) {
        if blobs.delete(&id).await.is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed orphaned blobs");
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
