//! STS temporary credentials in the shape of Alibaba's STS API (`Action=AssumeRole`,
//! Version 2015-04-01): the RPC request signature, AssumeRole's checks, the self-contained
//! security tokens, and the JSON/XML answers and errors.
//!
//! Tokens are not server-side sessions: `SecurityToken` = base64url(claims JSON) + `.` +
//! base64url(HMAC-SHA256(token key, claims JSON)), where the claims hold the temporary
//! AccessKeyId, the role, the session name, the effective policies (the role's, then the
//! session's) and the expiry. The temporary AccessKeySecret is derived from the token key and
//! the AccessKeyId, never stored. So a token stays valid across restarts and on every node
//! that shares the token key, and cannot be altered without the key.
//!
//! Pure: the caller supplies the time and the random part of the AccessKeyId.

use crate::error::push_elem;
use crate::ram::{Policy, PolicyError};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const API_VERSION: &str = "2015-04-01";
/// Shortest and longest lifetimes STS grants by default (15 minutes, and a role's default
/// maximum of one hour).
pub const MIN_DURATION_SECONDS: u64 = 900;
pub const DEFAULT_MAX_DURATION_SECONDS: u64 = 3600;
/// Roles may allow up to 12 hours, as RAM's MaxSessionDuration.
pub const LONGEST_MAX_DURATION_SECONDS: u64 = 43_200;
/// Largest session `Policy` accepted, in bytes.
pub const MAX_SESSION_POLICY_BYTES: usize = 2048;
/// Largest clock difference accepted for an RPC request's `Timestamp`.
pub const MAX_TIMESTAMP_SKEW_SECS: i64 = 15 * 60;
/// Prefix of every temporary AccessKeyId.
pub const TEMP_AK_PREFIX: &str = "STS.";
/// Tokens longer than this are refused before any decoding.
const MAX_TOKEN_LEN: usize = 64 * 1024;

// ---- RPC signature (HMAC-SHA1, SignatureVersion 1.0) ----

/// POP percent-encoding: RFC 3986, everything but `A-Z a-z 0-9 - _ . ~` as upper-case `%XX`
/// of the UTF-8 bytes (so a space is `%20`, `*` is `%2A`, `~` stays).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `METHOD&%2F&percentEncode(sorted, encoded name=value pairs joined by &)`, over every
/// parameter but `Signature`.
pub fn rpc_string_to_sign<'a>(method: &str, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .into_iter()
        .filter(|(k, _)| *k != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    let canonical = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    format!("{}&{}&{}", method.to_ascii_uppercase(), percent_encode("/"), percent_encode(&canonical))
}

/// Base64 HMAC-SHA1 of the string to sign, keyed with `secret + "&"`.
pub fn rpc_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of two signatures.
pub fn signatures_equal(expected: &str, provided: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.as_bytes().ct_eq(provided.as_bytes()).into()
}

// ---- errors ----

/// An STS error answer: HTTP status, `Code`, `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for StsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for StsError {}

impl StsError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        StsError { status, code, message: message.into() }
    }
    pub fn missing(param: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!("The input parameter \"{param}\" that is mandatory for processing this request is not supplied."),
        )
    }
    pub fn access_key_not_found() -> Self {
        Self::new(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    }
    /// The message carries the server's string to sign after `:`, where Alibaba's SDKs look
    /// for it (they then report a wrong secret as `InvalidAccessKeySecret`).
    pub fn signature_does_not_match(string_to_sign: &str) -> Self {
        Self::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        )
    }
    pub fn no_permission() -> Self {
        Self::new(403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.")
    }
    pub fn role_not_found(arn: &str) -> Self {
        Self::new(404, "EntityNotExist.Role", format!("The specified Role not exists: {arn}."))
    }
    pub fn duration(min: u64, max: u64) -> Self {
        Self::new(
            400,
            "InvalidParameter.DurationSeconds",
            format!("The Min/Max value of DurationSeconds is {}/{}.", human_duration(min), human_duration(max)),
        )
    }
    pub fn policy_grammar() -> Self {
        Self::new(400, "InvalidParameter.PolicyGrammar", "The parameter Policy has not passed grammar check.")
    }
}

/// `15min`, `1hr`, `12hr`, else seconds (`20s`).
fn human_duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}hr", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}min", s / 60),
        s => format!("{s}s"),
    }
}

/// Response format: `Format=JSON`, else XML (the RPC default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn from_param(v: Option<&str>) -> Format {
        match v {
            Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Xml,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json;charset=utf-8",
            Format::Xml => "text/xml;charset=utf-8",
        }
    }
}

fn recommend(code: &str) -> String {
    format!("https://api.aliyun.com/troubleshoot?q={code}&product=Sts")
}

/// The error body: `{RequestId, HostId, Code, Message, Recommend}` or `<Error>` with the same.
pub fn render_error(err: &StsError, format: Format, request_id: &str, host_id: &str) -> String {
    match format {
        Format::Json => json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": err.code,
            "Message": err.message,
            "Recommend": recommend(err.code),
        })
        .to_string(),
        Format::Xml => {
            let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
            push_elem(&mut s, "RequestId", request_id);
            push_elem(&mut s, "HostId", host_id);
            push_elem(&mut s, "Code", err.code);
            push_elem(&mut s, "Message", &err.message);
            push_elem(&mut s, "Recommend", &recommend(err.code));
            s.push_str("</Error>\n");
            s
        }
    }
}

// ---- roles ----

/// A role that AssumeRole can hand out (declared in ossd's configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    /// `acs:ram::<account>:role/<name>`.
    pub arn: String,
    /// The account id in the ARN; also the owner in OSS resource ARNs.
    pub account: String,
    /// The role's policy document (checked).
    pub policy: Value,
    pub max_duration_seconds: u64,
}

/// Splits `acs:ram::<account>:role/<name>` into (account, name).
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, role) = rest.split_once(':')?;
    let name = role.strip_prefix("role/")?;
    let valid_account = !account.is_empty() && account.bytes().all(|b| b.is_ascii_alphanumeric());
    let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (valid_account && valid_name).then_some((account, name))
}

impl Role {
    /// Checks a configured role: the ARN's form and name, the policy's grammar, the maximum.
    pub fn new(name: &str, arn: &str, policy: Value, max_duration_seconds: u64) -> Result<Role, String> {
        let (account, arn_name) = parse_role_arn(arn)
            .ok_or_else(|| format!("role {name}: arn must look like acs:ram::<account>:role/<name>"))?;
        if !arn_name.eq_ignore_ascii_case(name) {
            return Err(format!("role {name}: the arn names role `{arn_name}`"));
        }
        Policy::parse(&policy).map_err(|e| format!("role {name}: invalid policy: {e}"))?;
        if !(MIN_DURATION_SECONDS..=LONGEST_MAX_DURATION_SECONDS).contains(&max_duration_seconds) {
            return Err(format!(
                "role {name}: max_duration_seconds must be between {MIN_DURATION_SECONDS} and {LONGEST_MAX_DURATION_SECONDS}"
            ));
        }
        Ok(Role { name: name.into(), arn: arn.into(), account: account.into(), policy, max_duration_seconds })
    }

    /// A stable numeric role id (RAM's are 18 digits), derived from the ARN.
    pub fn role_id(&self) -> String {
        let digest = Sha256::digest(self.arn.to_ascii_lowercase().as_bytes());
        let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        format!("3{:017}", n % 100_000_000_000_000_000)
    }
}

// ---- tokens ----

/// The key that signs tokens and derives temporary secrets. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// What a security token says. Policies: the role's, then the session's if one was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub v: u32,
    pub ak: String,
    pub role: String,
    pub session: String,
    pub policies: Vec<Value>,
    /// Issue and expiry times, Unix seconds.
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Malformed, altered, signed with another key, or for another AccessKeyId.
    Invalid,
    Expired,
}

type HmacSha256 = Hmac<Sha256>;

impl TokenKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> TokenKey {
        TokenKey(bytes.into())
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("any key length")
    }

    /// A one-way fingerprint of the key (hex HMAC of a fixed label), for checking that the
    /// nodes sharing a metadata store share the key without storing the key.
    pub fn fingerprint(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"ossd token key fingerprint");
        hex::encode(mac.finalize().into_bytes())
    }

    /// The temporary AccessKeySecret of `access_key_id`: base64url(HMAC-SHA256(key,
    /// "secret:" + id)), 40 characters.
    pub fn secret_for(&self, access_key_id: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"secret:");
        mac.update(access_key_id.as_bytes());
        let mut s = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        s.truncate(40);
        s
    }

    /// Encodes and signs claims into a token.
    pub fn seal(&self, claims: &TokenClaims) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialise");
        let mut mac = self.mac();
        mac.update(&payload);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// Checks a token's signature and decodes its claims (not its expiry).
    pub fn open(&self, token: &str) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let (payload, sig) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Invalid)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| TokenError::Invalid)?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
        let claims: TokenClaims = serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid)?;
        if claims.v != 1 {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }

    /// Checks a token presented with `access_key_id` at `now` (Unix seconds).
    pub fn verify(&self, token: &str, access_key_id: &str, now: i64) -> Result<TokenClaims, TokenError> {
        let claims = self.open(token)?;
        if claims.ak != access_key_id {
            return Err(TokenError::Invalid);
        }
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

impl TokenClaims {
    /// The policies, parsed (they were checked when the token was issued).
    pub fn parsed_policies(&self) -> Result<Vec<Policy>, PolicyError> {
        self.policies.iter().map(Policy::parse).collect()
    }

    /// The account id of the role's ARN.
    pub fn account(&self) -> &str {
        parse_role_arn(&self.role).map(|(a, _)| a).unwrap_or("*")
    }
}

// ---- AssumeRole ----

/// What AssumeRole hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    /// Unix seconds.
    pub expiration: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRoleUser {
    /// `acs:ram::<account>:role/<name>/<session>`.
    pub arn: String,
    /// `<role id>:<session>`.
    pub assumed_role_id: String,
}

/// The business parameters of an AssumeRole request, as sent.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleParams<'a> {
    pub role_arn: Option<&'a str>,
    pub role_session_name: Option<&'a str>,
    pub duration_seconds: Option<&'a str>,
    pub policy: Option<&'a str>,
}

/// The roles and key that AssumeRole works from.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub key: TokenKey,
    pub roles: Vec<Role>,
    /// 900 unless lowered for tests.
    pub min_duration_seconds: u64,
}

fn valid_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'-' | b'_'))
}

impl Issuer {
    pub fn find_role(&self, arn: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.arn.eq_ignore_ascii_case(arn))
    }

    pub fn find_role_by_name(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// AssumeRole's checks and the credentials it issues at `now` (Unix seconds);
    /// `ak_suffix` is the random part of the new AccessKeyId.
    pub fn assume_role(
        &self,
        p: &AssumeRoleParams<'_>,
        now: i64,
        ak_suffix: &str,
    ) -> Result<(AssumedRoleUser, Credentials), StsError> {
        let arn = p.role_arn.filter(|s| !s.is_empty()).ok_or_else(|| StsError::missing("RoleArn"))?;
        let session =
            p.role_session_name.filter(|s| !s.is_empty()).ok_or_else(|| StsError::missing("RoleSessionName"))?;
        if parse_role_arn(arn).is_none() {
            return Err(StsError::new(400, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed."));
        }
        if !valid_session_name(session) {
            return Err(StsError::new(
                400,
                "InvalidParameter.RoleSessionName",
                "The parameter RoleSessionName is wrongly formed.",
            ));
        }
        let role = self.find_role(arn).ok_or_else(|| StsError::role_not_found(arn))?;
        let (min, max) = (self.min_duration_seconds, role.max_duration_seconds);
        let duration = match p.duration_seconds.filter(|s| !s.is_empty()) {
            None => DEFAULT_MAX_DURATION_SECONDS.min(max),
            Some(d) => match d.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => return Err(StsError::duration(min, max)),
            },
        };
        let mut policies = vec![role.policy.clone()];
        if let Some(text) = p.policy.filter(|s| !s.trim().is_empty()) {
            if text.len() > MAX_SESSION_POLICY_BYTES {
                return Err(StsError::new(
                    400,
                    "InvalidParameter.PolicySize",
                    format!("The size of Policy must be smaller than {MAX_SESSION_POLICY_BYTES} bytes."),
                ));
            }
            let doc: Value = serde_json::from_str(text).map_err(|_| StsError::policy_grammar())?;
            Policy::parse(&doc).map_err(|_| StsError::policy_grammar())?;
            policies.push(doc);
        }
        let access_key_id = format!("{TEMP_AK_PREFIX}{ak_suffix}");
        let exp = now + duration as i64;
        let claims = TokenClaims {
            v: 1,
            ak: access_key_id.clone(),
            role: role.arn.clone(),
            session: session.to_string(),
            policies,
            iat: now,
            exp,
        };
        let credentials = Credentials {
            access_key_secret: self.key.secret_for(&access_key_id),
            security_token: self.key.seal(&claims),
            access_key_id,
            expiration: exp,
        };
        let user = AssumedRoleUser {
            arn: format!("{}/{session}", role.arn),
            assumed_role_id: format!("{}:{session}", role.role_id()),
        };
        Ok((user, credentials))
    }
}

/// `2015-04-09T11:52:19Z`, STS's Expiration format.
pub fn iso_seconds(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The AssumeRole answer as a JSON value: `{RequestId, AssumedRoleUser, Credentials}`.
pub fn assume_role_json(request_id: &str, user: &AssumedRoleUser, c: &Credentials) -> Value {
    json!({
        "RequestId": request_id,
        "AssumedRoleUser": {"AssumedRoleId": user.assumed_role_id, "Arn": user.arn},
        "Credentials": {
            "SecurityToken": c.security_token,
            "AccessKeyId": c.access_key_id,
            "AccessKeySecret": c.access_key_secret,
            "Expiration": iso_seconds(c.expiration),
        },
    })
}

/// The AssumeRole answer body in the requested format.
pub fn render_assume_role(format: Format, request_id: &str, user: &AssumedRoleUser, c: &Credentials) -> String {
    match format {
        Format::Json => assume_role_json(request_id, user, c).to_string(),
        Format::Xml => {
            let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AssumeRoleResponse>");
            push_elem(&mut s, "RequestId", request_id);
            s.push_str("<AssumedRoleUser>");
            push_elem(&mut s, "AssumedRoleId", &user.assumed_role_id);
            push_elem(&mut s, "Arn", &user.arn);
            s.push_str("</AssumedRoleUser><Credentials>");
            push_elem(&mut s, "SecurityToken", &c.security_token);
            push_elem(&mut s, "AccessKeyId", &c.access_key_id);
            push_elem(&mut s, "AccessKeySecret", &c.access_key_secret);
            push_elem(&mut s, "Expiration", &iso_seconds(c.expiration));
            s.push_str("</Credentials></AssumeRoleResponse>\n");
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_567_824; // 2026-11-25T00:50:24Z
    const ARN: &str = "acs:ram::1234567890123456:role/uploader";

    fn role_policy() -> Value {
        json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*"}]})
    }

    fn issuer() -> Issuer {
        Issuer {
            key: TokenKey::new(b"test-key".to_vec()),
            roles: vec![Role::new("uploader", ARN, role_policy(), 7200).unwrap()],
            min_duration_seconds: MIN_DURATION_SECONDS,
        }
    }

    fn params<'a>(duration: Option<&'a str>, policy: Option<&'a str>) -> AssumeRoleParams<'a> {
        AssumeRoleParams { role_arn: Some(ARN), role_session_name: Some("alice"), duration_seconds: duration, policy }
    }

    /// POP percent-encoding written out independently: encode everything, then undo the
    /// unreserved characters.
    fn independent_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    #[test]
    fn percent_encoding_follows_pop() {
        assert_eq!(percent_encode("a b*c~d+e/f=g&h"), "a%20b%2Ac~d%2Be%2Ff%3Dg%26h");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("!'()"), "%21%27%28%29");
    }

    #[test]
    fn rpc_signature_known_example() {
        // The request as ali-oss's STS class builds it, signed by hand below.
        let params = [
            ("Action", "AssumeRole"),
            ("RoleArn", ARN),
            ("RoleSessionName", "app"),
            ("DurationSeconds", "3600"),
            ("Format", "JSON"),
            ("Version", "2015-04-01"),
            ("AccessKeyId", "testid"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", "0.5"),
            ("Timestamp", "2026-11-25T00:50:24.000Z"),
            ("Policy", "{\"Version\":\"1\",\"Statement\":[]}"),
            ("Signature", "ignored"),
        ];
        let mut sorted: Vec<_> = params.iter().filter(|(k, _)| *k != "Signature").collect();
        sorted.sort_by_key(|(k, _)| *k);
        let canonical: Vec<String> =
            sorted.iter().map(|(k, v)| format!("{}={}", independent_encode(k), independent_encode(v))).collect();
        let expected_sts = format!("POST&%2F&{}", independent_encode(&canonical.join("&")));
        let sts = rpc_string_to_sign("POST", params.iter().copied());
        assert_eq!(sts, expected_sts);
        assert!(sts.starts_with("POST&%2F&AccessKeyId%3Dtestid%26Action%3DAssumeRole%26DurationSeconds%3D3600"));
        // The Policy's quotes are encoded twice: `"` -> %22 -> %2522.
        assert!(sts.contains("Policy%3D%257B%2522Version%2522"));
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"testsecret&").unwrap();
        mac.update(expected_sts.as_bytes());
        let expected_sig = STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(rpc_signature("testsecret", &sts), expected_sig);
        // The value ali-oss 6.23's STS._getSignature gives for the same parameters.
        assert_eq!(expected_sig, "U5ANSgik5dwtdIH/B9wpsWkpRlg=");
        assert!(signatures_equal(&expected_sig, &rpc_signature("testsecret", &sts)));
        assert!(!signatures_equal(&expected_sig, &rpc_signature("other", &sts)));
    }

    #[test]
    fn token_round_trip() {
        let iss = issuer();
        let (user, c) = iss.assume_role(&params(Some("1800"), None), NOW, "abcDEF123").unwrap();
        assert_eq!(c.access_key_id, "STS.abcDEF123");
        assert_eq!(c.expiration, NOW + 1800);
        assert_eq!(c.access_key_secret, iss.key.secret_for("STS.abcDEF123"));
        assert_eq!(c.access_key_secret.len(), 40);
        assert_eq!(user.arn, format!("{ARN}/alice"));
        assert!(user.assumed_role_id.ends_with(":alice") && user.assumed_role_id.len() == 18 + 6);
        let claims = iss.key.verify(&c.security_token, &c.access_key_id, NOW + 1799).unwrap();
        assert_eq!(claims.role, ARN);
        assert_eq!(claims.session, "alice");
        assert_eq!(claims.policies, vec![role_policy()]);
        assert_eq!(claims.account(), "1234567890123456");
        // Another process with the same key accepts it too.
        let other = TokenKey::new(b"test-key".to_vec());
        assert!(other.verify(&c.security_token, &c.access_key_id, NOW).is_ok());
        assert_eq!(other.secret_for(&c.access_key_id), c.access_key_secret);
    }

    #[test]
    fn tampered_foreign_and_expired_tokens() {
        let iss = issuer();
        let (_, c) = iss.assume_role(&params(None, None), NOW, "x1").unwrap();
        let key = &iss.key;
        assert_eq!(key.verify(&c.security_token, &c.access_key_id, NOW + 3600), Err(TokenError::Expired));
        assert_eq!(key.verify(&c.security_token, "STS.other", NOW), Err(TokenError::Invalid));
        let wrong_key = TokenKey::new(b"another".to_vec());
        assert_eq!(wrong_key.verify(&c.security_token, &c.access_key_id, NOW), Err(TokenError::Invalid));
        // Rewrite the payload (a longer expiry) and keep the old signature.
        let (payload, sig) = c.security_token.split_once('.').unwrap();
        let mut claims: TokenClaims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims.exp += 100_000;
        let forged = format!("{}.{sig}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()));
        assert_eq!(key.verify(&forged, &c.access_key_id, NOW), Err(TokenError::Invalid));
        // Flip one character of the signature.
        let mut bad = c.security_token.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.verify(std::str::from_utf8(&bad).unwrap(), &c.access_key_id, NOW), Err(TokenError::Invalid));
        for junk in ["", ".", "abc", "a.b", "!!!.###"] {
            assert_eq!(key.verify(junk, &c.access_key_id, NOW), Err(TokenError::Invalid), "{junk}");
        }
        assert!(!format!("{key:?}").contains("test-key"));
    }

    #[test]
    fn session_policy_is_carried() {
        let iss = issuer();
        let session = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*"}]}"#;
        let (_, c) = iss.assume_role(&params(None, Some(session)), NOW, "x").unwrap();
        let claims = iss.key.open(&c.security_token).unwrap();
        assert_eq!(claims.policies.len(), 2);
        assert_eq!(claims.parsed_policies().unwrap().len(), 2);
        // Default duration: 3600, capped to the role's maximum.
        assert_eq!(c.expiration, NOW + 3600);
        let short = Issuer { roles: vec![Role::new("uploader", ARN, role_policy(), 900).unwrap()], ..issuer() };
        assert_eq!(short.assume_role(&params(None, None), NOW, "x").unwrap().1.expiration, NOW + 900);
    }

    #[test]
    fn assume_role_errors() {
        let iss = issuer();
        let code = |p: AssumeRoleParams<'_>| iss.assume_role(&p, NOW, "x").unwrap_err().code;
        assert_eq!(code(params(Some("899"), None)), "InvalidParameter.DurationSeconds");
        assert_eq!(code(params(Some("7201"), None)), "InvalidParameter.DurationSeconds");
        assert_eq!(code(params(Some("abc"), None)), "InvalidParameter.DurationSeconds");
        assert!(iss.assume_role(&params(Some("900"), None), NOW, "x").is_ok());
        assert!(iss.assume_role(&params(Some("7200"), None), NOW, "x").is_ok());
        assert_eq!(code(params(None, Some("{"))), "InvalidParameter.PolicyGrammar");
        assert_eq!(code(params(None, Some(r#"{"Version":"2","Statement":[]}"#))), "InvalidParameter.PolicyGrammar");
        let big = format!(r#"{{"Version":"1","Statement":[],"x":"{}"}}"#, "a".repeat(3000));
        assert_eq!(code(params(None, Some(&big))), "InvalidParameter.PolicySize");
        assert_eq!(code(AssumeRoleParams { role_arn: None, ..params(None, None) }), "MissingParameter");
        assert_eq!(code(AssumeRoleParams { role_session_name: None, ..params(None, None) }), "MissingParameter");
        assert_eq!(
            code(AssumeRoleParams { role_arn: Some("uploader"), ..params(None, None) }),
            "InvalidParameter.RoleArn"
        );
        assert_eq!(
            code(AssumeRoleParams { role_arn: Some("acs:ram::1234567890123456:role/nobody"), ..params(None, None) }),
            "EntityNotExist.Role"
        );
        for bad in ["a", "has space", "x*y", &"n".repeat(65)] {
            assert_eq!(
                code(AssumeRoleParams { role_session_name: Some(bad), ..params(None, None) }),
                "InvalidParameter.RoleSessionName"
            );
        }
        // ARNs compare case-insensitively.
        let upper = ARN.to_ascii_uppercase().replace("ACS:RAM::", "acs:ram::").replace(":ROLE/", ":role/");
        assert!(iss.assume_role(&AssumeRoleParams { role_arn: Some(&upper), ..params(None, None) }, NOW, "x").is_ok());
        let lowered = Issuer { min_duration_seconds: 1, ..issuer() };
        assert_eq!(lowered.assume_role(&params(Some("1"), None), NOW, "x").unwrap().1.expiration, NOW + 1);
        assert_eq!(StsError::duration(900, 3600).message, "The Min/Max value of DurationSeconds is 15min/1hr.");
    }

    #[test]
    fn role_checks() {
        assert!(Role::new("uploader", ARN, role_policy(), 3600).is_ok());
        assert!(Role::new("other", ARN, role_policy(), 3600).is_err());
        assert!(Role::new("uploader", "acs:ram::1:user/uploader", role_policy(), 3600).is_err());
        assert!(Role::new("uploader", ARN, json!({"Version": "1"}), 3600).is_err());
        assert!(Role::new("uploader", ARN, role_policy(), 899).is_err());
        assert!(Role::new("uploader", ARN, role_policy(), 43_201).is_err());
        assert_eq!(parse_role_arn(ARN), Some(("1234567890123456", "uploader")));
        assert_eq!(parse_role_arn("acs:ram:::role/x"), None);
    }

    #[test]
    fn renders_json_and_xml() {
        let user = AssumedRoleUser { arn: format!("{ARN}/s"), assumed_role_id: "300000000000000001:s".into() };
        let c = Credentials {
            access_key_id: "STS.a".into(),
            access_key_secret: "sec".into(),
            security_token: "tok".into(),
            expiration: NOW,
        };
        let v: Value = serde_json::from_str(&render_assume_role(Format::Json, "RID", &user, &c)).unwrap();
        assert_eq!(v["Credentials"]["Expiration"], "2026-11-25T00:50:24Z");
        assert_eq!(v["Credentials"]["AccessKeyId"], "STS.a");
        assert_eq!(v["AssumedRoleUser"]["Arn"], format!("{ARN}/s"));
        assert_eq!(v["RequestId"], "RID");
        let xml = render_assume_role(Format::Xml, "RID", &user, &c);
        assert!(xml.contains("<AssumeRoleResponse><RequestId>RID</RequestId>"));
        assert!(xml.contains("<SecurityToken>tok</SecurityToken>"));
        let e = StsError::missing("RoleArn");
        let v: Value = serde_json::from_str(&render_error(&e, Format::Json, "RID", "h")).unwrap();
        assert_eq!((v["Code"].as_str(), v["RequestId"].as_str()), (Some("MissingParameter"), Some("RID")));
        assert!(render_error(&e, Format::Xml, "RID", "h").contains("<Code>MissingParameter</Code>"));
        assert_eq!(Format::from_param(Some("json")), Format::Json);
        assert_eq!(Format::from_param(None), Format::Xml);
    }
}
