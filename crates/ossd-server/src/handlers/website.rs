//! Static website hosting for anonymous GETs: the bucket root and `dir/` addresses serve the
//! index document, a missing object the error document with its status.

use crate::context::RequestContext;
use crate::response::Body;
use crate::state::AppState;
use http::{Response, StatusCode};
use ossd_proto::OssError;
use ossd_proto::bucket_config::WebsiteConfiguration;
use ossd_proto::route::Endpoint;
use ossd_store::BucketRecord;

/// Rewrites a request for the bucket root (a plain listing with no parameters) or for a
/// `dir/` key to the index document: `dir/<index>` with SupportSubDir, else the root's.
pub fn route_to_index(ctx: &mut RequestContext, site: &WebsiteConfiguration) {
    let Some(index) = site.index() else { return };
    let key = match (ctx.endpoint, ctx.target.key.as_deref()) {
        (Endpoint::ListObjects, None) if ctx.query.0.is_empty() => index.to_string(),
        (Endpoint::GetObject, Some(k)) if k.ends_with('/') => {
            if site.support_sub_dir() {
                format!("{k}{index}")
            } else {
                index.to_string()
            }
        }
        _ => return,
    };
    ctx.endpoint = Endpoint::GetObject;
    ctx.target.key = Some(key);
}

/// Answers a missing object with the error document and its status; without one (or if it
/// is missing too) the original error stands.
pub async fn error_document(
    state: &std::sync::Arc<AppState>,
    ctx: &mut RequestContext,
    bucket: Option<&BucketRecord>,
    site: &WebsiteConfiguration,
    missing: OssError,
) -> Result<Response<Body>, OssError> {
    let (Some((key, status)), Some(bucket)) = (site.error(), bucket) else { return Err(missing) };
    ctx.target.key = Some(key.to_string());
    match super::object_read::get_object(state, ctx, bucket).await {
        Ok(mut r) => {
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
            Ok(r)
        }
        Err(_) => Err(missing),
    }
}
