//! Request authentication: V1 (`OSS ak:sig`, HMAC-SHA1) and V4 (`OSS4-HMAC-SHA256`),
//! each as a header or as a presigned URL. See shared spec oss-api.md §1.
//!
//! The caller hands in a [`SignedRequest`] view (method, decoded bucket/key, decoded query
//! pairs, headers) and a [`SecretLookup`]; the answer is who signed, or `None` for an
//! anonymous request, or the OSS error to send.

pub mod v1;
pub mod v4;

use crate::error::OssError;
use http::HeaderMap;
use std::time::SystemTime;

/// Signature versions a request can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    V1,
    V4,
}

/// Where the signature travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCarrier {
    Header,
    PresignedUrl,
}

/// The parts of a request that signatures cover.
pub struct SignedRequest<'a> {
    /// Upper-case HTTP method.
    pub method: &'a str,
    /// Bucket chosen by addressing (virtual-host or path style), if any.
    pub bucket: Option<&'a str>,
    /// Decoded object key, if any.
    pub key: Option<&'a str>,
    /// Decoded query pairs in the order received (see [`crate::query::Query`]).
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub access_key_id: String,
    pub security_token: Option<String>,
    pub version: SignatureVersion,
    pub carrier: SignatureCarrier,
}

/// Finds the secret of an access key. Given a security token, the lookup decides whether
/// the token is valid for that key (an unknown token is `InvalidAccessKeyId`, an expired
/// one `SecurityTokenExpired`).
pub trait SecretLookup: Send + Sync {
    fn secret_for(&self, access_key_id: &str, security_token: Option<&str>) -> Result<String, OssError>;
}

/// Largest clock difference accepted for header-signed requests.
pub const MAX_SKEW_SECS: u64 = 15 * 60;

/// Authenticates a request. `Ok(None)` means anonymous (no Authorization header and no
/// signature query parameters); the caller then judges by ACL.
pub fn authenticate(
    req: &SignedRequest<'_>,
    now: SystemTime,
    secrets: &dyn SecretLookup,
) -> Result<Option<Identity>, OssError> {
    let _ = (req, now, secrets);
    todo!("dispatch to v1/v4, header or presigned")
}
