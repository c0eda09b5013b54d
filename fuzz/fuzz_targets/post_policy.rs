//! PostObject policy documents checked against any form fields: an OSS error or a verdict,
//! and a content-length-range that is ordered.
//! Input lines: the policy JSON (encoded by the target; `b64:` passes it as it is), then
//! `name=value` form fields.
#![no_main]
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use ossd_proto::post_policy::PolicyDocument;
use std::time::{Duration, UNIX_EPOCH};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let lines = common::lines(data);
    let first = lines.first().cloned().unwrap_or_default();
    let encoded = match first.strip_prefix("b64:") {
        Some(raw) => raw.to_string(),
        None => base64::engine::general_purpose::STANDARD.encode(&first),
    };
    let fields: Vec<(String, String)> =
        lines.iter().skip(1).filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let doc = match PolicyDocument::decode(&encoded) {
        Ok(d) => d,
        Err(e) => return common::assert_oss_error(&e),
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_795_567_800);
    if let Err(e) = doc.check_expiration(now) {
        common::assert_oss_error(&e);
    }
    let lookup = |name: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    if let Err(e) = doc.check_fields(lookup) {
        common::assert_oss_error(&e);
    }
    if let Some((lo, hi)) = doc.content_length_range() {
        assert!(lo <= hi, "content-length-range {lo} > {hi}");
    }
});
