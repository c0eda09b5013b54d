//! Shared by the fuzz targets: building request parts from fuzzer strings, and the property
//! that every refusal is a well-formed OSS error.
#![allow(dead_code)]

use ossd_proto::OssError;
use ossd_proto::auth::SecretLookup;

/// Header map from fuzzer pairs; pairs that are no valid header are skipped (hyper refuses
/// them before ossd sees the request).
pub fn headers(pairs: &[(String, String)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs.iter().take(32) {
        if let (Ok(n), Ok(v)) =
            (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_bytes(value.as_bytes()))
        {
            map.append(n, v);
        }
    }
    map
}

/// An error a client may be shown: a 4xx/5xx status, a code, and XML that renders.
pub fn assert_oss_error(e: &OssError) {
    assert!((300..600).contains(&e.status) || e.status == 203, "status {}", e.status);
    assert!(!e.code.is_empty());
    let xml = e.to_xml("RID", "host");
    assert!(xml.starts_with("<?xml") && xml.contains("<Code>"), "{xml}");
}

/// Every key has the secret "secret"; a key starting with "bad" does not exist.
pub struct Secrets;

impl SecretLookup for Secrets {
    fn secret_for(&self, access_key_id: &str, _token: Option<&str>) -> Result<String, OssError> {
        if access_key_id.starts_with("bad") {
            Err(OssError::invalid_access_key_id(access_key_id))
        } else {
            Ok("secret".into())
        }
    }
}

/// Seeds are readable text: the input's lines, as lossy UTF-8 (`\r` kept inside lines).
pub fn lines(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data).split('\n').map(str::to_string).collect()
}

/// `Name: value` lines as header pairs.
pub fn header_lines(lines: &[String]) -> Vec<(String, String)> {
    lines.iter().filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect()
}

pub fn non_empty(s: Option<&String>) -> Option<&str> {
    s.map(String::as_str).filter(|s| !s.is_empty())
}
