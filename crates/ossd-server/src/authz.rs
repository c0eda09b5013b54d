//! Authorisation of requests signed with STS temporary credentials: the policies their
//! security token carries (the role's, and the session's if given) must all allow the
//! operation's RAM action on its resource. The root key may do anything; anonymous requests
//! are judged by ACL (`access`). Called by `service` after authentication, and by handlers
//! that authenticate themselves (PostObject) through [`check`].

use crate::context::RequestContext;
use crate::state::AppState;
use ossd_proto::OssError;
use ossd_proto::ram::{self, Decision, Policy, Resource, Scope};
use ossd_proto::route::Endpoint;

/// Operations that create an object and may set its tags (`x-oss-tagging`) or ACL
/// (`x-oss-object-acl`) on the way: each needs its own action too, as OSS documents, so a token
/// allowed only `oss:PutObject` can neither tag nor publish what it uploads.
fn may_set_attributes(endpoint: Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::PutObject | Endpoint::CopyObject | Endpoint::AppendObject | Endpoint::InitiateMultipartUpload
    )
}

/// The header that sets an attribute, and the RAM action it needs.
pub const ATTRIBUTE_ACTIONS: &[(&str, &str)] =
    &[("x-oss-tagging", "oss:PutObjectTagging"), ("x-oss-object-acl", "oss:PutObjectAcl")];

/// The request-level check: nothing to do unless the caller used a security token. The
/// bucket's policy counts with the token's: a Deny in either refuses, an Allow in either
/// grants the request's own action (as OSS combines RAM and bucket policies).
pub fn authorize(state: &AppState, ctx: &RequestContext, bucket_policy: Option<&Policy>) -> Result<(), OssError> {
    let Some(token) = ctx.identity.as_ref().and_then(|i| i.security_token.as_deref()) else { return Ok(()) };
    // PostObject authenticates its form in its handler, and DeleteMultipleObjects finds its
    // keys in the body: both handlers call `check` themselves, per object.
    if matches!(ctx.endpoint, Endpoint::PostObject | Endpoint::DeleteMultipleObjects) {
        return Ok(());
    }
    let Some((action, scope)) = ram::action_for(ctx.endpoint) else { return Ok(()) };
    let principal = Principal::from_token(state, token)?;
    let region = state.config.region.as_str();
    let resource = match scope {
        Scope::Service => Resource::service(region, &principal.account),
        Scope::Bucket => Resource::bucket(region, &principal.account, ctx.bucket()?),
        Scope::Object => Resource::object(region, &principal.account, ctx.bucket()?, ctx.key()?),
    };
    match bucket_policy.map(|p| p.evaluate_for(Some(&principal.names), action, &resource, &condition_context(ctx))) {
        Some(Decision::ExplicitDeny) => return Err(crate::access::denied_by_bucket_policy()),
        Some(Decision::Allow) => {
            // The bucket policy grants; the token's policies may still deny explicitly.
            if ram::evaluate_all(&principal.policies, action, &resource, &condition_context(ctx)).0
                == Decision::ExplicitDeny
            {
                principal.require(action, &resource, ctx)?;
            }
        }
        _ => principal.require(action, &resource, ctx)?,
    }
    if matches!(ctx.endpoint, Endpoint::CopyObject | Endpoint::UploadPartCopy) {
        let source = ctx.header("x-oss-copy-source").unwrap_or("");
        let (src_bucket, src_key) = crate::handlers::object_write::parse_copy_source(source)?;
        principal.require(
            "oss:GetObject",
            &Resource::object(region, &principal.account, &src_bucket, &src_key),
            ctx,
        )?;
    }
    if may_set_attributes(ctx.endpoint) {
        for (header, action) in ATTRIBUTE_ACTIONS {
            if ctx.headers.contains_key(*header) {
                principal.require(
                    action,
                    &Resource::object(region, &principal.account, ctx.bucket()?, ctx.key()?),
                    ctx,
                )?;
            }
        }
    }
    Ok(())
}

/// Checks one RAM `action` (e.g. `oss:PutObject`) on `bucket` or `bucket/key` for a caller
/// that presented `security_token`; `None` (root key or anonymous) passes. Call it after the
/// token has been authenticated (e.g. by `secret_for`), which also checked its expiry.
pub fn check(
    state: &AppState,
    security_token: Option<&str>,
    action: &str,
    bucket: &str,
    key: Option<&str>,
    ctx: &RequestContext,
) -> Result<(), OssError> {
    let Some(token) = security_token.filter(|t| !t.is_empty()) else { return Ok(()) };
    let principal = Principal::from_token(state, token)?;
    let region = state.config.region.as_str();
    let resource = match key {
        Some(k) => Resource::object(region, &principal.account, bucket, k),
        None => Resource::bucket(region, &principal.account, bucket),
    };
    principal.require(action, &resource, ctx)
}

/// The rights a security token carries.
struct Principal {
    account: String,
    /// What a bucket policy's `Principal` may name this caller by: the account id, the role's
    /// ARN and the session's `arn:sts::<account>:assumed-role/<role>/<session>`.
    names: Vec<String>,
    /// The role's policy, then the session policy if any.
    policies: Vec<Policy>,
}

fn invalid_token() -> OssError {
    OssError::new(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.")
        .with("SecurityToken", "The security token you provided is invalid.")
}

impl Principal {
    fn from_token(state: &AppState, token: &str) -> Result<Principal, OssError> {
        let issuer = state.config.credentials.sts.as_ref().ok_or_else(invalid_token)?;
        let claims = issuer.key.open(token).map_err(|_| invalid_token())?;
        let policies = claims.parsed_policies().map_err(|_| invalid_token())?;
        let account = claims.account().to_string();
        let role_name = claims.role.rsplit_once('/').map(|(_, n)| n).unwrap_or("");
        let names = vec![
            account.clone(),
            claims.role.clone(),
            format!("arn:sts::{account}:assumed-role/{role_name}/{}", claims.session),
        ];
        Ok(Principal { account, names, policies })
    }

    fn require(&self, action: &str, resource: &Resource, ctx: &RequestContext) -> Result<(), OssError> {
        match ram::evaluate_all(&self.policies, action, resource, &condition_context(ctx)) {
            (Decision::Allow, _) => Ok(()),
            (decision, which) => {
                tracing::debug!(
                    request_id = %ctx.request_id, action, resource = %resource.arn(), ?decision,
                    by_session_policy = which > 0, "denied by RAM policy"
                );
                Err(denied(action, decision, which > 0))
            }
        }
    }
}

/// OSS's answers: a session policy's denial is the "authorizer's policy"; the role's is RAM's.
fn denied(action: &str, decision: Decision, by_session_policy: bool) -> OssError {
    let err = if by_session_policy {
        OssError::access_denied("Access denied by authorizer's policy.").with_ec("0003-00000301")
    } else if decision == Decision::ExplicitDeny {
        OssError::access_denied("You are not authorized to do this action. You should be authorized by RAM.")
            .with_ec("0003-00000201")
    } else {
        OssError::access_denied("You are not authorized to do this action. You should be authorized by RAM.")
    };
    let kind = if decision == Decision::ExplicitDeny { "ExplicitDeny" } else { "ImplicitDeny" };
    err.with("AuthAction", action).with("NoPermissionType", kind)
}

/// The facts conditions test: source address, transport, and for listings prefix/delimiter.
pub(crate) fn condition_context(ctx: &RequestContext) -> ram::Context {
    let listing = matches!(ctx.endpoint, Endpoint::ListObjects | Endpoint::ListObjectsV2);
    let list_param = |name: &str| listing.then(|| ctx.query.get(name).unwrap_or("").to_string());
    ram::Context {
        source_ip: Some(ctx.client_ip),
        // ossd serves plain HTTP; a TLS-terminating proxy in front is not trusted to say so.
        secure_transport: false,
        prefix: list_param("prefix"),
        delimiter: list_param("delimiter"),
        user_agent: ctx.header("user-agent").map(str::to_string),
        referer: ctx.header("referer").map(str::to_string),
    }
}
