//! TLS on the service's listener (rustls): a certificate chain and key from PEM files, reloaded
//! on demand (SIGHUP). A reload affects new handshakes only; open connections keep the
//! configuration they started with, so none is dropped.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::PrivateKeyDer, pki_types::pem::PemObject};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

/// A client that opens a connection but does not finish the handshake gives up its slot after
/// this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    acceptor: RwLock<TlsAcceptor>,
}

impl TlsFiles {
    /// Loads the certificate chain and private key; fails with a message naming the file.
    pub fn load(cert: &Path, key: &Path) -> Result<TlsFiles, String> {
        let acceptor = RwLock::new(build(cert, key)?);
        Ok(TlsFiles { cert: cert.to_path_buf(), key: key.to_path_buf(), acceptor })
    }

    /// Reads the files again. On failure the previous certificate stays in use.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = build(&self.cert, &self.key)?;
        *self.acceptor.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// Runs the TLS handshake on an accepted connection, with the current certificate.
    pub async fn handshake(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let acceptor = self.acceptor.read().unwrap_or_else(|e| e.into_inner()).clone();
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("TLS handshake timed out".into()),
        }
    }
}

fn build(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("cannot read the TLS certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the TLS private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| format!("the TLS certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
