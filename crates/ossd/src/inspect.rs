//! `ossd callback-inspect`: a callback receiver for debugging. It verifies each request's
//! signature with [`ossd_callback::verify::Verifier`], prints the request readably (method,
//! path, headers, body, decoded variables, verdict) and answers with a fixed status and body.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use ossd_callback::verify::{CallbackRequest, Verifier, VerifierConfig, parse_form_body};

/// Largest request body the inspector reads.
const MAX_BODY: usize = 16 * 1024 * 1024;

pub struct InspectOptions {
    pub listen: SocketAddr,
    /// Status of every answer (OSS accepts only 200).
    pub status: u16,
    /// Body of every answer, sent as `application/json` (OSS accepts only JSON).
    pub body: String,
    /// Key URLs the signature check trusts (see `VerifierConfig::allowed_key_url_prefixes`).
    pub allowed_key_url_prefixes: Vec<String>,
}

struct Shared {
    verifier: Verifier,
    status: StatusCode,
    body: Bytes,
    seq: AtomicU64,
}

/// Serves until Ctrl-C.
pub async fn run(opts: InspectOptions) -> std::io::Result<()> {
    let status = StatusCode::from_u16(opts.status).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("invalid status {}", opts.status))
    })?;
    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        verifier: Verifier::new(VerifierConfig {
            allowed_key_url_prefixes: opts.allowed_key_url_prefixes,
            ..Default::default()
        }),
        status,
        body: Bytes::from(opts.body),
        seq: AtomicU64::new(0),
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ossd callback-inspect listening on http://{addr}")?;
        if shared.verifier.config().allowed_key_url_prefixes.is_empty() {
            writeln!(
                out,
                "(no key URL prefix is allowed: every signature check will report the key URL as not allowed)"
            )?;
        }
        out.flush()?;
    }
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("callback-inspect: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(shared.clone(), peer, req));
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                eprintln!("callback-inspect: connection from {peer}: {e}");
            }
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let n = shared.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            println!("=== callback #{n} from {peer}: reading the body failed: {e}");
            let mut resp = Response::new(Full::new(Bytes::from_static(b"{\"Status\":\"BodyError\"}")));
            *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(resp);
        }
    };
    let verdict = shared.verifier.verify(&CallbackRequest::from_parts(&parts, &body)).await;

    let mut s = String::new();
    let _ = writeln!(s, "=== callback #{n} from {peer} ===");
    let _ = writeln!(s, "{} {} {:?}", parts.method, parts.uri, parts.version);
    for (name, value) in &parts.headers {
        let v = String::from_utf8_lossy(value.as_bytes());
        let _ = write!(s, "  {name}: {v}");
        let decoded_key_url = (name.as_str() == "x-oss-pub-key-url")
            .then(|| base64::engine::general_purpose::STANDARD.decode(v.trim()).ok())
            .flatten();
        if let Some(url) = decoded_key_url {
            let _ = write!(s, "    (= {})", String::from_utf8_lossy(&url));
        }
        s.push('\n');
    }
    // What ossd (or OSS) sends on its own; every other header came from additionalHeaders.
    const OWN_HEADERS: &[&str] = &[
        "host",
        "content-type",
        "content-length",
        "authorization",
        "x-oss-pub-key-url",
        "x-oss-request-id",
        "x-oss-callback-policy",
        "user-agent",
        "accept",
        "connection",
    ];
    let additional: Vec<String> = parts
        .headers
        .iter()
        .filter(|(name, _)| !OWN_HEADERS.contains(&name.as_str()))
        .map(|(name, v)| format!("{name}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    if !additional.is_empty() {
        let _ = writeln!(s, "--- additionalHeaders ---");
        for h in additional {
            let _ = writeln!(s, "  {h}");
        }
    }
    match parts.headers.get("x-oss-callback-policy") {
        Some(p) => {
            let _ = writeln!(s, "--- bucket callback policy used: {} ---", String::from_utf8_lossy(p.as_bytes()));
        }
        None => {
            let _ = writeln!(s, "--- bucket callback policy used: none (the upload sent its own callback) ---");
        }
    }
    let _ = writeln!(s, "--- body ({} bytes) ---", body.len());
    s.push_str(&String::from_utf8_lossy(&body));
    if !body.ends_with(b"\n") {
        s.push('\n');
    }
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => {
                let _ = writeln!(s, "--- variables (JSON) ---");
                let _ = writeln!(s, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            Err(e) => {
                let _ = writeln!(s, "--- body is not valid JSON: {e} ---");
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") || content_type.is_empty() {
        let _ = writeln!(s, "--- variables (form) ---");
        for (k, v) in parse_form_body(&body) {
            let _ = writeln!(s, "  {k} = {v:?}");
        }
    }
    match &verdict {
        Ok(()) => {
            let _ = writeln!(s, "--- signature: VALID ---");
        }
        Err(e) => {
            let _ = writeln!(s, "--- signature: INVALID: {e} ---");
        }
    }
    let _ = writeln!(s, "--- answered {} ({} bytes) ---", shared.status.as_u16(), shared.body.len());
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    }

    let mut resp = Response::new(Full::new(shared.body.clone()));
    *resp.status_mut() = shared.status;
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Ok(resp)
}
