//! Request authentication: V1 (`OSS ak:sig`, HMAC-SHA1) and V4 (`OSS4-HMAC-SHA256`),
//! each as a header or as a presigned URL. See shared spec oss-api.md §1.
//!
//! The caller hands in a [`SignedRequest`] view (method, decoded bucket/key, decoded query
//! pairs, headers) and a [`SecretLookup`]; the answer is who signed, or `None` for an
//! anonymous request, or the OSS error to send.

pub mod post_policy;
pub mod v1;
pub mod v4;

use crate::error::OssError;
use http::HeaderMap;
use std::time::{SystemTime, UNIX_EPOCH};

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
    let authorization = header_value(req.headers, "authorization");
    let presigned = presigned_version(req)?;
    match (authorization, presigned) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(OssError::invalid_argument(
            "Only one authentication mechanism is allowed: Authorization header or signed URL.",
        )),
        (Some(value), None) => authenticate_header(req, &value, now, secrets).map(Some),
        (None, Some(SignatureVersion::V1)) => v1::verify_presigned(req, now, secrets).map(Some),
        (None, Some(SignatureVersion::V4)) => v4::verify_presigned(req, now, secrets).map(Some),
    }
}

/// Picks the verifier from the Authorization scheme.
fn authenticate_header(
    req: &SignedRequest<'_>,
    value: &str,
    now: SystemTime,
    secrets: &dyn SecretLookup,
) -> Result<Identity, OssError> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    match scheme {
        "OSS" => v1::verify_header(req, rest.trim(), now, secrets),
        v4::ALGORITHM => v4::verify_header(req, rest.trim(), now, secrets),
        "OSS2" => {
            Err(OssError::invalid_argument("The OSS2 signature version is not supported; use OSS or OSS4-HMAC-SHA256."))
        }
        _ => Err(OssError::invalid_argument("Authorization header is invalid.")),
    }
}

/// Which presigned-URL form the query carries, if any. A half-present V1 pair is malformed
/// rather than anonymous: treating it as anonymous would hide a client bug behind a 403.
fn presigned_version(req: &SignedRequest<'_>) -> Result<Option<SignatureVersion>, OssError> {
    if let Some(version) = query_value(req.query, "x-oss-signature-version") {
        return match version {
            v4::ALGORITHM => Ok(Some(SignatureVersion::V4)),
            other => Err(OssError::invalid_argument(format!("Unsupported x-oss-signature-version: {other}"))),
        };
    }
    let has_ak = query_value(req.query, "OSSAccessKeyId").is_some();
    let has_sig = query_value(req.query, "Signature").is_some();
    match (has_ak, has_sig) {
        (true, true) => Ok(Some(SignatureVersion::V1)),
        (false, false) => Ok(None),
        _ => Err(OssError::invalid_argument("A signed URL needs both OSSAccessKeyId and Signature.")),
    }
}

// ---- helpers shared by v1 and v4 ----

/// A header's value as text. Values that are not UTF-8 are read as Latin-1: Python clients
/// put non-ASCII header text on the wire as Latin-1 but sign its UTF-8 form. Repeated
/// headers are joined with `,` as HTTP folds them.
pub(crate) fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter().map(|v| header_text(v.as_bytes()));
    let first = values.next()?;
    Some(values.fold(first, |acc, v| acc + "," + &v))
}

fn header_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Signed headers (`name`, trimmed value), lower-case names, sorted by name.
pub(crate) fn signed_headers(headers: &HeaderMap, wanted: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| wanted(name))
        .filter_map(|name| Some((name.to_owned(), header_value(headers, name)?.trim().to_owned())))
        .collect();
    out.sort();
    out
}

/// First value of a query parameter (names are case-sensitive in OSS).
pub(crate) fn query_value<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The token sent in the query (presigned) or the header; an empty one counts as none.
pub(crate) fn security_token(req: &SignedRequest<'_>, query_name: Option<&str>) -> Option<String> {
    query_name
        .and_then(|name| query_value(req.query, name).map(str::to_owned))
        .or_else(|| header_value(req.headers, "x-oss-security-token"))
        .filter(|t| !t.is_empty())
}

pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// OSS's timestamp style in error bodies, e.g. `2026-11-25T00:50:24.000Z`.
pub(crate) fn iso_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Header-signed requests carry their own time; a large gap to ours means a replay or a
/// broken client clock, so OSS refuses it.
pub(crate) fn check_skew(request_time: &str, request_unix: i64, now: SystemTime) -> Result<(), OssError> {
    let now = unix_secs(now);
    if request_unix.abs_diff(now) > MAX_SKEW_SECS {
        return Err(OssError::request_time_too_skewed()
            .with("RequestTime", request_time)
            .with("ServerTime", iso_time(now)));
    }
    Ok(())
}

/// Presigned URLs carry an end of life instead of a request time.
pub(crate) fn check_not_expired(expires_unix: i64, now: SystemTime) -> Result<(), OssError> {
    let now = unix_secs(now);
    if now > expires_unix {
        return Err(OssError::request_expired()
            .with("Expires", iso_time(expires_unix))
            .with("ServerTime", iso_time(now)));
    }
    Ok(())
}

/// Compares signatures in constant time so response timing leaks nothing about the
/// expected value.
pub(crate) fn signatures_equal(expected: &str, provided: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.as_bytes().ct_eq(provided.as_bytes()).into()
}

/// `StringToSignBytes` as OSS shows it: space-separated lower-case hex bytes.
pub(crate) fn hex_bytes(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Fixtures shared by the auth tests. The expected signatures are computed here with the
/// hash crates directly, not with the code under test.
#[cfg(test)]
pub(crate) mod testutil {
    use super::SecretLookup;
    use crate::error::OssError;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use http::{HeaderMap, HeaderName, HeaderValue};
    use sha2::{Digest, Sha256};
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    pub const AK: &str = "ak";
    pub const SECRET: &str = "secret-key";
    pub const STS_AK: &str = "STS.ak";
    pub const STS_SECRET: &str = "sts-secret";
    /// 2026-11-25T00:50:24Z, the fixed "now" of every test.
    pub const NOW_UNIX: i64 = 1_795_567_824;
    pub const NOW_HTTP: &str = "Wed, 25 Nov 2026 00:50:24 GMT";
    pub const NOW_ISO: &str = "20261125T005024Z";
    pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    pub fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_UNIX as u64)
    }

    /// `AK` needs no token; `STS_AK` needs the token `TOKEN` or `TOK+EN`. Records each lookup.
    #[derive(Default)]
    pub struct Secrets {
        seen: Mutex<Vec<(String, Option<String>)>>,
    }

    impl Secrets {
        pub fn seen(&self) -> Vec<(String, Option<String>)> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl SecretLookup for Secrets {
        fn secret_for(&self, ak: &str, token: Option<&str>) -> Result<String, OssError> {
            self.seen.lock().unwrap().push((ak.to_owned(), token.map(str::to_owned)));
            match (ak, token) {
                (AK, _) => Ok(SECRET.to_owned()),
                (STS_AK, Some("TOKEN" | "TOK+EN")) => Ok(STS_SECRET.to_owned()),
                _ => Err(OssError::invalid_access_key_id(ak)),
            }
        }
    }

    pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    pub fn query(raw: &str) -> Vec<(String, String)> {
        crate::query::Query::parse(Some(raw)).0
    }

    /// Percent-encodes a base64 signature for a URL.
    pub fn pct(s: &str) -> String {
        s.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
    }

    pub fn extra<'e>(err: &'e OssError, name: &str) -> Option<&'e str> {
        err.extra.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn hmac_sha1_b64(secret: &str, message: &str) -> String {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(message.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    fn hmac_sha256(key: &[u8], message: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    pub fn sha256_hex(s: &str) -> String {
        hex::encode(Sha256::digest(s.as_bytes()))
    }

    /// The V4 key chain and final HMAC, spelled out step by step.
    pub fn v4_signature_independent(secret: &str, date: &str, region: &str, message: &str) -> String {
        let k1 = hmac_sha256(format!("aliyun_v4{secret}").as_bytes(), date);
        let k2 = hmac_sha256(&k1, region);
        let k3 = hmac_sha256(&k2, "oss");
        let k4 = hmac_sha256(&k3, "aliyun_v4_request");
        hex::encode(hmac_sha256(&k4, message))
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    fn run(raw_query: &str, hdrs: &[(&str, &str)]) -> Result<Option<Identity>, OssError> {
        let query = query(raw_query);
        let headers = headers(hdrs);
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &query, headers: &headers };
        authenticate(&req, now(), &Secrets::default())
    }

    #[test]
    fn dispatch_table() {
        // (raw query, headers, expected: Ok(anonymous?) or error code)
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, Headers, Result<bool, &str>)] = &[
            ("", &[], Ok(true)),
            ("prefix=a&Expires=1", &[("date", NOW_HTTP)], Ok(true)),
            ("", &[("authorization", "")], Err("InvalidArgument")),
            ("", &[("authorization", "Bearer x")], Err("InvalidArgument")),
            ("", &[("authorization", "OSS2 AccessKeyId:ak,Signature:x")], Err("InvalidArgument")),
            ("", &[("authorization", "OSS4-HMAC-SHA256")], Err("InvalidArgument")),
            ("OSSAccessKeyId=ak", &[], Err("InvalidArgument")),
            ("Signature=x", &[], Err("InvalidArgument")),
            ("OSSAccessKeyId=ak&Signature=x&Expires=1", &[("authorization", "OSS ak:x")], Err("InvalidArgument")),
            ("x-oss-signature-version=OSS2", &[], Err("InvalidArgument")),
        ];
        for (raw, hdrs, expected) in cases {
            let got = run(raw, hdrs);
            match expected {
                Ok(anonymous) => assert_eq!(got.unwrap().is_none(), *anonymous, "{raw} {hdrs:?}"),
                Err(code) => assert_eq!(got.unwrap_err().code, *code, "{raw} {hdrs:?}"),
            }
        }
    }

    #[test]
    fn lookup_errors_are_propagated() {
        let sts = format!("GET\n\n\n{NOW_HTTP}\nx-oss-security-token:WRONG\n/b/k");
        let auth = format!("OSS {STS_AK}:{}", hmac_sha1_b64(STS_SECRET, &sts));
        let err =
            run("", &[("date", NOW_HTTP), ("x-oss-security-token", "WRONG"), ("authorization", &auth)]).unwrap_err();
        assert_eq!((err.status, err.code), (403, "InvalidAccessKeyId"));
        assert_eq!(testutil::extra(&err, "OSSAccessKeyId"), Some(STS_AK));
    }

    #[test]
    fn latin1_header_bytes_are_read_as_characters() {
        let mut map = HeaderMap::new();
        map.insert("x-oss-meta-a", http::HeaderValue::from_bytes(b"caf\xe9").unwrap());
        map.insert("x-oss-meta-b", http::HeaderValue::from_bytes("café".as_bytes()).unwrap());
        assert_eq!(header_value(&map, "x-oss-meta-a").as_deref(), Some("café"));
        assert_eq!(header_value(&map, "x-oss-meta-b").as_deref(), Some("café"));
    }

    #[test]
    fn skew_boundary() {
        let at = |offset: i64| check_skew("t", NOW_UNIX + offset, now());
        assert!(at(MAX_SKEW_SECS as i64).is_ok());
        assert!(at(-(MAX_SKEW_SECS as i64)).is_ok());
        assert_eq!(at(MAX_SKEW_SECS as i64 + 1).unwrap_err().code, "RequestTimeTooSkewed");
        assert_eq!(at(-(MAX_SKEW_SECS as i64) - 1).unwrap_err().code, "RequestTimeTooSkewed");
    }
}
