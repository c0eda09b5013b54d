//! `ossd serve`: open the stores, sweep orphans, bind, serve until SIGINT/SIGTERM.

use crate::config::{ServeArgs, Settings};
use ossd_callback::deliver::{Deliverer, DeliveryConfig, DestinationPolicy, Scope};
use ossd_callback::sign::CallbackSigner;
use ossd_proto::route::VirtualHosts;
use ossd_server::callbacks::CallbackRuntime;
use ossd_server::credentials::CredentialProvider;
use ossd_server::{AppState, ServerConfig};
use ossd_store::{BlobStore, LocalBlobStore, MetaStore, SqliteMetaStore};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

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
    // STS: the token key (configured or kept in the data directory) and the roles.
    let (issuer, created_key) = crate::sts_cmd::issuer(&settings.data, &settings.sts)?;
    if created_key {
        tracing::info!(
            path = %settings.data.join(crate::sts_cmd::KEY_FILE).display(),
            "created the STS token key; give every node the same --sts-secret to share tokens"
        );
    }
    let credentials = CredentialProvider { root: credentials, sts: Some(Arc::new(issuer)) };
    let meta = SqliteMetaStore::open(&settings.data.join("meta.sqlite"), settings.fsync).map_err(|e| e.to_string())?;
    let blobs = LocalBlobStore::open(settings.data.join("blobs"), settings.fsync).map_err(|e| e.to_string())?;
    let meta: Arc<dyn MetaStore> = Arc::new(meta);
    let blobs: Arc<dyn BlobStore> = Arc::new(blobs);
    // Nothing is in flight before the port opens, so every unreferenced blob is an orphan.
    sweep_orphans(&meta, blobs.as_ref(), Duration::ZERO).await?;

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let config = ServerConfig {
        owner_id: ossd_proto::names::owner_account_id(&credentials.root.access_key_id),
        region: settings.region.clone(),
        vhosts: VirtualHosts::with_domains(&settings.domains).with_cnames(&settings.cnames)?,
        credentials,
        public_endpoint: settings.public_endpoint.clone().unwrap_or_else(|| addr.to_string()),
        limits: settings.limits,
    };
    let callbacks = callback_runtime(&settings, &config.public_endpoint)?;
    // On stderr with the log (stdout carries only the listening line, which scripts parse).
    tracing::info!("callback destinations: {}", callbacks.deliverer.config().policy.describe());
    let state = Arc::new(AppState { config, meta, blobs, callbacks: Some(callbacks) });
    tokio::spawn(prune_callback_log(state.clone(), settings.callback.clone()));
    tokio::spawn(sweep_orphans_periodically(state.clone()));
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
    let scope = cb.scope.unwrap_or_else(|| Scope::for_listen_address(settings.listen.ip()));
    let policy = DestinationPolicy::from_strs(&cb.allow, &cb.deny)?.with_scope(scope);
    let config =
        DeliveryConfig { timeout: cb.timeout, max_response_bytes: cb.max_response_bytes, policy, public_key_url };
    let public_key_pem = signer.public_key_pem();
    Ok(CallbackRuntime { deliverer: Deliverer::new(config, Arc::new(signer)), public_key_pem })
}

/// Keeps the callback log bounded: once a minute, prune by count and age.
async fn prune_callback_log(state: Arc<AppState>, cb: crate::config::CallbackSettings) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
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

/// Removes blobs that no metadata references and that nobody has written to for `idle_for`:
/// left by a crash or a failed request between writing a blob and publishing it, or between a
/// commit and the reclaim after it. Safe against concurrent uploads: the blobs are listed
/// *before* the referenced set is read, so a blob published in between is seen as referenced,
/// and a blob still being written was modified within `idle_for`.
pub async fn sweep_orphans(
    meta: &Arc<dyn MetaStore>,
    blobs: &dyn BlobStore,
    idle_for: Duration,
) -> Result<usize, String> {
    let candidates = blobs.list(idle_for).await.map_err(|e| format!("cannot list blobs: {e}"))?;
    if candidates.is_empty() {
        return Ok(0);
    }
    let m = meta.clone();
    let referenced: HashSet<_> = tokio::task::spawn_blocking(move || m.referenced_blobs())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let mut removed = 0;
    for id in candidates.into_iter().filter(|id| !referenced.contains(id)) {
        if blobs.delete(&id).await.is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed orphaned blobs");
    }
    Ok(removed)
}

/// How long a blob must sit unwritten and unreferenced before the background sweep removes it.
const ORPHAN_IDLE: Duration = Duration::from_secs(3600);

/// Sweeps orphans every ten minutes while serving.
async fn sweep_orphans_periodically(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = sweep_orphans(&state.meta, state.blobs.as_ref(), ORPHAN_IDLE).await {
            tracing::warn!(error = %e, "orphan sweep failed");
        }
    }
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
