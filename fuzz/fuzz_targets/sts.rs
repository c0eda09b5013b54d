//! STS: an AssumeRole RPC request (query or form body) through the issuer's checks, and any
//! string presented as a security token: an StsError or credentials; never a panic. Tokens the
//! issuer seals verify again, with policies that parse.
//! Input lines: the form/query string, a security token, an AccessKeyId.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ossd_proto::sts::{AssumeRoleParams, Issuer, Role, TokenKey, rpc_string_to_sign};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let lines = common::lines(data);
    let params = ossd_proto::query::Query::parse(lines.first().map(String::as_str));
    let _ = rpc_string_to_sign("POST", params.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let role = Role::new(
        "uploader",
        "acs:ram::1234567890123456:role/uploader",
        serde_json::json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*"}]}),
        3600,
    )
    .expect("valid role");
    let issuer =
        Issuer { key: TokenKey::new(b"0123456789abcdef0123".to_vec()), roles: vec![role], min_duration_seconds: 900 };
    let p = AssumeRoleParams {
        role_arn: params.get("RoleArn"),
        role_session_name: params.get("RoleSessionName"),
        duration_seconds: params.get("DurationSeconds"),
        policy: params.get("Policy"),
    };
    let now = 1_795_567_800;
    match issuer.assume_role(&p, now, "SUFFIX") {
        Ok((_, creds)) => {
            let claims =
                issuer.key.verify(&creds.security_token, &creds.access_key_id, now).expect("own token verifies");
            assert_eq!(claims.ak, creds.access_key_id);
            assert!(claims.parsed_policies().is_ok(), "issued policies parse");
        }
        Err(e) => assert!((400..600).contains(&e.status), "status {}", e.status),
    }
    let token = lines.get(1).cloned().unwrap_or_default();
    if let Ok(claims) = issuer.key.open(&token) {
        let _ = claims.parsed_policies();
    }
    let _ = issuer.key.verify(&token, lines.get(2).map_or("", String::as_str), now);
});
