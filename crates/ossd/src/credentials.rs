//! Root credentials: from `OSSD_ACCESS_KEY_ID` / `OSSD_ACCESS_KEY_SECRET` (or
//! `OSSD_ACCESS_KEY_SECRET_FILE`, a file holding the secret), or created on first start and kept
//! in the data directory (mode 0600). Never from argv, which every local user can read.

use ossd_server::credentials::RootCredentials;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

#[derive(Serialize, Deserialize)]
struct Stored {
    access_key_id: String,
    access_key_secret: String,
}

/// Writes a file readable only by its owner, atomically (temp file + rename).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len).map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char).collect()
}

/// Returns the root credentials and whether they were just created (to print them once).
pub fn load_or_create(data: &Path) -> Result<(RootCredentials, bool), String> {
    let id = std::env::var("OSSD_ACCESS_KEY_ID").ok().filter(|s| !s.is_empty());
    let secret = match std::env::var_os("OSSD_ACCESS_KEY_SECRET_FILE").filter(|p| !p.is_empty()) {
        Some(path) => Some(crate::config::read_secret_file(Path::new(&path))?),
        None => std::env::var("OSSD_ACCESS_KEY_SECRET").ok(),
    }
    .filter(|s| !s.is_empty());
    match (id, secret) {
        (Some(access_key_id), Some(access_key_secret)) => {
            return Ok((RootCredentials { access_key_id, access_key_secret }, false));
        }
        (None, None) => {}
        _ => return Err("set both OSSD_ACCESS_KEY_ID and OSSD_ACCESS_KEY_SECRET (or _FILE), or neither".into()),
    }
    let path = data.join("credentials.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let s: Stored = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok((RootCredentials { access_key_id: s.access_key_id, access_key_secret: s.access_key_secret }, false));
    }
    let s = Stored {
        access_key_id: format!(
            "LTAI{}",
            random_string(20, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        ),
        access_key_secret: random_string(30, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
    };
    let json = serde_json::to_vec_pretty(&s).map_err(|e| e.to_string())?;
    write_private(&path, &json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((RootCredentials { access_key_id: s.access_key_id, access_key_secret: s.access_key_secret }, true))
}
