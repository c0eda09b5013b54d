//! One module per operation family; `dispatch` maps an [`Endpoint`] to its handler.

pub mod bucket;
pub mod bucket_config;
pub mod callback_policy;
pub mod cors;
pub mod list;
pub mod multipart;
pub mod object_attrs;
pub mod object_class;
pub mod object_read;
pub mod object_write;
pub mod post_object;
pub mod service;
pub mod website;

use crate::context::RequestContext;
use crate::response::Body;
use crate::state::AppState;
use http::Response;
use hyper::body::Incoming;
use ossd_proto::OssError;
use ossd_proto::route::Endpoint;
use ossd_store::{BucketRecord, StoreError};
use std::sync::Arc;

pub async fn dispatch(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    bucket: Option<BucketRecord>,
    body: Incoming,
) -> Result<Response<Body>, OssError> {
    use Endpoint::*;
    let b = || bucket.clone().ok_or_else(|| OssError::internal("bucket not loaded"));
    match ctx.endpoint {
        ListBuckets => service::list_buckets(state, ctx).await,
        PutBucket => bucket::put_bucket(state, ctx, body).await,
        DeleteBucket => bucket::delete_bucket(state, ctx).await,
        GetBucketInfo => bucket::get_bucket_info(state, &b()?).await,
        GetBucketLocation => Ok(bucket::get_bucket_location(state)),
        GetBucketAcl => Ok(bucket::get_bucket_acl(state, &b()?)),
        PutBucketAcl => bucket::put_bucket_acl(state, ctx, bucket.as_ref(), body).await,
        GetBucketStat => bucket::get_bucket_stat(state, &b()?).await,
        ListLiveChannels => Ok(bucket::list_live_channels()),
        ListObjects | ListObjectsV2 => list::list_objects(state, ctx).await,
        DeleteMultipleObjects => object_write::delete_multiple(state, ctx, body).await,
        PutObject => object_write::put_object(state, ctx, &b()?, body).await,
        AppendObject => object_write::append_object(state, ctx, &b()?, body).await,
        CopyObject => object_write::copy_object(state, ctx, &b()?).await,
        DeleteObject => object_write::delete_object(state, ctx).await,
        GetObject | HeadObject => object_read::get_object(state, ctx, &b()?).await,
        GetObjectMeta => object_read::get_object_meta(state, ctx, &b()?).await,
        PutObjectAcl => object_attrs::put_object_acl(state, ctx).await,
        GetObjectAcl => object_attrs::get_object_acl(state, ctx).await,
        PutObjectTagging => object_attrs::put_object_tagging(state, ctx, body).await,
        GetObjectTagging => object_attrs::get_object_tagging(state, ctx).await,
        DeleteObjectTagging => object_attrs::delete_object_tagging(state, ctx).await,
        PostObject => post_object::post_object(state, ctx, &b()?, body).await,
        ListMultipartUploads => multipart::list_uploads(state, ctx).await,
        InitiateMultipartUpload => multipart::initiate(state, ctx, &b()?).await,
        UploadPart => multipart::upload_part(state, ctx, body).await,
        UploadPartCopy => multipart::upload_part_copy(state, ctx).await,
        CompleteMultipartUpload => multipart::complete(state, ctx, &b()?, body).await,
        AbortMultipartUpload => multipart::abort(state, ctx).await,
        ListParts => multipart::list_parts(state, ctx).await,
        PutBucketCors => cors::put_bucket_cors(state, ctx, body).await,
        GetBucketCors => cors::get_bucket_cors(&b()?),
        DeleteBucketCors => cors::delete_bucket_cors(state, ctx).await,
        PutBucketCallbackPolicy => callback_policy::put(state, ctx, body).await,
        GetBucketCallbackPolicy => callback_policy::get(&b()?),
        DeleteBucketCallbackPolicy => callback_policy::delete(state, ctx).await,
        PutSymlink => object_class::put_symlink(state, ctx, &b()?).await,
        GetSymlink => object_class::get_symlink(state, ctx, &b()?).await,
        RestoreObject => object_class::restore_object(state, ctx, body).await,
        PutBucketEncryption => bucket::put_bucket_encryption(state, ctx, body).await,
        GetBucketEncryption => bucket::get_bucket_encryption(&b()?),
        DeleteBucketEncryption => bucket::delete_bucket_encryption(state, ctx).await,
        BucketConfig(kind, op) => bucket_config::handle(state, ctx, &b()?, kind, op, body).await,
        GetBucketPolicyStatus => bucket_config::policy_status(state, &b()?).await,
        ListObjectVersions => list::list_versions(state, ctx).await,
        Options => cors::preflight(ctx, &b()?),
    }
}

/// Metadata store failures (backend errors, a full store) since start, for the metrics.
pub static STORE_ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Maps storage failures to OSS errors. Conflicts carry meaning; anything else is internal.
pub fn store_error(e: StoreError) -> OssError {
    if matches!(e, StoreError::Backend(_) | StoreError::Full(_)) {
        STORE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    match e {
        StoreError::BucketExists => {
            OssError::new(409, "BucketAlreadyExists", "The requested bucket name is not available.")
        }
        StoreError::NoSuchBucket => OssError::new(404, "NoSuchBucket", "The specified bucket does not exist."),
        StoreError::BucketNotEmpty => {
            OssError::new(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.")
        }
        StoreError::NoSuchObject => OssError::new(404, "NoSuchKey", "The specified key does not exist."),
        StoreError::ObjectExists => OssError::new(
            409,
            "FileAlreadyExists",
            "The object you specified already exists and can not be overwritten.",
        ),
        StoreError::PositionNotEqualToLength(n) => {
            OssError::new(409, "PositionNotEqualToLength", "Position is not equal to file length")
                .with_header("x-oss-next-append-position", n.to_string())
        }
        StoreError::NotAppendable => {
            OssError::new(409, "ObjectNotAppendable", "The operation is not valid for the object's type.")
        }
        StoreError::NoSuchUpload => OssError::new(404, "NoSuchUpload", "The specified upload does not exist."),
        StoreError::Conflict(msg) => {
            tracing::debug!(reason = %msg, "write refused: what it was built on changed");
            OssError::new(
                409,
                "OperationAborted",
                "A conflicting operation is in progress against this resource. Please try again.",
            )
        }
        StoreError::Full(msg) => {
            tracing::warn!(error = %msg, "metadata store full");
            OssError::new(
                507,
                "InsufficientStorage",
                "There is not enough space left on the server to store the object.",
            )
        }
        StoreError::Backend(msg) => {
            tracing::error!(error = %msg, "metadata store failure");
            OssError::internal("We encountered an internal error. Please try again.")
        }
    }
}

/// Reads a whole small request body (XML documents), refusing more than `limit` bytes and a
/// body that stalls (`limits.body_stall_timeout`).
pub async fn read_small_body(state: &AppState, body: Incoming, limit: usize) -> Result<bytes::Bytes, OssError> {
    use futures_util::StreamExt;
    let mut chunks = crate::limits::StallGuarded::new(body, state.config.limits.body_stall_timeout);
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if buf.len() + chunk.len() > limit {
            return Err(OssError::malformed_xml(format!("The request body is larger than {limit} bytes.")));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The request body as UTF-8 text for XML parsing.
pub async fn read_xml_body(state: &AppState, body: Incoming, limit: usize) -> Result<String, OssError> {
    let bytes = read_small_body(state, body, limit).await?;
    String::from_utf8(bytes.to_vec()).map_err(|_| OssError::malformed_xml("The XML you provided is not UTF-8."))
}
