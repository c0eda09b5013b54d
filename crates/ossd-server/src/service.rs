//! One request, start to end: request id -> routing -> authentication -> bucket-level access ->
//! handler -> common headers.

use crate::access;
use crate::context::{RequestContext, new_request_id};
use crate::handlers;
use crate::response::{self, Body};
use crate::state::AppState;
use http::{Method, Request, Response};
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::auth::{self, SignedRequest};
use ossd_proto::query::Query;
use ossd_proto::route::{self, Endpoint};
use ossd_store::BucketRecord;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// Where the callback public key is served: a path no bucket name can take.
pub const CALLBACK_PUBLIC_KEY_PATH: &str = "/_ossd/callback_pub_key.pem";

/// Compatibility mode for receivers written from Alibaba's samples, which accept only key URLs
/// under `http(s)://gosspublic.alicdn.com/`: a request for this path whose Host is
/// [`ALIYUN_PUBLIC_KEY_HOST`] gets ossd's public key, so pointing that name at ossd (an
/// `/etc/hosts` line) and `--callback-public-key-url
/// http://gosspublic.alicdn.com/callback_pub_key_v1.pem` make such receivers work unmodified.
pub const ALIYUN_PUBLIC_KEY_PATH: &str = "/callback_pub_key_v1.pem";
pub const ALIYUN_PUBLIC_KEY_HOST: &str = "gosspublic.alicdn.com";

fn is_aliyun_key_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name.trim_end_matches('.').eq_ignore_ascii_case(ALIYUN_PUBLIC_KEY_HOST)
}

pub async fn handle(state: Arc<AppState>, req: Request<Incoming>, client_ip: IpAddr) -> Response<Body> {
    let _in_flight = state.metrics.start_request();
    let mut info = crate::access_log::RequestInfo::start(req.headers());
    let request_id = new_request_id();
    let head = req.method() == Method::HEAD;
    // An error may answer before the body is read; the connection then cannot be reused.
    let has_body = req.headers().get(http::header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
        || req.headers().contains_key(http::header::TRANSFER_ENCODING);
    let host = req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
    // Browser requests: remember what CORS needs before the request is consumed.
    let origin = req.headers().get(http::header::ORIGIN).and_then(|h| h.to_str().ok()).map(str::to_string);
    let method = req.method().clone();
    let mut cors = CorsSource::None;
    let mut resp = match dispatch(&state, req, &request_id, client_ip, &mut cors, &mut info).await {
        Ok(r) => r,
        Err((err, host_id)) => {
            if err.status >= 500 {
                tracing::error!(request_id = %request_id, code = err.code, message = %err.message, "request failed");
            } else {
                tracing::debug!(request_id = %request_id, code = err.code, "request refused");
            }
            let mut r = response::error(&err, &request_id, host_id.as_deref().unwrap_or(&host), head);
            if has_body {
                response::set(&mut r, "connection", "close");
            }
            r
        }
    };
    if let Some(origin) = origin
        && !resp.headers().contains_key("access-control-allow-origin")
    {
        add_cors_headers(&state, &mut resp, cors, &origin, method.as_str()).await;
    }
    response::set(&mut resp, "x-oss-request-id", &request_id);
    response::set(&mut resp, "date", &httpdate::fmt_http_date(SystemTime::now()));
    response::set(&mut resp, "server", "AliyunOSS");
    crate::access_log::finish(&state, &info, &request_id, &method, client_ip, &resp);
    resp
}

/// Where a browser request's CORS rules come from: the bucket record the request loaded, or,
/// when it failed before loading it, the bucket its address names.
enum CorsSource {
    None,
    Named(String),
    Loaded(Option<String>),
}

/// CORS headers on an actual response (success or error), from the bucket's rules.
async fn add_cors_headers(state: &AppState, resp: &mut Response<Body>, source: CorsSource, origin: &str, method: &str) {
    let rules = match source {
        CorsSource::None => None,
        CorsSource::Loaded(rules) => rules,
        CorsSource::Named(name) => state.meta.get_bucket(&name).await.ok().flatten().and_then(|b| b.cors),
    };
    if let Some(rules) = rules {
        crate::handlers::cors::apply_to_response(resp, &rules, origin, method);
    }
}

type DispatchError = (OssError, Option<String>);

async fn dispatch(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    request_id: &str,
    client_ip: IpAddr,
    cors: &mut CorsSource,
    info: &mut crate::access_log::RequestInfo,
) -> Result<Response<Body>, DispatchError> {
    let (parts, body) = req.into_parts();
    let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let raw_path = parts.uri.path();
    let target = route::resolve_target(Some(host), raw_path, &state.config.vhosts);
    let wants_cors = parts.headers.contains_key(http::header::ORIGIN);
    if wants_cors && let Some(b) = target.bucket.as_ref().filter(|b| ossd_proto::names::is_valid_bucket_name(b)) {
        *cors = CorsSource::Named(b.clone());
    }
    let host_id = match &target.bucket {
        Some(b) if !target.virtual_hosted => format!("{b}.{host}"),
        _ => host.to_string(),
    };
    let fail = |e: OssError| (e, Some(host_id.clone()));
    if parts.method == Method::GET
        && ((!target.virtual_hosted && raw_path == CALLBACK_PUBLIC_KEY_PATH)
            || (raw_path == ALIYUN_PUBLIC_KEY_PATH && is_aliyun_key_host(host)))
    {
        info.operation = "CallbackPublicKey";
        return handlers::service::callback_public_key(state).map_err(fail);
    }
    let query = Query::parse(parts.uri.query());
    // ossd's own endpoints (health, metrics, console, JSON API): no bucket name starts with `_`.
    if !target.virtual_hosted && raw_path.starts_with(crate::ops::PREFIX) {
        return crate::ops::handle(state, &parts, &query, body, info).await.map_err(fail);
    }
    info.bucket = target.bucket.clone();
    // STS: AssumeRole shares the service address (no bucket; `Action` in the query or a form
    // POST) and signs its own way, so it is answered before OSS authentication.
    if target.bucket.is_none() && crate::sts::is_sts_request(&parts.method, &query, &parts.headers) {
        info.operation = "AssumeRole";
        return Ok(crate::sts::handle(state, &parts.method, &query, &parts.headers, body, request_id, host).await);
    }
    let endpoint = route::endpoint(&parts.method, &target, &query, &parts.headers).map_err(fail)?;
    info.operation = endpoint.name();
    if let Some(b) = &target.bucket
        && endpoint != Endpoint::ListBuckets
    {
        ossd_proto::names::check_bucket_name(b).map_err(fail)?;
    }
    if let Some(k) = &target.key {
        ossd_proto::names::check_object_key(k).map_err(fail)?;
    }
    // OSS answers a request for a bucket that does not exist with 404 before it judges the
    // credentials (an unknown AccessKeyId on a missing bucket is NoSuchBucket, not 403), which
    // the SDKs' bucket-exists probes rely on.
    let bucket = match (&target.bucket, endpoint) {
        (_, Endpoint::ListBuckets | Endpoint::PutBucket) | (None, _) => None,
        (Some(name), _) => {
            let found = state.meta.get_bucket(name).await.map_err(handlers::store_error).map_err(fail)?;
            if wants_cors {
                *cors = CorsSource::Loaded(found.as_ref().and_then(|b| b.cors.clone()));
            }
            // PutBucketAcl on a bucket that does not exist creates it, as OSS documents (for a
            // signed caller: see below).
            match found {
                None if endpoint == Endpoint::PutBucketAcl => None,
                found => Some(found.ok_or_else(|| fail(OssError::no_such_bucket(name)))?),
            }
        }
    };
    let identity = if endpoint == Endpoint::Options {
        None
    } else {
        let signed = SignedRequest {
            method: parts.method.as_str(),
            bucket: target.bucket.as_deref(),
            key: target.key.as_deref(),
            query: &query.0,
            headers: &parts.headers,
        };
        auth::authenticate(&signed, SystemTime::now(), &state.config.credentials).map_err(fail)?
    };
    let mut ctx = RequestContext {
        request_id: request_id.to_string(),
        host_id: host_id.clone(),
        method: parts.method,
        target,
        query,
        headers: parts.headers,
        endpoint,
        identity,
        client_ip,
        policy_allowed: false,
        block_public_access: false,
    };
    if matches!(ctx.endpoint, Endpoint::ListBuckets | Endpoint::PutBucket) && ctx.identity.is_none() {
        return Err(fail(OssError::access_denied("You are forbidden to perform this operation anonymously.")));
    }
    if ctx.endpoint == Endpoint::PutBucketAcl && bucket.is_none() && ctx.identity.is_none() {
        return Err(fail(OssError::no_such_bucket(ctx.bucket().map_err(fail)?)));
    }
    let settings = load_settings(state, &ctx, bucket.as_ref()).await.map_err(fail)?;
    // A static website's index document is what an anonymous GET of the root or of `dir/`
    // asks for, and is judged as such.
    let website = settings.website.as_ref().filter(|_| ctx.identity.is_none() && ctx.method == Method::GET);
    if let Some(site) = website {
        crate::handlers::website::route_to_index(&mut ctx, site);
    }
    if let Some(b) = &bucket {
        access::judge(&mut ctx, &b.acl, &settings, &state.config.region, &state.config.owner_id).map_err(fail)?;
    }
    // STS: temporary credentials may do only what their token's policies (and the bucket
    // policy) allow.
    crate::authz::authorize(state, &ctx, settings.policy.as_ref()).map_err(fail)?;
    if let Some(b) = &bucket {
        handlers::bucket_config::check_capacity(state, &ctx, b).await.map_err(fail)?;
    }
    let answer = handlers::dispatch(state, &ctx, bucket.clone(), body).await;
    match (answer, website) {
        (Err(e), Some(site)) if e.code == "NoSuchKey" && ctx.endpoint == Endpoint::GetObject => {
            crate::handlers::website::error_document(state, &mut ctx, bucket.as_ref(), site, e).await.map_err(fail)
        }
        (answer, _) => answer.map_err(fail),
    }
}

/// The bucket configurations that judge callers other than the root key (anonymous,
/// presigned, STS); root-signed header requests skip the read.
async fn load_settings(
    state: &AppState,
    ctx: &RequestContext,
    bucket: Option<&BucketRecord>,
) -> Result<access::BucketSettings, OssError> {
    let Some(bucket) = bucket else { return Ok(access::BucketSettings::default()) };
    let judged = match &ctx.identity {
        None => true,
        Some(i) => ctx.is_presigned() || i.security_token.is_some(),
    };
    if !judged {
        return Ok(access::BucketSettings::default());
    }
    let configs = state.meta.bucket_configs(&bucket.name).await.map_err(handlers::store_error)?;
    Ok(access::BucketSettings::from_configs(&configs))
}
