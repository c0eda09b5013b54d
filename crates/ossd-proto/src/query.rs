//! Query strings as OSS clients send them.

use percent_encoding::percent_decode_str;

/// The decoded `(name, value)` pairs of a raw query string, in order.
/// `+` stays a `+` (OSS clients encode spaces as `%20`), and `k` and `k=` both give `(k, "")`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let Some(raw) = raw else { return Query::default() };
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The value of `name`, treating an empty value as absent (oss2 sends `delimiter=`).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

/// Percent-decodes without turning `+` into a space; invalid UTF-8 is replaced.
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plus_and_treats_bare_names_as_empty() {
        let q = Query::parse(Some("acl&prefix=a+b%2Fc&delimiter="));
        assert_eq!(q.get("acl"), Some(""));
        assert_eq!(q.get("prefix"), Some("a+b/c"));
        assert_eq!(q.non_empty("delimiter"), None);
    }
}
