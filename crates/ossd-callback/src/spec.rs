//! The callback parameters as the uploader sends them: which carrier they came by
//! ([`CallbackParams`]), the decoded and validated `callback` JSON ([`CallbackSpec`]) and the
//! custom variables ([`CallbackVars`]).
//!
//! Every rejection is a `400 InvalidArgument` with `ArgumentName` = `callback` (or
//! `callback-var`) and the EC code of the shared spec (callback.md §2.5, §5.1), raised before
//! the object is stored.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ossd_proto::OssError;
use serde_json::Value;
pub use url::Url;

/// Largest accepted base64 text of `callback` and of `callback-var` (5 KB).
pub const MAX_PARAM_BYTES: usize = 5 * 1024;
/// Largest number of URLs in `callbackUrl`.
pub const MAX_URLS: usize = 5;

const ARG_CALLBACK: &str = "callback";
const ARG_CALLBACK_VAR: &str = "callback-var";

/// Standard alphabet; padding accepted whether present or not.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn callback_error(message: impl Into<String>, ec: Option<&str>, value: &str) -> OssError {
    arg_error(ARG_CALLBACK, message, ec, value)
}

fn var_error(message: impl Into<String>, ec: Option<&str>, value: &str) -> OssError {
    arg_error(ARG_CALLBACK_VAR, message, ec, value)
}

/// Longest `ArgumentValue` echoed back: oss2 reads only the first 4096 bytes of an error body,
/// so echoing a whole 5 KB parameter would hide the error code from it.
const MAX_ECHOED_VALUE: usize = 1024;

fn arg_error(name: &'static str, message: impl Into<String>, ec: Option<&str>, value: &str) -> OssError {
    let mut e = OssError::invalid_argument(message);
    if let Some(ec) = ec {
        e = e.with_ec(ec);
    }
    let mut end = value.len().min(MAX_ECHOED_VALUE);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let shown = if end < value.len() { format!("{}...", &value[..end]) } else { value.to_string() };
    e.with("ArgumentName", name).with("ArgumentValue", shown)
}

// ---------------------------------------------------------------------------------------------
// Carriers
// ---------------------------------------------------------------------------------------------

/// The raw (still base64) callback parameters of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackParams {
    /// The `callback` parameter (base64 JSON).
    pub callback: String,
    /// The `callback-var` parameter (base64 JSON), if any.
    pub callback_var: Option<String>,
}

impl CallbackParams {
    /// Picks the callback parameters of a PutObject / CompleteMultipartUpload request from the
    /// headers (`x-oss-callback`, `x-oss-callback-var`) or from the query (`callback`,
    /// `callback-var`; `query` holds the decoded pairs).
    ///
    /// * `Ok(None)`: no `callback` parameter at all (a lone `callback-var` is ignored).
    /// * Parameters in both the headers and the query, or a parameter given twice:
    ///   `400 InvalidArgument`.
    pub fn from_request(
        headers: &http::HeaderMap,
        query: &[(String, String)],
    ) -> Result<Option<CallbackParams>, OssError> {
        let h_cb = header_param(headers, "x-oss-callback", ARG_CALLBACK)?;
        let h_var = header_param(headers, "x-oss-callback-var", ARG_CALLBACK_VAR)?;
        let q_cb = query_param(query, "callback", ARG_CALLBACK)?;
        let q_var = query_param(query, "callback-var", ARG_CALLBACK_VAR)?;

        let in_headers = h_cb.is_some() || h_var.is_some();
        let in_query = q_cb.is_some() || q_var.is_some();
        if in_headers && in_query {
            return Err(OssError::invalid_argument(
                "The callback parameters must be given either in the headers or in the URL, not in both.",
            )
            .with("ArgumentName", ARG_CALLBACK)
            .with("ArgumentValue", h_cb.or(q_cb).unwrap_or_default()));
        }
        let (cb, var) = if in_headers { (h_cb, h_var) } else { (q_cb, q_var) };
        Ok(cb.map(|callback| CallbackParams { callback, callback_var: var }))
    }

    /// Decodes and validates both parameters.
    pub fn decode(&self) -> Result<(CallbackSpec, CallbackVars), OssError> {
        let spec = CallbackSpec::decode(&self.callback)?;
        let vars = match &self.callback_var {
            Some(v) => CallbackVars::decode(v)?,
            None => CallbackVars::default(),
        };
        Ok((spec, vars))
    }
}

fn header_param(headers: &http::HeaderMap, name: &str, arg: &'static str) -> Result<Option<String>, OssError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(arg_error(arg, format!("The {name} header is given more than once."), None, ""));
    }
    match first.to_str() {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(_) => {
            let value = String::from_utf8_lossy(first.as_bytes()).into_owned();
            let ec = if arg == ARG_CALLBACK { "0007-00000002" } else { "0007-00000102" };
            Err(arg_error(arg, format!("The {arg} parameter is not valid base64."), Some(ec), &value))
        }
    }
}

fn query_param(query: &[(String, String)], name: &str, arg: &'static str) -> Result<Option<String>, OssError> {
    let mut found = query.iter().filter(|(k, _)| k == name);
    let Some((_, first)) = found.next() else { return Ok(None) };
    if found.next().is_some() {
        return Err(arg_error(arg, format!("The {name} parameter is given more than once."), None, ""));
    }
    Ok(Some(first.trim().to_string()))
}

// ---------------------------------------------------------------------------------------------
// The callback JSON
// ---------------------------------------------------------------------------------------------

/// `callbackBodyType`: the `Content-Type` of the callback request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyType {
    /// `application/x-www-form-urlencoded` (the default): values are URL-encoded.
    #[default]
    FormUrlEncoded,
    /// `application/json`: values are inserted as JSON values.
    Json,
}

impl BodyType {
    /// The `Content-Type` value.
    pub fn content_type(self) -> &'static str {
        match self {
            BodyType::FormUrlEncoded => "application/x-www-form-urlencoded",
            BodyType::Json => "application/json",
        }
    }
}

/// A decoded and validated `callback` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackSpec {
    /// One to five absolute `http`/`https` URLs (no credentials, no fragment), tried in order.
    pub urls: Vec<Url>,
    /// `callbackHost`: the `Host` header to send instead of the URL's host.
    pub host: Option<String>,
    /// `callbackBody`: the template (validated `${...}` syntax, see [`parse_template`]).
    pub body: String,
    /// `callbackBodyType`.
    pub body_type: BodyType,
    /// `callbackSNI`: send TLS SNI to HTTPS receivers.
    pub sni: bool,
}

impl CallbackSpec {
    /// Decodes the base64 `callback` parameter and applies every check of callback.md §2.5 /
    /// §5.1, in this order:
    ///
    /// | check | EC |
    /// |---|---|
    /// | base64 text longer than 5 KB | 0007-00000001 |
    /// | not base64 | 0007-00000002 |
    /// | not a JSON object (`The callback configuration is not json format.`) | 0007-00000003 |
    /// | `callbackPolicy` present (bucket callback policies are not supported) | — |
    /// | `callbackUrl` missing, empty, not a string, or one URL invalid | 0007-00000004 |
    /// | more than 5 URLs | 0007-00000005 |
    /// | `callbackBody` missing, empty or not a string | 0007-00000011 |
    /// | `callbackBodyType` not a string or not one of the two types | 0007-00000012 |
    /// | `callbackSNI` not a JSON boolean (`The callback sni is invalid.`) | — |
    /// | `callbackHost` not a string or not a valid host | — |
    /// | malformed `${...}` in `callbackBody` | — |
    pub fn decode(b64: &str) -> Result<CallbackSpec, OssError> {
        if b64.len() > MAX_PARAM_BYTES {
            return Err(callback_error(
                format!("The callback parameter is too long: {} bytes, the limit is {MAX_PARAM_BYTES}.", b64.len()),
                Some("0007-00000001"),
                b64,
            ));
        }
        let raw = B64
            .decode(b64.as_bytes())
            .map_err(|_| callback_error("The callback parameter is not valid base64.", Some("0007-00000002"), b64))?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let not_json =
            || callback_error("The callback configuration is not json format.", Some("0007-00000003"), &text);
        let Ok(json) = std::str::from_utf8(&raw) else { return Err(not_json()) };
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(json) else { return Err(not_json()) };

        if obj.contains_key("callbackPolicy") {
            return Err(callback_error("Bucket callback policies (callbackPolicy) are not supported.", None, &text));
        }

        // callbackUrl
        let url_err = |msg: String| callback_error(msg, Some("0007-00000004"), &text);
        let url_field = match obj.get("callbackUrl") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.as_str(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(url_err("The callbackUrl is not configured.".into()));
            }
            Some(_) => return Err(url_err("The callbackUrl must be a string.".into())),
        };
        let parts: Vec<&str> = url_field.split(';').map(str::trim).filter(|s| !s.is_empty()).collect();
        if parts.is_empty() {
            return Err(url_err("The callbackUrl is not configured.".into()));
        }
        if parts.len() > MAX_URLS {
            return Err(callback_error(
                format!("The callbackUrl has {} URLs, the limit is {MAX_URLS}.", parts.len()),
                Some("0007-00000005"),
                &text,
            ));
        }
        let mut urls = Vec::with_capacity(parts.len());
        for p in parts {
            urls.push(
                parse_callback_url(p).map_err(|why| url_err(format!("The callbackUrl {p:?} is invalid: {why}.")))?,
            );
        }

        // callbackBody
        let body_err = |msg: &str| callback_error(msg, Some("0007-00000011"), &text);
        let body = match obj.get("callbackBody") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => return Err(body_err("The callbackBody is empty.")),
            Some(_) => return Err(body_err("The callbackBody must be a string.")),
        };

        // callbackBodyType
        let body_type = match obj.get("callbackBodyType") {
            None | Some(Value::Null) => BodyType::FormUrlEncoded,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case(BodyType::FormUrlEncoded.content_type()) => {
                BodyType::FormUrlEncoded
            }
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case(BodyType::Json.content_type()) => BodyType::Json,
            Some(_) => {
                return Err(callback_error(
                    "The callbackBodyType is invalid: it must be application/x-www-form-urlencoded or application/json.",
                    Some("0007-00000012"),
                    &text,
                ));
            }
        };

        // callbackSNI
        let sni = match obj.get("callbackSNI") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(callback_error("The callback sni is invalid.", None, &text)),
        };

        // callbackHost
        let host = match obj.get("callbackHost") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) if valid_host_header(s.trim()) => Some(s.trim().to_string()),
            Some(_) => return Err(callback_error("The callbackHost is invalid.", None, &text)),
        };

        if let Err(why) = parse_template(&body) {
            return Err(callback_error(format!("The callbackBody is invalid: {why}."), None, &text));
        }

        Ok(CallbackSpec { urls, host, body, body_type, sni })
    }
}

/// Parses one `callbackUrl` entry: default scheme `http`, only `http`/`https`, a host that is
/// not an IPv6 literal, a numeric non-zero port, no credentials; the fragment is dropped.
pub fn parse_callback_url(s: &str) -> Result<Url, String> {
    let with_scheme = if s.contains("://") { s.to_string() } else { format!("http://{s}") };
    let mut url = Url::parse(&with_scheme).map_err(|e| e.to_string())?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("scheme {:?} is not supported", url.scheme()));
    }
    match url.host_str() {
        None | Some("") => return Err("no host".into()),
        Some(h) if h.starts_with('[') => return Err("IPv6 addresses are not supported".into()),
        Some(_) => {}
    }
    if url.port() == Some(0) {
        return Err("port 0".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL are not allowed".into());
    }
    url.set_fragment(None);
    Ok(url)
}

/// A `callbackHost` must be usable as a `Host` header: `host` or `host:port`, no whitespace,
/// no path.
fn valid_host_header(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// One piece of a `callbackBody` template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Literal text, copied verbatim.
    Literal(&'a str),
    /// `${name}`: a system variable, or `x:name` for a custom one.
    Var(&'a str),
}

/// Splits a template into literal text and `${name}` references.
///
/// A `$` not followed by `{` is literal. After `${` there must be a non-empty name without
/// whitespace, control characters, `{`, `$` or `"`, then `}`; anything else is an error
/// (callback.md §2.2: a malformed variable → `InvalidArgument`).
pub fn parse_template(body: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(pos) = rest.find("${") {
        if pos > 0 {
            out.push(Segment::Literal(&rest[..pos]));
        }
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated variable at {:?}", truncate(&rest[pos..])));
        };
        let name = &after[..end];
        if name.is_empty() {
            return Err("empty variable name ${}".into());
        }
        if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '{' | '$' | '"')) {
            return Err(format!("character {c:?} in variable name at {:?}", truncate(&rest[pos..])));
        }
        out.push(Segment::Var(name));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Segment::Literal(rest));
    }
    Ok(out)
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(32) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

// ---------------------------------------------------------------------------------------------
// Custom variables
// ---------------------------------------------------------------------------------------------

/// Custom variables, `("x:name", value)`, in the order given; names are unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackVars(pub Vec<(String, String)>);

impl CallbackVars {
    /// Decodes the base64 `callback-var` parameter: a flat JSON object of string values whose
    /// keys start with `x:`.
    ///
    /// | check | EC |
    /// |---|---|
    /// | longer than 5 KB | 0007-00000101 |
    /// | not base64 | 0007-00000102 |
    /// | not JSON, not a flat object of strings, or a key without `x:` | 0007-00000103 |
    pub fn decode(b64: &str) -> Result<CallbackVars, OssError> {
        if b64.len() > MAX_PARAM_BYTES {
            return Err(var_error(
                format!("The callback-var parameter is too long: {} bytes, the limit is {MAX_PARAM_BYTES}.", b64.len()),
                Some("0007-00000101"),
                b64,
            ));
        }
        let raw = B64
            .decode(b64.as_bytes())
            .map_err(|_| var_error("The callback-var parameter is not valid base64.", Some("0007-00000102"), b64))?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let bad = |msg: &str| var_error(msg, Some("0007-00000103"), &text);
        let Ok(json) = std::str::from_utf8(&raw) else {
            return Err(bad("The callback-var configuration is not json format."));
        };
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(json) else {
            return Err(bad("The callback-var configuration is not json format."));
        };
        let mut vars = Vec::with_capacity(obj.len());
        for (k, v) in obj {
            if !k.starts_with("x:") || k.len() == 2 {
                return Err(bad(&format!("The callback-var key {k:?} must start with \"x:\".")));
            }
            let Value::String(v) = v else {
                return Err(bad(&format!("The callback-var value of {k:?} must be a string.")));
            };
            vars.push((k, v));
        }
        Ok(CallbackVars(vars))
    }

    /// Custom variables of a PostObject form: every `x:name` field (raw value), merged with a
    /// base64 `callback-var` field if one is present (decoded as [`CallbackVars::decode`]); an
    /// `x:` field wins over the same name in `callback-var`. Field names are matched without
    /// regard to case for the `x:` prefix and `callback-var`; the prefix is normalised to `x:`.
    pub fn from_form_fields(fields: &[(String, String)]) -> Result<CallbackVars, OssError> {
        let mut vars = match fields.iter().find(|(k, _)| k.eq_ignore_ascii_case("callback-var")) {
            Some((_, v)) if !v.trim().is_empty() => CallbackVars::decode(v.trim())?,
            _ => CallbackVars::default(),
        };
        for (k, v) in fields {
            if k.len() > 2 && k.is_char_boundary(2) && k[..2].eq_ignore_ascii_case("x:") {
                let name = format!("x:{}", &k[2..]);
                vars.set(name, v.clone());
            }
        }
        Ok(vars)
    }

    /// The value of `x:name` (the full key, prefix included).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Sets a variable, replacing an existing one of the same name.
    pub fn set(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }
}
