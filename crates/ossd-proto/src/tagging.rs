//! Object tags: OSS's rules for a tag set and the `x-oss-tagging` header form, shared by
//! PutObjectTagging (`?tagging`), every write that takes `x-oss-tagging` (PutObject,
//! AppendObject, CopyObject, InitiateMultipartUpload, PostObject) and PutSymlink.
//!
//! The rules (OSS documentation, error pages 0010-00000209/212/216/217/219): at most 10 tags,
//! unique keys, a key of 1 to 128 characters and a value of 0 to 256 characters, both made of
//! letters, digits, spaces and `+ - = . _ : /`. "Letters" and "digits" are taken as Unicode
//! ones: OSS's own error for a value that is "not UTF-8" (0010-00000216) shows that it checks
//! characters, not bytes, and SDK users tag objects with non-Latin words.

use crate::OssError;
use crate::query::decode;

/// Most tags one object may carry.
pub const MAX_TAGS: usize = 10;
/// Longest tag key, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// Whether `c` may appear in a tag key or value.
pub fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '+' | '-' | '=' | '.' | '_' | ':' | '/')
}

fn invalid_tag(message: &str, ec: &str) -> OssError {
    OssError::new(400, "InvalidTag", message.to_string()).with_ec(ec)
}

/// Checks one key and value against OSS's length and character rules.
pub fn validate_tag(key: &str, value: &str) -> Result<(), OssError> {
    let key_chars = key.chars().count();
    if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
        return Err(invalid_tag("The TagKey you have provided is invalid", "0010-00000209"));
    }
    if !key.chars().all(is_tag_char) {
        return Err(invalid_tag("The TagKey you have provided is invalid", "0010-00000212"));
    }
    if value.chars().count() > MAX_TAG_VALUE_CHARS || !value.chars().all(is_tag_char) {
        return Err(invalid_tag("The TagValue you have provided is invalid", "0010-00000217"));
    }
    Ok(())
}

/// Checks a whole tag set: each tag, then the count and the uniqueness of keys.
pub fn validate_tag_set(tags: &[(String, String)]) -> Result<(), OssError> {
    for (k, v) in tags {
        validate_tag(k, v)?;
    }
    if tags.len() > MAX_TAGS {
        return Err(invalid_tag("Object tags cannot be greater than 10", "0010-00000217"));
    }
    for (i, (k, _)) in tags.iter().enumerate() {
        if tags[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(invalid_tag("Cannot provide multiple Tags with the same key", "0010-00000217"));
        }
    }
    Ok(())
}

/// Parses and validates `x-oss-tagging: k1=v1&k2=v2` (keys and values URL-encoded; a bare
/// `k` is a tag with an empty value). An absent or empty header is no tags. `+` stays `+`:
/// it is a character tags may hold, and the SDKs percent-encode spaces.
pub fn parse_tagging_header(header: Option<&str>) -> Result<Vec<(String, String)>, OssError> {
    let Some(v) = header.filter(|v| !v.is_empty()) else { return Ok(Vec::new()) };
    let mut tags = Vec::new();
    for pair in v.split('&').filter(|p| !p.is_empty()) {
        let (k, val) = pair.split_once('=').unwrap_or((pair, ""));
        if val.contains('=') {
            return Err(OssError::invalid_argument(
                "The header 'x-oss-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
            )
            .with_ec("0010-00000219")
            .with("ArgumentName", "x-oss-tagging")
            .with("ArgumentValue", v));
        }
        tags.push((decode(k), decode(val)));
    }
    validate_tag_set(&tags)?;
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tag_sets() {
        let ok: &[&[(&str, &str)]] = &[
            &[],
            &[("a", "")],
            &[("key1 +-=._:/", "value +-=._:/")],
            &[("标签", "值")],
            &[(&"k".repeat(128), &"v".repeat(256))],
        ];
        for s in ok {
            assert!(validate_tag_set(&set(s)).is_ok(), "{s:?}");
        }
        let bad: &[(&[(&str, &str)], &str)] = &[
            (&[("", "v")], "The TagKey you have provided is invalid"),
            (&[(&"k".repeat(129), "v")], "The TagKey you have provided is invalid"),
            (&[("a!b", "v")], "The TagKey you have provided is invalid"),
            (&[("a\tb", "v")], "The TagKey you have provided is invalid"),
            (&[("k", &"v".repeat(257))], "The TagValue you have provided is invalid"),
            (&[("k", "a@b")], "The TagValue you have provided is invalid"),
            (&[("k", "v"), ("k", "w")], "Cannot provide multiple Tags with the same key"),
        ];
        for (s, message) in bad {
            let e = validate_tag_set(&set(s)).unwrap_err();
            assert_eq!((e.status, e.code, e.message.as_str()), (400, "InvalidTag", *message), "{s:?}");
        }
        let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(validate_tag_set(&eleven).unwrap_err().message, "Object tags cannot be greater than 10");
        assert!(validate_tag_set(&eleven[..10]).is_ok());
    }

    #[test]
    fn header_form() {
        assert_eq!(parse_tagging_header(None).unwrap(), vec![]);
        assert_eq!(parse_tagging_header(Some("")).unwrap(), vec![]);
        assert_eq!(
            parse_tagging_header(Some("a=1&b%20c=d%2Fe&flag&x+y=z")).unwrap(),
            set(&[("a", "1"), ("b c", "d/e"), ("flag", ""), ("x+y", "z")])
        );
        let e = parse_tagging_header(Some("aa=bb=cc")).unwrap_err();
        assert_eq!((e.status, e.code), (400, "InvalidArgument"));
        assert_eq!(parse_tagging_header(Some("a=1&a=2")).unwrap_err().code, "InvalidTag");
        assert_eq!(parse_tagging_header(Some("a%21=1")).unwrap_err().code, "InvalidTag");
    }
}
