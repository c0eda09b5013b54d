//! Object ACL and tagging.

use super::object_write::object_acl_header;
use super::{read_xml_body, store_error};
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use http::Response;
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::xml;
use ossd_store::{ObjectRecord, StoreError};

async fn load(state: &AppState, ctx: &RequestContext) -> Result<ObjectRecord, OssError> {
    let (b, k) = (ctx.bucket()?, ctx.key()?);
    state.meta.get_object(b, k).await.map_err(store_error)?.ok_or_else(|| OssError::no_such_key(k))
}

async fn update(
    state: &AppState,
    ctx: &RequestContext,
    acl: Option<String>,
    tags: Option<Vec<(String, String)>>,
) -> Result<(), OssError> {
    let (b, k) = (ctx.bucket()?, ctx.key()?);
    state.meta.update_object_attrs(b, k, acl.as_deref(), tags.as_deref()).await.map_err(|e| match e {
        StoreError::NoSuchObject => OssError::no_such_key(ctx.key().unwrap_or("")),
        e => store_error(e),
    })
}

pub async fn put_object_acl(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    if ctx.header("x-oss-object-acl").is_none() {
        return Err(OssError::invalid_argument("The x-oss-object-acl header is required.")
            .with("ArgumentName", "x-oss-object-acl"));
    }
    let acl = object_acl_header(ctx)?;
    let public = matches!(acl.as_str(), crate::access::PUBLIC_READ | crate::access::PUBLIC_READ_WRITE);
    super::bucket_config::refuse_if_public_blocked(state, ctx.bucket()?, public).await?;
    update(state, ctx, Some(acl), None).await?;
    Ok(response::status(200))
}

pub async fn get_object_acl(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let o = load(state, ctx).await?;
    let owner = super::service::owner(state);
    Ok(response::xml(200, xml::access_control_policy(&owner, &o.acl)))
}

pub async fn put_object_tagging(
    state: &AppState,
    ctx: &RequestContext,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    let text = read_xml_body(state, body, 64 * 1024).await?;
    let req: xml::TaggingRequest = xml::parse(&text)?;
    let tags: Vec<(String, String)> = req.tag_set.tags.into_iter().map(|t| (t.key, t.value)).collect();
    ossd_proto::tagging::validate_tag_set(&tags)?;
    update(state, ctx, None, Some(tags)).await?;
    Ok(response::status(200))
}

pub async fn get_object_tagging(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let o = load(state, ctx).await?;
    Ok(response::xml(200, xml::tagging(&o.tags)))
}

pub async fn delete_object_tagging(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    update(state, ctx, None, Some(Vec::new())).await?;
    Ok(response::status(204))
}
