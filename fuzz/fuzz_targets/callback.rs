//! Callback parameters (`x-oss-callback`, `x-oss-callback-var`, or the query) and rendering:
//! any input is a spec, no callback, or an OSS error; a spec renders for any upload.
//! Input lines: `header` or `query`, the callback JSON, the callback-var JSON (optional), the
//! object key. JSON that starts with `b64:` is passed as it is (not valid base64 maybe).
#![no_main]
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use ossd_callback::render::{SystemVars, render};
use ossd_callback::spec::{CallbackConfig, CallbackParams};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let lines = common::lines(data);
    let b64 = |s: &str| match s.strip_prefix("b64:") {
        Some(raw) => raw.to_string(),
        None => base64::engine::general_purpose::STANDARD.encode(s),
    };
    let cb = b64(lines.get(1).map_or("", String::as_str));
    let var = common::non_empty(lines.get(2)).map(b64);
    let (mut header_pairs, mut query) = (Vec::new(), Vec::new());
    if lines.first().is_some_and(|l| l == "query") {
        query.push(("callback".to_string(), cb));
        query.extend(var.map(|v| ("callback-var".to_string(), v)));
    } else {
        header_pairs.push(("x-oss-callback".to_string(), cb));
        header_pairs.extend(var.map(|v| ("x-oss-callback-var".to_string(), v)));
    }
    let headers = common::headers(&header_pairs);
    let params = match CallbackParams::from_request(&headers, &query) {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => return common::assert_oss_error(&e),
    };
    match params.decode() {
        Ok((CallbackConfig::Spec(spec), vars)) => {
            assert!((1..=5).contains(&spec.urls.len()), "{} urls", spec.urls.len());
            let object = lines.get(3).cloned().unwrap_or_default();
            let sys = SystemVars { bucket: "b".into(), object, size: 5, etag: "E".into(), ..Default::default() };
            // Rendering is deterministic (no state carried between uploads).
            assert_eq!(render(&spec, &sys, &vars), render(&spec, &sys, &vars));
        }
        // A named bucket policy, or no callback at all: nothing to render here.
        Ok((CallbackConfig::Policy(_) | CallbackConfig::NotConfigured, _)) => {}
        Err(e) => common::assert_oss_error(&e),
    }
});
