//! STS: the token key (configured, or created once in the data directory) and
//! `ossd sts assume-role`, which issues credentials offline from the configuration and the
//! key, exactly as the AssumeRole endpoint would.

use crate::config::{self, StsSettings};
use ossd_proto::sts::{AssumeRoleParams, Issuer, TokenKey};
use std::path::{Path, PathBuf};

/// Where the generated token key lives.
pub const KEY_FILE: &str = "sts_token_key";

#[derive(clap::Subcommand)]
pub enum StsCommand {
    /// Issue temporary credentials for a configured role and print them as JSON (the shape of
    /// STS's AssumeRole answer). No server needed: the config and the token key suffice.
    AssumeRole(AssumeRoleArgs),
}

#[derive(clap::Args)]
pub struct AssumeRoleArgs {
    /// Role name (or ARN) from the config's `[[sts.roles]]`.
    #[arg(long)]
    role: String,
    /// Lifetime in seconds (the role's minimum..maximum) [default: 3600, capped to the role's
    /// maximum].
    #[arg(long)]
    duration: Option<u64>,
    /// Session policy (RAM policy JSON) narrowing the role's rights.
    #[arg(long)]
    policy: Option<String>,
    /// Session name.
    #[arg(long, default_value = "ossd-cli")]
    session: String,
    /// Data directory of the server (holds the generated token key) [default: ./ossd-data].
    #[arg(long, env = "OSSD_DATA")]
    data: Option<PathBuf>,
    /// The server's TOML config file (roles, secret).
    #[arg(long, env = "OSSD_CONFIG")]
    config: Option<PathBuf>,
    /// Token key, as `ossd serve --sts-secret`.
    #[arg(long, env = "OSSD_STS_SECRET", hide_env_values = true)]
    sts_secret: Option<String>,
}

/// The token key: the configured secret, else the key kept in `DATA/sts_token_key` (created
/// on first use, mode 0600). Returns whether it was just created.
pub fn token_key(data: &Path, sts: &StsSettings) -> Result<(TokenKey, bool), String> {
    if let Some(secret) = &sts.secret {
        return Ok((TokenKey::new(secret.as_bytes().to_vec()), false));
    }
    let path = data.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| format!("{} is not a hex key", path.display()))?;
            if bytes.len() < 16 {
                return Err(format!("{} holds a key that is too short", path.display()));
            }
            Ok((TokenKey::new(bytes), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes: [u8; 32] = rand::random();
            crate::credentials::write_private(&path, hex::encode(bytes).as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok((TokenKey::new(bytes.to_vec()), true))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The issuer for a server or the CLI: roles from the settings, key from [`token_key`].
pub fn issuer(data: &Path, sts: &StsSettings) -> Result<(Issuer, bool), String> {
    let (key, created) = token_key(data, sts)?;
    Ok((Issuer { key, roles: sts.roles.clone(), min_duration_seconds: sts.min_duration_seconds }, created))
}

pub fn run(cmd: StsCommand) -> Result<(), String> {
    match cmd {
        StsCommand::AssumeRole(args) => assume_role(args),
    }
}

fn assume_role(args: AssumeRoleArgs) -> Result<(), String> {
    let file = match &args.config {
        Some(p) => config::load_file(p)?,
        None => config::FileConfig::default(),
    };
    let data = args.data.or(file.data.clone()).unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA));
    let settings = StsSettings::resolve(file.sts, args.sts_secret)?;
    if settings.secret.is_none() {
        std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    }
    let (issuer, created) = issuer(&data, &settings)?;
    if created {
        eprintln!(
            "ossd: created a new STS token key in {}; servers using another key will not accept these credentials",
            data.join(KEY_FILE).display()
        );
    }
    let role = issuer
        .find_role(&args.role)
        .or_else(|| issuer.find_role_by_name(&args.role))
        .ok_or_else(|| format!("no role `{}` in the configuration", args.role))?;
    let duration = args.duration.map(|d| d.to_string());
    let params = AssumeRoleParams {
        role_arn: Some(&role.arn),
        role_session_name: Some(&args.session),
        duration_seconds: duration.as_deref(),
        policy: args.policy.as_deref(),
    };
    let suffix: String = {
        use rand::Rng;
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::thread_rng();
        (0..24).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
    };
    let now = ossd_proto::timefmt::now_ms() / 1000;
    let (user, creds) = issuer.assume_role(&params, now, &suffix).map_err(|e| format!("{}: {}", e.code, e.message))?;
    let request_id = format!("ossd-cli-{}", hex::encode(rand::random::<[u8; 8]>()));
    let out = ossd_proto::sts::assume_role_json(&request_id, &user, &creds);
    println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
    Ok(())
}
