//! Verifying callback requests, for people who write callback receivers.
//!
//! OSS (and ossd) sign every callback request (callback.md §3.3, §3.4):
//!
//! * `x-oss-pub-key-url`: base64 of the URL of the signer's public key (SPKI PEM);
//! * `authorization`: base64 of an RSA PKCS#1 v1.5 signature over the MD5 of
//!   `url_decode(path) + ("?" + raw_query, if any) + "\n" + body`.
//!
//! A receiver must only trust keys from URLs it knows: [`Verifier`] refuses any key URL that
//! does not start with one of [`VerifierConfig::allowed_key_url_prefixes`], downloads allowed
//! keys once and caches them. [`verify_with_key`] verifies against a key you already have.
//!
//! ```
//! use ossd_callback::sign::CallbackSigner;
//! use ossd_callback::verify::{verify_with_key, CallbackRequest, VerifyError};
//!
//! let signer = CallbackSigner::generate(1024);
//! let body = b"bucket=b&object=photo%2F1.jpg";
//! let mut headers = http::HeaderMap::new();
//! let sig = signer.sign("/cb/upload%20done", Some("id=1"), body);
//! headers.insert("authorization", sig.parse().unwrap());
//!
//! let req = CallbackRequest {
//!     method: &http::Method::POST,
//!     path: "/cb/upload%20done", // raw, as on the request line
//!     query: Some("id=1"),       // raw, without '?'
//!     headers: &headers,
//!     body,
//! };
//! assert!(verify_with_key(&signer.public_key_pem(), &req).is_ok());
//!
//! let tampered = CallbackRequest { body: b"bucket=b&object=other", ..req };
//! assert!(matches!(verify_with_key(&signer.public_key_pem(), &tampered), Err(VerifyError::SignatureMismatch)));
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::Verifier as _;

use crate::sign::string_to_sign;

/// The key URL prefixes of Alibaba Cloud OSS itself.
pub const OSS_KEY_URL_PREFIXES: &[&str] = &["http://gosspublic.alicdn.com/", "https://gosspublic.alicdn.com/"];

/// A received callback request, as the receiver's HTTP stack saw it.
#[derive(Debug, Clone, Copy)]
pub struct CallbackRequest<'a> {
    pub method: &'a http::Method,
    /// The path exactly as on the request line (still percent-encoded).
    pub path: &'a str,
    /// The raw query, without the `?`; `None` when the request line has no `?`.
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    /// The exact body bytes.
    pub body: &'a [u8],
}

impl<'a> CallbackRequest<'a> {
    /// From the parts of an `http` request (`uri.path()`, `uri.query()`).
    pub fn from_parts(parts: &'a http::request::Parts, body: &'a [u8]) -> Self {
        CallbackRequest {
            method: &parts.method,
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body,
        }
    }
}

/// Why a callback request was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("callback requests are POST, this one is {0}")]
    MethodNotPost(http::Method),
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the {0} header is not valid base64")]
    BadBase64(&'static str),
    #[error("the public key URL {0:?} is not in the allowed prefixes")]
    KeyUrlNotAllowed(String),
    #[error("fetching the public key from {url} failed: {reason}")]
    KeyFetch { url: String, reason: String },
    #[error("the public key is not an RSA public key PEM: {0}")]
    BadPem(String),
    #[error("the signature does not match the request")]
    SignatureMismatch,
}

/// Settings of a [`Verifier`].
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// A key URL must start with one of these. A prefix that does not end in `/` must be
    /// followed by `/`, `?` or the end of the URL, so `https://keys.example.com` does not
    /// admit `https://keys.example.com.evil.net/`. Empty: no key URL is accepted.
    /// Default: [`OSS_KEY_URL_PREFIXES`].
    pub allowed_key_url_prefixes: Vec<String>,
    /// Budget for downloading a key. Default 10 s.
    pub fetch_timeout: Duration,
    /// Largest accepted key document. Default 64 KiB.
    pub max_key_bytes: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            allowed_key_url_prefixes: OSS_KEY_URL_PREFIXES.iter().map(|s| s.to_string()).collect(),
            fetch_timeout: Duration::from_secs(10),
            max_key_bytes: 64 * 1024,
        }
    }
}

/// Verifies callback requests, fetching (and caching, per URL) the signer's public key.
///
/// ```no_run
/// use ossd_callback::verify::{CallbackRequest, Verifier, VerifierConfig};
///
/// # async fn handle(parts: http::request::Parts, body: bytes::Bytes) -> u16 {
/// let verifier = Verifier::new(VerifierConfig {
///     allowed_key_url_prefixes: vec!["https://oss.example.com/".into()],
///     ..Default::default()
/// });
/// // Keep one Verifier for the whole receiver: it caches keys.
/// match verifier.verify(&CallbackRequest::from_parts(&parts, &body)).await {
///     Ok(()) => 200,
///     Err(e) => {
///         eprintln!("rejected callback: {e}");
///         400
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Verifier {
    config: VerifierConfig,
    client: reqwest::Client,
    cache: Mutex<HashMap<String, Arc<RsaPublicKey>>>,
}

impl Verifier {
    /// # Panics
    /// If the TLS backend cannot be initialised.
    pub fn new(config: VerifierConfig) -> Self {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.fetch_timeout)
            .build()
            .expect("building the key-fetch HTTP client");
        Verifier { config, client, cache: Mutex::new(HashMap::new()) }
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Forgets every cached key (e.g. after the signer rotated its key).
    pub fn clear_cache(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Checks the method, decodes `authorization` and `x-oss-pub-key-url`, checks the key URL
    /// against the allowed prefixes, gets the key (cached) and verifies the signature.
    pub async fn verify(&self, req: &CallbackRequest<'_>) -> Result<(), VerifyError> {
        check_method(req)?;
        let sig = signature_bytes(req)?;
        let key_url = key_url(req)?;
        if !self.url_allowed(&key_url) {
            return Err(VerifyError::KeyUrlNotAllowed(key_url));
        }
        let key = self.key(&key_url).await?;
        verify_signature(&key, req, &sig)
    }

    fn url_allowed(&self, url: &str) -> bool {
        self.config.allowed_key_url_prefixes.iter().any(|p| {
            !p.is_empty()
                && url.starts_with(p.as_str())
                && (p.ends_with('/') || matches!(url.as_bytes().get(p.len()), None | Some(b'/') | Some(b'?')))
        })
    }

    async fn key(&self, url: &str) -> Result<Arc<RsaPublicKey>, VerifyError> {
        if let Some(k) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(url) {
            return Ok(k.clone());
        }
        let fetch_err = |reason: String| VerifyError::KeyFetch { url: url.to_string(), reason };
        let mut resp = self.client.get(url).send().await.map_err(|e| fetch_err(e.to_string()))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(fetch_err(format!("status {}", resp.status())));
        }
        let mut pem = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fetch_err(e.to_string()))? {
            if pem.len() + chunk.len() > self.config.max_key_bytes {
                return Err(fetch_err(format!("the key document exceeds {} bytes", self.config.max_key_bytes)));
            }
            pem.extend_from_slice(&chunk);
        }
        let pem = String::from_utf8(pem).map_err(|_| VerifyError::BadPem("not UTF-8".into()))?;
        let key = Arc::new(parse_public_key(&pem)?);
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(url.to_string(), key.clone());
        Ok(key)
    }
}

/// Verifies `req` against a public key PEM (SPKI `BEGIN PUBLIC KEY` or PKCS#1
/// `BEGIN RSA PUBLIC KEY`); `x-oss-pub-key-url` is not consulted.
pub fn verify_with_key(public_key_pem: &str, req: &CallbackRequest<'_>) -> Result<(), VerifyError> {
    check_method(req)?;
    let sig = signature_bytes(req)?;
    let key = parse_public_key(public_key_pem)?;
    verify_signature(&key, req, &sig)
}

/// Parses a public key PEM: SPKI or PKCS#1.
pub fn parse_public_key(pem: &str) -> Result<RsaPublicKey, VerifyError> {
    let pem = pem.trim();
    RsaPublicKey::from_public_key_pem(pem).or_else(|e8| {
        RsaPublicKey::from_pkcs1_pem(pem)
            .map_err(|e1| VerifyError::BadPem(format!("not SPKI ({e8}) nor PKCS#1 ({e1})")))
    })
}

/// Decodes a form body (`a=1&b=x%2Fy+z`) into pairs, `+` read as a space. Invalid UTF-8 is
/// replaced. Handy for showing callback variables.
pub fn parse_form_body(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let plus: Vec<u8> = s.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        String::from_utf8_lossy(&percent_encoding::percent_decode(&plus).collect::<Vec<u8>>()).into_owned()
    }
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (decode(&p[..i]), decode(&p[i + 1..])),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn check_method(req: &CallbackRequest<'_>) -> Result<(), VerifyError> {
    if *req.method != http::Method::POST {
        return Err(VerifyError::MethodNotPost(req.method.clone()));
    }
    Ok(())
}

fn header_b64(req: &CallbackRequest<'_>, name: &'static str) -> Result<Vec<u8>, VerifyError> {
    let v = req.headers.get(name).ok_or(VerifyError::MissingHeader(name))?;
    let v = v.to_str().map_err(|_| VerifyError::BadBase64(name))?.trim();
    if v.is_empty() {
        return Err(VerifyError::MissingHeader(name));
    }
    STANDARD.decode(v).map_err(|_| VerifyError::BadBase64(name))
}

fn signature_bytes(req: &CallbackRequest<'_>) -> Result<Vec<u8>, VerifyError> {
    header_b64(req, "authorization")
}

fn key_url(req: &CallbackRequest<'_>) -> Result<String, VerifyError> {
    let raw = header_b64(req, "x-oss-pub-key-url")?;
    String::from_utf8(raw).map_err(|_| VerifyError::BadBase64("x-oss-pub-key-url"))
}

fn verify_signature(key: &RsaPublicKey, req: &CallbackRequest<'_>, sig: &[u8]) -> Result<(), VerifyError> {
    let msg = string_to_sign(req.path, req.query, req.body);
    let sig = Signature::try_from(sig).map_err(|_| VerifyError::SignatureMismatch)?;
    VerifyingKey::<Md5>::new(key.clone()).verify(&msg, &sig).map_err(|_| VerifyError::SignatureMismatch)
}
