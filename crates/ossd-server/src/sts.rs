//! The STS endpoint: `Action=AssumeRole` (RPC style, Version 2015-04-01, HMAC-SHA1) on the
//! service address, as ali-oss's `STS` class and Alibaba's STS SDKs call it. Parameters come
//! from the query and, for a form POST, the body. Only the root key may assume a role.
//! Answers and errors are STS's JSON (`Format=JSON`) or XML, not OSS's error XML.

use crate::response::{self, Body};
use crate::state::AppState;
use http::{HeaderMap, Method, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::auth::SecretLookup;
use ossd_proto::query::Query;
use ossd_proto::sts::{self, AssumeRoleParams, Format, StsError};
use std::collections::BTreeMap;

/// Largest form body accepted (a session policy is at most 2 KB).
const MAX_BODY: usize = 64 * 1024;

/// Whether a request without a bucket is an STS call: `Action` in the query, or a form POST
/// (OSS has no form POST on the service).
pub fn is_sts_request(method: &Method, query: &Query, headers: &HeaderMap) -> bool {
    query.has("Action") || (method == Method::POST && is_form(headers))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// Answers one STS request.
pub async fn handle(
    state: &AppState,
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    body: Incoming,
    request_id: &str,
    host: &str,
) -> Response<Body> {
    let params = match collect_params(method, query, headers, body, state.config.limits.body_stall_timeout).await {
        Ok(p) => p,
        Err(e) => return error_response(&e, Format::from_param(query.get("Format")), request_id, host),
    };
    let format = Format::from_param(params.get("Format").map(String::as_str));
    match answer(state, method, &params, request_id).await {
        Ok(body) => {
            let mut r = Response::new(response::full(body));
            response::set(&mut r, "content-type", format.content_type());
            r
        }
        Err(e) => {
            tracing::debug!(request_id, code = e.code, "STS request refused");
            error_response(&e, format, request_id, host)
        }
    }
}

fn error_response(e: &StsError, format: Format, request_id: &str, host: &str) -> Response<Body> {
    let mut r = Response::new(response::full(sts::render_error(e, format, request_id, host)));
    *r.status_mut() = http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::BAD_REQUEST);
    response::set(&mut r, "content-type", format.content_type());
    r
}

/// Query parameters, then form fields (a form field wins over a query parameter).
async fn collect_params(
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    body: Incoming,
    stall: std::time::Duration,
) -> Result<BTreeMap<String, String>, StsError> {
    let mut params: BTreeMap<String, String> = query.0.iter().cloned().collect();
    if method == Method::POST && is_form(headers) {
        // A body that stalls is abandoned like any other (the form is small: one stall bound).
        let read = tokio::time::timeout(stall, http_body_util::Limited::new(body, MAX_BODY).collect()).await;
        let bytes = match read {
            Ok(Ok(c)) => c.to_bytes(),
            _ => {
                return Err(StsError::new(400, "InvalidParameter", "The request body is too large or unreadable."));
            }
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| StsError::new(400, "InvalidParameter", "The request body is not UTF-8."))?;
        params.extend(Query::parse(Some(text)).0);
    }
    Ok(params)
}

async fn answer(
    state: &AppState,
    method: &Method,
    params: &BTreeMap<String, String>,
    request_id: &str,
) -> Result<String, StsError> {
    let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let require = |name: &str| get(name).ok_or_else(|| StsError::missing(name));
    let action = require("Action")?;
    let version = require("Version")?;
    if version != sts::API_VERSION {
        return Err(StsError::new(400, "InvalidVersion", "Specified parameter Version is not valid."));
    }
    if action != "AssumeRole" {
        return Err(StsError::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ));
    }
    let access_key_id = require("AccessKeyId")?;
    let signature = require("Signature")?;
    let method_name = require("SignatureMethod")?;
    let sig_version = require("SignatureVersion")?;
    let nonce = require("SignatureNonce")?;
    let timestamp = require("Timestamp")?;
    if method_name != "HMAC-SHA1" {
        return Err(StsError::new(400, "InvalidSignatureMethod", "Specified signature method is not supported."));
    }
    if sig_version != "1.0" {
        return Err(StsError::new(400, "InvalidSignatureVersion", "Specified signature version is not supported."));
    }
    let now = ossd_proto::timefmt::now_ms() / 1000;
    check_timestamp(timestamp, now)?;

    // Who signed: the root key, or temporary credentials (which may not assume roles).
    let credentials = &state.config.credentials;
    let secret = if credentials.is_root(access_key_id) {
        credentials.root.access_key_secret.clone()
    } else if let Some(token) = get("SecurityToken") {
        credentials.secret_for(access_key_id, Some(token)).map_err(token_error)?
    } else if access_key_id.starts_with(sts::TEMP_AK_PREFIX) {
        return Err(StsError::new(400, "MissingSecurityToken", "SecurityToken is mandatory for this action."));
    } else {
        return Err(StsError::access_key_not_found());
    };
    let string_to_sign = sts::rpc_string_to_sign(method.as_str(), params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !sts::signatures_equal(&sts::rpc_signature(&secret, &string_to_sign), signature) {
        return Err(StsError::signature_does_not_match(&string_to_sign));
    }
    remember_nonce(state, access_key_id, nonce, now).await?;
    if !credentials.is_root(access_key_id) {
        return Err(StsError::no_permission());
    }

    let issuer = credentials.sts.as_ref().ok_or_else(|| StsError::role_not_found(get("RoleArn").unwrap_or("")))?;
    let p = AssumeRoleParams {
        role_arn: get("RoleArn"),
        role_session_name: get("RoleSessionName"),
        duration_seconds: get("DurationSeconds"),
        policy: get("Policy"),
    };
    let (user, creds) = issuer.assume_role(&p, now, &random_ak_suffix())?;
    tracing::info!(
        request_id,
        role = %user.arn,
        access_key_id = %creds.access_key_id,
        expires = %sts::iso_seconds(creds.expiration),
        "issued STS credentials"
    );
    let format = Format::from_param(get("Format"));
    Ok(sts::render_assume_role(format, request_id, &user, &creds))
}

/// A temporary key's token failed: unknown, altered or expired.
fn token_error(e: OssError) -> StsError {
    match e.code {
        "SecurityTokenExpired" => {
            StsError::new(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
        }
        _ => StsError::access_key_not_found(),
    }
}

fn check_timestamp(timestamp: &str, now: i64) -> Result<(), StsError> {
    let t = ossd_proto::timefmt::parse_iso8601(timestamp).ok_or_else(|| {
        StsError::new(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
    })?;
    let t = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    if (t - now).abs() > sts::MAX_TIMESTAMP_SKEW_SECS {
        return Err(StsError::new(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."));
    }
    Ok(())
}

/// Nonces seen within the timestamp window, kept in the metadata store so that a request
/// replayed to another node sharing the store is refused too. Only requests with a valid
/// signature get here.
async fn remember_nonce(state: &AppState, access_key_id: &str, nonce: &str, now: i64) -> Result<(), StsError> {
    let key = format!("sts:{access_key_id}\n{nonce}");
    let window_ms = 2 * sts::MAX_TIMESTAMP_SKEW_SECS * 1000;
    let now_ms = now * 1000;
    match state.meta.remember_nonce(&key, now_ms, now_ms + window_ms).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(StsError::new(400, "SignatureNonceUsed", "Specified signature nonce was used already.")),
        Err(e) => {
            tracing::error!(error = %e, "could not record an STS nonce");
            Err(StsError::new(500, "InternalError", "The request processing has failed due to some unknown error."))
        }
    }
}

/// 24 random alphanumerics for `STS.<...>`.
fn random_ak_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..24).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}
