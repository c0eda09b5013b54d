//! The web console's static files, embedded in the binary (no build step, no CDN): plain ES
//! modules that sign every request in the browser, like any OSS client.

use crate::response::{self, Body};
use http::Response;
use ossd_proto::OssError;

/// (path under `console/`, content type, bytes)
const ASSETS: &[(&str, &str, &str)] = &[
    ("", "text/html; charset=utf-8", include_str!("../../console/index.html")),
    ("index.html", "text/html; charset=utf-8", include_str!("../../console/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../console/app.js")),
    ("oss.js", "text/javascript; charset=utf-8", include_str!("../../console/oss.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../../console/style.css")),
];

pub fn asset(path: &str) -> Result<Response<Body>, OssError> {
    let (_, content_type, text) = ASSETS.iter().find(|(p, _, _)| *p == path).ok_or_else(super::not_found)?;
    let mut r = Response::new(response::full(*text));
    response::set(&mut r, "content-type", content_type);
    response::set(&mut r, "cache-control", "no-cache");
    // The console runs only its own scripts and talks only to this server.
    response::set(
        &mut r,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; frame-ancestors 'none'",
    );
    response::set(&mut r, "x-content-type-options", "nosniff");
    Ok(r)
}
