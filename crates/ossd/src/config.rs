//! Settings: command-line flags win over environment variables, which win over the TOML config
//! file, which wins over the defaults. clap handles flag > environment; `Settings::resolve`
//! fills the rest from the file.

use ossd_callback::oss_mode::CallbackMode;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
pub const DEFAULT_DATA: &str = "./ossd-data";
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// `ossd serve` options as flags/environment (all optional so the file can fill them).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:9000].
    #[arg(long, env = "OSSD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory (metadata, blobs, keys) [default: ./ossd-data].
    #[arg(long, env = "OSSD_DATA")]
    pub data: Option<PathBuf>,
    /// TOML config file whose keys match these option names (with `_` for `-`).
    #[arg(long, env = "OSSD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Region id reported to clients and expected in V4 scopes [default: cn-hangzhou].
    #[arg(long, env = "OSSD_REGION")]
    pub region: Option<String>,
    /// Extra base domain for virtual-hosted addressing (`<bucket>.DOMAIN`); repeatable.
    #[arg(long = "domain", env = "OSSD_DOMAIN", value_delimiter = ',')]
    pub domains: Vec<String>,
    /// A host that stands for one bucket, as `host=bucket` (ali-oss `cname: true`); repeatable.
    #[arg(long = "cname", env = "OSSD_CNAME", value_delimiter = ',')]
    pub cnames: Vec<String>,
    /// Durability: `fsync` (each object and commit reaches the disk before the answer) or
    /// `relaxed` (left to the OS page cache) [default: fsync].
    #[arg(long, env = "OSSD_DURABILITY")]
    pub durability: Option<String>,
    /// Host:port clients use to reach this server, shown as the bucket endpoint in listings
    /// [default: the listen address].
    #[arg(long, env = "OSSD_PUBLIC_ENDPOINT")]
    pub public_endpoint: Option<String>,
    /// Log filter (tracing EnvFilter syntax) [default: info].
    #[arg(long, env = "OSSD_LOG")]
    pub log: Option<String>,
    /// Metadata store: `postgres://USER:PASSWORD@HOST:PORT/DB` for several nodes sharing one
    /// PostgreSQL database [default: the embedded SQLite database in DATA/meta.sqlite].
    #[arg(long, env = "OSSD_META", hide_env_values = true)]
    pub meta: Option<String>,
    /// Blob store: a directory (for example on a file system every node mounts) or an
    /// S3-compatible store, `s3://BUCKET/PREFIX?endpoint=URL&region=REGION` (credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, else the config file's `[s3]`) [default: DATA/blobs].
    #[arg(long, env = "OSSD_BLOBS")]
    pub blobs: Option<String>,
    /// With a shared metadata store: seconds freed bytes wait before they go, for readers on
    /// other nodes [default: 300].
    #[arg(long, env = "OSSD_RECLAIM_GRACE_SECS")]
    pub reclaim_grace_secs: Option<u64>,
    /// Seconds a RestoreObject of an Archive, ColdArchive or DeepColdArchive object takes
    /// before the object is readable (OSS takes minutes to hours; a short default keeps tests
    /// fast) [default: 1].
    #[arg(long, env = "OSSD_RESTORE_DELAY_SECS")]
    pub restore_delay_secs: Option<u64>,
    /// Seconds between two background orphan sweeps [default: 600].
    #[arg(long, env = "OSSD_SWEEP_INTERVAL_SECS")]
    pub sweep_interval_secs: Option<u64>,
    /// Length in seconds of a lifecycle "day" (rules' Days count these; shorter for tests).
    /// The lifecycle worker runs every 1/24 of it, at least every second [default: 86400].
    #[arg(long, env = "OSSD_LIFECYCLE_DAY_SECS")]
    pub lifecycle_day_secs: Option<u64>,
    /// A blob the sweep may remove must also be unwritten for this many seconds (a margin on top
    /// of the in-flight registry, which is what protects running uploads) [default: 600].
    #[arg(long, env = "OSSD_SWEEP_IDLE_SECS")]
    pub sweep_idle_secs: Option<u64>,
    #[command(flatten)]
    pub callback: CallbackArgs,
    /// STS: key that signs security tokens, shared by every node that must accept them (at
    /// least 16 characters) [default: DATA/sts_token_key, created on first start].
    /// Prefer `--sts-secret-file` or the environment: argv is visible to every local user.
    #[arg(long, env = "OSSD_STS_SECRET", hide_env_values = true)]
    pub sts_secret: Option<String>,
    /// STS: file holding the token key (a trailing newline is ignored), e.g. a Docker secret.
    #[arg(long, env = "OSSD_STS_SECRET_FILE", conflicts_with = "sts_secret")]
    pub sts_secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Only `ossd serve` takes these as flags (see [`ServeCommand`]); the other commands that read
    /// the server's settings (`callbacks`, `sts`) have flags of their own, such as `--bucket`.
    #[arg(skip)]
    pub service: ServiceArgs,
}

/// `ossd serve`: the server's settings and the service-only flags.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServeCommand {
    #[command(flatten)]
    pub args: ServeArgs,
    #[command(flatten)]
    pub service: ServiceArgs,
}

impl ServeCommand {
    pub fn into_args(self) -> ServeArgs {
        ServeArgs { service: self.service, ..self.args }
    }
}

/// Running ossd as a service: logs, TLS, metrics, buckets created at start.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServiceArgs {
    /// Log level or filter when --log is not given (else RUST_LOG, else info).
    #[arg(long, env = "OSSD_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Log format: `text` (for people) or `json` (one object a line, for collectors) [default: text].
    #[arg(long, env = "OSSD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// PEM certificate chain: serve HTTPS on the listen address (with --tls-key); reloaded on SIGHUP.
    #[arg(long, env = "OSSD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "OSSD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Bearer token that /_ossd/metrics requires [default: none, metrics are open].
    #[arg(long, env = "OSSD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Bucket to create at start unless it exists, as NAME or NAME:ACL (private, public-read,
    /// public-read-write); repeatable.
    #[arg(long = "bucket", env = "OSSD_BUCKET", value_delimiter = ',')]
    pub buckets: Vec<String>,
}

/// Connection bounds of `ossd serve` (see `ossd_server::limits::Limits` for the defaults' reasons).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct LimitArgs {
    /// Connections served at once; further ones wait in the accept backlog [default: 4096].
    #[arg(long, env = "OSSD_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds a client may take to send a request's headers [default: 30].
    #[arg(long, env = "OSSD_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a connection with no request in flight may stay open [default: 75].
    #[arg(long, env = "OSSD_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a request body may send nothing before it is abandoned [default: 60].
    #[arg(long, env = "OSSD_BODY_STALL_TIMEOUT_SECS")]
    pub body_stall_timeout_secs: Option<u64>,
}

/// Upload-callback options of `ossd serve`.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct CallbackArgs {
    /// Time allowed to each callback URL, in milliseconds [default: 5000].
    #[arg(long, env = "OSSD_CALLBACK_TIMEOUT_MS")]
    pub callback_timeout_ms: Option<u64>,
    /// Largest receiver answer accepted, in bytes (at most 3 MiB) [default: 1048576].
    #[arg(long, env = "OSSD_CALLBACK_MAX_RESPONSE_BYTES")]
    pub callback_max_response_bytes: Option<usize>,
    /// PEM RSA private key that signs callbacks [default: DATA/callback_private_key.pem,
    /// created on first start].
    #[arg(long, env = "OSSD_CALLBACK_PRIVATE_KEY")]
    pub callback_private_key: Option<PathBuf>,
    /// URL sent in `x-oss-pub-key-url` [default: http://PUBLIC_ENDPOINT/_ossd/callback_pub_key.pem,
    /// which ossd serves itself]. For receivers written from Alibaba's samples, which accept only
    /// gosspublic.alicdn.com: http://gosspublic.alicdn.com/callback_pub_key_v1.pem, with that name
    /// pointing at ossd (ossd serves the key there for that Host).
    #[arg(long, env = "OSSD_CALLBACK_PUBLIC_KEY_URL")]
    pub callback_public_key_url: Option<String>,
    /// Callback destinations allowed (CIDR, IP, host or *.domain); when given, only these.
    #[arg(long = "callback-allow", env = "OSSD_CALLBACK_ALLOW", value_delimiter = ',')]
    pub callback_allow: Vec<String>,
    /// Without an allow list: `private` reaches loopback and private addresses too, `public`
    /// public unicast addresses only (as OSS) [default: private when listening on loopback
    /// only, public otherwise].
    #[arg(long, env = "OSSD_CALLBACK_SCOPE")]
    pub callback_scope: Option<String>,
    /// Callback destinations denied (CIDR, IP, host or *.domain), on top of link-local, cloud
    /// metadata, multicast, broadcast and 0.0.0.0/8 addresses, which are always denied.
    #[arg(long = "callback-deny", env = "OSSD_CALLBACK_DENY", value_delimiter = ',')]
    pub callback_deny: Vec<String>,
    /// PEM file of extra root certificates trusted for HTTPS receivers (self-signed or mkcert
    /// development receivers); the built-in roots stay trusted.
    #[arg(long, env = "OSSD_CALLBACK_CA_FILE")]
    pub callback_ca_file: Option<PathBuf>,
    /// `default`, or `oss`: also refuse up front the callback destinations real OSS refuses
    /// (private, loopback and link-local addresses, IPv6), with OSS's error [default: default].
    #[arg(long, env = "OSSD_CALLBACK_MODE")]
    pub callback_mode: Option<CallbackMode>,
    /// Callback log entries kept regardless of age [default: 100000].
    #[arg(long, env = "OSSD_CALLBACK_LOG_KEEP")]
    pub callback_log_keep: Option<usize>,
    /// Callback log entries older than this many days go, beyond the kept count [default: 30].
    #[arg(long, env = "OSSD_CALLBACK_LOG_MAX_AGE_DAYS")]
    pub callback_log_max_age_days: Option<u64>,
}

/// The same options, as the config file spells them.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data: Option<PathBuf>,
    pub region: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub cnames: Vec<String>,
    pub durability: Option<String>,
    pub public_endpoint: Option<String>,
    pub log: Option<String>,
    pub sweep_interval_secs: Option<u64>,
    pub sweep_idle_secs: Option<u64>,
    pub lifecycle_day_secs: Option<u64>,
    pub meta: Option<String>,
    pub blobs: Option<String>,
    pub reclaim_grace_secs: Option<u64>,
    pub restore_delay_secs: Option<u64>,
    pub callback_timeout_ms: Option<u64>,
    pub callback_max_response_bytes: Option<usize>,
    pub callback_private_key: Option<PathBuf>,
    pub callback_public_key_url: Option<String>,
    pub callback_ca_file: Option<PathBuf>,
    pub callback_mode: Option<String>,
    #[serde(default)]
    pub callback_allow: Vec<String>,
    #[serde(default)]
    pub callback_deny: Vec<String>,
    pub callback_scope: Option<String>,
    pub callback_log_keep: Option<usize>,
    pub callback_log_max_age_days: Option<u64>,
    pub max_connections: Option<usize>,
    pub header_read_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub body_stall_timeout_secs: Option<u64>,
    /// STS: `[sts]` with `secret` and `[[sts.roles]]`.
    pub sts: Option<StsFileConfig>,
    /// `[s3]`: credentials for an `s3://` blob store (the `AWS_*` environment wins).
    pub s3: Option<S3FileConfig>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub metrics_token: Option<String>,
    /// `[[buckets]]`: buckets created at start.
    #[serde(default)]
    pub buckets: Vec<BucketConfig>,
}

/// One `[[buckets]]` entry.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    pub name: String,
    /// `private`, `public-read` or `public-read-write`; applied to an existing bucket too.
    pub acl: Option<String>,
    /// A CORS configuration XML file (as PutBucketCors takes); applied to an existing bucket too.
    pub cors: Option<PathBuf>,
}

/// A bucket to create at start, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    pub name: String,
    /// `None`: private when created, left alone when it exists.
    pub acl: Option<String>,
    /// The CORS rules, read and checked at start.
    pub cors: Option<ossd_proto::cors::CorsConfiguration>,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// STS: the `[sts]` table.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct StsFileConfig {
    /// Token key shared by all nodes (`--sts-secret` / `OSSD_STS_SECRET` win).
    pub secret: Option<String>,
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    /// Not documented: shortest DurationSeconds accepted, lowered by tests [default: 900].
    pub min_duration_seconds: Option<u64>,
}

impl std::fmt::Debug for StsFileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsFileConfig").field("roles", &self.roles).finish_non_exhaustive()
    }
}

/// `[s3]`: the blob store's credentials, the secret read from a file (a Docker/Kubernetes
/// secret) so that it is in neither argv nor the config file.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct S3FileConfig {
    pub access_key_id: Option<String>,
    pub secret_access_key_file: Option<PathBuf>,
}

/// STS: one `[[sts.roles]]` entry.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    pub name: String,
    /// `acs:ram::<account>:role/<name>`.
    pub arn: String,
    /// RAM policy: a JSON string or an inline table.
    pub policy: serde_json::Value,
    /// Longest DurationSeconds (900..=43200) [default: 3600].
    pub max_duration_seconds: Option<u64>,
}

/// STS settings, resolved: the secret (flag > environment > file) and the checked roles.
#[derive(Clone, Default)]
pub struct StsSettings {
    pub secret: Option<String>,
    pub roles: Vec<ossd_proto::sts::Role>,
    pub min_duration_seconds: u64,
}

impl std::fmt::Debug for StsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsSettings")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("roles", &self.roles.iter().map(|r| &r.arn).collect::<Vec<_>>())
            .field("min_duration_seconds", &self.min_duration_seconds)
            .finish()
    }
}

impl StsSettings {
    pub fn resolve(file: Option<StsFileConfig>, secret_flag: Option<String>) -> Result<StsSettings, String> {
        let file = file.unwrap_or_default();
        let secret = secret_flag.or(file.secret).filter(|s| !s.is_empty());
        if secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err("the STS secret must be at least 16 characters".into());
        }
        let min = file.min_duration_seconds.unwrap_or(ossd_proto::sts::MIN_DURATION_SECONDS);
        if !(1..=ossd_proto::sts::MIN_DURATION_SECONDS).contains(&min) {
            return Err("sts.min_duration_seconds must be between 1 and 900".into());
        }
        let mut roles: Vec<ossd_proto::sts::Role> = Vec::new();
        for r in file.roles {
            let policy = match r.policy {
                serde_json::Value::String(text) => serde_json::from_str(&text)
                    .map_err(|e| format!("role {}: the policy is not valid JSON: {e}", r.name))?,
                other => other,
            };
            let max = r.max_duration_seconds.unwrap_or(ossd_proto::sts::DEFAULT_MAX_DURATION_SECONDS);
            let role = ossd_proto::sts::Role::new(&r.name, &r.arn, policy, max)?;
            if roles.iter().any(|o| o.arn.eq_ignore_ascii_case(&role.arn) || o.name.eq_ignore_ascii_case(&role.name)) {
                return Err(format!("role {} is declared twice", role.name));
            }
            roles.push(role);
        }
        Ok(StsSettings { secret, roles, min_duration_seconds: min })
    }
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub region: String,
    pub domains: Vec<String>,
    pub cnames: Vec<String>,
    pub fsync: bool,
    pub public_endpoint: Option<String>,
    pub log: String,
    /// `None`: the embedded SQLite database; else a `postgres://` URL.
    pub meta: Option<String>,
    /// `None`: DATA/blobs; else a directory or an `s3://` URL.
    pub blobs: Option<String>,
    /// Credentials for an `s3://` blob store from the config file; `None`: the `AWS_*` environment.
    pub s3_credentials: Option<ossd_store::S3Credentials>,
    /// Shared stores: how long freed bytes wait for readers on other nodes.
    pub reclaim_grace: std::time::Duration,
    /// How long a RestoreObject takes.
    pub restore_delay: std::time::Duration,
    /// Background orphan sweep: how often, and how long a blob must sit unwritten first.
    pub sweep_interval: std::time::Duration,
    pub sweep_idle: std::time::Duration,
    /// Bucket lifecycle rules: the length of their "day".
    pub lifecycle_day: std::time::Duration,
    pub callback: CallbackSettings,
    pub sts: StsSettings,
    pub limits: ossd_server::limits::Limits,
    pub log_format: LogFormat,
    /// PEM certificate chain and key, when serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub metrics_token: Option<Redacted>,
    pub buckets: Vec<BucketSpec>,
}

/// A secret setting; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A secret kept in a file (Docker/Kubernetes secrets): its contents without the trailing newline.
pub fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// The `[s3]` table's credentials: both or neither.
fn s3_credentials(s3: Option<S3FileConfig>) -> Result<Option<ossd_store::S3Credentials>, String> {
    match s3.unwrap_or_default() {
        S3FileConfig { access_key_id: None, secret_access_key_file: None } => Ok(None),
        S3FileConfig { access_key_id: Some(id), secret_access_key_file: Some(path) } => {
            Ok(Some(ossd_store::S3Credentials { access_key_id: id, secret_access_key: read_secret_file(&path)? }))
        }
        _ => Err("[s3] needs both access_key_id and secret_access_key_file".into()),
    }
}

#[derive(Debug, Clone)]
pub struct CallbackSettings {
    pub timeout: std::time::Duration,
    pub max_response_bytes: usize,
    pub private_key: Option<PathBuf>,
    pub public_key_url: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub mode: CallbackMode,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// `None`: from the listen address.
    pub scope: Option<ossd_callback::deliver::Scope>,
    pub log_keep: usize,
    pub log_max_age: std::time::Duration,
}

/// The receiver answer cap may not exceed OSS's permissive documented value.
pub const MAX_CALLBACK_RESPONSE_BYTES: usize = 3 * 1024 * 1024;

pub fn load_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("invalid config {}: {e}", path.display()))
}

/// `NAME` or `NAME:ACL` from `--bucket`.
fn parse_bucket_flag(s: &str) -> Result<BucketSpec, String> {
    let (name, acl) = match s.split_once(':') {
        Some((n, a)) => (n, Some(a.to_string())),
        None => (s, None),
    };
    check_bucket(BucketSpec { name: name.to_string(), acl, cors: None }, "--bucket")
}

fn check_bucket(spec: BucketSpec, source: &str) -> Result<BucketSpec, String> {
    if !ossd_proto::names::is_valid_bucket_name(&spec.name) {
        return Err(format!(
            "{source}: `{}` is not a valid bucket name (3 to 63 characters of a-z, 0-9 and -, starting and ending with a letter or digit)",
            spec.name
        ));
    }
    if let Some(acl) = &spec.acl
        && !matches!(acl.as_str(), "private" | "public-read" | "public-read-write")
    {
        return Err(format!(
            "{source}: bucket {}: ACL `{acl}` is not one of private, public-read, public-read-write",
            spec.name
        ));
    }
    Ok(spec)
}

fn resolve_buckets(flags: &[String], file: Vec<BucketConfig>) -> Result<Vec<BucketSpec>, String> {
    let mut out: Vec<BucketSpec> = Vec::new();
    for b in file {
        let cors = match &b.cors {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("bucket {}: cannot read CORS rules {}: {e}", b.name, path.display()))?;
                Some(ossd_proto::cors::CorsConfiguration::from_xml(&text).map_err(|e| {
                    format!("bucket {}: invalid CORS rules in {}: {}", b.name, path.display(), e.message)
                })?)
            }
        };
        out.push(check_bucket(BucketSpec { name: b.name, acl: b.acl, cors }, "[[buckets]]")?);
    }
    // A flag names the same bucket as the file: the flag's ACL wins, the file's CORS rules stay.
    for f in flags.iter().filter(|f| !f.is_empty()) {
        let spec = parse_bucket_flag(f)?;
        match out.iter_mut().find(|b| b.name == spec.name) {
            Some(existing) => existing.acl = spec.acl.or(existing.acl.take()),
            None => out.push(spec),
        }
    }
    Ok(out)
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> Result<Settings, String> {
        let file = match &args.config {
            Some(p) => load_file(p)?,
            None => FileConfig::default(),
        };
        let durability = args.durability.or(file.durability).unwrap_or_else(|| "fsync".into());
        let fsync = match durability.as_str() {
            "fsync" => true,
            "relaxed" => false,
            other => return Err(format!("durability must be `fsync` or `relaxed`, not `{other}`")),
        };
        let service = args.service;
        let log_format = match service.log_format.or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(format!("log-format must be `text` or `json`, not `{other}`")),
        };
        let log = args
            .log
            .or(service.log_level)
            .or_else(|| std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty()))
            .or(file.log)
            .or(file.log_level)
            .unwrap_or_else(|| "info".into());
        let tls = match (service.tls_cert.or(file.tls_cert), service.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        let metrics_token = service.metrics_token.or(file.metrics_token).filter(|t| !t.is_empty()).map(Redacted);
        let buckets = resolve_buckets(&service.buckets, file.buckets)?;
        let cb = args.callback;
        let max_response_bytes =
            cb.callback_max_response_bytes.or(file.callback_max_response_bytes).unwrap_or(1024 * 1024);
        if max_response_bytes == 0 || max_response_bytes > MAX_CALLBACK_RESPONSE_BYTES {
            return Err(format!("callback-max-response-bytes must be between 1 and {MAX_CALLBACK_RESPONSE_BYTES}"));
        }
        let callback = CallbackSettings {
            timeout: std::time::Duration::from_millis(
                cb.callback_timeout_ms.or(file.callback_timeout_ms).unwrap_or(5000).max(1),
            ),
            max_response_bytes,
            private_key: cb.callback_private_key.or(file.callback_private_key),
            public_key_url: cb.callback_public_key_url.or(file.callback_public_key_url),
            ca_file: cb.callback_ca_file.or(file.callback_ca_file),
            mode: match (cb.callback_mode, file.callback_mode) {
                (Some(m), _) => m,
                (None, Some(m)) => m.parse()?,
                (None, None) => CallbackMode::Default,
            },
            allow: if cb.callback_allow.is_empty() { file.callback_allow } else { cb.callback_allow },
            deny: if cb.callback_deny.is_empty() { file.callback_deny } else { cb.callback_deny },
            scope: cb
                .callback_scope
                .or(file.callback_scope)
                .map(|s| ossd_callback::deliver::Scope::parse(&s))
                .transpose()?,
            log_keep: cb.callback_log_keep.or(file.callback_log_keep).unwrap_or(100_000),
            log_max_age: std::time::Duration::from_secs(
                cb.callback_log_max_age_days.or(file.callback_log_max_age_days).unwrap_or(30) * 86_400,
            ),
        };
        let sts_secret = match (&args.sts_secret_file, args.sts_secret) {
            (Some(path), _) => Some(read_secret_file(path)?),
            (None, secret) => secret,
        };
        let defaults = ossd_server::limits::Limits::default();
        let secs = |flag: Option<u64>, file: Option<u64>, default: std::time::Duration| {
            flag.or(file).map(|s| std::time::Duration::from_secs(s.max(1))).unwrap_or(default)
        };
        let la = args.limits;
        let limits = ossd_server::limits::Limits {
            max_connections: la.max_connections.or(file.max_connections).unwrap_or(defaults.max_connections).max(1),
            header_read_timeout: secs(
                la.header_read_timeout_secs,
                file.header_read_timeout_secs,
                defaults.header_read_timeout,
            ),
            idle_timeout: secs(la.idle_timeout_secs, file.idle_timeout_secs, defaults.idle_timeout),
            body_stall_timeout: secs(
                la.body_stall_timeout_secs,
                file.body_stall_timeout_secs,
                defaults.body_stall_timeout,
            ),
            ..defaults
        };
        Ok(Settings {
            listen: args.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            data: args.data.or(file.data).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA)),
            region: args.region.or(file.region).unwrap_or_else(|| DEFAULT_REGION.into()),
            domains: if args.domains.is_empty() { file.domains } else { args.domains },
            cnames: if args.cnames.is_empty() { file.cnames } else { args.cnames },
            fsync,
            public_endpoint: args.public_endpoint.or(file.public_endpoint),
            log,
            meta: args.meta.or(file.meta),
            reclaim_grace: std::time::Duration::from_secs(
                args.reclaim_grace_secs.or(file.reclaim_grace_secs).unwrap_or(300),
            ),
            blobs: args.blobs.or(file.blobs),
            s3_credentials: s3_credentials(file.s3)?,
            restore_delay: std::time::Duration::from_secs(
                args.restore_delay_secs.or(file.restore_delay_secs).unwrap_or(1),
            ),
            sweep_interval: std::time::Duration::from_secs(
                args.sweep_interval_secs.or(file.sweep_interval_secs).unwrap_or(600).max(1),
            ),
            sweep_idle: std::time::Duration::from_secs(args.sweep_idle_secs.or(file.sweep_idle_secs).unwrap_or(600)),
            lifecycle_day: std::time::Duration::from_secs(
                args.lifecycle_day_secs.or(file.lifecycle_day_secs).unwrap_or(86_400).max(1),
            ),
            callback,
            sts: StsSettings::resolve(file.sts, sts_secret)?,
            log_format,
            tls,
            metrics_token,
            buckets,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_file(toml: &str, name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("ossd-config-test-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, toml).expect("write config");
        path
    }

    #[test]
    fn defaults_then_file_then_flags() {
        let s = Settings::resolve(ServeArgs::default()).unwrap();
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.data, PathBuf::from(DEFAULT_DATA));
        assert!(s.fsync);
        assert_eq!(s.callback.timeout.as_millis(), 5000);

        let path = with_file(
            "listen = \"127.0.0.1:9100\"\ndata = \"/srv/oss\"\ndurability = \"relaxed\"\ncallback_timeout_ms = 250\ndomains = [\"oss.test\"]\n",
            "layers",
        );
        let from_file = Settings::resolve(ServeArgs { config: Some(path.clone()), ..Default::default() }).unwrap();
        assert_eq!(from_file.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(from_file.data, PathBuf::from("/srv/oss"));
        assert!(!from_file.fsync);
        assert_eq!(from_file.callback.timeout.as_millis(), 250);
        assert_eq!(from_file.domains, vec!["oss.test".to_string()]);

        let mut flags = ServeArgs { config: Some(path.clone()), ..Default::default() };
        flags.listen = Some("127.0.0.1:9200".parse().unwrap());
        flags.durability = Some("fsync".into());
        flags.callback.callback_timeout_ms = Some(900);
        let s = Settings::resolve(flags).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9200");
        assert!(s.fsync);
        assert_eq!(s.callback.timeout.as_millis(), 900);
        assert_eq!(s.data, PathBuf::from("/srv/oss"), "unset flags keep the file's value");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn bad_files_and_values_are_refused() {
        let path = with_file("no_such_option = 1\n", "unknown");
        assert!(Settings::resolve(ServeArgs { config: Some(path.clone()), ..Default::default() }).is_err());
        let _ = std::fs::remove_file(path);
        let bad = ServeArgs { durability: Some("sometimes".into()), ..Default::default() };
        assert!(Settings::resolve(bad).is_err());
        let mut big = ServeArgs::default();
        big.callback.callback_max_response_bytes = Some(4 * 1024 * 1024);
        assert!(Settings::resolve(big).is_err());
    }

    #[test]
    fn the_deploy_example_parses() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        let s = Settings::resolve(ServeArgs { config: Some(dir.join("ossd.toml")), ..Default::default() }).unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.metrics_token.is_some());
        assert_eq!(s.buckets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["uploads", "public-assets"]);
        let with_cors = vec![BucketConfig { name: "uploads".into(), acl: None, cors: Some(dir.join("cors.xml")) }];
        let specs = resolve_buckets(&[], with_cors).unwrap();
        assert_eq!(specs[0].cors.as_ref().map(|c| c.rules.len()), Some(1));
        let unit = std::fs::read_to_string(dir.join("ossd.service")).unwrap();
        assert!(unit.contains("ExecStart=/usr/local/bin/ossd serve --config /etc/ossd/ossd.toml"));
    }

    #[test]
    fn start_up_buckets_are_checked() {
        let specs = resolve_buckets(&["a-bucket".into(), "b-bucket:public-read".into()], Vec::new()).unwrap();
        assert_eq!(specs[1].acl.as_deref(), Some("public-read"));
        for bad in ["Bad_Name", "ab", "-x-", "ok-name:world-writable"] {
            let e = resolve_buckets(&[bad.to_string()], Vec::new()).unwrap_err();
            assert!(e.starts_with("--bucket: "), "{bad}: {e}");
        }
        let file = vec![BucketConfig { name: "same-one".into(), acl: Some("private".into()), cors: None }];
        let merged = resolve_buckets(&["same-one:public-read".into()], file).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].acl.as_deref(), Some("public-read"), "the flag wins");
        let tls_half = ServeArgs {
            service: ServiceArgs { tls_cert: Some("c.pem".into()), ..Default::default() },
            ..Default::default()
        };
        assert!(Settings::resolve(tls_half).is_err());
        let fmt = ServeArgs {
            service: ServiceArgs { log_format: Some("xml".into()), ..Default::default() },
            ..Default::default()
        };
        assert!(Settings::resolve(fmt).is_err());
    }

    #[test]
    fn s3_credentials_from_the_config_file() {
        let secret = with_file("s3-secret-from-a-file\n", "s3secret");
        let text = format!("[s3]\naccess_key_id = \"blob-writer\"\nsecret_access_key_file = {:?}\n", secret);
        let path = with_file(&text, "s3");
        let s = Settings::resolve(ServeArgs { config: Some(path.clone()), ..Default::default() }).unwrap();
        let c = s.s3_credentials.clone().expect("credentials from [s3]");
        assert_eq!((c.access_key_id.as_str(), c.secret_access_key.as_str()), ("blob-writer", "s3-secret-from-a-file"));
        assert!(!format!("{s:?}").contains("s3-secret-from-a-file"), "Debug hides the secret");
        let half = with_file("[s3]\naccess_key_id = \"blob-writer\"\n", "s3half");
        let err = Settings::resolve(ServeArgs { config: Some(half.clone()), ..Default::default() }).unwrap_err();
        assert!(err.contains("secret_access_key_file"), "{err}");
        for p in [secret, path, half] {
            let _ = std::fs::remove_file(p);
        }
        assert!(Settings::resolve(ServeArgs::default()).unwrap().s3_credentials.is_none());
    }

    #[test]
    fn limits_scope_and_secret_files() {
        let s = Settings::resolve(ServeArgs::default()).unwrap();
        assert_eq!(s.limits.max_connections, ossd_server::limits::Limits::default().max_connections);
        assert_eq!(s.callback.scope, None, "from the listen address");

        let path = with_file("max_connections = 7\nidle_timeout_secs = 9\ncallback_scope = \"public\"\n", "limits");
        let mut args = ServeArgs { config: Some(path.clone()), ..Default::default() };
        args.limits.header_read_timeout_secs = Some(3);
        let s = Settings::resolve(args).unwrap();
        assert_eq!(s.limits.max_connections, 7);
        assert_eq!(s.limits.idle_timeout.as_secs(), 9);
        assert_eq!(s.limits.header_read_timeout.as_secs(), 3);
        assert_eq!(s.callback.scope, Some(ossd_callback::deliver::Scope::Public));
        let _ = std::fs::remove_file(path);

        let bad = with_file("callback_scope = \"everywhere\"\n", "scope");
        assert!(Settings::resolve(ServeArgs { config: Some(bad.clone()), ..Default::default() }).is_err());
        let _ = std::fs::remove_file(bad);

        let secret = with_file("from-a-file-0123456789\n", "secret");
        let s = Settings::resolve(ServeArgs { sts_secret_file: Some(secret.clone()), ..Default::default() }).unwrap();
        assert_eq!(s.sts.secret.as_deref(), Some("from-a-file-0123456789"), "trailing newline dropped");
        let _ = std::fs::remove_file(secret);
    }
}
