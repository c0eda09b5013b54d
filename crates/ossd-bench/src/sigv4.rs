//! AWS Signature Version 4 for path-style S3 requests, payload unsigned (`UNSIGNED-PAYLOAD`),
//! so large bodies are never hashed by the client.

use crate::client::uri_encode;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Adds `x-amz-date`, `x-amz-content-sha256` and `Authorization` to `headers`. `path` is the
/// already-encoded request path; `query` holds the raw pairs.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    headers: &mut HeaderMap,
    method: &str,
    path: &str,
    query: &[(String, String)],
    host: &str,
    access_key_id: &str,
    secret: &str,
    region: &str,
) {
    let now = time::OffsetDateTime::now_utc();
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let day = &amz_date[..8];
    headers.insert("x-amz-date", HeaderValue::from_str(&amz_date).expect("ascii"));
    headers.insert("x-amz-content-sha256", HeaderValue::from_static("UNSIGNED-PAYLOAD"));

    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(k, v)| (uri_encode(k, true), uri_encode(v, true))).collect();
    pairs.sort();
    let canonical_query = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");

    let mut signed: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            n == "host" || n.starts_with("x-amz-") || n == "content-md5" || n == "content-type"
        })
        .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("").trim().to_string()))
        .collect();
    if !signed.iter().any(|(n, _)| n == "host") {
        signed.push(("host".into(), host.to_string()));
    }
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = signed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");

    let canonical_request =
        format!("{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD");
    let scope = format!("{day}/{region}/s3/aws4_request");
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), day);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, "s3");
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex::encode(hmac(&k_signing, &string_to_sign));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&authorization).expect("ascii"));
}
