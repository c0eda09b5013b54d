//! Bucket configurations (`?tagging`, `?website`, `?referer`, `?logging`, `?lifecycle`,
//! `?policy`, `?requestPayment`, `?transferAcceleration`, `?versioning`, `?publicAccessBlock`,
//! `?userDefinedLogFieldsConfig`, `?qos`): which sub-resource names which configuration, how
//! each Put body is validated, what Get answers when nothing is stored, and the typed views the
//! server acts on (referer lists, website documents, lifecycle rules, the storage capacity).
//!
//! A validated body is stored as the client sent it (the SDKs read back the elements they
//! wrote); a configuration that OSS reports with defaults when never set gets them here.

use crate::error::OssError;
use crate::xml::{self, XmlWriter};
use serde::Deserialize;

/// Largest configuration body accepted (a lifecycle of 1,000 rules fits; OSS caps bodies too).
pub const MAX_BODY: usize = 512 * 1024;

/// One kind of bucket configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Tagging,
    Website,
    Referer,
    Logging,
    Lifecycle,
    Policy,
    RequestPayment,
    TransferAcceleration,
    Versioning,
    PublicAccessBlock,
    UserDefinedLogFields,
    StorageCapacity,
}

/// What is done to a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigOp {
    Put,
    Get,
    Delete,
}

/// `(kind, sub-resource, Put name, Get name, Delete name)`; `""` where OSS has no such operation.
const KINDS: &[(ConfigKind, &str, &str, &str, &str)] = &[
    (ConfigKind::Tagging, "tagging", "PutBucketTags", "GetBucketTags", "DeleteBucketTags"),
    (ConfigKind::Website, "website", "PutBucketWebsite", "GetBucketWebsite", "DeleteBucketWebsite"),
    (ConfigKind::Referer, "referer", "PutBucketReferer", "GetBucketReferer", ""),
    (ConfigKind::Logging, "logging", "PutBucketLogging", "GetBucketLogging", "DeleteBucketLogging"),
    (ConfigKind::Lifecycle, "lifecycle", "PutBucketLifecycle", "GetBucketLifecycle", "DeleteBucketLifecycle"),
    (ConfigKind::Policy, "policy", "PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy"),
    (ConfigKind::RequestPayment, "requestPayment", "PutBucketRequestPayment", "GetBucketRequestPayment", ""),
    (
        ConfigKind::TransferAcceleration,
        "transferAcceleration",
        "PutBucketTransferAcceleration",
        "GetBucketTransferAcceleration",
        "",
    ),
    (ConfigKind::Versioning, "versioning", "PutBucketVersioning", "GetBucketVersioning", ""),
    (
        ConfigKind::PublicAccessBlock,
        "publicAccessBlock",
        "PutBucketPublicAccessBlock",
        "GetBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
    ),
    (
        ConfigKind::UserDefinedLogFields,
        "userDefinedLogFieldsConfig",
        "PutUserDefinedLogFieldsConfig",
        "GetUserDefinedLogFieldsConfig",
        "DeleteUserDefinedLogFieldsConfig",
    ),
    (ConfigKind::StorageCapacity, "qos", "PutBucketStorageCapacity", "GetBucketStorageCapacity", ""),
];

impl ConfigKind {
    fn row(self) -> &'static (ConfigKind, &'static str, &'static str, &'static str, &'static str) {
        KINDS.iter().find(|r| r.0 == self).expect("every kind has a row")
    }

    /// The query parameter that selects it; also the kind's name in the store.
    pub fn subresource(self) -> &'static str {
        self.row().1
    }

    /// The configuration a bucket request's query names, if any.
    pub fn from_query(has: impl Fn(&str) -> bool) -> Option<ConfigKind> {
        KINDS.iter().find(|r| has(r.1)).map(|r| r.0)
    }

    /// The operation's name (`PutBucketWebsite`), `None` where OSS has none (DeleteBucketReferer).
    pub fn operation(self, op: ConfigOp) -> Option<&'static str> {
        let r = self.row();
        let name = match op {
            ConfigOp::Put => r.2,
            ConfigOp::Get => r.3,
            ConfigOp::Delete => r.4,
        };
        (!name.is_empty()).then_some(name)
    }

    /// The RAM action of an operation: `oss:` + its name, except where RAM names it otherwise.
    pub fn ram_action(self, op: ConfigOp) -> &'static str {
        use ConfigKind::*;
        use ConfigOp::*;
        match (self, op) {
            (Tagging, Put) => "oss:PutBucketTagging",
            (Tagging, Get) => "oss:GetBucketTagging",
            (Tagging, Delete) => "oss:DeleteBucketTagging",
            (Website, Put) => "oss:PutBucketWebsite",
            (Website, Get) => "oss:GetBucketWebsite",
            (Website, Delete) => "oss:DeleteBucketWebsite",
            (Referer, Get) => "oss:GetBucketReferer",
            (Referer, _) => "oss:PutBucketReferer",
            (Logging, Put) => "oss:PutBucketLogging",
            (Logging, Get) => "oss:GetBucketLogging",
            (Logging, Delete) => "oss:DeleteBucketLogging",
            (Lifecycle, Put) => "oss:PutBucketLifecycle",
            (Lifecycle, Get) => "oss:GetBucketLifecycle",
            (Lifecycle, Delete) => "oss:DeleteBucketLifecycle",
            (Policy, Put) => "oss:PutBucketPolicy",
            (Policy, Get) => "oss:GetBucketPolicy",
            (Policy, Delete) => "oss:DeleteBucketPolicy",
            (RequestPayment, Get) => "oss:GetBucketRequestPayment",
            (RequestPayment, _) => "oss:PutBucketRequestPayment",
            (TransferAcceleration, Get) => "oss:GetBucketTransferAcceleration",
            (TransferAcceleration, _) => "oss:PutBucketTransferAcceleration",
            (Versioning, Get) => "oss:GetBucketVersioning",
            (Versioning, _) => "oss:PutBucketVersioning",
            (PublicAccessBlock, Put) => "oss:PutBucketPublicAccessBlock",
            (PublicAccessBlock, Get) => "oss:GetBucketPublicAccessBlock",
            (PublicAccessBlock, Delete) => "oss:DeleteBucketPublicAccessBlock",
            (UserDefinedLogFields, Put) => "oss:PutUserDefinedLogFieldsConfig",
            (UserDefinedLogFields, Get) => "oss:GetUserDefinedLogFieldsConfig",
            (UserDefinedLogFields, Delete) => "oss:DeleteUserDefinedLogFieldsConfig",
            (StorageCapacity, Get) => "oss:GetBucketStorageCapacity",
            (StorageCapacity, _) => "oss:PutBucketStorageCapacity",
        }
    }

    /// Checks a Put body and returns what to store (`None`: store nothing, i.e. remove, as an
    /// empty tag set or an empty logging status does).
    pub fn validate(self, body: &str) -> Result<Option<String>, OssError> {
        use ConfigKind::*;
        match self {
            Tagging => {
                let tags = parse_tagging(body)?;
                Ok((!tags.is_empty()).then(|| xml::tagging(&tags)))
            }
            Website => WebsiteConfiguration::parse(body).map(|_| Some(body.to_string())),
            Referer => RefererConfiguration::parse(body).map(|_| Some(body.to_string())),
            Logging => {
                let status: BucketLoggingStatus = xml::parse(body)?;
                match status.logging_enabled {
                    None => Ok(None),
                    Some(l) if l.target_bucket.trim().is_empty() => Err(OssError::new(
                        400,
                        "InvalidTargetBucketForLogging",
                        "The target bucket for logging does not exist.",
                    )),
                    Some(_) => Ok(Some(body.to_string())),
                }
            }
            Lifecycle => LifecycleConfiguration::parse(body).map(|_| Some(body.to_string())),
            Policy => crate::ram::Policy::parse_bucket_policy(body)
                .map(|_| Some(body.to_string()))
                .map_err(|e| OssError::new(400, "InvalidPolicyDocument", format!("Invalid Policy: {e}"))),
            RequestPayment => {
                let c: RequestPaymentConfiguration = xml::parse(body)?;
                match c.payer.as_str() {
                    "BucketOwner" | "Requester" => Ok(Some(body.to_string())),
                    p => Err(OssError::malformed_xml(format!("The Payer `{p}` is not valid."))),
                }
            }
            TransferAcceleration => {
                let c: TransferAccelerationConfiguration = xml::parse(body)?;
                parse_bool(&c.enabled, "Enabled")?;
                Ok(Some(body.to_string()))
            }
            Versioning => {
                let c: VersioningConfiguration = xml::parse(body)?;
                match c.status.as_str() {
                    "Enabled" => Err(OssError::not_implemented("Enabling versioning")),
                    "Suspended" => Ok(Some(body.to_string())),
                    s => Err(OssError::malformed_xml(format!("The versioning status `{s}` is not valid."))),
                }
            }
            PublicAccessBlock => {
                let c: PublicAccessBlockConfiguration = xml::parse(body)?;
                parse_bool(&c.block_public_access, "BlockPublicAccess")?;
                Ok(Some(body.to_string()))
            }
            UserDefinedLogFields => {
                let c: UserDefinedLogFieldsConfiguration = xml::parse(body)?;
                let headers = c.header_set.map(|s| s.headers).unwrap_or_default();
                let params = c.param_set.map(|s| s.parameters).unwrap_or_default();
                if headers.len() > 5 || params.len() > 5 {
                    return Err(OssError::invalid_argument("At most 5 headers and 5 parameters may be logged."));
                }
                if headers.iter().chain(&params).any(|h| h.is_empty() || h.len() > 64) {
                    return Err(OssError::invalid_argument("A logged field name is empty or too long."));
                }
                Ok(Some(body.to_string()))
            }
            StorageCapacity => {
                storage_capacity_gb(body)?;
                Ok(Some(body.to_string()))
            }
        }
    }

    /// Get's answer when nothing is stored: a default document, or OSS's "not configured" error.
    pub fn when_absent(self, bucket: &str) -> Result<String, OssError> {
        use ConfigKind::*;
        let missing = |code: &'static str, msg: &str| Err(OssError::new(404, code, msg).with("BucketName", bucket));
        let mut w = XmlWriter::new();
        match self {
            Tagging => return Ok(xml::tagging(&[])),
            Website => {
                return missing(
                    "NoSuchWebsiteConfiguration",
                    "The specified bucket does not have a website configuration.",
                );
            }
            Lifecycle => return missing("NoSuchLifecycle", "No Row found in Lifecycle Table."),
            Policy => return missing("NoSuchBucketPolicy", "The bucket policy does not exist."),
            UserDefinedLogFields => {
                return missing("NoSuchUserDefinedLogFieldsConfig", "The UserDefinedLogFieldsConfig does not exist.");
            }
            TransferAcceleration => {
                return missing(
                    "NoSuchTransferAccelerationConfiguration",
                    "The bucket you specified does not have transfer acceleration configuration.",
                );
            }
            Referer => {
                w.open("RefererConfiguration")
                    .elem("AllowEmptyReferer", "true")
                    .elem("AllowTruncateQueryString", "true")
                    .elem("TruncatePath", "false")
                    .open("RefererList")
                    .close("RefererList")
                    .close("RefererConfiguration");
            }
            Logging => {
                w.open("BucketLoggingStatus").close("BucketLoggingStatus");
            }
            RequestPayment => {
                w.open("RequestPaymentConfiguration").elem("Payer", "BucketOwner").close("RequestPaymentConfiguration");
            }
            Versioning => {
                w.open("VersioningConfiguration").close("VersioningConfiguration");
            }
            PublicAccessBlock => {
                w.open("PublicAccessBlockConfiguration")
                    .elem("BlockPublicAccess", "false")
                    .close("PublicAccessBlockConfiguration");
            }
            StorageCapacity => {
                w.open("BucketUserQos").elem("StorageCapacity", "-1").close("BucketUserQos");
            }
        }
        Ok(w.finish())
    }
}

/// Booleans in any case: oss2 sends Python's `True`/`False`, and OSS takes them.
fn parse_bool(v: &str, name: &str) -> Result<bool, OssError> {
    match v.trim() {
        t if t.eq_ignore_ascii_case("true") => Ok(true),
        f if f.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(OssError::malformed_xml(format!("{name} must be true or false, not `{other}`."))),
    }
}

fn is_true(v: &str) -> bool {
    v.trim().eq_ignore_ascii_case("true")
}

/// Where a bucket's resource group id is stored (set by PutBucket's `x-oss-resource-group-id`).
pub const RESOURCE_GROUP_KIND: &str = "resourceGroupId";

/// The account's default resource group id, shaped like OSS's (`rg-` and 15 lower-case
/// letters and digits), stable for an owner.
pub fn default_resource_group_id(owner_id: &str) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(owner_id.as_bytes());
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = digest.iter().take(15).map(|b| alphabet[*b as usize % alphabet.len()] as char).collect();
    format!("rg-{tail}")
}

/// Whether a resource group id is well formed (`rg-` and letters/digits).
pub fn is_resource_group_id(id: &str) -> bool {
    id.strip_prefix("rg-")
        .is_some_and(|t| !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Facts GetBucketInfo shows, from the stored configurations.
pub fn transfer_acceleration_enabled(body: &str) -> bool {
    xml::parse::<TransferAccelerationConfiguration>(body).is_ok_and(|c| is_true(&c.enabled))
}

pub fn versioning_status(body: &str) -> Option<String> {
    xml::parse::<VersioningConfiguration>(body).ok().map(|c| c.status).filter(|s| !s.is_empty())
}

// ---------- tagging ----------

/// Bucket tags: at most 20, keys 1..=64 characters, values up to 128, no duplicates.
pub fn parse_tagging(body: &str) -> Result<Vec<(String, String)>, OssError> {
    let req: xml::TaggingRequest = xml::parse(body)?;
    let tags: Vec<(String, String)> = req.tag_set.tags.into_iter().map(|t| (t.key, t.value)).collect();
    let bad = |m: &str| OssError::new(400, "InvalidTag", m.to_string());
    if tags.len() > 20 {
        return Err(bad("Bucket tags cannot be greater than 20."));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 64 || k.starts_with("aliyun") || k.starts_with("acs:") {
            return Err(bad("The tag key is not valid."));
        }
        if v.chars().count() > 128 {
            return Err(bad("The tag value is not valid."));
        }
        if tags[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(bad("Duplicate tag keys are not allowed."));
        }
    }
    Ok(tags)
}

// ---------- website ----------

#[derive(Debug, Deserialize)]
pub struct WebsiteConfiguration {
    #[serde(rename = "IndexDocument", default)]
    pub index_document: Option<IndexDocument>,
    #[serde(rename = "ErrorDocument", default)]
    pub error_document: Option<ErrorDocument>,
}

#[derive(Debug, Deserialize)]
pub struct IndexDocument {
    #[serde(rename = "Suffix")]
    pub suffix: String,
    #[serde(rename = "SupportSubDir", default)]
    pub support_sub_dir: Option<String>,
    #[serde(rename = "Type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorDocument {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "HttpStatus", default)]
    pub http_status: Option<String>,
}

impl WebsiteConfiguration {
    pub fn parse(body: &str) -> Result<WebsiteConfiguration, OssError> {
        let c: WebsiteConfiguration = xml::parse(body)?;
        if c.index_document.is_none() && c.error_document.is_none() {
            return Err(OssError::malformed_xml("A website configuration needs an IndexDocument or an ErrorDocument."));
        }
        if let Some(i) = &c.index_document {
            if i.suffix.is_empty() || i.suffix.contains('/') {
                return Err(OssError::invalid_argument("The index document suffix is not valid.")
                    .with("ArgumentName", "Suffix")
                    .with("ArgumentValue", i.suffix.clone()));
            }
            if let Some(s) = &i.support_sub_dir {
                parse_bool(s, "SupportSubDir")?;
            }
        }
        if let Some(e) = &c.error_document {
            if e.key.is_empty() {
                return Err(OssError::invalid_argument("The error document key is empty."));
            }
            if let Some(s) = &e.http_status
                && !matches!(s.trim(), "200" | "404")
            {
                return Err(OssError::invalid_argument("The error document's HttpStatus must be 200 or 404.")
                    .with("ArgumentName", "HttpStatus")
                    .with("ArgumentValue", s.clone()));
            }
        }
        Ok(c)
    }

    /// The index suffix, if an index document is set.
    pub fn index(&self) -> Option<&str> {
        self.index_document.as_ref().map(|i| i.suffix.as_str())
    }

    pub fn support_sub_dir(&self) -> bool {
        self.index_document.as_ref().and_then(|i| i.support_sub_dir.as_deref()).is_some_and(is_true)
    }

    /// The error document's key and the status it is served with (404 unless set to 200).
    pub fn error(&self) -> Option<(&str, u16)> {
        self.error_document.as_ref().map(|e| {
            let status = if e.http_status.as_deref().map(str::trim) == Some("200") { 200 } else { 404 };
            (e.key.as_str(), status)
        })
    }
}

// ---------- referer ----------

#[derive(Debug, Deserialize)]
pub struct RefererConfiguration {
    #[serde(rename = "AllowEmptyReferer")]
    pub allow_empty: String,
    #[serde(rename = "AllowTruncateQueryString", default)]
    pub allow_truncate_query_string: Option<String>,
    #[serde(rename = "TruncatePath", default)]
    pub truncate_path: Option<String>,
    #[serde(rename = "RefererList", default)]
    pub list: RefererList,
    #[serde(rename = "RefererBlacklist", default)]
    pub black_list: RefererList,
}

#[derive(Debug, Deserialize, Default)]
pub struct RefererList {
    #[serde(rename = "Referer", default)]
    pub referers: Vec<String>,
}

impl RefererConfiguration {
    pub fn parse(body: &str) -> Result<RefererConfiguration, OssError> {
        let c: RefererConfiguration = xml::parse(body)?;
        parse_bool(&c.allow_empty, "AllowEmptyReferer")?;
        for v in [&c.allow_truncate_query_string, &c.truncate_path].into_iter().flatten() {
            parse_bool(v, "AllowTruncateQueryString")?;
        }
        if c.list.referers.len() + c.black_list.referers.len() > 1000 {
            return Err(OssError::invalid_argument("Too many referers."));
        }
        Ok(c)
    }

    /// Whether a request with this `Referer` header (or none) may go on. Black list first,
    /// then the allow list; an empty allow list allows every non-empty referer.
    pub fn allows(&self, referer: Option<&str>) -> bool {
        let referer = referer.unwrap_or("");
        if referer.is_empty() {
            return is_true(&self.allow_empty);
        }
        let truncate = self.allow_truncate_query_string.as_deref().is_none_or(is_true);
        let mut candidate = if truncate { referer.split('?').next().unwrap_or(referer) } else { referer };
        // TruncatePath: match only `scheme://host[:port]`.
        if self.truncate_path.as_deref().is_some_and(is_true) {
            let host_start = candidate.find("://").map_or(0, |i| i + 3);
            if let Some(slash) = candidate[host_start..].find('/') {
                candidate = &candidate[..host_start + slash];
            }
        }
        let hit = |list: &RefererList| list.referers.iter().any(|p| referer_match(p, candidate));
        if hit(&self.black_list) {
            return false;
        }
        self.list.referers.is_empty() || hit(&self.list)
    }
}

/// `*` and `?` wildcards, case-insensitive (host names are); a pattern without a scheme also
/// matches the referer without its scheme, as OSS's list entries like `*.example.com` do.
fn referer_match(pattern: &str, referer: &str) -> bool {
    let (p, r) = (pattern.to_ascii_lowercase(), referer.to_ascii_lowercase());
    if crate::ram::glob(&p, &r) {
        return true;
    }
    if !p.contains("://")
        && let Some((_, rest)) = r.split_once("://")
    {
        return crate::ram::glob(&p, rest);
    }
    false
}

/// OSS's answer to a referer the bucket refuses.
pub fn referer_denied() -> OssError {
    OssError::access_denied("You are denied by bucket referer policy.").with_ec("0003-00000014")
}

// ---------- logging ----------

#[derive(Debug, Deserialize)]
pub struct BucketLoggingStatus {
    #[serde(rename = "LoggingEnabled", default)]
    pub logging_enabled: Option<LoggingEnabled>,
}

#[derive(Debug, Deserialize)]
pub struct LoggingEnabled {
    #[serde(rename = "TargetBucket", default)]
    pub target_bucket: String,
    #[serde(rename = "TargetPrefix", default)]
    pub target_prefix: String,
}

/// The logging target bucket a Put names (the server checks that it exists).
pub fn logging_target(body: &str) -> Result<Option<String>, OssError> {
    let status: BucketLoggingStatus = xml::parse(body)?;
    Ok(status.logging_enabled.map(|l| l.target_bucket))
}

// ---------- simple documents ----------

#[derive(Debug, Deserialize)]
struct RequestPaymentConfiguration {
    #[serde(rename = "Payer")]
    payer: String,
}

#[derive(Debug, Deserialize)]
struct TransferAccelerationConfiguration {
    #[serde(rename = "Enabled")]
    enabled: String,
}

#[derive(Debug, Deserialize)]
struct VersioningConfiguration {
    #[serde(rename = "Status", default)]
    status: String,
}

#[derive(Debug, Deserialize)]
struct PublicAccessBlockConfiguration {
    #[serde(rename = "BlockPublicAccess")]
    block_public_access: String,
}

/// Whether a stored PublicAccessBlock configuration blocks public access.
pub fn blocks_public_access(body: &str) -> bool {
    xml::parse::<PublicAccessBlockConfiguration>(body).is_ok_and(|c| is_true(&c.block_public_access))
}

#[derive(Debug, Deserialize)]
struct UserDefinedLogFieldsConfiguration {
    #[serde(rename = "HeaderSet", default)]
    header_set: Option<HeaderSet>,
    #[serde(rename = "ParamSet", default)]
    param_set: Option<ParamSet>,
}

#[derive(Debug, Deserialize)]
struct HeaderSet {
    #[serde(rename = "header", default)]
    headers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ParamSet {
    #[serde(rename = "parameter", default)]
    parameters: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct BucketUserQos {
    #[serde(rename = "StorageCapacity")]
    storage_capacity: String,
}

/// The bucket's storage capacity in GB (`-1`: unlimited).
pub fn storage_capacity_gb(body: &str) -> Result<i64, OssError> {
    let q: BucketUserQos = xml::parse(body)?;
    match q.storage_capacity.trim().parse::<i64>() {
        Ok(n) if n >= -1 => Ok(n),
        _ => Err(OssError::invalid_argument("The storage capacity is not valid.")
            .with("ArgumentName", "StorageCapacity")
            .with("ArgumentValue", q.storage_capacity)),
    }
}

/// OSS's answer to a write that would take a bucket over its storage capacity.
pub fn capacity_exceeded() -> OssError {
    OssError::new(403, "BucketStorageCapacityExceeded", "The bucket storage capacity has been exceeded.")
}

/// `GetBucketPolicyStatus`.
pub fn policy_status(is_public: bool) -> String {
    let mut w = XmlWriter::new();
    w.open("PolicyStatus").elem("IsPublic", if is_public { "true" } else { "false" }).close("PolicyStatus");
    w.finish()
}

// ---------- lifecycle ----------

#[derive(Debug, Deserialize)]
pub struct LifecycleConfiguration {
    #[serde(rename = "Rule", default)]
    pub rules: Vec<LifecycleRule>,
}

#[derive(Debug, Deserialize)]
pub struct LifecycleRule {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Prefix", default)]
    pub prefix: String,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Tag", default)]
    pub tags: Vec<xml::Tag>,
    #[serde(rename = "Expiration", default)]
    pub expiration: Option<LifecycleTime>,
    #[serde(rename = "AbortMultipartUpload", default)]
    pub abort_multipart_upload: Option<LifecycleTime>,
    #[serde(rename = "Transition", default)]
    pub transitions: Vec<LifecycleTransition>,
}

/// When an action applies: after `Days` since the last change, at a `Date`, or to what was
/// last changed before `CreatedBeforeDate`.
#[derive(Debug, Deserialize, Default)]
pub struct LifecycleTime {
    #[serde(rename = "Days", default)]
    pub days: Option<String>,
    #[serde(rename = "Date", default)]
    pub date: Option<String>,
    #[serde(rename = "CreatedBeforeDate", default)]
    pub created_before_date: Option<String>,
    #[serde(rename = "ExpiredObjectDeleteMarker", default)]
    pub expired_object_delete_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LifecycleTransition {
    #[serde(rename = "Days", default)]
    pub days: Option<String>,
    #[serde(rename = "CreatedBeforeDate", default)]
    pub created_before_date: Option<String>,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
}

/// A lifecycle time, checked: a number of days, or an instant in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    AfterDays(u32),
    /// Applies to what was last modified before this instant (Date and CreatedBeforeDate).
    Before(i64),
}

impl Due {
    /// Whether an object last modified at `modified_ms` is due at `now_ms`, with `day_ms` the
    /// length of a day (shortened for tests).
    pub fn is_due(self, modified_ms: i64, now_ms: i64, day_ms: i64) -> bool {
        match self {
            Due::AfterDays(d) => modified_ms.saturating_add(i64::from(d).saturating_mul(day_ms)) <= now_ms,
            Due::Before(t) => modified_ms < t,
        }
    }
}

fn lifecycle_invalid(msg: &str) -> OssError {
    OssError::invalid_argument(msg.to_string())
}

fn parse_midnight(s: &str) -> Result<i64, OssError> {
    // OSS wants ISO 8601 midnight UTC: `2023-01-01T00:00:00.000Z` (and accepts it without millis).
    let t = s.trim();
    let day = t.strip_suffix("T00:00:00.000Z").or_else(|| t.strip_suffix("T00:00:00Z"));
    let ms = day
        .and_then(|d| crate::timefmt::parse_iso8601(&format!("{d}T00:00:00.000Z")))
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64);
    ms.ok_or_else(|| {
        lifecycle_invalid("The date must be midnight UTC in ISO 8601 format, e.g. 2023-01-01T00:00:00.000Z.")
    })
}

impl LifecycleTime {
    /// The time, exactly one of Days / Date / CreatedBeforeDate.
    pub fn due(&self) -> Result<Due, OssError> {
        match (&self.days, &self.date, &self.created_before_date) {
            (Some(d), None, None) => match d.trim().parse::<u32>() {
                Ok(n) if n > 0 => Ok(Due::AfterDays(n)),
                _ => Err(lifecycle_invalid("Days must be a positive integer.")),
            },
            (None, Some(t), None) | (None, None, Some(t)) => parse_midnight(t).map(Due::Before),
            _ => Err(lifecycle_invalid("Exactly one of Days, Date and CreatedBeforeDate must be given.")),
        }
    }
}

impl LifecycleTransition {
    pub fn due(&self) -> Result<Due, OssError> {
        LifecycleTime {
            days: self.days.clone(),
            created_before_date: self.created_before_date.clone(),
            ..Default::default()
        }
        .due()
    }
}

impl LifecycleRule {
    pub fn enabled(&self) -> bool {
        self.status == "Enabled"
    }

    /// Whether the rule applies to an object with this key and these tags.
    pub fn applies_to(&self, key: &str, tags: &[(String, String)]) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|t| tags.iter().any(|(k, v)| *k == t.key && *v == t.value))
    }
}

impl LifecycleConfiguration {
    pub fn parse(body: &str) -> Result<LifecycleConfiguration, OssError> {
        let c: LifecycleConfiguration = xml::parse(body)?;
        if c.rules.is_empty() || c.rules.len() > 1000 {
            return Err(OssError::malformed_xml("A lifecycle configuration has 1 to 1000 rules."));
        }
        for (i, r) in c.rules.iter().enumerate() {
            if !matches!(r.status.as_str(), "Enabled" | "Disabled") {
                return Err(OssError::malformed_xml("A rule's Status is Enabled or Disabled."));
            }
            if r.id.chars().count() > 255 {
                return Err(lifecycle_invalid("The rule ID is longer than 255 characters."));
            }
            if !r.id.is_empty() && c.rules[..i].iter().any(|o| o.id == r.id) {
                return Err(lifecycle_invalid("Rule IDs must be unique."));
            }
            if r.expiration.is_none() && r.abort_multipart_upload.is_none() && r.transitions.is_empty() {
                return Err(lifecycle_invalid(
                    "A rule needs at least one of Expiration, Transition and AbortMultipartUpload.",
                ));
            }
            if let Some(e) = &r.expiration
                && e.expired_object_delete_marker.is_none()
            {
                e.due()?;
            }
            if let Some(a) = &r.abort_multipart_upload {
                if a.date.is_some() {
                    return Err(lifecycle_invalid("AbortMultipartUpload takes Days or CreatedBeforeDate."));
                }
                a.due()?;
            }
            for t in &r.transitions {
                if !matches!(t.storage_class.as_str(), "IA" | "Archive" | "ColdArchive" | "DeepColdArchive") {
                    return Err(lifecycle_invalid("The transition's StorageClass is not valid."));
                }
                t.due()?;
            }
            let tags: Vec<(String, String)> = r.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
            if tags.len() > 10 {
                return Err(lifecycle_invalid("A rule has at most 10 tags."));
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_limits() {
        let tags = |n: usize| {
            let body: String = (0..n).map(|i| format!("<Tag><Key>k{i}</Key><Value>v</Value></Tag>")).collect();
            format!("<Tagging><TagSet>{body}</TagSet></Tagging>")
        };
        assert_eq!(parse_tagging(&tags(20)).unwrap().len(), 20);
        assert_eq!(parse_tagging(&tags(21)).unwrap_err().code, "InvalidTag");
        let dup = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key></Tag></TagSet></Tagging>";
        assert_eq!(parse_tagging(dup).unwrap_err().code, "InvalidTag");
        assert_eq!(ConfigKind::Tagging.validate("<Tagging><TagSet/></Tagging>").unwrap(), None);
    }

    #[test]
    fn referer_rules() {
        let c = RefererConfiguration::parse(
            "<RefererConfiguration><AllowEmptyReferer>false</AllowEmptyReferer>\
             <RefererList><Referer>http://*.example.com</Referer><Referer>good.?rg</Referer></RefererList>\
             <RefererBlacklist><Referer>*bad*</Referer></RefererBlacklist></RefererConfiguration>",
        )
        .unwrap();
        assert!(!c.allows(None));
        assert!(c.allows(Some("http://www.example.com?x=1")));
        assert!(!c.allows(Some("http://www.example.com/page")), "the path is matched unless TruncatePath");
        assert!(!c.allows(Some("https://good.org/x")));
        assert!(c.allows(Some("https://good.org")));
        assert!(!c.allows(Some("http://bad.example.com/")));
        assert!(!c.allows(Some("http://other.com/")));
        let strict = RefererConfiguration::parse(
            "<RefererConfiguration><AllowEmptyReferer>true</AllowEmptyReferer>\
             <AllowTruncateQueryString>false</AllowTruncateQueryString>\
             <RefererList><Referer>http://a.com/p</Referer></RefererList></RefererConfiguration>",
        )
        .unwrap();
        assert!(strict.allows(None));
        assert!(strict.allows(Some("http://a.com/p")));
        assert!(!strict.allows(Some("http://a.com/p?q=1")));
        assert!(RefererConfiguration::parse("<RefererConfiguration/>").is_err());
    }

    #[test]
    fn lifecycle_checks() {
        let ok = "<LifecycleConfiguration><Rule><ID>r</ID><Prefix>logs/</Prefix><Status>Enabled</Status>\
                  <Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>";
        let c = LifecycleConfiguration::parse(ok).unwrap();
        assert_eq!(c.rules[0].expiration.as_ref().unwrap().due().unwrap(), Due::AfterDays(3));
        let both = ok
            .replace("<Days>3</Days>", "<Days>3</Days><CreatedBeforeDate>2020-01-01T00:00:00.000Z</CreatedBeforeDate>");
        assert_eq!(LifecycleConfiguration::parse(&both).unwrap_err().code, "InvalidArgument");
        let date = ok.replace("<Days>3</Days>", "<Date>2020-01-01T00:00:00.000Z</Date>");
        let d = LifecycleConfiguration::parse(&date).unwrap().rules[0].expiration.as_ref().unwrap().due().unwrap();
        assert_eq!(d, Due::Before(1_577_836_800_000));
        let not_midnight = ok.replace("<Days>3</Days>", "<Date>2020-01-01T10:00:00.000Z</Date>");
        assert!(LifecycleConfiguration::parse(&not_midnight).is_err());
        assert!(LifecycleConfiguration::parse(&ok.replace("Enabled", "On")).is_err());
        assert!(Due::AfterDays(2).is_due(0, 2000, 1000));
        assert!(!Due::AfterDays(2).is_due(0, 1999, 1000));
    }

    #[test]
    fn website_and_absent_answers() {
        let w = WebsiteConfiguration::parse(
            "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix><SupportSubDir>true</SupportSubDir>\
             </IndexDocument><ErrorDocument><Key>err.html</Key><HttpStatus>404</HttpStatus></ErrorDocument>\
             </WebsiteConfiguration>",
        )
        .unwrap();
        assert_eq!((w.index(), w.support_sub_dir(), w.error()), (Some("index.html"), true, Some(("err.html", 404))));
        assert!(WebsiteConfiguration::parse("<WebsiteConfiguration/>").is_err());
        assert_eq!(ConfigKind::Website.when_absent("b").unwrap_err().code, "NoSuchWebsiteConfiguration");
        assert!(ConfigKind::Referer.when_absent("b").unwrap().contains("<AllowEmptyReferer>true"));
        let enabled = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        assert_eq!(ConfigKind::Versioning.validate(enabled).unwrap_err().status, 501);
        assert_eq!(ConfigKind::from_query(|q| q == "qos"), Some(ConfigKind::StorageCapacity));
        assert_eq!(ConfigKind::Referer.operation(ConfigOp::Delete), None);
    }
}
