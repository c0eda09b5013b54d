//! Routing: Host + raw path + query + method + headers to bucket, key and operation.
//! Input lines: Host, raw path, raw query, method, then `Name: value` headers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ossd_proto::route::{VirtualHosts, endpoint, resolve_target};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let lines = common::lines(data);
    let vhosts = VirtualHosts::with_domains(&["oss.test".to_string()])
        .with_cnames(&["cdn.test=pinned".to_string()])
        .expect("valid cname");
    let target = resolve_target(common::non_empty(lines.first()), lines.get(1).map_or("/", String::as_str), &vhosts);
    let query = ossd_proto::query::Query::parse(lines.get(2).map(String::as_str));
    let Ok(method) = http::Method::from_bytes(lines.get(3).map_or("GET", String::as_str).as_bytes()) else { return };
    let headers = common::headers(&common::header_lines(lines.get(4..).unwrap_or(&[])));
    if let Err(e) = endpoint(&method, &target, &query, &headers) {
        common::assert_oss_error(&e);
    }
    if let Some(b) = &target.bucket {
        let _ = ossd_proto::names::check_bucket_name(b).map_err(|e| common::assert_oss_error(&e));
    }
    if let Some(k) = &target.key {
        let _ = ossd_proto::names::check_object_key(k).map_err(|e| common::assert_oss_error(&e));
    }
});
