//! The PostObject policy document: expiration and conditions (oss-api.md §2). Signatures over
//! the policy live in `auth::post_policy`; this decides whether a signed form obeys its policy.

use crate::error::OssError;
use base64::Engine;
use serde_json::Value;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "value"}` or `["eq", "$field", "value"]`.
    Eq(String, String),
    StartsWith(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    ContentLengthRange(u64, u64),
}

#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub expiration: SystemTime,
    pub conditions: Vec<Condition>,
}

fn invalid(msg: &str) -> OssError {
    OssError::new(400, "InvalidPolicyDocument", format!("Invalid Policy: {msg}"))
}

fn failed(condition: &str) -> OssError {
    OssError::access_denied(format!("Invalid according to Policy: Policy Condition failed: {condition}"))
}

/// `$Key` -> `key`: condition field names are case-insensitive, like form field names.
fn field_name(v: &Value) -> Result<String, OssError> {
    let s = v.as_str().ok_or_else(|| invalid("condition field is not a string"))?;
    Ok(s.strip_prefix('$').unwrap_or(s).to_ascii_lowercase())
}

fn string_list(v: &Value) -> Result<Vec<String>, OssError> {
    let arr = v.as_array().ok_or_else(|| invalid("in/not-in needs a list"))?;
    arr.iter()
        .map(|x| x.as_str().map(str::to_string).ok_or_else(|| invalid("in/not-in values must be strings")))
        .collect()
}

fn number(v: &Value) -> Result<u64, OssError> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| invalid("content-length-range bounds must be numbers"))
}

impl PolicyDocument {
    /// Decodes the base64 `policy` field.
    pub fn decode(policy_b64: &str) -> Result<PolicyDocument, OssError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(policy_b64.trim().as_bytes())
            .map_err(|_| invalid("the policy is not base64"))?;
        let doc: Value = serde_json::from_slice(&raw).map_err(|_| invalid("the policy is not JSON"))?;
        let expiration = doc
            .get("expiration")
            .and_then(Value::as_str)
            .and_then(crate::timefmt::parse_iso8601)
            .ok_or_else(|| invalid("expiration is missing or not ISO 8601"))?;
        let list = doc.get("conditions").and_then(Value::as_array).ok_or_else(|| invalid("conditions are missing"))?;
        let mut conditions = Vec::with_capacity(list.len());
        for c in list {
            conditions.push(match c {
                Value::Object(map) => {
                    if map.len() != 1 {
                        return Err(invalid("an object condition must have exactly one field"));
                    }
                    let (k, v) = map.iter().next().expect("one entry");
                    let v = v.as_str().ok_or_else(|| invalid("condition value is not a string"))?;
                    Condition::Eq(k.to_ascii_lowercase(), v.to_string())
                }
                Value::Array(a) => {
                    let op = a.first().and_then(Value::as_str).map(str::to_ascii_lowercase).unwrap_or_default();
                    match (op.as_str(), a.len()) {
                        ("eq", 3) => Condition::Eq(
                            field_name(&a[1])?,
                            a[2].as_str().ok_or_else(|| invalid("eq value is not a string"))?.to_string(),
                        ),
                        ("starts-with", 3) => Condition::StartsWith(
                            field_name(&a[1])?,
                            a[2].as_str().ok_or_else(|| invalid("starts-with value is not a string"))?.to_string(),
                        ),
                        ("in", 3) => Condition::In(field_name(&a[1])?, string_list(&a[2])?),
                        ("not-in", 3) => Condition::NotIn(field_name(&a[1])?, string_list(&a[2])?),
                        ("content-length-range", 3) => {
                            let (min, max) = (number(&a[1])?, number(&a[2])?);
                            if min > max {
                                return Err(invalid("content-length-range minimum is above maximum"));
                            }
                            Condition::ContentLengthRange(min, max)
                        }
                        _ => return Err(invalid(&format!("unknown condition {c}"))),
                    }
                }
                _ => return Err(invalid("a condition must be an object or a list")),
            });
        }
        Ok(PolicyDocument { expiration, conditions })
    }

    pub fn check_expiration(&self, now: SystemTime) -> Result<(), OssError> {
        if now > self.expiration {
            return Err(OssError::access_denied("Invalid according to Policy: Policy expired."));
        }
        Ok(())
    }

    /// Checks every field condition. `field` returns a form field's value by lower-case name
    /// (`bucket` included); a missing field counts as empty.
    pub fn check_fields(&self, field: impl Fn(&str) -> Option<String>) -> Result<(), OssError> {
        for c in &self.conditions {
            let value = |name: &str| field(name).unwrap_or_default();
            let ok = match c {
                Condition::Eq(f, v) => value(f) == *v,
                Condition::StartsWith(f, p) => value(f).starts_with(p.as_str()),
                Condition::In(f, list) => list.contains(&value(f)),
                Condition::NotIn(f, list) => !list.contains(&value(f)),
                Condition::ContentLengthRange(..) => true,
            };
            if !ok {
                return Err(failed(&describe(c)));
            }
        }
        Ok(())
    }

    /// The allowed file size range, if the policy sets one.
    pub fn content_length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().find_map(|c| match c {
            Condition::ContentLengthRange(a, b) => Some((*a, *b)),
            _ => None,
        })
    }
}

fn describe(c: &Condition) -> String {
    match c {
        Condition::Eq(f, v) => format!("[\"eq\", \"${f}\", \"{v}\"]"),
        Condition::StartsWith(f, v) => format!("[\"starts-with\", \"${f}\", \"{v}\"]"),
        Condition::In(f, v) => format!("[\"in\", \"${f}\", {v:?}]"),
        Condition::NotIn(f, v) => format!("[\"not-in\", \"${f}\", {v:?}]"),
        Condition::ContentLengthRange(a, b) => format!("[\"content-length-range\", {a}, {b}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn parses_and_checks_every_condition() {
        let p = PolicyDocument::decode(&b64(r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[
            {"bucket":"b"},["eq","$Key","user/a.txt"],["starts-with","$key","user/"],
            ["in","$content-type",["image/png","text/plain"]],["not-in","$cache-control",["no-cache"]],
            ["content-length-range",1,10]]}"#))
        .unwrap();
        assert_eq!(p.content_length_range(), Some((1, 10)));
        let fields = |over: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                over.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()).or_else(|| {
                    [("bucket", "b"), ("key", "user/a.txt"), ("content-type", "text/plain")]
                        .iter()
                        .find(|(k, _)| *k == n)
                        .map(|(_, v)| v.to_string())
                })
            }
        };
        assert!(p.check_fields(fields(&[])).is_ok());
        assert_eq!(p.check_fields(fields(&[("bucket", "other")])).unwrap_err().code, "AccessDenied");
        assert!(p.check_fields(fields(&[("content-type", "image/gif")])).is_err());
        assert!(p.check_fields(fields(&[("cache-control", "no-cache")])).is_err());
        assert!(p.check_expiration(SystemTime::now()).is_ok());
        let far = std::time::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        assert!(p.check_expiration(far).is_err());
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "not base64!",
            &b64("{"),
            &b64(r#"{"conditions":[]}"#),
            &b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["weird","$a","b"]]}"#),
        ] {
            assert_eq!(PolicyDocument::decode(bad).unwrap_err().code, "InvalidPolicyDocument", "{bad}");
        }
    }
}
