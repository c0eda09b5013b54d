//! `OssError`: every failure the server reports, rendered as OSS's error XML.

use std::fmt;

/// One OSS error answer: HTTP status, `Code`, `Message`, optional `EC` and the
/// extra elements OSS adds for some codes (`BucketName`, `Key`, `ArgumentName`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub ec: Option<String>,
    /// Extra child elements of `<Error>`, in order, e.g. `("BucketName", "b")`.
    pub extra: Vec<(&'static str, String)>,
    /// Response headers the error answer carries (e.g. `x-oss-next-append-position`).
    pub headers: Vec<(&'static str, String)>,
}

impl fmt::Display for OssError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for OssError {}

impl OssError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        OssError { status, code, message: message.into(), ec: None, extra: Vec::new(), headers: Vec::new() }
    }

    pub fn with_ec(mut self, ec: impl Into<String>) -> Self {
        self.ec = Some(ec.into());
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// The `<Error>` document OSS sends, with the request id and host id of this answer.
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut s = String::with_capacity(256);
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n");
        push_elem(&mut s, "Code", self.code);
        push_elem(&mut s, "Message", &self.message);
        push_elem(&mut s, "RequestId", request_id);
        push_elem(&mut s, "HostId", host_id);
        for (name, value) in &self.extra {
            push_elem(&mut s, name, value);
        }
        if let Some(ec) = &self.ec {
            push_elem(&mut s, "EC", ec);
            push_elem(&mut s, "RecommendDoc", &format!("https://api.aliyun.com/troubleshoot?q={ec}"));
        }
        s.push_str("</Error>\n");
        s
    }

    // ---- constructors for the codes used in more than one place ----

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidArgument", message)
    }
    pub fn invalid_access_key_id(ak: &str) -> Self {
        Self::new(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.")
            .with("OSSAccessKeyId", ak)
    }
    pub fn security_token_expired() -> Self {
        Self::new(403, "SecurityTokenExpired", "The security token you provided has expired.")
    }
    pub fn request_time_too_skewed() -> Self {
        Self::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
    }
    /// The signature did not verify; callers add `OSSAccessKeyId`, `SignatureProvided`,
    /// `StringToSign` and friends so a client can see what the server hashed.
    pub fn signature_does_not_match() -> Self {
        Self::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
    }
    /// A presigned URL (or policy) whose lifetime is over.
    pub fn request_expired() -> Self {
        Self::access_denied("Request has expired.")
    }
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(404, "NoSuchBucket", "The specified bucket does not exist.").with("BucketName", bucket)
    }
    pub fn no_such_key(key: &str) -> Self {
        Self::new(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
    }
    pub fn invalid_bucket_name(bucket: &str) -> Self {
        Self::new(400, "InvalidBucketName", "The specified bucket is not valid.").with("BucketName", bucket)
    }
    pub fn invalid_object_name(key: &str) -> Self {
        Self::new(400, "InvalidObjectName", "The specified object is not valid.").with("ObjectName", key)
    }
    pub fn malformed_xml(message: impl Into<String>) -> Self {
        Self::new(400, "MalformedXML", message)
    }
    pub fn not_implemented(what: &str) -> Self {
        Self::new(501, "NotImplemented", format!("{what} is not implemented."))
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }
    pub fn precondition_failed(condition: &str) -> Self {
        Self::new(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
            .with("Condition", condition)
    }
}

/// Appends `<name>escaped value</name>`.
pub fn push_elem(s: &mut String, name: &str, value: &str) {
    s.push('<');
    s.push_str(name);
    s.push('>');
    push_escaped(s, value);
    s.push_str("</");
    s.push_str(name);
    s.push('>');
}

/// XML-escapes text content (quotes stay literal, as OSS writes `<ETag>".."</ETag>`).
pub fn push_escaped(s: &mut String, value: &str) {
    // Runs without a special character are copied whole (listings write thousands of names).
    // memchr3 scans with SIMD: listings escape ~1,000 keys and ETags per page.
    let mut rest = value;
    while let Some(i) = memchr::memchr3(b'<', b'>', b'&', rest.as_bytes()) {
        s.push_str(&rest[..i]);
        s.push_str(match rest.as_bytes()[i] {
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => "&amp;",
        });
        rest = &rest[i + 1..];
    }
    s.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_error_xml_with_extras_and_ec() {
        let e = OssError::no_such_bucket("a&b").with_ec("0015-00000101");
        let xml = e.to_xml("RID", "host");
        assert!(xml.contains("<Code>NoSuchBucket</Code>"));
        assert!(xml.contains("<BucketName>a&amp;b</BucketName>"));
        assert!(xml.contains("<EC>0015-00000101</EC>"));
        assert_eq!(e.status, 404);
    }

    #[test]
    fn escapes_every_special_character_and_keeps_the_rest() {
        let mut s = String::new();
        push_escaped(&mut s, "<a&b>\"ü&&<");
        assert_eq!(s, "&lt;a&amp;b&gt;\"ü&amp;&amp;&lt;");
        s.clear();
        push_escaped(&mut s, "plain/key-ü.txt");
        assert_eq!(s, "plain/key-ü.txt");
    }
}
