use ossd_callback::oss_mode::{self, CallbackMode, refused_ipv4};
use ossd_callback::policy::BucketCallbackPolicy;
use ossd_callback::spec::{CallbackConfig, CallbackSpec};
use std::net::Ipv4Addr;

use crate::common::b64;

fn item(name: &str, cb: &str, var: &str) -> String {
    format!(
        "<PolicyItem><PolicyName>{name}</PolicyName><Callback>{cb}</Callback><CallbackVar>{var}</CallbackVar></PolicyItem>"
    )
}

#[test]
fn bucket_policy_round_trip_as_oss2_sends_it() {
    let cb1 = b64(r#"{"callbackUrl":"www.abc.com/callback","callbackBody":"${etag}"}"#);
    let cb2 = b64(
        r#"{"callbackUrl":"http://www.bbc.com/test","callbackHost":"www.bbc.com","callbackBody":"{\"mimeType\":${mimeType},\"size\":${size}}"}"#,
    );
    let var2 = b64(r#"{"x:var1":"value1","x:var2":"value2"}"#);
    let xml = format!(
        "<BucketCallbackPolicy>{}{}</BucketCallbackPolicy>",
        item("test_1", &cb1, ""),
        item("test_2", &cb2, &var2)
    );
    let p = BucketCallbackPolicy::from_xml(&xml).unwrap();
    assert_eq!(p.items.len(), 2);
    assert_eq!(p.get("test_2").unwrap().callback_var, var2);
    assert_eq!(p.get("test_1").unwrap().callback_var, "");
    assert!(p.get("nope").is_none());
    let again = BucketCallbackPolicy::from_xml(&p.to_xml()).unwrap();
    assert_eq!(again, p);
    // oss2 sends an empty document for None / [None, None]; OSS answers 200.
    assert!(BucketCallbackPolicy::from_xml("<BucketCallbackPolicy/>").unwrap().items.is_empty());
}

#[test]
fn bucket_policy_refusals() {
    let cb = b64(r#"{"callbackUrl":"h.example.com","callbackBody":"a"}"#);
    for xml in [
        format!("<BucketCallbackPolicy>{}</BucketCallbackPolicy>", item("", &cb, "")),
        format!("<BucketCallbackPolicy>{}</BucketCallbackPolicy>", item("a&#x7f;b", &cb, "")),
        format!("<BucketCallbackPolicy>{}{}</BucketCallbackPolicy>", item("a", &cb, ""), item("a", &cb, "")),
        format!("<BucketCallbackPolicy>{}</BucketCallbackPolicy>", item("a", "%%%", "")),
        format!("<BucketCallbackPolicy>{}</BucketCallbackPolicy>", item("a", &b64(r#"{"callbackPolicy":"b"}"#), "")),
        format!("<BucketCallbackPolicy>{}</BucketCallbackPolicy>", item("a", &cb, "%%%")),
    ] {
        let e = BucketCallbackPolicy::from_xml(&xml).unwrap_err();
        assert_eq!((e.status, e.code), (400, "InvalidArgument"), "{xml}");
    }
    assert_eq!(BucketCallbackPolicy::from_xml("<nope").unwrap_err().code, "MalformedXML");
}

#[test]
fn oss_mode_address_classes() {
    for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1", "0.0.0.0", "100.100.100.200"] {
        assert!(refused_ipv4(ip.parse::<Ipv4Addr>().unwrap()).is_some(), "{ip}");
    }
    for ip in ["121.43.113.8", "8.8.8.8", "203.0.113.7", "100.128.0.1"] {
        assert!(refused_ipv4(ip.parse::<Ipv4Addr>().unwrap()).is_none(), "{ip}");
    }
    assert_eq!("oss".parse::<CallbackMode>(), Ok(CallbackMode::Oss));
    assert!("strict".parse::<CallbackMode>().is_err());
}

fn spec(url: &str) -> CallbackSpec {
    let CallbackConfig::Spec(s) =
        CallbackConfig::decode(&b64(&format!(r#"{{"callbackUrl":"{url}","callbackBody":"a"}}"#))).unwrap()
    else {
        panic!("spec")
    };
    s
}

#[tokio::test]
async fn oss_mode_refuses_private_destinations_with_oss_error() {
    // Loopback only: a literal, and `localhost` resolved by the system resolver.
    for url in ["http://127.0.0.1:9/cb", "http://localhost:9/cb", "http://192.168.0.10/cb"] {
        let e = oss_mode::check(&spec(url)).await.unwrap_err();
        assert_eq!(
            (e.status, e.code, e.message.as_str()),
            (400, "InvalidArgument", "Private address is forbidden to callback.")
        );
        assert_eq!(e.ec.as_deref(), Some("0007-00000008"));
    }
    // A public literal passes without any network traffic.
    assert!(oss_mode::check(&spec("http://121.43.113.8:23456/index.html")).await.is_ok());
}
