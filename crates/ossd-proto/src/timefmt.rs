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
    // By hand, not through `OffsetDateTime` and `write!`: a listing page writes 1,000 of
    // these, and the conversion and formatting machinery cost more than the rest of the row.
    // The civil date is Howard Hinnant's `civil_from_days`.
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        out.push_str("1970-01-01T00:00:00.000Z");
        return;
    }
    let mut buf = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, sod / 3600);
    put(14, 2, sod / 60 % 60);
    put(17, 2, sod % 60);
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
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
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_796_169_599_999), "2026-12-01T23:59:59.000Z");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert!(parse_iso8601("2030-01-01T00:00:00.000Z").is_some());
    }

    #[test]
    fn iso8601_matches_the_time_crate() {
        let via_time = |ms: i64| {
            let dt = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap();
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
                dt.year(),
                dt.month() as u8,
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            )
        };
        // Every day boundary (and a second before it) over 1900..2300, plus odd instants.
        let day = 86_400_000i64;
        let mut ms = -2_208_988_800_000i64;
        while ms < 10_413_792_000_000 {
            for t in [ms, ms - 1000, ms + 12 * 3_600_000 + 34 * 60_000 + 56_789] {
                assert_eq!(iso8601_ms(t), via_time(t), "{t}");
            }
            ms += day;
        }
        assert_eq!(iso8601_ms(i64::MAX), "1970-01-01T00:00:00.000Z");
    }
}
