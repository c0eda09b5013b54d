use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use ossd_callback::sign::{CallbackSigner, string_to_sign};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::{Pkcs1v15Sign, RsaPublicKey};

use crate::common::signer;

#[test]
fn string_to_sign_layout_of_the_spec_example() {
    // callback.md §3.3: "/index.php" + "?id=1&index=2" + "\n" + "bucket=yonghu-test".
    assert_eq!(
        string_to_sign("/index.php", Some("id=1&index=2"), b"bucket=yonghu-test"),
        b"/index.php?id=1&index=2\nbucket=yonghu-test"
    );
    // No query: no '?'. Path decoded, query raw.
    assert_eq!(string_to_sign("/a%20b%2Fc", None, b""), b"/a b/c\n");
    assert_eq!(string_to_sign("/p%C3%BC", Some("q=a%20b"), b"x"), "/pü?q=a%20b\nx".as_bytes());
    assert_eq!(string_to_sign("/p", Some(""), b"x"), b"/p?\nx");
}

/// Independent path: MD5 by hand, `RsaPublicKey::verify` with `Pkcs1v15Sign` (not the
/// crate's `VerifyingKey`), key taken from the published SPKI PEM.
fn independent(pem: &str, manual: &[u8], sig_b64: &str) -> bool {
    let key = RsaPublicKey::from_public_key_pem(pem).unwrap();
    let sig = STANDARD.decode(sig_b64).unwrap();
    key.verify(Pkcs1v15Sign::new::<Md5>(), &Md5::digest(manual), &sig).is_ok()
}

#[test]
fn signature_verifies_independently() {
    let s = signer();
    let pem = s.public_key_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    let sig = s.sign("/index.php", Some("id=1&index=2"), b"bucket=yonghu-test");
    assert!(independent(&pem, b"/index.php?id=1&index=2\nbucket=yonghu-test", &sig));
    assert!(!independent(&pem, b"/index.php?id=1&index=2\nbucket=yonghu-tesT", &sig));
    let sig = s.sign("/cb%20x", None, b"{}");
    assert!(independent(&pem, b"/cb x\n{}", &sig));
    assert!(!independent(&pem, b"/cb%20x\n{}", &sig));
}

#[test]
fn debug_hides_key_material() {
    let d = format!("{:?}", signer());
    assert!(d.contains("CallbackSigner") && d.contains("1024"), "{d}");
    assert!(!d.contains("BEGIN") && d.len() < 80, "{d}");
}

#[test]
fn pem_round_trips_pkcs8_and_pkcs1() {
    use rsa::RsaPrivateKey;
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
    let private = RsaPrivateKey::new(&mut rand::thread_rng(), 512).unwrap();
    let a = CallbackSigner::from_pkcs8_or_pkcs1_pem(&private.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap();
    let b = CallbackSigner::from_pkcs8_or_pkcs1_pem(&private.to_pkcs1_pem(LineEnding::LF).unwrap()).unwrap();
    assert_eq!(a.public_key_pem(), b.public_key_pem());
    assert!(
        CallbackSigner::from_pkcs8_or_pkcs1_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .is_err()
    );
}

#[test]
fn load_or_create_writes_0600_and_reloads() {
    let dir = std::env::temp_dir().join(format!("ossd-callback-test-{}", std::process::id()));
    let path = dir.join("keys").join("callback.pem");
    let _ = std::fs::remove_dir_all(&dir);
    let a = CallbackSigner::load_or_create(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(format!("{a:?}").contains("2048"));
    let b = CallbackSigner::load_or_create(&path).unwrap();
    assert_eq!(a.public_key_pem(), b.public_key_pem());
    // A file that is not a key is an error, and is left alone.
    std::fs::write(&path, "garbage").unwrap();
    let e = CallbackSigner::load_or_create(&path).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// RSASSA-PKCS1-v1_5 is deterministic: OpenSSL's signature (what `sign` now uses) must equal,
/// byte for byte, the one the pure-Rust `rsa` crate computes with the same key over the same
/// string to sign, for a 2048-bit key as served.
#[test]
fn openssl_signature_equals_the_rsa_crates() {
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
    let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let s = CallbackSigner::from_pkcs8_or_pkcs1_pem(&private.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap();
    for (path, query, body) in
        [("/cb", None, &b"{}"[..]), ("/a%20b/%C3%BC", Some("x=1&y=%20"), &[7u8; 5000][..]), ("/p", Some(""), b"")]
    {
        let msg = string_to_sign(path, query, body);
        let expected = private.sign(Pkcs1v15Sign::new::<Md5>(), &Md5::digest(&msg)).unwrap();
        assert_eq!(STANDARD.decode(s.sign(path, query, body)).unwrap(), expected, "{path} {query:?}");
    }
}
