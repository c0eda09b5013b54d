//! The disk: sequential write and read bandwidth of the data directory's device, 1 MiB blocks,
//! one file per operation. Writes are fsynced (durable) or left to the page cache (relaxed);
//! reads are cold: the file's pages are dropped with posix_fadvise(DONTNEED) first.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

const BLOCK: usize = 1024 * 1024;

fn drop_cache(file: &File) {
    // SAFETY: a valid open descriptor; fadvise only advises.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
}

/// Writes `size` bytes of `payload` (repeated) to `path`; fsyncs when asked.
pub fn write_file(path: &Path, payload: &[u8], size: u64, fsync: bool) -> io::Result<()> {
    let mut f = File::create(path)?;
    let mut left = size as usize;
    while left > 0 {
        let n = left.min(BLOCK).min(payload.len());
        f.write_all(&payload[..n])?;
        left -= n;
    }
    if fsync {
        f.sync_all()?;
    }
    Ok(())
}

/// Reads `path` from the device (its cached pages dropped first); returns bytes read.
pub fn read_cold(path: &Path) -> io::Result<u64> {
    let f = File::open(path)?;
    f.sync_all()?;
    drop_cache(&f);
    let mut f = f;
    let mut buf = vec![0u8; BLOCK];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    Ok(total)
}

/// Repeats `op` until `duration` has passed or `max_ops` ran (at least once); returns the
/// latency of each run.
pub fn repeat(
    duration: Duration,
    max_ops: u64,
    mut op: impl FnMut(u64) -> io::Result<()>,
) -> io::Result<Vec<Duration>> {
    let start = Instant::now();
    let mut lat = Vec::new();
    let mut n = 0;
    while n < max_ops.max(1) && (n == 0 || start.elapsed() < duration) {
        let t = Instant::now();
        op(n)?;
        lat.push(t.elapsed());
        n += 1;
    }
    Ok(lat)
}
