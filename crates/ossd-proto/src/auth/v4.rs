//! V4 signatures (OSS4-HMAC-SHA256): header and presigned URLs. Spec oss-api.md §1.3.
//!
//! The signing key and the credential parser also serve V4 PostObject policies
//! (see [`super::post_policy`]).

use super::{
    Identity, SecretLookup, SignatureCarrier, SignatureVersion, SignedRequest, check_not_expired, check_skew,
    header_value, query_value, security_token, signatures_equal, signed_headers,
};
use crate::error::OssError;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use std::time::SystemTime;

pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";
/// The last element of every V4 credential scope.
pub const TERMINATOR: &str = "aliyun_v4_request";
/// The payload hash when the body is not hashed (what all three SDKs send).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// RFC 3986: everything but `A-Za-z0-9-_.~` is percent-encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// The same for paths, where `/` stays as it is.
const RFC3986_PATH: &AsciiSet = &RFC3986.remove(b'/');

/// `<AccessKeyId>/<yyyymmdd>/<region>/<product>/aliyun_v4_request`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub product: String,
    pub terminator: String,
}

impl Credential {
    /// `<date>/<region>/<product>/<terminator>`, the scope line of the string to sign.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/{}", self.date, self.region, self.product, self.terminator)
    }
}

/// Splits a credential string. The four scope parts are taken from the right, so the
/// access key id is everything before them. `None` when a part is missing or empty.
pub fn parse_credential(s: &str) -> Option<Credential> {
    let mut parts = s.rsplitn(5, '/');
    let terminator = parts.next()?;
    let product = parts.next()?;
    let region = parts.next()?;
    let date = parts.next()?;
    let access_key_id = parts.next()?;
    let all = [access_key_id, date, region, product, terminator];
    if all.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(Credential {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        product: product.to_owned(),
        terminator: terminator.to_owned(),
    })
}

/// Any region is accepted (a local server has no region of its own), but the scope must
/// be for OSS and end in `aliyun_v4_request`; the date must be 8 digits.
pub fn check_scope(credential: &Credential) -> Result<(), OssError> {
    let date_ok = credential.date.len() == 8 && credential.date.bytes().all(|b| b.is_ascii_digit());
    if credential.product != "oss" || credential.terminator != TERMINATOR || !date_ok {
        return Err(OssError::invalid_argument(format!("Invalid credential scope: {}", credential.scope())));
    }
    Ok(())
}

/// The HMAC chain `aliyun_v4<secret>` → date → region → product → `aliyun_v4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, product: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("aliyun_v4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_product = hmac_sha256(&k_region, product.as_bytes());
    hmac_sha256(&k_product, TERMINATOR.as_bytes())
}

/// Lower-case hex HMAC-SHA256 of `message` under a signing key.
pub fn sign(signing_key: &[u8; 32], message: &str) -> String {
    hex::encode(hmac_sha256(signing_key, message.as_bytes()))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// How an empty query value is written in the canonical query. OSS and oss2 write a bare
/// `k`; ali-oss (through `qs.stringify`) writes `k=` for an empty string in `query`, so the
/// verifier tries that form second. ali-oss also adds the operation's sub-resource with a null
/// value, written bare, next to the caller's `query`: `listUploads({prefix: ''})` signs
/// `prefix=&uploads`, so the third form writes sub-resources bare and other names with `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyValue {
    Bare,
    WithEquals,
    SubresourcesBare,
}

/// URI-encode(`/bucket/key`) with `/` kept; `/bucket/` without a key, `/` without a bucket.
/// The bucket is included even for virtual-hosted requests.
pub fn canonical_uri(bucket: Option<&str>, key: Option<&str>) -> String {
    let path = match bucket {
        Some(bucket) => format!("/{bucket}/{}", key.unwrap_or("")),
        None => "/".to_owned(),
    };
    utf8_percent_encode(&path, RFC3986_PATH).to_string()
}

/// Every query parameter but `skip` (the signature of a presigned URL), names and values
/// RFC 3986-encoded, sorted by encoded name, joined with `&`.
pub fn canonical_query(query: &[(String, String)], skip: Option<&str>, empty: EmptyValue) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != skip)
        .map(|(name, value)| (encode(name), encode(value)))
        .collect();
    pairs.sort();
    let written: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| match (value.is_empty(), empty) {
            (true, EmptyValue::Bare) => name,
            (true, EmptyValue::SubresourcesBare) if super::v1::SIGNED_SUBRESOURCES.contains(&name.as_str()) => name,
            _ => format!("{name}={value}"),
        })
        .collect();
    written.join("&")
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// The names in `AdditionalHeaders`: lower-cased, sorted, de-duplicated.
pub fn normalize_additional_headers(list: &str) -> Vec<String> {
    let mut names: Vec<String> =
        list.split(';').map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()).collect();
    names.sort();
    names.dedup();
    names
}

/// `content-type`, `content-md5`, every `x-oss-*` and the additional headers that are
/// present, each `name:value\n`, sorted.
pub fn canonical_headers(req: &SignedRequest<'_>, additional_headers: &[String]) -> String {
    let wanted = |name: &str| {
        name == "content-type"
            || name == "content-md5"
            || name.starts_with("x-oss-")
            || additional_headers.iter().any(|h| h == name)
    };
    signed_headers(req.headers, wanted).into_iter().map(|(name, value)| format!("{name}:{value}\n")).collect()
}

/// The `x-oss-content-sha256` header, or `UNSIGNED-PAYLOAD` without it.
pub fn payload_hash(req: &SignedRequest<'_>) -> String {
    header_value(req.headers, "x-oss-content-sha256")
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| UNSIGNED_PAYLOAD.to_owned())
}

/// OSS signs no payload: `x-oss-content-sha256`, when sent, must be `UNSIGNED-PAYLOAD`. Any
/// other value would promise a body hash that nobody checks (EC 0002-00000214).
pub fn check_payload_hash(req: &SignedRequest<'_>) -> Result<(), OssError> {
    match header_value(req.headers, "x-oss-content-sha256").as_deref().map(str::trim) {
        None | Some(UNSIGNED_PAYLOAD) => Ok(()),
        Some(_) => {
            Err(OssError::invalid_argument("x-oss-content-sha256 must be UNSIGNED-PAYLOAD.").with_ec("0002-00000214"))
        }
    }
}

/// Longest lifetime of a presigned V4 URL: 7 days (EC 0002-00000232 beyond it).
pub const MAX_PRESIGNED_EXPIRES: i64 = 604_800;

/// VERB, URI, query, headers (whose block ends in `\n`, so an empty line follows),
/// additional header names and payload hash, joined with `\n`. `skip_query` is the
/// parameter left out of the query (`x-oss-signature` for presigned URLs).
pub fn canonical_request(
    req: &SignedRequest<'_>,
    additional_headers: &[String],
    skip_query: Option<&str>,
    empty: EmptyValue,
) -> String {
    [
        req.method.to_owned(),
        canonical_uri(req.bucket, req.key),
        canonical_query(req.query, skip_query, empty),
        canonical_headers(req, additional_headers),
        additional_headers.join(";"),
        payload_hash(req),
    ]
    .join("\n")
}

/// `OSS4-HMAC-SHA256\n<datetime>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(datetime: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{datetime}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())))
}

/// The `Authorization` value for a header-signed V4 request (ali-oss's layout).
/// `datetime` is the request's `x-oss-date`, which must already be among its headers.
pub fn authorization(
    access_key_id: &str,
    secret: &str,
    region: &str,
    datetime: &str,
    req: &SignedRequest<'_>,
    additional_headers: &[String],
) -> String {
    let date = datetime.get(..8).unwrap_or(datetime);
    let scope = format!("{date}/{region}/oss/{TERMINATOR}");
    let canonical = canonical_request(req, additional_headers, None, EmptyValue::Bare);
    let key = signing_key(secret, date, region, "oss");
    let signature = sign(&key, &string_to_sign(datetime, &scope, &canonical));
    let additional = match additional_headers {
        [] => String::new(),
        names => format!("AdditionalHeaders={},", names.join(";")),
    };
    format!("{ALGORITHM} Credential={access_key_id}/{scope},{additional}Signature={signature}")
}

/// Seconds since the epoch of `yyyymmddThhmmssZ`.
pub fn parse_iso8601_basic(s: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(s, format).ok()?;
    Some(t.assume_utc().unix_timestamp())
}

/// The parts of `Authorization: OSS4-HMAC-SHA256 ...`.
struct AuthorizationFields {
    credential: Credential,
    additional_headers: Vec<String>,
    signature: String,
}

/// Parses `Credential=..,[AdditionalHeaders=..,]Signature=..` in any order, with or without
/// a space after each comma (ali-oss writes none, oss2 writes `, ` and puts
/// AdditionalHeaders last).
fn parse_authorization(fields: &str) -> Result<AuthorizationFields, OssError> {
    let invalid = || OssError::invalid_argument("Authorization header is invalid.");
    let (mut credential, mut additional, mut signature) = (None, String::new(), None);
    for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (name, value) = field.split_once('=').ok_or_else(invalid)?;
        match name.trim() {
            "Credential" => credential = Some(value.trim()),
            "AdditionalHeaders" => additional = value.trim().to_owned(),
            "Signature" => signature = Some(value.trim()),
            _ => return Err(invalid()),
        }
    }
    let credential = parse_credential(credential.ok_or_else(invalid)?).ok_or_else(invalid)?;
    let signature = signature.filter(|s| !s.is_empty()).ok_or_else(invalid)?;
    Ok(AuthorizationFields {
        credential,
        additional_headers: normalize_additional_headers(&additional),
        signature: signature.to_owned(),
    })
}

/// What both V4 forms hand to the signature check.
struct V4Claim<'r> {
    credential: Credential,
    additional_headers: Vec<String>,
    signature: String,
    datetime: String,
    skip_query: Option<&'r str>,
}

/// Verifies `Authorization: OSS4-HMAC-SHA256 <fields>`; the time is the `x-oss-date` header.
pub(crate) fn verify_header(
    req: &SignedRequest<'_>,
    fields: &str,
    now: SystemTime,
    secrets: &dyn SecretLookup,
) -> Result<Identity, OssError> {
    let fields = parse_authorization(fields)?;
    check_scope(&fields.credential)?;
    check_payload_hash(req)?;
    let datetime = header_value(req.headers, "x-oss-date")
        .map(|d| d.trim().to_owned())
        .ok_or_else(|| OssError::access_denied("x-oss-date is required for OSS4-HMAC-SHA256."))?;
    let unix = parse_request_datetime(&datetime, &fields.credential)?;
    check_skew(&datetime, unix, now)?;
    let token = security_token(req, None);
    let claim = V4Claim {
        credential: fields.credential,
        additional_headers: fields.additional_headers,
        signature: fields.signature,
        datetime,
        skip_query: None,
    };
    verify(req, claim, token, SignatureCarrier::Header, secrets)
}

/// Verifies a presigned V4 URL: everything is in the query, the lifetime is
/// `x-oss-expires` seconds from `x-oss-date`.
pub(crate) fn verify_presigned(
    req: &SignedRequest<'_>,
    now: SystemTime,
    secrets: &dyn SecretLookup,
) -> Result<Identity, OssError> {
    let required = |name: &str| {
        query_value(req.query, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| OssError::invalid_argument(format!("{name} is required in a V4 signed URL.")))
    };
    let credential = parse_credential(required("x-oss-credential")?)
        .ok_or_else(|| OssError::invalid_argument("x-oss-credential is invalid."))?;
    check_scope(&credential)?;
    let datetime = required("x-oss-date")?.to_owned();
    let expires: i64 = required("x-oss-expires")?
        .parse()
        .map_err(|_| OssError::invalid_argument("x-oss-expires must be a number of seconds."))?;
    if !(1..=MAX_PRESIGNED_EXPIRES).contains(&expires) {
        return Err(OssError::invalid_argument(format!(
            "x-oss-expires must be between 1 and {MAX_PRESIGNED_EXPIRES} seconds."
        ))
        .with_ec("0002-00000232"));
    }
    check_payload_hash(req)?;
    let signature = required("x-oss-signature")?.to_owned();
    let unix = parse_request_datetime(&datetime, &credential)?;
    check_not_expired(unix.saturating_add(expires), now)?;
    let additional_headers =
        normalize_additional_headers(query_value(req.query, "x-oss-additional-headers").unwrap_or(""));
    let token = security_token(req, Some("x-oss-security-token"));
    let claim = V4Claim { credential, additional_headers, signature, datetime, skip_query: Some("x-oss-signature") };
    verify(req, claim, token, SignatureCarrier::PresignedUrl, secrets)
}

/// Parses the request time and ties it to the credential's date, which the signing key
/// was derived from.
fn parse_request_datetime(datetime: &str, credential: &Credential) -> Result<i64, OssError> {
    let unix = parse_iso8601_basic(datetime)
        .ok_or_else(|| OssError::access_denied(format!("x-oss-date is not a valid ISO 8601 time: {datetime}")))?;
    if !datetime.starts_with(&credential.date) {
        return Err(OssError::access_denied("The date in the credential scope does not match x-oss-date."));
    }
    Ok(unix)
}

fn verify(
    req: &SignedRequest<'_>,
    claim: V4Claim<'_>,
    token: Option<String>,
    carrier: SignatureCarrier,
    secrets: &dyn SecretLookup,
) -> Result<Identity, OssError> {
    let credential = &claim.credential;
    let secret = secrets.secret_for(&credential.access_key_id, token.as_deref())?;
    let key = signing_key(&secret, &credential.date, &credential.region, &credential.product);
    let provided = claim.signature.to_ascii_lowercase();
    let attempt = |empty| {
        let canonical = canonical_request(req, &claim.additional_headers, claim.skip_query, empty);
        let to_sign = string_to_sign(&claim.datetime, &credential.scope(), &canonical);
        let ok = signatures_equal(&sign(&key, &to_sign), &provided);
        (ok, canonical, to_sign)
    };
    let (ok, canonical, to_sign) = attempt(EmptyValue::Bare);
    // Only a query with an empty value has a second canonical form (see [`EmptyValue`]).
    let ok = ok
        || (has_empty_value(req.query, claim.skip_query)
            && (attempt(EmptyValue::WithEquals).0 || attempt(EmptyValue::SubresourcesBare).0));
    if !ok {
        return Err(OssError::signature_does_not_match()
            .with("OSSAccessKeyId", credential.access_key_id.clone())
            .with("SignatureProvided", claim.signature)
            .with("StringToSign", to_sign)
            .with("CanonicalRequest", canonical));
    }
    Ok(Identity {
        access_key_id: credential.access_key_id.clone(),
        security_token: token,
        version: SignatureVersion::V4,
        carrier,
    })
}

fn has_empty_value(query: &[(String, String)], skip: Option<&str>) -> bool {
    query.iter().any(|(name, value)| value.is_empty() && Some(name.as_str()) != skip)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::auth::authenticate;

    const REGION: &str = "cn-hangzhou";
    const SCOPE: &str = "20261125/cn-hangzhou/oss/aliyun_v4_request";

    /// The signature of a canonical request written out by hand, computed without the
    /// functions under test.
    fn expected_signature(secret: &str, canonical: &str) -> String {
        let to_sign = format!("OSS4-HMAC-SHA256\n{NOW_ISO}\n{SCOPE}\n{}", sha256_hex(canonical));
        v4_signature_independent(secret, "20261125", REGION, &to_sign)
    }

    #[test]
    fn parses_credentials() {
        type Parts<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);
        let cases: &[(&str, Option<Parts>)] = &[
            (
                "AK/20261125/cn-hangzhou/oss/aliyun_v4_request",
                Some(("AK", "20261125", "cn-hangzhou", "oss", "aliyun_v4_request")),
            ),
            (
                "STS.x/20261125/r/oss-cloudbox/aliyun_v4_request",
                Some(("STS.x", "20261125", "r", "oss-cloudbox", "aliyun_v4_request")),
            ),
            ("20261125/cn-hangzhou/oss/aliyun_v4_request", None),
            ("AK//cn-hangzhou/oss/aliyun_v4_request", None),
            ("", None),
        ];
        for (input, expected) in cases {
            let got = parse_credential(input);
            let got = got.as_ref().map(|c| {
                (
                    c.access_key_id.as_str(),
                    c.date.as_str(),
                    c.region.as_str(),
                    c.product.as_str(),
                    c.terminator.as_str(),
                )
            });
            assert_eq!(got, *expected, "{input}");
        }
        let cloudbox = parse_credential("AK/20261125/r/oss-cloudbox/aliyun_v4_request").unwrap();
        assert_eq!(check_scope(&cloudbox).unwrap_err().code, "InvalidArgument");
    }

    #[test]
    fn canonical_parts() {
        let cases: &[(Option<&str>, Option<&str>, &str)] = &[
            (None, None, "/"),
            (Some("b"), None, "/b/"),
            (Some("b"), Some("dir/a b+c~é.txt"), "/b/dir/a%20b%2Bc~%C3%A9.txt"),
        ];
        for (bucket, key, expected) in cases {
            assert_eq!(canonical_uri(*bucket, *key), *expected);
        }
        let q = query("prefix=a%2Fb&acl=&max-keys=10&delimiter&list-type=2&x=%21%2A%27%28%29");
        assert_eq!(
            canonical_query(&q, None, EmptyValue::Bare),
            "acl&delimiter&list-type=2&max-keys=10&prefix=a%2Fb&x=%21%2A%27%28%29"
        );
        assert_eq!(
            canonical_query(&q, Some("prefix"), EmptyValue::WithEquals),
            "acl=&delimiter=&list-type=2&max-keys=10&x=%21%2A%27%28%29"
        );
        assert_eq!(
            canonical_query(&q, None, EmptyValue::SubresourcesBare),
            "acl&delimiter=&list-type=2&max-keys=10&prefix=a%2Fb&x=%21%2A%27%28%29"
        );
        assert_eq!(normalize_additional_headers("Range; host;range"), vec!["host".to_owned(), "range".to_owned()]);
        assert_eq!(parse_iso8601_basic(NOW_ISO), Some(NOW_UNIX));
        assert_eq!(parse_iso8601_basic("2026-11-25T00:50:24Z"), None);
    }

    /// Header-signed requests: (bucket, key, raw query, headers, canonical request written
    /// by hand, Authorization layout).
    #[test]
    fn header_signed_round_trips() {
        let base: &[(&str, &str)] = &[("x-oss-date", NOW_ISO), ("x-oss-content-sha256", "UNSIGNED-PAYLOAD")];
        let oss_headers = format!("x-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:{NOW_ISO}\n");
        type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a str, Vec<(&'a str, &'a str)>, String, &'a str);
        let cases: Vec<Case> = vec![
            (
                Some("b"),
                Some("k"),
                "",
                base.to_vec(),
                format!("GET\n/b/k\n\n{oss_headers}\n\nUNSIGNED-PAYLOAD"),
                "Credential={AK}/{SCOPE},Signature={SIG}",
            ),
            (
                // oss2 layout, AdditionalHeaders after Signature, list not sorted
                Some("b"),
                Some("dir/a b.txt"),
                "",
                [base, &[("range", "bytes=0-9"), ("host", "b.example.com"), ("content-type", "text/plain")]].concat(),
                format!(
                    "GET\n/b/dir/a%20b.txt\n\ncontent-type:text/plain\nhost:b.example.com\nrange:bytes=0-9\n{oss_headers}\nhost;range\nUNSIGNED-PAYLOAD"
                ),
                "Credential={AK}/{SCOPE}, Signature={SIG}, AdditionalHeaders=range;host",
            ),
            (
                // empty query values are bare names; non-sub-resource params are signed too
                Some("b"),
                None,
                "list-type=2&prefix=a%2Fb&delimiter=&continuation-token=",
                base.to_vec(),
                format!(
                    "GET\n/b/\ncontinuation-token&delimiter&list-type=2&prefix=a%2Fb\n{oss_headers}\n\nUNSIGNED-PAYLOAD"
                ),
                "Credential={AK}/{SCOPE},Signature={SIG}",
            ),
            (
                // ali-oss `?acl=` with `{acl: null}` signs a bare name
                Some("b"),
                None,
                "acl=",
                [base, &[("x-oss-acl", "private")]].concat(),
                format!("PUT\n/b/\nacl\nx-oss-acl:private\n{oss_headers}\n\nUNSIGNED-PAYLOAD"),
                "Credential={AK}/{SCOPE},Signature={SIG}",
            ),
            (
                // ali-oss `query: {prefix: ''}` goes through qs.stringify as `prefix=`
                Some("b"),
                None,
                "prefix=",
                base.to_vec(),
                format!("GET\n/b/\nprefix=\n{oss_headers}\n\nUNSIGNED-PAYLOAD"),
                "Credential={AK}/{SCOPE},Signature={SIG}",
            ),
            (
                // no x-oss-content-sha256 header at all
                Some("b"),
                Some("k"),
                "",
                vec![("x-oss-date", NOW_ISO)],
                format!("GET\n/b/k\n\nx-oss-date:{NOW_ISO}\n\n\nUNSIGNED-PAYLOAD"),
                "Credential={AK}/{SCOPE},Signature={SIG}",
            ),
        ];
        for (bucket, key, raw, mut hdrs, canonical, layout) in cases {
            let method = canonical.split('\n').next().unwrap();
            let sig = expected_signature(SECRET, &canonical);
            let auth = format!(
                "OSS4-HMAC-SHA256 {}",
                layout.replace("{AK}", AK).replace("{SCOPE}", SCOPE).replace("{SIG}", &sig)
            );
            hdrs.push(("authorization", &auth));
            let headers = headers(&hdrs);
            let query = query(raw);
            let req = SignedRequest { method, bucket, key, query: &query, headers: &headers };
            let id = authenticate(&req, now(), &Secrets::default())
                .unwrap_or_else(|e| panic!("{canonical:?}: {e:?}"))
                .unwrap();
            assert_eq!((id.version, id.carrier), (SignatureVersion::V4, SignatureCarrier::Header));
            assert_eq!(id.access_key_id, AK);
        }
    }

    #[test]
    fn authorization_builder_matches_verifier() {
        let hdrs =
            headers(&[("x-oss-date", NOW_ISO), ("x-oss-content-sha256", UNSIGNED_PAYLOAD), ("range", "bytes=1-2")]);
        let extra = vec!["range".to_owned()];
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &[], headers: &hdrs };
        let auth = authorization(AK, SECRET, REGION, NOW_ISO, &req, &extra);
        let canonical = format!(
            "GET\n/b/k\n\nrange:bytes=1-2\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:{NOW_ISO}\n\nrange\nUNSIGNED-PAYLOAD"
        );
        let sig = expected_signature(SECRET, &canonical);
        assert_eq!(auth, format!("OSS4-HMAC-SHA256 Credential={AK}/{SCOPE},AdditionalHeaders=range,Signature={sig}"));
    }

    #[test]
    fn header_signed_failures() {
        let canonical = format!("GET\n/b/k\n\nx-oss-date:{NOW_ISO}\n\n\nUNSIGNED-PAYLOAD");
        let good = expected_signature(SECRET, &canonical);
        let skewed_iso = "20261125T003000Z";
        let skewed_canonical = format!("GET\n/b/k\n\nx-oss-date:{skewed_iso}\n\n\nUNSIGNED-PAYLOAD");
        let skewed_sig = v4_signature_independent(
            SECRET,
            "20261125",
            REGION,
            &format!("OSS4-HMAC-SHA256\n{skewed_iso}\n{SCOPE}\n{}", sha256_hex(&skewed_canonical)),
        );
        let auth =
            |ak: &str, scope: &str, sig: &str| format!("OSS4-HMAC-SHA256 Credential={ak}/{scope},Signature={sig}");
        // (x-oss-date, Authorization, status, code)
        let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
            (Some(NOW_ISO), auth(AK, SCOPE, &good[..63]), 403, "SignatureDoesNotMatch"),
            (Some(NOW_ISO), auth(AK, SCOPE, &good.replace('a', "b")), 403, "SignatureDoesNotMatch"),
            (Some(NOW_ISO), auth("nobody", SCOPE, &good), 403, "InvalidAccessKeyId"),
            (Some(NOW_ISO), auth(AK, "20261125/cn-hangzhou/s3/aliyun_v4_request", &good), 400, "InvalidArgument"),
            (Some(NOW_ISO), auth(AK, "20261124/cn-hangzhou/oss/aliyun_v4_request", &good), 403, "AccessDenied"),
            (Some(skewed_iso), auth(AK, SCOPE, &skewed_sig), 403, "RequestTimeTooSkewed"),
            (None, auth(AK, SCOPE, &good), 403, "AccessDenied"),
            (Some("Wed, 25 Nov 2026 00:50:24 GMT"), auth(AK, SCOPE, &good), 403, "AccessDenied"),
            (Some(NOW_ISO), format!("OSS4-HMAC-SHA256 Credential={AK}/{SCOPE}"), 400, "InvalidArgument"),
            (Some(NOW_ISO), format!("OSS4-HMAC-SHA256 Credential={AK}/{SCOPE},Signature"), 400, "InvalidArgument"),
            (
                Some(NOW_ISO),
                format!("OSS4-HMAC-SHA256 Credential={AK}/{SCOPE},Foo=1,Signature={good}"),
                400,
                "InvalidArgument",
            ),
        ];
        for (date, authz, status, code) in cases {
            let mut hdrs = vec![("authorization", authz.as_str())];
            if let Some(date) = date {
                hdrs.push(("x-oss-date", date));
            }
            let headers = headers(&hdrs);
            let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &[], headers: &headers };
            let err = authenticate(&req, now(), &Secrets::default()).unwrap_err();
            assert_eq!((err.status, err.code), (status, code), "{authz}");
        }
    }

    #[test]
    fn mismatch_reports_canonical_request() {
        let headers = headers(&[
            ("x-oss-date", NOW_ISO),
            ("authorization", &format!("OSS4-HMAC-SHA256 Credential={AK}/{SCOPE},Signature=00")),
        ]);
        let query = query("acl");
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: None, query: &query, headers: &headers };
        let err = authenticate(&req, now(), &Secrets::default()).unwrap_err();
        let canonical = format!("GET\n/b/\nacl\nx-oss-date:{NOW_ISO}\n\n\nUNSIGNED-PAYLOAD");
        assert_eq!(err.code, "SignatureDoesNotMatch");
        assert_eq!(extra(&err, "CanonicalRequest"), Some(canonical.as_str()));
        let sts = format!("OSS4-HMAC-SHA256\n{NOW_ISO}\n{SCOPE}\n{}", sha256_hex(&canonical));
        assert_eq!(extra(&err, "StringToSign"), Some(sts.as_str()));
        assert_eq!(extra(&err, "SignatureProvided"), Some("00"));
        assert_eq!(extra(&err, "OSSAccessKeyId"), Some(AK));
    }

    #[test]
    fn virtual_hosted_request_still_signs_the_bucket() {
        // Host-style: the router found the bucket in Host; the canonical URI still has it.
        let canonical = format!("GET\n/b/k\n\nx-oss-date:{NOW_ISO}\n\n\nUNSIGNED-PAYLOAD");
        let auth =
            format!("OSS4-HMAC-SHA256 Credential={AK}/{SCOPE},Signature={}", expected_signature(SECRET, &canonical));
        let headers = headers(&[("host", "b.127.0.0.1:9000"), ("x-oss-date", NOW_ISO), ("authorization", &auth)]);
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &[], headers: &headers };
        assert!(authenticate(&req, now(), &Secrets::default()).unwrap().is_some());
    }

    #[test]
    fn security_token_header_is_passed_on() {
        let canonical = format!("GET\n/b/k\n\nx-oss-date:{NOW_ISO}\nx-oss-security-token:TOKEN\n\n\nUNSIGNED-PAYLOAD");
        let auth = format!(
            "OSS4-HMAC-SHA256 Credential={STS_AK}/{SCOPE},Signature={}",
            expected_signature(STS_SECRET, &canonical)
        );
        let headers = headers(&[("x-oss-date", NOW_ISO), ("x-oss-security-token", "TOKEN"), ("authorization", &auth)]);
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &[], headers: &headers };
        let secrets = Secrets::default();
        let id = authenticate(&req, now(), &secrets).unwrap().unwrap();
        assert_eq!(id.security_token.as_deref(), Some("TOKEN"));
        assert_eq!(secrets.seen(), vec![(STS_AK.to_owned(), Some("TOKEN".to_owned()))]);
    }

    /// Presigned URLs: the canonical query is written by hand (sorted, encoded, without
    /// x-oss-signature), then the signature is appended to the URL.
    #[test]
    fn presigned_urls() {
        let cred = format!("{AK}%2F20261125%2Fcn-hangzhou%2Foss%2Faliyun_v4_request");
        let signed = |date: &str, expires: &str, extra: &str| {
            format!(
                "{extra}x-oss-credential={cred}&x-oss-date={date}&x-oss-expires={expires}&x-oss-signature-version=OSS4-HMAC-SHA256"
            )
        };
        // (query before the signature, string-to-sign datetime, expected)
        let cases: Vec<(String, &str, Result<(), &str>)> = vec![
            (signed(NOW_ISO, "60", ""), NOW_ISO, Ok(())),
            (signed("20261125T004000Z", "3600", "response-content-type=text%2Fplain&"), "20261125T004000Z", Ok(())),
            (signed("20261125T004000Z", "60", ""), "20261125T004000Z", Err("AccessDenied")),
        ];
        for (raw, datetime, expected) in cases {
            let q = query(&raw);
            let canonical = format!("GET\n/b/k\n{raw}\n\n\nUNSIGNED-PAYLOAD");
            let to_sign = format!("OSS4-HMAC-SHA256\n{datetime}\n{SCOPE}\n{}", sha256_hex(&canonical));
            let sig = v4_signature_independent(SECRET, "20261125", REGION, &to_sign);
            assert_eq!(canonical_query(&q, None, EmptyValue::Bare), raw, "the hand-written query is canonical");
            let full = query(&format!("{raw}&x-oss-signature={sig}"));
            let headers = headers(&[]);
            let req =
                SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &full, headers: &headers };
            let got = authenticate(&req, now(), &Secrets::default());
            match expected {
                Ok(()) => {
                    let id = got.unwrap_or_else(|e| panic!("{raw}: {e:?}")).unwrap();
                    assert_eq!((id.version, id.carrier), (SignatureVersion::V4, SignatureCarrier::PresignedUrl));
                }
                Err(code) => {
                    let err = got.unwrap_err();
                    assert_eq!(err.code, code, "{raw}");
                    assert_eq!(err.message, "Request has expired.");
                }
            }
        }
    }

    /// Hostile values refused before any signature work: a body hash OSS would not check, and
    /// a presigned lifetime beyond 7 days (or not positive).
    #[test]
    fn payload_hash_and_presigned_lifetime_are_bounded() {
        let auth = format!("OSS4-HMAC-SHA256 Credential={AK}/{SCOPE},Signature=00");
        let h = headers(&[("x-oss-date", NOW_ISO), ("x-oss-content-sha256", EMPTY_SHA256), ("authorization", &auth)]);
        let req = SignedRequest { method: "PUT", bucket: Some("b"), key: Some("k"), query: &[], headers: &h };
        let err = authenticate(&req, now(), &Secrets::default()).unwrap_err();
        assert_eq!((err.code, err.ec.as_deref()), ("InvalidArgument", Some("0002-00000214")));
        let cred = format!("{AK}%2F20261125%2Fcn-hangzhou%2Foss%2Faliyun_v4_request");
        for expires in ["604801", "9223372036854775807", "0", "-5"] {
            let q = query(&format!(
                "x-oss-credential={cred}&x-oss-date={NOW_ISO}&x-oss-expires={expires}&x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-signature=00"
            ));
            let h = headers(&[]);
            let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &q, headers: &h };
            let err = authenticate(&req, now(), &Secrets::default()).unwrap_err();
            assert_eq!((err.code, err.ec.as_deref()), ("InvalidArgument", Some("0002-00000232")), "{expires}");
        }
    }

    #[test]
    fn presigned_with_token_and_additional_headers() {
        let raw = format!(
            "x-oss-additional-headers=host&x-oss-credential={STS_AK}%2F20261125%2Fcn-hangzhou%2Foss%2Faliyun_v4_request\
             &x-oss-date={NOW_ISO}&x-oss-expires=60&x-oss-security-token=TOK%2BEN&x-oss-signature-version=OSS4-HMAC-SHA256"
        );
        let canonical = format!("PUT\n/b/k\n{raw}\ncontent-type:text/plain\nhost:127.0.0.1\n\nhost\nUNSIGNED-PAYLOAD");
        let sig = expected_signature(STS_SECRET, &canonical);
        let full = query(&format!("{raw}&x-oss-signature={sig}"));
        let headers = headers(&[("host", "127.0.0.1"), ("content-type", "text/plain"), ("range", "ignored")]);
        let req = SignedRequest { method: "PUT", bucket: Some("b"), key: Some("k"), query: &full, headers: &headers };
        let secrets = Secrets::default();
        let id = authenticate(&req, now(), &secrets).unwrap().unwrap();
        assert_eq!(id.security_token.as_deref(), Some("TOK+EN"));
        assert_eq!(secrets.seen(), vec![(STS_AK.to_owned(), Some("TOK+EN".to_owned()))]);

        let tampered = query(&format!("{raw}&x-oss-signature={}", sig.replace('0', "1").replace('a', "0")));
        let req = SignedRequest { query: &tampered, ..req };
        assert_eq!(authenticate(&req, now(), &secrets).unwrap_err().code, "SignatureDoesNotMatch");
    }

    #[test]
    fn presigned_malformed() {
        let cases = [
            "x-oss-signature-version=OSS2&x-oss-signature=x",
            "x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-date=20261125T005024Z&x-oss-expires=60&x-oss-signature=ab",
            "x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=ak%2F20261125%2Fr%2Foss%2Faliyun_v4_request&x-oss-date=20261125T005024Z&x-oss-expires=soon&x-oss-signature=ab",
        ];
        for raw in cases {
            let q = query(raw);
            let headers = headers(&[]);
            let req = SignedRequest { method: "GET", bucket: Some("b"), key: None, query: &q, headers: &headers };
            assert_eq!(authenticate(&req, now(), &Secrets::default()).unwrap_err().code, "InvalidArgument", "{raw}");
        }
    }
}
