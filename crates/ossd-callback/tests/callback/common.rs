//! Shared helpers: one signing key, base64, and a raw HTTP/1.1 receiver on 127.0.0.1 that
//! checks signatures by an independent path (manual string building, `RsaPublicKey::verify`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use ossd_callback::sign::CallbackSigner;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub fn signer() -> Arc<CallbackSigner> {
    static S: OnceLock<Arc<CallbackSigner>> = OnceLock::new();
    S.get_or_init(|| Arc::new(CallbackSigner::generate(1024))).clone()
}

pub fn b64(s: &str) -> String {
    STANDARD.encode(s.as_bytes())
}

/// Percent-decoding written out by hand (independent of the crate's).
pub fn manual_unescape(p: &str) -> Vec<u8> {
    let b = p.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(h, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Verifies an OSS callback signature the way the DOC-CB Python sample does:
/// `unquote(path) + "?" + query + "\n" + body`, MD5, PKCS#1 v1.5.
pub fn independent_verify(public: &RsaPublicKey, target: &str, body: &[u8], auth_b64: &str) -> bool {
    let (path, query) = match target.find('?') {
        Some(i) => (&target[..i], Some(&target[i..])),
        None => (target, None),
    };
    let mut s = manual_unescape(path);
    if let Some(q) = query {
        s.extend_from_slice(q.as_bytes());
    }
    s.push(b'\n');
    s.extend_from_slice(body);
    let digest = Md5::digest(&s);
    let Ok(sig) = STANDARD.decode(auth_b64) else { return false };
    public.verify(Pkcs1v15Sign::new::<Md5>(), &digest, &sig).is_ok()
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub signature_ok: bool,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What a receiver does with each request.
#[derive(Clone)]
pub enum Reply {
    /// Write these raw bytes (a full HTTP response).
    Raw(Vec<u8>),
    /// Never answer.
    Hang,
}

pub fn json_200(body: &str) -> Reply {
    Reply::Raw(
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .into_bytes(),
    )
}

pub fn status_reply(status: &str, extra: &str) -> Reply {
    Reply::Raw(format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\n\r\n").into_bytes())
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub requests: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(reply: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (connections.clone(), requests.clone());
        let public = signer().public_key().clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, reply.clone(), r.clone(), public.clone()));
            }
        });
        Receiver { addr, connections, requests, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(mut stream: TcpStream, reply: Reply, log: Arc<Mutex<Vec<Received>>>, public: RsaPublicKey) {
    let mut buf = Vec::new();
    loop {
        // Read one request head.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_string();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let body_start = head_end + 4;
        while buf.len() < body_start + len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[body_start..body_start + len].to_vec();
        buf.drain(..body_start + len);
        let auth = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone());
        let signature_ok = auth.is_some_and(|a| independent_verify(&public, &target, &body, &a));
        log.lock().unwrap().push(Received { method, target, headers, body, signature_ok });
        match &reply {
            Reply::Raw(bytes) => {
                if stream.write_all(bytes).await.is_err() {
                    return;
                }
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        }
    }
}

/// A port with nothing listening on it.
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}
