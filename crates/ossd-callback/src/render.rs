//! `${var}` substitution into the callback body (callback.md §2.2–§2.4).
//!
//! * `application/x-www-form-urlencoded`: each variable becomes its percent-encoded value
//!   (everything but `A-Z a-z 0-9 - . _ ~` is encoded, so `/` → `%2F` as in the documented
//!   example and a space → `%20`, which every form decoder and every `rawurldecode` reads
//!   back as a space); literal text is copied verbatim.
//! * `application/json`: `size`, `imageInfo.width` and `imageInfo.height` become JSON numbers
//!   when known, every other variable a JSON string, an empty or unknown value `""`. When the
//!   reference sits inside a JSON string literal of the template (`"${object}"`), the escaped
//!   text is inserted without its own quotes, so both template styles give valid JSON.
//! * Unknown names (neither a system variable nor a given `x:` variable) render empty.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::spec::{BodyType, CallbackSpec, CallbackVars, Segment, parse_template};

/// What a `${imageInfo.*}` reference reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    /// OSS's name: `jpg`, `png`, `gif`, `webp`, `bmp` or `tiff`.
    pub format: String,
}

/// Reads the dimensions and format from the first bytes of an object (a few KB are enough
/// for the supported formats). Only JPEG, PNG, GIF, WebP, BMP and TIFF are reported.
pub fn probe_image(head: &[u8]) -> Option<ImageInfo> {
    use imagesize::ImageType;
    let format = match imagesize::image_type(head).ok()? {
        ImageType::Jpeg => "jpg",
        ImageType::Png => "png",
        ImageType::Gif => "gif",
        ImageType::Webp => "webp",
        ImageType::Bmp => "bmp",
        ImageType::Tiff => "tiff",
        _ => return None,
    };
    // imagesize trusts a bare PNG signature; a real PNG starts with its IHDR chunk.
    if format == "png" && head.get(12..16) != Some(b"IHDR".as_slice()) {
        return None;
    }
    let size = imagesize::blob_size(head).ok()?;
    if size.width == 0 || size.height == 0 {
        return None;
    }
    Some(ImageInfo {
        width: u32::try_from(size.width).ok()?,
        height: u32::try_from(size.height).ok()?,
        format: format.to_string(),
    })
}

/// The system variables of one upload (callback.md §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemVars {
    pub bucket: String,
    pub object: String,
    /// Without quotes.
    pub etag: String,
    pub size: u64,
    pub mime_type: String,
    pub image: Option<ImageInfo>,
    /// Rendered as a decimal number, as in `x-oss-hash-crc64ecma`.
    pub crc64: u64,
    /// Base64 MD5 (empty for CompleteMultipartUpload).
    pub content_md5: String,
    pub vpc_id: String,
    pub client_ip: String,
    pub req_id: String,
    /// `PutObject`, `PostObject` or `CompleteMultipartUpload`.
    pub operation: String,
}

/// A variable's value before encoding.
enum Val<'a> {
    Str(std::borrow::Cow<'a, str>),
    Num(u64),
    Empty,
}

impl SystemVars {
    fn lookup(&self, name: &str) -> Option<Val<'_>> {
        fn s(v: &str) -> Val<'_> {
            if v.is_empty() { Val::Empty } else { Val::Str(v.into()) }
        }
        let img = self.image.as_ref();
        Some(match name {
            "bucket" => s(&self.bucket),
            "object" => s(&self.object),
            "etag" => s(&self.etag),
            "size" => Val::Num(self.size),
            "mimeType" => s(&self.mime_type),
            "imageInfo.height" => img.map_or(Val::Empty, |i| Val::Num(i.height.into())),
            "imageInfo.width" => img.map_or(Val::Empty, |i| Val::Num(i.width.into())),
            "imageInfo.format" => img.map_or(Val::Empty, |i| s(&i.format)),
            // A string in JSON: a u64 CRC does not survive JavaScript numbers.
            "crc64" => Val::Str(self.crc64.to_string().into()),
            "contentMd5" => s(&self.content_md5),
            "vpcId" => s(&self.vpc_id),
            "clientIp" => s(&self.client_ip),
            "reqId" => s(&self.req_id),
            "operation" => s(&self.operation),
            _ => return None,
        })
    }
}

/// RFC 3986 unreserved characters stay, everything else is percent-encoded.
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Renders `spec.body` with the system and custom variables, encoded for `spec.body_type`.
pub fn render(spec: &CallbackSpec, sys: &SystemVars, vars: &CallbackVars) -> Vec<u8> {
    render_template(&spec.body, spec.body_type, sys, vars)
}

/// [`render`] for a bare template. A malformed `${` (which [`CallbackSpec::decode`] rejects)
/// is copied as literal text.
pub fn render_template(template: &str, body_type: BodyType, sys: &SystemVars, vars: &CallbackVars) -> Vec<u8> {
    let segments = parse_template(template).unwrap_or_else(|_| vec![Segment::Literal(template)]);
    let mut out = String::with_capacity(template.len() + 128);
    let mut json_in_string = false;
    for seg in segments {
        match seg {
            Segment::Literal(text) => {
                out.push_str(text);
                if body_type == BodyType::Json {
                    json_in_string = track_json_string(text, json_in_string);
                }
            }
            Segment::Var(name) => {
                let value = if name.starts_with("x:") {
                    vars.get(name).map_or(Val::Empty, |v| Val::Str(v.into()))
                } else {
                    sys.lookup(name).unwrap_or(Val::Empty)
                };
                match body_type {
                    BodyType::FormUrlEncoded => match value {
                        Val::Str(v) => out.extend(utf8_percent_encode(&v, FORM_VALUE)),
                        Val::Num(n) => out.push_str(&n.to_string()),
                        Val::Empty => {}
                    },
                    BodyType::Json => {
                        let text = match value {
                            Val::Str(v) => serde_json::to_string(&*v).expect("string serializes"),
                            Val::Num(n) => n.to_string(),
                            Val::Empty => "\"\"".to_string(),
                        };
                        if json_in_string {
                            // Inside "...": the escaped content without its own quotes.
                            match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                                Some(inner) => out.push_str(inner),
                                None => out.push_str(&text),
                            }
                        } else {
                            out.push_str(&text);
                        }
                    }
                }
            }
        }
    }
    out.into_bytes()
}

/// Follows JSON string-literal state through literal template text: returns whether the text
/// ends inside a string. Backslash escapes are honoured (an escape split across a variable
/// cannot occur because a variable never follows a lone backslash in valid JSON).
fn track_json_string(text: &str, mut in_string: bool) -> bool {
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
    }
    in_string
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_set() {
        let enc: String = utf8_percent_encode("a b/c&d=e+f~g-h.i_j*'é", FORM_VALUE).collect();
        assert_eq!(enc, "a%20b%2Fc%26d%3De%2Bf~g-h.i_j%2A%27%C3%A9");
    }
}
