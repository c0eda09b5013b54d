//! RAM policy documents (AssumeRole `Policy`, role configuration): refused, or evaluated for
//! any action, resource and request context; parsing is deterministic.
//! Input lines: action, bucket, key, oss:Prefix, then the policy JSON (the rest).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ossd_proto::ram::{Context, Policy, Resource};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let lines = common::lines(data);
    let text = lines.get(4..).map(|l| l.join("\n")).unwrap_or_default();
    let Ok(policy) = Policy::parse_str(&text) else { return };
    assert_eq!(policy, Policy::parse_str(&text).expect("parses twice"));
    let get = |i: usize| lines.get(i).cloned().unwrap_or_default();
    let ctx = Context {
        source_ip: Some("10.1.2.3".parse().expect("ip")),
        prefix: common::non_empty(lines.get(3)).map(str::to_string),
        user_agent: Some("fuzz".into()),
        ..Context::default()
    };
    for resource in [
        Resource::service("cn-hangzhou", "1"),
        Resource::bucket("cn-hangzhou", "1", &get(1)),
        Resource::object("cn-hangzhou", "1", &get(1), &get(2)),
    ] {
        let _ = policy.evaluate(&get(0), &resource, &ctx);
    }
});
