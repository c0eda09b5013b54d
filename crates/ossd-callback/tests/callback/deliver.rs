use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ossd_callback::deliver::{
    Deliverer, DeliveryConfig, DestinationPolicy, DestinationRule, EC_NOT_JSON, EC_STATUS, EC_TIMEOUT, Outcome, Scope,
};
use ossd_callback::spec::{BodyType, CallbackSpec, Url};

use crate::common::{Receiver, Reply, closed_port, json_200, signer, status_reply};

const CONNECT_FAILED: &str = "Error status : -1. OSS can not connect to your callbackUrl, please check it.";
const TOO_LONG: &str = "Error Status : 400.User server return too long content-length value";
const KEY_URL: &str = "http://127.0.0.1:9/callback_pub_key.pem";

fn deliverer(cfg: DeliveryConfig) -> Deliverer {
    Deliverer::new(DeliveryConfig { public_key_url: KEY_URL.into(), ..cfg }, signer())
}

fn default_deliverer() -> Deliverer {
    deliverer(DeliveryConfig::default())
}

fn spec(urls: &[String]) -> CallbackSpec {
    CallbackSpec {
        urls: urls.iter().map(|u| Url::parse(u).unwrap()).collect(),
        host: None,
        body: "bucket=${bucket}".into(),
        body_type: BodyType::FormUrlEncoded,
        sni: false,
        additional_headers: Vec::new(),
        policy: None,
    }
}

fn failed(d: &ossd_callback::deliver::Delivery) -> (&str, &'static str) {
    match &d.outcome {
        Outcome::Failed { message, ec } => (message.as_str(), *ec),
        Outcome::Answered(b) => panic!("unexpected success: {b:?}"),
    }
}

#[tokio::test]
async fn success_with_all_headers_and_pooling() {
    let r = Receiver::start(json_200(r#"{"Status":"OK"}"#)).await;
    let mut s = spec(&[r.url("/cb%20path/index.php?id=1&index=2")]);
    s.host = Some("cb.example.com".into());
    let dl = default_deliverer();
    let body = b"bucket=b&object=a%2Fb".to_vec();
    let d = dl.deliver(&s, body.clone(), "REQ123").await;
    assert_eq!(d.outcome, Outcome::Answered(bytes::Bytes::from_static(br#"{"Status":"OK"}"#)));
    assert_eq!(d.answer().map(|b| b.len()), Some(15));
    assert!(d.failure_error().is_none());
    assert_eq!(d.attempts.len(), 1);
    let a = &d.attempts[0];
    assert_eq!((a.status, a.error.as_deref(), a.response_bytes), (Some(200), None, 15));

    let got = r.received();
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert_eq!(g.method, "POST");
    assert_eq!(g.target, "/cb%20path/index.php?id=1&index=2");
    assert!(g.signature_ok, "receiver could not verify the signature");
    assert_eq!(g.body, body);
    assert_eq!(g.header("host"), Some("cb.example.com"));
    assert_eq!(g.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(g.header("content-length"), Some(body.len().to_string().as_str()));
    assert_eq!(g.header("x-oss-request-id"), Some("REQ123"));
    let key_url = STANDARD.decode(g.header("x-oss-pub-key-url").unwrap()).unwrap();
    assert_eq!(key_url, KEY_URL.as_bytes());

    // A second delivery reuses the pooled connection.
    let d = dl.deliver(&s, b"again".to_vec(), "REQ124").await;
    assert!(d.answer().is_some());
    assert_eq!(r.received().len(), 2);
    assert!(r.received()[1].signature_ok);
    assert_eq!(r.connection_count(), 1);
}

#[tokio::test]
async fn default_host_and_json_type() {
    let r = Receiver::start(json_200(r#"{"a":"b"}"#)).await;
    let mut s = spec(&[r.url("/cb")]);
    s.body_type = BodyType::Json;
    let d = default_deliverer().deliver(&s, br#"{"size":5}"#.to_vec(), "R").await;
    assert!(d.answer().is_some());
    let g = &r.received()[0];
    assert_eq!(g.header("host"), Some(r.addr.to_string().as_str()));
    assert_eq!(g.header("content-type"), Some("application/json"));
    assert!(g.signature_ok);
}

#[tokio::test]
async fn failover_to_the_second_url() {
    let r = Receiver::start(json_200(r#"{"Status":"OK"}"#)).await;
    let dead = format!("http://127.0.0.1:{}/cb", closed_port().await);
    let d = default_deliverer().deliver(&spec(&[dead.clone(), r.url("/cb")]), b"x".to_vec(), "R").await;
    assert!(d.answer().is_some());
    assert_eq!(d.attempts.len(), 2);
    assert_eq!(d.attempts[0].url, dead);
    assert_eq!(d.attempts[0].status, None);
    assert_eq!(d.attempts[0].error.as_deref(), Some(CONNECT_FAILED));
    assert_eq!(d.attempts[1].status, Some(200));
}

#[tokio::test]
async fn non_200_fails_with_its_status() {
    let r = Receiver::start(status_reply("404 Not Found", "")).await;
    let d = default_deliverer().deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    assert_eq!(failed(&d), ("Error status : 404.", EC_STATUS));
    assert_eq!(d.attempts[0].status, Some(404));
    let e = d.failure_error().unwrap();
    assert_eq!((e.status, e.code, e.message.as_str()), (203, "CallbackFailed", "Error status : 404."));
    assert_eq!(e.ec.as_deref(), Some("0007-00000203"));

    // 204 is not 200 either.
    let r = Receiver::start(status_reply("204 No Content", "")).await;
    let d = default_deliverer().deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    assert_eq!(failed(&d), ("Error status : 204.", EC_STATUS));
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let target = Receiver::start(json_200(r#"{"Status":"OK"}"#)).await;
    let r = Receiver::start(status_reply("301 Moved Permanently", &format!("Location: {}\r\n", target.url("/")))).await;
    let d = default_deliverer().deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    assert_eq!(failed(&d), ("Error status : 301.", EC_STATUS));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(target.connection_count(), 0);
}

#[tokio::test]
async fn timeout() {
    let r = Receiver::start(Reply::Hang).await;
    let dl = deliverer(DeliveryConfig { timeout: Duration::from_millis(300), ..Default::default() });
    let d = dl.deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    let (msg, ec) = failed(&d);
    assert_eq!(ec, EC_TIMEOUT);
    let prefix = format!("error status:-1 127.0.0.1:{} reply timeout, cost: ", r.addr.port());
    assert!(msg.starts_with(&prefix) && msg.ends_with(" MS, timeout: 300 MS"), "{msg}");
    let cost: u64 = msg[prefix.len()..].split(' ').next().unwrap().parse().unwrap();
    assert!((300..2000).contains(&cost), "{msg}");
    assert!((300..2000).contains(&d.attempts[0].latency_ms));
    assert_eq!(r.received().len(), 1, "the request was sent");
}

#[tokio::test]
async fn chunked_answer_without_content_length() {
    let body = r#"{"Status":"OK"}"#;
    let raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let r = Receiver::start(Reply::Raw(raw.into_bytes())).await;
    let d = default_deliverer().deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    assert_eq!(failed(&d), (TOO_LONG, EC_STATUS));
    assert_eq!(d.attempts[0].status, Some(200));
}

#[tokio::test]
async fn body_over_cap() {
    let big = format!(r#"{{"k":"{}"}}"#, "v".repeat(40));
    let r = Receiver::start(json_200(&big)).await;
    let dl = deliverer(DeliveryConfig { max_response_bytes: 16, ..Default::default() });
    let d = dl.deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    assert_eq!(failed(&d), (TOO_LONG, EC_STATUS));
    assert_eq!(d.attempts[0].response_bytes, 0, "refused on Content-Length, nothing read");

    // Exactly at the cap is fine.
    let exact = r#"{"k":"123456789"}"#; // 17 bytes
    let r = Receiver::start(json_200(exact)).await;
    let dl = deliverer(DeliveryConfig { max_response_bytes: exact.len(), ..Default::default() });
    let d = dl.deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    assert_eq!(d.answer().map(|b| b.as_ref()), Some(exact.as_bytes()));
}

#[tokio::test]
async fn non_json_bodies() {
    for body in ["OK", "", "\u{feff}{\"Status\":\"OK\"}", "{\"a\":"] {
        let r = Receiver::start(json_200(body)).await;
        let d = default_deliverer().deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
        assert_eq!(failed(&d), ("Response body is not valid json format.", EC_NOT_JSON), "{body:?}");
        assert_eq!(d.failure_error().unwrap().ec.as_deref(), Some("0007-00000205"));
    }
}

#[tokio::test]
async fn last_failure_wins() {
    let r404 = Receiver::start(status_reply("404 Not Found", "")).await;
    let dead = format!("http://127.0.0.1:{}/", closed_port().await);
    let d = default_deliverer().deliver(&spec(&[r404.url("/"), dead.clone()]), b"x".to_vec(), "R").await;
    assert_eq!(failed(&d), (CONNECT_FAILED, EC_STATUS));
    let d = default_deliverer().deliver(&spec(&[dead, r404.url("/")]), b"x".to_vec(), "R").await;
    assert_eq!(failed(&d), ("Error status : 404.", EC_STATUS));
    assert_eq!(d.attempts.len(), 2);
}

fn policy(allow: &[&str], deny: &[&str]) -> DestinationPolicy {
    DestinationPolicy::from_strs(allow, deny).unwrap()
}

#[tokio::test]
async fn denied_ip_literal_is_never_contacted() {
    let r = Receiver::start(json_200("{}")).await;
    let dl = deliverer(DeliveryConfig { policy: policy(&[], &["127.0.0.0/8"]), ..Default::default() });
    let d = dl.deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    let (msg, ec) = failed(&d);
    assert_eq!(ec, EC_STATUS);
    assert!(msg.contains("denied by the callback destination policy (deny rule 127.0.0.0/8)"), "{msg}");
    assert_eq!(d.attempts[0].status, None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(r.connection_count(), 0);
}

#[tokio::test]
async fn denied_after_resolution_is_never_contacted() {
    let r = Receiver::start(json_200("{}")).await;
    let dl = deliverer(DeliveryConfig { policy: policy(&[], &["127.0.0.0/8", "::1"]), ..Default::default() });
    let url = format!("http://localhost:{}/cb", r.addr.port());
    let d = dl.deliver(&spec(&[url]), b"x".to_vec(), "R").await;
    let (msg, ec) = failed(&d);
    assert_eq!(ec, EC_STATUS);
    assert!(msg.contains("localhost (") && msg.contains("denied by the callback destination policy"), "{msg}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(r.connection_count(), 0);
}

#[tokio::test]
async fn denied_host_name_and_allow_lists() {
    let r = Receiver::start(json_200("{}")).await;
    let localhost = format!("http://localhost:{}/cb", r.addr.port());

    // A denied name is refused before resolving.
    let dl = deliverer(DeliveryConfig { policy: policy(&[], &["LocalHost."]), ..Default::default() });
    let d = dl.deliver(&spec(std::slice::from_ref(&localhost)), b"x".to_vec(), "R").await;
    let msg = failed(&d).0;
    assert!(msg.contains("deny rule localhost"), "{msg}");

    // An allow list that does not cover the destination.
    let dl = deliverer(DeliveryConfig { policy: policy(&["10.0.0.0/8", "*.example.com"], &[]), ..Default::default() });
    for url in [r.url("/cb"), localhost.clone()] {
        let d = dl.deliver(&spec(&[url]), b"x".to_vec(), "R").await;
        assert!(failed(&d).0.contains("not in the allow list"), "{:?}", d.outcome);
    }
    assert_eq!(r.connection_count(), 0);

    // Allowed by name, or by address.
    for allow in ["localhost", "127.0.0.0/8"] {
        let dl = deliverer(DeliveryConfig { policy: policy(&[allow], &[]), ..Default::default() });
        let d = dl.deliver(&spec(std::slice::from_ref(&localhost)), b"x".to_vec(), "R").await;
        assert!(d.answer().is_some(), "{allow}: {:?}", d.outcome);
    }
    // Deny wins over allow.
    let dl = deliverer(DeliveryConfig { policy: policy(&["127.0.0.0/8"], &["127.0.0.1"]), ..Default::default() });
    assert!(failed(&dl.deliver(&spec(&[r.url("/")]), b"x".to_vec(), "R").await).0.contains("deny rule 127.0.0.1/32"));
}

#[test]
fn policy_rules() {
    assert_eq!(DestinationPolicy::parse_rule("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    assert_eq!(DestinationPolicy::parse_rule("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
    assert_eq!(
        DestinationPolicy::parse_rule("*.Example.COM").unwrap(),
        DestinationRule::Subdomains("example.com".into())
    );
    assert_eq!(
        DestinationPolicy::parse_rule("metadata.google.internal").unwrap(),
        DestinationRule::Host("metadata.google.internal".into())
    );
    for bad in ["", "a b", "http://x", "*.", "10.0.0.0/33"] {
        assert!(DestinationPolicy::parse_rule(bad).is_err(), "{bad}");
    }

    let p = DestinationPolicy::default();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(p.check(None, ip("127.0.0.1")).is_ok());
    assert!(p.check(None, ip("8.8.8.8")).is_ok());
    for denied in ["169.254.169.254", "fe80::1", "100.100.100.200", "::ffff:169.254.169.254"] {
        let e = p.check(None, ip(denied)).unwrap_err();
        assert!(e.reason.starts_with("built-in deny rule"), "{denied}: {e}");
    }
    assert!(p.check_host("metadata.google.internal").is_err());
    assert!(p.check_host("Metadata.Google.Internal.").is_err());
    assert!(p.check_host("example.com").is_ok());

    let p = policy(&[], &["*.internal.example.com"]);
    assert!(p.check_host("a.internal.example.com").is_err());
    assert!(p.check_host("x.a.internal.example.com").is_err());
    assert!(p.check_host("internal.example.com").is_ok());
    assert!(p.check_host("evilinternal.example.com").is_ok());
}

#[test]
fn scope_public_and_embedded_ipv4_forms() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let public = DestinationPolicy::default().with_scope(Scope::Public);
    let private = DestinationPolicy::default();
    // Always denied, in either scope, also when spelled as IPv6 carrying the IPv4 address.
    for denied in [
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "224.0.0.1",
        "ff02::1",
        "::",
        "::ffff:0.0.0.0",
        "64:ff9b::a9fe:a9fe",
        "::169.254.169.254",
        "::ffff:100.100.100.200",
    ] {
        for p in [&public, &private] {
            let e = p.check(None, ip(denied)).unwrap_err();
            assert!(e.reason.starts_with("built-in deny rule"), "{denied}: {e}");
            assert!(e.hint.contains("no flag"), "{denied}: {}", e.hint);
        }
    }
    // Public scope: loopback and private ranges (in any IPv6 spelling) are refused, naming the fix.
    for non_public in [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.5",
        "100.64.0.1",
        "::1",
        "fd12::1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "::10.0.0.1",
        "2001:db8::1",
    ] {
        let e = public.check(None, ip(non_public)).unwrap_err();
        assert!(e.reason.contains("public unicast only"), "{non_public}: {e}");
        assert!(e.hint.contains("--callback-allow"), "{non_public}: {}", e.hint);
        assert!(private.check(None, ip(non_public)).is_ok(), "{non_public} under scope private");
    }
    for ok in ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
        assert!(public.check(None, ip(ok)).is_ok(), "{ok}");
    }
    // An allow list names more (and only those); deny still wins.
    let p = DestinationPolicy::from_strs(&["10.0.0.0/8", "receiver"], &[]).unwrap().with_scope(Scope::Public);
    assert!(p.check(None, ip("10.2.3.4")).is_ok());
    assert!(p.check(Some("receiver"), ip("172.18.0.5")).is_ok());
    let e = p.check(None, ip("192.168.1.1")).unwrap_err();
    assert!(e.hint.contains("--callback-allow"), "{}", e.hint);
    assert!(p.describe().contains("only 10.0.0.0/8, receiver"), "{}", p.describe());
    assert!(public.describe().contains("public unicast"), "{}", public.describe());
}

#[tokio::test]
async fn additional_headers_and_policy_are_sent_and_answers_traced() {
    let r = Receiver::start(json_200(r#"{"Status":"OK"}"#)).await;
    let mut s = spec(&[r.url("/cb")]);
    s.additional_headers = vec![("x-trace".into(), "t-1".into()), ("tenant".into(), "acme corp".into())];
    s.policy = Some("p1".into());
    let d = default_deliverer().deliver(&s, b"x".to_vec(), "R").await;
    assert!(d.answer().is_some());
    let g = &r.received()[0];
    assert_eq!(g.header("x-trace"), Some("t-1"));
    assert_eq!(g.header("tenant"), Some("acme corp"));
    assert_eq!(g.header("x-oss-callback-policy"), Some("p1"));
    assert!(g.signature_ok);
    assert_eq!(d.attempts[0].content_type.as_deref(), Some("application/json"));

    // A refused answer keeps what `ossd callbacks show` needs to explain it.
    let html = "<html><body>Login</body></html>";
    let r = Receiver::start(Reply::Raw(
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{html}", html.len())
            .into_bytes(),
    ))
    .await;
    let d = default_deliverer().deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    let a = &d.attempts[0];
    assert_eq!(a.content_type.as_deref(), Some("text/html"));
    assert_eq!(a.answer_head.as_deref(), Some(html));
    let r = Receiver::start(status_reply("302 Found", "Location: https://example.test/cb\r\n")).await;
    let d = default_deliverer().deliver(&spec(&[r.url("/cb")]), b"x".to_vec(), "R").await;
    assert_eq!(d.attempts[0].location.as_deref(), Some("https://example.test/cb"));
}
