use ossd_callback::render::{ImageInfo, SystemVars, probe_image, render, render_template};
use ossd_callback::spec::{BodyType, CallbackSpec, CallbackVars};

use crate::common::b64;

fn sys() -> SystemVars {
    SystemVars {
        bucket: "callback-test".into(),
        object: "dir/a b&c=d\"q'ü.txt".into(),
        etag: "D8E8FCA2DC0F896FD7CB4CB0031BA249".into(),
        size: 5,
        mime_type: "text/plain".into(),
        image: None,
        crc64: 18446744073709551615,
        content_md5: "1B2M2Y8AsgTpgAmY7PhCfg==".into(),
        vpc_id: String::new(),
        client_ip: "192.0.2.1".into(),
        req_id: "55F6BF87207FB30F2640C548".into(),
        operation: "PutObject".into(),
    }
}

fn vars() -> CallbackVars {
    CallbackVars(vec![
        ("x:var1".into(), "for-callback-test".into()),
        ("x:odd".into(), "a b&c=d/e+f\"g\\h\u{1F600}".into()),
    ])
}

fn form(t: &str) -> String {
    String::from_utf8(render_template(t, BodyType::FormUrlEncoded, &sys(), &vars())).unwrap()
}

fn json(t: &str) -> String {
    String::from_utf8(render_template(t, BodyType::Json, &sys(), &vars())).unwrap()
}

#[test]
fn documented_form_example() {
    let mut s = sys();
    s.object = "test.txt".into();
    let t = "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&mimeType=${mimeType}&imageInfo.height=${imageInfo.height}&imageInfo.width=${imageInfo.width}&imageInfo.format=${imageInfo.format}&x:var1=${x:var1}";
    let out = String::from_utf8(render_template(t, BodyType::FormUrlEncoded, &s, &vars())).unwrap();
    assert_eq!(
        out,
        "bucket=callback-test&object=test.txt&etag=D8E8FCA2DC0F896FD7CB4CB0031BA249&size=5&mimeType=text%2Fplain&imageInfo.height=&imageInfo.width=&imageInfo.format=&x:var1=for-callback-test"
    );
}

#[test]
fn form_awkward_values() {
    assert_eq!(form("o=${object}"), "o=dir%2Fa%20b%26c%3Dd%22q%27%C3%BC.txt");
    assert_eq!(form("v=${x:odd}"), "v=a%20b%26c%3Dd%2Fe%2Bf%22g%5Ch%F0%9F%98%80");
    // Literal text, keys with '/', and unknown variables.
    assert_eq!(form("a/b=${nope}&k=${x:missing}&c=${crc64}&lit=x y"), "a/b=&k=&c=18446744073709551615&lit=x y");
    assert_eq!(
        form("${vpcId}|${clientIp}|${reqId}|${operation}|${contentMd5}"),
        "|192.0.2.1|55F6BF87207FB30F2640C548|PutObject|1B2M2Y8AsgTpgAmY7PhCfg%3D%3D"
    );
}

#[test]
fn json_unquoted_template() {
    let out = json(
        r#"{"object":${object},"size":${size},"h":${imageInfo.height},"fmt":${imageInfo.format},"crc":${crc64},"v":${x:odd},"u":${unknown}}"#,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["object"], "dir/a b&c=d\"q'ü.txt");
    assert_eq!(v["size"], 5);
    assert_eq!(v["h"], "");
    assert_eq!(v["fmt"], "");
    assert_eq!(v["crc"], "18446744073709551615");
    assert_eq!(v["v"], "a b&c=d/e+f\"g\\h\u{1F600}");
    assert_eq!(v["u"], "");
}

#[test]
fn json_quoted_template() {
    // Variables inside string literals: inserted escaped, without extra quotes.
    let out = json(r#"{"path":"/b/${bucket}/${object}","size":"${size}","esc\"${x:var1}":"${x:odd}","n":${size}}"#);
    let v: serde_json::Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(v["path"], "/b/callback-test/dir/a b&c=d\"q'ü.txt");
    assert_eq!(v["size"], "5");
    assert_eq!(v["esc\"for-callback-test"], "a b&c=d/e+f\"g\\h\u{1F600}");
    assert_eq!(v["n"], 5);
}

#[test]
fn json_image_numbers() {
    let mut s = sys();
    s.image = Some(ImageInfo { width: 640, height: 480, format: "png".into() });
    let out = render_template(
        r#"{"w":${imageInfo.width},"h":${imageInfo.height},"f":${imageInfo.format}}"#,
        BodyType::Json,
        &s,
        &CallbackVars::default(),
    );
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"w":640,"h":480,"f":"png"}"#);
    let out = render_template(
        "w=${imageInfo.width}&f=${imageInfo.format}",
        BodyType::FormUrlEncoded,
        &s,
        &CallbackVars::default(),
    );
    assert_eq!(out, b"w=640&f=png");
}

#[test]
fn render_uses_spec_body_type() {
    let j = serde_json::json!({
        "callbackUrl": "h.example.com",
        "callbackBody": "{\"mimeType\":${mimeType},\"size\":${size}}",
        "callbackBodyType": "application/json"
    });
    let spec = CallbackSpec::decode(&b64(&j.to_string())).unwrap();
    assert_eq!(render(&spec, &sys(), &vars()), br#"{"mimeType":"text/plain","size":5}"#);
}

// ---- image probing ----

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v
}

fn gif(w: u16, h: u16) -> Vec<u8> {
    let mut v = b"GIF89a".to_vec();
    v.extend_from_slice(&w.to_le_bytes());
    v.extend_from_slice(&h.to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0x3b]);
    v
}

fn bmp(w: i32, h: i32) -> Vec<u8> {
    let mut v = b"BM".to_vec();
    v.extend_from_slice(&(54u32 + 4).to_le_bytes()); // file size
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&54u32.to_le_bytes()); // pixel offset
    v.extend_from_slice(&40u32.to_le_bytes()); // BITMAPINFOHEADER
    v.extend_from_slice(&w.to_le_bytes());
    v.extend_from_slice(&h.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&24u16.to_le_bytes());
    v.extend_from_slice(&[0; 24]);
    v.extend_from_slice(&[0; 4]);
    v
}

#[test]
fn probes_images() {
    assert_eq!(probe_image(&png(640, 480)), Some(ImageInfo { width: 640, height: 480, format: "png".into() }));
    assert_eq!(probe_image(&gif(3, 7)), Some(ImageInfo { width: 3, height: 7, format: "gif".into() }));
    assert_eq!(probe_image(&bmp(20, 10)), Some(ImageInfo { width: 20, height: 10, format: "bmp".into() }));
    assert_eq!(probe_image(b"hello world, not an image"), None);
    assert_eq!(probe_image(b""), None);
    assert_eq!(probe_image(&png(640, 480)[..12]), None);
}
