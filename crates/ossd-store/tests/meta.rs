use ossd_store::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

fn open(dir: &tempfile::TempDir) -> SqliteMetaStore {
    SqliteMetaStore::open(&dir.path().join("meta.db"), false).unwrap()
}

fn bucket(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.into(),
        created_ms: 1_700_000_000_000,
        acl: "private".into(),
        storage_class: "Standard".into(),
        cors: None,
        callback_policy: None,
        data_redundancy_type: "LRS".into(),
        encryption: None,
    }
}

fn blob(s: &str) -> BlobId {
    BlobId(s.into())
}

fn object(bucket: &str, key: &str, blobs: &[&str], size: u64) -> ObjectRecord {
    let n = blobs.len().max(1) as u64;
    let mut headers = BTreeMap::new();
    headers.insert("x-oss-meta-k".to_string(), format!("v-{key}"));
    headers.insert("cache-control".to_string(), "no-cache".to_string());
    ObjectRecord {
        bucket: bucket.into(),
        key: key.into(),
        segments: blobs.iter().map(|b| Segment { blob: blob(b), len: size / n }).collect(),
        size,
        etag: format!("ETAG-{size}"),
        crc64: u64::MAX - size,
        content_md5: "md5==".into(),
        content_type: "text/plain".into(),
        last_modified_ms: 1_700_000_000_123,
        object_type: "Normal".into(),
        acl: "default".into(),
        headers,
        tags: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
        storage_class: "Standard".into(),
        symlink_target: None,
        restore: RestoreState::default(),
        encryption: Encryption::default(),
    }
}

fn appendable(bucket: &str, key: &str, blobs: &[&str], size: u64) -> ObjectRecord {
    ObjectRecord { object_type: "Appendable".into(), ..object(bucket, key, blobs, size) }
}

/// Publishes `o` as a handler would: the blobs nothing references yet are the ones this
/// "request" wrote (fresh); the others must be live.
fn put(
    m: &SqliteMetaStore,
    o: &ObjectRecord,
    mode: PutMode,
    cb: Option<&CallbackLogEntry>,
) -> StoreResult<Vec<BlobId>> {
    let live = m.referenced_blobs().unwrap();
    let fresh: Vec<BlobId> = o.segments.iter().map(|s| s.blob.clone()).filter(|b| !live.contains(b)).collect();
    m.put_object(o, mode, &fresh, cb)
}

fn keys(v: &[ObjectRecord]) -> Vec<&str> {
    v.iter().map(|o| o.key.as_str()).collect()
}

fn callback(id: &str, bucket: &str, created_ms: i64, outcome: &str) -> CallbackLogEntry {
    CallbackLogEntry {
        request_id: id.into(),
        bucket: bucket.into(),
        object: "obj".into(),
        operation: "PutObject".into(),
        created_ms,
        outcome: outcome.into(),
        callback_param: "eyJjYWxsYmFja1VybCI6Imh0dHA6Ly94In0=".into(),
        body: b"bucket=b&object=obj\xff".to_vec(),
        attempts_json: "[]".into(),
        message: String::new(),
        finished_ms: 0,
        key_url: "http://127.0.0.1:9000/_ossd/callback_pub_key.pem".into(),
    }
}

#[test]
fn bucket_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    assert!(m.get_bucket("b1").unwrap().is_none());
    m.create_bucket(&bucket("b1")).unwrap();
    assert!(matches!(m.create_bucket(&bucket("b1")), Err(StoreError::BucketExists)));
    assert_eq!(m.get_bucket("b1").unwrap().unwrap(), bucket("b1"));

    m.set_bucket_acl("b1", "public-read").unwrap();
    assert_eq!(m.get_bucket("b1").unwrap().unwrap().acl, "public-read");
    assert!(matches!(m.set_bucket_acl("nope", "private"), Err(StoreError::NoSuchBucket)));

    put(&m, &object("b1", "k", &["aa01"], 3), PutMode::Overwrite, None).unwrap();
    assert!(matches!(m.delete_bucket("b1"), Err(StoreError::BucketNotEmpty)));
    assert_eq!(m.delete_object("b1", "k").unwrap(), vec![blob("aa01")]);
    m.delete_bucket("b1").unwrap();
    assert!(m.get_bucket("b1").unwrap().is_none());
    assert!(matches!(m.delete_bucket("b1"), Err(StoreError::NoSuchBucket)));
    // Objects into a deleted bucket are refused.
    assert!(matches!(
        put(&m, &object("b1", "k", &["aa02"], 3), PutMode::Overwrite, None),
        Err(StoreError::NoSuchBucket)
    ));
}

#[test]
fn list_buckets_prefix_marker_limit() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    for n in ["app-1", "app-2", "app-3", "apq", "ap", "backup", "zeta"] {
        m.create_bucket(&bucket(n)).unwrap();
    }
    let names = |v: Vec<BucketRecord>| v.into_iter().map(|b| b.name).collect::<Vec<_>>();
    assert_eq!(names(m.list_buckets("", "", 100).unwrap()), ["ap", "app-1", "app-2", "app-3", "apq", "backup", "zeta"]);
    assert_eq!(names(m.list_buckets("app-", "", 100).unwrap()), ["app-1", "app-2", "app-3"]);
    assert_eq!(names(m.list_buckets("app-", "app-1", 100).unwrap()), ["app-2", "app-3"]);
    assert_eq!(names(m.list_buckets("app-", "", 2).unwrap()), ["app-1", "app-2"]);
    assert_eq!(names(m.list_buckets("", "backup", 100).unwrap()), ["zeta"]);
    assert_eq!(names(m.list_buckets("", "a", 2).unwrap()), ["ap", "app-1"]);
    assert_eq!(names(m.list_buckets("ap", "apq", 100).unwrap()), Vec::<String>::new());
    assert_eq!(names(m.list_buckets("z", "", 100).unwrap()), ["zeta"]);
    assert_eq!(names(m.list_buckets("zz", "", 100).unwrap()), Vec::<String>::new());
    assert!(m.list_buckets("", "", 0).unwrap().is_empty());
}

#[test]
fn put_get_overwrite_delete() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("b")).unwrap();
    let o1 = object("b", "dir/file.txt", &["aa01"], 10);
    assert!(put(&m, &o1, PutMode::Overwrite, None).unwrap().is_empty());
    assert_eq!(m.get_object("b", "dir/file.txt").unwrap().unwrap(), o1);
    assert!(m.get_object("b", "dir/file").unwrap().is_none());
    assert!(m.get_object("other", "dir/file.txt").unwrap().is_none());

    // Overwrite returns the replaced blob.
    let o2 = object("b", "dir/file.txt", &["aa02", "aa03"], 20);
    assert_eq!(put(&m, &o2, PutMode::Overwrite, None).unwrap(), vec![blob("aa01")]);
    assert_eq!(m.get_object("b", "dir/file.txt").unwrap().unwrap(), o2);

    // MustNotExist.
    assert!(matches!(
        put(&m, &object("b", "dir/file.txt", &["aa04"], 1), PutMode::MustNotExist, None),
        Err(StoreError::ObjectExists)
    ));
    assert_eq!(m.get_object("b", "dir/file.txt").unwrap().unwrap(), o2);
    put(&m, &object("b", "new", &["aa05"], 1), PutMode::MustNotExist, None).unwrap();

    // A blob shared by two objects (copy) is freed only when the last reference goes.
    let copy = object("b", "copy", &["aa02", "aa03"], 20);
    assert!(put(&m, &copy, PutMode::Overwrite, None).unwrap().is_empty());
    assert!(m.delete_object("b", "dir/file.txt").unwrap().is_empty());
    let mut freed = m.delete_object("b", "copy").unwrap();
    freed.sort();
    assert_eq!(freed, vec![blob("aa02"), blob("aa03")]);
    assert!(m.delete_object("b", "copy").unwrap().is_empty());
    assert_eq!(m.referenced_blobs().unwrap(), vec![blob("aa05")]);

    // Attributes.
    assert!(matches!(m.update_object_attrs("b", "nope", Some("private"), None), Err(StoreError::NoSuchObject)));
    m.update_object_attrs("b", "new", Some("public-read"), None).unwrap();
    let got = m.get_object("b", "new").unwrap().unwrap();
    assert_eq!(got.acl, "public-read");
    assert_eq!(got.tags, vec![("b".to_string(), "2".to_string()), ("a".to_string(), "1".to_string())]);
    let tags = vec![("z".to_string(), "".to_string()), ("c".to_string(), "x y".to_string())];
    m.update_object_attrs("b", "new", None, Some(&tags)).unwrap();
    let got = m.get_object("b", "new").unwrap().unwrap();
    assert_eq!((got.acl.as_str(), got.tags), ("public-read", tags));
    m.update_object_attrs("b", "new", None, Some(&[])).unwrap();
    assert!(m.get_object("b", "new").unwrap().unwrap().tags.is_empty());
}

#[test]
fn append_rules() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("b")).unwrap();
    // Absent: only position 0.
    assert!(matches!(
        put(&m, &appendable("b", "log", &["bb01"], 5), PutMode::AppendAt(3), None),
        Err(StoreError::PositionNotEqualToLength(0))
    ));
    assert!(put(&m, &appendable("b", "log", &["bb01"], 5), PutMode::AppendAt(0), None).unwrap().is_empty());
    // Present: position must equal the size.
    assert!(matches!(
        put(&m, &appendable("b", "log", &["bb01"], 9), PutMode::AppendAt(4), None),
        Err(StoreError::PositionNotEqualToLength(5))
    ));
    assert!(matches!(
        put(&m, &appendable("b", "log", &["bb01"], 9), PutMode::AppendAt(0), None),
        Err(StoreError::PositionNotEqualToLength(5))
    ));
    // A record not built on the current object (another first segment) is a conflict.
    assert!(matches!(
        put(&m, &appendable("b", "log", &["bb09", "bb02"], 10), PutMode::AppendAt(5), None),
        Err(StoreError::Conflict(_))
    ));
    // A new segment after the current ones: nothing is freed.
    let mut grown = appendable("b", "log", &["bb01", "bb02"], 12);
    grown.segments[0].len = 5;
    grown.segments[1].len = 7;
    assert!(put(&m, &grown, PutMode::AppendAt(5), None).unwrap().is_empty());
    assert_eq!(m.get_object("b", "log").unwrap().unwrap().size, 12);
    assert_eq!(m.referenced_blobs().unwrap(), vec![blob("bb01"), blob("bb02")]);
    // Not appendable.
    put(&m, &object("b", "plain", &["bb03"], 5), PutMode::Overwrite, None).unwrap();
    assert!(matches!(
        put(&m, &appendable("b", "plain", &["bb04"], 7), PutMode::AppendAt(5), None),
        Err(StoreError::NotAppendable)
    ));
    // Overwriting the appendable object frees both segments.
    let mut freed = put(&m, &object("b", "log", &["bb05"], 1), PutMode::Overwrite, None).unwrap();
    freed.sort();
    assert_eq!(freed, vec![blob("bb01"), blob("bb02")]);
    // A missing bucket wins over append rules.
    assert!(matches!(
        put(&m, &appendable("nb", "log", &["bb06"], 1), PutMode::AppendAt(0), None),
        Err(StoreError::NoSuchBucket)
    ));
}

#[test]
fn put_with_callback_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("b")).unwrap();
    let cb = callback("req-1", "b", 100, "pending");
    put(&m, &object("b", "k", &["cc01"], 1), PutMode::Overwrite, Some(&cb)).unwrap();
    assert_eq!(m.get_callback("req-1").unwrap().unwrap(), cb);
    // A failed put does not log its callback.
    let cb2 = callback("req-2", "b", 101, "pending");
    assert!(put(&m, &object("b", "k", &["cc02"], 1), PutMode::MustNotExist, Some(&cb2)).is_err());
    assert!(m.get_callback("req-2").unwrap().is_none());
    assert_eq!(m.referenced_blobs().unwrap(), vec![blob("cc01")]);
}

fn put_keys(m: &SqliteMetaStore, b: &str, keys: &[&str]) {
    for (i, k) in keys.iter().enumerate() {
        put(m, &object(b, k, &[&format!("{}{i:08x}", hex::encode(b))], 1), PutMode::Overwrite, None).unwrap();
    }
}

#[test]
fn list_objects_order_and_starts() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("b")).unwrap();
    m.create_bucket(&bucket("c")).unwrap();
    let long = "k".repeat(1023);
    let mut all: Vec<String> = [
        "a",
        "a/",
        "a/b",
        "a/b/c",
        "a/b0",
        "a0",
        "a\u{0}x",
        "ab",
        "b",
        "../../etc/passwd",
        "./x",
        "/leading",
        "é",
        "e\u{301}",
        "日本/語",
        "日本語",
        "😀",
        "\u{FFFD}",
        "\u{10FFFF}z",
        "Z",
        "~",
        "a b",
        "a+b",
        "a%2Fb",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.push(long.clone());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    put_keys(&m, "b", &refs);
    put_keys(&m, "c", &["a", "a/b", "zz"]);
    // Byte order of UTF-8 == Rust's `str` order.
    let mut sorted = all.clone();
    sorted.sort();
    let listed = m.list_objects("b", "", ListStart::Beginning, 1000).unwrap();
    assert_eq!(keys(&listed), sorted.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(listed.iter().all(|o| o.bucket == "b"));
    assert_eq!(m.get_object("b", &long).unwrap().unwrap().key.len(), 1023);
    assert_eq!(m.get_object("b", "../../etc/passwd").unwrap().unwrap().key, "../../etc/passwd");

    // Paging with After reproduces the whole listing.
    let mut paged = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = match &start {
            None => m.list_objects("b", "", ListStart::Beginning, 4).unwrap(),
            Some(k) => m.list_objects("b", "", ListStart::After(k), 4).unwrap(),
        };
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        start = Some(page.last().unwrap().key.clone());
        paged.extend(page.into_iter().map(|o| o.key));
    }
    assert_eq!(paged, sorted);

    // Prefixes.
    assert_eq!(keys(&m.list_objects("b", "a/", ListStart::Beginning, 100).unwrap()), ["a/", "a/b", "a/b/c", "a/b0"]);
    assert_eq!(keys(&m.list_objects("b", "a/b", ListStart::Beginning, 100).unwrap()), ["a/b", "a/b/c", "a/b0"]);
    assert_eq!(keys(&m.list_objects("b", "a/b", ListStart::After("a/b"), 100).unwrap()), ["a/b/c", "a/b0"]);
    assert_eq!(keys(&m.list_objects("b", "日本", ListStart::Beginning, 100).unwrap()), ["日本/語", "日本語"]);
    assert_eq!(keys(&m.list_objects("b", "\u{10FFFF}", ListStart::Beginning, 100).unwrap()), ["\u{10FFFF}z"]);
    assert_eq!(keys(&m.list_objects("b", "../", ListStart::Beginning, 100).unwrap()), ["../../etc/passwd"]);
    assert!(m.list_objects("b", "nothing", ListStart::Beginning, 100).unwrap().is_empty());
    // PastPrefix skips a whole "directory" (delimiter listing).
    assert_eq!(
        keys(&m.list_objects("b", "a", ListStart::PastPrefix("a/"), 100).unwrap()),
        ["a0", "ab"] // "a\0x", "a b", "a%2Fb", "a+b" sort before "a/"
    );
    assert_eq!(keys(&m.list_objects("b", "a/", ListStart::PastPrefix("a/b"), 100).unwrap()), Vec::<&str>::new());
    assert_eq!(keys(&m.list_objects("b", "a/", ListStart::PastPrefix("a/b/"), 100).unwrap()), ["a/b0"]);
    // A start before the prefix starts at the prefix; one past it gives nothing.
    assert_eq!(keys(&m.list_objects("b", "a/", ListStart::After("0"), 2).unwrap()), ["a/", "a/b"]);
    assert_eq!(keys(&m.list_objects("b", "a/", ListStart::PastPrefix(""), 2).unwrap()), Vec::<&str>::new());
    assert!(m.list_objects("b", "a/", ListStart::After("b"), 10).unwrap().is_empty());
    assert!(m.list_objects("b", "", ListStart::Beginning, 0).unwrap().is_empty());
    // Isolation: other buckets never show up.
    assert_eq!(keys(&m.list_objects("c", "", ListStart::Beginning, 100).unwrap()), ["a", "a/b", "zz"]);
    assert_eq!(keys(&m.list_objects("c", "a", ListStart::After("a/b"), 100).unwrap()), Vec::<&str>::new());
    assert!(m.list_objects("missing", "", ListStart::Beginning, 100).unwrap().is_empty());
}

#[test]
fn list_uses_primary_key_search() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    let plan = m.explain_list_objects().unwrap();
    assert!(plan.contains("SEARCH"), "{plan}");
    assert!(!plan.contains("SCAN"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

#[test]
fn listing_pages_read_the_covering_index() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    let plan = m.explain_list_object_summaries().unwrap();
    assert!(plan.contains("SEARCH") && plan.contains("USING COVERING INDEX objects_listing"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

#[test]
fn schema_8_database_gains_the_listing_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let m = SqliteMetaStore::open(&path, false).unwrap();
        m.create_bucket(&bucket("b")).unwrap();
        put_keys(&m, "b", &["a", "b", "c"]);
    }
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("DROP INDEX objects_listing; PRAGMA user_version = 8").unwrap();
    }
    let m = SqliteMetaStore::open(&path, false).unwrap();
    assert!(m.explain_list_object_summaries().unwrap().contains("objects_listing"));
    let page = m.list_object_summaries("b", "", ListStart::After("a"), 10).unwrap();
    assert_eq!(page.iter().map(|o| o.key).collect::<Vec<_>>(), ["b", "c"]);
}

#[test]
fn large_bucket_pages_fast() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let m = SqliteMetaStore::open(&path, false).unwrap();
    m.create_bucket(&bucket("big")).unwrap();
    m.create_bucket(&bucket("aaa")).unwrap();
    m.create_bucket(&bucket("zzz")).unwrap();
    // 2,000 objects through the API (neighbouring buckets included) ...
    let t = Instant::now();
    for i in 0..2_000 {
        let key = format!("dir{:02}/obj-{:06}", i % 50, i);
        put(&m, &object("big", &key, &[&format!("{i:032x}")], 1), PutMode::Overwrite, None).unwrap();
    }
    put_keys(&m, "aaa", &["dir00/x", "dir49/z"]);
    put_keys(&m, "zzz", &["dir00/x", "dir49/z"]);
    eprintln!("2000 put_object in {:?}", t.elapsed());
    // ... and the other 98,000 rows in one transaction straight into the table (much faster
    // than 98,000 commits in an unoptimised build), rows shaped like the API writes them.
    let n = 100_000;
    let t = Instant::now();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let template = m.get_object("big", "dir00/obj-000000").unwrap().unwrap();
        let headers = serde_json::to_string(&template.headers).unwrap();
        let tags = serde_json::to_string(&template.tags).unwrap();
        c.execute(
            "WITH RECURSIVE seq(i) AS (SELECT 2000 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1 - 1) \
             INSERT INTO objects (bucket, key, size, etag, crc64, content_md5, content_type, \
               last_modified_ms, object_type, acl, headers, tags, segments) \
             SELECT 'big', CAST(printf('dir%02d/obj-%06d', i % 50, i) AS BLOB), 1, 'ETAG-1', -2, 'md5==', \
               'text/plain', 1700000000123, 'Normal', 'default', ?2, ?3, \
               json_array(json_object('blob', printf('%032x', i), 'len', 1)) FROM seq",
            rusqlite::params![n, headers, tags],
        )
        .unwrap();
    }
    eprintln!("bulk-inserted {} rows in {:?}", n - 2_000, t.elapsed());
    assert_eq!(m.get_object("big", "dir07/obj-099957").unwrap().unwrap().segments[0].blob.0, format!("{:032x}", 99957));

    let t = Instant::now();
    let first = m.list_objects("big", "", ListStart::Beginning, 1000).unwrap();
    let mid = m.list_objects("big", "dir25/", ListStart::After("dir25/obj-050025"), 1000).unwrap();
    let past = m.list_objects("big", "", ListStart::PastPrefix("dir48/"), 1000).unwrap();
    let last = m.list_objects("big", "dir49/", ListStart::Beginning, 1000).unwrap();
    let elapsed = t.elapsed();
    eprintln!("four 1000-key pages of a {n}-object bucket in {elapsed:?}");
    assert_eq!(first.len(), 1000);
    assert_eq!(first[0].key, "dir00/obj-000000");
    assert_eq!(first[1].key, "dir00/obj-000050");
    assert_eq!(mid.len(), 999);
    assert_eq!(mid[0].key, "dir25/obj-050075");
    assert!(mid.iter().all(|o| o.key.starts_with("dir25/")));
    assert_eq!(past.len(), 1000);
    assert_eq!(past[0].key, "dir49/obj-000049");
    assert_eq!(last.len(), 1000);
    assert!(last.iter().all(|o| o.bucket == "big" && o.key.starts_with("dir49/")));
    assert!(m.list_objects("big", "dir49/", ListStart::After("dir49/obj-099999"), 10).unwrap().is_empty());
    assert!(elapsed.as_millis() < 2000, "listing took {elapsed:?}");
    // A one-key page costs the same wherever it is.
    let t = Instant::now();
    for i in 0..1000 {
        let after = format!("dir{:02}/obj-{:06}", i % 50, i * 97);
        assert!(m.list_objects("big", "", ListStart::After(&after), 1).unwrap().len() == 1);
    }
    eprintln!("1000 one-key pages in {:?}", t.elapsed());
}

#[test]
fn concurrent_writers_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(open(&dir));
    m.create_bucket(&bucket("b")).unwrap();
    let writers = 4;
    let rounds = 200;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (m, stop) = (m.clone(), stop.clone());
        readers.push(std::thread::spawn(move || {
            let mut seen = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(o) = m.get_object("b", "hot").unwrap() {
                    // Every field comes from the same put.
                    let tag = &o.tags[0].1;
                    assert_eq!(o.etag, format!("E-{tag}"));
                    assert_eq!(o.headers["x-oss-meta-w"], *tag);
                    assert_eq!(o.segments[0].blob.0, format!("{:0>32}", tag.replace('-', "f")));
                    seen += 1;
                }
                for o in m.list_objects("b", "w", ListStart::Beginning, 100).unwrap() {
                    assert_eq!(o.etag, format!("E-{}", o.tags[0].1));
                }
            }
            seen
        }));
    }
    let mut handles = Vec::new();
    for w in 0..writers {
        let m = m.clone();
        handles.push(std::thread::spawn(move || {
            let mut last_freed = Vec::new();
            let mut own_freed = Vec::new();
            for r in 0..rounds {
                let tag = format!("{w}-{r}");
                let blob_id = format!("{:0>32}", tag.replace('-', "f"));
                let mut o = object("b", "hot", &[&blob_id], r as u64);
                o.etag = format!("E-{tag}");
                o.tags = vec![("t".into(), tag.clone())];
                o.headers.insert("x-oss-meta-w".into(), tag.clone());
                last_freed.extend(put(&m, &o, PutMode::Overwrite, None).unwrap());
                let mut own = o.clone();
                own.key = format!("w{w}");
                own.segments[0].blob = BlobId(format!("e{}", &blob_id[1..]));
                own_freed.extend(put(&m, &own, PutMode::Overwrite, None).unwrap());
            }
            assert_eq!(own_freed.len(), rounds - 1);
            last_freed
        }));
    }
    let mut freed = Vec::new();
    for h in handles {
        freed.extend(h.join().unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(seen > 0);
    // Last commit wins: the survivor is some writer's final put, and every other put of the
    // hot key was freed exactly once.
    let hot = m.get_object("b", "hot").unwrap().unwrap();
    let tag = &hot.tags[0].1;
    assert!((0..writers).any(|w| *tag == format!("{w}-{}", rounds - 1)), "{tag}");
    freed.sort();
    let before = freed.len();
    freed.dedup();
    assert_eq!(before, freed.len(), "a blob was freed twice");
    assert_eq!(freed.len(), writers * rounds - 1);
    assert!(!freed.contains(&hot.segments[0].blob));
    // Remaining references: the hot key's blob plus each writer's own key.
    let refs = m.referenced_blobs().unwrap();
    assert_eq!(refs.len(), 1 + writers);
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let o = object("b", "k/ü", &["dd01", "dd02"], 9);
    let cb = callback("req-9", "b", 5, "pending");
    {
        let m = SqliteMetaStore::open(&path, true).unwrap();
        m.create_bucket(&bucket("b")).unwrap();
        put(&m, &o, PutMode::Overwrite, Some(&cb)).unwrap();
    }
    let m = SqliteMetaStore::open(&path, true).unwrap();
    assert_eq!(m.get_bucket("b").unwrap().unwrap(), bucket("b"));
    assert_eq!(m.get_object("b", "k/ü").unwrap().unwrap(), o);
    assert_eq!(m.get_callback("req-9").unwrap().unwrap(), cb);
    assert_eq!(m.referenced_blobs().unwrap(), vec![blob("dd01"), blob("dd02")]);
    assert_eq!(m.delete_object("b", "k/ü").unwrap().len(), 2);
    drop(m);
    // Two stores on one file (e.g. a tool next to the server) see each other's commits.
    let a = SqliteMetaStore::open(&path, false).unwrap();
    let b = SqliteMetaStore::open(&path, false).unwrap();
    a.create_bucket(&bucket("x")).unwrap();
    assert!(b.get_bucket("x").unwrap().is_some());
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    drop(SqliteMetaStore::open(&path, false).unwrap());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA user_version = 99").unwrap();
    }
    match SqliteMetaStore::open(&path, false) {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("99"), "{msg}"),
        other => panic!("expected a backend error, got {:?}", other.err()),
    }
}

#[test]
fn callback_log() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    for i in 0..10 {
        let b = if i % 2 == 0 { "even" } else { "odd" };
        m.record_callback(&callback(&format!("r{i}"), b, 1000 + i, "pending")).unwrap();
    }
    assert!(m.get_callback("nope").unwrap().is_none());
    let mut done = callback("r3", "odd", 1003, "200");
    done.attempts_json = r#"[{"url":"http://x","status":200,"error":"","latency_ms":3,"response_bytes":10}]"#.into();
    done.message = "ok".into();
    done.finished_ms = 2000;
    // finish only touches the outcome fields.
    let mut update = done.clone();
    update.body = b"ignored".to_vec();
    // Queued (a detached write that joins the next commit): read right after, it is there.
    m.finish_callback_queued(&update).unwrap();
    assert_eq!(m.get_callback("r3").unwrap().unwrap(), done);
    let mut failed = callback("r4", "even", 1004, "203");
    failed.message = "timeout".into();
    failed.finished_ms = 2001;
    m.finish_callback_queued(&failed).unwrap();
    // A listing right after a queued outcome sees it too.
    let outcomes =
        |f: CallbackFilter| m.list_callbacks(&f).unwrap().into_iter().map(|e| e.request_id).collect::<Vec<_>>();
    assert_eq!(outcomes(CallbackFilter { outcome: Some("203".into()), ..Default::default() }), ["r4"]);
    // finish of an unknown entry records it whole.
    let orphan = CallbackLogEntry { finished_ms: 5, ..callback("r-x", "odd", 1, "200") };
    m.finish_callback(&orphan).unwrap();
    assert_eq!(m.get_callback("r-x").unwrap().unwrap(), orphan);

    let ids = |f: CallbackFilter| m.list_callbacks(&f).unwrap().into_iter().map(|e| e.request_id).collect::<Vec<_>>();
    assert_eq!(ids(CallbackFilter::default()), ["r9", "r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1", "r0", "r-x"]);
    assert_eq!(ids(CallbackFilter { limit: 3, ..Default::default() }), ["r9", "r8", "r7"]);
    assert_eq!(
        ids(CallbackFilter { bucket: Some("even".into()), ..Default::default() }),
        ["r8", "r6", "r4", "r2", "r0"]
    );
    assert_eq!(
        ids(CallbackFilter { outcome: Some("pending".into()), bucket: Some("odd".into()), ..Default::default() }),
        ["r9", "r7", "r5", "r1"]
    );
    assert_eq!(ids(CallbackFilter { outcome: Some("203".into()), ..Default::default() }), ["r4"]);
    assert_eq!(
        ids(CallbackFilter { since_ms: Some(1003), until_ms: Some(1005), ..Default::default() }),
        ["r5", "r4", "r3"]
    );
    assert_eq!(ids(CallbackFilter { since_ms: Some(1008), ..Default::default() }), ["r9", "r8"]);
    assert_eq!(ids(CallbackFilter { until_ms: Some(1000), ..Default::default() }), ["r0", "r-x"]);

    // Default limit is 100.
    for i in 0..150 {
        m.record_callback(&callback(&format!("bulk{i:03}"), "bulk", 5000 + i, "200")).unwrap();
    }
    assert_eq!(m.list_callbacks(&CallbackFilter::default()).unwrap().len(), 100);
    assert_eq!(m.list_callbacks(&CallbackFilter { limit: 1000, ..Default::default() }).unwrap().len(), 161);

    // Prune: entries go only when beyond the newest `keep` AND older than max_age.
    // now=6000, max_age=1000 -> older means created before 5000: the 11 first entries.
    assert_eq!(m.prune_callbacks(155, 1000, 6000).unwrap(), 6); // keeps newest 155: r-x,r0..r4 go
    assert!(m.get_callback("r4").unwrap().is_none());
    assert!(m.get_callback("r5").unwrap().is_some());
    assert_eq!(m.prune_callbacks(0, 1000, 6000).unwrap(), 5); // young ones stay whatever keep says
    assert_eq!(m.list_callbacks(&CallbackFilter { limit: 1000, ..Default::default() }).unwrap().len(), 150);
    assert_eq!(m.prune_callbacks(10, 0, 10_000).unwrap(), 140);
    assert_eq!(ids(CallbackFilter { limit: 1000, ..Default::default() }).len(), 10);
    assert_eq!(ids(CallbackFilter { limit: 1, ..Default::default() }), ["bulk149"]);
    assert_eq!(m.prune_callbacks(10, 0, 10_000).unwrap(), 0);
    assert_eq!(m.prune_callbacks(100, 0, 10_000).unwrap(), 0);
}

#[test]
fn summaries_match_full_listing() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("b")).unwrap();
    for (i, k) in ["a/1", "a/2", "b", "é/x", "z"].iter().enumerate() {
        put(&m, &object("b", k, &[&format!("ab{i:02}")], 10 + i as u64), PutMode::Overwrite, None).unwrap();
    }
    for (prefix, start) in
        [("", ListStart::Beginning), ("a/", ListStart::After("a/1")), ("", ListStart::PastPrefix("a/"))]
    {
        let full = m.list_objects("b", prefix, start, 10).unwrap();
        let summaries = m.list_object_summaries("b", prefix, start, 10).unwrap();
        assert_eq!(summaries.len(), full.len());
        for (s, o) in summaries.iter().zip(&full) {
            assert_eq!(
                (s.key, s.size, s.etag, s.last_modified_ms, s.object_type, s.storage_class),
                (
                    o.key.as_str(),
                    o.size,
                    o.etag.as_str(),
                    o.last_modified_ms,
                    o.object_type.as_str(),
                    o.storage_class.as_str()
                )
            );
        }
    }
    assert_eq!(m.list_object_summaries("b", "", ListStart::Beginning, 2).unwrap().len(), 2);
    assert!(m.list_object_summaries("b", "", ListStart::Beginning, 0).unwrap().is_empty());
}

#[test]
fn dead_blobs_are_never_referenced_again() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("b")).unwrap();
    let src = object("b", "src", &["dd01"], 4);
    m.put_object(&src, PutMode::Overwrite, &[blob("dd01")], None).unwrap();
    // A copy built on the source shares its live blob.
    let copy = ObjectRecord { key: "copy".into(), ..src.clone() };
    m.put_object(&copy, PutMode::Overwrite, &[], None).unwrap();
    assert_eq!(m.delete_object("b", "src").unwrap(), Vec::<BlobId>::new());
    assert_eq!(m.delete_object("b", "copy").unwrap(), vec![blob("dd01")]);
    // The blob is dead now: a copy read before the deletes cannot bring it back.
    let late = ObjectRecord { key: "late".into(), ..src.clone() };
    assert!(matches!(m.put_object(&late, PutMode::Overwrite, &[], None), Err(StoreError::Conflict(_))));
    assert!(m.get_object("b", "late").unwrap().is_none());
    assert!(m.referenced_blobs().unwrap().is_empty());
    // A fresh blob must really be new.
    m.put_object(&object("b", "x", &["dd02"], 1), PutMode::Overwrite, &[blob("dd02")], None).unwrap();
    assert!(m.put_object(&object("b", "y", &["dd02"], 1), PutMode::Overwrite, &[blob("dd02")], None).is_err());
}

#[test]
fn completion_checks_its_parts_in_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("b")).unwrap();
    let upload = UploadRecord {
        bucket: "b".into(),
        key: "mp".into(),
        upload_id: "U1".into(),
        initiated_ms: 1,
        content_type: "x/y".into(),
        acl: "default".into(),
        headers: BTreeMap::new(),
        tags: Vec::new(),
        storage_class: "IA".into(),
        encryption: Encryption { algorithm: "KMS".into(), key_id: "k".into(), data_encryption: "SM4".into() },
    };
    m.create_upload(&upload).unwrap();
    assert_eq!(m.get_upload("U1").unwrap().unwrap(), upload);
    let part = |n: u32, b: &str| PartRecord {
        upload_id: "U1".into(),
        part_number: n,
        blob: blob(b),
        size: 3,
        etag: "E".into(),
        crc64: 0,
        last_modified_ms: 1,
    };
    m.put_part(&part(1, "ee01")).unwrap();
    // The part is uploaded again (its first blob goes) after the completion read the list.
    assert_eq!(m.put_part(&part(1, "ee02")).unwrap(), vec![blob("ee01")]);
    let stale = object("b", "mp", &["ee01"], 3);
    assert!(matches!(
        m.complete_upload("U1", &stale, &[(1, blob("ee01"))], PutMode::Overwrite, None),
        Err(StoreError::Conflict(_))
    ));
    assert!(m.get_object("b", "mp").unwrap().is_none());
    let fresh = object("b", "mp", &["ee02"], 3);
    assert!(m.complete_upload("U1", &fresh, &[(1, blob("ee02"))], PutMode::Overwrite, None).unwrap().is_empty());
    assert_eq!(m.referenced_blobs().unwrap(), vec![blob("ee02")]);
}

#[test]
fn nonces_and_worker_leases() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    assert!(m.remember_nonce("n1", 1_000, 2_000).unwrap());
    assert!(!m.remember_nonce("n1", 1_500, 2_500).unwrap());
    // Expired: usable again.
    assert!(m.remember_nonce("n1", 2_001, 3_000).unwrap());
    assert!(m.acquire_worker("sweep", "a", 0, 100).unwrap());
    assert!(m.acquire_worker("sweep", "a", 50, 100).unwrap());
    assert!(!m.acquire_worker("sweep", "b", 120, 100).unwrap());
    // `a` renewed until 150; after that `b` takes over.
    assert!(m.acquire_worker("sweep", "b", 151, 100).unwrap());
    assert!(!m.acquire_worker("sweep", "a", 160, 100).unwrap());
}

#[test]
fn bucket_callback_policy_is_stored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("cbp")).unwrap();
    assert_eq!(m.get_bucket("cbp").unwrap().unwrap().callback_policy, None);
    m.set_bucket_callback_policy("cbp", Some("[opaque]")).unwrap();
    assert_eq!(m.get_bucket("cbp").unwrap().unwrap().callback_policy.as_deref(), Some("[opaque]"));
    assert_eq!(m.list_buckets("", "", 10).unwrap()[0].callback_policy.as_deref(), Some("[opaque]"));
    m.set_bucket_callback_policy("cbp", None).unwrap();
    assert_eq!(m.get_bucket("cbp").unwrap().unwrap().callback_policy, None);
    assert!(matches!(m.set_bucket_callback_policy("nope", None), Err(StoreError::NoSuchBucket)));
}

#[test]
fn schema_5_database_gains_the_callback_policy_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let m = SqliteMetaStore::open(&path, false).unwrap();
        m.create_bucket(&bucket("old")).unwrap();
    }
    {
        // What a version-5 database looks like: no callback_policy column, no bucket_configs.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(&format!(
            "{V7_DOWN} ALTER TABLE buckets DROP COLUMN callback_policy; DROP TABLE bucket_configs; PRAGMA user_version = 5"
        ))
        .unwrap();
    }
    let m = SqliteMetaStore::open(&path, false).unwrap();
    assert_eq!(m.get_bucket("old").unwrap().unwrap().callback_policy, None);
    m.set_bucket_callback_policy("old", Some("p")).unwrap();
    assert_eq!(m.get_bucket("old").unwrap().unwrap().callback_policy.as_deref(), Some("p"));
}

#[test]
fn bucket_configs_are_stored_listed_and_go_with_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("cfg-a")).unwrap();
    m.create_bucket(&bucket("cfg-b")).unwrap();
    assert!(m.bucket_configs("cfg-a").unwrap().is_empty());
    m.set_bucket_config("cfg-a", "website", Some("<w/>")).unwrap();
    m.set_bucket_config("cfg-a", "lifecycle", Some("<l1/>")).unwrap();
    m.set_bucket_config("cfg-a", "lifecycle", Some("<l2/>")).unwrap();
    m.set_bucket_config("cfg-b", "lifecycle", Some("<l3/>")).unwrap();
    assert_eq!(
        m.bucket_configs("cfg-a").unwrap(),
        vec![("lifecycle".to_string(), "<l2/>".to_string()), ("website".to_string(), "<w/>".to_string())]
    );
    let all = m.list_bucket_configs("lifecycle", "", 10).unwrap();
    assert_eq!(all.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(), ["cfg-a", "cfg-b"]);
    assert_eq!(m.list_bucket_configs("lifecycle", "cfg-a", 10).unwrap().len(), 1);
    assert_eq!(m.list_bucket_configs("lifecycle", "", 1).unwrap().len(), 1);
    m.set_bucket_config("cfg-a", "website", None).unwrap();
    assert_eq!(m.bucket_configs("cfg-a").unwrap().len(), 1);
    assert!(matches!(m.set_bucket_config("nope", "website", Some("x")), Err(StoreError::NoSuchBucket)));
    m.delete_bucket("cfg-a").unwrap();
    m.create_bucket(&bucket("cfg-a")).unwrap();
    assert!(m.bucket_configs("cfg-a").unwrap().is_empty(), "a re-created bucket starts without configurations");
}

#[test]
fn bucket_usage_sums_sizes_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("use")).unwrap();
    assert_eq!(m.bucket_usage("use").unwrap(), BucketUsage::default());
    put(&m, &object("use", "a", &["u1"], 10), PutMode::Overwrite, None).unwrap();
    put(&m, &object("use", "b", &["u2"], 5), PutMode::Overwrite, None).unwrap();
    put(&m, &ObjectRecord { storage_class: "IA".into(), ..object("use", "c", &["u3"], 7) }, PutMode::Overwrite, None)
        .unwrap();
    let u = m.bucket_usage("use").unwrap();
    assert_eq!((u.bytes, u.objects, u.last_modified_ms), (22, 3, 1_700_000_000_123));
    assert_eq!(u.by_class, vec![("IA".to_string(), 7, 1), ("Standard".to_string(), 15, 2)]);
}

#[test]
fn schema_7_database_gains_bucket_configs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let m = SqliteMetaStore::open(&path, false).unwrap();
        m.create_bucket(&bucket("six")).unwrap();
    }
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("DROP TABLE bucket_configs; PRAGMA user_version = 7").unwrap();
    }
    let m = SqliteMetaStore::open(&path, false).unwrap();
    m.set_bucket_config("six", "policy", Some("{}")).unwrap();
    assert_eq!(m.bucket_configs("six").unwrap().len(), 1);
}

#[test]
fn delete_objects_unchanged_spares_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("exp")).unwrap();
    put(&m, &object("exp", "old", &["e1"], 1), PutMode::Overwrite, None).unwrap();
    put(&m, &object("exp", "new", &["e2"], 1), PutMode::Overwrite, None).unwrap();
    let seen = m.get_object("exp", "new").unwrap().unwrap().last_modified_ms;
    let mut newer = object("exp", "new", &["e3"], 1);
    newer.last_modified_ms = seen + 1;
    put(&m, &newer, PutMode::Overwrite, None).unwrap();
    let freed =
        m.delete_objects_unchanged("exp", &[("old".into(), seen), ("new".into(), seen), ("gone".into(), 0)]).unwrap();
    assert_eq!(freed, vec![blob("e1")]);
    assert!(m.get_object("exp", "old").unwrap().is_none());
    assert!(m.get_object("exp", "new").unwrap().is_some());
}

/// Turns a current database back into a version-6 one (without the version-7 columns).
/// (The v9 listing index goes first: it names version-7 columns.)
const V7_DOWN: &str = "
DROP INDEX objects_listing;
ALTER TABLE objects DROP COLUMN storage_class; ALTER TABLE objects DROP COLUMN symlink_target;
ALTER TABLE objects DROP COLUMN restore_ready_ms; ALTER TABLE objects DROP COLUMN restore_expiry_ms;
ALTER TABLE objects DROP COLUMN sse_algorithm; ALTER TABLE objects DROP COLUMN sse_key_id;
ALTER TABLE objects DROP COLUMN sse_data_encryption;
ALTER TABLE uploads DROP COLUMN storage_class; ALTER TABLE uploads DROP COLUMN sse_algorithm;
ALTER TABLE uploads DROP COLUMN sse_key_id; ALTER TABLE uploads DROP COLUMN sse_data_encryption;
ALTER TABLE buckets DROP COLUMN data_redundancy_type; ALTER TABLE buckets DROP COLUMN sse_algorithm;
ALTER TABLE buckets DROP COLUMN sse_key_id; ALTER TABLE buckets DROP COLUMN sse_data_encryption;
";

#[test]
fn schema_6_database_gains_classes_symlinks_restore_and_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let m = SqliteMetaStore::open(&path, false).unwrap();
        m.create_bucket(&bucket("old")).unwrap();
        put(&m, &object("old", "k", &["b7"], 4), PutMode::Overwrite, None).unwrap();
    }
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(&format!("{V7_DOWN} DROP TABLE bucket_configs; PRAGMA user_version = 6")).unwrap();
    }
    let m = SqliteMetaStore::open(&path, false).unwrap();
    let b = m.get_bucket("old").unwrap().unwrap();
    assert_eq!((b.data_redundancy_type.as_str(), b.encryption), ("LRS", None));
    let o = m.get_object("old", "k").unwrap().unwrap();
    assert_eq!((o.storage_class.as_str(), o.symlink_target, o.restore), ("Standard", None, RestoreState::default()));
    assert_eq!(o.encryption, Encryption::default());
}

#[test]
fn classes_symlinks_restore_and_encryption_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&BucketRecord { storage_class: "IA".into(), data_redundancy_type: "ZRS".into(), ..bucket("b") })
        .unwrap();
    assert_eq!(m.get_bucket("b").unwrap().unwrap().data_redundancy_type, "ZRS");
    let rule = Encryption { algorithm: "KMS".into(), key_id: "key-1".into(), data_encryption: "SM4".into() };
    m.set_bucket_encryption("b", Some(&rule)).unwrap();
    assert_eq!(m.get_bucket("b").unwrap().unwrap().encryption, Some(rule.clone()));
    m.set_bucket_encryption("b", None).unwrap();
    assert_eq!(m.get_bucket("b").unwrap().unwrap().encryption, None);
    assert!(matches!(m.set_bucket_encryption("nope", None), Err(StoreError::NoSuchBucket)));

    let archived = ObjectRecord {
        storage_class: "ColdArchive".into(),
        encryption: Encryption { algorithm: "AES256".into(), ..Default::default() },
        ..object("b", "cold", &["c1"], 8)
    };
    put(&m, &archived, PutMode::Overwrite, None).unwrap();
    let link = ObjectRecord {
        object_type: "Symlink".into(),
        symlink_target: Some("cold/目标".into()),
        segments: Vec::new(),
        size: 0,
        ..object("b", "link", &[], 0)
    };
    put(&m, &link, PutMode::Overwrite, None).unwrap();
    assert_eq!(m.get_object("b", "link").unwrap().unwrap(), link);
    assert_eq!(m.get_object("b", "cold").unwrap().unwrap(), archived);

    let restore = RestoreState { ready_ms: 10, expiry_ms: 20 };
    m.set_object_restore("b", "cold", restore).unwrap();
    assert_eq!(m.get_object("b", "cold").unwrap().unwrap().restore, restore);
    assert!(matches!(m.set_object_restore("b", "gone", restore), Err(StoreError::NoSuchObject)));
    let s = m.list_object_summaries("b", "", ListStart::Beginning, 10).unwrap();
    let cold = s.iter().find(|o| o.key == "cold").unwrap();
    assert_eq!((cold.storage_class, cold.restore), ("ColdArchive", restore));
    assert_eq!(s.iter().find(|o| o.key == "link").unwrap().object_type, "Symlink");
    // A new version of the object starts unrestored.
    put(&m, &archived, PutMode::Overwrite, None).unwrap();
    assert_eq!(m.get_object("b", "cold").unwrap().unwrap().restore, RestoreState::default());
}

#[test]
fn transition_objects_moves_unchanged_objects() {
    let dir = tempfile::tempdir().unwrap();
    let m = open(&dir);
    m.create_bucket(&bucket("tr")).unwrap();
    put(&m, &object("tr", "a", &["t1"], 1), PutMode::Overwrite, None).unwrap();
    let seen = m.get_object("tr", "a").unwrap().unwrap().last_modified_ms;
    assert_eq!(m.transition_objects("tr", &[("a".into(), seen + 1)], "IA").unwrap(), 0);
    assert_eq!(m.transition_objects("tr", &[("a".into(), seen), ("gone".into(), 0)], "IA").unwrap(), 1);
    let o = m.get_object("tr", "a").unwrap().unwrap();
    assert_eq!((o.storage_class.as_str(), o.last_modified_ms), ("IA", seen));
}

/// Group commit (writer.rs): writes from many threads share commits, yet each stays atomic on
/// its own: a write that fails half-way (a copy whose second segment is dead) leaves neither
/// its row nor the reference it added to its first segment, a `MustNotExist` race has one
/// winner, and every acknowledged write is there after the store is reopened.
#[test]
fn group_commit_keeps_each_write_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let m = Arc::new(SqliteMetaStore::open(&path, true).unwrap());
    m.create_bucket(&bucket("b")).unwrap();
    m.put_object(&object("b", "src", &["s0"], 4), PutMode::Overwrite, &[blob("s0")], None).unwrap();
    let (threads, rounds) = (16, 30);
    let before = m.write_stats();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                let mut won = Vec::new();
                for r in 0..rounds {
                    let f = format!("f-{t}-{r}");
                    m.put_object(&object("b", &format!("k-{t}-{r}"), &[&f], 1), PutMode::Overwrite, &[blob(&f)], None)
                        .unwrap();
                    let sh = format!("sh-{t}-{r}");
                    match m.put_object(
                        &object("b", &format!("shared-{r}"), &[&sh], 1),
                        PutMode::MustNotExist,
                        &[blob(&sh)],
                        None,
                    ) {
                        Ok(_) => won.push((r, sh)),
                        Err(StoreError::ObjectExists) => {}
                        Err(e) => panic!("shared-{r}: {e}"),
                    }
                    let bad = object("b", &format!("bad-{t}-{r}"), &["s0", &format!("dead-{t}-{r}")], 2);
                    assert!(matches!(m.put_object(&bad, PutMode::Overwrite, &[], None), Err(StoreError::Conflict(_))));
                }
                won
            })
        })
        .collect();
    let mut winners = BTreeMap::new();
    for w in workers {
        for (r, sh) in w.join().unwrap() {
            assert!(winners.insert(r, sh).is_none(), "two winners of shared-{r}");
        }
    }
    assert_eq!(winners.len(), rounds);
    let stats = m.write_stats();
    let writes = stats.writes - before.writes;
    let commits = stats.commits - before.commits;
    assert_eq!(writes, (threads * rounds * 3) as u64);
    assert!(commits < writes, "no write shared a commit: {commits} commits for {writes} writes");
    eprintln!("group commit: {writes} writes in {commits} commits");
    drop(m);

    let m = SqliteMetaStore::open(&path, true).unwrap();
    let mut expected: std::collections::BTreeSet<BlobId> = std::iter::once(blob("s0")).collect();
    for t in 0..threads {
        for r in 0..rounds {
            assert!(m.get_object("b", &format!("k-{t}-{r}")).unwrap().is_some());
            assert!(m.get_object("b", &format!("bad-{t}-{r}")).unwrap().is_none());
            expected.insert(blob(&format!("f-{t}-{r}")));
        }
    }
    for (r, sh) in &winners {
        let o = m.get_object("b", &format!("shared-{r}")).unwrap().unwrap();
        assert_eq!(o.segments[0].blob, blob(sh));
        expected.insert(blob(sh));
    }
    let live: std::collections::BTreeSet<BlobId> = m.referenced_blobs().unwrap().into_iter().collect();
    assert_eq!(live, expected);
    // The failed copies' references to s0 were undone with them: one delete frees it.
    assert_eq!(m.delete_object("b", "src").unwrap(), vec![blob("s0")]);
}

// ---- listing pages (`PageBuilder`) against a slow model, read both ways: in one snapshot
// (`SqliteMetaStore::list_page`), batch by batch (`list_page_in_batches`, what the
// PostgreSQL store runs without a delimiter) and by skip scan (`PageBuilder::skipping`, what it
// runs with one).

fn listing_store(dir: &tempfile::TempDir, keys: &[String]) -> SqliteMetaStore {
    let m = open(dir);
    m.create_bucket(&bucket("b")).unwrap();
    for k in keys {
        put(&m, &object("b", k, &[], k.len() as u64), PutMode::Overwrite, None).unwrap();
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

/// A page from [`PageBuilder::skipping`] over batches made as the PostgreSQL store's skip
/// scan makes them: the first row from the batch's start, then from each row the next one after
/// it or, when the row is under a common prefix, the next one past that prefix (each found
/// with a one-row read of the real store).
async fn skip_scan_page(m: &SqliteMetaStore, prefix: &str, delimiter: &str, start: &str, max_keys: usize) -> ListPage {
    let mut page = PageBuilder::skipping(prefix, delimiter, start, max_keys);
    while let Some((from, rows)) = page.next_batch() {
        let mut batch = Summaries::default();
        let mut at: Option<(String, bool)> = None;
        while batch.len() < rows {
            let seek = match &at {
                None => from,
                Some((k, false)) => ListStart::After(k),
                Some((k, true)) => ListStart::PastPrefix(k),
            };
            let one = MetaStore::list_object_summaries(m, "b", prefix, seek, 1).await.unwrap();
            let Some(o) = one.iter().next() else { break };
            at = Some(match common_prefix(o.key, prefix, delimiter) {
                Some(cp) => (cp, true),
                None => (o.key.to_string(), false),
            });
            batch.push(o);
        }
        page.take(batch);
    }
    page.finish()
}

/// Random listings: keys over `alphabet` (plus a run of plain keys longer than several doubled
/// batches, and many folders) and `rounds` queries of prefixes, delimiters, markers and page
/// sizes, so each way a batch can end is met.
struct ListingCases {
    keys: Vec<String>,
    queries: Vec<(&'static str, &'static str, String, usize)>,
}

impl ListingCases {
    fn new(alphabet: &[char], prefixes: &[&'static str], delimiters: &[&'static str], rounds: usize) -> ListingCases {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let word = |next: &mut dyn FnMut(usize) -> usize, len: usize| -> String {
            (0..len).map(|_| alphabet[next(alphabet.len())]).collect()
        };
        let mut keys: Vec<String> = (0..300)
            .map(|_| {
                let len = 1 + next(6);
                word(&mut next, len)
            })
            .collect();
        keys.extend((0..120).map(|i| format!("run{i:03}")));
        keys.extend((0..60).map(|i| format!("dir{i:02}/f{}", i % 3)));
        keys.sort();
        keys.dedup();
        let queries = (0..rounds)
            .map(|_| {
                let prefix = prefixes[next(prefixes.len())];
                let delimiter = delimiters[next(delimiters.len())];
                let len = 1 + next(5);
                let start = if next(3) == 0 { String::new() } else { word(&mut next, len) };
                (prefix, delimiter, start, [1, 2, 3, 7, 8, 9, 17, 100, 1000][next(9)])
            })
            .collect();
        ListingCases { keys, queries }
    }
}

/// Through the trait the server calls: a queued outcome is seen at once by `get_callback` and
/// `list_callbacks` (on the blocking pool, behind the writer's barrier), and after `flush` by
/// another store on the same file, which reads committed rows only. Fails if the trait's reads
/// skip the barrier, or `flush` commits nothing (the outcome is then still held for ~2 ms).
#[tokio::test]
async fn queued_outcomes_through_the_trait_and_flush() {
    let dir = tempfile::tempdir().unwrap();
    let m: Arc<dyn MetaStore> = Arc::new(open(&dir));
    let other = open(&dir);
    for id in ["a", "b"] {
        m.record_callback(&callback(id, "bk", 1000, "pending")).await.unwrap();
    }
    let a = CallbackLogEntry { finished_ms: 2000, ..callback("a", "bk", 1000, "200") };
    m.finish_callback_queued(&a).await.unwrap();
    assert_eq!(m.get_callback("a").await.unwrap().unwrap(), a);
    let b = CallbackLogEntry { finished_ms: 2001, ..callback("b", "bk", 1000, "203") };
    m.finish_callback_queued(&b).await.unwrap();
    let failed = CallbackFilter { outcome: Some("203".into()), ..Default::default() };
    let ids: Vec<_> = m.list_callbacks(&failed).await.unwrap().into_iter().map(|e| e.request_id).collect();
    assert_eq!(ids, ["b"]);
    let c = CallbackLogEntry { finished_ms: 2002, ..callback("a", "bk", 1000, "203") };
    m.finish_callback_queued(&c).await.unwrap();
    m.flush().await.unwrap();
    assert_eq!(other.get_callback("a").unwrap().unwrap(), c, "flush left the outcome uncommitted");
}

/// Pages go in batches of every size (the first, doubled ones, and those after a prefix).
#[tokio::test]
async fn pages_match_the_listing_model() {
    let cases =
        ListingCases::new(&['a', 'b', '/', 'c'], &["", "a", "a/", "b/a", "r", "dir"], &["", "/", "a", "/b"], 600);
    let dir = tempfile::tempdir().unwrap();
    let m = listing_store(&dir, &cases.keys);
    for (round, (prefix, delimiter, start, max_keys)) in cases.queries.iter().enumerate() {
        let (want, want_next) = model(&cases.keys, prefix, delimiter, start, *max_keys);
        let what = format!("round {round}: prefix {prefix:?} delimiter {delimiter:?} start {start:?} max {max_keys}");
        let snapshot = m.list_page("b", prefix, delimiter, start, *max_keys).unwrap();
        let batches = list_page_in_batches(&m, "b", prefix, delimiter, start, *max_keys).await.unwrap();
        let skipped = skip_scan_page(&m, prefix, delimiter, start, *max_keys).await;
        for page in [snapshot, batches, skipped] {
            assert_eq!(shown(&page), want, "{what}");
            assert_eq!(page.next, want_next, "{what}");
        }
    }
}

/// The same against real PostgreSQL (its `SKIP_SCAN_SQL` under a delimiter), with keys of
/// two- and four-byte characters (the skip scan's bound is prefix || 0xFF) and LIKE's special
/// characters, and every bucket paged through by `next`. Runs when `OSSD_TEST_CLUSTER`
/// names a server (scripts/test's cluster pass, through with_cluster_services.py).
#[tokio::test]
async fn pages_match_the_listing_model_on_postgres() {
    let Some(url) = std::env::var("OSSD_TEST_CLUSTER").ok().and_then(|v| v.split('|').next().map(str::to_owned)) else {
        eprintln!("skipped: OSSD_TEST_CLUSTER is not set (scripts/test's cluster pass sets it)");
        return;
    };
    // A database of its own on the throw-away server, as each test server gets.
    let db = format!("listing_model_{}", std::process::id());
    let (admin, conn) = tokio_postgres::connect(&format!("{url}/postgres"), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).await.unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    let m = PostgresMetaStore::connect(&format!("{url}/{db}")).await.unwrap();
    let cases = ListingCases::new(
        &['a', 'b', '/', 'é', '\u{10FFFF}', '%', '_', 'c'],
        &["", "a", "a/", "é", "\u{10FFFF}", "%", "_", "dir"],
        &["", "/", "a", "/b", "é", "\u{10FFFF}", "é/", "_", "%"],
        1000,
    );
    let b = "b";
    m.create_bucket(&bucket(b)).await.unwrap();
    for k in &cases.keys {
        m.put_object(&object(b, k, &[], k.len() as u64), PutMode::Overwrite, &[], None).await.unwrap();
    }
    for (round, (prefix, delimiter, start, max_keys)) in cases.queries.iter().enumerate() {
        let (want, want_next) = model(&cases.keys, prefix, delimiter, start, *max_keys);
        let what = format!("round {round}: prefix {prefix:?} delimiter {delimiter:?} start {start:?} max {max_keys}");
        let page = m.list_page(b, prefix, delimiter, start, *max_keys).await.unwrap();
        assert_eq!(shown(&page), want, "{what}");
        assert_eq!(page.next, want_next, "{what}");
    }
    for delimiter in ["/", "é", "\u{10FFFF}", "_"] {
        for max_keys in [1, 2, 5, 1000] {
            let (mut seen, mut start) = (Vec::new(), String::new());
            loop {
                let page = m.list_page(b, "", delimiter, &start, max_keys).await.unwrap();
                seen.extend(shown(&page));
                match page.next {
                    Some(n) => start = n,
                    None => break,
                }
            }
            let (want, _) = model(&cases.keys, "", delimiter, "", usize::MAX - 1);
            assert_eq!(seen, want, "delimiter {delimiter:?} max-keys {max_keys}");
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
    let m = listing_store(&dir, &keys);
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
