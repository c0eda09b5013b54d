//! PostObject form-upload signatures (spec oss-api.md §2). Both versions sign the `policy`
//! form field exactly as sent, i.e. the base64 text, not the decoded JSON. Checking the
//! policy's expiration and conditions is the server's job; this only answers "did the
//! holder of this secret sign this policy".

use super::signatures_equal;
use super::v4::signing_key;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub use super::v4::{Credential, check_scope, parse_credential};

/// V1: base64(HMAC-SHA1(secret, policy)).
pub fn sign_v1(policy_b64: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(policy_b64.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// V4: hex(HMAC-SHA256(V4 signing key for date/region/oss, policy)).
pub fn sign_v4(policy_b64: &str, secret: &str, date_yyyymmdd: &str, region: &str) -> String {
    super::v4::sign(&signing_key(secret, date_yyyymmdd, region, "oss"), policy_b64)
}

/// Whether `signature_b64` (the `Signature` field) signs `policy_b64` (the `policy` field).
pub fn verify_v1(policy_b64: &str, signature_b64: &str, secret: &str) -> bool {
    signatures_equal(&sign_v1(policy_b64, secret), signature_b64.trim())
}

/// Whether `signature_hex` (the `x-oss-signature` field) signs `policy_b64`; date and
/// region come from the `x-oss-credential` field (see [`parse_credential`]).
pub fn verify_v4(policy_b64: &str, signature_hex: &str, secret: &str, date_yyyymmdd: &str, region: &str) -> bool {
    let provided = signature_hex.trim().to_ascii_lowercase();
    signatures_equal(&sign_v4(policy_b64, secret, date_yyyymmdd, region), &provided)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    const POLICY: &str = "eyJleHBpcmF0aW9uIjoiMjAzMC0wMS0wMVQwMDowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W1siY29udGVudC1sZW5ndGgtcmFuZ2UiLDAsMTA0ODU3NjAwMF1dfQ==";

    #[test]
    fn v1_policy_signatures() {
        let good = hmac_sha1_b64(SECRET, POLICY);
        // (policy, signature, secret, expected)
        let cases: &[(&str, &str, &str, bool)] = &[
            (POLICY, &good, SECRET, true),
            (POLICY, &good, "other-secret", false),
            (&POLICY[1..], &good, SECRET, false),
            (POLICY, &good[1..], SECRET, false),
            (POLICY, "", SECRET, false),
        ];
        for (policy, signature, secret, expected) in cases {
            assert_eq!(verify_v1(policy, signature, secret), *expected, "{signature}");
        }
        assert_eq!(sign_v1(POLICY, SECRET), good);
    }

    #[test]
    fn v4_policy_signatures() {
        let good = v4_signature_independent(SECRET, "20261125", "cn-hangzhou", POLICY);
        // (signature, date, region, expected)
        let upper = good.to_ascii_uppercase();
        let cases: &[(&str, &str, &str, bool)] = &[
            (&good, "20261125", "cn-hangzhou", true),
            (&upper, "20261125", "cn-hangzhou", true),
            (&good, "20261126", "cn-hangzhou", false),
            (&good, "20261125", "cn-beijing", false),
            (&good[..63], "20261125", "cn-hangzhou", false),
        ];
        for (signature, date, region, expected) in cases {
            assert_eq!(verify_v4(POLICY, signature, SECRET, date, region), *expected, "{date} {region}");
        }
        let credential = parse_credential("ak/20261125/cn-hangzhou/oss/aliyun_v4_request").unwrap();
        assert!(check_scope(&credential).is_ok());
        assert_eq!((credential.date.as_str(), credential.region.as_str()), ("20261125", "cn-hangzhou"));
    }
}
