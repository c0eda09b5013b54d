//! Bucket CORS: the rule document (PutBucketCors / GetBucketCors) and rule matching for
//! preflight and actual requests (oss-api.md §3, CORS rows).

use crate::error::OssError;
use crate::xml::{self, XmlWriter};
use serde::{Deserialize, Serialize};

/// At most this many rules per bucket.
pub const MAX_RULES: usize = 10;
const METHODS: &[&str] = &["GET", "PUT", "DELETE", "POST", "HEAD"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CorsRule {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CorsConfiguration {
    pub rules: Vec<CorsRule>,
    pub response_vary: bool,
}

#[derive(Deserialize)]
struct XmlConfig {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<XmlRule>,
    #[serde(rename = "ResponseVary", default)]
    response_vary: Option<String>,
}

#[derive(Deserialize)]
struct XmlRule {
    #[serde(rename = "AllowedOrigin", default)]
    allowed_origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    allowed_methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    allowed_headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose_headers: Vec<String>,
    #[serde(rename = "MaxAgeSeconds", default)]
    max_age_seconds: Option<String>,
}

fn invalid(msg: &str) -> OssError {
    OssError::invalid_argument(msg.to_string())
}

/// `*` in `pattern` matches any run of characters; comparison as given (origins) or
/// case-insensitive (headers) is the caller's choice.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len() && value.starts_with(head) && value.ends_with(tail)
        }
    }
}

/// `InvalidArgument` naming the offending field and value, as OSS's CORS errors do.
fn invalid_field(msg: &str, name: &'static str, value: &str) -> OssError {
    invalid(msg).with("ArgumentName", name).with("ArgumentValue", value)
}

impl CorsConfiguration {
    /// Parses and validates a PutBucketCors body.
    pub fn from_xml(body: &str) -> Result<CorsConfiguration, OssError> {
        let doc: XmlConfig = xml::parse(body)?;
        if doc.rules.is_empty() {
            return Err(OssError::malformed_xml("The CORS configuration must have at least one CORSRule."));
        }
        if doc.rules.len() > MAX_RULES {
            return Err(invalid("The number of CORS rules exceeds the maximum of 10."));
        }
        let mut rules = Vec::with_capacity(doc.rules.len());
        for r in doc.rules {
            let trim = |v: Vec<String>| v.into_iter().map(|s| s.trim().to_string()).collect::<Vec<_>>();
            let rule = CorsRule {
                allowed_origins: trim(r.allowed_origins),
                allowed_methods: trim(r.allowed_methods),
                allowed_headers: trim(r.allowed_headers),
                expose_headers: trim(r.expose_headers),
                max_age_seconds: match r.max_age_seconds.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(s) => Some(s.parse().map_err(|_| {
                        invalid_field("MaxAgeSeconds must be a non-negative integer.", "MaxAgeSeconds", s)
                    })?),
                },
            };
            if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
                return Err(invalid("Each CORSRule needs at least one AllowedOrigin and one AllowedMethod."));
            }
            if let Some(o) = rule.allowed_origins.iter().find(|o| o.is_empty() || o.matches('*').count() > 1) {
                return Err(invalid_field("An AllowedOrigin may hold at most one '*' wildcard.", "AllowedOrigin", o));
            }
            // Methods are kept as written (GetBucketCors answers them so) and compared without case.
            if let Some(m) = rule.allowed_methods.iter().find(|m| !METHODS.iter().any(|k| k.eq_ignore_ascii_case(m))) {
                return Err(invalid_field(&format!("Unsupported method {m}."), "AllowedMethod", m));
            }
            if let Some(h) = rule.allowed_headers.iter().find(|h| h.matches('*').count() > 1) {
                return Err(invalid_field("An AllowedHeader may hold at most one '*' wildcard.", "AllowedHeader", h));
            }
            if let Some(h) = rule.expose_headers.iter().find(|h| h.contains('*')) {
                return Err(invalid_field("An ExposeHeader may not hold a wildcard.", "ExposeHeader", h));
            }
            rules.push(rule);
        }
        let response_vary = matches!(doc.response_vary.as_deref().map(str::trim), Some("true"));
        Ok(CorsConfiguration { rules, response_vary })
    }

    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open("CORSConfiguration");
        for r in &self.rules {
            w.open("CORSRule");
            for o in &r.allowed_origins {
                w.elem("AllowedOrigin", o);
            }
            for m in &r.allowed_methods {
                w.elem("AllowedMethod", m);
            }
            for h in &r.allowed_headers {
                w.elem("AllowedHeader", h);
            }
            for h in &r.expose_headers {
                w.elem("ExposeHeader", h);
            }
            if let Some(a) = r.max_age_seconds {
                w.elem("MaxAgeSeconds", &a.to_string());
            }
            w.close("CORSRule");
        }
        w.elem("ResponseVary", if self.response_vary { "true" } else { "false" });
        w.close("CORSConfiguration");
        w.finish()
    }

    /// The first rule allowing a preflight: origin, method, and every requested header.
    pub fn match_preflight(&self, origin: &str, method: &str, request_headers: &[String]) -> Option<&CorsRule> {
        self.rules.iter().find(|r| {
            r.allows_origin(origin)
                && r.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method))
                && request_headers.iter().all(|h| {
                    r.allowed_headers.iter().any(|p| wildcard_match(&p.to_ascii_lowercase(), &h.to_ascii_lowercase()))
                })
        })
    }

    /// The first rule allowing an actual request's origin and method.
    pub fn match_actual(&self, origin: &str, method: &str) -> Option<&CorsRule> {
        self.rules
            .iter()
            .find(|r| r.allows_origin(origin) && r.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
    }
}

impl CorsRule {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|p| wildcard_match(p, origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<CORSConfiguration><CORSRule><AllowedOrigin>http://*.example.com</AllowedOrigin>\
        <AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-oss-*</AllowedHeader>\
        <AllowedHeader>content-type</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>100</MaxAgeSeconds>\
        </CORSRule><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>\
        <ResponseVary>true</ResponseVary></CORSConfiguration>";

    #[test]
    fn parses_round_trips_and_matches() {
        let c = CorsConfiguration::from_xml(DOC).unwrap();
        assert_eq!(c.rules.len(), 2);
        assert!(c.response_vary);
        assert_eq!(CorsConfiguration::from_xml(&c.to_xml()).unwrap(), c);
        let h = vec!["X-OSS-Date".to_string(), "Content-Type".to_string()];
        assert!(c.match_preflight("http://a.example.com", "PUT", &h).is_some());
        assert!(c.match_preflight("http://a.example.com", "DELETE", &h).is_none());
        assert!(c.match_preflight("http://a.example.com", "PUT", &["authorization".to_string()]).is_none());
        assert!(c.match_preflight("http://evil.com", "PUT", &[]).is_none());
        assert_eq!(c.match_actual("http://evil.com", "GET").unwrap().allowed_origins, vec!["*"]);
    }

    #[test]
    fn methods_keep_their_case_and_match_without_it() {
        let doc = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>\
                   <AllowedMethod>Put</AllowedMethod></CORSRule></CORSConfiguration>";
        let c = CorsConfiguration::from_xml(doc).unwrap();
        assert!(c.to_xml().contains("<AllowedMethod>get</AllowedMethod><AllowedMethod>Put</AllowedMethod>"));
        assert!(c.match_preflight("http://a.example.com", "PUT", &[]).is_some());
        assert!(c.match_actual("http://a.example.com", "GET").is_some());
        assert!(c.match_actual("http://a.example.com", "DELETE").is_none());
    }

    #[test]
    fn rejects_invalid_rules() {
        let rule = |body: &str| format!("<CORSConfiguration><CORSRule>{body}</CORSRule></CORSConfiguration>");
        for bad in [
            rule("<AllowedMethod>GET</AllowedMethod>"),
            rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>"),
            rule("<AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"),
            rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>*</ExposeHeader>"),
            format!(
                "<CORSConfiguration>{}</CORSConfiguration>",
                "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>".repeat(11)
            ),
        ] {
            assert!(CorsConfiguration::from_xml(&bad).is_err(), "{bad}");
        }
        assert_eq!(CorsConfiguration::from_xml("<CORSConfiguration>").unwrap_err().code, "MalformedXML");
    }
}
