//! V1 signatures (HMAC-SHA1): header `Authorization: OSS ak:sig` and presigned URLs.
//! Spec oss-api.md §1.1 and §1.2.

use super::{
    Identity, SecretLookup, SignatureCarrier, SignatureVersion, SignedRequest, check_not_expired, check_skew,
    header_value, hex_bytes, query_value, security_token, signatures_equal, signed_headers,
};
use crate::error::OssError;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::SystemTime;

/// Query parameters that are part of the V1 CanonicalizedResource: oss2 2.19.1's
/// `ProviderAuth._subresource_key_set`, copied whole. Clients sign exactly the names on
/// their own list, so the server must use the same list; any other parameter (`prefix`,
/// `max-keys`, ...) is not signed.
pub const SIGNED_SUBRESOURCES: &[&str] = &[
    "response-content-type",
    "response-content-language",
    "response-cache-control",
    "logging",
    "response-content-encoding",
    "acl",
    "uploadId",
    "uploads",
    "partNumber",
    "group",
    "link",
    "delete",
    "website",
    "location",
    "objectInfo",
    "objectMeta",
    "response-expires",
    "response-content-disposition",
    "cors",
    "lifecycle",
    "restore",
    "qos",
    "referer",
    "stat",
    "bucketInfo",
    "append",
    "position",
    "security-token",
    "live",
    "comp",
    "status",
    "vod",
    "startTime",
    "endTime",
    "x-oss-process",
    "symlink",
    "callback",
    "callback-var",
    "tagging",
    "encryption",
    "versions",
    "versioning",
    "versionId",
    "policy",
    "requestPayment",
    "x-oss-traffic-limit",
    "qosInfo",
    "asyncFetch",
    "x-oss-request-payer",
    "sequential",
    "inventory",
    "inventoryId",
    "continuation-token",
    "worm",
    "wormId",
    "wormExtend",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "transferAcceleration",
    "cname",
    "metaQuery",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-ac-forward-allow",
    "resourceGroup",
    "style",
    "styleName",
    "x-oss-async-process",
    "regionList",
    "x-oss-write-get-object-response",
    "bucketArchiveDirectRead",
    "httpsConfig",
    "redundancyTransition",
    "x-oss-target-redundancy-type",
    "x-oss-redundancy-transition-taskid",
    "accessPoint",
    "accessPointPolicy",
    "publicAccessBlock",
    "x-oss-access-point-name",
    "requesterQosInfo",
    "qosRequester",
    "resourcePoolInfo",
    "resourcePool",
    "resourcePoolBuckets",
];

pub fn is_signed_subresource(name: &str) -> bool {
    SIGNED_SUBRESOURCES.contains(&name)
}

/// `x-oss-*` headers as `name:value\n`, sorted by name; empty when there are none.
pub fn canonicalized_oss_headers(req: &SignedRequest<'_>) -> String {
    signed_headers(req.headers, |name| name.starts_with("x-oss-"))
        .into_iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect()
}

/// `/bucket/key`, `/bucket/` or `/`, then `?` and the signed sub-resources sorted by name
/// (`k=v` with the decoded value, bare `k` when empty).
pub fn canonicalized_resource(req: &SignedRequest<'_>) -> String {
    let mut resource = match req.bucket {
        Some(bucket) => format!("/{bucket}/{}", req.key.unwrap_or("")),
        None => "/".to_owned(),
    };
    let mut subresources: Vec<&(String, String)> =
        req.query.iter().filter(|(name, _)| is_signed_subresource(name)).collect();
    subresources.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in subresources.into_iter().enumerate() {
        resource.push(if i == 0 { '?' } else { '&' });
        resource.push_str(name);
        if !value.is_empty() {
            resource.push('=');
            resource.push_str(value);
        }
    }
    resource
}

/// VERB, Content-MD5, Content-Type, date (or Expires for a presigned URL), then the OSS
/// headers and the resource.
pub fn string_to_sign(req: &SignedRequest<'_>, date_or_expires: &str) -> String {
    let content_md5 = header_value(req.headers, "content-md5").unwrap_or_default();
    let content_type = header_value(req.headers, "content-type").unwrap_or_default();
    format!(
        "{}\n{}\n{}\n{}\n{}{}",
        req.method,
        content_md5.trim(),
        content_type.trim(),
        date_or_expires,
        canonicalized_oss_headers(req),
        canonicalized_resource(req)
    )
}

/// base64(HMAC-SHA1(secret, string_to_sign)).
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` value for a header-signed V1 request.
pub fn authorization(access_key_id: &str, secret: &str, req: &SignedRequest<'_>, date: &str) -> String {
    format!("OSS {access_key_id}:{}", sign(secret, &string_to_sign(req, date)))
}

/// Verifies `Authorization: OSS <credentials>`, where `credentials` is `ak:signature`.
pub(crate) fn verify_header(
    req: &SignedRequest<'_>,
    credentials: &str,
    now: SystemTime,
    secrets: &dyn SecretLookup,
) -> Result<Identity, OssError> {
    let (access_key_id, signature) = credentials
        .split_once(':')
        .filter(|(ak, sig)| !ak.is_empty() && !sig.is_empty())
        .ok_or_else(|| OssError::invalid_argument("Authorization header is invalid."))?;
    let date = request_date(req)?;
    check_skew(&date, parse_date(&date)?, now)?;
    let token = security_token(req, None);
    let secret = secrets.secret_for(access_key_id, token.as_deref())?;
    verify_signature(req, &date, &secret, access_key_id, signature)?;
    Ok(identity(access_key_id, token, SignatureCarrier::Header))
}

/// Verifies `?OSSAccessKeyId=..&Expires=..&Signature=..`; the token is the signed
/// sub-resource `security-token`.
pub(crate) fn verify_presigned(
    req: &SignedRequest<'_>,
    now: SystemTime,
    secrets: &dyn SecretLookup,
) -> Result<Identity, OssError> {
    let access_key_id = query_value(req.query, "OSSAccessKeyId").unwrap_or_default();
    let signature = query_value(req.query, "Signature").unwrap_or_default();
    let expires = query_value(req.query, "Expires")
        .ok_or_else(|| OssError::access_denied("Expires is required in a signed URL."))?;
    let expires_unix: i64 =
        expires.parse().map_err(|_| OssError::access_denied("Expires in the signed URL is not a number."))?;
    check_not_expired(expires_unix, now)?;
    let token = security_token(req, Some("security-token"));
    let secret = secrets.secret_for(access_key_id, token.as_deref())?;
    verify_signature(req, expires, &secret, access_key_id, signature)?;
    Ok(identity(access_key_id, token, SignatureCarrier::PresignedUrl))
}

/// The date line: `x-oss-date` wins over `Date` (ali-oss sends only `x-oss-date`).
fn request_date(req: &SignedRequest<'_>) -> Result<String, OssError> {
    header_value(req.headers, "x-oss-date")
        .or_else(|| header_value(req.headers, "date"))
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| OssError::access_denied("OSS authentication requires a valid Date."))
}

/// Seconds since the epoch of an HTTP date; ISO 8601 basic is accepted too because some
/// clients put a V4-style `x-oss-date` on V1 requests.
fn parse_date(date: &str) -> Result<i64, OssError> {
    httpdate::parse_http_date(date)
        .ok()
        .map(super::unix_secs)
        .or_else(|| super::v4::parse_iso8601_basic(date))
        .ok_or_else(|| OssError::access_denied("OSS authentication requires a valid Date."))
}

fn verify_signature(
    req: &SignedRequest<'_>,
    date_or_expires: &str,
    secret: &str,
    access_key_id: &str,
    provided: &str,
) -> Result<(), OssError> {
    let string_to_sign = string_to_sign(req, date_or_expires);
    if signatures_equal(&sign(secret, &string_to_sign), provided) {
        return Ok(());
    }
    Err(OssError::signature_does_not_match()
        .with("OSSAccessKeyId", access_key_id)
        .with("SignatureProvided", provided)
        .with("StringToSignBytes", hex_bytes(&string_to_sign))
        .with("StringToSign", string_to_sign))
}

fn identity(access_key_id: &str, security_token: Option<String>, carrier: SignatureCarrier) -> Identity {
    Identity { access_key_id: access_key_id.to_owned(), security_token, version: SignatureVersion::V1, carrier }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::auth::authenticate;

    #[test]
    fn doc_worked_example() {
        let sts = "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\n\
                   x-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson";
        let secret = "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV";
        assert_eq!(sign(secret, sts), "26NBxoKdsyly4EDv6inkoDft/yA=");

        // The same request, canonicalized from its parts.
        let headers = headers(&[
            ("content-md5", "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM="),
            ("content-type", "text/html"),
            ("date", "Thu, 17 Nov 2005 18:49:58 GMT"),
            ("x-oss-meta-author", "foo@bar.com"),
            ("x-oss-magic", "abracadabra"),
            ("host", "oss-example.oss-cn-hangzhou.aliyuncs.com"),
        ]);
        let req = SignedRequest {
            method: "PUT",
            bucket: Some("oss-example"),
            key: Some("nelson"),
            query: &[],
            headers: &headers,
        };
        assert_eq!(string_to_sign(&req, "Thu, 17 Nov 2005 18:49:58 GMT"), sts);
    }

    #[test]
    fn canonicalized_resource_table() {
        // (bucket, key, raw query, expected resource)
        let cases: &[(Option<&str>, Option<&str>, &str, &str)] = &[
            (None, None, "", "/"),
            (Some("b"), None, "", "/b/"),
            (Some("b"), Some("k"), "", "/b/k"),
            (Some("b"), None, "acl", "/b/?acl"),
            (Some("b"), None, "acl=", "/b/?acl"),
            (Some("b"), Some("k"), "uploadId=U1&partNumber=1", "/b/k?partNumber=1&uploadId=U1"),
            (Some("b"), None, "prefix=a&max-keys=10&list-type=2&delimiter=%2F", "/b/"),
            (Some("b"), None, "continuation-token=ct&prefix=p", "/b/?continuation-token=ct"),
            (
                Some("b"),
                Some("k"),
                "response-content-type=text%2Fplain&x-oss-process=image%2Fresize%2Cw_10",
                "/b/k?response-content-type=text/plain&x-oss-process=image/resize,w_10",
            ),
            (Some("b"), Some("k"), "callback=eyJ9&callback-var=eyJ4Ijp9", "/b/k?callback=eyJ9&callback-var=eyJ4Ijp9"),
            (Some("b"), Some("a+b/c d"), "versionId=v%2B1", "/b/a+b/c d?versionId=v+1"),
            (Some("b"), Some("k"), "security-token=T%2Fok&Expires=1&OSSAccessKeyId=a", "/b/k?security-token=T/ok"),
        ];
        for (bucket, key, raw, expected) in cases {
            let query = query(raw);
            let headers = headers(&[]);
            let req = SignedRequest { method: "GET", bucket: *bucket, key: *key, query: &query, headers: &headers };
            assert_eq!(canonicalized_resource(&req), *expected, "query {raw:?}");
        }
    }

    #[test]
    fn every_oss2_subresource_is_listed_once() {
        let mut names: Vec<&str> = SIGNED_SUBRESOURCES.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SIGNED_SUBRESOURCES.len());
        for name in ["callback", "callback-var", "security-token", "x-oss-process", "response-expires", "uploadId"] {
            assert!(is_signed_subresource(name), "{name}");
        }
        for name in ["prefix", "marker", "max-keys", "list-type", "delimiter", "encoding-type", "start-after"] {
            assert!(!is_signed_subresource(name), "{name}");
        }
    }

    /// Header-signed requests: (method, bucket, key, raw query, headers, the string to sign
    /// written out by hand). The signature is computed independently from that string.
    #[test]
    fn header_signed_round_trips() {
        let date = NOW_HTTP;
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a str, &'a [(&'a str, &'a str)], String);
        let cases: &[Case] = &[
            ("GET", None, None, "", &[("date", date)], format!("GET\n\n\n{date}\n/")),
            (
                // ali-oss: only x-oss-date, which is also a signed OSS header.
                "PUT",
                Some("b"),
                Some("dir/a+b.txt"),
                "",
                &[("x-oss-date", date), ("content-type", "text/plain"), ("x-oss-meta-a", "  1 ")],
                format!("PUT\n\ntext/plain\n{date}\nx-oss-date:{date}\nx-oss-meta-a:1\n/b/dir/a+b.txt"),
            ),
            (
                // both dates: x-oss-date wins
                "GET",
                Some("b"),
                Some("k"),
                "",
                &[("date", "Thu, 01 Jan 2026 00:00:00 GMT"), ("x-oss-date", date)],
                format!("GET\n\n\n{date}\nx-oss-date:{date}\n/b/k"),
            ),
            (
                "PUT",
                Some("b"),
                None,
                "acl",
                &[("date", date), ("x-oss-acl", "private")],
                format!("PUT\n\n\n{date}\nx-oss-acl:private\n/b/?acl"),
            ),
            (
                "PUT",
                Some("b"),
                Some("k"),
                "partNumber=1&uploadId=0004B9894A22E5B1888A1E29F823****",
                &[("date", date), ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
                format!(
                    "PUT\n1B2M2Y8AsgTpgAmY7PhCfg==\n\n{date}\n/b/k?partNumber=1&uploadId=0004B9894A22E5B1888A1E29F823****"
                ),
            ),
            (
                "PUT",
                Some("b"),
                Some("k"),
                "callback=eyJjYWxsYmFja1VybCI6IngifQ%3D%3D",
                &[("date", date)],
                format!("PUT\n\n\n{date}\n/b/k?callback=eyJjYWxsYmFja1VybCI6IngifQ=="),
            ),
            (
                "GET",
                Some("b"),
                None,
                "prefix=a%2Bb&max-keys=100&delimiter=",
                &[("date", date)],
                format!("GET\n\n\n{date}\n/b/"),
            ),
        ];
        for (method, bucket, key, raw, hdrs, expected_sts) in cases {
            let signature = hmac_sha1_b64(SECRET, expected_sts);
            let mut hdrs = hdrs.to_vec();
            let auth = format!("OSS {AK}:{signature}");
            hdrs.push(("authorization", &auth));
            let headers = headers(&hdrs);
            let query = query(raw);
            let req = SignedRequest { method, bucket: *bucket, key: *key, query: &query, headers: &headers };
            let secrets = Secrets::default();
            let id = authenticate(&req, now(), &secrets).unwrap_or_else(|e| panic!("{raw}: {e:?}")).unwrap();
            assert_eq!(id.access_key_id, AK);
            assert_eq!((id.version, id.carrier), (SignatureVersion::V1, SignatureCarrier::Header));
            assert_eq!(id.security_token, None);
            assert_eq!(string_to_sign(&req, date), *expected_sts);
        }
    }

    #[test]
    fn header_signed_failures() {
        let date = NOW_HTTP;
        let good_sts = format!("GET\n\n\n{date}\n/b/k");
        let good = hmac_sha1_b64(SECRET, &good_sts);
        let skewed = "Wed, 25 Nov 2026 00:30:00 GMT"; // 20 minutes early
        let skewed_sig = hmac_sha1_b64(SECRET, &format!("GET\n\n\n{skewed}\n/b/k"));
        // (headers, status, code)
        type Headers = Vec<(&'static str, String)>;
        let cases: Vec<(Headers, u16, &str)> = vec![
            (
                vec![("date", date.into()), ("authorization", format!("OSS {AK}:AAAA{good}"))],
                403,
                "SignatureDoesNotMatch",
            ),
            (
                vec![
                    ("date", date.into()),
                    ("authorization", format!("OSS {AK}:{}", hmac_sha1_b64("wrong", &good_sts))),
                ],
                403,
                "SignatureDoesNotMatch",
            ),
            (vec![("date", date.into()), ("authorization", format!("OSS nobody:{good}"))], 403, "InvalidAccessKeyId"),
            (
                vec![("date", skewed.into()), ("authorization", format!("OSS {AK}:{skewed_sig}"))],
                403,
                "RequestTimeTooSkewed",
            ),
            (vec![("authorization", format!("OSS {AK}:{good}"))], 403, "AccessDenied"),
            (vec![("date", "yesterday".into()), ("authorization", format!("OSS {AK}:{good}"))], 403, "AccessDenied"),
            (vec![("date", date.into()), ("authorization", format!("OSS {AK}{good}"))], 400, "InvalidArgument"),
            (vec![("date", date.into()), ("authorization", format!("OSS :{good}"))], 400, "InvalidArgument"),
            (vec![("date", date.into()), ("authorization", format!("AWS {AK}:{good}"))], 400, "InvalidArgument"),
            (
                vec![("date", date.into()), ("authorization", format!("OSS2 AccessKeyId:{AK},Signature:{good}"))],
                400,
                "InvalidArgument",
            ),
        ];
        for (hdrs, status, code) in cases {
            let hdrs: Vec<(&str, &str)> = hdrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let headers = headers(&hdrs);
            let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &[], headers: &headers };
            let err = authenticate(&req, now(), &Secrets::default()).unwrap_err();
            assert_eq!((err.status, err.code), (status, code), "{hdrs:?}");
        }
    }

    #[test]
    fn mismatch_reports_what_was_signed() {
        let headers = headers(&[("date", NOW_HTTP), ("authorization", "OSS ak:bad")]);
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: None, query: &[], headers: &headers };
        let err = authenticate(&req, now(), &Secrets::default()).unwrap_err();
        let sts = format!("GET\n\n\n{NOW_HTTP}\n/b/");
        assert_eq!(extra(&err, "StringToSign"), Some(sts.as_str()));
        assert_eq!(extra(&err, "SignatureProvided"), Some("bad"));
        assert_eq!(extra(&err, "OSSAccessKeyId"), Some("ak"));
        assert!(extra(&err, "StringToSignBytes").unwrap().starts_with("47 45 54 0a 0a 0a 57"));
        assert_eq!(
            err.message,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        );
    }

    #[test]
    fn security_token_header_is_signed_and_passed_on() {
        let sts = format!("GET\n\n\n{NOW_HTTP}\nx-oss-security-token:TOKEN\n/b/k");
        let auth = format!("OSS {STS_AK}:{}", hmac_sha1_b64(STS_SECRET, &sts));
        let headers = headers(&[("date", NOW_HTTP), ("x-oss-security-token", "TOKEN"), ("authorization", &auth)]);
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &[], headers: &headers };
        let secrets = Secrets::default();
        let id = authenticate(&req, now(), &secrets).unwrap().unwrap();
        assert_eq!(id.security_token.as_deref(), Some("TOKEN"));
        assert_eq!(secrets.seen(), vec![(STS_AK.to_owned(), Some("TOKEN".to_owned()))]);
    }

    #[test]
    fn presigned_urls() {
        let expires = (NOW_UNIX + 60).to_string();
        let past = (NOW_UNIX - 1).to_string();
        let sig = |exp: &str, resource: &str| pct(&hmac_sha1_b64(SECRET, &format!("GET\n\n\n{exp}\n{resource}")));
        // (raw query, expected Ok or error code)
        let cases: Vec<(String, Result<(), &str>)> = vec![
            (format!("OSSAccessKeyId={AK}&Expires={expires}&Signature={}", sig(&expires, "/b/k")), Ok(())),
            (
                format!(
                    "response-content-type=text%2Fplain&x-oss-process=image%2Fresize&OSSAccessKeyId={AK}&Expires={expires}&Signature={}",
                    sig(&expires, "/b/k?response-content-type=text/plain&x-oss-process=image/resize")
                ),
                Ok(()),
            ),
            (format!("OSSAccessKeyId={AK}&Expires={past}&Signature={}", sig(&past, "/b/k")), Err("AccessDenied")),
            (
                format!("OSSAccessKeyId={AK}&Expires={expires}&Signature={}", sig(&expires, "/b/other")),
                Err("SignatureDoesNotMatch"),
            ),
            (format!("OSSAccessKeyId={AK}&Signature={}", sig(&expires, "/b/k")), Err("AccessDenied")),
            (format!("OSSAccessKeyId={AK}&Expires={expires}"), Err("InvalidArgument")),
        ];
        for (raw, expected) in cases {
            let query = query(&raw);
            let headers = headers(&[]);
            let req =
                SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &query, headers: &headers };
            let got = authenticate(&req, now(), &Secrets::default());
            match expected {
                Ok(()) => {
                    let id = got.unwrap_or_else(|e| panic!("{raw}: {e:?}")).unwrap();
                    assert_eq!((id.version, id.carrier), (SignatureVersion::V1, SignatureCarrier::PresignedUrl));
                }
                Err(code) => assert_eq!(got.unwrap_err().code, code, "{raw}"),
            }
        }
    }

    #[test]
    fn presigned_expiry_message() {
        let past = (NOW_UNIX - 1).to_string();
        let sig = pct(&hmac_sha1_b64(SECRET, &format!("GET\n\n\n{past}\n/b/k")));
        let query = query(&format!("OSSAccessKeyId={AK}&Expires={past}&Signature={sig}"));
        let headers = headers(&[]);
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &query, headers: &headers };
        let err = authenticate(&req, now(), &Secrets::default()).unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (403, "Request has expired."));
        assert_eq!(extra(&err, "Expires"), Some("2026-11-25T00:50:23.000Z"));
    }

    #[test]
    fn presigned_sts_token_is_a_signed_subresource() {
        let expires = (NOW_UNIX + 60).to_string();
        let sts = format!("GET\n\n\n{expires}\n/b/k?security-token=TOKEN");
        let raw = format!(
            "OSSAccessKeyId={STS_AK}&Expires={expires}&Signature={}&security-token=TOKEN",
            pct(&hmac_sha1_b64(STS_SECRET, &sts))
        );
        let query = query(&raw);
        let headers = headers(&[]);
        let req = SignedRequest { method: "GET", bucket: Some("b"), key: Some("k"), query: &query, headers: &headers };
        let secrets = Secrets::default();
        let id = authenticate(&req, now(), &secrets).unwrap().unwrap();
        assert_eq!(id.security_token.as_deref(), Some("TOKEN"));
        assert_eq!(secrets.seen(), vec![(STS_AK.to_owned(), Some("TOKEN".to_owned()))]);
    }
}
