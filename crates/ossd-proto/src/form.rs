//! A streaming `multipart/form-data` parser for PostObject, sans I/O: the server pushes body bytes
//! in and pulls events out. Its buffer never holds more than one pending element (a part header,
//! one field value, or a boundary's length of file bytes), each bounded by [`FormLimits`], so a
//! hostile form (no boundary, headers that never end, 10,000 tiny fields) is refused within a
//! fixed amount of memory however long it is.

use crate::OssError;

/// Bounds on everything before the file part (the file itself is bounded by the caller).
#[derive(Debug, Clone, Copy)]
pub struct FormLimits {
    /// Text fields before the file.
    pub max_fields: usize,
    /// One part's header block (`Content-Disposition` and friends).
    pub max_part_header: usize,
    /// One field's name.
    pub max_field_name: usize,
    /// All field values together (OSS: 2 MB).
    pub max_values_total: usize,
    /// Every byte before the file's data (preamble, headers, values, boundaries).
    pub max_before_file: u64,
}

impl Default for FormLimits {
    fn default() -> Self {
        FormLimits {
            max_fields: 1000,
            max_part_header: 16 * 1024,
            max_field_name: 8 * 1024,
            max_values_total: 2 * 1024 * 1024,
            max_before_file: 4 * 1024 * 1024,
        }
    }
}

/// What the parser found.
#[derive(Debug, PartialEq, Eq)]
pub enum FormEvent {
    /// A text field (name as sent; value lossily decoded as UTF-8).
    Field {
        name: String,
        value: String,
    },
    /// The part named `file` begins; its bytes follow as `FileData`.
    FileStart {
        filename: String,
        content_type: Option<String>,
    },
    FileData(Vec<u8>),
    /// The file part ended at its closing boundary; anything after it is ignored (as OSS does).
    FileEnd,
}

pub fn malformed(why: &str) -> OssError {
    OssError::new(
        400,
        "MalformedPOSTRequest",
        format!("The body of your POST request is not well-formed multipart/form-data: {why}."),
    )
}

pub fn too_long() -> OssError {
    OssError::new(400, "FieldItemTooLong", "Your POST request fields preceding the upload file were too large.")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preamble,
    AfterBoundary,
    PartHeaders,
    FieldValue,
    FileData,
    Done,
}

pub struct FormParser {
    /// `\r\n--<boundary>`: what ends every part.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    state: State,
    limits: FormLimits,
    field_name: String,
    fields: usize,
    values_total: usize,
    before_file: u64,
    eof: bool,
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type (RFC 2046: 1..=70 chars).
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let mime = params.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.filter_map(|p| p.split_once('=')).find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary")).and_then(
        |(_, v)| {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            (!v.is_empty() && v.len() <= 70 && v.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
                .then(|| v.to_string())
        },
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl FormParser {
    pub fn new(boundary: &str, limits: FormLimits) -> FormParser {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        // The first boundary may start the body: parse as if a CRLF preceded it.
        FormParser {
            delimiter,
            buf: b"\r\n".to_vec(),
            state: State::Preamble,
            limits,
            field_name: String::new(),
            fields: 0,
            values_total: 0,
            before_file: 0,
            eof: false,
        }
    }

    /// Bytes held, waiting for the rest of an element (bounded by the limits).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True once the file part has ended (nothing more will be parsed).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Adds body bytes. Call only after [`FormParser::next_event`] answered `Ok(None)`.
    pub fn push(&mut self, data: &[u8]) -> Result<(), OssError> {
        if self.state != State::FileData {
            self.before_file += data.len() as u64;
            if self.before_file > self.limits.max_before_file {
                return Err(too_long());
            }
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The body has ended.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// The next event, or `Ok(None)` when more bytes are needed (or, once done, never again).
    pub fn next_event(&mut self) -> Result<Option<FormEvent>, OssError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Preamble => match find(&self.buf, &self.delimiter) {
                    Some(i) => {
                        self.buf.drain(..i + self.delimiter.len());
                        self.state = State::AfterBoundary;
                    }
                    None => {
                        // Keep only what could be the start of the delimiter.
                        let keep = self.delimiter.len() - 1;
                        if self.buf.len() > keep {
                            self.buf.drain(..self.buf.len() - keep);
                        }
                        return self.need_more("no boundary");
                    }
                },
                State::AfterBoundary => {
                    // `--` closes the form; otherwise optional whitespace, then CRLF.
                    if self.buf.starts_with(b"--") {
                        self.state = State::Done;
                        return Err(malformed("no file field"));
                    }
                    let pad = self.buf.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
                    if pad > 70 {
                        return Err(malformed("bad boundary line"));
                    }
                    if self.buf.len() < pad + 2 {
                        return self.need_more("truncated boundary");
                    }
                    if &self.buf[pad..pad + 2] != b"\r\n" {
                        return Err(malformed("bad boundary line"));
                    }
                    self.buf.drain(..pad + 2);
                    self.state = State::PartHeaders;
                }
                State::PartHeaders => {
                    let end = if self.buf.starts_with(b"\r\n") {
                        Some((0, 2))
                    } else {
                        find(&self.buf, b"\r\n\r\n").map(|i| (i, 4))
                    };
                    let Some((end, sep)) = end else {
                        if self.buf.len() > self.limits.max_part_header {
                            return Err(too_long());
                        }
                        return self.need_more("truncated part headers");
                    };
                    if end > self.limits.max_part_header {
                        return Err(too_long());
                    }
                    let headers = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                    self.buf.drain(..end + sep);
                    let part = parse_part_headers(&headers)?;
                    if part.name.eq_ignore_ascii_case("file") {
                        self.state = State::FileData;
                        return Ok(Some(FormEvent::FileStart {
                            filename: part.filename.unwrap_or_default(),
                            content_type: part.content_type,
                        }));
                    }
                    self.fields += 1;
                    if self.fields > self.limits.max_fields || part.name.len() > self.limits.max_field_name {
                        return Err(too_long());
                    }
                    self.field_name = part.name;
                    self.state = State::FieldValue;
                }
                State::FieldValue => match find(&self.buf, &self.delimiter) {
                    Some(i) => {
                        self.values_total += i;
                        if self.values_total > self.limits.max_values_total {
                            return Err(too_long());
                        }
                        let value = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                        self.buf.drain(..i + self.delimiter.len());
                        self.state = State::AfterBoundary;
                        let name = std::mem::take(&mut self.field_name);
                        return Ok(Some(FormEvent::Field { name, value }));
                    }
                    None => {
                        if self.values_total + self.buf.len() > self.limits.max_values_total + self.delimiter.len() {
                            return Err(too_long());
                        }
                        return self.need_more("truncated field");
                    }
                },
                State::FileData => match find(&self.buf, &self.delimiter) {
                    // The data before the closing delimiter first; the end on the next call.
                    Some(0) => {
                        self.buf.clear();
                        self.state = State::Done;
                        return Ok(Some(FormEvent::FileEnd));
                    }
                    Some(i) => return Ok(Some(FormEvent::FileData(self.buf.drain(..i).collect()))),
                    None => {
                        let keep = self.delimiter.len() - 1;
                        if self.buf.len() > keep {
                            let data: Vec<u8> = self.buf.drain(..self.buf.len() - keep).collect();
                            return Ok(Some(FormEvent::FileData(data)));
                        }
                        return self.need_more("the file part has no closing boundary");
                    }
                },
            }
        }
    }

    fn need_more(&self, why: &str) -> Result<Option<FormEvent>, OssError> {
        if self.eof { Err(malformed(why)) } else { Ok(None) }
    }
}

struct PartHeaders {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
}

fn parse_part_headers(block: &str) -> Result<PartHeaders, OssError> {
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in block.split("\r\n") {
        let Some((h, v)) = line.split_once(':') else {
            return Err(malformed("bad part header"));
        };
        let v = v.trim();
        if h.trim().eq_ignore_ascii_case("content-disposition") {
            let (kind, params) = v.split_once(';').unwrap_or((v, ""));
            if !kind.trim().eq_ignore_ascii_case("form-data") {
                return Err(malformed("a part is not form-data"));
            }
            for (k, val) in disposition_params(params) {
                if k.eq_ignore_ascii_case("name") {
                    name = Some(val);
                } else if k.eq_ignore_ascii_case("filename") {
                    filename = Some(val);
                }
            }
        } else if h.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(v.to_string());
        }
    }
    let name = name.ok_or_else(|| malformed("a part has no name"))?;
    Ok(PartHeaders { name, filename, content_type })
}

/// `; k=v; k="quoted \" value"` pairs (browsers escape `"` as `%22`, older ones as `\"`).
fn disposition_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ';' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ';')).collect();
        if key.is_empty() && chars.peek().is_none() {
            return out;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
            } else {
                value = std::iter::from_fn(|| chars.next_if(|c| *c != ';')).collect::<String>().trim().to_string();
            }
        }
        out.push((key.trim().to_string(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` in chunks of `step` bytes and collects the events.
    fn parse(body: &[u8], step: usize, limits: FormLimits) -> Result<Vec<FormEvent>, OssError> {
        let mut p = FormParser::new("XyZ", limits);
        let mut events = Vec::new();
        let mut chunks = body.chunks(step.max(1));
        loop {
            match p.next_event()? {
                Some(FormEvent::FileData(d)) => match events.last_mut() {
                    Some(FormEvent::FileData(prev)) => prev.extend(d),
                    _ => events.push(FormEvent::FileData(d)),
                },
                Some(FormEvent::FileEnd) => {
                    events.push(FormEvent::FileEnd);
                    return Ok(events);
                }
                Some(e) => events.push(e),
                None => match chunks.next() {
                    Some(c) => p.push(c)?,
                    None => p.finish(),
                },
            }
        }
    }

    const FORM: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na/${filename}\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"x-oss-meta-a\"\r\n\r\nline1\r\nline2\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"h\\\"i.txt\"\r\nContent-Type: text/plain\r\n\r\n\
--XyZ-not-quite\r\n\r\n--XyZ--\r\nignored";

    #[test]
    fn parses_fields_and_file_at_any_chunking() {
        for step in [1, 2, 3, 7, 64, 10_000] {
            let ev = parse(FORM, step, FormLimits::default()).unwrap();
            assert_eq!(
                ev,
                vec![
                    FormEvent::Field { name: "key".into(), value: "a/${filename}".into() },
                    FormEvent::Field { name: "x-oss-meta-a".into(), value: "line1\r\nline2".into() },
                    FormEvent::FileStart { filename: "h\"i.txt".into(), content_type: Some("text/plain".into()) },
                    FormEvent::FileData(b"--XyZ-not-quite\r\n".to_vec()),
                    FormEvent::FileEnd,
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn empty_file_and_preamble() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\r\n--XyZ--\r\n";
        let ev = parse(body, 5, FormLimits::default()).unwrap();
        assert_eq!(ev, vec![FormEvent::FileStart { filename: String::new(), content_type: None }, FormEvent::FileEnd]);
    }

    #[test]
    fn refusals() {
        let code = |body: &[u8], limits| parse(body, 4096, limits).unwrap_err().code;
        let small = FormLimits { max_before_file: 1000, max_fields: 3, ..FormLimits::default() };
        // No boundary at all: refused once the pre-file budget is spent, not at EOF.
        assert_eq!(code(&vec![b'a'; 5000], small), "FieldItemTooLong");
        assert_eq!(code(b"abc", small), "MalformedPOSTRequest");
        // Part headers that never end.
        let mut endless = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"".to_vec();
        endless.extend(vec![b'x'; 20_000]);
        assert_eq!(code(&endless, FormLimits::default()), "FieldItemTooLong");
        // Too many fields.
        let many: Vec<u8> = (0..5)
            .flat_map(|i| format!("--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n").into_bytes())
            .collect();
        assert_eq!(code(&many, small), "FieldItemTooLong");
        // Form closed without a file; file without a closing boundary; part without a name.
        assert_eq!(code(b"--XyZ--\r\n", small), "MalformedPOSTRequest");
        assert_eq!(
            code(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc", small),
            "MalformedPOSTRequest"
        );
        assert_eq!(code(b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ", small), "MalformedPOSTRequest");
    }

    #[test]
    fn boundaries() {
        assert_eq!(boundary("multipart/form-data; boundary=abc").as_deref(), Some("abc"));
        assert_eq!(boundary("Multipart/Form-Data;boundary=\"a b\"").as_deref(), Some("a b"));
        assert_eq!(boundary("text/plain; boundary=abc"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary(&format!("multipart/form-data; boundary={}", "a".repeat(71))), None);
    }
}
