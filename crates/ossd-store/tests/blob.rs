use ossd_store::{BlobId, BlobStore, LocalBlobStore};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8).collect()
}

async fn read_all(store: &LocalBlobStore, id: &BlobId, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut r = store.read(id, offset, len).await?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).await?;
    Ok(out)
}

fn blob_path(store: &LocalBlobStore, id: &BlobId) -> std::path::PathBuf {
    store.root.join(&id.0[..2]).join(&id.0)
}

#[tokio::test]
async fn write_finish_read_ranges() {
    let dir = tempfile::tempdir().unwrap();
    for fsync in [false, true] {
        let store = LocalBlobStore::open(dir.path().join(format!("blobs-{fsync}")), fsync).unwrap();
        // Larger than two write chunks, written in odd-sized pieces.
        let data = pattern(700_001, 7);
        let mut w = store.create(&BlobId::random()).await.unwrap();
        let id = w.id().clone();
        assert_eq!(id.0.len(), 32);
        assert!(id.0.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        for piece in data.chunks(9_999) {
            w.write_all(piece).await.unwrap();
        }
        assert_eq!(w.finish().await.unwrap(), data.len() as u64);
        assert!(blob_path(&store, &id).is_file());

        assert_eq!(read_all(&store, &id, 0, data.len() as u64).await.unwrap(), data);
        assert_eq!(read_all(&store, &id, 12_345, 300_000).await.unwrap(), &data[12_345..312_345]);
        assert_eq!(read_all(&store, &id, 700_000, 1).await.unwrap(), &data[700_000..]);
        assert!(read_all(&store, &id, 5, 0).await.unwrap().is_empty());
        assert!(read_all(&store, &id, data.len() as u64, 0).await.unwrap().is_empty());
        // Past the end is an error, not a short body.
        let e = read_all(&store, &id, 700_000, 2).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        // Missing blob.
        let missing = BlobId("0123456789abcdef0123456789abcdef".into());
        assert_eq!(store.read(&missing, 0, 1).await.err().unwrap().kind(), io::ErrorKind::NotFound);
    }
}

/// At `fsync` the writer starts the writeback of every 4 MiB it has written (a byte range at a
/// time); a blob over several such ranges and a partial tail reads back whole.
#[tokio::test]
async fn fsync_blob_over_several_writeback_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path().join("blobs"), true).unwrap();
    let data = pattern(9 * 1024 * 1024 + 12_345, 3);
    let mut w = store.create(&BlobId::random()).await.unwrap();
    let id = w.id().clone();
    for piece in data.chunks(65_537) {
        w.write_all(piece).await.unwrap();
    }
    assert_eq!(w.finish().await.unwrap(), data.len() as u64);
    assert_eq!(std::fs::metadata(blob_path(&store, &id)).unwrap().len(), data.len() as u64);
    assert!(read_all(&store, &id, 0, data.len() as u64).await.unwrap() == data);
    let tail = 8 * 1024 * 1024 - 5;
    assert!(read_all(&store, &id, tail as u64, 1024 * 1024).await.unwrap() == data[tail..tail + 1024 * 1024]);
}

#[tokio::test]
async fn empty_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path().to_path_buf(), true).unwrap();
    let w = store.create(&BlobId::random()).await.unwrap();
    let id = w.id().clone();
    assert_eq!(w.finish().await.unwrap(), 0);
    assert!(read_all(&store, &id, 0, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn drop_without_finish_removes() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path().to_path_buf(), false).unwrap();
    let mut w = store.create(&BlobId::random()).await.unwrap();
    let id = w.id().clone();
    w.write_all(&pattern(1_000_000, 1)).await.unwrap();
    w.flush().await.unwrap();
    assert!(blob_path(&store, &id).is_file());
    drop(w);
    assert!(!blob_path(&store, &id).exists());
    assert!(store.list(Duration::ZERO).await.unwrap().is_empty());

    // Dropped with a chunk possibly in flight (no flush).
    let mut w = store.create(&BlobId::random()).await.unwrap();
    let id = w.id().clone();
    w.write_all(&pattern(2_000_000, 2)).await.unwrap();
    drop(w);
    assert!(!blob_path(&store, &id).exists());
}

#[tokio::test]
async fn delete_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path().join("blobs"), false).unwrap();
    assert!(store.list(Duration::ZERO).await.unwrap().is_empty());
    let mut ids = Vec::new();
    for i in 0..20u8 {
        let mut w = store.create(&BlobId::random()).await.unwrap();
        w.write_all(&[i; 10]).await.unwrap();
        ids.push(w.id().clone());
        w.finish().await.unwrap();
    }
    // Stray entries are ignored by list.
    std::fs::write(store.root.join("README"), b"x").unwrap();
    std::fs::create_dir(store.root.join("zz")).unwrap();
    std::fs::write(store.root.join("zz").join("0123456789abcdef0123456789abcdef"), b"x").unwrap();
    std::fs::write(blob_path(&store, &ids[0]).with_extension("tmp"), b"x").unwrap();

    let mut expect = ids.clone();
    expect.sort();
    assert_eq!(store.list(Duration::ZERO).await.unwrap(), expect);

    store.delete(&ids[3]).await.unwrap();
    store.delete(&ids[3]).await.unwrap(); // missing: fine
    assert!(!blob_path(&store, &ids[3]).exists());
    let listed = store.list(Duration::ZERO).await.unwrap();
    assert_eq!(listed.len(), 19);
    assert!(!listed.contains(&ids[3]));
}

#[tokio::test]
async fn invalid_ids_never_touch_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path().join("blobs"), false).unwrap();
    std::fs::write(dir.path().join("secret"), b"secret").unwrap();
    for bad in [
        "../secret",
        "../../etc/passwd",
        "",
        "ab",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef/123",
        "zz3456789abcdef0123456789abcdef0",
    ] {
        let id = BlobId(bad.into());
        assert_eq!(store.read(&id, 0, 1).await.err().unwrap().kind(), io::ErrorKind::InvalidInput, "{bad}");
        assert_eq!(store.delete(&id).await.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
    assert!(dir.path().join("secret").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(LocalBlobStore::open(dir.path().to_path_buf(), true).unwrap());
    let mut tasks = Vec::new();
    for t in 0..16u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let data = pattern(100_000 + t as usize * 1000, t);
            let mut w = store.create(&BlobId::random()).await.unwrap();
            let id = w.id().clone();
            for piece in data.chunks(4096) {
                w.write_all(piece).await.unwrap();
            }
            assert_eq!(w.finish().await.unwrap(), data.len() as u64);
            (id, data)
        }));
    }
    for t in tasks {
        let (id, data) = t.await.unwrap();
        assert_eq!(read_all(&store, &id, 0, data.len() as u64).await.unwrap(), data);
    }
    assert_eq!(store.list(Duration::ZERO).await.unwrap().len(), 16);
}

#[test]
fn open_creates_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a").join("b");
    LocalBlobStore::open(root.clone(), false).unwrap();
    assert!(root.is_dir());
}

#[tokio::test]
async fn list_skips_recently_written_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path().join("blobs"), false).unwrap();
    let mut w = store.create(&BlobId::random()).await.unwrap();
    w.write_all(b"fresh").await.unwrap();
    let id = w.id().clone();
    w.finish().await.unwrap();
    assert_eq!(store.list(Duration::ZERO).await.unwrap(), vec![id]);
    assert!(store.list(Duration::from_secs(3600)).await.unwrap().is_empty(), "a fresh blob is not idle");
}
