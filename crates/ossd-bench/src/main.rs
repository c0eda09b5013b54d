//! `ossd-bench`: a standing benchmark of ossd against the floor (a minimal file server built in),
//! the disk and peer object stores, in one run, with one client and the same payloads.
//!
//! `ossd-bench run [--quick]` measures and writes `report.md`, `report.json` and `plot.svg`;
//! `ossd-bench floor` is the floor server the run starts as a child process.

mod client;
mod disk;
mod floor;
mod load;
mod procstat;
mod report;
mod run;
mod sigv4;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "ossd-bench", version, about = "Benchmark ossd against the floor, the disk and peer object stores")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benchmark.
    Run(Box<RunArgs>),
    /// Serve the floor (a minimal PUT/GET file server); used by `run`.
    Floor {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long)]
        dir: PathBuf,
        /// `fsync` (each object fsynced before the answer) or `relaxed`.
        #[arg(long, default_value = "fsync")]
        durability: String,
        /// Also compute MD5 and CRC-64 of every body (the `floor-md5` target).
        #[arg(long)]
        hash: bool,
    },
}

/// Options of `ossd-bench run`. Lists are comma-separated.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Short run: 2 s cells, sizes 4k,1m,256m (256m at c=1 only), c=1,16, 10,000 LIST keys,
    /// 100-part multipart. Explicit flags still win.
    #[arg(long)]
    pub quick: bool,
    /// The ossd binary [default: `ossd` next to this binary].
    #[arg(long, env = "OSSD_BIN")]
    pub ossd_bin: Option<PathBuf>,
    /// Where report.md, report.json, plot.svg and server logs go.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// Where servers keep their data (a fresh directory under it per target, removed after)
    /// [default: the system temp directory].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Time per measurement cell, e.g. `5s`, `500ms` [default: 4s; 2s with --quick].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Operation budget per cell.
    #[arg(long, default_value_t = 200_000)]
    pub max_ops: u64,
    /// A cell still running this long after its duration is aborted and marked `timeout`.
    #[arg(long, value_parser = parse_duration, default_value = "180s")]
    pub cell_timeout: Duration,
    /// Object sizes (`4k`, `1m`, `256m`, ...) [default: 4k,1m,256m].
    #[arg(long, value_delimiter = ',', value_parser = parse_size)]
    pub sizes: Vec<u64>,
    /// Concurrencies for objects under 64 MiB [default: 1,16,64; 1,16 with --quick].
    #[arg(long, value_delimiter = ',')]
    pub concurrency: Vec<usize>,
    /// Concurrencies for objects of 64 MiB and more on ossd and the floor (peers get 1)
    /// [default: 1,64; 1 with --quick].
    #[arg(long, value_delimiter = ',')]
    pub large_concurrency: Vec<usize>,
    /// Targets: ossd-fsync, ossd-relaxed, ossd-pg (one node on PostgreSQL + an S3 store),
    /// ossd-pg-2 (two such nodes, connections spread over both), floor-fsync, floor-relaxed,
    /// floor-md5 (floor-fsync that also computes MD5 and CRC-64; PUT of 1 MiB and more),
    /// disk, peers [default: all; the ossd-pg targets need --cluster].
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<String>,
    /// `postgres://USER@HOST:PORT|http://S3HOST:PORT` for the ossd-pg targets (a fresh database
    /// and S3 prefix per target); `bench/run.sh` starts both engines and sets it.
    #[arg(long, env = "OSSD_TEST_CLUSTER")]
    pub cluster: Option<String>,
    /// Workloads: put, get, callback, list, multipart [default: all].
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Also drive ossd anonymously (public-read-write bucket) for PUT/GET.
    #[arg(long)]
    pub ossd_anonymous: bool,
    /// Peers started by `bench/peers.sh start` (its peers.tsv).
    #[arg(long)]
    pub peers_file: Option<PathBuf>,
    /// Keys in the LIST bucket [default: 1000000; 10000 with --quick].
    #[arg(long)]
    pub list_keys: Option<u64>,
    /// Parts of the multipart upload [default: 1000; 100 with --quick].
    #[arg(long)]
    pub mpu_parts: Option<usize>,
    /// Multipart uploads completed (each timed) [default: 3; 1 with --quick].
    #[arg(long)]
    pub mpu_rounds: Option<usize>,
}

impl RunArgs {
    /// Fills defaults (which depend on --quick).
    pub fn resolve(&mut self) {
        let q = self.quick;
        self.duration.get_or_insert(if q { Duration::from_secs(2) } else { Duration::from_secs(4) });
        if self.sizes.is_empty() {
            self.sizes = vec![4 << 10, 1 << 20, 256 << 20];
        }
        if self.concurrency.is_empty() {
            self.concurrency = if q { vec![1, 16] } else { vec![1, 16, 64] };
        }
        if self.large_concurrency.is_empty() {
            self.large_concurrency = if q { vec![1] } else { vec![1, 64] };
        }
        if self.targets.is_empty() {
            self.targets = [
                "ossd-fsync",
                "ossd-relaxed",
                "ossd-pg",
                "ossd-pg-2",
                "floor-fsync",
                "floor-relaxed",
                "floor-md5",
                "disk",
                "peers",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
        }
        if self.workloads.is_empty() {
            self.workloads = ["put", "get", "callback", "list", "multipart"].iter().map(|s| s.to_string()).collect();
        }
        self.list_keys.get_or_insert(if q { 10_000 } else { 1_000_000 });
        self.mpu_parts.get_or_insert(if q { 100 } else { 1000 });
        self.mpu_rounds.get_or_insert(if q { 1 } else { 3 });
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let v: f64 = num.parse().map_err(|_| format!("bad duration `{s}`"))?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1000.0,
        "m" | "min" => v * 60.0,
        _ => return Err(format!("bad duration unit in `{s}` (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim().to_ascii_lowercase();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let v: u64 = num.parse().map_err(|_| format!("bad size `{s}`"))?;
    let mul = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("bad size unit in `{s}` (use k, m or g)")),
    };
    Ok(v * mul)
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(mut args) => {
            args.resolve();
            run::main(*args)
        }
        Command::Floor { listen, dir, durability, hash } => match durability.as_str() {
            "fsync" => floor::serve(listen, dir, true, hash),
            "relaxed" => floor::serve(listen, dir, false, hash),
            other => Err(format!("durability must be fsync or relaxed, not {other}")),
        },
    };
    if let Err(e) = result {
        eprintln!("ossd-bench: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(load::percentile_ms(&v, 0.5), 500.0);
        assert_eq!(load::percentile_ms(&v, 0.99), 990.0);
        assert_eq!(load::percentile_ms(&v, 0.999), 999.0);
        assert_eq!(load::percentile_ms(&[], 0.5), 0.0);
    }
}
