//! Bucket and object name rules (oss-api.md §4 "Names and limits").

use crate::error::OssError;

/// Longest object key in bytes.
pub const MAX_KEY_BYTES: usize = 1023;

/// 3-63 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
pub fn is_valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub fn check_bucket_name(name: &str) -> Result<(), OssError> {
    if is_valid_bucket_name(name) { Ok(()) } else { Err(OssError::invalid_bucket_name(name)) }
}

/// 1-1023 bytes of UTF-8, not starting with `/` or `\`, no NUL. Keys are never file names, so
/// `..` and the like are ordinary keys.
pub fn check_object_key(key: &str) -> Result<(), OssError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && !key.starts_with('/')
        && !key.starts_with('\\')
        && !key.contains('\0');
    if ok { Ok(()) } else { Err(OssError::invalid_object_name(key)) }
}

/// A Content-Type guessed from the key's extension, else `application/octet-stream` (what a
/// PostObject form without a Content-Type field stores; other writes take the header or binary).
pub fn content_type_for_key(key: &str) -> &'static str {
    mime_guess::from_path(key).first_raw().unwrap_or("application/octet-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["abc", "a-b-c", "0bucket9", &"a".repeat(63)] {
            assert!(is_valid_bucket_name(good), "{good}");
        }
        for bad in ["ab", "-abc", "abc-", "ABC", "a_b", "a.b", &"a".repeat(64), "_ossd"] {
            assert!(!is_valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn object_keys() {
        assert!(check_object_key("../../etc/passwd").is_ok());
        assert!(check_object_key(&"é".repeat(511)).is_ok()); // 1022 bytes
        assert!(check_object_key(&"a".repeat(1023)).is_ok());
        assert!(check_object_key(&"a".repeat(1024)).is_err());
        assert!(check_object_key("/abs").is_err());
        assert!(check_object_key("").is_err());
    }
}

/// The account id shown as `<Owner><ID>`: 16 digits derived one-way from the root AccessKeyId,
/// like OSS's numeric uid. Listings (anonymous ones included) must never show a credential.
pub fn owner_account_id(root_access_key_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("ossd-owner:{root_access_key_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!("{:016}", u64::from_be_bytes(first) % 10_000_000_000_000_000)
}

#[cfg(test)]
mod owner_tests {
    #[test]
    fn owner_id_is_numeric_stable_and_not_the_key() {
        let id = super::owner_account_id("LTAIexample");
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(id, super::owner_account_id("LTAIexample"));
        assert_ne!(id, super::owner_account_id("LTAIother"));
    }
}
