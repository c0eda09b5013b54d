//! Routing: Host + path + query -> bucket, key and the [`Endpoint`] (operation) requested.
//! Addressing follows oss-api.md §5: `<bucket>.<base>` hosts select the bucket (virtual-hosted
//! style), otherwise the first path segment is the bucket (path style).

use crate::bucket_config::{ConfigKind, ConfigOp};
use crate::error::OssError;
use crate::query::{Query, decode};
use http::{HeaderMap, Method};

/// Host names under which `<bucket>.<base>` means virtual-hosted addressing, and CNAMEs: hosts
/// that stand for one bucket (ali-oss `cname: true` sends `/<key>` with no bucket anywhere).
#[derive(Debug, Clone)]
pub struct VirtualHosts {
    /// Lower-case base domains, e.g. `localhost`, `oss.example.com`.
    pub bases: Vec<String>,
    /// Lower-case host (no port) -> bucket.
    pub cnames: Vec<(String, String)>,
}

impl Default for VirtualHosts {
    fn default() -> Self {
        VirtualHosts { bases: vec!["localhost".into()], cnames: Vec::new() }
    }
}

impl VirtualHosts {
    pub fn with_domains(domains: &[String]) -> Self {
        let mut v = VirtualHosts::default();
        for d in domains {
            let d = d.trim().trim_matches('.').to_ascii_lowercase();
            if !d.is_empty() && !v.bases.contains(&d) {
                v.bases.push(d);
            }
        }
        v
    }

    /// Adds CNAME mappings given as `host=bucket`.
    pub fn with_cnames(mut self, cnames: &[String]) -> Result<Self, String> {
        for c in cnames {
            let (host, bucket) = c.split_once('=').ok_or_else(|| format!("a CNAME is host=bucket, not `{c}`"))?;
            let (host, bucket) = (host.trim().to_ascii_lowercase(), bucket.trim().to_string());
            if host.is_empty() || !crate::names::is_valid_bucket_name(&bucket) {
                return Err(format!("invalid CNAME mapping `{c}`"));
            }
            self.cnames.push((host, bucket));
        }
        Ok(self)
    }

    /// The bucket a CNAME host stands for.
    pub fn bucket_of_cname(&self, host: &str) -> Option<&str> {
        let host = strip_port(host).to_ascii_lowercase();
        self.cnames.iter().find(|(h, _)| *h == host).map(|(_, b)| b.as_str())
    }

    /// The bucket named by a Host header, if the host is `<bucket>.<base>`. `Some("")` means a
    /// host with an empty bucket label (ali-oss's ListBuckets on an IP endpoint).
    pub fn bucket_of_host<'h>(&self, host: &'h str) -> Option<&'h str> {
        let host = strip_port(host);
        let lower = host.to_ascii_lowercase();
        // OSS's own endpoints: <bucket>.oss-<region>[-internal].aliyuncs.com (ali-oss forges these).
        if lower.ends_with(".aliyuncs.com") {
            let labels = lower.split('.').count();
            if labels >= 4 {
                return host.split_once('.').map(|(b, _)| b);
            }
            return None;
        }
        for base in &self.bases {
            if lower.len() > base.len() + 1
                && lower.ends_with(base.as_str())
                && lower.as_bytes()[lower.len() - base.len() - 1] == b'.'
            {
                let label = &host[..host.len() - base.len() - 1];
                if !label.contains('.') {
                    return Some(label);
                }
            }
        }
        None
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map(|(h, _)| &h[1..]).unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Which bucket and key a request addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// True when the bucket came from the Host header.
    pub virtual_hosted: bool,
}

/// Resolves the bucket and key from Host and the raw (still percent-encoded) path.
pub fn resolve_target(host: Option<&str>, raw_path: &str, vhosts: &VirtualHosts) -> Target {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    if let Some(bucket) = host.and_then(|h| vhosts.bucket_of_cname(h)) {
        let key = decode(path);
        return Target {
            bucket: Some(bucket.to_string()),
            key: (!key.is_empty()).then_some(key),
            virtual_hosted: true,
        };
    }
    if let Some(bucket) = host.and_then(|h| vhosts.bucket_of_host(h)) {
        let key = decode(path);
        return Target {
            bucket: (!bucket.is_empty()).then(|| bucket.to_string()),
            key: (!key.is_empty()).then_some(key),
            virtual_hosted: true,
        };
    }
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (decode(b), decode(k)),
        None => (decode(path), String::new()),
    };
    Target {
        bucket: (!bucket.is_empty()).then_some(bucket),
        key: (!key.is_empty()).then_some(key),
        virtual_hosted: false,
    }
}

/// Every operation the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ListBuckets,
    PutBucket,
    DeleteBucket,
    GetBucketInfo,
    GetBucketLocation,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketStat,
    ListObjects,
    ListObjectsV2,
    DeleteMultipleObjects,
    ListMultipartUploads,
    PostObject,
    /// `GET /?live` and friends that SDK test harnesses touch: answered with an empty result.
    ListLiveChannels,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    GetObjectMeta,
    DeleteObject,
    AppendObject,
    PutObjectAcl,
    GetObjectAcl,
    PutObjectTagging,
    GetObjectTagging,
    DeleteObjectTagging,
    InitiateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    PutBucketCors,
    GetBucketCors,
    DeleteBucketCors,
    /// `PUT/GET/DELETE /?policy&comp=callback`: named callback settings on the bucket.
    PutBucketCallbackPolicy,
    GetBucketCallbackPolicy,
    DeleteBucketCallbackPolicy,
    PutSymlink,
    GetSymlink,
    RestoreObject,
    PutBucketEncryption,
    GetBucketEncryption,
    DeleteBucketEncryption,
    /// Put/Get/Delete of one bucket configuration (`?website`, `?lifecycle`, `?tagging`, ...).
    BucketConfig(ConfigKind, ConfigOp),
    /// `GET /?policyStatus`.
    GetBucketPolicyStatus,
    /// `GET /?versions`: without versioning, every object once as its `null` version.
    ListObjectVersions,
    /// CORS preflight.
    Options,
}

impl Endpoint {
    /// The RAM action name (`oss:GetObject`), also used in logs.
    pub fn name(self) -> &'static str {
        use Endpoint::*;
        match self {
            ListBuckets => "ListBuckets",
            PutBucket => "PutBucket",
            DeleteBucket => "DeleteBucket",
            GetBucketInfo => "GetBucketInfo",
            GetBucketLocation => "GetBucketLocation",
            GetBucketAcl => "GetBucketAcl",
            PutBucketAcl => "PutBucketAcl",
            GetBucketStat => "GetBucketStat",
            ListObjects => "ListObjects",
            ListObjectsV2 => "ListObjectsV2",
            DeleteMultipleObjects => "DeleteMultipleObjects",
            ListMultipartUploads => "ListMultipartUploads",
            PostObject => "PostObject",
            ListLiveChannels => "ListLiveChannel",
            PutObject => "PutObject",
            CopyObject => "CopyObject",
            GetObject => "GetObject",
            HeadObject => "HeadObject",
            GetObjectMeta => "GetObjectMeta",
            DeleteObject => "DeleteObject",
            AppendObject => "AppendObject",
            PutObjectAcl => "PutObjectAcl",
            GetObjectAcl => "GetObjectAcl",
            PutObjectTagging => "PutObjectTagging",
            GetObjectTagging => "GetObjectTagging",
            DeleteObjectTagging => "DeleteObjectTagging",
            InitiateMultipartUpload => "InitiateMultipartUpload",
            UploadPart => "UploadPart",
            UploadPartCopy => "UploadPartCopy",
            CompleteMultipartUpload => "CompleteMultipartUpload",
            AbortMultipartUpload => "AbortMultipartUpload",
            ListParts => "ListParts",
            PutBucketCors => "PutBucketCors",
            GetBucketCors => "GetBucketCors",
            DeleteBucketCors => "DeleteBucketCors",
            PutBucketCallbackPolicy => "PutBucketCallbackPolicy",
            GetBucketCallbackPolicy => "GetBucketCallbackPolicy",
            DeleteBucketCallbackPolicy => "DeleteBucketCallbackPolicy",
            PutSymlink => "PutSymlink",
            GetSymlink => "GetSymlink",
            RestoreObject => "RestoreObject",
            PutBucketEncryption => "PutBucketEncryption",
            GetBucketEncryption => "GetBucketEncryption",
            DeleteBucketEncryption => "DeleteBucketEncryption",
            BucketConfig(kind, op) => kind.operation(op).unwrap_or("BucketConfig"),
            GetBucketPolicyStatus => "GetBucketPolicyStatus",
            ListObjectVersions => "ListObjectVersions",
            Options => "Options",
        }
    }

    /// Whether the operation only reads (anonymous access on public-read buckets).
    pub fn is_read(self) -> bool {
        use Endpoint::*;
        matches!(self, GetObject | HeadObject | GetObjectMeta | GetObjectAcl | GetObjectTagging | GetSymlink | Options)
    }
}

/// Bucket sub-resources that select an operation and that this server does not implement.
const UNIMPLEMENTED_BUCKET_SUBRESOURCES: &[&str] = &[
    "replication",
    "inventory",
    "worm",
    "cname",
    "img",
    "style",
    "metaQuery",
    "accessPoint",
    "httpsConfig",
    "resourceGroup",
];

const UNIMPLEMENTED_OBJECT_SUBRESOURCES: &[&str] =
    &["x-oss-process", "x-oss-async-process", "versionId", "selectMeta", "x-oss-select"];

/// Decides the operation from method, target and query.
pub fn endpoint(method: &Method, target: &Target, query: &Query, headers: &HeaderMap) -> Result<Endpoint, OssError> {
    use Endpoint::*;
    if method == Method::OPTIONS {
        return Ok(Options);
    }
    let Some(_) = target.bucket else {
        return match *method {
            Method::GET => Ok(ListBuckets),
            _ => Err(OssError::not_implemented(&format!("{method} on the service"))),
        };
    };
    let has = |n: &str| query.has(n);
    if target.key.is_none() {
        // `?policy` alone is the (unimplemented) bucket policy; `?policy&comp=callback` is
        // the bucket callback policy.
        if has("policy") && query.get("comp") == Some("callback") {
            return match *method {
                Method::PUT => Ok(PutBucketCallbackPolicy),
                Method::GET => Ok(GetBucketCallbackPolicy),
                Method::DELETE => Ok(DeleteBucketCallbackPolicy),
                _ => Err(OssError::not_implemented(&format!("{method} on the bucket callback policy"))),
            };
        }
        if let Some(sub) = UNIMPLEMENTED_BUCKET_SUBRESOURCES.iter().find(|s| has(s)) {
            return Err(OssError::not_implemented(&format!("The bucket sub-resource '{sub}'")));
        }
        if has("policyStatus") {
            return match *method {
                Method::GET => Ok(GetBucketPolicyStatus),
                _ => Err(OssError::not_implemented(&format!("{method} on the bucket policy status"))),
            };
        }
        if has("versions") {
            return match *method {
                Method::GET => Ok(ListObjectVersions),
                _ => Err(OssError::not_implemented(&format!("{method} on the bucket's versions"))),
            };
        }
        if let Some(kind) = ConfigKind::from_query(has) {
            let op = match *method {
                Method::PUT => ConfigOp::Put,
                Method::GET => ConfigOp::Get,
                Method::DELETE => ConfigOp::Delete,
                _ => return Err(OssError::not_implemented(&format!("{method} on '{}'", kind.subresource()))),
            };
            if kind.operation(op).is_none() {
                return Err(OssError::not_implemented(&format!("{method} on '{}'", kind.subresource())));
            }
            return Ok(BucketConfig(kind, op));
        }
        let ep = match *method {
            Method::PUT if has("encryption") => PutBucketEncryption,
            Method::GET if has("encryption") => GetBucketEncryption,
            Method::DELETE if has("encryption") => DeleteBucketEncryption,
            Method::GET if has("cors") => GetBucketCors,
            Method::PUT if has("cors") => PutBucketCors,
            Method::DELETE if has("cors") => DeleteBucketCors,
            Method::GET if has("acl") => GetBucketAcl,
            Method::GET if has("bucketInfo") => GetBucketInfo,
            Method::GET if has("location") => GetBucketLocation,
            Method::GET if has("stat") => GetBucketStat,
            Method::GET if has("uploads") => ListMultipartUploads,
            Method::GET if has("live") => ListLiveChannels,
            Method::GET if query.get("list-type") == Some("2") => ListObjectsV2,
            Method::GET => ListObjects,
            Method::PUT if has("acl") => PutBucketAcl,
            Method::PUT => PutBucket,
            Method::DELETE => DeleteBucket,
            Method::POST if has("delete") => DeleteMultipleObjects,
            Method::POST => PostObject,
            Method::HEAD => GetBucketInfo,
            _ => return Err(OssError::not_implemented(&format!("{method} on a bucket"))),
        };
        return Ok(ep);
    }
    // Without versioning every object is its `null` version (ListObjectVersions says so), so
    // `versionId=null` names the object itself.
    let null_version = query.get("versionId") == Some("null");
    if let Some(sub) =
        UNIMPLEMENTED_OBJECT_SUBRESOURCES.iter().find(|s| has(s) && !(null_version && **s == "versionId"))
    {
        return Err(OssError::not_implemented(&format!("The object sub-resource '{sub}'")));
    }
    let copy = headers.contains_key("x-oss-copy-source");
    let ep = match *method {
        Method::GET if has("acl") => GetObjectAcl,
        Method::GET if has("tagging") => GetObjectTagging,
        Method::GET if has("symlink") => GetSymlink,
        Method::PUT if has("symlink") => PutSymlink,
        Method::POST if has("restore") => RestoreObject,
        Method::GET if has("uploadId") => ListParts,
        Method::GET => GetObject,
        Method::HEAD if has("objectMeta") => GetObjectMeta,
        Method::HEAD => HeadObject,
        Method::PUT if has("acl") => PutObjectAcl,
        Method::PUT if has("tagging") => PutObjectTagging,
        Method::PUT if has("partNumber") && has("uploadId") => {
            if copy {
                UploadPartCopy
            } else {
                UploadPart
            }
        }
        Method::PUT if copy => CopyObject,
        Method::PUT => PutObject,
        Method::POST if has("append") => AppendObject,
        Method::POST if has("uploads") => InitiateMultipartUpload,
        Method::POST if has("uploadId") => CompleteMultipartUpload,
        Method::DELETE if has("tagging") => DeleteObjectTagging,
        Method::DELETE if has("uploadId") => AbortMultipartUpload,
        Method::DELETE => DeleteObject,
        _ => return Err(OssError::not_implemented(&format!("{method} on an object"))),
    };
    Ok(ep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vh() -> VirtualHosts {
        VirtualHosts::with_domains(&["oss.example.com".into()])
    }

    #[test]
    fn virtual_hosted_and_path_style() {
        let t = resolve_target(Some("b1.oss-cn-hangzhou.aliyuncs.com"), "/dir/a%2Bb%20c", &vh());
        assert_eq!((t.bucket.as_deref(), t.key.as_deref()), (Some("b1"), Some("dir/a+b c")));
        let t = resolve_target(Some(".oss-cn-hangzhou.aliyuncs.com"), "/", &vh());
        assert_eq!((t.bucket, t.key), (None, None));
        let t = resolve_target(Some("b2.localhost:9000"), "/k", &vh());
        assert_eq!(t.bucket.as_deref(), Some("b2"));
        let t = resolve_target(Some("b3.oss.example.com"), "/", &vh());
        assert_eq!((t.bucket.as_deref(), t.key), (Some("b3"), None));
        let t = resolve_target(Some("127.0.0.1:9000"), "/b4/dir%2Fx+y", &vh());
        assert_eq!((t.bucket.as_deref(), t.key.as_deref()), (Some("b4"), Some("dir/x+y")));
        let t = resolve_target(Some("localhost:9000"), "/b5/", &vh());
        assert_eq!((t.bucket.as_deref(), t.key), (Some("b5"), None));
        let t = resolve_target(Some("localhost:9000"), "/", &vh());
        assert_eq!(t.bucket, None);
        let t = resolve_target(Some("oss-cn-hangzhou.aliyuncs.com"), "/b6/k", &vh());
        assert_eq!(t.bucket.as_deref(), Some("b6"));
    }

    #[test]
    fn cnames_pin_a_host_to_one_bucket() {
        let v = VirtualHosts::with_domains(&[]).with_cnames(&["files.example.com=site".into()]).unwrap();
        let t = resolve_target(Some("Files.Example.com:9000"), "/a/b.txt", &v);
        assert_eq!((t.bucket.as_deref(), t.key.as_deref()), (Some("site"), Some("a/b.txt")));
        let t = resolve_target(Some("files.example.com"), "/", &v);
        assert_eq!((t.bucket.as_deref(), t.key), (Some("site"), None));
        assert!(VirtualHosts::default().with_cnames(&["nobucket".into()]).is_err());
        assert!(VirtualHosts::default().with_cnames(&["h=Bad_Name".into()]).is_err());
    }

    #[test]
    fn endpoints() {
        let t = Target { bucket: Some("b".into()), key: Some("k".into()), virtual_hosted: false };
        let h = HeaderMap::new();
        let e = |m: Method, q: &str| endpoint(&m, &t, &Query::parse(Some(q)), &h);
        assert_eq!(e(Method::PUT, "").unwrap(), Endpoint::PutObject);
        assert_eq!(e(Method::POST, "append&position=0").unwrap(), Endpoint::AppendObject);
        assert_eq!(e(Method::HEAD, "objectMeta").unwrap(), Endpoint::GetObjectMeta);
        assert_eq!(e(Method::PUT, "partNumber=1&uploadId=x").unwrap(), Endpoint::UploadPart);
        assert_eq!(e(Method::GET, "x-oss-process=image").unwrap_err().code, "NotImplemented");
        assert_eq!(e(Method::PUT, "symlink").unwrap(), Endpoint::PutSymlink);
        assert_eq!(e(Method::GET, "symlink").unwrap(), Endpoint::GetSymlink);
        assert_eq!(e(Method::POST, "restore").unwrap(), Endpoint::RestoreObject);
        assert_eq!(e(Method::GET, "versionId=null").unwrap(), Endpoint::GetObject);
        assert_eq!(e(Method::GET, "versionId=CAEQ").unwrap_err().status, 501);
        let bt = Target { key: None, ..t.clone() };
        let q = Query::parse(Some("list-type=2&prefix="));
        assert_eq!(endpoint(&Method::GET, &bt, &q, &h).unwrap(), Endpoint::ListObjectsV2);
        let q = Query::parse(Some("website"));
        assert_eq!(
            endpoint(&Method::GET, &bt, &q, &h).unwrap(),
            Endpoint::BucketConfig(ConfigKind::Website, ConfigOp::Get)
        );
        let q = Query::parse(Some("replication"));
        assert_eq!(endpoint(&Method::GET, &bt, &q, &h).unwrap_err().status, 501);
        // The bucket callback policy shares `?policy` with the (unimplemented) bucket policy.
        let b = |m: Method, q: &str| endpoint(&m, &bt, &Query::parse(Some(q)), &h);
        assert_eq!(b(Method::PUT, "policy&comp=callback").unwrap(), Endpoint::PutBucketCallbackPolicy);
        assert_eq!(b(Method::GET, "comp=callback&policy").unwrap(), Endpoint::GetBucketCallbackPolicy);
        assert_eq!(b(Method::DELETE, "policy&comp=callback").unwrap(), Endpoint::DeleteBucketCallbackPolicy);
        assert_eq!(b(Method::POST, "policy&comp=callback").unwrap_err().status, 501);
        assert_eq!(b(Method::GET, "policy").unwrap(), Endpoint::BucketConfig(ConfigKind::Policy, ConfigOp::Get));
        assert_eq!(b(Method::DELETE, "referer").unwrap_err().status, 501);
        assert_eq!(b(Method::GET, "versions").unwrap(), Endpoint::ListObjectVersions);
    }
}
