//! Query strings as OSS clients send them.

use percent_encoding::percent_decode_str;

/// The decoded `(name, value)` pairs of a raw query string, in order. `k` and `k=` both give
/// `(k, "")`. A `+` in the query is a space (form encoding: oss2, through `requests`, sends
/// `prefix=dir+with+space` and a real plus as `%2B`); in the *path* `+` stays a `+` (see
/// [`decode`]).
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
                (decode_form(k), decode_form(v))
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

/// Query-component decoding: `+` is a space, then percent-decoding.
pub fn decode_form(s: &str) -> String {
    if s.contains('+') { decode(&s.replace('+', " ")) } else { decode(s) }
}

/// Percent-decodes without turning `+` into a space (paths: keys may hold `+`); invalid UTF-8
/// is replaced.
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_space_in_queries_and_bare_names_are_empty() {
        let q = Query::parse(Some("acl&prefix=a+b%2Fc%2B&delimiter="));
        assert_eq!(q.get("acl"), Some(""));
        assert_eq!(q.get("prefix"), Some("a b/c+"));
        assert_eq!(q.non_empty("delimiter"), None);
    }
}
