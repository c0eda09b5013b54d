//! ListObjects (v1) and ListObjectsV2. The whole page is computed in one metadata call; each
//! skipped common prefix is one index seek, so a page costs O(max-keys), not O(bucket).

use super::store_error;
use crate::context::RequestContext;
use crate::response::{self, Body};
use crate::state::AppState;
use base64::Engine;
use http::Response;
use ossd_proto::OssError;
use ossd_proto::route::Endpoint;
use ossd_proto::xml::{self, ListObjectsPage, ListV2Fields, ObjectEntry};
use ossd_store::ListPage;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub const MAX_KEYS_LIMIT: usize = 1000;

/// `max-keys`: default when absent, 1..=1000 otherwise.
pub fn parse_max_keys(v: Option<&str>, default: usize) -> Result<usize, OssError> {
    match v {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_KEYS_LIMIT).contains(&n) => Ok(n),
            _ => Err(OssError::invalid_argument("Argument max-keys is not valid; it must be between 1 and 1000.")
                .with("ArgumentName", "max-keys")
                .with("ArgumentValue", s)),
        },
    }
}

/// `encoding-type`: absent or `url`.
fn encoding_type(q: &ossd_proto::query::Query) -> Result<Option<&'static str>, OssError> {
    match q.non_empty("encoding-type") {
        None => Ok(None),
        Some("url") => Ok(Some("url")),
        Some(other) => Err(OssError::invalid_argument("The encoding-type is not valid.")
            .with("ArgumentName", "encoding-type")
            .with("ArgumentValue", other)),
    }
}

const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `encoding-type=url` encoding of names in listings.
pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_ENCODE).to_string()
}

/// A page's objects as listing entries, with their keys as shown (URL-encoded if asked).
fn object_entries<'a, K: AsRef<str>>(page: &'a ListPage, keys: &'a [K]) -> Vec<ObjectEntry<'a>> {
    let now = ossd_proto::timefmt::now_ms();
    page.objects
        .iter()
        .zip(keys)
        .map(|(o, k)| ObjectEntry {
            key: k.as_ref(),
            last_modified_ms: o.last_modified_ms,
            etag: o.etag,
            object_type: o.object_type,
            size: o.size,
            storage_class: o.storage_class,
            restore_info: crate::response::restore_info(&o.restore, now),
        })
        .collect()
}

fn token_encode(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes())
}

fn token_decode(s: &str) -> Result<String, OssError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            OssError::invalid_argument("The continuation token provided is incorrect.")
                .with("ArgumentName", "continuation-token")
                .with("ArgumentValue", s)
        })
}

/// The parameters every listing (objects v1 and v2, versions) takes, and how it shows names.
struct ListParams {
    bucket: String,
    prefix: String,
    delimiter: String,
    max_keys: usize,
    encoding: Option<&'static str>,
}

impl ListParams {
    fn parse(ctx: &RequestContext) -> Result<ListParams, OssError> {
        let q = &ctx.query;
        Ok(ListParams {
            bucket: ctx.bucket()?.to_string(),
            prefix: q.get("prefix").unwrap_or("").to_string(),
            delimiter: q.get("delimiter").unwrap_or("").to_string(),
            max_keys: parse_max_keys(q.non_empty("max-keys"), 100)?,
            encoding: encoding_type(q)?,
        })
    }

    /// The page of keys after `start`.
    async fn page(&self, state: &AppState, start: &str) -> Result<ListPage, OssError> {
        let meta = state.meta.as_ref();
        meta.list_page(&self.bucket, &self.prefix, &self.delimiter, start, self.max_keys).await.map_err(store_error)
    }

    /// A name as shown: URL-encoded when `encoding-type=url` was asked for.
    fn shown(&self, s: &str) -> String {
        if self.encoding.is_some() { url_encode(s) } else { s.to_string() }
    }
}

pub async fn list_objects(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let v2 = ctx.endpoint == Endpoint::ListObjectsV2;
    let q = &ctx.query;
    let params = ListParams::parse(ctx)?;
    let (max_keys, encoding) = (params.max_keys, params.encoding);
    let token = if v2 { q.non_empty("continuation-token").map(token_decode).transpose()? } else { None };
    let start_after = q.non_empty("start-after").unwrap_or("").to_string();
    let marker = q.get("marker").unwrap_or("").to_string();
    let start = if v2 { token.clone().unwrap_or_else(|| start_after.clone()) } else { marker.clone() };
    let page = params.page(state, &start).await?;

    let enc = |s: &str| params.shown(s);
    // Keys are borrowed from the page unless they must be URL-encoded.
    let keys: Vec<std::borrow::Cow<'_, str>> =
        page.objects.iter().map(|o| if encoding.is_some() { url_encode(o.key).into() } else { o.key.into() }).collect();
    let entries = object_entries(&page, &keys);
    let prefixes: Vec<String> = page.prefixes.iter().map(|p| enc(p)).collect();
    let (eprefix, edelim, emarker) = (enc(&params.prefix), enc(&params.delimiter), enc(&marker));
    let next_marker = page.next.as_deref().map(enc);
    let next_token = page.next.as_deref().map(token_encode);
    let estart_after = enc(&start_after);
    let v2_fields = v2.then(|| ListV2Fields {
        continuation_token: q.non_empty("continuation-token"),
        next_continuation_token: next_token.as_deref(),
        start_after: (!start_after.is_empty()).then_some(estart_after.as_str()),
        key_count: entries.len() + prefixes.len(),
        fetch_owner: q.get("fetch-owner") == Some("true"),
    });
    let listing = ListObjectsPage {
        bucket: &params.bucket,
        prefix: &eprefix,
        delimiter: &edelim,
        max_keys,
        encoding_type: encoding,
        is_truncated: page.next.is_some(),
        v2: v2_fields,
        marker: &emarker,
        next_marker: next_marker.as_deref(),
    };
    let owner = super::service::owner(state);
    Ok(response::xml(200, xml::list_objects(&listing, &owner, &entries, &prefixes)))
}

/// ListObjectVersions on a bucket without versioning: the objects, each once as its `null`
/// version. `key-marker` starts after that key (its only version is `null`).
pub async fn list_versions(state: &AppState, ctx: &RequestContext) -> Result<Response<Body>, OssError> {
    let q = &ctx.query;
    let params = ListParams::parse(ctx)?;
    let key_marker = q.get("key-marker").unwrap_or("").to_string();
    let version_marker = q.get("version-id-marker").unwrap_or("").to_string();
    let page = params.page(state, &key_marker).await?;
    let enc = |s: &str| params.shown(s);
    let keys: Vec<String> = page.objects.iter().map(|o| enc(o.key)).collect();
    let entries = object_entries(&page, &keys);
    let prefixes: Vec<String> = page.prefixes.iter().map(|p| enc(p)).collect();
    let (eprefix, edelim, emarker) = (enc(&params.prefix), enc(&params.delimiter), enc(&key_marker));
    let next = page.next.as_deref().map(enc);
    let listing = xml::ListVersionsPage {
        bucket: &params.bucket,
        prefix: &eprefix,
        key_marker: &emarker,
        version_id_marker: &version_marker,
        delimiter: &edelim,
        max_keys: params.max_keys,
        encoding_type: params.encoding,
        next_key_marker: next.as_deref(),
    };
    let owner = super::service::owner(state);
    Ok(response::xml(200, xml::list_versions(&listing, &owner, &entries, &prefixes)))
}
