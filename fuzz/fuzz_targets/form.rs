//! The PostObject multipart/form-data parser on streamed input, in any chunking.
//! Properties: no panic; errors are OSS errors; the parser never buffers more than its limits
//! allow; and a form built from fuzzer fields and file bytes parses back to exactly them,
//! however it is split.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ossd_proto::form::{FormEvent, FormLimits, FormParser};

#[path = "common.rs"]
mod common;

const BOUNDARY: &str = "----fuzzBoundary7MA4YWxkTrZu0gW";

/// Parses `body` pushed in pieces of the given sizes; the events with file data joined.
fn parse(body: &[u8], steps: &[u8], limits: FormLimits) -> Result<Vec<FormEvent>, ossd_proto::OssError> {
    let mut parser = FormParser::new(BOUNDARY, limits);
    let mut events: Vec<FormEvent> = Vec::new();
    let (mut pos, mut step) = (0usize, 0usize);
    loop {
        assert!(
            parser.buffered() <= limits.max_before_file as usize + 70 + 4096,
            "buffer grew to {}",
            parser.buffered()
        );
        match parser.next_event()? {
            Some(FormEvent::FileData(d)) => match events.last_mut() {
                Some(FormEvent::FileData(prev)) => prev.extend(d),
                _ => events.push(FormEvent::FileData(d)),
            },
            Some(FormEvent::FileEnd) => {
                events.push(FormEvent::FileEnd);
                return Ok(events);
            }
            Some(e) => events.push(e),
            None if parser.is_done() => return Ok(events),
            None if pos >= body.len() => parser.finish(),
            None => {
                let n = usize::from(steps.get(step % steps.len().max(1)).copied().unwrap_or(255)).max(1).min(4096);
                step += 1;
                let end = (pos + n).min(body.len());
                parser.push(&body[pos..end])?;
                pos = end;
            }
        }
    }
}

// Input: the first byte picks the chunk sizes; the rest is (1) parsed as a raw body, and
// (2) read as `name=value` lines up to a blank line and file bytes after it, built into a
// well-formed form that must parse back to exactly those fields and bytes.
fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else { return };
    let steps: Vec<u8> = (0..8u8).map(|i| seed.rotate_left(u32::from(i)).wrapping_mul(i + 1) | 1).collect();
    let limits = FormLimits { max_before_file: 64 * 1024, ..FormLimits::default() };
    if let Err(e) = parse(rest, &steps, limits) {
        common::assert_oss_error(&e);
    }
    let split = rest.windows(2).position(|w| w == b"\n\n").unwrap_or(rest.len());
    let file = rest.get(split + 2..).unwrap_or(&[]).to_vec();
    let fields: Vec<(String, String)> = String::from_utf8_lossy(&rest[..split])
        .split('\n')
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, v)| {
            !k.is_empty()
                && k.len() < 4000
                && !k.eq_ignore_ascii_case("file")
                && !k.contains(['"', '\r', '\\', ';'])
                && !v.contains(BOUNDARY)
        })
        .take(20)
        .collect();
    if file.windows(BOUNDARY.len()).any(|w| w == BOUNDARY.as_bytes()) {
        return;
    }
    let mut body = Vec::new();
    for (k, v) in &fields {
        body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    if body.len() + 200 > limits.max_before_file as usize {
        return;
    }
    body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend(&file);
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let events = parse(&body, &steps, limits).expect("a well-formed form parses");
    let mut want: Vec<FormEvent> =
        fields.iter().map(|(k, v)| FormEvent::Field { name: k.clone(), value: v.clone() }).collect();
    want.push(FormEvent::FileStart { filename: "f.bin".into(), content_type: Some("application/octet-stream".into()) });
    if !file.is_empty() {
        want.push(FormEvent::FileData(file));
    }
    want.push(FormEvent::FileEnd);
    assert_eq!(events, want);
});
