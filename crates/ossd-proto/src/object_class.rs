//! Object storage classes and RestoreObject, server-side encryption headers and the bucket's
//! default encryption rule, and symlink targets: OSS's values, their validation and their wire
//! forms (pure; the handlers apply them).

use crate::error::OssError;
use crate::timefmt::http_date;
use crate::xml::XmlWriter;
use serde::Deserialize;

pub const STORAGE_CLASSES: &[&str] = &["Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"];

/// The class named by `x-oss-storage-class` (exact spelling, as OSS compares it).
pub fn parse_storage_class(v: &str) -> Result<&'static str, OssError> {
    STORAGE_CLASSES.iter().find(|c| **c == v).copied().ok_or_else(|| {
        OssError::new(400, "InvalidStorageClass", "The storage class you specified is not valid.")
            .with("ArgumentName", "x-oss-storage-class")
            .with("ArgumentValue", v)
    })
}

/// Classes whose objects must be restored before their bytes can be read.
pub fn needs_restore(class: &str) -> bool {
    matches!(class, "Archive" | "ColdArchive" | "DeepColdArchive")
}

/// 403 for reading an archived object that is not restored.
pub fn invalid_object_state() -> OssError {
    OssError::new(403, "InvalidObjectState", "The operation is not valid for the object's state")
}

/// `x-oss-restore` (and `RestoreInfo` in listings) for a restore that is ongoing, or done and
/// readable until `expiry_ms`.
pub fn restore_header(ongoing: bool, expiry_ms: i64) -> String {
    if ongoing {
        "ongoing-request=\"true\"".to_string()
    } else {
        format!("ongoing-request=\"false\", expiry-date=\"{}\"", http_date(expiry_ms))
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct RestoreRequest {
    #[serde(rename = "Days", default)]
    pub days: Option<String>,
    #[serde(rename = "JobParameters", default)]
    pub job_parameters: Option<JobParameters>,
}

#[derive(Debug, Deserialize, Default)]
pub struct JobParameters {
    #[serde(rename = "Tier", default)]
    pub tier: Option<String>,
}

/// A validated RestoreObject request: days the restored copy stays readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restore {
    pub days: u32,
}

/// Validates the optional RestoreRequest body for an object of `class` (OSS: Archive 1-7 days,
/// the cold classes 1-365; `Tier` Expedited, Standard or Bulk for ColdArchive, Expedited or
/// Standard for DeepColdArchive).
pub fn parse_restore(body: &str, class: &str) -> Result<Restore, OssError> {
    let req: RestoreRequest = if body.trim().is_empty() { RestoreRequest::default() } else { crate::xml::parse(body)? };
    let max = if class == "Archive" { 7 } else { 365 };
    let days = match req.days.as_deref().map(str::trim) {
        None | Some("") => 1,
        Some(d) => d.parse::<u32>().ok().filter(|d| (1..=max).contains(d)).ok_or_else(|| {
            OssError::malformed_xml(format!("The restore days must be between 1 and {max}."))
                .with("ArgumentName", "Days")
                .with("ArgumentValue", d)
        })?,
    };
    if let Some(tier) = req.job_parameters.and_then(|j| j.tier) {
        let ok = match class {
            "ColdArchive" => matches!(tier.as_str(), "Expedited" | "Standard" | "Bulk"),
            "DeepColdArchive" => matches!(tier.as_str(), "Expedited" | "Standard"),
            _ => true,
        };
        if !ok {
            return Err(OssError::malformed_xml("The restore tier is not valid.")
                .with("ArgumentName", "Tier")
                .with("ArgumentValue", tier));
        }
    }
    Ok(Restore { days })
}

/// 400 for RestoreObject on an object that is not archived.
pub fn restore_not_supported() -> OssError {
    OssError::new(400, "OperationNotSupported", "The operation is not supported for this resource")
}

/// 409 while an earlier restore is still running.
pub fn restore_in_progress() -> OssError {
    OssError::new(409, "RestoreAlreadyInProgress", "The restore operation is in progress.")
}

/// Server-side encryption as OSS names it: `(algorithm, KMS key id, data encryption)`, empty
/// strings where absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sse {
    pub algorithm: String,
    pub key_id: String,
    pub data_encryption: String,
}

fn invalid_sse(name: &str, value: &str) -> OssError {
    OssError::new(
        400,
        "InvalidEncryptionAlgorithmError",
        "The Encryption request you specified is not valid. Supported value: AES256/KMS/SM4",
    )
    .with("ArgumentName", name)
    .with("ArgumentValue", value)
}

/// Validates one encryption triple, whether from headers or a bucket's rule.
pub fn check_sse(algorithm: &str, key_id: &str, data_encryption: &str, names: [&str; 3]) -> Result<Sse, OssError> {
    if !matches!(algorithm, "AES256" | "KMS" | "SM4") {
        return Err(invalid_sse(names[0], algorithm));
    }
    if !key_id.is_empty() && algorithm != "KMS" {
        return Err(OssError::invalid_argument(format!("{} is only allowed with KMS.", names[1]))
            .with("ArgumentName", names[1])
            .with("ArgumentValue", key_id));
    }
    if !data_encryption.is_empty() && (algorithm != "KMS" || data_encryption != "SM4") {
        return Err(OssError::invalid_argument(format!("{} is not valid.", names[2]))
            .with("ArgumentName", names[2])
            .with("ArgumentValue", data_encryption));
    }
    Ok(Sse { algorithm: algorithm.into(), key_id: key_id.into(), data_encryption: data_encryption.into() })
}

pub const SSE_HEADERS: [&str; 3] =
    ["x-oss-server-side-encryption", "x-oss-server-side-encryption-key-id", "x-oss-server-side-data-encryption"];

/// The encryption a write asks for through its headers (`None`: no `x-oss-server-side-encryption`;
/// the other two are refused without it).
pub fn sse_from_headers(get: impl Fn(&str) -> Option<String>) -> Result<Option<Sse>, OssError> {
    let [a, k, d] = SSE_HEADERS.map(|n| get(n).unwrap_or_default());
    if a.is_empty() {
        if let Some((n, v)) = [(SSE_HEADERS[1], &k), (SSE_HEADERS[2], &d)].into_iter().find(|(_, v)| !v.is_empty()) {
            return Err(OssError::invalid_argument(format!("{n} requires x-oss-server-side-encryption."))
                .with("ArgumentName", n)
                .with("ArgumentValue", v.as_str()));
        }
        return Ok(None);
    }
    check_sse(&a, &k, &d, SSE_HEADERS).map(Some)
}

/// The response headers for an object's encryption.
pub fn sse_response_headers(s: &Sse) -> Vec<(&'static str, &str)> {
    let mut h = Vec::new();
    if s.algorithm.is_empty() {
        return h;
    }
    h.push((SSE_HEADERS[0], s.algorithm.as_str()));
    if s.algorithm == "KMS" {
        if !s.key_id.is_empty() {
            h.push((SSE_HEADERS[1], s.key_id.as_str()));
        }
        if !s.data_encryption.is_empty() {
            h.push((SSE_HEADERS[2], s.data_encryption.as_str()));
        }
    }
    h
}

#[derive(Debug, Deserialize)]
struct ServerSideEncryptionRule {
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    apply: ApplyByDefault,
}

#[derive(Debug, Deserialize)]
struct ApplyByDefault {
    #[serde(rename = "SSEAlgorithm", default)]
    algorithm: String,
    #[serde(rename = "KMSMasterKeyID", default)]
    key_id: Option<String>,
    #[serde(rename = "KMSDataEncryption", default)]
    data_encryption: Option<String>,
}

/// Parses a PutBucketEncryption body.
pub fn parse_bucket_encryption(body: &str) -> Result<Sse, OssError> {
    let rule: ServerSideEncryptionRule = crate::xml::parse(body)?;
    let a = rule.apply;
    check_sse(
        a.algorithm.trim(),
        a.key_id.as_deref().unwrap_or("").trim(),
        a.data_encryption.as_deref().unwrap_or("").trim(),
        ["SSEAlgorithm", "KMSMasterKeyID", "KMSDataEncryption"],
    )
}

/// The GetBucketEncryption answer.
pub fn bucket_encryption_xml(s: &Sse) -> String {
    let mut w = XmlWriter::new();
    w.open("ServerSideEncryptionRule").open("ApplyServerSideEncryptionByDefault");
    w.elem("SSEAlgorithm", &s.algorithm);
    if s.algorithm == "KMS" {
        w.elem("KMSMasterKeyID", &s.key_id);
        if !s.data_encryption.is_empty() {
            w.elem("KMSDataEncryption", &s.data_encryption);
        }
    }
    w.close("ApplyServerSideEncryptionByDefault").close("ServerSideEncryptionRule");
    w.finish()
}

/// 404 for GetBucketEncryption without a rule.
pub fn no_encryption_rule(bucket: &str) -> OssError {
    OssError::new(404, "NoSuchServerSideEncryptionRule", "The server side encryption configuration was not found")
        .with("BucketName", bucket)
}

/// Decodes `x-oss-symlink-target` (oss2 and ali-oss send it percent-encoded; a raw UTF-8
/// value without `%` decodes to itself).
pub fn decode_symlink_target(raw: &[u8]) -> Result<String, OssError> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        OssError::invalid_argument("The symlink target is not valid UTF-8.")
            .with("ArgumentName", "x-oss-symlink-target")
    })?;
    let decoded = percent_decode(text).ok_or_else(|| {
        OssError::invalid_argument("The symlink target is not valid.")
            .with("ArgumentName", "x-oss-symlink-target")
            .with("ArgumentValue", text)
    })?;
    if decoded.is_empty() {
        return Err(OssError::new(400, "MissingArgument", "Missing Some Required Arguments.")
            .with("ArgumentName", "x-oss-symlink-target"));
    }
    crate::names::check_object_key(&decoded)?;
    Ok(decoded)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `x-oss-symlink-target` as OSS answers it: percent-encoded UTF-8 (unreserved characters and
/// `/` kept), which oss2 and ali-oss decode.
pub fn encode_symlink_target(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for b in target.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// 400 for GetSymlink on an object that is not a symlink.
pub fn not_symlink() -> OssError {
    OssError::new(400, "NotSymlink", "The specified object is not a symlink.")
}

/// 404 for reading a symlink whose target is gone (EC 0026-00000012).
pub fn dangling_symlink(key: &str) -> OssError {
    OssError::no_such_key(key).with_ec("0026-00000012")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_classes() {
        assert_eq!(parse_storage_class("IA").unwrap(), "IA");
        assert_eq!(parse_storage_class("archive").unwrap_err().code, "InvalidStorageClass");
        assert!(needs_restore("ColdArchive") && !needs_restore("IA"));
    }

    #[test]
    fn restore_requests() {
        assert_eq!(parse_restore("", "Archive").unwrap().days, 1);
        let b = "<RestoreRequest><Days>3</Days><JobParameters><Tier>Bulk</Tier></JobParameters></RestoreRequest>";
        assert_eq!(parse_restore(b, "ColdArchive").unwrap().days, 3);
        assert!(parse_restore(b, "DeepColdArchive").is_err());
        assert!(parse_restore("<RestoreRequest><Days>8</Days></RestoreRequest>", "Archive").is_err());
        assert_eq!(parse_restore("<RestoreRequest><Days>30</Days></RestoreRequest>", "ColdArchive").unwrap().days, 30);
        assert_eq!(restore_header(true, 0), "ongoing-request=\"true\"");
        assert!(restore_header(false, 0).starts_with("ongoing-request=\"false\", expiry-date=\"Thu, 01 Jan 1970"));
    }

    #[test]
    fn sse_headers() {
        let h = |a: &'static str, k: &'static str, d: &'static str| {
            move |n: &str| {
                let v = match n {
                    "x-oss-server-side-encryption" => a,
                    "x-oss-server-side-encryption-key-id" => k,
                    _ => d,
                };
                (!v.is_empty()).then(|| v.to_string())
            }
        };
        assert_eq!(sse_from_headers(h("", "", "")).unwrap(), None);
        assert_eq!(sse_from_headers(h("KMS", "k1", "SM4")).unwrap().unwrap().key_id, "k1");
        assert_eq!(sse_from_headers(h("DES", "", "")).unwrap_err().code, "InvalidEncryptionAlgorithmError");
        assert!(sse_from_headers(h("AES256", "k1", "")).is_err());
        assert!(sse_from_headers(h("", "k1", "")).is_err());
        assert!(sse_from_headers(h("AES256", "", "SM4")).is_err());
    }

    #[test]
    fn bucket_rules() {
        let b = "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm>\
                 <KMSMasterKeyID>id</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
        let s = parse_bucket_encryption(b).unwrap();
        assert_eq!((s.algorithm.as_str(), s.key_id.as_str()), ("KMS", "id"));
        assert!(bucket_encryption_xml(&s).contains("<KMSMasterKeyID>id</KMSMasterKeyID>"));
        assert!(parse_bucket_encryption("<ServerSideEncryptionRule/>").is_err());
    }

    #[test]
    fn symlink_targets() {
        assert_eq!(decode_symlink_target("dir/%E4%BD%A0%20x".as_bytes()).unwrap(), "dir/你 x");
        assert_eq!(decode_symlink_target("dir/你".as_bytes()).unwrap(), "dir/你");
        assert_eq!(encode_symlink_target("dir/你 x"), "dir/%E4%BD%A0%20x");
        assert!(decode_symlink_target(b"").is_err());
        assert!(decode_symlink_target(b"%zz").is_err());
    }
}
