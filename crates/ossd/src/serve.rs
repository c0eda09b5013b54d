//! `ossd serve`: open the stores, sweep orphans, bind, serve until SIGINT/SIGTERM.

use crate::config::{LogFormat, ServeArgs, Settings};
use ossd_callback::deliver::{Deliverer, DeliveryConfig, DestinationPolicy, Scope};
use ossd_callback::sign::CallbackSigner;
use ossd_proto::route::VirtualHosts;
use ossd_server::callbacks::CallbackRuntime;
use ossd_server::credentials::CredentialProvider;
use ossd_server::metrics::Metrics;
use ossd_server::tls::TlsFiles;
use ossd_server::{AppState, OpsConfig, ServerConfig};
use ossd_store::BlobLifecycle;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: ServeArgs) -> Result<(), String> {
    let settings = Settings::resolve(args)?;
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log).map_err(|e| format!("bad log filter: {e}"))?;
    use std::io::IsTerminal;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match settings.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
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
    let meta = crate::stores::open_meta(&settings, false).await?;
    // With a shared metadata store, other nodes may share the blob store too: blobs carry this
    // node's id (kept in the data directory), freed bytes wait a grace period for readers on
    // other nodes, and the sweep leaves the blobs of live nodes alone.
    let shared = settings.meta.is_some();
    let node = crate::stores::node_id(&settings.data)?;
    let grace = if shared { settings.reclaim_grace } else { Duration::ZERO };
    let blobs = BlobLifecycle::shared(crate::stores::open_blobs(&settings)?, node.clone(), grace);
    let heartbeat = settings.sweep_interval.min(Duration::from_secs(10));
    if shared {
        beat(meta.as_ref(), &node, heartbeat).await?;
    }
    if let Some(sts) = &credentials.sts {
        crate::stores::check_shared_setting(&settings, "STS token key (--sts-secret)", &sts.key.fingerprint()).await?;
    }
    // A marker that only a clean stop removes: found at start, the last run was killed or the
    // machine lost power. With relaxed durability, recent objects may then have lost bytes.
    let running = settings.data.join("ossd.running");
    if running.exists() && !settings.fsync {
        tracing::warn!("the last run did not stop cleanly: checking objects for lost bytes (relaxed durability)");
        let torn = blobs.drop_torn_objects(meta.as_ref()).await?;
        if !torn.is_empty() {
            tracing::error!(count = torn.len(), "objects lost in the unclean stop were removed");
        }
    }
    std::fs::write(&running, std::process::id().to_string())
        .map_err(|e| format!("cannot write {}: {e}", running.display()))?;
    // Nothing of this node's is in flight before the port opens: every unreferenced blob it
    // made is an orphan (and, with the embedded store, every unreferenced blob at all).
    blobs.sweep(meta.as_ref(), Duration::ZERO, sweep_scope(shared)).await?;
    // Buckets from the configuration exist before the server answers (and reports ready).
    crate::startup_buckets::ensure(meta.as_ref(), &settings.buckets).await?;
    let tls = match &settings.tls {
        Some((cert, key)) => Some(Arc::new(TlsFiles::load(cert, key)?)),
        None => None,
    };

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
        restore_delay: settings.restore_delay,
    };
    let callbacks = callback_runtime(&settings, &config.public_endpoint)?;
    let callback_key = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(callbacks.public_key_pem.as_bytes()))
    };
    crate::stores::check_shared_setting(&settings, "callback signing key (--callback-private-key)", &callback_key)
        .await?;
    // On stderr with the log (stdout carries only the listening line, which scripts parse).
    tracing::info!("callback destinations: {}", callbacks.deliverer.config().policy.describe());
    let ops = OpsConfig { metrics_token: settings.metrics_token.clone().map(|t| t.0), node_id: node.0.clone() };
    let metrics = Metrics::new(blobs.clone());
    let state = Arc::new(AppState { config, meta, blobs, callbacks: Some(callbacks), metrics, ops });
    tokio::spawn(prune_callback_log(state.clone(), settings.callback.clone()));
    tokio::spawn(sweep_orphans_periodically(state.clone(), settings.sweep_interval, settings.sweep_idle, shared));
    tokio::spawn(ossd_server::bucket_lifecycle::run_periodically(state.clone(), settings.lifecycle_day));
    if shared {
        tokio::spawn(heartbeats(state.clone(), node, heartbeat));
    }
    // Taken over before the listening line: a SIGHUP right after it found the default action
    // (which ends the process) while the task had not run yet.
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
    tokio::spawn(reload_on_sighup(hup, tls.clone()));
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("ossd listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();
    let meta = state.meta.clone();
    ossd_server::serve(listener, state, tls, shutdown_signal()).await;
    // Outcomes still held for a later commit are written before the stop counts as clean.
    if let Err(e) = meta.flush().await {
        tracing::error!("could not commit the metadata held at stop: {e}");
    }
    let _ = std::fs::remove_file(&running);
    tracing::info!("ossd stopped");
    Ok(())
}

/// Loads (or creates) the signing key and builds the delivery client.
pub fn callback_runtime(settings: &Settings, public_endpoint: &str) -> Result<CallbackRuntime, String> {
    let cb = &settings.callback;
    let key_path = cb.private_key.clone().unwrap_or_else(|| settings.data.join("callback_private_key.pem"));
    let signer = CallbackSigner::load_or_create(&key_path)
        .map_err(|e| format!("cannot load the callback key {}: {e}", key_path.display()))?;
    let public_key_url = cb.public_key_url.clone().unwrap_or_else(|| {
        let scheme = if settings.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{public_endpoint}{}", ossd_server::service::CALLBACK_PUBLIC_KEY_PATH)
    });
    let scope = cb.scope.unwrap_or_else(|| Scope::for_listen_address(settings.listen.ip()));
    let policy = DestinationPolicy::from_strs(&cb.allow, &cb.deny)?.with_scope(scope);
    let extra_roots = match &cb.ca_file {
        None => Vec::new(),
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read the callback CA file {}: {e}", path.display()))?;
            ossd_callback::deliver::parse_root_certificates(&pem)
                .map_err(|e| format!("invalid callback CA file {}: {e}", path.display()))?
        }
    };
    let config = DeliveryConfig {
        timeout: cb.timeout,
        max_response_bytes: cb.max_response_bytes,
        policy,
        public_key_url,
        extra_roots,
    };
    let public_key_pem = signer.public_key_pem();
    Ok(CallbackRuntime { deliverer: Deliverer::new(config, Arc::new(signer)), public_key_pem, mode: cb.mode })
}

/// Keeps the callback log bounded: once a minute, prune by count and age.
async fn prune_callback_log(state: Arc<AppState>, cb: crate::config::CallbackSettings) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let (keep, age) = (cb.log_keep, cb.log_max_age.as_millis() as i64);
        let now = ossd_proto::timefmt::now_ms();
        match state.meta.prune_callbacks(keep, age, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "pruned the callback log"),
            Err(e) => tracing::warn!(error = %e, "could not prune the callback log"),
        }
    }
}

/// Sweeps orphans every `interval` while serving, while this node holds the sweep's worker
/// lease (one runner at a time among the nodes sharing the store; a dead runner's lease expires
/// after three intervals).
fn sweep_scope(shared: bool) -> ossd_store::SweepScope {
    if shared {
        ossd_store::SweepScope::OwnAndDeadNodes { now_ms: ossd_proto::timefmt::now_ms() }
    } else {
        ossd_store::SweepScope::All
    }
}

/// A node is alive while its heartbeat lease holds: three beats.
async fn beat(meta: &dyn ossd_store::MetaStore, node: &ossd_store::NodeId, every: Duration) -> Result<(), String> {
    let ttl = i64::try_from(every.as_millis()).unwrap_or(i64::MAX / 4).saturating_mul(3);
    let now = ossd_proto::timefmt::now_ms();
    match meta.acquire_worker(&ossd_store::heartbeat_name(node), &node.0, now, ttl).await {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("cannot record this node's heartbeat: {e}")),
    }
}

async fn heartbeats(state: Arc<AppState>, node: ossd_store::NodeId, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = beat(state.meta.as_ref(), &node, every).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
    }
}

async fn sweep_orphans_periodically(state: Arc<AppState>, interval: Duration, idle: Duration, shared: bool) {
    let holder = hex::encode(rand::random::<[u8; 8]>());
    let ttl_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX / 4).saturating_mul(3);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = ossd_proto::timefmt::now_ms();
        match state.meta.acquire_worker("orphan-sweep", &holder, now, ttl_ms).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not take the orphan-sweep lease");
                continue;
            }
        }
        if let Err(e) = state.blobs.sweep(state.meta.as_ref(), idle, sweep_scope(shared)).await {
            tracing::warn!(error = %e, "orphan sweep failed");
        }
    }
}

/// SIGHUP reloads the TLS certificate and key (new connections get them; open ones keep
/// theirs). Without TLS there is nothing to reload, and the signal no longer stops the server.
async fn reload_on_sighup(mut hup: tokio::signal::unix::Signal, tls: Option<Arc<TlsFiles>>) {
    while hup.recv().await.is_some() {
        match &tls {
            None => tracing::info!("SIGHUP: nothing to reload (no TLS)"),
            Some(tls) => match tls.reload() {
                Ok(()) => tracing::info!("SIGHUP: reloaded the TLS certificate"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: kept the previous TLS certificate"),
            },
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
