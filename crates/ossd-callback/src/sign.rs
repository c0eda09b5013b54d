//! RSA-MD5 signing of callback requests, as OSS signs them (callback.md §3.3):
//!
//! ```text
//! string_to_sign = url_decode(path) + ("?" + raw_query, if any) + "\n" + body
//! authorization  = base64(RSA_PKCS1v15_sign(private_key, MD5(string_to_sign)))
//! ```

use std::fmt;
use std::io::{self, Write as _};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use percent_encoding::percent_decode_str;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use rsa::{RsaPrivateKey, RsaPublicKey};

/// The exact bytes OSS signs: the percent-decoded `path`, then `?` and the raw (still
/// encoded) query when there is one (even an empty one), then `\n`, then the body.
///
/// `path` is the path as it appears on the request line (percent-encoded).
pub fn string_to_sign(path: &str, raw_query: Option<&str>, body: &[u8]) -> Vec<u8> {
    let decoded: Vec<u8> = percent_decode_str(path).collect();
    let mut s = Vec::with_capacity(decoded.len() + raw_query.map_or(0, |q| q.len() + 1) + 1 + body.len());
    s.extend_from_slice(&decoded);
    if let Some(q) = raw_query {
        s.push(b'?');
        s.extend_from_slice(q.as_bytes());
    }
    s.push(b'\n');
    s.extend_from_slice(body);
    s
}

/// A key that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid RSA private key: {0}")]
pub struct KeyError(String);

/// The server's RSA key pair; signs callback requests. `Debug` never shows key material.
#[derive(Clone)]
pub struct CallbackSigner {
    key: SigningKey<Md5>,
    public: RsaPublicKey,
}

impl fmt::Debug for CallbackSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use rsa::traits::PublicKeyParts as _;
        f.debug_struct("CallbackSigner").field("bits", &(self.public.size() * 8)).finish_non_exhaustive()
    }
}

impl CallbackSigner {
    fn from_private(private: RsaPrivateKey) -> Self {
        let public = private.to_public_key();
        CallbackSigner { key: SigningKey::<Md5>::new(private), public }
    }

    /// A fresh key pair of `bits` bits (2048 or more for real use).
    ///
    /// # Panics
    /// When `bits` is too small for RSA (below 64).
    pub fn generate(bits: usize) -> Self {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), bits).expect("RSA key generation");
        Self::from_private(private)
    }

    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pkcs8_or_pkcs1_pem(pem: &str) -> Result<Self, KeyError> {
        let private = match RsaPrivateKey::from_pkcs8_pem(pem) {
            Ok(k) => k,
            Err(e8) => RsaPrivateKey::from_pkcs1_pem(pem)
                .map_err(|e1| KeyError(format!("not PKCS#8 ({e8}) nor PKCS#1 ({e1})")))?,
        };
        Ok(Self::from_private(private))
    }

    /// Loads the PEM key at `path`, or creates a 2048-bit key there (PKCS#8 PEM, mode 0600,
    /// parent directories created). A file that exists but does not hold a key is an error
    /// (`InvalidData`), never overwritten.
    pub fn load_or_create(path: &Path) -> io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(pem) => {
                warn_if_readable_by_others(path);
                return Self::from_pkcs8_or_pkcs1_pem(&pem)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let signer = Self::generate(2048);
        let pem = signer
            .key
            .as_ref()
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| io::Error::other(format!("encoding the key: {e}")))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // Write a private temporary file, then link it into place without clobbering: a
        // concurrent creator wins and its key is used.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            f.write_all(pem.as_bytes())?;
            f.sync_all()?;
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(signer),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(e),
        }
    }

    /// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), the form
    /// receivers download from `x-oss-pub-key-url`.
    pub fn public_key_pem(&self) -> String {
        self.public.to_public_key_pem(LineEnding::LF).expect("SPKI encoding of an RSA key")
    }

    /// The RSA public key.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    /// The `authorization` header value for a callback request to `path` (as on the request
    /// line, percent-encoded) and `raw_query` (without `?`) carrying `body`.
    pub fn sign(&self, path: &str, raw_query: Option<&str>, body: &[u8]) -> String {
        let msg = string_to_sign(path, raw_query, body);
        let sig = self.key.sign_with_rng(&mut rand::thread_rng(), &msg);
        STANDARD.encode(sig.to_bytes())
    }

    /// [`CallbackSigner::sign`] for the path and query of `url`.
    pub fn sign_url(&self, url: &reqwest::Url, body: &[u8]) -> String {
        self.sign(url.path(), url.query(), body)
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(path = %path.display(), "callback signing key is readable by group or others");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
