//! Explanations for `ossd callbacks show`: the common mistakes that can be read off a logged
//! callback (its `callback` parameter, the body sent, and the attempts), each as one sentence
//! that says what happened and what to change.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::deliver::Attempt;
use crate::spec::{BodyType, CallbackSpec};

/// The mistakes visible in one logged callback, most fundamental first; empty when none is.
pub fn diagnose(callback_param: &str, body: &[u8], attempts: &[Attempt]) -> Vec<String> {
    let mut out = Vec::new();
    let template = STANDARD
        .decode(callback_param.trim())
        .ok()
        .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
        .and_then(|v| v.get("callbackBody").and_then(|b| b.as_str()).map(str::to_string));
    if let Some(t) = &template
        && let Some(at) = find_ascii_ci(t, "%24%7B")
    {
        let sample: String = t[at..].chars().take(24).collect();
        out.push(format!(
            "The callbackBody holds a percent-encoded variable ({sample}...): the client URL-encoded \
             the template, so `${{...}}` was never substituted and the receiver got the text literally. \
             Put the template into the callback JSON as plain text; OSS encodes the values itself."
        ));
    }
    if let Ok(spec) = CallbackSpec::decode(callback_param) {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_start();
        match spec.body_type {
            BodyType::Json => {
                if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                    if looks_like_form(trimmed) {
                        out.push(
                            "Content-Type mismatch: callbackBodyType is application/json but the body is \
                             form-encoded (key=value&...). Either write a JSON template or drop callbackBodyType."
                                .to_string(),
                        );
                    } else {
                        out.push(format!(
                            "The body sent is not valid JSON after substitution ({e}). Check the quoting in the \
                             template: a variable inside a string is written \"${{object}}\", and a literal `\"` \
                             needs escaping in the callback JSON."
                        ));
                    }
                }
            }
            BodyType::FormUrlEncoded => {
                if trimmed.starts_with('{') || trimmed.starts_with('[') {
                    out.push(
                        "Content-Type mismatch: the body is JSON but it was sent as \
                         application/x-www-form-urlencoded (the default callbackBodyType). A receiver that \
                         parses a form sees no fields; set \"callbackBodyType\":\"application/json\"."
                            .to_string(),
                    );
                }
            }
        }
    }
    for a in attempts {
        out.extend(explain_attempt(a));
    }
    out
}

fn explain_attempt(a: &Attempt) -> Option<String> {
    let url = &a.url;
    let status = a.status?;
    let ct = a.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
    if (300..400).contains(&status) {
        let to = a.location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default();
        return Some(format!(
            "{url} answered a redirect ({status}){to}. OSS does not follow redirects: use the final URL \
             (often https:// instead of http://, or a trailing slash) as callbackUrl."
        ));
    }
    if status == 405 {
        return Some(format!("{url} answered 405: the receiver's route does not accept POST, and OSS always POSTs."));
    }
    if status != 200 {
        return None;
    }
    let head = a.answer_head.as_deref().unwrap_or("");
    if a.error.is_some() && !head.is_empty() {
        let start = head.trim_start();
        if head.starts_with('\u{feff}') {
            return Some(format!(
                "{url} answered 200 with a byte-order mark before the JSON; OSS refuses that. Save or print \
                 the response without a BOM."
            ));
        }
        if ct.starts_with("text/html") || start.starts_with('<') {
            return Some(format!(
                "{url} answered 200 with HTML ({}), not JSON: probably an error or login page of a framework \
                 or proxy in front of the receiver. The receiver must answer a JSON body such as {{\"Status\":\"OK\"}}.",
                if ct.is_empty() { "no Content-Type" } else { ct.as_str() }
            ));
        }
        let shown: String = start.chars().take(40).collect();
        return Some(format!(
            "{url} answered 200 with a body that is not JSON ({shown:?}). OSS accepts only a JSON body; \
             answer e.g. {{\"Status\":\"OK\"}} with Content-Type: application/json."
        ));
    }
    if a.error.is_none() && !ct.is_empty() && !ct.starts_with("application/json") {
        return Some(format!(
            "Content-Type mismatch: {url} answered JSON labelled {ct}. OSS accepted it, but the uploader gets \
             it as application/json; label it application/json."
        ));
    }
    None
}

fn looks_like_form(s: &str) -> bool {
    !s.starts_with('{') && !s.starts_with('[') && s.contains('=')
}

fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.to_ascii_lowercase().find(&needle.to_ascii_lowercase())
}
