//! Time formats on the wire: RFC 1123 for HTTP headers, ISO 8601 with milliseconds in XML.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// `Wed, 25 Nov 2026 12:00:00 GMT`.
pub fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(system_time(ms))
}

pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

/// `2026-11-25T12:00:00.000Z`. OSS always writes `.000` (seconds precision), and oss2 parses
/// with the literal format `%Y-%m-%dT%H:%M:%S.000Z`, so the milliseconds are never shown.
pub fn iso8601_ms(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    push_iso8601_ms(&mut s, ms);
    s
}

/// [`iso8601_ms`] appended to `out` (listings write one per row into the body buffer).
pub fn push_iso8601_ms(out: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let dt = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
    );
}

/// Parses ISO 8601 / RFC 3339 (`2030-01-01T00:00:00.000Z`), as used by PostObject policies.
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok().map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso8601_ms(1_330_073_387_123), "2012-02-24T08:49:47.000Z");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert!(parse_iso8601("2030-01-01T00:00:00.000Z").is_some());
    }
}
