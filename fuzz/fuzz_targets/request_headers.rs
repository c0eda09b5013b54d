//! Range and conditional headers: a range that is satisfiable lies inside the object; HTTP
//! dates and ETag lists parse or are ignored.
//! Input lines: Range, object size, If-Match list, a date.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ossd_proto::request_headers::{RangeRequest, etag_matches, parse_range};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let lines = common::lines(data);
    let range = lines.first().map(String::as_str);
    let size = lines.get(1).and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(1000);
    if let RangeRequest::Part(a, b) = parse_range(range, size) {
        assert!(a <= b && b < size, "{range:?} of {size}: {a}-{b}");
    }
    let _ = etag_matches(lines.get(2).map_or("", String::as_str), "0123abcd");
    let date = lines.get(3).cloned().unwrap_or_default();
    let _ = ossd_proto::timefmt::parse_http_date(&date);
    let _ = ossd_proto::timefmt::parse_iso8601(&date);
});
