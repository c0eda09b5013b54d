//! RAM policies as OSS evaluates them for data access: the policy document (Version "1",
//! `Statement[]` with `Effect`, `Action`/`NotAction`, `Resource`/`NotResource`, `Condition`),
//! its evaluation (explicit Deny wins, default deny) and the mapping from an OSS operation to
//! its RAM action and resource.
//!
//! Pure: the caller supplies the request's facts (source IP, list prefix, ...) in a
//! [`Context`]. STS tokens carry the role's policy and the optional session policy; a request
//! is allowed only if every one of them allows it ([`evaluate_all`]).

use crate::route::Endpoint;
use serde_json::Value;
use std::net::IpAddr;

/// A policy that failed the grammar check (STS answers `InvalidParameter.PolicyGrammar`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

fn err<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The outcome of evaluating a policy for one action on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A matching `Deny` statement.
    ExplicitDeny,
    /// No matching `Allow` statement.
    ImplicitDeny,
}

/// `Action`/`Resource` list, or its negation `NotAction`/`NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PatternSet {
    negated: bool,
    patterns: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
}

impl Op {
    fn parse(name: &str) -> Option<Op> {
        Some(match name.to_ascii_lowercase().as_str() {
            "stringequals" => Op::StringEquals,
            "stringnotequals" => Op::StringNotEquals,
            "stringequalsignorecase" => Op::StringEqualsIgnoreCase,
            "stringnotequalsignorecase" => Op::StringNotEqualsIgnoreCase,
            "stringlike" => Op::StringLike,
            "stringnotlike" => Op::StringNotLike,
            "ipaddress" => Op::IpAddress,
            "notipaddress" => Op::NotIpAddress,
            "bool" => Op::Bool,
            _ => return None,
        })
    }

    /// Negated operators hold when the key is absent, as in RAM.
    fn negated(self) -> bool {
        matches!(self, Op::StringNotEquals | Op::StringNotEqualsIgnoreCase | Op::StringNotLike | Op::NotIpAddress)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let addr: IpAddr = ip.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical_ip(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix) };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as the IPv4 address.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    op: Op,
    /// `...IfExists`: holds when the key is absent.
    if_exists: bool,
    /// Lower-case condition key, e.g. `acs:sourceip`.
    key: String,
    values: Vec<String>,
    cidrs: Vec<Cidr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    /// Bucket policies only: who the statement is about (`*`, account or user ids, STS
    /// assumed-role ARNs, all matched with wildcards). `None` in identity policies.
    principals: Option<Vec<String>>,
    effect: Effect,
    actions: PatternSet,
    resources: PatternSet,
    conditions: Vec<Condition>,
}

/// A parsed RAM policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// The request facts conditions can test. Keys are matched case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `acs:SourceIp`.
    pub source_ip: Option<IpAddr>,
    /// `acs:SecureTransport`.
    pub secure_transport: bool,
    /// `oss:Prefix`: the `prefix` of a ListObjects request (empty when absent); `None` for
    /// other operations.
    pub prefix: Option<String>,
    /// `oss:Delimiter`, like `prefix`.
    pub delimiter: Option<String>,
    /// `acs:UserAgent`.
    pub user_agent: Option<String>,
    /// `acs:Referer`.
    pub referer: Option<String>,
}

/// The condition keys a request context provides (lower-cased); any other key is refused.
const CONDITION_KEYS: &[&str] =
    &["acs:sourceip", "acs:securetransport", "oss:prefix", "oss:delimiter", "acs:useragent", "acs:referer"];

impl Context {
    fn value(&self, key: &str) -> Option<String> {
        match key {
            "acs:sourceip" => self.source_ip.map(|ip| canonical_ip(ip).to_string()),
            "acs:securetransport" => Some(self.secure_transport.to_string()),
            "oss:prefix" => self.prefix.clone(),
            "oss:delimiter" => self.delimiter.clone(),
            "acs:useragent" => self.user_agent.clone(),
            "acs:referer" => self.referer.clone(),
            _ => None,
        }
    }
}

impl Policy {
    /// Parses a policy from its JSON text.
    pub fn parse_str(text: &str) -> Result<Policy, PolicyError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PolicyError(format!("not JSON: {e}")))?;
        Policy::parse(&value)
    }

    /// Parses and checks a bucket policy: the same language, each statement naming its
    /// `Principal` (a string or list; `*` is everybody, anonymous callers included).
    pub fn parse_bucket_policy(text: &str) -> Result<Policy, PolicyError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PolicyError(format!("not JSON: {e}")))?;
        Policy::parse_with(&value, true)
    }

    /// Parses and checks a policy document.
    pub fn parse(doc: &Value) -> Result<Policy, PolicyError> {
        Policy::parse_with(doc, false)
    }

    fn parse_with(doc: &Value, bucket_policy: bool) -> Result<Policy, PolicyError> {
        let Some(obj) = doc.as_object() else { return err("the policy must be a JSON object") };
        for k in obj.keys() {
            if !matches!(k.as_str(), "Version" | "Statement") {
                return err(format!("unknown policy element `{k}`"));
            }
        }
        match obj.get("Version") {
            Some(Value::String(v)) if v == "1" => {}
            _ => return err("Version must be \"1\""),
        }
        let parse = |s: &Value| parse_statement(s, bucket_policy);
        let statements = match obj.get("Statement") {
            Some(Value::Array(list)) => list.iter().map(parse).collect::<Result<Vec<_>, _>>()?,
            Some(single @ Value::Object(_)) => vec![parse(single)?],
            _ => return err("Statement must be a list of statements"),
        };
        Ok(Policy { statements })
    }

    /// Evaluates `action` (e.g. `oss:GetObject`) on `resource` (e.g.
    /// `acs:oss:cn-hangzhou:1234:bucket/key`): a matching Deny wins, then a matching Allow,
    /// else the default deny.
    pub fn evaluate(&self, action: &str, resource: &Resource, ctx: &Context) -> Decision {
        self.evaluate_for(None, action, resource, ctx)
    }

    /// Like [`Policy::evaluate`] for a bucket policy: only statements whose `Principal`
    /// names the caller count. `caller` lists the caller's names (account id, STS ARN); an
    /// anonymous caller has none and is matched only by `*`.
    pub fn evaluate_for(
        &self,
        caller: Option<&[String]>,
        action: &str,
        resource: &Resource,
        ctx: &Context,
    ) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if !s.names(caller) || !s.matches(action, resource, ctx) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed { Decision::Allow } else { Decision::ImplicitDeny }
    }
}

/// Evaluates several policies that must all allow (a role's policy and a session policy):
/// the first explicit deny, else the first implicit deny, else allow. The index says which
/// policy decided a denial.
pub fn evaluate_all(policies: &[Policy], action: &str, resource: &Resource, ctx: &Context) -> (Decision, usize) {
    let decisions: Vec<Decision> = policies.iter().map(|p| p.evaluate(action, resource, ctx)).collect();
    for wanted in [Decision::ExplicitDeny, Decision::ImplicitDeny] {
        if let Some(i) = decisions.iter().position(|d| *d == wanted) {
            return (wanted, i);
        }
    }
    (Decision::Allow, 0)
}

impl Policy {
    /// Whether some statement allows everybody (`Principal` `*`) without conditions: what
    /// GetBucketPolicyStatus calls public.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.effect == Effect::Allow
                && s.conditions.is_empty()
                && s.principals.as_ref().is_some_and(|p| p.iter().any(|p| p == "*"))
        })
    }

    /// A copy without the statements that make it public (PublicAccessBlock ignores them).
    pub fn without_public_grants(&self) -> Policy {
        let statements = self
            .statements
            .iter()
            .filter(|s| {
                !(s.effect == Effect::Allow && s.principals.as_ref().is_some_and(|p| p.iter().any(|p| p == "*")))
            })
            .cloned()
            .collect();
        Policy { statements }
    }
}

fn parse_statement(v: &Value, bucket_policy: bool) -> Result<Statement, PolicyError> {
    let Some(obj) = v.as_object() else { return err("each statement must be an object") };
    for k in obj.keys() {
        let known =
            matches!(k.as_str(), "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition" | "Sid");
        if !(known || (bucket_policy && k == "Principal")) {
            // `Principal` belongs in trust and bucket policies, not in identity policies.
            return err(format!("unknown statement element `{k}`"));
        }
    }
    let effect = match obj.get("Effect").and_then(Value::as_str) {
        Some(e) if e.eq_ignore_ascii_case("allow") => Effect::Allow,
        Some(e) if e.eq_ignore_ascii_case("deny") => Effect::Deny,
        _ => return err("Effect must be Allow or Deny"),
    };
    let actions = pattern_set(obj, "Action", "NotAction", |a| a == "*" || a.contains(':'))?;
    let resources = pattern_set(obj, "Resource", "NotResource", |r| r == "*" || r.starts_with("acs:"))?;
    let conditions = match obj.get("Condition") {
        None => Vec::new(),
        Some(c) => parse_conditions(c)?,
    };
    let principals = if bucket_policy {
        let p =
            obj.get("Principal").ok_or_else(|| PolicyError("a bucket policy statement needs a Principal".into()))?;
        let list = string_list(p).filter(|l| !l.is_empty());
        Some(list.ok_or_else(|| PolicyError("Principal must be a string or a list of strings".into()))?)
    } else {
        None
    };
    Ok(Statement { principals, effect, actions, resources, conditions })
}

fn pattern_set(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    not_name: &str,
    valid: impl Fn(&str) -> bool,
) -> Result<PatternSet, PolicyError> {
    let (negated, v) = match (obj.get(name), obj.get(not_name)) {
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        _ => return err(format!("a statement needs exactly one of {name} and {not_name}")),
    };
    let patterns = string_list(v).ok_or_else(|| PolicyError(format!("{name} must be a string or a list")))?;
    if patterns.is_empty() {
        return err(format!("{name} must not be empty"));
    }
    if let Some(bad) = patterns.iter().find(|p| !valid(p)) {
        return err(format!("invalid {name} `{bad}`"));
    }
    Ok(PatternSet { negated, patterns })
}

/// A string or a list of strings.
fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

/// Condition values: strings, booleans or numbers, alone or in a list.
fn condition_values(v: &Value) -> Option<Vec<String>> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn parse_conditions(v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let Some(ops) = v.as_object() else { return err("Condition must be an object") };
    let mut out = Vec::new();
    for (op_name, block) in ops {
        // `get` rather than slicing: an operator name may be any JSON string, non-ASCII too.
        let split =
            op_name.len().checked_sub("IfExists".len()).and_then(|n| Some((op_name.get(..n)?, op_name.get(n..)?)));
        let (base, if_exists) = match split {
            Some((base, suffix)) if suffix.eq_ignore_ascii_case("IfExists") => (base, true),
            _ => (op_name.as_str(), false),
        };
        let op = Op::parse(base).ok_or_else(|| PolicyError(format!("unsupported condition operator `{op_name}`")))?;
        let Some(keys) = block.as_object() else { return err(format!("{op_name} must map keys to values")) };
        for (key, values) in keys {
            // A key ossd does not know would always be absent: a `Deny` keyed on it would
            // silently never apply. Refuse the policy instead of evaluating it fail-open.
            if !CONDITION_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
                return err(format!("unsupported condition key `{key}`"));
            }
            let values = condition_values(values)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| PolicyError(format!("{op_name} {key}: values must be strings")))?;
            let mut cidrs = Vec::new();
            if matches!(op, Op::IpAddress | Op::NotIpAddress) {
                for v in &values {
                    cidrs.push(Cidr::parse(v).ok_or_else(|| PolicyError(format!("invalid IP address or CIDR `{v}`")))?);
                }
            }
            if op == Op::Bool
                && values.iter().any(|v| !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false"))
            {
                return err(format!("{op_name} {key}: values must be true or false"));
            }
            out.push(Condition { op, if_exists, key: key.to_ascii_lowercase(), values, cidrs });
        }
    }
    Ok(out)
}

impl Statement {
    fn names(&self, caller: Option<&[String]>) -> bool {
        let Some(principals) = &self.principals else { return true };
        principals.iter().any(|p| p == "*" || caller.is_some_and(|names| names.iter().any(|n| glob(p, n))))
    }

    fn matches(&self, action: &str, resource: &Resource, ctx: &Context) -> bool {
        let action_hit =
            self.actions.patterns.iter().any(|p| glob(&p.to_ascii_lowercase(), &action.to_ascii_lowercase()));
        if action_hit == self.actions.negated {
            return false;
        }
        let resource_hit = self.resources.patterns.iter().any(|p| resource.matches(p));
        if resource_hit == self.resources.negated {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(ctx))
    }
}

impl Condition {
    fn holds(&self, ctx: &Context) -> bool {
        let Some(actual) = ctx.value(&self.key) else {
            return self.if_exists || self.op.negated();
        };
        let any = |f: &dyn Fn(&str) -> bool| self.values.iter().any(|v| f(v));
        match self.op {
            Op::StringEquals => any(&|v| v == actual),
            Op::StringNotEquals => !any(&|v| v == actual),
            Op::StringEqualsIgnoreCase => any(&|v| v.eq_ignore_ascii_case(&actual)),
            Op::StringNotEqualsIgnoreCase => !any(&|v| v.eq_ignore_ascii_case(&actual)),
            Op::StringLike => any(&|v| glob(v, &actual)),
            Op::StringNotLike => !any(&|v| glob(v, &actual)),
            Op::Bool => any(&|v| v.eq_ignore_ascii_case(&actual)),
            Op::IpAddress | Op::NotIpAddress => {
                let inside =
                    actual.parse::<IpAddr>().map(|ip| self.cidrs.iter().any(|c| c.contains(ip))).unwrap_or(false);
                inside == (self.op == Op::IpAddress)
            }
        }
    }
}

/// Wildcard match: `*` is any run of characters (including `/` and none), `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The resource a request touches: `acs:oss:<region>:<account>:<bucket>[/<key>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Bare region id, e.g. `cn-hangzhou` (policies may also write `oss-cn-hangzhou`).
    pub region: String,
    pub account: String,
    /// `bucket`, `bucket/key`, or `*` for the service (ListBuckets).
    pub relative: String,
}

impl Resource {
    pub fn service(region: &str, account: &str) -> Resource {
        Resource { region: region.into(), account: account.into(), relative: "*".into() }
    }

    pub fn bucket(region: &str, account: &str, bucket: &str) -> Resource {
        Resource { region: region.into(), account: account.into(), relative: bucket.into() }
    }

    pub fn object(region: &str, account: &str, bucket: &str, key: &str) -> Resource {
        Resource { region: region.into(), account: account.into(), relative: format!("{bucket}/{key}") }
    }

    /// `acs:oss:<region>:<account>:<relative>`.
    pub fn arn(&self) -> String {
        format!("acs:oss:{}:{}:{}", self.region, self.account, self.relative)
    }

    /// Matches a policy `Resource` pattern part by part (service, region, account, then the
    /// bucket/key part, where `*` also spans `/`). `*` alone matches everything.
    pub fn matches(&self, pattern: &str) -> bool {
        self.match_with(pattern, |relative| glob(relative, &self.relative))
    }

    fn match_with(&self, pattern: &str, relative_matches: impl Fn(&str) -> bool) -> bool {
        if pattern == "*" {
            return true;
        }
        let parts: Vec<&str> = pattern.splitn(5, ':').collect();
        let [acs, service, region, account, relative] = parts[..] else { return false };
        acs == "acs"
            && glob(&service.to_ascii_lowercase(), "oss")
            && (glob(region, &self.region) || glob(region, &format!("oss-{}", self.region)))
            && glob(account, &self.account)
            && relative_matches(relative)
    }
}

/// What a resource of an operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Service,
    Bucket,
    Object,
}

/// The RAM action an operation needs and what its resource names. CopyObject and
/// UploadPartCopy need `oss:GetObject` on the source as well, and PostObject is authorised
/// as `oss:PutObject` by its handler; both are the caller's to add. `None` for operations that
/// RAM does not govern (the CORS preflight).
pub fn action_for(endpoint: Endpoint) -> Option<(&'static str, Scope)> {
    use Endpoint::*;
    use Scope::*;
    Some(match endpoint {
        ListBuckets => ("oss:ListBuckets", Service),
        PutBucket => ("oss:PutBucket", Bucket),
        DeleteBucket => ("oss:DeleteBucket", Bucket),
        GetBucketInfo => ("oss:GetBucketInfo", Bucket),
        GetBucketLocation => ("oss:GetBucketLocation", Bucket),
        GetBucketAcl => ("oss:GetBucketAcl", Bucket),
        PutBucketAcl => ("oss:PutBucketAcl", Bucket),
        GetBucketStat => ("oss:GetBucketStat", Bucket),
        ListObjects | ListObjectsV2 => ("oss:ListObjects", Bucket),
        ListMultipartUploads => ("oss:ListMultipartUploads", Bucket),
        ListLiveChannels => ("oss:ListLiveChannel", Bucket),
        PutBucketCors => ("oss:PutBucketCors", Bucket),
        GetBucketCors => ("oss:GetBucketCors", Bucket),
        DeleteBucketCors => ("oss:DeleteBucketCors", Bucket),
        PutBucketCallbackPolicy => ("oss:PutBucketCallbackPolicy", Bucket),
        GetBucketCallbackPolicy => ("oss:GetBucketCallbackPolicy", Bucket),
        DeleteBucketCallbackPolicy => ("oss:DeleteBucketCallbackPolicy", Bucket),
        BucketConfig(kind, op) => (kind.ram_action(op), Bucket),
        GetBucketPolicyStatus => ("oss:GetBucketPolicyStatus", Bucket),
        ListObjectVersions => ("oss:ListObjectVersions", Bucket),
        // Each key of the batch is an oss:DeleteObject on that key.
        DeleteMultipleObjects => ("oss:DeleteObject", Object),
        PostObject | PutObject | AppendObject | CopyObject => ("oss:PutObject", Object),
        InitiateMultipartUpload | UploadPart | UploadPartCopy | CompleteMultipartUpload => ("oss:PutObject", Object),
        AbortMultipartUpload => ("oss:AbortMultipartUpload", Object),
        ListParts => ("oss:ListParts", Object),
        GetObject | HeadObject | GetObjectMeta => ("oss:GetObject", Object),
        DeleteObject => ("oss:DeleteObject", Object),
        PutObjectAcl => ("oss:PutObjectAcl", Object),
        GetObjectAcl => ("oss:GetObjectAcl", Object),
        PutObjectTagging => ("oss:PutObjectTagging", Object),
        GetObjectTagging => ("oss:GetObjectTagging", Object),
        DeleteObjectTagging => ("oss:DeleteObjectTagging", Object),
        // OSS documents PutSymlink under oss:PutObject and GetSymlink under oss:GetObject.
        PutSymlink => ("oss:PutObject", Object),
        GetSymlink => ("oss:GetObject", Object),
        RestoreObject => ("oss:RestoreObject", Object),
        PutBucketEncryption => ("oss:PutBucketEncryption", Bucket),
        GetBucketEncryption => ("oss:GetBucketEncryption", Bucket),
        DeleteBucketEncryption => ("oss:DeleteBucketEncryption", Bucket),
        Options => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(bucket: &str, key: &str) -> Resource {
        Resource::object("cn-hangzhou", "1234", bucket, key)
    }

    fn bkt(bucket: &str) -> Resource {
        Resource::bucket("cn-hangzhou", "1234", bucket)
    }

    fn policy(statements: Value) -> Policy {
        Policy::parse(&json!({"Version": "1", "Statement": statements})).unwrap()
    }

    fn ctx() -> Context {
        Context { source_ip: Some("10.1.2.3".parse().unwrap()), ..Context::default() }
    }

    #[test]
    fn bucket_policies_name_their_principals() {
        let text = r#"{"Version":"1","Statement":[
            {"Effect":"Allow","Principal":["*"],"Action":"oss:GetObject","Resource":"acs:oss:*:*:b/pub/*"},
            {"Effect":"Allow","Principal":["1234"],"Action":"oss:PutObject","Resource":"acs:oss:*:*:b/*"},
            {"Effect":"Deny","Principal":"*","Action":"oss:GetObject","Resource":"acs:oss:*:*:b/pub/secret"}]}"#;
        let p = Policy::parse_bucket_policy(text).unwrap();
        let me = vec!["1234".to_string()];
        let c = ctx();
        assert_eq!(p.evaluate_for(None, "oss:GetObject", &obj("b", "pub/a"), &c), Decision::Allow);
        assert_eq!(p.evaluate_for(None, "oss:GetObject", &obj("b", "pub/secret"), &c), Decision::ExplicitDeny);
        assert_eq!(p.evaluate_for(None, "oss:PutObject", &obj("b", "x"), &c), Decision::ImplicitDeny);
        assert_eq!(p.evaluate_for(Some(&me), "oss:PutObject", &obj("b", "x"), &c), Decision::Allow);
        assert!(p.is_public());
        assert!(!p.without_public_grants().is_public());
        assert_eq!(
            p.without_public_grants().evaluate_for(None, "oss:GetObject", &obj("b", "pub/a"), &c),
            Decision::ImplicitDeny
        );
        // Identity policies refuse Principal; bucket policies need it.
        assert!(Policy::parse_str(text).is_err());
        let no_principal = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        assert!(Policy::parse_bucket_policy(no_principal).is_err());
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "", true),
            ("*", "a/b/c", true),
            ("a*", "abc", true),
            ("a*", "ba", false),
            ("dir/*", "dir/x/y", true),
            ("dir/*", "dir", false),
            ("?", "a", true),
            ("?", "ab", false),
            ("a?c", "abc", true),
            ("*b*", "aaba", true),
            ("*.jpg", "x/y.jpg", true),
            ("*.jpg", "x/y.jpgz", false),
            ("a**b", "ab", true),
            ("", "", true),
            ("", "a", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob(p, t), want, "{p:?} vs {t:?}");
        }
    }

    #[test]
    fn allow_deny_and_default_deny() {
        let p = policy(json!([
            {"Effect": "Allow", "Action": ["oss:GetObject", "oss:PutObject"], "Resource": "acs:oss:*:*:b/*"},
            {"Effect": "Deny", "Action": "oss:PutObject", "Resource": "acs:oss:*:*:b/secret/*"},
        ]));
        let c = ctx();
        let cases = [
            ("oss:GetObject", obj("b", "k"), Decision::Allow),
            ("oss:PutObject", obj("b", "dir/k"), Decision::Allow),
            ("oss:PutObject", obj("b", "secret/k"), Decision::ExplicitDeny),
            ("oss:GetObject", obj("b", "secret/k"), Decision::Allow),
            ("oss:DeleteObject", obj("b", "k"), Decision::ImplicitDeny),
            ("oss:GetObject", obj("other", "k"), Decision::ImplicitDeny),
            ("oss:ListObjects", bkt("b"), Decision::ImplicitDeny),
            // Actions are case-insensitive.
            ("OSS:getobject", obj("b", "k"), Decision::Allow),
        ];
        for (action, res, want) in cases {
            assert_eq!(p.evaluate(action, &res, &c), want, "{action} {}", res.arn());
        }
    }

    #[test]
    fn action_wildcards() {
        let p = policy(json!([{"Effect": "Allow", "Action": ["oss:Get*", "oss:List?bjects"], "Resource": "*"}]));
        let c = ctx();
        assert_eq!(p.evaluate("oss:GetObject", &obj("b", "k"), &c), Decision::Allow);
        assert_eq!(p.evaluate("oss:GetBucketAcl", &bkt("b"), &c), Decision::Allow);
        assert_eq!(p.evaluate("oss:ListObjects", &bkt("b"), &c), Decision::Allow);
        assert_eq!(p.evaluate("oss:PutObject", &obj("b", "k"), &c), Decision::ImplicitDeny);
        let all = policy(json!([{"Effect": "Allow", "Action": "oss:*", "Resource": "acs:oss:*:*:*"}]));
        assert_eq!(all.evaluate("oss:DeleteBucket", &bkt("b"), &c), Decision::Allow);
        assert_eq!(all.evaluate("oss:ListBuckets", &Resource::service("cn-hangzhou", "1234"), &c), Decision::Allow);
        let star = policy(json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]));
        assert_eq!(star.evaluate("oss:PutObject", &obj("b", "k"), &c), Decision::Allow);
        let other = policy(json!([{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]));
        assert_eq!(other.evaluate("oss:PutObject", &obj("b", "k"), &c), Decision::ImplicitDeny);
    }

    #[test]
    fn resource_parts() {
        let c = ctx();
        let cases = [
            ("acs:oss:*:*:b", bkt("b"), true),
            ("acs:oss:*:*:b", obj("b", "k"), false),
            ("acs:oss:*:*:b/*", bkt("b"), false),
            ("acs:oss:*:*:b*", obj("b", "k"), true),
            ("acs:oss:*:*:b*", bkt("bx"), true),
            ("acs:oss:cn-hangzhou:1234:b/k", obj("b", "k"), true),
            ("acs:oss:oss-cn-hangzhou:1234:b/k", obj("b", "k"), true),
            ("acs:oss:cn-beijing:*:b/k", obj("b", "k"), false),
            ("acs:oss:*:5678:b/k", obj("b", "k"), false),
            ("acs:ecs:*:*:b/k", obj("b", "k"), false),
            ("acs:oss:*:*:b/a?c", obj("b", "abc"), true),
            ("acs:oss:*:*:b/dir/*", obj("b", "dir/x:y"), true),
            ("acs:oss:*:*:B/*", obj("b", "k"), false),
            ("acs:oss:*:*:*", Resource::service("cn-hangzhou", "1234"), true),
            ("acs:oss:*:*:b", Resource::service("cn-hangzhou", "1234"), false),
        ];
        for (pattern, res, want) in cases {
            let p = policy(json!([{"Effect": "Allow", "Action": "oss:*", "Resource": pattern}]));
            let got = p.evaluate("oss:GetObject", &res, &c) == Decision::Allow;
            assert_eq!(got, want, "{pattern} vs {}", res.arn());
        }
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = policy(json!([
            {"Effect": "Allow", "NotAction": "oss:Delete*", "Resource": "acs:oss:*:*:b/*"},
            {"Effect": "Deny", "Action": "oss:*", "NotResource": ["acs:oss:*:*:b/*", "acs:oss:*:*:b"]},
        ]));
        let c = ctx();
        assert_eq!(p.evaluate("oss:PutObject", &obj("b", "k"), &c), Decision::Allow);
        assert_eq!(p.evaluate("oss:DeleteObject", &obj("b", "k"), &c), Decision::ImplicitDeny);
        assert_eq!(p.evaluate("oss:GetObject", &obj("c", "k"), &c), Decision::ExplicitDeny);
        assert_eq!(p.evaluate("oss:ListObjects", &bkt("b"), &c), Decision::ImplicitDeny);
    }

    #[test]
    fn ip_conditions() {
        let p = policy(json!([{
            "Effect": "Allow", "Action": "oss:*", "Resource": "*",
            "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.1.7"]}}
        }]));
        let at = |ip: &str| {
            let c = Context { source_ip: Some(ip.parse().unwrap()), ..Context::default() };
            p.evaluate("oss:GetObject", &obj("b", "k"), &c)
        };
        assert_eq!(at("10.200.0.1"), Decision::Allow);
        assert_eq!(at("::ffff:10.0.0.1"), Decision::Allow);
        assert_eq!(at("192.168.1.7"), Decision::Allow);
        assert_eq!(at("192.168.1.8"), Decision::ImplicitDeny);
        assert_eq!(at("11.0.0.1"), Decision::ImplicitDeny);
        assert_eq!(at("::1"), Decision::ImplicitDeny);
        let deny = policy(json!([
            {"Effect": "Allow", "Action": "oss:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "oss:*", "Resource": "*",
             "Condition": {"NotIpAddress": {"acs:SourceIp": "127.0.0.0/8"}}},
        ]));
        let at = |ip: &str| {
            let c = Context { source_ip: Some(ip.parse().unwrap()), ..Context::default() };
            deny.evaluate("oss:GetObject", &obj("b", "k"), &c)
        };
        assert_eq!(at("127.0.0.1"), Decision::Allow);
        assert_eq!(at("10.0.0.1"), Decision::ExplicitDeny);
        let v6 = policy(json!([{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
            "Condition": {"IpAddress": {"acs:SourceIp": "2001:db8::/32"}}}]));
        let c = Context { source_ip: Some("2001:db8::5".parse().unwrap()), ..Context::default() };
        assert_eq!(v6.evaluate("oss:GetObject", &obj("b", "k"), &c), Decision::Allow);
    }

    #[test]
    fn prefix_and_delimiter_conditions() {
        let p = policy(json!([
            {"Effect": "Allow", "Action": "oss:ListObjects", "Resource": "acs:oss:*:*:b",
             "Condition": {"StringLike": {"oss:Prefix": ["", "home/alice/*"]},
                           "StringEquals": {"oss:Delimiter": "/"}}},
        ]));
        let list = |prefix: Option<&str>, delimiter: Option<&str>| {
            let c = Context {
                prefix: prefix.map(str::to_owned),
                delimiter: delimiter.map(str::to_owned),
                ..Context::default()
            };
            p.evaluate("oss:ListObjects", &bkt("b"), &c)
        };
        assert_eq!(list(Some(""), Some("/")), Decision::Allow);
        assert_eq!(list(Some("home/alice/docs/"), Some("/")), Decision::Allow);
        assert_eq!(list(Some("home/bob/"), Some("/")), Decision::ImplicitDeny);
        assert_eq!(list(Some("home/alice/"), Some("")), Decision::ImplicitDeny);
        // Not a listing: the keys are absent, so positive operators fail.
        assert_eq!(list(None, None), Decision::ImplicitDeny);
        let eq = policy(json!([{"Effect": "Allow", "Action": "oss:ListObjects", "Resource": "*",
            "Condition": {"StringEquals": {"OSS:prefix": "a*"}}}]));
        let c = Context { prefix: Some("a*".into()), ..Context::default() };
        assert_eq!(eq.evaluate("oss:ListObjects", &bkt("b"), &c), Decision::Allow);
        let c = Context { prefix: Some("ab".into()), ..Context::default() };
        assert_eq!(eq.evaluate("oss:ListObjects", &bkt("b"), &c), Decision::ImplicitDeny);
    }

    #[test]
    fn other_conditions() {
        let secure = policy(json!([{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
            "Condition": {"Bool": {"acs:SecureTransport": true}}}]));
        let c = Context { secure_transport: false, ..Context::default() };
        assert_eq!(secure.evaluate("oss:GetObject", &obj("b", "k"), &c), Decision::ImplicitDeny);
        let c = Context { secure_transport: true, ..Context::default() };
        assert_eq!(secure.evaluate("oss:GetObject", &obj("b", "k"), &c), Decision::Allow);
        // Negated operators and IfExists hold when the key is absent.
        let p = policy(json!([{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
            "Condition": {"StringNotLike": {"acs:UserAgent": "*bot*"},
                          "StringEqualsIfExists": {"oss:Prefix": "x/"}}}]));
        assert_eq!(p.evaluate("oss:GetObject", &obj("b", "k"), &Context::default()), Decision::Allow);
        let c = Context { user_agent: Some("a-bot/1".into()), ..Context::default() };
        assert_eq!(p.evaluate("oss:GetObject", &obj("b", "k"), &c), Decision::ImplicitDeny);
        let c = Context { prefix: Some("y/".into()), ..Context::default() };
        assert_eq!(p.evaluate("oss:ListObjects", &bkt("b"), &c), Decision::ImplicitDeny);
        let ci = policy(json!([{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
            "Condition": {"StringEqualsIgnoreCase": {"acs:Referer": "HTTP://A.example/"}}}]));
        let c = Context { referer: Some("http://a.example/".into()), ..Context::default() };
        assert_eq!(ci.evaluate("oss:GetObject", &obj("b", "k"), &c), Decision::Allow);
    }

    #[test]
    fn intersection_of_role_and_session_policies() {
        let role =
            policy(json!([{"Effect": "Allow", "Action": "oss:*", "Resource": ["acs:oss:*:*:b", "acs:oss:*:*:b/*"]}]));
        let session = policy(json!([
            {"Effect": "Allow", "Action": ["oss:PutObject", "oss:GetObject"], "Resource": "acs:oss:*:*:b/up/*"},
            {"Effect": "Allow", "Action": "oss:*", "Resource": "acs:oss:*:*:other/*"},
            {"Effect": "Deny", "Action": "oss:GetObject", "Resource": "acs:oss:*:*:b/up/private*"},
        ]));
        let both = [role, session];
        let c = ctx();
        let cases = [
            ("oss:PutObject", obj("b", "up/x"), (Decision::Allow, 0)),
            ("oss:DeleteObject", obj("b", "up/x"), (Decision::ImplicitDeny, 1)),
            ("oss:PutObject", obj("b", "down/x"), (Decision::ImplicitDeny, 1)),
            // The session policy cannot widen the role's rights.
            ("oss:PutObject", obj("other", "x"), (Decision::ImplicitDeny, 0)),
            ("oss:GetObject", obj("b", "up/private1"), (Decision::ExplicitDeny, 1)),
        ];
        for (action, res, want) in cases {
            assert_eq!(evaluate_all(&both, action, &res, &c), want, "{action} {}", res.arn());
        }
    }

    #[test]
    fn grammar_errors() {
        let bad = [
            json!([]),
            json!({"Statement": []}),
            json!({"Version": "2", "Statement": []}),
            json!({"Version": 1, "Statement": []}),
            json!({"Version": "1", "Statement": "x"}),
            json!({"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "oss:*", "Resource": "*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Resource": "*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "NotAction": "oss:x", "Resource": "*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "bucket/*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": [1], "Resource": "*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*", "Principal": "*"}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
                "Condition": {"NumericFancy": {"a": "1"}}}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
                "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/33"}}}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
                "Condition": {"Bool": {"acs:SecureTransport": "yes"}}}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
                "Condition": {"StringLike": {"oss:Prefix": []}}}]}),
            // Non-ASCII operator names (once a panic: slicing inside a character).
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
                "Condition": {"StringEqualsIfExistsé": {"oss:Prefix": "a"}}}]}),
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*",
                "Condition": {"éééééx": {"oss:Prefix": "a"}}}]}),
            // Unknown keys are refused, not treated as absent.
            json!({"Version": "1", "Statement": [{"Effect": "Deny", "Action": "oss:*", "Resource": "*",
                "Condition": {"StringEquals": {"acs:CurrentTime": "x"}}}]}),
        ];
        for doc in bad {
            assert!(Policy::parse(&doc).is_err(), "{doc}");
        }
        assert!(Policy::parse_str("{not json").is_err());
        // A single statement object and a Sid are accepted.
        let ok =
            json!({"Version": "1", "Statement": {"Sid": "s", "Effect": "allow", "Action": "oss:*", "Resource": "*"}});
        assert!(Policy::parse(&ok).is_ok());
        // An empty statement list is valid and allows nothing.
        let empty = Policy::parse(&json!({"Version": "1", "Statement": []})).unwrap();
        assert_eq!(empty.evaluate("oss:GetObject", &obj("b", "k"), &ctx()), Decision::ImplicitDeny);
    }

    #[test]
    fn endpoint_actions() {
        use Endpoint::*;
        let cases = [
            (ListBuckets, "oss:ListBuckets", Scope::Service),
            (ListObjectsV2, "oss:ListObjects", Scope::Bucket),
            (HeadObject, "oss:GetObject", Scope::Object),
            (GetObjectMeta, "oss:GetObject", Scope::Object),
            (AppendObject, "oss:PutObject", Scope::Object),
            (PostObject, "oss:PutObject", Scope::Object),
            (UploadPart, "oss:PutObject", Scope::Object),
            (CompleteMultipartUpload, "oss:PutObject", Scope::Object),
            (AbortMultipartUpload, "oss:AbortMultipartUpload", Scope::Object),
            (ListParts, "oss:ListParts", Scope::Object),
            (ListMultipartUploads, "oss:ListMultipartUploads", Scope::Bucket),
            (DeleteMultipleObjects, "oss:DeleteObject", Scope::Object),
            (GetBucketInfo, "oss:GetBucketInfo", Scope::Bucket),
        ];
        for (ep, action, scope) in cases {
            assert_eq!(action_for(ep), Some((action, scope)), "{ep:?}");
        }
        assert_eq!(action_for(Options), None);
    }
}
