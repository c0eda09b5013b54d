use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Method};
use ossd_callback::deliver::{Deliverer, DeliveryConfig};
use ossd_callback::sign::CallbackSigner;
use ossd_callback::spec::{BodyType, CallbackSpec, Url};
use ossd_callback::verify::{CallbackRequest, Verifier, VerifierConfig, VerifyError, parse_form_body, verify_with_key};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::common::{Receiver, json_200, signer};

/// Serves `body` with `status` to every GET; counts requests.
struct KeyServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeyServer {
    async fn start(status: &'static str, body: String) -> KeyServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else { return };
                let (h, body) = (h.clone(), body.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        KeyServer { addr, hits, task }
    }

    fn url(&self) -> String {
        format!("http://{}/callback_pub_key.pem", self.addr)
    }
}

fn verifier(prefixes: &[String]) -> Verifier {
    Verifier::new(VerifierConfig { allowed_key_url_prefixes: prefixes.to_vec(), ..Default::default() })
}

fn signed_headers(s: &CallbackSigner, key_url: &str, path: &str, query: Option<&str>, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", s.sign(path, query, body).parse().unwrap());
    h.insert("x-oss-pub-key-url", STANDARD.encode(key_url).parse().unwrap());
    h
}

#[tokio::test]
async fn end_to_end_delivery_then_verify_with_cache() {
    let keys = KeyServer::start("200 OK", signer().public_key_pem()).await;
    let r = Receiver::start(json_200(r#"{"Status":"OK"}"#)).await;
    let dl = Deliverer::new(DeliveryConfig { public_key_url: keys.url(), ..Default::default() }, signer());
    let spec = CallbackSpec {
        urls: vec![Url::parse(&r.url("/hook%2Fa b?x=%2F&y=1")).unwrap()],
        host: None,
        body: "b=${bucket}".into(),
        body_type: BodyType::FormUrlEncoded,
        sni: false,
        additional_headers: Vec::new(),
        policy: None,
    };
    let d = dl.deliver(&spec, b"b=bucket1&o=a%2Fb%20c".to_vec(), "RID").await;
    assert!(d.answer().is_some(), "{:?}", d.outcome);
    let got = &r.received()[0];
    assert!(got.signature_ok);

    let mut headers = HeaderMap::new();
    for (k, v) in &got.headers {
        headers.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    let (path, query) = match got.target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (got.target.as_str(), None),
    };
    assert_eq!(path, "/hook%2Fa%20b");
    let req = CallbackRequest { method: &Method::POST, path, query, headers: &headers, body: &got.body };
    let v = verifier(&[format!("http://{}/", keys.addr)]);
    v.verify(&req).await.unwrap();
    v.verify(&req).await.unwrap();
    assert_eq!(keys.hits.load(Ordering::SeqCst), 1, "the key is cached");

    // Tampering with any part breaks it.
    let bad_body = CallbackRequest { body: b"b=bucket2&o=a%2Fb%20c", ..req };
    assert_eq!(v.verify(&bad_body).await, Err(VerifyError::SignatureMismatch));
    let bad_query = CallbackRequest { query: Some("x=%2F&y=2"), ..req };
    assert_eq!(v.verify(&bad_query).await, Err(VerifyError::SignatureMismatch));
    let no_query = CallbackRequest { query: None, ..req };
    assert_eq!(v.verify(&no_query).await, Err(VerifyError::SignatureMismatch));
    // The decoded path is what counts: an equivalent encoding verifies.
    let same_path = CallbackRequest { path: "/hook/a%20b", ..req };
    assert_eq!(v.verify(&same_path).await, Ok(()));

    let form = parse_form_body(&got.body);
    assert_eq!(form, [("b".to_string(), "bucket1".to_string()), ("o".to_string(), "a/b c".to_string())]);
}

#[tokio::test]
async fn each_verify_error() {
    let s = signer();
    let keys = KeyServer::start("200 OK", s.public_key_pem()).await;
    let allowed = vec![format!("http://{}", keys.addr)];
    let v = verifier(&allowed);
    let body = b"{\"a\":1}";
    let headers = signed_headers(&s, &keys.url(), "/cb", None, body);
    let ok = CallbackRequest { method: &Method::POST, path: "/cb", query: None, headers: &headers, body };
    assert_eq!(v.verify(&ok).await, Ok(()));

    let get = CallbackRequest { method: &Method::GET, ..ok };
    assert_eq!(v.verify(&get).await, Err(VerifyError::MethodNotPost(Method::GET)));

    let mut h = headers.clone();
    h.remove("authorization");
    let r = CallbackRequest { headers: &h, ..ok };
    assert_eq!(v.verify(&r).await, Err(VerifyError::MissingHeader("authorization")));

    let mut h = headers.clone();
    h.remove("x-oss-pub-key-url");
    let r = CallbackRequest { headers: &h, ..ok };
    assert_eq!(v.verify(&r).await, Err(VerifyError::MissingHeader("x-oss-pub-key-url")));

    let mut h = headers.clone();
    h.insert("authorization", "not*base64".parse().unwrap());
    let r = CallbackRequest { headers: &h, ..ok };
    assert_eq!(v.verify(&r).await, Err(VerifyError::BadBase64("authorization")));

    let mut h = headers.clone();
    h.insert("x-oss-pub-key-url", "%%%".parse().unwrap());
    let r = CallbackRequest { headers: &h, ..ok };
    assert_eq!(v.verify(&r).await, Err(VerifyError::BadBase64("x-oss-pub-key-url")));

    // Key URLs outside the allowed prefixes are refused without fetching; a prefix without a
    // trailing '/' does not admit a longer host name.
    let hits_before = keys.hits.load(Ordering::SeqCst);
    for url in [
        "http://gosspublic.alicdn.com/callback_pub_key_v1.pem".to_string(),
        format!("http://{}0/k.pem", keys.addr),
        format!("http://{}.evil.example/k.pem", keys.addr),
    ] {
        let h = signed_headers(&s, &url, "/cb", None, body);
        let r = CallbackRequest { headers: &h, ..ok };
        assert_eq!(v.verify(&r).await, Err(VerifyError::KeyUrlNotAllowed(url)));
    }
    assert_eq!(keys.hits.load(Ordering::SeqCst), hits_before);
    // An empty allow-list admits nothing.
    assert!(matches!(verifier(&[]).verify(&ok).await, Err(VerifyError::KeyUrlNotAllowed(_))));

    // Fetch failures: a 404, and nothing listening.
    let missing = KeyServer::start("404 Not Found", String::new()).await;
    let h = signed_headers(&s, &missing.url(), "/cb", None, body);
    let r = CallbackRequest { headers: &h, ..ok };
    let e = verifier(&[missing.url()]).verify(&r).await.unwrap_err();
    assert!(matches!(&e, VerifyError::KeyFetch { reason, .. } if reason.contains("404")), "{e}");
    let dead = format!("http://127.0.0.1:{}/k.pem", crate::common::closed_port().await);
    let h = signed_headers(&s, &dead, "/cb", None, body);
    let r = CallbackRequest { headers: &h, ..ok };
    assert!(
        matches!(verifier(std::slice::from_ref(&dead)).verify(&r).await, Err(VerifyError::KeyFetch { url, .. }) if url == dead)
    );

    // Not a PEM.
    let junk = KeyServer::start("200 OK", "hello".into()).await;
    let h = signed_headers(&s, &junk.url(), "/cb", None, body);
    let r = CallbackRequest { headers: &h, ..ok };
    assert!(matches!(verifier(&[junk.url()]).verify(&r).await, Err(VerifyError::BadPem(_))));

    // Signed by another key.
    let other = CallbackSigner::generate(512);
    let h = signed_headers(&other, &keys.url(), "/cb", None, body);
    let r = CallbackRequest { headers: &h, ..ok };
    assert_eq!(v.verify(&r).await, Err(VerifyError::SignatureMismatch));
}

#[test]
fn verify_with_key_sync() {
    let s = signer();
    let body = b"bucket=b";
    let mut h = HeaderMap::new();
    h.insert("authorization", s.sign("/index.php", Some("id=1&index=2"), body).parse().unwrap());
    let req =
        CallbackRequest { method: &Method::POST, path: "/index.php", query: Some("id=1&index=2"), headers: &h, body };
    assert_eq!(verify_with_key(&s.public_key_pem(), &req), Ok(()));
    // PKCS#1 public key PEM is accepted too.
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    let pkcs1 = s.public_key().to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    assert_eq!(verify_with_key(&pkcs1, &req), Ok(()));
    assert!(matches!(verify_with_key("nope", &req), Err(VerifyError::BadPem(_))));
    let put = CallbackRequest { method: &Method::PUT, ..req };
    assert_eq!(verify_with_key(&s.public_key_pem(), &put), Err(VerifyError::MethodNotPost(Method::PUT)));
    let tampered = CallbackRequest { path: "/index.php5", ..req };
    assert_eq!(verify_with_key(&s.public_key_pem(), &tampered), Err(VerifyError::SignatureMismatch));
    let mut short = h.clone();
    short.insert("authorization", "AAAA".parse().unwrap());
    let r = CallbackRequest { headers: &short, ..req };
    assert_eq!(verify_with_key(&s.public_key_pem(), &r), Err(VerifyError::SignatureMismatch));
}
