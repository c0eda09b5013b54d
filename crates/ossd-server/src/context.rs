//! `RequestContext`: what routing and authentication learned about one request.

use http::{HeaderMap, Method};
use ossd_proto::OssError;
use ossd_proto::auth::Identity;
use ossd_proto::query::Query;
use ossd_proto::route::{Endpoint, Target};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct RequestContext {
    pub request_id: String,
    /// `HostId` in error bodies: the Host the client used.
    pub host_id: String,
    pub method: Method,
    pub target: Target,
    pub query: Query,
    pub headers: HeaderMap,
    pub endpoint: Endpoint,
    pub identity: Option<Identity>,
    pub client_ip: IpAddr,
    /// An anonymous caller whom the bucket policy allows this request: the object ACL is not
    /// consulted.
    pub policy_allowed: bool,
    /// The bucket's PublicAccessBlock is on: public ACLs count as private for anonymous callers.
    pub block_public_access: bool,
}

impl RequestContext {
    pub fn bucket(&self) -> Result<&str, OssError> {
        self.target.bucket.as_deref().ok_or_else(|| OssError::invalid_argument("No bucket in the request."))
    }

    pub fn key(&self) -> Result<&str, OssError> {
        self.target.key.as_deref().ok_or_else(|| OssError::invalid_object_name(""))
    }

    /// Signed with a presigned URL (referer protection applies to these, as to anonymous ones).
    pub fn is_presigned(&self) -> bool {
        self.identity.as_ref().is_some_and(|i| i.carrier == ossd_proto::auth::SignatureCarrier::PresignedUrl)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Request ids: 24 upper-case hex characters, like OSS's, unique per process run.
pub fn new_request_id() -> String {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(rand::random::<u64>);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let secs = ossd_proto::timefmt::now_ms() / 1000;
    format!("{:08X}{:016X}", secs as u32, seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}
