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
    pub fn decode(&self) -> Result<(CallbackConfig, CallbackVars), OssError> {
        let config = CallbackConfig::decode(&self.callback)?;
        let vars = match &self.callback_var {
            Some(v) => CallbackVars::decode(v)?,
            None => CallbackVars::default(),
        };
        Ok((config, vars))
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

/// Most `additionalHeaders` entries (OSS's documented limit).
pub const MAX_ADDITIONAL_HEADERS: usize = 10;

/// What a decoded `callback` parameter asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackConfig {
    /// `callbackUrl` missing or empty: "no callback is configured" (EC 0007-00000004's page), so
    /// the upload answers as a plain upload.
    NotConfigured,
    /// `{"callbackPolicy":"name"}`: the bucket callback policy of that name supplies the
    /// `callback` and `callback-var` parameters; every other field is ignored.
    Policy(String),
    /// A callback to deliver.
    Spec(CallbackSpec),
}

impl CallbackConfig {
    /// Decodes the base64 `callback` parameter. The size, base64 and JSON checks come first;
    /// then `callbackPolicy` (a non-empty string) wins over everything else; then a missing or
    /// empty `callbackUrl` means no callback; then the checks of [`CallbackSpec::decode`].
    pub fn decode(b64: &str) -> Result<CallbackConfig, OssError> {
        let (obj, text) = decode_object(b64, ARG_CALLBACK, CALLBACK_ECS)?;
        match obj.get("callbackPolicy") {
            None | Some(Value::Null) => {}
            Some(Value::String(name)) if !name.trim().is_empty() => {
                return Ok(CallbackConfig::Policy(name.trim().to_string()));
            }
            Some(_) => return Err(callback_error("The callbackPolicy is invalid.", None, &text)),
        }
        match obj.get("callbackUrl") {
            None | Some(Value::Null) => return Ok(CallbackConfig::NotConfigured),
            Some(Value::String(s)) if s.split(';').all(|u| u.trim().is_empty()) => {
                return Ok(CallbackConfig::NotConfigured);
            }
            Some(_) => {}
        }
        CallbackSpec::from_object(&obj, &text).map(CallbackConfig::Spec)
    }
}

/// The size, base64 and JSON-object checks of both parameters (`arg` is `callback` or
/// `callback-var`; `ecs` their three EC codes in that order): the object and its text (for
/// `ArgumentValue`).
fn decode_object(
    b64: &str,
    arg: &'static str,
    ecs: [&str; 3],
) -> Result<(serde_json::Map<String, Value>, String), OssError> {
    if b64.len() > MAX_PARAM_BYTES {
        return Err(arg_error(
            arg,
            format!("The {arg} parameter is too long: {} bytes, the limit is {MAX_PARAM_BYTES}.", b64.len()),
            Some(ecs[0]),
            b64,
        ));
    }
    let raw = B64
        .decode(b64.as_bytes())
        .map_err(|_| arg_error(arg, format!("The {arg} parameter is not valid base64."), Some(ecs[1]), b64))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let not_json = || arg_error(arg, format!("The {arg} configuration is not json format."), Some(ecs[2]), &text);
    let Ok(json) = std::str::from_utf8(&raw) else { return Err(not_json()) };
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(json) else { return Err(not_json()) };
    Ok((obj, text))
}

const CALLBACK_ECS: [&str; 3] = ["0007-00000001", "0007-00000002", "0007-00000003"];
const CALLBACK_VAR_ECS: [&str; 3] = ["0007-00000101", "0007-00000102", "0007-00000103"];

/// Headers the callback request sets itself (framing, signature, `callbackHost`,
/// `callbackBodyType`): an `additionalHeaders` entry may not replace them. OSS documents no such
/// rule; two `Content-Length`s or a second `authorization` would only break the callback.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "authorization",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// Validates `additionalHeaders` (EC pages 0007-00000021…26): a JSON object of at most
/// [`MAX_ADDITIONAL_HEADERS`] string values, keys non-empty, made of letters, digits and `-`,
/// not starting with `x-oss-`, values without CR or LF. Names are kept lower-case.
fn additional_headers(v: Option<&Value>, text: &str) -> Result<Vec<(String, String)>, OssError> {
    let bad = |msg: String, ec: Option<&str>| callback_error(msg, ec, text);
    let obj = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(bad("The additionalHeaders must be a JSON object.".into(), Some("0007-00000021"))),
    };
    if obj.len() > MAX_ADDITIONAL_HEADERS {
        // The page for this limit does not name its EC code.
        return Err(bad(
            format!("The additionalHeaders has {} entries, the limit is {MAX_ADDITIONAL_HEADERS}.", obj.len()),
            None,
        ));
    }
    let mut out = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        let name = k.to_ascii_lowercase();
        if name.is_empty() {
            return Err(bad("The additionalHeaders has an empty key.".into(), Some("0007-00000023")));
        }
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(bad(
                format!("The additionalHeaders key {k:?} has a character other than 0-9, a-z and -."),
                None,
            ));
        }
        if name.starts_with("x-oss-") {
            return Err(bad(
                format!("The additionalHeaders key {k:?} must not start with x-oss-."),
                Some("0007-00000026"),
            ));
        }
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(bad(
                format!("The additionalHeaders key {k:?} is a header the callback request sets itself."),
                None,
            ));
        }
        let Value::String(value) = v else {
            return Err(bad(format!("The additionalHeaders value of {k:?} must be a string."), None));
        };
        if value.contains(['\r', '\n']) {
            return Err(bad(
                format!("The additionalHeaders value of {k:?} must not contain CR or LF."),
                Some("0007-00000025"),
            ));
        }
        if http::HeaderValue::from_str(value).is_err() {
            return Err(bad(format!("The additionalHeaders value of {k:?} is not a valid header value."), None));
        }
        out.push((name, value.clone()));
    }
    Ok(out)
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
    /// `additionalHeaders`: extra request headers for the receiver (lower-case names).
    pub additional_headers: Vec<(String, String)>,
    /// The bucket callback policy this callback came from (`callbackPolicy`), if any.
    pub policy: Option<String>,
}

impl CallbackSpec {
    /// Decodes a `callback` parameter that must describe a callback to deliver (stored bucket
    /// callback policies, the callback log): a `callbackPolicy` or a missing `callbackUrl` is an
    /// error here. See [`CallbackConfig::decode`] for an upload's parameter.
    pub fn decode(b64: &str) -> Result<CallbackSpec, OssError> {
        let (obj, text) = decode_object(b64, ARG_CALLBACK, CALLBACK_ECS)?;
        if obj.contains_key("callbackPolicy") {
            return Err(callback_error("A bucket callback policy cannot name another policy.", None, &text));
        }
        CallbackSpec::from_object(&obj, &text)
    }

    /// Applies every check of callback.md §2.5 / §5.1 to a decoded object, in this order:
    ///
    /// | check | EC |
    /// |---|---|
    /// | base64 text longer than 5 KB | 0007-00000001 |
    /// | not base64 | 0007-00000002 |
    /// | not a JSON object (`The callback configuration is not json format.`) | 0007-00000003 |
    /// | `callbackUrl` missing, empty, not a string, or one URL invalid | 0007-00000004 |
    /// | more than 5 URLs | 0007-00000005 |
    /// | `callbackBody` missing, empty or not a string | 0007-00000011 |
    /// | `callbackBodyType` not a string or not one of the two types | 0007-00000012 |
    /// | `callbackSNI` not a JSON boolean (`The callback sni is invalid.`) | — |
    /// | `callbackHost` not a string or not a valid host | — |
    /// | `additionalHeaders` invalid (see [`MAX_ADDITIONAL_HEADERS`]) | 0007-00000021…26 |
    /// | malformed `${...}` in `callbackBody` | — |
    fn from_object(obj: &serde_json::Map<String, Value>, text: &str) -> Result<CallbackSpec, OssError> {
        let text = text.to_string();
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

        let additional_headers = additional_headers(obj.get("additionalHeaders"), &text)?;

        if let Err(why) = parse_template(&body) {
            return Err(callback_error(format!("The callbackBody is invalid: {why}."), None, &text));
        }

        Ok(CallbackSpec { urls, host, body, body_type, sni, additional_headers, policy: None })
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
    /// Decodes the base64 `callback-var` parameter: a flat JSON object. Keys that do not start
    /// with `x:` are not variables and are ignored (OSS answers the upload normally); JSON
    /// numbers and booleans are taken as their text (ali-oss `signatureUrl` sends `customValue`
    /// unconverted).
    ///
    /// | check | EC |
    /// |---|---|
    /// | longer than 5 KB | 0007-00000101 |
    /// | not base64 | 0007-00000102 |
    /// | not a JSON object, or a value that is an object, an array or null | 0007-00000103 |
    pub fn decode(b64: &str) -> Result<CallbackVars, OssError> {
        let (obj, text) = decode_object(b64, ARG_CALLBACK_VAR, CALLBACK_VAR_ECS)?;
        let bad = |msg: &str| var_error(msg, Some(CALLBACK_VAR_ECS[2]), &text);
        let mut vars = Vec::with_capacity(obj.len());
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(bad(&format!("The callback-var value of {k:?} must be a string."))),
            };
            if k.starts_with("x:") && k.len() > 2 {
                vars.push((k, text));
            } else {
                tracing::debug!(key = %k, "callback-var key without the x: prefix ignored");
            }
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
