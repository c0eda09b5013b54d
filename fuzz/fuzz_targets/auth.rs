//! V1 and V4 signatures, in the Authorization header or a presigned query: any headers and
//! query give an identity, anonymity, or an OSS error; never a panic.
//! Input lines: method, bucket, key, raw query, then `Name: value` headers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ossd_proto::auth::{SignedRequest, authenticate};
use std::time::{Duration, UNIX_EPOCH};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let lines = common::lines(data);
    let method = lines.first().cloned().unwrap_or_default();
    let headers = common::headers(&common::header_lines(lines.get(4..).unwrap_or(&[])));
    let query = ossd_proto::query::Query::parse(lines.get(3).map(String::as_str));
    let req = SignedRequest {
        method: &method,
        bucket: common::non_empty(lines.get(1)),
        key: common::non_empty(lines.get(2)),
        query: &query.0,
        headers: &headers,
    };
    // 2026-11-25T00:50:00Z: the seeds are dated then.
    let now = UNIX_EPOCH + Duration::from_secs(1_795_567_800);
    if let Err(e) = authenticate(&req, now, &common::Secrets) {
        common::assert_oss_error(&e);
    }
    let _ = ossd_proto::auth::v1::string_to_sign(&req, "date");
    let _ = ossd_proto::auth::v4::canonical_request(&req, &[], None, ossd_proto::auth::v4::EmptyValue::Bare);
});
