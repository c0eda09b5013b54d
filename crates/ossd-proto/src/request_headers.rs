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
    fn etags() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("W/\"x\", \"abc\"", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
    }
}
