//! Listing pages (`PageBuilder`) against a slow model, on a real SQLite store, read both ways:
//! in one snapshot (`SqliteMetaStore::list_page`) and batch by batch (`list_page_in_batches`,
//! what the PostgreSQL store runs).

use ossd_store::*;

fn object(key: &str) -> ObjectRecord {
    ObjectRecord {
        bucket: "b".into(),
        key: key.into(),
        segments: Vec::new(),
        size: key.len() as u64,
        etag: format!("E-{key}"),
        crc64: 0,
        content_md5: String::new(),
        content_type: "text/plain".into(),
        last_modified_ms: 1_700_000_000_000,
        object_type: "Normal".into(),
        acl: "default".into(),
        headers: Default::default(),
        tags: Vec::new(),
        storage_class: "Standard".into(),
        symlink_target: None,
        restore: RestoreState::default(),
        encryption: Encryption::default(),
    }
}

fn store(dir: &tempfile::TempDir, keys: &[String]) -> SqliteMetaStore {
    let m = SqliteMetaStore::open(&dir.path().join("meta.db"), false).unwrap();
    m.create_bucket(&BucketRecord {
        name: "b".into(),
        created_ms: 0,
        acl: "private".into(),
        storage_class: "Standard".into(),
        cors: None,
        callback_policy: None,
        data_redundancy_type: "LRS".into(),
        encryption: None,
    })
    .unwrap();
    for k in keys {
        m.put_object(&object(k), PutMode::Overwrite, &[], None).unwrap();
    }
    m
}

/// What OSS lists, computed the slow way: keys after `start` in order, each shown as itself
/// or as its common prefix (once, and only if the prefix is after `start`).
fn model(
    keys: &[String],
    prefix: &str,
    delimiter: &str,
    start: &str,
    max_keys: usize,
) -> (Vec<String>, Option<String>) {
    let mut items: Vec<String> = Vec::new();
    for k in keys.iter().filter(|k| k.starts_with(prefix) && k.as_str() > start) {
        let item = match common_prefix(k, prefix, delimiter) {
            Some(cp) if start.is_empty() || cp.as_str() > start => cp,
            Some(_) => continue,
            None => k.clone(),
        };
        if items.last() != Some(&item) {
            items.push(item);
        }
    }
    let truncated = items.len() > max_keys;
    items.truncate(max_keys);
    let next = if truncated { items.last().cloned() } else { None };
    (items, next)
}

fn shown(page: &ListPage) -> Vec<String> {
    let mut all: Vec<String> = page.objects.iter().map(|o| o.key.to_string()).collect();
    all.extend(page.prefixes.iter().cloned());
    all.sort();
    all
}

/// Random buckets, prefixes, delimiters, markers and page sizes against the model: pages
/// go in batches of every size (the first, doubled ones, and those after a prefix), so
/// each way a batch can end is met.
#[tokio::test]
async fn pages_match_the_listing_model() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let word = |next: &mut dyn FnMut(usize) -> usize, len: usize| -> String {
        (0..len).map(|_| ['a', 'b', '/', 'c'][next(4)]).collect()
    };
    let mut keys: Vec<String> = (0..300)
        .map(|_| {
            let len = 1 + next(6);
            word(&mut next, len)
        })
        .collect();
    // A run of plain keys longer than several doubled batches, and many folders.
    keys.extend((0..120).map(|i| format!("run{i:03}")));
    keys.extend((0..60).map(|i| format!("dir{i:02}/f{}", i % 3)));
    keys.sort();
    keys.dedup();
    let dir = tempfile::tempdir().unwrap();
    let m = store(&dir, &keys);
    let prefixes = ["", "a", "a/", "b/a", "r", "dir"];
    let delimiters = ["", "/", "a", "/b"];
    for round in 0..600 {
        let prefix = prefixes[next(prefixes.len())];
        let delimiter = delimiters[next(delimiters.len())];
        let len = 1 + next(5);
        let start = if next(3) == 0 { String::new() } else { word(&mut next, len) };
        let max_keys = [1, 2, 3, 7, 8, 9, 17, 100, 1000][next(9)];
        let (want, want_next) = model(&keys, prefix, delimiter, &start, max_keys);
        let what = format!("round {round}: prefix {prefix:?} delimiter {delimiter:?} start {start:?} max {max_keys}");
        let snapshot = m.list_page("b", prefix, delimiter, &start, max_keys).unwrap();
        let batches = list_page_in_batches(&m, "b", prefix, delimiter, &start, max_keys).await.unwrap();
        for page in [snapshot, batches] {
            assert_eq!(shown(&page), want, "{what}");
            assert_eq!(page.next, want_next, "{what}");
        }
    }
}

/// A whole bucket read page by page, following `next` as the SDKs do, lists every key
/// exactly once under a delimiter.
#[test]
fn following_next_lists_each_folder_and_key_once() {
    let mut keys: Vec<String> = (0..50).flat_map(|d| (0..4).map(move |f| format!("d{d:02}/{f}"))).collect();
    keys.extend((0..30).map(|i| format!("top{i:02}")));
    keys.sort();
    let dir = tempfile::tempdir().unwrap();
    let m = store(&dir, &keys);
    for max_keys in [1, 3, 8, 9, 1000] {
        let (mut seen, mut start) = (Vec::new(), String::new());
        loop {
            let page = m.list_page("b", "", "/", &start, max_keys).unwrap();
            seen.extend(shown(&page));
            match page.next {
                Some(n) => start = n,
                None => break,
            }
        }
        let (want, _) = model(&keys, "", "/", "", usize::MAX - 1);
        assert_eq!(seen, want, "max-keys {max_keys}");
    }
}
