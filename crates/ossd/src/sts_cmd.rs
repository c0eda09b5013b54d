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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, flag: Option<&str>) -> Result<StsSettings, String> {
        let file: config::FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        StsSettings::resolve(file.sts, flag.map(str::to_owned))
    }

    const ROLES: &str = r#"
[sts]
secret = "file-secret-0123456789"

[[sts.roles]]
name = "writer"
arn = "acs:ram::1234567890123456:role/writer"
max_duration_seconds = 7200
policy = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:PutObject","Resource":"acs:oss:*:*:b/*"}]}'

[[sts.roles]]
name = "reader"
arn = "acs:ram::1234567890123456:role/reader"
[sts.roles.policy]
Version = "1"
[[sts.roles.policy.Statement]]
Effect = "Allow"
Action = ["oss:GetObject"]
Resource = ["acs:oss:*:*:b/*"]
"#;

    #[test]
    fn config_roles_as_json_string_or_table() {
        let s = parse(ROLES, None).unwrap();
        assert_eq!(s.secret.as_deref(), Some("file-secret-0123456789"));
        assert_eq!(s.min_duration_seconds, 900);
        assert_eq!(s.roles.len(), 2);
        assert_eq!((s.roles[0].max_duration_seconds, s.roles[1].max_duration_seconds), (7200, 3600));
        assert_eq!(s.roles[1].policy["Statement"][0]["Action"][0], "oss:GetObject");
        assert!(!format!("{s:?}").contains("file-secret"));
        // The flag (or environment) wins over the file.
        assert_eq!(
            parse(ROLES, Some("flag-secret-0123456789")).unwrap().secret.as_deref(),
            Some("flag-secret-0123456789")
        );
        assert!(parse("", None).unwrap().roles.is_empty());
    }

    #[test]
    fn config_errors() {
        let bad = [
            "[sts]\nsecret = \"short\"",
            "[sts]\nmin_duration_seconds = 0",
            "[sts]\nmin_duration_seconds = 901",
            "[sts]\nunknown = 1",
            "[[sts.roles]]\nname = \"r\"\narn = \"acs:ram::1:role/other\"\npolicy = '{\"Version\":\"1\",\"Statement\":[]}'",
            "[[sts.roles]]\nname = \"r\"\narn = \"acs:ram::1:role/r\"\npolicy = '{not json'",
            "[[sts.roles]]\nname = \"r\"\narn = \"acs:ram::1:role/r\"\npolicy = '{\"Version\":\"2\",\"Statement\":[]}'",
            "[[sts.roles]]\nname = \"r\"\narn = \"acs:ram::1:role/r\"\npolicy = '{\"Version\":\"1\",\"Statement\":[]}'\nmax_duration_seconds = 100",
            "[[sts.roles]]\nname = \"r\"\narn = \"acs:ram::1:role/r\"\npolicy = '{\"Version\":\"1\",\"Statement\":[]}'\n\
             [[sts.roles]]\nname = \"r\"\narn = \"acs:ram::1:role/r\"\npolicy = '{\"Version\":\"1\",\"Statement\":[]}'",
        ];
        for text in bad {
            assert!(parse(text, None).is_err(), "{text}");
        }
    }

    #[test]
    fn generated_key_is_kept_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ossd-sts-key-{}", hex::encode(rand::random::<[u8; 6]>())));
        std::fs::create_dir_all(&dir).unwrap();
        let settings = StsSettings { min_duration_seconds: 900, ..Default::default() };
        let (k1, created) = token_key(&dir, &settings).unwrap();
        assert!(created);
        let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (k2, created) = token_key(&dir, &settings).unwrap();
        assert!(!created);
        assert_eq!(k1.secret_for("STS.x"), k2.secret_for("STS.x"));
        // A configured secret is used instead of the file.
        let shared = StsSettings { secret: Some("shared-secret-0123456789".into()), ..settings };
        assert_ne!(token_key(&dir, &shared).unwrap().0.secret_for("STS.x"), k1.secret_for("STS.x"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
