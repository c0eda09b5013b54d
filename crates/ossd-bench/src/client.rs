//! The one HTTP client every target is driven with: one keep-alive HTTP/1.1 connection per
//! worker (hyper's connection API), path-style `/bucket/key` requests, signed with OSS V1
//! (ossd), AWS SigV4 (peers that require it) or sent anonymously.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpStream;

/// How requests to a target are authenticated.
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    /// `Authorization: OSS ak:sig` with a `Date` header.
    OssV1 {
        access_key_id: String,
        secret: String,
    },
    /// AWS Signature V4 with `UNSIGNED-PAYLOAD`.
    SigV4 {
        access_key_id: String,
        secret: String,
        region: String,
    },
}

impl Auth {
    pub fn label(&self) -> &'static str {
        match self {
            Auth::Anonymous => "anonymous",
            Auth::OssV1 { .. } => "OSS V1",
            Auth::SigV4 { .. } => "SigV4",
        }
    }
}

/// Where a target listens and how to talk to it.
#[derive(Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub auth: Auth,
    /// Every node serving this endpoint (just `addr` for one server): each new connection goes
    /// to the next one in turn, as a load balancer in front of stateless nodes would.
    pub nodes: Vec<SocketAddr>,
    next_node: std::sync::atomic::AtomicUsize,
}

impl Endpoint {
    pub fn new(addr: SocketAddr, auth: Auth) -> Arc<Endpoint> {
        Self::spread(vec![addr], auth)
    }

    /// One endpoint over several nodes (the first is the one named in `Host`).
    pub fn spread(nodes: Vec<SocketAddr>, auth: Auth) -> Arc<Endpoint> {
        Arc::new(Endpoint { addr: nodes[0], auth, nodes, next_node: Default::default() })
    }

    fn pick_node(&self) -> SocketAddr {
        let i = self.next_node.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.nodes[i % self.nodes.len()]
    }

    /// Parses `http://HOST:PORT[/]`.
    pub fn parse_url(url: &str) -> Result<SocketAddr, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("not an http:// URL: {url}"))?;
        let hostport = rest.trim_end_matches('/');
        let hostport = hostport.replace("localhost", "127.0.0.1");
        hostport.parse().map_err(|e| format!("bad address in {url}: {e}"))
    }
}

/// A response, its body drained (and kept only when asked).
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body_len: u64,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// How often `needle` occurs in the body (SIMD search, no copy of the body).
    pub fn count(&self, needle: &str) -> usize {
        memchr::memmem::find_iter(&self.body, needle.as_bytes()).count()
    }
}

/// One request to send.
pub struct Req<'a> {
    pub method: Method,
    pub bucket: &'a str,
    /// Object key; empty for bucket-level requests (`/bucket/`).
    pub key: &'a str,
    /// Query pairs, sent in this order; an empty value is sent bare (`?uploads`).
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Keep the response body (otherwise only its length is counted).
    pub keep_body: bool,
}

impl<'a> Req<'a> {
    pub fn new(method: Method, bucket: &'a str, key: &'a str) -> Req<'a> {
        Req { method, bucket, key, query: Vec::new(), headers: HeaderMap::new(), body: Bytes::new(), keep_body: false }
    }
    pub fn body(mut self, body: Bytes) -> Self {
        self.body = body;
        self
    }
    pub fn query(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.to_string(), v.to_string()));
        self
    }
    pub fn header(mut self, k: &'static str, v: &str) -> Self {
        self.headers.insert(k, HeaderValue::from_str(v).expect("valid header value"));
        self
    }
    pub fn keep_body(mut self) -> Self {
        self.keep_body = true;
        self
    }
}

/// A worker's connection; reconnects after an error or a close.
pub struct Conn {
    pub ep: Arc<Endpoint>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(ep: Arc<Endpoint>) -> Conn {
        Conn { ep, sender: None }
    }

    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if let Some(s) = &self.sender
            && (s.is_closed() || !s.is_ready())
        {
            self.sender = None;
        }
        if self.sender.is_none() {
            let node = self.ep.pick_node();
            let stream = TcpStream::connect(node).await.map_err(|e| format!("connect {node}: {e}"))?;
            stream.set_nodelay(true).ok();
            let (sender, conn) = hyper::client::conn::http1::Builder::new()
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("just set"))
    }

    /// Sends a request and drains the response.
    pub async fn send(&mut self, req: Req<'_>) -> Result<Resp, String> {
        let request = build(&self.ep, req.method, req.bucket, req.key, &req.query, req.headers, req.body)?;
        let keep_body = req.keep_body;
        let result = async {
            let sender = self.sender().await?;
            sender.ready().await.map_err(|e| format!("connection: {e}"))?;
            let resp = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
            let (parts, mut body) = resp.into_parts();
            let mut body_len = 0u64;
            // Sized from Content-Length when kept: a LIST page is ~300 KiB, and growing the
            // buffer by doubling copied it several times on the cores the server shares.
            let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
            let mut kept = Vec::with_capacity(if keep_body { declared.unwrap_or(0usize).min(16 << 20) } else { 0 });
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("response body: {e}"))?;
                if let Ok(data) = frame.into_data() {
                    body_len += data.len() as u64;
                    if keep_body || !parts.status.is_success() {
                        kept.extend_from_slice(&data);
                    }
                }
            }
            Ok(Resp { status: parts.status, headers: parts.headers, body_len, body: Bytes::from(kept) })
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    /// Sends and requires a 2xx answer.
    pub async fn send_ok(&mut self, req: Req<'_>) -> Result<Resp, String> {
        let what = format!("{} /{}/{}", req.method, req.bucket, req.key);
        let resp = self.send(req).await?;
        if resp.status.is_success() {
            Ok(resp)
        } else {
            let text = resp.text();
            Err(format!(
                "{what}: HTTP {} {}",
                resp.status.as_u16(),
                error_code(&text).unwrap_or(&text[..text.len().min(200)])
            ))
        }
    }
}

/// The `<Code>` of an XML error body.
pub fn error_code(body: &str) -> Option<&str> {
    xml_value(body, "Code")
}

/// The text of the first `<tag>` in `xml`.
pub fn xml_value<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(&xml[start..end])
}

fn build(
    ep: &Endpoint,
    method: Method,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
    mut headers: HeaderMap,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, String> {
    let path = format!("/{bucket}/{}", uri_encode(key, false));
    let mut uri = path.clone();
    for (i, (k, v)) in query.iter().enumerate() {
        uri.push(if i == 0 { '?' } else { '&' });
        uri.push_str(&uri_encode(k, true));
        if !v.is_empty() {
            uri.push('=');
            uri.push_str(&uri_encode(v, true));
        }
    }
    let host = ep.addr.to_string();
    headers.insert(http::header::HOST, HeaderValue::from_str(&host).expect("valid host"));
    match &ep.auth {
        Auth::Anonymous => {}
        Auth::OssV1 { access_key_id, secret } => {
            let date = httpdate::fmt_http_date(SystemTime::now());
            headers.insert(http::header::DATE, HeaderValue::from_str(&date).expect("valid date"));
            let signed = ossd_proto::auth::SignedRequest {
                method: method.as_str(),
                bucket: Some(bucket),
                key: if key.is_empty() { None } else { Some(key) },
                query,
                headers: &headers,
            };
            let value = ossd_proto::auth::v1::authorization(access_key_id, secret, &signed, &date);
            headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&value).map_err(|e| e.to_string())?);
        }
        Auth::SigV4 { access_key_id, secret, region } => {
            crate::sigv4::sign(&mut headers, method.as_str(), &path, query, &host, access_key_id, secret, region);
        }
    }
    let mut builder = Request::builder().method(method).uri(uri);
    *builder.headers_mut().expect("builder ok") = headers;
    builder.body(Full::new(body)).map_err(|e| format!("request: {e}"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` unless `slash`).
pub fn uri_encode(s: &str, slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (b == b'/' && !slash) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
