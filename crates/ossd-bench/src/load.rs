//! The closed-loop load generator: `concurrency` workers, each with its own connection, run an
//! operation back to back until the duration has passed or the operation budget is spent.
//! Every worker starts at least one operation; a hard timeout aborts whatever is still running.

use crate::client::{Conn, Endpoint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub type OpFuture = Pin<Box<dyn Future<Output = (Conn, Result<u64, String>)> + Send>>;
/// An operation: (worker index, operation number, connection) -> (connection, bytes moved).
pub type OpFn = Arc<dyn Fn(usize, u64, Conn) -> OpFuture + Send + Sync>;

#[derive(Debug, Default)]
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Latency of each successful operation, microseconds, sorted.
    pub lat_us: Vec<u64>,
    pub timed_out: bool,
}

impl Outcome {
    /// Operations of `size` bytes run back to back on one thread (the disk and MD5 rows): the
    /// elapsed time is the sum of their latencies.
    pub fn sequential(latencies: &[Duration], size: u64) -> Outcome {
        let mut lat_us: Vec<u64> = latencies.iter().map(|d| d.as_micros() as u64).collect();
        let elapsed = Duration::from_micros(lat_us.iter().sum());
        lat_us.sort_unstable();
        Outcome { ok: lat_us.len() as u64, bytes: size * lat_us.len() as u64, elapsed, lat_us, ..Default::default() }
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        percentile_ms(&self.lat_us, p)
    }
}

/// The `p` quantile (0..=1) of sorted microsecond latencies, in milliseconds (nearest rank).
pub fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

pub struct LoadSpec {
    pub endpoint: Arc<Endpoint>,
    pub concurrency: usize,
    pub duration: Duration,
    pub max_ops: u64,
    pub hard_timeout: Duration,
}

struct WorkerOut {
    lat_us: Vec<u64>,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Runs the load; `live` counts finished operations (for the progress bar).
pub async fn run(spec: &LoadSpec, live: Arc<AtomicU64>, op: OpFn) -> Outcome {
    let start = Instant::now();
    let deadline = start + spec.duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for w in 0..spec.concurrency {
        let (op, issued, live, ep, max_ops) =
            (op.clone(), issued.clone(), live.clone(), spec.endpoint.clone(), spec.max_ops);
        set.spawn(async move {
            let mut conn = Conn::new(ep);
            let mut out = WorkerOut { lat_us: Vec::new(), bytes: 0, errors: 0, first_error: None };
            let mut first = true;
            loop {
                if !first && Instant::now() >= deadline {
                    break;
                }
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= max_ops && !first {
                    break;
                }
                first = false;
                let t = Instant::now();
                let (c, r) = op(w, n, conn).await;
                conn = c;
                live.fetch_add(1, Ordering::Relaxed);
                match r {
                    Ok(b) => {
                        out.lat_us.push(t.elapsed().as_micros() as u64);
                        out.bytes += b;
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e);
                        // A target that fails everything should not be hammered for the whole cell.
                        if out.errors >= 20 && out.lat_us.is_empty() {
                            break;
                        }
                    }
                }
            }
            out
        });
    }
    let mut outcome = Outcome::default();
    let hard = tokio::time::sleep(spec.hard_timeout);
    tokio::pin!(hard);
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                Some(Ok(w)) => {
                    outcome.lat_us.extend(w.lat_us);
                    outcome.bytes += w.bytes;
                    outcome.errors += w.errors;
                    if outcome.first_error.is_none() {
                        outcome.first_error = w.first_error;
                    }
                }
                Some(Err(e)) => {
                    outcome.errors += 1;
                    outcome.first_error.get_or_insert(format!("worker: {e}"));
                }
                None => break,
            },
            _ = &mut hard => {
                set.abort_all();
                outcome.timed_out = true;
                while set.join_next().await.is_some() {}
                break;
            }
        }
    }
    outcome.elapsed = start.elapsed();
    outcome.ok = outcome.lat_us.len() as u64;
    outcome.lat_us.sort_unstable();
    outcome
}
