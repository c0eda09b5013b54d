//! Settings: command-line flags win over environment variables, which win over the TOML config
//! file, which wins over the defaults. clap handles flag > environment; `Settings::resolve`
//! fills the rest from the file.

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
    pub durability: Option<String>,
    pub public_endpoint: Option<String>,
    pub log: Option<String>,
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub region: String,
    pub domains: Vec<String>,
    pub fsync: bool,
    pub public_endpoint: Option<String>,
    pub log: String,
}

fn load_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("invalid config {}: {e}", path.display()))
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
        Ok(Settings {
            listen: args.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            data: args.data.or(file.data).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA)),
            region: args.region.or(file.region).unwrap_or_else(|| DEFAULT_REGION.into()),
            domains: if args.domains.is_empty() { file.domains } else { args.domains },
            fsync,
            public_endpoint: args.public_endpoint.or(file.public_endpoint),
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
        })
    }
}
