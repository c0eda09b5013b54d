//! Range and conditional request headers, parsed without trusting them: a malformed value
//! means "absent" (as OSS treats it), never an error or a panic.

/// True when an `If-Match` / `If-None-Match` list names `etag` (or is `*`).
pub fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(|t| t.trim().trim_start_matches("W/").trim_matches('"')).any(|t| t == "*" || t == etag)
}

/// A satisfiable byte range, inclusive.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n`. Malformed or multi-range headers are ignored (the whole
/// object, as OSS does); a well-formed range that starts past the end is 416.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return RangeRequest::Whole };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else { return RangeRequest::Whole };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, false) => match num(b) {
            Some(0) | None => RangeRequest::Whole,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Part(size.saturating_sub(n), size - 1),
        },
        (false, _) => {
            let Some(start) = num(a) else { return RangeRequest::Whole };
            let end = if b.is_empty() { None } else { num(b) };
            if !b.is_empty() && end.is_none() {
                return RangeRequest::Whole;
            }
            if let Some(e) = end
                && e < start
            {
                return RangeRequest::Whole;
            }
            if start >= size {
                return RangeRequest::Unsatisfiable;
            }
            RangeRequest::Part(start, end.map(|e| e.min(size - 1)).unwrap_or(size - 1))
        }
        (true, true) => RangeRequest::Whole,
    }
}

/// Content types OSS compresses for a GET with `Accept-Encoding: gzip` (OSS's FAQ "How do I
/// compress objects that I download from OSS in the GZIP format?").
pub const GZIP_CONTENT_TYPES: &[&str] = &[
    "text/cache-manifest",
    "text/xml",
    "text/css",
    "text/html",
    "text/plain",
    "application/javascript",
    "application/x-javascript",
    "application/rss+xml",
    "application/json",
    "text/json",
];

/// Smallest object OSS compresses.
pub const GZIP_MIN_SIZE: u64 = 1024;

/// True when an `Accept-Encoding` list accepts gzip (`gzip` or `x-gzip`, any q but 0).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.into_iter().flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused =
            parts.any(|p| p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q <= 0.0));
        (coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip")) && !refused
    })
}

/// Whether OSS answers a whole-object GET of this type and size gzip-compressed: the media
/// type (parameters such as `charset` aside) is in [`GZIP_CONTENT_TYPES`] and the object holds
/// at least [`GZIP_MIN_SIZE`] bytes.
pub fn gzip_compressible(content_type: &str, size: u64) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    size >= GZIP_MIN_SIZE && GZIP_CONTENT_TYPES.iter().any(|t| t.eq_ignore_ascii_case(media))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases = [
            (None, 10, RangeRequest::Whole),
            (Some("bytes=0-4"), 10, RangeRequest::Part(0, 4)),
            (Some("bytes=5-"), 10, RangeRequest::Part(5, 9)),
            (Some("bytes=-3"), 10, RangeRequest::Part(7, 9)),
            (Some("bytes=-30"), 10, RangeRequest::Part(0, 9)),
            (Some("bytes=4-100"), 10, RangeRequest::Part(4, 9)),
            (Some("bytes=10-"), 10, RangeRequest::Unsatisfiable),
            (Some("bytes=-1"), 0, RangeRequest::Unsatisfiable),
            (Some("bytes=5-4"), 10, RangeRequest::Whole),
            (Some("bytes=0-1,3-4"), 10, RangeRequest::Whole),
            (Some("bytes=a-b"), 10, RangeRequest::Whole),
            (Some("items=0-1"), 10, RangeRequest::Whole),
        ];
        for (h, size, want) in cases {
            assert_eq!(parse_range(h, size), want, "{h:?} of {size}");
        }
    }

    #[test]
    fn gzip_rules() {
        for yes in ["gzip", "gzip, deflate", "br;q=1.0, GZIP;q=0.5", "x-gzip", "deflate,gzip"] {
            assert!(accepts_gzip(Some(yes)), "{yes}");
        }
        for no in ["", "identity", "deflate, br", "gzip;q=0", "gzipx"] {
            assert!(!accepts_gzip(Some(no)), "{no}");
        }
        assert!(!accepts_gzip(None));
        assert!(gzip_compressible("text/plain", 1024));
        assert!(gzip_compressible("application/json; charset=utf-8", 5000));
        assert!(!gzip_compressible("text/plain", 1023));
        assert!(!gzip_compressible("image/png", 5000));
        assert!(!gzip_compressible("application/octet-stream", 5000));
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("W/\"x\", \"abc\"", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
    }
}
