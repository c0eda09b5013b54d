//! `BlobLifecycle`: reader guards hold back reclaim; the in-flight registry holds back the sweep.

use ossd_store::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

async fn finished_blob(lc: &BlobLifecycle, bytes: &[u8]) -> (BlobId, InflightLease) {
    let NewBlob { mut writer, lease } = lc.create().await.unwrap();
    writer.write_all(bytes).await.unwrap();
    let id = writer.id().clone();
    writer.finish().await.unwrap();
    (id, lease)
}

fn setup() -> (tempfile::TempDir, BlobLifecycle, SqliteMetaStore) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = LocalBlobStore::open(dir.path().join("blobs"), false).unwrap();
    let meta = SqliteMetaStore::open(&dir.path().join("meta.db"), false).unwrap();
    (dir, BlobLifecycle::new(Arc::new(blobs)), meta)
}

#[tokio::test]
async fn reclaim_waits_for_earlier_readers_only() {
    let (_dir, lc, _meta) = setup();
    let (a, _la) = finished_blob(&lc, b"aaaa").await;
    let (b, _lb) = finished_blob(&lc, b"bbbb").await;
    let early = lc.read_guard();
    lc.reclaim(vec![a.clone()]).await;
    assert_eq!(lc.store().len(&a).await.unwrap(), Some(4), "reclaimed under an earlier reader");
    // A reader that starts after the reclaim does not hold it back further, and a blob freed
    // after `late` started waits for `late` too.
    let late = lc.read_guard();
    drop(early);
    for _ in 0..100 {
        if lc.store().len(&a).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lc.store().len(&a).await.unwrap(), None, "not reclaimed once the earlier reader ended");
    lc.reclaim(vec![b.clone()]).await;
    assert_eq!(lc.store().len(&b).await.unwrap(), Some(4));
    drop(late);
    for _ in 0..100 {
        if lc.store().len(&b).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("blob b was never reclaimed");
}

#[tokio::test]
async fn reclaim_without_readers_is_immediate() {
    let (_dir, lc, _meta) = setup();
    let (a, _l) = finished_blob(&lc, b"x").await;
    lc.reclaim(vec![a.clone()]).await;
    assert_eq!(lc.store().len(&a).await.unwrap(), None);
}

#[tokio::test]
async fn sweep_spares_blobs_in_flight_and_referenced() {
    let (_dir, lc, meta) = setup();
    meta.create_bucket(&BucketRecord {
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
    let (inflight, lease) = finished_blob(&lc, b"in flight").await;
    let (orphan, orphan_lease) = finished_blob(&lc, b"orphan").await;
    drop(orphan_lease);
    let (published, published_lease) = finished_blob(&lc, b"published").await;
    let record = ObjectRecord {
        bucket: "b".into(),
        key: "k".into(),
        segments: vec![Segment { blob: published.clone(), len: 9 }],
        size: 9,
        etag: "E".into(),
        crc64: 0,
        content_md5: String::new(),
        content_type: "x/y".into(),
        last_modified_ms: 0,
        object_type: "Normal".into(),
        acl: "default".into(),
        headers: Default::default(),
        tags: Vec::new(),
        storage_class: "Standard".into(),
        symlink_target: None,
        restore: Default::default(),
        encryption: Default::default(),
    };
    meta.put_object(&record, PutMode::Overwrite, std::slice::from_ref(&published), None).unwrap();
    drop(published_lease);
    assert_eq!(lc.sweep(&meta, Duration::ZERO, SweepScope::All).await.unwrap(), 1);
    assert_eq!(lc.store().len(&orphan).await.unwrap(), None);
    assert!(lc.store().len(&inflight).await.unwrap().is_some(), "swept a blob in flight");
    assert!(lc.store().len(&published).await.unwrap().is_some());
    drop(lease);
    assert_eq!(lc.sweep(&meta, Duration::ZERO, SweepScope::All).await.unwrap(), 1);
    assert_eq!(lc.store().len(&inflight).await.unwrap(), None);
    let stats = lc.stats();
    assert_eq!((stats.sweeps, stats.orphans_found, stats.reclaimed), (2, 2, 2), "monitoring totals: {stats:?}");
}
