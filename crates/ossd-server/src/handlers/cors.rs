//! Bucket CORS: Put/Get/DeleteBucketCors, the OPTIONS preflight, and the `Access-Control-*`
//! headers added to actual responses (errors and callback answers included).

use super::{read_xml_body, store_error};
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::cors::{CorsConfiguration, CorsRule};
use ossd_store::BucketRecord;

fn stored(bucket: &BucketRecord) -> Option<CorsConfiguration> {
    bucket.cors.as_deref().and_then(|j| serde_json::from_str(j).ok())
}

pub async fn put_bucket_cors(
    state: &AppState,
    ctx: &RequestContext,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let text = read_xml_body(state, body, 64 * 1024).await?;
    let config = CorsConfiguration::from_xml(&text)?;
    let json = serde_json::to_string(&config).map_err(|e| OssError::internal(e.to_string()))?;
    state.meta.set_bucket_cors(ctx.bucket()?, Some(&json)).await.map_err(store_error)?;
    Ok(response::status(200))
}

pub fn get_bucket_cors(bucket: &BucketRecord) -> Result<Response<Body>, OssError> {
    let config = stored(bucket).ok_or_else(|| {
        OssError::new(404, "NoSuchCORSConfiguration", "The CORS configuration does not exist.")
            .with("BucketName", bucket.name.clone())
    })?;
    Ok(response::xml(200, config.to_xml()))
}

pub async fn delete_bucket_cors(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    state.meta.set_bucket_cors(ctx.bucket()?, None).await.map_err(store_error)?;
    Ok(response::status(204))
}

fn forbidden(msg: &str) -> OssError {
    OssError::new(403, "AccessForbidden", format!("CORSResponse: {msg}"))
}

fn set_rule_headers(r: &mut Response<Body>, rule: &CorsRule, origin: &str) {
    response::set(r, "access-control-allow-origin", origin);
    // Browsers compare the methods they send (upper case) byte for byte with this list.
    let methods: Vec<String> = rule.allowed_methods.iter().map(|m| m.to_ascii_uppercase()).collect();
    response::set(r, "access-control-allow-methods", &methods.join(", "));
    if !rule.expose_headers.is_empty() {
        response::set(r, "access-control-expose-headers", &rule.expose_headers.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        response::set(r, "access-control-max-age", &age.to_string());
    }
    response::set(r, "access-control-allow-credentials", "true");
}

/// `OPTIONS`: answered from the bucket's rules; the first matching rule wins.
pub fn preflight(ctx: &RequestContext, bucket: &BucketRecord) -> Result<Response<Body>, OssError> {
    let origin = ctx.header("origin").ok_or_else(|| forbidden("Missing the Origin header."))?;
    let method = ctx
        .header("access-control-request-method")
        .ok_or_else(|| forbidden("Missing the Access-Control-Request-Method header."))?;
    let requested: Vec<String> = ctx
        .header("access-control-request-headers")
        .map(|h| h.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let config = stored(bucket).ok_or_else(|| forbidden("CORS is not enabled for this bucket."))?;
    let rule = config
        .match_preflight(origin, method, &requested)
        .ok_or_else(|| forbidden("This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Requet-Headers are not whitelisted by the resource's CORS spec."))?;
    let mut r = response::status(200);
    set_rule_headers(&mut r, rule, origin);
    if !requested.is_empty() {
        response::set(&mut r, "access-control-allow-headers", &requested.join(", "));
    }
    if config.response_vary {
        response::set(&mut r, "vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
    }
    Ok(r)
}

/// Adds the CORS headers of the first rule matching an actual request's origin and method.
pub fn apply_to_response(r: &mut Response<Body>, cors_json: &str, origin: &str, method: &str) {
    let Ok(config) = serde_json::from_str::<CorsConfiguration>(cors_json) else { return };
    if let Some(rule) = config.match_actual(origin, method) {
        set_rule_headers(r, rule, origin);
    }
    if config.response_vary {
        response::set(r, "vary", "Origin");
    }
}
