//! Request and response bodies. Requests are parsed with serde + quick-xml; responses are
//! written by [`XmlWriter`] from typed structs, so handlers never assemble XML themselves.

use crate::error::{OssError, push_elem, push_escaped};
use crate::timefmt::iso8601_ms;
use serde::Deserialize;

/// A small streaming XML writer with the OSS declaration.
pub struct XmlWriter(String);

impl Default for XmlWriter {
    fn default() -> Self {
        XmlWriter(String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
        self
    }
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
        self
    }
    pub fn elem(&mut self, name: &str, value: &str) -> &mut Self {
        push_elem(&mut self.0, name, value);
        self
    }
    /// A writer whose buffer starts with room for `bytes` (a listing knows its size roughly).
    pub fn with_capacity(bytes: usize) -> Self {
        let mut w = Self::default();
        w.0.reserve(bytes);
        w
    }
    /// `<name>value</name>` for a value whose `Display` needs no escaping (numbers), written
    /// straight into the buffer.
    pub fn elem_display(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write as _;
        let _ = write!(self.0, "<{name}>{value}</{name}>");
        self
    }
    /// `<name>123</name>`, the digits written without the formatting machinery (a listing
    /// writes a size per row).
    pub fn elem_u64(&mut self, name: &str, value: u64) -> &mut Self {
        self.open(name);
        self.0.push_str(itoa::Buffer::new().format(value));
        self.close(name)
    }
    /// Appends text that is already XML (a fragment rendered once and repeated).
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.0.push_str(xml);
        self
    }
    /// `<name>2026-11-25T12:00:00.000Z</name>` (see [`iso8601_ms`]).
    pub fn elem_time(&mut self, name: &str, ms: i64) -> &mut Self {
        self.open(name);
        crate::timefmt::push_iso8601_ms(&mut self.0, ms);
        self.close(name)
    }
    /// `<name>"value"</name>`: an ETag, quoted as OSS writes it.
    pub fn elem_quoted(&mut self, name: &str, value: &str) -> &mut Self {
        self.open(name);
        self.0.push('"');
        push_escaped(&mut self.0, value);
        self.0.push('"');
        self.close(name)
    }
    pub fn text(&mut self, value: &str) -> &mut Self {
        push_escaped(&mut self.0, value);
        self
    }
    pub fn finish(self) -> String {
        self.0
    }
}

/// Parses an XML request body, mapping any failure to `MalformedXML`. Document type
/// declarations are refused: no OSS request body has one, they are the XXE vector, and
/// quick-xml 0.37 panicked on one between two runs of text (found by the `xml_bodies` fuzz target).
pub fn parse<'de, T: Deserialize<'de>>(body: &'de str) -> Result<T, OssError> {
    if body.as_bytes().windows(9).any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE")) {
        return Err(OssError::malformed_xml("The XML you provided may not declare a document type."));
    }
    quick_xml::de::from_str(body).map_err(|e| {
        OssError::malformed_xml(format!(
            "The XML you provided was not well-formed or did not validate against our published schema: {e}"
        ))
    })
}

/// Owner block shared by several results.
pub struct Owner<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
}

impl Owner<'_> {
    pub fn write(&self, w: &mut XmlWriter) {
        w.raw(&self.render());
    }
    /// The block as a fragment, for listings that repeat it on every row (escaped once).
    pub fn render(&self) -> String {
        // Not through `XmlWriter::new()`, which starts a document with the XML declaration.
        let mut s = String::from("<Owner>");
        push_elem(&mut s, "ID", self.id);
        push_elem(&mut s, "DisplayName", self.display_name);
        s.push_str("</Owner>");
        s
    }
}

// ---------- requests ----------

#[derive(Debug, Deserialize)]
pub struct DeleteRequest {
    #[serde(rename = "Quiet", default)]
    pub quiet: Option<String>,
    #[serde(rename = "Object", default)]
    pub objects: Vec<DeleteRequestObject>,
}

#[derive(Debug, Deserialize)]
pub struct DeleteRequestObject {
    #[serde(rename = "Key")]
    pub key: String,
}

#[derive(Debug, Deserialize)]
pub struct TaggingRequest {
    #[serde(rename = "TagSet")]
    pub tag_set: TagSet,
}

#[derive(Debug, Deserialize, Default)]
pub struct TagSet {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value", default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub struct AccessControlPolicyRequest {
    #[serde(rename = "AccessControlList")]
    pub acl: AccessControlList,
}

#[derive(Debug, Deserialize)]
pub struct AccessControlList {
    #[serde(rename = "Grant")]
    pub grant: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct CreateBucketConfiguration {
    #[serde(rename = "StorageClass", default)]
    pub storage_class: Option<String>,
    #[serde(rename = "DataRedundancyType", default)]
    pub data_redundancy_type: Option<String>,
}

// ---------- responses ----------

pub struct BucketEntry<'a> {
    pub name: &'a str,
    pub created_ms: i64,
    pub storage_class: &'a str,
    pub data_redundancy_type: &'a str,
    /// The bucket's default encryption rule (GetBucketInfo shows `None` without one).
    pub encryption: Option<&'a crate::object_class::Sse>,
    /// Shown in ListBuckets when the request filtered by resource group.
    pub resource_group_id: Option<&'a str>,
}

/// Region facts shown in bucket listings and info.
pub struct RegionInfo<'a> {
    /// `cn-hangzhou`.
    pub region: &'a str,
    /// What clients should use to reach this server, e.g. `127.0.0.1:9000`.
    pub endpoint: &'a str,
}

pub struct ListBucketsPage<'a> {
    pub prefix: &'a str,
    pub marker: &'a str,
    pub max_keys: usize,
    pub next_marker: Option<&'a str>,
}

pub fn list_buckets(owner: &Owner, region: &RegionInfo, page: &ListBucketsPage, buckets: &[BucketEntry]) -> String {
    let mut w = XmlWriter::new();
    w.open("ListAllMyBucketsResult");
    if !page.prefix.is_empty() || !page.marker.is_empty() || page.next_marker.is_some() {
        w.elem("Prefix", page.prefix).elem("Marker", page.marker).elem("MaxKeys", &page.max_keys.to_string());
        w.elem("IsTruncated", if page.next_marker.is_some() { "true" } else { "false" });
        if let Some(m) = page.next_marker {
            w.elem("NextMarker", m);
        }
    }
    owner.write(&mut w);
    w.open("Buckets");
    let location = format!("oss-{}", region.region);
    for b in buckets {
        w.open("Bucket")
            .elem("CreationDate", &iso8601_ms(b.created_ms))
            .elem("ExtranetEndpoint", region.endpoint)
            .elem("IntranetEndpoint", region.endpoint)
            .elem("Location", &location)
            .elem("Name", b.name)
            .elem("Region", region.region)
            .elem("StorageClass", b.storage_class);
        if let Some(rg) = b.resource_group_id {
            w.elem("ResourceGroupId", rg);
        }
        w.close("Bucket");
    }
    w.close("Buckets").close("ListAllMyBucketsResult");
    w.finish()
}

/// What GetBucketInfo shows of the bucket's configurations.
#[derive(Default)]
pub struct BucketInfoExtras<'a> {
    pub resource_group_id: &'a str,
    pub transfer_acceleration: bool,
    /// `Suspended` once set; `None` while versioning was never enabled (the element is left out).
    pub versioning: Option<&'a str>,
    pub block_public_access: bool,
    pub log_bucket: &'a str,
    pub log_prefix: &'a str,
}

pub fn bucket_info(
    owner: &Owner,
    region: &RegionInfo,
    bucket: &BucketEntry,
    acl: &str,
    extras: &BucketInfoExtras,
) -> String {
    let enabled = |on: bool| if on { "Enabled" } else { "Disabled" };
    let mut w = XmlWriter::new();
    w.open("BucketInfo").open("Bucket");
    w.elem("AccessMonitor", "Disabled")
        .elem("CreationDate", &iso8601_ms(bucket.created_ms))
        .elem("ExtranetEndpoint", region.endpoint)
        .elem("IntranetEndpoint", region.endpoint)
        .elem("Location", &format!("oss-{}", region.region))
        .elem("StorageClass", bucket.storage_class)
        .elem("TransferAcceleration", enabled(extras.transfer_acceleration))
        .elem("CrossRegionReplication", "Disabled")
        .elem("Name", bucket.name)
        .elem("ResourceGroupId", extras.resource_group_id)
        .elem("DataRedundancyType", bucket.data_redundancy_type)
        .elem("Comment", "")
        .elem("BlockPublicAccess", if extras.block_public_access { "true" } else { "false" });
    if let Some(v) = extras.versioning {
        w.elem("Versioning", v);
    }
    owner.write(&mut w);
    w.open("AccessControlList").elem("Grant", acl).close("AccessControlList");
    w.open("ServerSideEncryptionRule");
    match bucket.encryption {
        None => {
            w.elem("SSEAlgorithm", "None");
        }
        Some(s) => {
            w.elem("SSEAlgorithm", &s.algorithm);
            if s.algorithm == "KMS" {
                w.elem("KMSMasterKeyID", &s.key_id);
                if !s.data_encryption.is_empty() {
                    w.elem("KMSDataEncryption", &s.data_encryption);
                }
            }
        }
    }
    w.close("ServerSideEncryptionRule");
    w.open("BucketPolicy")
        .elem("LogBucket", extras.log_bucket)
        .elem("LogPrefix", extras.log_prefix)
        .close("BucketPolicy");
    w.close("Bucket").close("BucketInfo");
    w.finish()
}

pub fn location(region: &str) -> String {
    let mut w = XmlWriter::new();
    w.elem("LocationConstraint", &format!("oss-{region}"));
    w.finish()
}

pub fn access_control_policy(owner: &Owner, grant: &str) -> String {
    let mut w = XmlWriter::new();
    w.open("AccessControlPolicy");
    owner.write(&mut w);
    w.open("AccessControlList").elem("Grant", grant).close("AccessControlList");
    w.close("AccessControlPolicy");
    w.finish()
}

/// GetBucketStat's figures.
pub struct BucketStat {
    pub storage: u64,
    pub objects: u64,
    pub multipart_uploads: u64,
    pub last_modified_secs: i64,
    /// `(storage class, bytes, objects)`.
    pub by_class: Vec<(String, u64, u64)>,
}

pub fn bucket_stat(s: &BucketStat) -> String {
    let class = |name: &str| {
        s.by_class.iter().find(|(c, _, _)| c == name).map_or((0, 0), |(_, bytes, objects)| (*bytes, *objects))
    };
    let mut w = XmlWriter::new();
    w.open("BucketStat")
        .elem("Storage", &s.storage.to_string())
        .elem("ObjectCount", &s.objects.to_string())
        .elem("MultipartUploadCount", &s.multipart_uploads.to_string())
        .elem("LiveChannelCount", "0")
        .elem("LastModifiedTime", &s.last_modified_secs.to_string());
    let (bytes, objects) = class("Standard");
    w.elem("StandardStorage", &bytes.to_string()).elem("StandardObjectCount", &objects.to_string());
    for (name, prefix) in [
        ("IA", "InfrequentAccess"),
        ("Archive", "Archive"),
        ("ColdArchive", "ColdArchive"),
        ("DeepColdArchive", "DeepColdArchive"),
    ] {
        let (bytes, objects) = class(name);
        w.elem(&format!("{prefix}Storage"), &bytes.to_string())
            .elem(&format!("{prefix}RealStorage"), &bytes.to_string())
            .elem(&format!("{prefix}ObjectCount"), &objects.to_string());
    }
    w.elem("MultipartPartCount", "0").elem("DeleteMarkerCount", "0");
    w.close("BucketStat");
    w.finish()
}

pub fn empty_live_channels() -> String {
    let mut w = XmlWriter::new();
    w.open("ListLiveChannelResult")
        .elem("Prefix", "")
        .elem("Marker", "")
        .elem("MaxKeys", "100")
        .elem("IsTruncated", "false")
        .elem("NextMarker", "")
        .close("ListLiveChannelResult");
    w.finish()
}

/// One `<Contents>` entry.
pub struct ObjectEntry<'a> {
    pub key: &'a str,
    pub last_modified_ms: i64,
    pub etag: &'a str,
    pub object_type: &'a str,
    pub size: u64,
    pub storage_class: &'a str,
    /// `RestoreInfo` (the `x-oss-restore` value) of an archived object being or once restored.
    pub restore_info: Option<String>,
}

/// A ListObjects (v1) or ListObjectsV2 page. Text fields are already URL-encoded by the caller
/// when `encoding_type` is set.
pub struct ListObjectsPage<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub delimiter: &'a str,
    pub max_keys: usize,
    pub encoding_type: Option<&'a str>,
    pub is_truncated: bool,
    pub v2: Option<ListV2Fields<'a>>,
    /// V1 only.
    pub marker: &'a str,
    pub next_marker: Option<&'a str>,
}

pub struct ListV2Fields<'a> {
    pub continuation_token: Option<&'a str>,
    pub next_continuation_token: Option<&'a str>,
    pub start_after: Option<&'a str>,
    pub key_count: usize,
    pub fetch_owner: bool,
}

pub fn list_objects(page: &ListObjectsPage, owner: &Owner, objects: &[ObjectEntry], prefixes: &[String]) -> String {
    // About 250 bytes per entry without the owner, 330 with it: one allocation for the page.
    let mut w = XmlWriter::with_capacity(512 + objects.len() * 360 + prefixes.len() * 64);
    w.open("ListBucketResult");
    w.elem("Name", page.bucket).elem("Prefix", page.prefix);
    match &page.v2 {
        None => {
            w.elem("Marker", page.marker);
        }
        Some(v2) => {
            if let Some(t) = v2.continuation_token {
                w.elem("ContinuationToken", t);
            }
            if let Some(s) = v2.start_after {
                w.elem("StartAfter", s);
            }
        }
    }
    w.elem_display("MaxKeys", page.max_keys).elem("Delimiter", page.delimiter);
    if let Some(e) = page.encoding_type {
        w.elem("EncodingType", e);
    }
    w.elem("IsTruncated", if page.is_truncated { "true" } else { "false" });
    match &page.v2 {
        None => {
            if let Some(m) = page.next_marker {
                w.elem("NextMarker", m);
            }
        }
        Some(v2) => {
            if let Some(t) = v2.next_continuation_token {
                w.elem("NextContinuationToken", t);
            }
            w.elem("KeyCount", &v2.key_count.to_string());
        }
    }
    let with_owner = page.v2.as_ref().map(|v| v.fetch_owner).unwrap_or(true);
    let owner_xml = with_owner.then(|| owner.render());
    for o in objects {
        w.open("Contents")
            .elem("Key", o.key)
            .elem_time("LastModified", o.last_modified_ms)
            .elem_quoted("ETag", o.etag)
            .elem("Type", o.object_type)
            .elem_u64("Size", o.size)
            .elem("StorageClass", o.storage_class);
        if let Some(info) = &o.restore_info {
            w.elem("RestoreInfo", info);
        }
        if let Some(owner) = &owner_xml {
            w.raw(owner);
        }
        w.close("Contents");
    }
    for p in prefixes {
        w.open("CommonPrefixes").elem("Prefix", p).close("CommonPrefixes");
    }
    w.close("ListBucketResult");
    w.finish()
}

pub fn delete_result(deleted: &[String], encoding_type: Option<&str>) -> String {
    let mut w = XmlWriter::new();
    w.open("DeleteResult");
    if let Some(e) = encoding_type {
        w.elem("EncodingType", e);
    }
    for k in deleted {
        w.open("Deleted").elem("Key", k).close("Deleted");
    }
    w.close("DeleteResult");
    w.finish()
}

pub fn copy_object_result(etag: &str, last_modified_ms: i64) -> String {
    let mut w = XmlWriter::new();
    w.open("CopyObjectResult")
        .elem("ETag", &format!("\"{etag}\""))
        .elem("LastModified", &iso8601_ms(last_modified_ms))
        .close("CopyObjectResult");
    w.finish()
}

pub fn tagging(tags: &[(String, String)]) -> String {
    let mut w = XmlWriter::new();
    w.open("Tagging").open("TagSet");
    for (k, v) in tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
    }
    w.close("TagSet").close("Tagging");
    w.finish()
}

/// PostObject's answer for `success_action_status=201`.
pub fn post_response(bucket: &str, location: &str, key: &str, etag: &str) -> String {
    let mut w = XmlWriter::new();
    w.open("PostResponse")
        .elem("Bucket", bucket)
        .elem("Location", location)
        .elem("Key", key)
        .elem("ETag", &format!("\"{etag}\""))
        .close("PostResponse");
    w.finish()
}

/// Multipart upload bodies.
pub mod multipart {
    use super::XmlWriter;
    use crate::timefmt::iso8601_ms;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    pub struct CompleteMultipartUpload {
        #[serde(rename = "Part", default)]
        pub parts: Vec<CompletePart>,
    }

    #[derive(Debug, Deserialize)]
    pub struct CompletePart {
        #[serde(rename = "PartNumber")]
        pub part_number: u32,
        #[serde(rename = "ETag")]
        pub etag: String,
    }

    pub fn initiate_result(bucket: &str, key: &str, upload_id: &str, encoding: Option<&str>) -> String {
        let mut w = XmlWriter::new();
        w.open("InitiateMultipartUploadResult");
        if let Some(e) = encoding {
            w.elem("EncodingType", e);
        }
        w.elem("Bucket", bucket).elem("Key", key).elem("UploadId", upload_id).close("InitiateMultipartUploadResult");
        w.finish()
    }

    pub fn copy_part_result(etag: &str, last_modified_ms: i64) -> String {
        let mut w = XmlWriter::new();
        w.open("CopyPartResult")
            .elem("LastModified", &iso8601_ms(last_modified_ms))
            .elem("ETag", &format!("\"{etag}\""))
            .close("CopyPartResult");
        w.finish()
    }

    pub fn complete_result(location: &str, bucket: &str, key: &str, etag: &str, encoding: Option<&str>) -> String {
        let mut w = XmlWriter::new();
        w.open("CompleteMultipartUploadResult");
        if let Some(e) = encoding {
            w.elem("EncodingType", e);
        }
        w.elem("Location", location)
            .elem("Bucket", bucket)
            .elem("Key", key)
            .elem("ETag", &format!("\"{etag}\""))
            .close("CompleteMultipartUploadResult");
        w.finish()
    }

    pub struct PartsPage<'a> {
        pub bucket: &'a str,
        pub key: &'a str,
        pub upload_id: &'a str,
        pub marker: u32,
        pub max: usize,
        pub truncated: bool,
        pub encoding: Option<&'a str>,
        /// The upload's storage class.
        pub storage_class: &'a str,
    }

    /// Parts as `(number, last modified ms, etag, crc64, size)`.
    pub fn list_parts(page: &PartsPage, parts: &[(u32, i64, &str, u64, u64)]) -> String {
        let mut w = XmlWriter::new();
        w.open("ListPartsResult");
        if let Some(e) = page.encoding {
            w.elem("EncodingType", e);
        }
        let next = parts.last().map(|p| p.0).unwrap_or(page.marker);
        w.elem("Bucket", page.bucket)
            .elem("Key", page.key)
            .elem("UploadId", page.upload_id)
            .elem("PartNumberMarker", &page.marker.to_string())
            .elem("NextPartNumberMarker", &next.to_string())
            .elem("MaxParts", &page.max.to_string())
            .elem("IsTruncated", if page.truncated { "true" } else { "false" })
            .elem("StorageClass", page.storage_class);
        for (n, ms, etag, crc, size) in parts {
            w.open("Part")
                .elem("PartNumber", &n.to_string())
                .elem("LastModified", &iso8601_ms(*ms))
                .elem("ETag", &format!("\"{etag}\""))
                .elem("HashCrc64ecma", &crc.to_string())
                .elem("Size", &size.to_string())
                .close("Part");
        }
        w.close("ListPartsResult");
        w.finish()
    }

    pub struct UploadsPage<'a> {
        pub bucket: &'a str,
        pub prefix: &'a str,
        pub delimiter: &'a str,
        pub key_marker: &'a str,
        pub upload_id_marker: &'a str,
        pub max: usize,
        pub truncated: bool,
        /// Next key and upload id markers, when truncated.
        pub next: Option<(&'a str, &'a str)>,
        pub encoding: Option<&'a str>,
    }

    /// Uploads as `(key, upload id, initiated ms, storage class)`.
    pub fn list_uploads(page: &UploadsPage, uploads: &[(String, String, i64, String)], prefixes: &[String]) -> String {
        let mut w = XmlWriter::new();
        w.open("ListMultipartUploadsResult");
        if let Some(e) = page.encoding {
            w.elem("EncodingType", e);
        }
        let (nk, ni) = page.next.unwrap_or(("", ""));
        w.elem("Bucket", page.bucket)
            .elem("KeyMarker", page.key_marker)
            .elem("UploadIdMarker", page.upload_id_marker)
            .elem("NextKeyMarker", nk)
            .elem("NextUploadIdMarker", ni)
            .elem("Delimiter", page.delimiter)
            .elem("Prefix", page.prefix)
            .elem("MaxUploads", &page.max.to_string())
            .elem("IsTruncated", if page.truncated { "true" } else { "false" });
        for (key, id, ms, class) in uploads {
            w.open("Upload")
                .elem("Key", key)
                .elem("UploadId", id)
                .elem("StorageClass", class)
                .elem("Initiated", &iso8601_ms(*ms))
                .close("Upload");
        }
        for p in prefixes {
            w.open("CommonPrefixes").elem("Prefix", p).close("CommonPrefixes");
        }
        w.close("ListMultipartUploadsResult");
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_delete_request_and_rejects_garbage() {
        let d: DeleteRequest = parse(
            "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>",
        )
        .unwrap();
        assert_eq!(d.objects.len(), 2);
        assert_eq!(d.objects[0].key, "a&b");
        assert!(parse::<DeleteRequest>("<Delete><Object>").is_err());
        let t: TaggingRequest =
            parse("<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>").unwrap();
        assert_eq!(t.tag_set.tags[0].value, "v");
    }

    /// Keys may begin or end with whitespace: text is taken as written, never trimmed
    /// (quick-xml 0.37's deserializer trimmed it), while indentation between elements is
    /// still ignored.
    #[test]
    fn keeps_whitespace_in_text() {
        let d: DeleteRequest = parse(
            "<Delete>\n  <Quiet>false</Quiet>\n  <Object>\n    <Key> a </Key>\n  </Object>\n  <Object><Key>\tb\n</Key></Object>\n</Delete>\n",
        )
        .unwrap();
        let keys: Vec<&str> = d.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, [" a ", "\tb\n"]);
        let c: multipart::CompleteMultipartUpload = parse(
            "<CompleteMultipartUpload>\n <Part>\n  <PartNumber>1</PartNumber>\n  <ETag>\"E\"</ETag>\n </Part>\n</CompleteMultipartUpload>",
        )
        .unwrap();
        assert_eq!((c.parts[0].part_number, c.parts[0].etag.as_str()), (1, "\"E\""));
    }

    #[test]
    fn writes_escaped_listing() {
        let page = ListObjectsPage {
            bucket: "b",
            prefix: "",
            delimiter: "/",
            max_keys: 100,
            encoding_type: None,
            is_truncated: false,
            v2: None,
            marker: "",
            next_marker: None,
        };
        let o = [ObjectEntry {
            key: "a<b",
            last_modified_ms: 0,
            etag: "E",
            object_type: "Normal",
            size: 3,
            storage_class: "IA",
            restore_info: Some("ongoing-request=\"true\"".into()),
        }];
        let xml = list_objects(&page, &Owner { id: "1", display_name: "1" }, &o, &["d/".into()]);
        assert!(xml.contains("<Key>a&lt;b</Key>"));
        assert!(xml.contains("<ETag>\"E\"</ETag>"));
        assert!(xml.contains("<StorageClass>IA</StorageClass><RestoreInfo>ongoing-request=\"true\"</RestoreInfo>"));
        assert!(xml.contains("<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>"));
        // The owner fragment, rendered once per page, is the bare element.
        assert!(
            xml.contains("</RestoreInfo><Owner><ID>1</ID><DisplayName>1</DisplayName></Owner></Contents>"),
            "{xml}"
        );
        assert_eq!(xml.matches("<?xml").count(), 1, "{xml}");
    }
}

#[cfg(test)]
mod hostile_tests {
    /// Fuzz finding: a DOCTYPE between two runs of text made quick-xml hit `unreachable!`.
    #[test]
    fn doctype_is_refused_not_a_panic() {
        let body = "<Tagging><TagSet><Tag><Key>a<!DOCTYPE x [<!ENTITY a \"aa\">]>b</Key></Tag></TagSet></Tagging>";
        let err = super::parse::<super::TaggingRequest>(body).unwrap_err();
        assert_eq!(err.code, "MalformedXML");
        for body in [
            "<Tagging><TagSet><Tag><Key>a<!--c-->b</Key></Tag></TagSet></Tagging>",
            "<Tagging><TagSet><Tag><Key>a<?pi x?>b</Key></Tag></TagSet></Tagging>",
            "<Tagging><TagSet><Tag><Key>a<![CDATA[x]]>b</Key></Tag></TagSet></Tagging>",
        ] {
            let _ = super::parse::<super::TaggingRequest>(body);
        }
    }
}

/// A ListObjectVersions page of a bucket without versioning: every object once, as its
/// `null` version, latest. Text fields are already URL-encoded by the caller when asked.
pub struct ListVersionsPage<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub key_marker: &'a str,
    pub version_id_marker: &'a str,
    pub delimiter: &'a str,
    pub max_keys: usize,
    pub encoding_type: Option<&'a str>,
    /// The last key of a truncated page.
    pub next_key_marker: Option<&'a str>,
}

pub fn list_versions(page: &ListVersionsPage, owner: &Owner, objects: &[ObjectEntry], prefixes: &[String]) -> String {
    let mut w = XmlWriter::with_capacity(512 + objects.len() * 420 + prefixes.len() * 64);
    w.open("ListVersionsResult");
    w.elem("Name", page.bucket)
        .elem("Prefix", page.prefix)
        .elem("KeyMarker", page.key_marker)
        .elem("VersionIdMarker", page.version_id_marker)
        .elem_display("MaxKeys", page.max_keys)
        .elem("Delimiter", page.delimiter);
    if let Some(e) = page.encoding_type {
        w.elem("EncodingType", e);
    }
    w.elem("IsTruncated", if page.next_key_marker.is_some() { "true" } else { "false" });
    if let Some(m) = page.next_key_marker {
        w.elem("NextKeyMarker", m).elem("NextVersionIdMarker", "null");
    }
    let owner_xml = owner.render();
    for o in objects {
        w.open("Version")
            .elem("Key", o.key)
            .elem("VersionId", "null")
            .elem("IsLatest", "true")
            .elem_time("LastModified", o.last_modified_ms)
            .elem_quoted("ETag", o.etag)
            .elem("Type", o.object_type)
            .elem_u64("Size", o.size)
            .elem("StorageClass", o.storage_class);
        if let Some(r) = &o.restore_info {
            w.elem("RestoreInfo", r);
        }
        w.raw(&owner_xml);
        w.close("Version");
    }
    for p in prefixes {
        w.open("CommonPrefixes").elem("Prefix", p).close("CommonPrefixes");
    }
    w.close("ListVersionsResult");
    w.finish()
}
