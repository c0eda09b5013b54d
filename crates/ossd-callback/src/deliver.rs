//! Sending the callback (callback.md §3, §4): one pooled HTTP client, a destination policy
//! enforced on the address actually connected to, a per-URL timeout, failover across the
//! URLs of `callbackUrl`, and the outcome that becomes the uploader's 200 or 203.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use ipnet::IpNet;
use ossd_proto::OssError;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::sign::CallbackSigner;
use crate::spec::{CallbackSpec, Url};

/// EC of `Error status : …` failures (non-200, connect failure, bad Content-Length, denied).
pub const EC_STATUS: &str = "0007-00000203";
/// EC of a receiver that did not answer in time.
pub const EC_TIMEOUT: &str = "0007-00000202";
/// EC of a receiver whose 200 body is not JSON.
pub const EC_NOT_JSON: &str = "0007-00000205";

const CONNECT_FAILED: &str = "Error status : -1. OSS can not connect to your callbackUrl, please check it.";
const TOO_LONG: &str = "Error Status : 400.User server return too long content-length value";
const NOT_JSON: &str = "Response body is not valid json format.";

// ---------------------------------------------------------------------------------------------
// Destination policy
// ---------------------------------------------------------------------------------------------

/// One allow or deny rule of a [`DestinationPolicy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationRule {
    /// An address range (`10.0.0.0/8`) or one address (`192.0.2.7`, stored as `/32`).
    Net(IpNet),
    /// One host name, compared without regard to case (`metadata.google.internal`).
    Host(String),
    /// `*.example.com`: every name below `example.com` (not `example.com` itself).
    Subdomains(String),
}

impl DestinationRule {
    /// Parses `10.0.0.0/8`, `192.0.2.7`, `fe80::/10`, `*.example.com` or `host.example.com`.
    pub fn parse(s: &str) -> Result<DestinationRule, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty destination rule".into());
        }
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(DestinationRule::Net(net.trunc()));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(DestinationRule::Net(IpNet::from(canonical(ip))));
        }
        let (wild, name) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if !valid {
            return Err(format!("{s:?} is neither an address range nor a host name"));
        }
        Ok(if wild { DestinationRule::Subdomains(name) } else { DestinationRule::Host(name) })
    }

    fn matches_host(&self, host: &str) -> bool {
        match self {
            DestinationRule::Net(_) => false,
            DestinationRule::Host(h) => host == h,
            DestinationRule::Subdomains(d) => {
                host.len() > d.len() + 1
                    && host.ends_with(d.as_str())
                    && host.as_bytes()[host.len() - d.len() - 1] == b'.'
            }
        }
    }

    fn matches_ip(&self, ip: IpAddr) -> bool {
        match self {
            DestinationRule::Net(n) => n.contains(&ip),
            _ => false,
        }
    }
}

impl fmt::Display for DestinationRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DestinationRule::Net(n) => write!(f, "{n}"),
            DestinationRule::Host(h) => write!(f, "{h}"),
            DestinationRule::Subdomains(d) => write!(f, "*.{d}"),
        }
    }
}

impl std::str::FromStr for DestinationRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DestinationRule::parse(s)
    }
}

/// Denied in every policy, whatever the flags: link-local ranges, cloud metadata services, and
/// addresses that are no single host (`0.0.0.0/8` and `::` reach the local machine on Linux;
/// multicast and broadcast).
pub const BUILTIN_DENY: &[&str] = &[
    "169.254.0.0/16",
    "fe80::/10",
    "100.100.100.200/32", // Alibaba Cloud ECS metadata
    "fd00:ec2::254/128",  // AWS IMDS over IPv6
    "0.0.0.0/8",
    "::/128",
    "224.0.0.0/4",
    "ff00::/8",
    "255.255.255.255/32",
    "metadata.google.internal",
    "metadata",
];

/// Which addresses a policy without an allow list reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    /// Loopback, private and every other non-denied address: a developer's machine (the
    /// default when ossd listens on loopback only).
    #[default]
    Private,
    /// Public unicast addresses only, as OSS itself (the default on any other listen address).
    Public,
}

impl Scope {
    pub fn parse(s: &str) -> Result<Scope, String> {
        match s {
            "private" => Ok(Scope::Private),
            "public" => Ok(Scope::Public),
            other => Err(format!("callback scope must be `public` or `private`, not `{other}`")),
        }
    }

    /// The default for a server listening on `listen`.
    pub fn for_listen_address(listen: IpAddr) -> Scope {
        if listen.is_loopback() { Scope::Private } else { Scope::Public }
    }
}

/// Ranges that are not public unicast (besides [`BUILTIN_DENY`]): refused under
/// [`Scope::Public`], named in the refusal.
const NON_PUBLIC: &[(&str, &str)] = &[
    ("127.0.0.0/8", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("198.18.0.0/15", "benchmarking"),
    ("192.88.99.0/24", "6to4 relay"),
    ("240.0.0.0/4", "reserved"),
    ("::1/128", "loopback"),
    ("fc00::/7", "unique local (private)"),
    ("2001:db8::/32", "documentation"),
    ("2001::/23", "IETF protocol assignments (Teredo)"),
    ("2002::/16", "6to4"),
];

/// The non-public range `ip` (canonical) falls in, if any; IPv6 outside `2000::/3` counts too.
fn non_public_range(ip: IpAddr) -> Option<(IpNet, &'static str)> {
    static RANGES: std::sync::OnceLock<Vec<(IpNet, &'static str)>> = std::sync::OnceLock::new();
    let ranges = RANGES.get_or_init(|| NON_PUBLIC.iter().map(|(n, what)| (n.parse().expect("range"), *what)).collect());
    if let Some(hit) = ranges.iter().find(|(n, _)| n.contains(&ip)) {
        return Some(*hit);
    }
    match ip {
        IpAddr::V6(v6) if v6.segments()[0] & 0xe000 != 0x2000 => {
            Some(("::/0".parse().expect("range"), "not global unicast"))
        }
        _ => None,
    }
}

/// Which callback destinations may be contacted.
///
/// A destination (the URL's host name, if any, and each address it resolves to) is denied when
/// the name or the address matches a deny rule or a [`BUILTIN_DENY`] rule; deny always wins.
/// Otherwise, when `allow` is not empty, the name or the address must match one of its rules;
/// when it is empty, `scope` decides (under [`Scope::Public`], public unicast addresses only).
/// Addresses are judged canonically: IPv4-mapped, IPv4-compatible and NAT64 (`64:ff9b::/96`)
/// IPv6 addresses as the IPv4 address they carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    pub allow: Vec<DestinationRule>,
    pub deny: Vec<DestinationRule>,
    pub scope: Scope,
}

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{target} is denied by the callback destination policy ({reason})")]
pub struct Denied {
    /// `host`, `ip` or `host (ip)`.
    pub target: String,
    pub reason: String,
    /// What would allow it (`--callback-allow ...`), for the operator reading the log.
    pub hint: String,
}

impl DestinationPolicy {
    /// Parses one rule; see [`DestinationRule::parse`].
    pub fn parse_rule(s: &str) -> Result<DestinationRule, String> {
        DestinationRule::parse(s)
    }

    pub fn new(allow: Vec<DestinationRule>, deny: Vec<DestinationRule>) -> Self {
        DestinationPolicy { allow, deny, scope: Scope::default() }
    }

    /// A policy from textual rules (configuration files, command lines).
    pub fn from_strs<S: AsRef<str>>(allow: &[S], deny: &[S]) -> Result<Self, String> {
        let parse = |v: &[S]| v.iter().map(|s| DestinationRule::parse(s.as_ref())).collect::<Result<Vec<_>, _>>();
        Ok(DestinationPolicy { allow: parse(allow)?, deny: parse(deny)?, scope: Scope::default() })
    }

    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// One line for the start-up banner: what is allowed and what is always denied.
    pub fn describe(&self) -> String {
        let list = |rules: &[DestinationRule]| rules.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ");
        let allowed = if !self.allow.is_empty() {
            format!("only {}", list(&self.allow))
        } else {
            match self.scope {
                Scope::Private => "any address, loopback and private ranges included (scope private)".into(),
                Scope::Public => {
                    "public unicast addresses only (scope public; --callback-allow adds destinations)".into()
                }
            }
        };
        let mut denied = BUILTIN_DENY.join(", ");
        if !self.deny.is_empty() {
            denied = format!("{}, {denied}", list(&self.deny));
        }
        format!("allowed: {allowed}; denied: {denied}")
    }

    fn builtin() -> &'static [DestinationRule] {
        static RULES: std::sync::OnceLock<Vec<DestinationRule>> = std::sync::OnceLock::new();
        RULES.get_or_init(|| BUILTIN_DENY.iter().map(|s| DestinationRule::parse(s).expect("builtin rule")).collect())
    }

    fn deny_rules(&self) -> impl Iterator<Item = (&DestinationRule, bool)> {
        Self::builtin().iter().map(|r| (r, true)).chain(self.deny.iter().map(|r| (r, false)))
    }

    /// The name-only part of the decision, done before resolving: a denied name is refused.
    pub fn check_host(&self, host: &str) -> Result<(), Denied> {
        let host = normalize_host(host);
        for (rule, builtin) in self.deny_rules() {
            if rule.matches_host(&host) {
                let (reason, hint) = deny_reason(rule, builtin);
                return Err(Denied { target: host.clone(), reason, hint });
            }
        }
        Ok(())
    }

    /// The full decision for connecting to `ip` as the address of `host` (`None` for an IP
    /// literal URL).
    pub fn check(&self, host: Option<&str>, ip: IpAddr) -> Result<(), Denied> {
        let ip = canonical(ip);
        let host = host.map(normalize_host);
        let target = match &host {
            Some(h) => format!("{h} ({ip})"),
            None => ip.to_string(),
        };
        for (rule, builtin) in self.deny_rules() {
            if rule.matches_ip(ip) || host.as_deref().is_some_and(|h| rule.matches_host(h)) {
                let (reason, hint) = deny_reason(rule, builtin);
                return Err(Denied { target, reason, hint });
            }
        }
        if !self.allow.is_empty() {
            if self.allow.iter().any(|r| r.matches_ip(ip) || host.as_deref().is_some_and(|h| r.matches_host(h))) {
                return Ok(());
            }
            let hint = format!("add {} to --callback-allow", host.as_deref().map_or(ip.to_string(), str::to_string));
            return Err(Denied { target, reason: "not in the allow list".into(), hint });
        }
        if self.scope == Scope::Public
            && let Some((range, what)) = non_public_range(ip)
        {
            let reason =
                format!("{what} address {range} while ossd listens on a non-loopback address: public unicast only");
            let hint = format!(
                "allow it with --callback-allow {} (or every private destination with --callback-scope private)",
                host.as_deref().map_or(ip.to_string(), str::to_string)
            );
            return Err(Denied { target, reason, hint });
        }
        Ok(())
    }
}

fn deny_reason(rule: &DestinationRule, builtin: bool) -> (String, String) {
    if builtin {
        (format!("built-in deny rule {rule}"), "no flag allows it (link-local, metadata and non-host addresses)".into())
    } else {
        (format!("deny rule {rule}"), format!("remove {rule} from --callback-deny"))
    }
}

fn normalize_host(h: &str) -> String {
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`) are judged as that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let seg = v6.segments();
    let embedded = IpAddr::V4(std::net::Ipv4Addr::from(u128::from(v6) as u32));
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return embedded;
    }
    // IPv4-compatible (deprecated); `::` and `::1` are themselves.
    if seg[..6] == [0; 6] && !(seg[6] == 0 && seg[7] <= 1) {
        return embedded;
    }
    ip
}

/// A `reqwest` resolver that resolves with the system resolver and keeps only the addresses
/// the policy allows (IPv4 first). A name left with no address fails with [`Denied`].
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Arc<DestinationPolicy>,
}

impl PolicyResolver {
    pub fn new(policy: Arc<DestinationPolicy>) -> Self {
        PolicyResolver { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            policy.check_host(&host)?;
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut kept = Vec::with_capacity(resolved.len());
            let mut first_denial = None;
            for addr in resolved {
                match policy.check(Some(&host), addr.ip()) {
                    Ok(()) => kept.push(addr),
                    Err(d) => {
                        tracing::debug!(%d, "callback destination address filtered out");
                        first_denial.get_or_insert(d);
                    }
                }
            }
            if kept.is_empty() {
                return Err(match first_denial {
                    Some(d) => Box::new(d) as Box<dyn std::error::Error + Send + Sync>,
                    None => format!("{host} has no address").into(),
                });
            }
            kept.sort_by_key(|a| a.is_ipv6());
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// How callbacks are delivered.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Per-URL budget: connecting, sending and reading the whole answer. Default 5 s.
    pub timeout: Duration,
    /// Largest accepted answer body. Default 1 MiB.
    pub max_response_bytes: usize,
    pub policy: DestinationPolicy,
    /// Where receivers download the public key; sent base64-encoded in `x-oss-pub-key-url`.
    pub public_key_url: String,
    /// Extra trusted roots for HTTPS receivers (`--callback-ca-file`), added to the built-in
    /// ones: development receivers use self-signed or mkcert certificates.
    pub extra_roots: Vec<reqwest::Certificate>,
}

/// The certificates of a PEM bundle, for [`DeliveryConfig::extra_roots`]; at least one.
pub fn parse_root_certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, String> {
    let roots = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
    if roots.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(roots)
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_secs(5),
            max_response_bytes: 1024 * 1024,
            policy: DestinationPolicy::default(),
            public_key_url: String::new(),
            extra_roots: Vec::new(),
        }
    }
}

/// One POST to one URL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    pub url: String,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// The failure message (as the uploader would see it); `None` on success.
    pub error: Option<String>,
    pub latency_ms: u64,
    /// Bytes of answer body read.
    pub response_bytes: usize,
    /// The receiver's `Content-Type`, when it answered (for `ossd callbacks show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The receiver's `Location`, when it answered with one (a redirect, never followed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The start of a 200 answer that was refused (not JSON), for `ossd callbacks show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_head: Option<String>,
    /// For a destination the policy refused: the rule that refused it and the flag that would
    /// allow it (the uploader's message keeps OSS's wording; this is for the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What the receiver's answer looked like, kept in the [`Attempt`].
#[derive(Default)]
struct AnswerTrace {
    status: Option<u16>,
    read: usize,
    content_type: Option<String>,
    location: Option<String>,
    answer_head: Option<String>,
}

/// Bytes of a refused answer kept in [`Attempt::answer_head`].
const ANSWER_HEAD_BYTES: usize = 256;
/// Idle connections kept per receiver (host and port). Every concurrent callback to a receiver
/// needs its own connection; with fewer kept than run at once, each callback beyond the count
/// paid a new TCP (and TLS) handshake and left a socket in TIME_WAIT. 64 covers the upload
/// concurrency of a busy node; idle ones close after 60 s.
const MAX_IDLE_PER_RECEIVER: usize = 64;

/// The result of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A receiver answered 200 with JSON: the uploader gets 200 and this body.
    Answered(Bytes),
    /// Every URL failed: the uploader gets 203 `CallbackFailed` with this message and EC.
    Failed { message: String, ec: &'static str },
}

/// Every attempt and the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub attempts: Vec<Attempt>,
    pub outcome: Outcome,
}

impl Delivery {
    /// The 203 `CallbackFailed` error for the uploader, or `None` when a receiver answered.
    pub fn failure_error(&self) -> Option<OssError> {
        match &self.outcome {
            Outcome::Answered(_) => None,
            Outcome::Failed { message, ec } => Some(OssError::new(203, "CallbackFailed", message.clone()).with_ec(*ec)),
        }
    }

    /// The receiver's body, when one answered.
    pub fn answer(&self) -> Option<&Bytes> {
        match &self.outcome {
            Outcome::Answered(b) => Some(b),
            Outcome::Failed { .. } => None,
        }
    }
}

/// Delivers callbacks; cheap to share (`Arc`) across requests: the HTTP clients are pooled.
pub struct Deliverer {
    config: DeliveryConfig,
    signer: Arc<CallbackSigner>,
    pub_key_url_header: HeaderValue,
    client_sni: reqwest::Client,
    client_no_sni: reqwest::Client,
}

impl fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer").field("config", &self.config).finish_non_exhaustive()
    }
}

struct Failure {
    message: String,
    ec: &'static str,
    refused: Option<String>,
}

impl Failure {
    fn status(message: impl Into<String>) -> Self {
        Failure { message: message.into(), ec: EC_STATUS, refused: None }
    }
}

impl Deliverer {
    /// Builds the two pooled clients (with and without TLS SNI).
    ///
    /// # Panics
    /// If the TLS backend cannot be initialised.
    pub fn new(config: DeliveryConfig, signer: Arc<CallbackSigner>) -> Self {
        let policy = Arc::new(config.policy.clone());
        let build = |sni: bool| {
            let mut builder = reqwest::Client::builder();
            for root in &config.extra_roots {
                builder = builder.add_root_certificate(root.clone());
            }
            builder
                .use_rustls_tls()
                .tls_sni(sni)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(MAX_IDLE_PER_RECEIVER)
                .tcp_nodelay(true)
                .user_agent(concat!("ossd-callback/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("building the callback HTTP client")
        };
        let pub_key_url_header = HeaderValue::from_str(&STANDARD.encode(config.public_key_url.as_bytes()))
            .expect("base64 is a valid header value");
        Deliverer { client_sni: build(true), client_no_sni: build(false), pub_key_url_header, signer, config }
    }

    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    pub fn signer(&self) -> &Arc<CallbackSigner> {
        &self.signer
    }

    /// POSTs `body` to the URLs of `spec` in order until one answers 200 with a JSON body of
    /// at most `max_response_bytes` and a `Content-Length`. No retries, no redirects.
    pub async fn deliver(&self, spec: &CallbackSpec, body: impl Into<Bytes>, request_id: &str) -> Delivery {
        let body: Bytes = body.into();
        let mut attempts = Vec::with_capacity(spec.urls.len());
        let mut last = None;
        for url in &spec.urls {
            let start = Instant::now();
            let (trace, result) = self.attempt(spec, url, body.clone(), request_id, start).await;
            let latency_ms = start.elapsed().as_millis() as u64;
            tracing::info!(
                url = %url, status = trace.status, latency_ms, response_bytes = trace.read,
                error = result.as_ref().err().map(|f| f.message.as_str()),
                request_id, "callback attempt"
            );
            attempts.push(Attempt {
                url: url.to_string(),
                status: trace.status,
                error: result.as_ref().err().map(|f| f.message.clone()),
                latency_ms,
                response_bytes: trace.read,
                content_type: trace.content_type,
                location: trace.location,
                answer_head: trace.answer_head,
                refused: result.as_ref().err().and_then(|f| f.refused.clone()),
            });
            match result {
                Ok(answer) => return Delivery { attempts, outcome: Outcome::Answered(answer) },
                Err(f) => last = Some(f),
            }
        }
        let f = last.unwrap_or_else(|| Failure::status("No callbackUrl is configured."));
        Delivery { attempts, outcome: Outcome::Failed { message: f.message, ec: f.ec } }
    }

    /// One URL: what the answer looked like, and the answer or the failure.
    async fn attempt(
        &self,
        spec: &CallbackSpec,
        url: &Url,
        body: Bytes,
        request_id: &str,
        start: Instant,
    ) -> (AnswerTrace, Result<Bytes, Failure>) {
        // IP literals never reach the resolver: judge them here. Names are judged here (for a
        // clear message) and again, with their addresses, by the resolver.
        let Some(host) = url.host_str() else { return (AnswerTrace::default(), Err(Failure::status(CONNECT_FAILED))) };
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
        let pre = match literal {
            Ok(ip) => self.config.policy.check(None, ip),
            Err(_) => self.config.policy.check_host(host),
        };
        if let Err(d) = pre {
            return (AnswerTrace::default(), Err(denied_failure(&d)));
        }

        let client = if spec.sni { &self.client_sni } else { &self.client_no_sni };
        let mut req = client
            .post(url.clone())
            .header(CONTENT_TYPE, spec.body_type.content_type())
            .header("authorization", self.signer.sign_url(url, &body))
            .header("x-oss-pub-key-url", self.pub_key_url_header.clone());
        if let Ok(v) = HeaderValue::from_str(request_id) {
            req = req.header("x-oss-request-id", v);
        }
        if let Some(h) = &spec.host {
            req = req.header(HOST, h.as_str());
        }
        for (name, value) in &spec.additional_headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(policy) = &spec.policy {
            // Not an OSS header: lets `ossd callback-inspect` show which bucket policy was used.
            // `x-oss-` names cannot come from additionalHeaders, so it cannot be spoofed.
            req = req.header("x-oss-callback-policy", policy.as_str());
        }
        let req = req.body(body);

        let cap = self.config.max_response_bytes;
        let mut trace = AnswerTrace::default();
        let exchange = async {
            let mut resp = req.send().await.map_err(|e| transport_failure(&e))?;
            let code = resp.status().as_u16();
            let header_text = |name| {
                resp.headers().get(name).map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            trace.status = Some(code);
            trace.content_type = header_text(CONTENT_TYPE);
            trace.location = header_text(http::header::LOCATION);
            if code != 200 {
                return Err(Failure::status(format!("Error status : {code}.")));
            }
            let declared = resp
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            match declared {
                Some(n) if n <= cap as u64 => {}
                _ => return Err(Failure::status(TOO_LONG)),
            }
            let mut buf = BytesMut::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| transport_failure(&e))? {
                let room = cap + 1 - buf.len();
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
                trace.read = buf.len();
                if buf.len() > cap {
                    return Err(Failure::status(TOO_LONG));
                }
            }
            if serde_json::from_slice::<serde::de::IgnoredAny>(&buf).is_err() {
                trace.answer_head =
                    Some(String::from_utf8_lossy(&buf[..buf.len().min(ANSWER_HEAD_BYTES)]).into_owned());
                return Err(Failure { message: NOT_JSON.into(), ec: EC_NOT_JSON, refused: None });
            }
            Ok(buf.freeze())
        };
        let result = match tokio::time::timeout(self.config.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(Failure {
                message: format!(
                    "error status:-1 {}:{} reply timeout, cost: {} MS, timeout: {} MS",
                    url.host_str().unwrap_or_default(),
                    url.port_or_known_default().unwrap_or(80),
                    start.elapsed().as_millis(),
                    self.config.timeout.as_millis()
                ),
                ec: EC_TIMEOUT,
                refused: None,
            }),
        };
        (trace, result)
    }
}

fn denied_failure(d: &Denied) -> Failure {
    tracing::warn!(target = %d.target, rule = %d.reason, fix = %d.hint, "callback destination refused");
    Failure {
        refused: Some(format!("{}: {}; {}", d.target, d.reason, d.hint)),
        ..Failure::status(format!("Error status : -1. The callbackUrl destination {d}."))
    }
}

/// Maps a transport error: a policy denial found in its causes, else a connect failure.
fn transport_failure(e: &reqwest::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(d) = s.downcast_ref::<Denied>() {
            return denied_failure(d);
        }
        source = s.source();
    }
    tracing::debug!(error = %e, chain = ?e, "callback transport error");
    Failure::status(CONNECT_FAILED)
}
