//! What the SQL stores share: key ranges of listings, and rows decoded into records.

use crate::meta::*;

/// JSON columns become `StoreError::Backend`.
pub(crate) fn json<T>(r: serde_json::Result<T>) -> StoreResult<T> {
    r.map_err(|e| StoreError::Backend(format!("json: {e}")))
}

/// `s || 0xFF`: greater than every string that starts with `s`, smaller than any other string
/// greater than `s`.
pub(crate) fn past_prefix(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0xFF);
    v
}

/// The `[lower, upper)` key range of a listing page, or `None` when it is empty.
pub(crate) fn list_bounds(prefix: &str, start: ListStart<'_>, limit: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    if limit == 0 {
        return None;
    }
    let upper = past_prefix(prefix);
    let lower = match start {
        ListStart::Beginning => prefix.as_bytes().to_vec(),
        ListStart::After(k) => successor(k),
        ListStart::PastPrefix(p) => past_prefix(p),
    }
    .max(prefix.as_bytes().to_vec());
    (lower < upper).then_some((lower, upper))
}

/// `s || 0x00`: the smallest byte string strictly greater than `s`.
pub(crate) fn successor(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0x00);
    v
}

/// Smallest string greater than every string starting with `p` (`None`: no bound), for TEXT
/// columns where a 0xFF byte cannot be bound. UTF-8 byte order is code point order.
pub(crate) fn text_prefix_end(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Object columns, decoded to plain values first (JSON parsed afterwards so its errors are
/// ours, not the driver's).
pub(crate) struct RawObject {
    pub bucket: String,
    pub key: Vec<u8>,
    pub size: i64,
    pub etag: String,
    pub crc64: i64,
    pub content_md5: String,
    pub content_type: String,
    pub last_modified_ms: i64,
    pub object_type: String,
    pub acl: String,
    pub headers: String,
    pub tags: String,
    pub segments: String,
    pub storage_class: String,
    pub symlink_target: Option<String>,
    pub restore_ready_ms: i64,
    pub restore_expiry_ms: i64,
    pub sse_algorithm: String,
    pub sse_key_id: String,
    pub sse_data_encryption: String,
}

impl RawObject {
    pub fn into_record(self) -> StoreResult<ObjectRecord> {
        let key =
            String::from_utf8(self.key).map_err(|_| StoreError::Backend("stored object key is not UTF-8".into()))?;
        let size =
            u64::try_from(self.size).map_err(|_| StoreError::Backend(format!("negative size stored for {key:?}")))?;
        Ok(ObjectRecord {
            bucket: self.bucket,
            key,
            segments: json(serde_json::from_str(&self.segments))?,
            size,
            etag: self.etag,
            crc64: self.crc64 as u64,
            content_md5: self.content_md5,
            content_type: self.content_type,
            last_modified_ms: self.last_modified_ms,
            object_type: self.object_type,
            acl: self.acl,
            headers: json(serde_json::from_str(&self.headers))?,
            tags: json(serde_json::from_str(&self.tags))?,
            storage_class: self.storage_class,
            symlink_target: self.symlink_target,
            restore: RestoreState { ready_ms: self.restore_ready_ms, expiry_ms: self.restore_expiry_ms },
            encryption: Encryption {
                algorithm: self.sse_algorithm,
                key_id: self.sse_key_id,
                data_encryption: self.sse_data_encryption,
            },
        })
    }
}

/// A bucket's default encryption from its three columns (an empty algorithm: none).
pub(crate) fn bucket_encryption(algorithm: String, key_id: String, data_encryption: String) -> Option<Encryption> {
    (!algorithm.is_empty()).then_some(Encryption { algorithm, key_id, data_encryption })
}

/// The three encryption columns of a bucket's default (empty strings: none).
pub(crate) fn encryption_columns(e: Option<&Encryption>) -> (&str, &str, &str) {
    match e {
        Some(e) => (&e.algorithm, &e.key_id, &e.data_encryption),
        None => ("", "", ""),
    }
}

pub(crate) struct RawUpload {
    pub bucket: String,
    pub key: Vec<u8>,
    pub upload_id: String,
    pub initiated_ms: i64,
    pub content_type: String,
    pub acl: String,
    pub headers: String,
    pub tags: String,
    pub storage_class: String,
    pub sse_algorithm: String,
    pub sse_key_id: String,
    pub sse_data_encryption: String,
}

impl RawUpload {
    pub fn into_record(self) -> StoreResult<UploadRecord> {
        Ok(UploadRecord {
            bucket: self.bucket,
            key: String::from_utf8(self.key).map_err(|_| StoreError::Backend("upload key is not UTF-8".into()))?,
            upload_id: self.upload_id,
            initiated_ms: self.initiated_ms,
            content_type: self.content_type,
            acl: self.acl,
            headers: json(serde_json::from_str(&self.headers))?,
            tags: json(serde_json::from_str(&self.tags))?,
            storage_class: self.storage_class,
            encryption: Encryption {
                algorithm: self.sse_algorithm,
                key_id: self.sse_key_id,
                data_encryption: self.sse_data_encryption,
            },
        })
    }
}
