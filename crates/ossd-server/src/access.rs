//! Who may do what. A signed request by the root key may do anything; an anonymous request is
//! judged by the bucket's and object's ACL (oss-api.md §1.5).

use ossd_proto::OssError;
use ossd_proto::route::Endpoint;

pub const PRIVATE: &str = "private";
pub const PUBLIC_READ: &str = "public-read";
pub const PUBLIC_READ_WRITE: &str = "public-read-write";
pub const DEFAULT: &str = "default";

pub fn is_bucket_acl(s: &str) -> bool {
    matches!(s, PRIVATE | PUBLIC_READ | PUBLIC_READ_WRITE)
}

pub fn is_object_acl(s: &str) -> bool {
    is_bucket_acl(s) || s == DEFAULT
}

fn denied() -> OssError {
    OssError::access_denied("You have no right to access this object because of bucket acl.")
}

/// The ACL in force for an object: its own unless `default`, then the bucket's.
pub fn effective_acl<'a>(bucket_acl: &'a str, object_acl: &'a str) -> &'a str {
    if object_acl == DEFAULT || object_acl.is_empty() { bucket_acl } else { object_acl }
}

/// May an anonymous caller read an object whose effective ACL is `acl`?
pub fn anonymous_may_read(acl: &str) -> Result<(), OssError> {
    if acl == PUBLIC_READ || acl == PUBLIC_READ_WRITE { Ok(()) } else { Err(denied()) }
}

/// Bucket-level check for an anonymous request. Object reads are judged later by
/// [`anonymous_may_read`] with the object's own ACL.
pub fn anonymous_may(endpoint: Endpoint, bucket_acl: &str) -> Result<(), OssError> {
    use Endpoint::*;
    match endpoint {
        // PostObject authenticates its form fields itself (see handlers::post_object).
        Options | GetObject | HeadObject | GetObjectMeta | PostObject => Ok(()),
        ListObjects | ListObjectsV2 => anonymous_may_read(bucket_acl),
        PutObject
        | AppendObject
        | DeleteObject
        | DeleteMultipleObjects
        | CopyObject
        | InitiateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload
        | AbortMultipartUpload
        | ListParts => {
            if bucket_acl == PUBLIC_READ_WRITE {
                Ok(())
            } else {
                Err(denied())
            }
        }
        _ => Err(OssError::access_denied("You are forbidden to perform this operation anonymously.")),
    }
}
