//! Rough throughput numbers; `cargo test -p ossd-store --release --test perf -- --ignored --nocapture`.

use ossd_store::*;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOTAL: usize = 256 << 20;
const PIECE: usize = 16 << 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn blob_throughput() {
    // OSSD_PERF_DIR=/dev/shm isolates the CPU cost from the disk.
    let dir = match std::env::var_os("OSSD_PERF_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let piece = vec![0x5a_u8; PIECE];
    for fsync in [false, true] {
        let store = LocalBlobStore::open(dir.path().join(format!("b{fsync}")), fsync).unwrap();
        let t = Instant::now();
        let mut w = store.create(&ossd_store::BlobId::random()).await.unwrap();
        let id = w.id().clone();
        for _ in 0..TOTAL / PIECE {
            w.write_all(&piece).await.unwrap();
        }
        w.finish().await.unwrap();
        let el = t.elapsed();
        eprintln!("LocalBlobWriter fsync={fsync}: {} MiB/s", (TOTAL >> 20) as f64 / el.as_secs_f64());

        let t = Instant::now();
        let mut f = tokio::fs::File::create(dir.path().join(format!("plain{fsync}"))).await.unwrap();
        for _ in 0..TOTAL / PIECE {
            f.write_all(&piece).await.unwrap();
        }
        f.flush().await.unwrap();
        if fsync {
            f.sync_data().await.unwrap();
        }
        let el = t.elapsed();
        eprintln!("tokio::fs::File fsync={fsync}: {} MiB/s", (TOTAL >> 20) as f64 / el.as_secs_f64());

        let t = Instant::now();
        let mut r = store.read(&id, 0, TOTAL as u64).await.unwrap();
        let mut buf = vec![0u8; 8192];
        let mut n = 0;
        loop {
            let k = r.read(&mut buf).await.unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
        assert_eq!(n, TOTAL);
        eprintln!("read (8 KiB reads): {} MiB/s", (TOTAL >> 20) as f64 / t.elapsed().as_secs_f64());
    }

    // Small blobs: create + 4 KiB + finish.
    for fsync in [false, true] {
        let store = LocalBlobStore::open(dir.path().join(format!("s{fsync}")), fsync).unwrap();
        let n = if fsync { 200 } else { 2000 };
        let t = Instant::now();
        for _ in 0..n {
            let mut w = store.create(&ossd_store::BlobId::random()).await.unwrap();
            w.write_all(&piece[..4096]).await.unwrap();
            w.finish().await.unwrap();
        }
        eprintln!("small blobs fsync={fsync}: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
    }
}

#[test]
#[ignore]
fn meta_put_rate() {
    let dir = tempfile::tempdir().unwrap();
    for durable in [false, true] {
        let m = SqliteMetaStore::open(&dir.path().join(format!("m{durable}.db")), durable).unwrap();
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
        let n = if durable { 2000 } else { 20000 };
        let t = Instant::now();
        for i in 0..n {
            let o = ObjectRecord {
                bucket: "b".into(),
                key: format!("k/{i:08}"),
                segments: vec![Segment { blob: BlobId(format!("{i:032x}")), len: 1 }],
                size: 1,
                etag: "E".into(),
                crc64: 0,
                content_md5: String::new(),
                content_type: "text/plain".into(),
                last_modified_ms: 0,
                object_type: "Normal".into(),
                acl: "default".into(),
                headers: Default::default(),
                tags: vec![],
                storage_class: "Standard".into(),
                symlink_target: None,
                restore: Default::default(),
                encryption: Default::default(),
            };
            m.put_object(&o, PutMode::Overwrite, &[o.segments[0].blob.clone()], None).unwrap();
        }
        eprintln!("put_object durable={durable}: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        for i in 0..n {
            m.get_object("b", &format!("k/{i:08}")).unwrap().unwrap();
        }
        eprintln!("get_object: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
    }
}
