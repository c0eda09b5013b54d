use http::HeaderMap;
use ossd_callback::spec::{BodyType, CallbackConfig, CallbackParams, CallbackSpec, CallbackVars, parse_template};
use ossd_proto::OssError;

use crate::common::b64;

const BODY: &str = "bucket=${bucket}&object=${object}";

fn spec_json(url: &str) -> String {
    serde_json::json!({"callbackUrl": url, "callbackBody": BODY}).to_string()
}

fn arg(e: &OssError, name: &str) -> Option<String> {
    e.extra.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
}

fn err(json_b64: &str) -> OssError {
    CallbackSpec::decode(json_b64).expect_err("must be rejected")
}

fn assert_400(e: &OssError, ec: Option<&str>) {
    assert_eq!(e.status, 400, "{e:?}");
    assert_eq!(e.code, "InvalidArgument", "{e:?}");
    assert_eq!(e.ec.as_deref(), ec, "{e:?}");
    assert_eq!(arg(e, "ArgumentName").as_deref(), Some("callback"), "{e:?}");
}

#[test]
fn decodes_a_full_spec() {
    let j = serde_json::json!({
        "callbackUrl": " 121.43.113.8:23456/index.html ; https://cb.example.com/a%20b?x=1#frag",
        "callbackHost": "oss-cn-hangzhou.aliyuncs.com",
        "callbackBody": "{\"mimeType\":${mimeType},\"size\":${size}}",
        "callbackBodyType": "application/json",
        "callbackSNI": true,
        "unknownField": 1
    });
    let s = CallbackSpec::decode(&b64(&j.to_string())).unwrap();
    let urls: Vec<String> = s.urls.iter().map(|u| u.to_string()).collect();
    assert_eq!(urls, ["http://121.43.113.8:23456/index.html", "https://cb.example.com/a%20b?x=1"]);
    assert_eq!(s.host.as_deref(), Some("oss-cn-hangzhou.aliyuncs.com"));
    assert_eq!(s.body_type, BodyType::Json);
    assert!(s.sni);
}

#[test]
fn defaults() {
    let s = CallbackSpec::decode(&b64(&spec_json("www.oss-callback.com/test.php"))).unwrap();
    assert_eq!(s.urls[0].as_str(), "http://www.oss-callback.com/test.php");
    assert_eq!(s.body_type, BodyType::FormUrlEncoded);
    assert!(!s.sni);
    assert_eq!(s.host, None);
    // Unpadded base64 is accepted too.
    let unpadded = b64(&spec_json("h.example.com")).trim_end_matches('=').to_string();
    assert!(CallbackSpec::decode(&unpadded).is_ok());
}

#[test]
fn size_limit_ec_1() {
    let long = format!("http://h.example.com/{}", "a".repeat(5000));
    let e = err(&b64(&spec_json(&long)));
    assert_400(&e, Some("0007-00000001"));
}

#[test]
fn not_base64_ec_2() {
    let e = err("x123-*&");
    assert_400(&e, Some("0007-00000002"));
}

#[test]
fn not_json_ec_3() {
    for text in ["{\"callbackUrl\":\"a\",", "not json", "[1,2]", "\"str\"", ""] {
        let e = err(&b64(text));
        assert_400(&e, Some("0007-00000003"));
        assert_eq!(e.message, "The callback configuration is not json format.");
        assert_eq!(arg(&e, "ArgumentValue").as_deref(), Some(text));
    }
    // Not UTF-8.
    let e = err(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0xff, 0xfe, b'{']));
    assert_400(&e, Some("0007-00000003"));
}

#[test]
fn bad_urls_ec_4() {
    for url in [
        "10.101.166.30:test",
        "www.callback-example.com:test",
        "ftp://h.example.com/x",
        "http://",
        "http://[::1]:8080/cb",
        "[2001:db8::1]/cb",
        "http://user:pw@h.example.com/",
        "h.example.com:0",
        "h.example.com:70000",
        "",
        " ; ",
    ] {
        let e = err(&b64(&spec_json(url)));
        assert_400(&e, Some("0007-00000004"));
    }
    // Missing or not a string.
    let e = err(&b64(r#"{"callbackBody":"a"}"#));
    assert_400(&e, Some("0007-00000004"));
    let e = err(&b64(r#"{"callbackUrl":5,"callbackBody":"a"}"#));
    assert_400(&e, Some("0007-00000004"));
}

#[test]
fn too_many_urls_ec_5() {
    let six = "https://callback1.com;https://callback2.com;https://callback3.com;https://callback4.com;https://callback5.com;https://callback6.com;";
    assert_400(&err(&b64(&spec_json(six))), Some("0007-00000005"));
    let five = "https://callback1.com;https://callback2.com;https://callback3.com;https://callback4.com;https://callback5.com;";
    assert_eq!(CallbackSpec::decode(&b64(&spec_json(five))).unwrap().urls.len(), 5);
}

#[test]
fn empty_body_ec_11() {
    for j in [
        r#"{"callbackUrl":"h.example.com","callbackBody":""}"#,
        r#"{"callbackUrl":"h.example.com"}"#,
        r#"{"callbackUrl":"h.example.com","callbackBody":{"a":1}}"#,
    ] {
        assert_400(&err(&b64(j)), Some("0007-00000011"));
    }
}

#[test]
fn bad_body_type_ec_12() {
    for t in [r#""text/plain""#, "1", r#""application/xml""#, "true"] {
        let j = format!(r#"{{"callbackUrl":"h.example.com","callbackBody":"a","callbackBodyType":{t}}}"#);
        assert_400(&err(&b64(&j)), Some("0007-00000012"));
    }
    let j = r#"{"callbackUrl":"h.example.com","callbackBody":"a","callbackBodyType":"Application/JSON"}"#;
    assert_eq!(CallbackSpec::decode(&b64(j)).unwrap().body_type, BodyType::Json);
}

#[test]
fn bad_sni() {
    for v in ["123", r#""true""#, "null", "{}"] {
        let j = format!(r#"{{"callbackUrl":"h.example.com","callbackBody":"a","callbackSNI":{v}}}"#);
        let e = err(&b64(&j));
        assert_400(&e, None);
        assert_eq!(e.message, "The callback sni is invalid.");
    }
    let j = r#"{"callbackUrl":"h.example.com","callbackBody":"a","callbackSNI":false}"#;
    assert!(!CallbackSpec::decode(&b64(j)).unwrap().sni);
}

#[test]
fn bad_host_and_policy() {
    for h in ["1", r#""a b""#, r#""evil\r\nX: y""#, r#""h/path""#] {
        let j = format!(r#"{{"callbackUrl":"h.example.com","callbackBody":"a","callbackHost":{h}}}"#);
        assert_400(&err(&b64(&j)), None);
    }
    // A stored policy or a logged callback must be complete: naming a policy is refused there.
    let j = r#"{"callbackPolicy":"p1"}"#;
    assert_400(&err(&b64(j)), None);
}

#[test]
fn upload_param_without_url_or_with_a_policy() {
    // EC 0007-00000004's page: a missing or empty callbackUrl means no callback is configured.
    for j in [
        r#"{"callbackBody":"a"}"#,
        r#"{"callbackUrl":"","callbackBody":"a"}"#,
        r#"{"callbackUrl":" ; ","callbackBody":""}"#,
        r#"{"callbackUrl":null}"#,
    ] {
        assert_eq!(CallbackConfig::decode(&b64(j)).unwrap(), CallbackConfig::NotConfigured, "{j}");
    }
    // The base64 / JSON checks still come first.
    assert_400(&CallbackConfig::decode("%%%").unwrap_err(), Some("0007-00000002"));
    assert_400(&CallbackConfig::decode(&b64("[]")).unwrap_err(), Some("0007-00000003"));
    // A bad URL is still an error.
    assert_400(&CallbackConfig::decode(&b64(&spec_json("h.example.com:test"))).unwrap_err(), Some("0007-00000004"));
    // callbackPolicy wins over every other field.
    let j = r#"{"callbackPolicy":" p1 ","callbackUrl":"bad url:x"}"#;
    assert_eq!(CallbackConfig::decode(&b64(j)).unwrap(), CallbackConfig::Policy("p1".into()));
    for bad in [r#"{"callbackPolicy":""}"#, r#"{"callbackPolicy":5}"#] {
        assert_400(&CallbackConfig::decode(&b64(bad)).unwrap_err(), None);
    }
    let CallbackConfig::Spec(spec) = CallbackConfig::decode(&b64(&spec_json("h.example.com"))).unwrap() else {
        panic!("a full callback decodes as a spec")
    };
    assert_eq!(spec.body, BODY);
}

fn with_headers(headers: &str) -> String {
    b64(&format!(r#"{{"callbackUrl":"h.example.com","callbackBody":"a","additionalHeaders":{headers}}}"#))
}

#[test]
fn additional_headers() {
    let spec = CallbackSpec::decode(&with_headers(r#"{"X-Trace":"t1","key2":"v 2"}"#)).unwrap();
    assert_eq!(spec.additional_headers, vec![("x-trace".into(), "t1".into()), ("key2".into(), "v 2".into())]);
    assert!(CallbackSpec::decode(&with_headers("{}")).unwrap().additional_headers.is_empty());
    // EC pages 0007-00000021 (not a map), 23 (empty key), 25 (CR/LF), 26 (x-oss- prefix).
    for (h, ec) in [
        ("123", Some("0007-00000021")),
        (r#"["a"]"#, Some("0007-00000021")),
        (r#"{"":"v"}"#, Some("0007-00000023")),
        (r#"{"k":"a\r\nb"}"#, Some("0007-00000025")),
        (r#"{"x-oss-test":"v"}"#, Some("0007-00000026")),
        (r#"{"X-OSS-Meta":"v"}"#, Some("0007-00000026")),
        // Documented without an EC code on the pages found: key characters, more than 10.
        (r#"{"&*":"v"}"#, None),
        (r#"{"k_1":"v"}"#, None),
        (r#"{"k":1}"#, None),
        // Headers the callback sets itself.
        (r#"{"Content-Type":"text/plain"}"#, None),
        (r#"{"authorization":"x"}"#, None),
        (r#"{"host":"h"}"#, None),
    ] {
        let e = err(&with_headers(h));
        assert_400(&e, ec);
    }
    let eleven: Vec<String> = (0..11).map(|i| format!(r#""k{i}":"v""#)).collect();
    assert_400(&err(&with_headers(&format!("{{{}}}", eleven.join(",")))), None);
    let ten: Vec<String> = (0..10).map(|i| format!(r#""k{i}":"v""#)).collect();
    assert_eq!(
        CallbackSpec::decode(&with_headers(&format!("{{{}}}", ten.join(",")))).unwrap().additional_headers.len(),
        10
    );
}

#[test]
fn malformed_variables() {
    for body in ["a=${bucket", "a=${}", "a=${my var}", "a=${x${y}}", "a=${\"q\"}"] {
        let j = serde_json::json!({"callbackUrl": "h.example.com", "callbackBody": body}).to_string();
        let e = err(&b64(&j));
        assert_400(&e, None);
        assert!(e.message.contains("callbackBody"), "{e:?}");
    }
    // `$` alone, `$x` and `{}` are literal text.
    assert!(parse_template("cost=$5&{}&$x&${imageInfo.width}&${x:my_var}").is_ok());
}

// ---- callback-var ----

fn var_err(s: &str) -> OssError {
    let e = CallbackVars::decode(s).expect_err("must be rejected");
    assert_eq!(e.status, 400);
    assert_eq!(e.code, "InvalidArgument");
    assert_eq!(arg(&e, "ArgumentName").as_deref(), Some("callback-var"));
    e
}

#[test]
fn vars_decode() {
    let v = CallbackVars::decode(&b64(r#"{"x:my_var":"for-callback-test","x:Other":"ü b"}"#)).unwrap();
    assert_eq!(v.get("x:my_var"), Some("for-callback-test"));
    assert_eq!(v.get("x:Other"), Some("ü b"));
    assert_eq!(v.0.len(), 2);
}

#[test]
fn vars_errors() {
    let long = format!(r#"{{"x:a":"{}"}}"#, "v".repeat(4000));
    assert_eq!(var_err(&b64(&long)).ec.as_deref(), Some("0007-00000101"));
    assert_eq!(var_err("%%%").ec.as_deref(), Some("0007-00000102"));
    for bad in ["not json", "[]", r#"{"x:a":{"b":"c"}}"#, r#"{"x:a":null}"#, r#"{"x:a":[1]}"#] {
        assert_eq!(var_err(&b64(bad)).ec.as_deref(), Some("0007-00000103"), "{bad}");
    }
}

#[test]
fn vars_without_prefix_ignored_and_scalars_as_text() {
    // Keys without `x:` are not variables: OSS answers the upload and sends the callback
    // without them. ali-oss signatureUrl sends customValue unconverted: numbers, booleans.
    let v = CallbackVars::decode(&b64(r#"{"my_var":"v","x:":"e","x:n":12,"x:f":1.5,"x:b":true,"x:s":"s"}"#)).unwrap();
    assert_eq!(v.get("my_var"), None);
    assert_eq!(v.get("x:"), None);
    assert_eq!(v.get("x:n"), Some("12"));
    assert_eq!(v.get("x:f"), Some("1.5"));
    assert_eq!(v.get("x:b"), Some("true"));
    assert_eq!(v.get("x:s"), Some("s"));
    assert_eq!(v.0.len(), 4);
}

#[test]
fn vars_from_form_fields() {
    let fields = vec![
        ("key".to_string(), "obj".to_string()),
        ("callback-var".to_string(), b64(r#"{"x:a":"from-var","x:b":"only-var"}"#)),
        ("x:a".to_string(), "from-field".to_string()),
        ("X:c".to_string(), "upper prefix".to_string()),
    ];
    let v = CallbackVars::from_form_fields(&fields).unwrap();
    assert_eq!(v.get("x:a"), Some("from-field"));
    assert_eq!(v.get("x:b"), Some("only-var"));
    assert_eq!(v.get("x:c"), Some("upper prefix"));
    let bad = vec![("callback-var".to_string(), "%%%".to_string())];
    assert_eq!(CallbackVars::from_form_fields(&bad).unwrap_err().ec.as_deref(), Some("0007-00000102"));
}

// ---- carriers ----

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn header_carrier() {
    let mut h = HeaderMap::new();
    h.insert("x-oss-callback", "Q0I=".parse().unwrap());
    h.insert("x-oss-callback-var", "VkFS".parse().unwrap());
    let p = CallbackParams::from_request(&h, &[]).unwrap().unwrap();
    assert_eq!(p, CallbackParams { callback: "Q0I=".into(), callback_var: Some("VkFS".into()) });
}

#[test]
fn query_carrier() {
    let p = CallbackParams::from_request(&HeaderMap::new(), &q(&[("callback", "Q0I="), ("x", "y")])).unwrap().unwrap();
    assert_eq!(p, CallbackParams { callback: "Q0I=".into(), callback_var: None });
}

#[test]
fn no_callback() {
    assert_eq!(CallbackParams::from_request(&HeaderMap::new(), &[]).unwrap(), None);
    // A lone callback-var is ignored.
    assert_eq!(CallbackParams::from_request(&HeaderMap::new(), &q(&[("callback-var", "VkFS")])).unwrap(), None);
}

#[test]
fn both_carriers_rejected() {
    let mut h = HeaderMap::new();
    h.insert("x-oss-callback", "Q0I=".parse().unwrap());
    let e = CallbackParams::from_request(&h, &q(&[("callback", "Q0I=")])).unwrap_err();
    assert_eq!((e.status, e.code), (400, "InvalidArgument"));
    // Mixed: callback in the header, callback-var in the query.
    let e = CallbackParams::from_request(&h, &q(&[("callback-var", "VkFS")])).unwrap_err();
    assert_eq!((e.status, e.code), (400, "InvalidArgument"));
    // Twice in the same carrier.
    let e = CallbackParams::from_request(&HeaderMap::new(), &q(&[("callback", "a"), ("callback", "b")])).unwrap_err();
    assert_eq!(e.status, 400);
}

#[test]
fn params_decode_both() {
    let p = CallbackParams { callback: b64(&spec_json("h.example.com")), callback_var: Some(b64(r#"{"x:v":"1"}"#)) };
    let (config, vars) = p.decode().unwrap();
    let CallbackConfig::Spec(spec) = config else { panic!("a full callback decodes as a spec") };
    assert_eq!(spec.body, BODY);
    assert_eq!(vars.get("x:v"), Some("1"));
}
