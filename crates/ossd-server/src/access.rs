//! Who may do what. A signed request by the root key may do anything; an anonymous request is
//! judged by the bucket policy (a Deny wins, an Allow grants), then the bucket's and object's
//! ACL (oss-api.md §1.5), PublicAccessBlock turning public ACLs and public policy grants off;
//! anonymous and presigned requests also pass the bucket's referer lists.

use crate::context::RequestContext;
use ossd_proto::OssError;
use ossd_proto::bucket_config::{self, ConfigKind, RefererConfiguration, WebsiteConfiguration};
use ossd_proto::ram::{self, Decision};
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

/// The bucket configurations that decide access for callers other than the root key: the
/// bucket policy, the referer lists, PublicAccessBlock, and the static website. Loaded (one
/// store read) only for anonymous, presigned and STS requests.
#[derive(Default)]
pub struct BucketSettings {
    pub policy: Option<ram::Policy>,
    pub referer: Option<RefererConfiguration>,
    pub website: Option<WebsiteConfiguration>,
    pub block_public_access: bool,
}

impl BucketSettings {
    /// From the bucket's stored configurations (validated when they were put; one that no
    /// longer parses counts as absent).
    pub fn from_configs(configs: &[(String, String)]) -> BucketSettings {
        let mut s = BucketSettings::default();
        for (kind, body) in configs {
            match ConfigKind::from_query(|q| q == kind) {
                Some(ConfigKind::Policy) => s.policy = ram::Policy::parse_bucket_policy(body).ok(),
                Some(ConfigKind::Referer) => s.referer = RefererConfiguration::parse(body).ok(),
                Some(ConfigKind::Website) => s.website = WebsiteConfiguration::parse(body).ok(),
                Some(ConfigKind::PublicAccessBlock) => {
                    s.block_public_access = bucket_config::blocks_public_access(body)
                }
                _ => {}
            }
        }
        if s.block_public_access {
            s.policy = s.policy.map(|p| p.without_public_grants());
        }
        s
    }

    /// The bucket ACL as it counts for anonymous callers: PublicAccessBlock makes it private.
    pub fn effective_bucket_acl<'a>(&self, acl: &'a str) -> &'a str {
        if self.block_public_access { PRIVATE } else { acl }
    }

    /// The bucket policy's decision for `caller` (`None`: anonymous); no policy is no decision.
    pub fn policy_decision(
        &self,
        caller: Option<&[String]>,
        action: &str,
        resource: &ram::Resource,
        ctx: &ram::Context,
    ) -> Decision {
        match &self.policy {
            Some(p) => p.evaluate_for(caller, action, resource, ctx),
            None => Decision::ImplicitDeny,
        }
    }

    /// Referer protection, applied to anonymous and presigned-URL requests as OSS applies it.
    pub fn check_referer(&self, referer: Option<&str>) -> Result<(), OssError> {
        match &self.referer {
            Some(r) if !r.allows(referer) => Err(bucket_config::referer_denied()),
            _ => Ok(()),
        }
    }
}

/// A bucket policy's explicit denial.
pub fn denied_by_bucket_policy() -> OssError {
    OssError::access_denied("You have no right to access this object because of bucket policy.")
        .with_ec("0003-00000001")
}

/// The account that owns every bucket (the root key's), as bucket-policy resources name it.
fn resource_for(ctx: &RequestContext, region: &str, account: &str, scope: ram::Scope) -> Option<ram::Resource> {
    let bucket = ctx.target.bucket.as_deref()?;
    Some(match scope {
        ram::Scope::Service => ram::Resource::service(region, account),
        ram::Scope::Bucket => ram::Resource::bucket(region, account, bucket),
        ram::Scope::Object => ram::Resource::object(region, account, bucket, ctx.target.key.as_deref().unwrap_or("")),
    })
}

/// The bucket-level decision for an anonymous request, and referer protection for anonymous
/// and presigned ones. A bucket policy's Deny refuses; its Allow grants (recorded in
/// `ctx.policy_allowed`, so object ACLs are not consulted); otherwise the ACLs decide.
pub fn judge(
    ctx: &mut RequestContext,
    bucket_acl: &str,
    settings: &BucketSettings,
    region: &str,
    account: &str,
) -> Result<(), OssError> {
    ctx.block_public_access = settings.block_public_access;
    if ctx.endpoint == Endpoint::Options {
        return Ok(());
    }
    if ctx.identity.is_none() || ctx.is_presigned() {
        settings.check_referer(ctx.header("referer"))?;
    }
    if ctx.identity.is_some() {
        return Ok(());
    }
    if let Some((action, scope)) = ram::action_for(ctx.endpoint)
        && let Some(resource) = resource_for(ctx, region, account, scope)
    {
        match settings.policy_decision(None, action, &resource, &crate::authz::condition_context(ctx)) {
            Decision::ExplicitDeny => return Err(denied_by_bucket_policy()),
            Decision::Allow => {
                ctx.policy_allowed = true;
                return Ok(());
            }
            Decision::ImplicitDeny => {}
        }
    }
    anonymous_may(ctx.endpoint, settings.effective_bucket_acl(bucket_acl))
}
