use ossd_callback::deliver::Attempt;
use ossd_callback::diagnose::diagnose;

use crate::common::b64;

fn attempt(status: Option<u16>, error: Option<&str>) -> Attempt {
    Attempt {
        url: "http://r.example/cb".into(),
        status,
        error: error.map(str::to_string),
        latency_ms: 3,
        response_bytes: 0,
        content_type: None,
        location: None,
        answer_head: None,
        refused: None,
    }
}

fn param(body: &str, body_type: Option<&str>) -> String {
    let mut v = serde_json::json!({"callbackUrl": "r.example/cb", "callbackBody": body});
    if let Some(t) = body_type {
        v["callbackBodyType"] = t.into();
    }
    b64(&v.to_string())
}

fn one(findings: Vec<String>, needle: &str) {
    assert!(findings.iter().any(|f| f.contains(needle)), "no finding with {needle:?} in {findings:#?}");
}

#[test]
fn percent_encoded_template() {
    let p = param("bucket=%24%7Bbucket%7D&object=%24%7bobject%7d", None);
    one(diagnose(&p, b"bucket=%24%7Bbucket%7D", &[]), "percent-encoded variable");
}

#[test]
fn json_invalid_after_substitution_and_content_type_mismatches() {
    let p = param(r#"{"object":"${object}","size":"${size}}"#, Some("application/json"));
    one(diagnose(&p, br#"{"object":"a","size":"5}"#, &[]), "not valid JSON after substitution");
    let p = param("bucket=${bucket}", Some("application/json"));
    one(diagnose(&p, b"bucket=b1", &[]), "Content-Type mismatch");
    let p = param(r#"{"bucket":${bucket}}"#, None);
    one(diagnose(&p, br#"{"bucket":"b1"}"#, &[]), "Content-Type mismatch");
    // A correct callback gives no finding.
    let p = param("bucket=${bucket}", None);
    assert!(diagnose(&p, b"bucket=b1", &[attempt(Some(200), None)]).is_empty());
}

#[test]
fn receiver_answers() {
    let p = param("bucket=${bucket}", None);
    let mut html = attempt(Some(200), Some("Response body is not valid json format."));
    html.content_type = Some("text/html; charset=utf-8".into());
    html.answer_head = Some("<!DOCTYPE html><html>".into());
    one(diagnose(&p, b"bucket=b1", &[html]), "HTML");
    let mut text = attempt(Some(200), Some("Response body is not valid json format."));
    text.answer_head = Some("OK".into());
    one(diagnose(&p, b"bucket=b1", &[text]), "not JSON");
    let mut bom = attempt(Some(200), Some("Response body is not valid json format."));
    bom.answer_head = Some("\u{feff}{}".into());
    one(diagnose(&p, b"bucket=b1", &[bom]), "byte-order mark");
    let mut redirect = attempt(Some(301), Some("Error status : 301."));
    redirect.location = Some("https://r.example/cb".into());
    one(diagnose(&p, b"bucket=b1", &[redirect]), "redirect (301) to https://r.example/cb");
    let mut labelled = attempt(Some(200), None);
    labelled.content_type = Some("text/plain".into());
    one(diagnose(&p, b"bucket=b1", &[labelled]), "Content-Type mismatch");
    one(diagnose(&p, b"bucket=b1", &[attempt(Some(405), Some("Error status : 405."))]), "POST");
}
