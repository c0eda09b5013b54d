//! `ossd serve`: open the stores, sweep orphans, bind, serve until SIGINT/SIGTERM.

use crate::config::{ServeArgs, Settings};
use ossd_callback::deliver::{Deliverer, DeliveryConfig, DestinationPolicy};
use ossd_callback::sign::CallbackSigner;
use ossd_proto::route::VirtualHosts;
use ossd_server::callbacks::CallbackRuntime;
use ossd_server::{AppState, ServerConfig};
use ossd_store::{BlobStore, LocalBlobStore, MetaStore, SqliteMetaStore};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

pub fn run(args: ServeArgs) -> Result<(), String> {
    let settings = Settings::resolve(args)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&settings.log).map_err(|e| format!("bad log filter: {e}"))?,
        )
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
    let callbacks = callback_runtime(&settings, &config.public_endpoint)?;
    let state = Arc::new(AppState { config, meta, blobs, callbacks: Some(callbacks) });
    tokio::spawn(prune_callback_log(state.clone(), settings.callback.clone()));
    println!("ossd listening on http://{addr}");
    let _ = std::io::stdout().flush();
    ossd_server::serve(listener, state, shutdown_signal()).await;
    tracing::info!("ossd stopped");
    Ok(())
}

/// Loads (or creates) the signing key and builds the delivery client.
pub fn callback_runtime(settings: &Settings, public_endpoint: &str) -> Result<CallbackRuntime, String> {
    let cb = &settings.callback;
    let key_path = cb.private_key.clone().unwrap_or_else(|| settings.data.join("callback_private_key.pem"));
    let signer = CallbackSigner::load_or_create(&key_path)
        .map_err(|e| format!("cannot load the callback key {}: {e}", key_path.display()))?;
    let public_key_url = cb
        .public_key_url
        .clone()
        .unwrap_or_else(|| format!("http://{public_endpoint}{}", ossd_server::service::CALLBACK_PUBLIC_KEY_PATH));
    let policy = DestinationPolicy::from_strs(&cb.allow, &cb.deny)?;
    let config =
        DeliveryConfig { timeout: cb.timeout, max_response_bytes: cb.max_response_bytes, policy, public_key_url };
    let public_key_pem = signer.public_key_pem();
    Ok(CallbackRuntime { deliverer: Deliverer::new(config, Arc::new(signer)), public_key_pem })
}

/// Keeps the callback log bounded: once a minute, prune by count and age.
async fn prune_callback_log(state: Arc<AppState>, cb: crate::config::CallbackSettings) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let (keep, age) = (cb.log_keep, cb.log_max_age.as_millis() as i64);
        let now = ossd_proto::timefmt::now_ms();
        match state.meta(move |m| m.prune_callbacks(keep, age, now)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "pruned the callback log"),
            Err(e) => tracing::warn!(error = %e, "could not prune the callback log"),
        }
    }
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
