//! Accepting connections: HTTP/1.1 on hyper (over TLS when configured), TCP_NODELAY, graceful
//! shutdown.

use crate::service;
use crate::state::AppState;
use crate::tls::TlsFiles;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Serves until `shutdown` resolves, then stops accepting and waits (up to 30 s) for in-flight
/// requests to finish. With `tls`, every connection starts with a TLS handshake.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<Arc<TlsFiles>>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Small responses must not wait for Nagle + delayed ACK.
        let _ = stream.set_nodelay(true);
        let (state, tls, watcher) = (state.clone(), tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, state, peer, watcher).await,
                Some(tls) => match tls.handshake(stream).await {
                    Ok(stream) => serve_connection(stream, state, peer, watcher).await,
                    Err(e) => tracing::debug!(error = %e, peer = %peer, "TLS handshake failed"),
                },
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("in-flight requests did not finish within 30 s");
        }
    }
}

/// HTTP/1.1 on one accepted connection (plain TCP or TLS), watched for graceful shutdown.
async fn serve_connection<I>(io: I, state: Arc<AppState>, peer: SocketAddr, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, std::convert::Infallible>(service::handle(state, req, peer.ip()).await) }
    });
    let conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(io), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
