//! One benchmark run: starts each target in turn (ossd, the floor, peers), measures its cells,
//! stops it, then measures the disk and writes the reports.

use crate::RunArgs;
use crate::client::{Auth, Conn, Endpoint, Req, xml_value};
use crate::load::{self, LoadSpec, OpFn, Outcome};
use crate::procstat::{self, Watch};
use crate::report::{self, Cell, Machine, Report, TargetInfo};
use base64::Engine;
use bytes::Bytes;
use http::Method;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BUCKET: &str = "bench";
const LIST_BUCKET: &str = "bench-list";
const FOLDER_BUCKET: &str = "bench-folders";
/// Sizes from here up are "large": fewer keys, `--large-concurrency`, peers at c=1 only.
const LARGE: u64 = 64 << 20;
const PART_SIZE: usize = 100 * 1024;
const OSSD_AK: &str = "ossdbenchak";
const OSSD_SK: &str = "ossdbenchsecret0123456789";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ossd,
    /// ossd on PostgreSQL + an S3 store: large objects at c=1 only, as for peers (SeaweedFS's S3
    /// gateway holds multipart uploads in memory: 64 concurrent 256 MiB uploads took it to
    /// 18 GB of RSS and the kernel's OOM killer on this 24 GiB machine).
    Cluster,
    Floor,
    /// The floor that also hashes (MD5 + CRC-64): PUT of 1 MiB and more only, the cells where
    /// hashing matters.
    FloorMd5,
    Peer,
}

/// A server process the run started (or a peer it was told about).
struct Server {
    child: Option<Child>,
    pid: Option<u32>,
    addr: SocketAddr,
    dir: Option<PathBuf>,
}

impl Server {
    fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: plain kill(2) of our own child, by its id.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

struct Ctx {
    args: RunArgs,
    payload: Bytes,
    pb: ProgressBar,
    live: Arc<AtomicU64>,
    cells: Vec<Cell>,
    targets: Vec<TargetInfo>,
    work: PathBuf,
    logs: PathBuf,
    callback_addr: SocketAddr,
    callback_hits: Arc<AtomicU64>,
}

pub fn main(args: RunArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(run(args))
}

fn has(list: &[String], s: &str) -> bool {
    list.iter().any(|x| x == s)
}

fn size_label(size: u64) -> String {
    report::size_label(size)
}

/// The (workload, size, concurrency) cells of PUT/GET for a kind of target.
fn put_get_plan(args: &RunArgs, kind: Kind) -> Vec<(&'static str, u64, usize)> {
    let mut plan = Vec::new();
    for wl in ["put", "get"] {
        if !has(&args.workloads, wl) || (kind == Kind::FloorMd5 && wl == "get") {
            continue;
        }
        for &size in &args.sizes {
            if kind == Kind::FloorMd5 && size < 1 << 20 {
                continue;
            }
            let conc: Vec<usize> = if size >= LARGE {
                if matches!(kind, Kind::Peer | Kind::Cluster) { vec![1] } else { args.large_concurrency.clone() }
            } else {
                args.concurrency.clone()
            };
            for c in conc {
                plan.push((wl, size, c));
            }
        }
    }
    plan
}

fn small_size(args: &RunArgs) -> u64 {
    args.sizes.iter().copied().min().unwrap_or(4096).min(4096)
}

fn count_cells(args: &RunArgs, peers: usize) -> u64 {
    let mut n = 0;
    let ossd_targets = ["ossd-fsync", "ossd-relaxed"].iter().filter(|t| has(&args.targets, t)).count();
    let floor_targets = ["floor-fsync", "floor-relaxed"].iter().filter(|t| has(&args.targets, t)).count();
    let per_ossd = put_get_plan(args, Kind::Ossd).len() * if args.ossd_anonymous { 2 } else { 1 };
    n += ossd_targets * per_ossd;
    n += floor_targets * put_get_plan(args, Kind::Floor).len();
    if has(&args.targets, "floor-md5") {
        n += put_get_plan(args, Kind::FloorMd5).len();
    }
    if args.cluster.is_some() {
        let pg_targets = ["ossd-pg", "ossd-pg-2"].iter().filter(|t| has(&args.targets, t)).count();
        n += pg_targets * put_get_plan(args, Kind::Cluster).len();
    }
    n += peers * put_get_plan(args, Kind::Peer).len();
    if has(&args.workloads, "callback") {
        n += ossd_targets * args.concurrency.len();
    }
    if has(&args.workloads, "multipart") {
        n += ossd_targets;
    }
    if has(&args.workloads, "list") && ossd_targets > 0 {
        n += 1 + args.concurrency.len();
    }
    if has(&args.targets, "disk") {
        n += 4 * args.sizes.iter().filter(|&&s| s >= 1 << 20).count();
    }
    n as u64
}

/// Incompressible bytes (xorshift), shared by every request (`Bytes::slice` is zero-copy).
fn make_payload(size: usize) -> Bytes {
    let mut v = vec![0u8; size.div_ceil(8) * 8];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in v.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    v.truncate(size);
    Bytes::from(v)
}

async fn run(args: RunArgs) -> Result<(), String> {
    let started = time::OffsetDateTime::now_utc();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("create {}: {e}", args.out.display()))?;
    let logs = args.out.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let work_root = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = work_root.join(format!("ossd-bench-{}", std::process::id()));
    let free_gib_start = report::free_gib(&work_root);
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;

    let peers = match &args.peers_file {
        Some(p) if has(&args.targets, "peers") => read_peers(p)?,
        _ => Vec::new(),
    };
    let max_size = args.sizes.iter().copied().max().unwrap_or(4096).max(PART_SIZE as u64) as usize;
    let payload = make_payload(max_size);
    let (callback_addr, callback_hits) = crate::floor::start_callback_receiver().await.map_err(|e| e.to_string())?;

    let pb = ProgressBar::new(count_cells(&args, peers.len()));
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} cells  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let live = Arc::new(AtomicU64::new(0));
    let mut ctx = Ctx {
        args: args.clone(),
        payload,
        pb,
        live,
        cells: Vec::new(),
        targets: Vec::new(),
        work: work.clone(),
        logs,
        callback_addr,
        callback_hits,
    };

    let ossd_bin = ossd_bin(&args)?;
    let ossd_version = ossd_version(&ossd_bin);
    // Relaxed first: the LIST bucket is filled there (a million fsynced commits would take long).
    let list_on = if has(&args.targets, "ossd-relaxed") { "ossd-relaxed" } else { "ossd-fsync" };
    for (name, fsync) in [("ossd-relaxed", false), ("ossd-fsync", true)] {
        if !has(&args.targets, name) {
            continue;
        }
        let server = start_ossd(&ctx, &ossd_bin, name, fsync)?;
        let info = TargetInfo {
            name: name.into(),
            kind: "ossd".into(),
            version: ossd_version.clone(),
            durability: durability_label(fsync).into(),
            auth: "OSS V1 (and anonymous with --ossd-anonymous)".into(),
            endpoint: format!("http://{}", server.addr),
        };
        ctx.targets.push(info.clone());
        let signed = Endpoint::new(server.addr, Auth::OssV1 { access_key_id: OSSD_AK.into(), secret: OSSD_SK.into() });
        let result = ossd_target(&mut ctx, &info, signed, server.addr, server.pid, name == list_on).await;
        server.stop();
        target_failed(&ctx, name, result);
    }
    for (name, nodes) in [("ossd-pg", 1usize), ("ossd-pg-2", 2)] {
        if !has(&args.targets, name) {
            continue;
        }
        let Some(cluster) = args.cluster.as_deref() else {
            say(&ctx.pb, format!("{name}: skipped (no --cluster: PostgreSQL and an S3 store to run on)"));
            continue;
        };
        let servers = match start_ossd_cluster(&ctx, &ossd_bin, name, cluster, nodes) {
            Ok(servers) => servers,
            Err(e) => {
                target_failed(&ctx, name, Err(e));
                continue;
            }
        };
        let info = TargetInfo {
            name: name.into(),
            kind: "ossd".into(),
            version: ossd_version.clone(),
            durability: "fsync (PostgreSQL synchronous commit; SeaweedFS volumes without fsync)".into(),
            auth: "OSS V1".into(),
            endpoint: servers.iter().map(|s| format!("http://{}", s.addr)).collect::<Vec<_>>().join(" "),
        };
        ctx.targets.push(info.clone());
        let auth = Auth::OssV1 { access_key_id: OSSD_AK.into(), secret: OSSD_SK.into() };
        let ep = Endpoint::spread(servers.iter().map(|s| s.addr).collect(), auth);
        // Server figures (RSS, CPU) are those of the first node.
        let result = put_get_target(&mut ctx, &info, ep, servers[0].pid, Kind::Cluster).await;
        for s in servers {
            s.stop();
        }
        target_failed(&ctx, name, result);
    }
    for (name, fsync, kind) in
        [("floor-relaxed", false, Kind::Floor), ("floor-fsync", true, Kind::Floor), ("floor-md5", true, Kind::FloorMd5)]
    {
        if !has(&args.targets, name) {
            continue;
        }
        let server = start_floor(&ctx, name, fsync, kind == Kind::FloorMd5)?;
        let info = TargetInfo {
            name: name.into(),
            kind: "floor".into(),
            version: format!("ossd-bench {}", env!("CARGO_PKG_VERSION")),
            durability: durability_label(fsync).into(),
            auth: "anonymous".into(),
            endpoint: format!("http://{}", server.addr),
        };
        ctx.targets.push(info.clone());
        let ep = Endpoint::new(server.addr, Auth::Anonymous);
        let result = put_get_target(&mut ctx, &info, ep, server.pid, kind).await;
        server.stop();
        target_failed(&ctx, name, result);
    }
    for peer in &peers {
        ctx.targets.push(peer.info.clone());
        let ep = Endpoint::new(peer.addr, peer.auth.clone());
        if let Err(e) = put_get_target(&mut ctx, &peer.info, ep, peer.pid, Kind::Peer).await {
            say(&ctx.pb, format!("peer {}: {e}; skipped", peer.info.name));
        }
    }
    if has(&args.targets, "disk") {
        disk_target(&mut ctx).await?;
    }
    ctx.pb.finish_and_clear();
    let _ = std::fs::remove_dir_all(&work);

    let machine = Machine::probe(&work_root, free_gib_start);
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let report = Report::new(started, command, machine, ctx.targets, ctx.cells);
    let paths = report::write(&report, &args.out)?;
    println!("{}", report::markdown(&report));
    for p in paths {
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// A target that failed part-way (its engine died, it would not start) loses its remaining
/// cells, not the run: the cells measured so far, its own and the other targets', are reported.
fn target_failed(ctx: &Ctx, name: &str, result: Result<(), String>) {
    if let Err(e) = result {
        say(&ctx.pb, format!("{name}: {e}; its remaining cells are skipped"));
    }
}

/// A line above the progress bar, or on stderr when the bar is hidden (not a terminal).
fn say(pb: &ProgressBar, line: String) {
    if pb.is_hidden() {
        eprintln!("{line}");
    } else {
        pb.println(line);
    }
}

fn durability_label(fsync: bool) -> &'static str {
    if fsync { "fsync" } else { "relaxed" }
}

struct Peer {
    info: TargetInfo,
    addr: SocketAddr,
    auth: Auth,
    pid: Option<u32>,
}

/// Reads `bench/peers.sh start`'s peers.tsv: name, endpoint, auth, version, durability, pid.
fn read_peers(path: &Path) -> Result<Vec<Peer>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let ak = std::env::var("PEER_AK").unwrap_or_else(|_| "benchak".into());
    let sk = std::env::var("PEER_SK").unwrap_or_else(|_| "benchsecretkey123".into());
    let mut peers = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            return Err(format!("{}: bad line `{line}`", path.display()));
        }
        let addr = Endpoint::parse_url(f[1])?;
        // `sigv4:KEY_ID:SECRET` names the peer's own credentials (Garage wants its key format).
        let auth = match f[2].split(':').collect::<Vec<_>>()[..] {
            ["sigv4"] => Auth::SigV4 { access_key_id: ak.clone(), secret: sk.clone(), region: "us-east-1".into() },
            ["sigv4", id, secret] => {
                Auth::SigV4 { access_key_id: id.into(), secret: secret.into(), region: "us-east-1".into() }
            }
            _ => Auth::Anonymous,
        };
        let info = TargetInfo {
            name: f[0].into(),
            kind: "peer".into(),
            version: f[3].into(),
            durability: f[4].into(),
            auth: auth.label().into(),
            endpoint: f[1].into(),
        };
        peers.push(Peer { info, addr, auth, pid: f.get(5).and_then(|p| p.trim().parse().ok()) });
    }
    Ok(peers)
}

fn ossd_bin(args: &RunArgs) -> Result<PathBuf, String> {
    let bin = match &args.ossd_bin {
        Some(b) => b.clone(),
        None => {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            exe.parent().map(|d| d.join("ossd")).ok_or("no directory for ossd")?
        }
    };
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("ossd binary not found at {} (build it, or pass --ossd-bin / OSSD_BIN)", bin.display()))
    }
}

fn ossd_version(bin: &Path) -> String {
    let v =
        Command::new(bin).arg("--version").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let rev = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match (v, rev) {
        (Some(v), Some(r)) => format!("{v} (git {r})"),
        (Some(v), None) => v,
        _ => "unknown".into(),
    }
}

/// Starts a child that prints `... listening on http://ADDR` first on stdout.
fn spawn_listening(mut cmd: Command, log: &Path, dir: PathBuf) -> Result<Server, String> {
    let log_file = std::fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    cmd.stdout(Stdio::piped()).stderr(Stdio::from(log_file)).stdin(Stdio::null());
    let mut child = cmd.spawn().map_err(|e| format!("spawn {:?}: {e}", cmd.get_program()))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(url) = line.split("listening on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe.
        for _ in lines {}
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => {
            let addr = Endpoint::parse_url(&url)?;
            Ok(Server { pid: Some(child.id()), child: Some(child), addr, dir: Some(dir) })
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            Err(format!("{:?} did not report its address; log: {}", cmd.get_program(), tail.trim()))
        }
    }
}

fn start_ossd(ctx: &Ctx, bin: &Path, name: &str, fsync: bool) -> Result<Server, String> {
    let dir = ctx.work.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&dir)
        .args(["--durability", durability_label(fsync), "--log", "warn"])
        .env("OSSD_ACCESS_KEY_ID", OSSD_AK)
        .env("OSSD_ACCESS_KEY_SECRET", OSSD_SK);
    spawn_listening(cmd, &ctx.logs.join(format!("{name}.log")), dir)
}

/// `nodes` ossd processes sharing a fresh PostgreSQL database and S3 prefix (`cluster` is
/// `postgres://USER@HOST:PORT|http://S3HOST:PORT`), each with its own data directory.
fn start_ossd_cluster(ctx: &Ctx, bin: &Path, name: &str, cluster: &str, nodes: usize) -> Result<Vec<Server>, String> {
    let (pg, s3) = cluster.split_once('|').ok_or("--cluster is postgres://...|http://...")?;
    let db = format!("bench_{}_{}", name.replace('-', "_"), std::process::id());
    let (userinfo, hostport) =
        pg.trim_start_matches("postgres://").split_once('@').ok_or("no user in the postgres URL")?;
    let hostport = hostport.trim_end_matches('/');
    let (host, port) = hostport.rsplit_once(':').ok_or("no port in the postgres URL")?;
    let created = Command::new("psql")
        .args(["-h", host, "-p", port, "-U", userinfo, "-d", "postgres", "-c", &format!("CREATE DATABASE {db}")])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if !created.status.success() {
        return Err(format!("cannot create database {db}: {}", String::from_utf8_lossy(&created.stderr)));
    }
    let blobs = format!("s3://ossd-bench/{db}?endpoint={s3}&region=us-east-1");
    // SeaweedFS without an s3 config creates buckets on an anonymous PUT.
    let _ = Command::new("curl").args(["-s", "-X", "PUT", &format!("{s3}/ossd-bench")]).output();
    let key = ctx.work.join(format!("{name}-callback-key.pem"));
    let mut servers = Vec::new();
    for i in 0..nodes {
        let dir = ctx.work.join(format!("{name}-node{i}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&dir)
            .args(["--meta", &format!("{}/{db}", pg.trim_end_matches('/')), "--blobs", &blobs])
            .args(["--callback-private-key"])
            .arg(&key)
            .args(["--sts-secret", "bench-shared-sts-secret-0123456789", "--log", "warn"])
            .env("OSSD_ACCESS_KEY_ID", OSSD_AK)
            .env("OSSD_ACCESS_KEY_SECRET", OSSD_SK)
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "benchsecret");
        servers.push(spawn_listening(cmd, &ctx.logs.join(format!("{name}-node{i}.log")), dir)?);
    }
    Ok(servers)
}

fn start_floor(ctx: &Ctx, name: &str, fsync: bool, hash: bool) -> Result<Server, String> {
    let dir = ctx.work.join(name);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(["floor", "--listen", "127.0.0.1:0", "--dir"]).arg(&dir).args(["--durability", durability_label(fsync)]);
    if hash {
        cmd.arg("--hash");
    }
    spawn_listening(cmd, &ctx.logs.join(format!("{name}.log")), dir)
}

impl Ctx {
    fn spec(&self, ep: &Arc<Endpoint>, concurrency: usize, max_ops: u64) -> LoadSpec {
        let duration = self.args.duration.expect("resolved");
        LoadSpec {
            endpoint: ep.clone(),
            concurrency,
            duration,
            max_ops,
            hard_timeout: duration + self.args.cell_timeout,
        }
    }

    /// Runs one measured cell and records it.
    #[allow(clippy::too_many_arguments)]
    async fn measure(
        &mut self,
        target: &TargetInfo,
        label: &str,
        workload: &str,
        size: u64,
        spec: LoadSpec,
        pid: Option<u32>,
        op: OpFn,
    ) -> Cell {
        self.pb.set_message(format!("{label} {workload} {} c={}", size_label(size), spec.concurrency));
        self.live.store(0, Ordering::Relaxed);
        let ticker = {
            let (pb, live, msg) = (self.pb.clone(), self.live.clone(), self.pb.message());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    pb.set_message(format!("{msg}: {} ops", live.load(Ordering::Relaxed)));
                }
            })
        };
        let watch = Watch::start(pid);
        let outcome = load::run(&spec, self.live.clone(), op).await;
        let usage = watch.map(|w| w.finish()).unwrap_or_default();
        ticker.abort();
        let cell = Cell::from_outcome(target, label, workload, size, spec.concurrency, &outcome, usage);
        if let Some(e) = &outcome.first_error {
            say(
                &self.pb,
                format!(
                    "{label} {workload} {} c={}: {} errors, first: {e}",
                    size_label(size),
                    spec.concurrency,
                    outcome.errors
                ),
            );
        }
        self.pb.inc(1);
        if self.pb.is_hidden() {
            // No terminal: one line per cell instead of the bar.
            eprintln!(
                "[{}/{}] {label} {workload} {} c={}: {:.0} ops/s, {:.1} MiB/s, p99 {:.2} ms, {}",
                self.pb.position(),
                self.pb.length().unwrap_or(0),
                size_label(size),
                cell.concurrency,
                cell.ops_per_s,
                cell.mib_per_s,
                cell.p99_ms,
                cell.status
            );
        }
        self.cells.push(cell.clone());
        cell
    }

    /// Runs a load that is not measured (filling, populating); fails on any error.
    async fn prepare(
        &mut self,
        ep: &Arc<Endpoint>,
        concurrency: usize,
        count: u64,
        op: OpFn,
    ) -> Result<Outcome, String> {
        let spec = LoadSpec {
            endpoint: ep.clone(),
            concurrency: concurrency.min(count.max(1) as usize),
            duration: Duration::from_secs(24 * 3600),
            max_ops: count,
            hard_timeout: self.args.cell_timeout.max(Duration::from_secs(count / 200 + 60)),
        };
        let out = load::run(&spec, self.live.clone(), op).await;
        match (&out.first_error, out.timed_out) {
            (Some(e), _) => Err(format!("{} of {count} failed, first: {e}", out.errors)),
            (None, true) => Err("timed out".into()),
            _ => Ok(out),
        }
    }
}

async fn create_bucket(ep: &Arc<Endpoint>, bucket: &str, ossd: bool) -> Result<(), String> {
    let mut conn = Conn::new(ep.clone());
    let mut req = Req::new(Method::PUT, bucket, "");
    if ossd {
        req = req.header("x-oss-acl", "public-read-write");
    }
    let resp = conn.send(req).await?;
    if resp.status.is_success() || resp.status.as_u16() == 409 {
        Ok(())
    } else {
        Err(format!("create bucket {bucket}: HTTP {} {}", resp.status.as_u16(), resp.text()))
    }
}

fn put_op(payload: Bytes, size: u64, prefix: String, keys_per_worker: u64) -> OpFn {
    let body = payload.slice(..size as usize);
    Arc::new(move |w, n, mut conn| {
        let body = body.clone();
        let key = if keys_per_worker == 0 {
            format!("{prefix}/{n}")
        } else {
            format!("{prefix}/{w}-{}", n % keys_per_worker)
        };
        Box::pin(async move {
            let r = conn.send_ok(Req::new(Method::PUT, BUCKET, &key).body(body)).await.map(|_| size);
            (conn, r)
        })
    })
}

/// Deletes the keys [`put_op`] wrote with `keys_per_worker` > 0 (operation `n` deletes key
/// `n % keys_per_worker` of worker `n / keys_per_worker`). A key never written is no error.
fn delete_op(prefix: String, keys_per_worker: u64) -> OpFn {
    Arc::new(move |_, n, mut conn| {
        let key = format!("{prefix}/{}-{}", n / keys_per_worker, n % keys_per_worker);
        Box::pin(async move {
            let r = match conn.send(Req::new(Method::DELETE, BUCKET, &key)).await {
                Ok(resp) if resp.status.is_success() || resp.status == http::StatusCode::NOT_FOUND => Ok(0),
                Ok(resp) => Err(format!("DELETE {key}: HTTP {}", resp.status.as_u16())),
                Err(e) => Err(e),
            };
            (conn, r)
        })
    })
}

fn get_op(prefix: String, nkeys: u64, size: u64) -> OpFn {
    Arc::new(move |w, n, mut conn| {
        let key = format!("{prefix}/{}", (w as u64 * 7919 + n) % nkeys);
        Box::pin(async move {
            let r = match conn.send_ok(Req::new(Method::GET, BUCKET, &key)).await {
                Ok(resp) if resp.body_len == size => Ok(size),
                Ok(resp) => Err(format!("GET {key}: {} bytes, expected {size}", resp.body_len)),
                Err(e) => Err(e),
            };
            (conn, r)
        })
    })
}

/// PUT and GET cells for any HTTP target.
async fn put_get_target(
    ctx: &mut Ctx,
    info: &TargetInfo,
    ep: Arc<Endpoint>,
    pid: Option<u32>,
    kind: Kind,
) -> Result<(), String> {
    let label = info.name.clone();
    create_bucket(&ep, BUCKET, matches!(kind, Kind::Ossd | Kind::Cluster)).await?;
    put_get_cells(ctx, info, &label, ep, pid, kind).await
}

async fn put_get_cells(
    ctx: &mut Ctx,
    info: &TargetInfo,
    label: &str,
    ep: Arc<Endpoint>,
    pid: Option<u32>,
    kind: Kind,
) -> Result<(), String> {
    // Sizes whose GET objects are written, or why they could not be.
    let mut populated: Vec<(u64, Result<(), String>)> = Vec::new();
    for (wl, size, c) in put_get_plan(&ctx.args, kind) {
        let max_ops = ctx.args.max_ops;
        match wl {
            "put" => {
                // Small objects get fresh keys; large ones overwrite a few per worker so the
                // data directory stays under ~1 GiB per cell (plus c large objects).
                let per_worker = if size <= 64 << 10 { 0 } else { ((1u64 << 30) / (size * c as u64)).clamp(1, 64) };
                let prefix = format!("put/{label}/{size}/{c}");
                let op = put_op(ctx.payload.clone(), size, prefix.clone(), per_worker);
                ctx.measure(info, label, "PUT", size, ctx.spec(&ep, c, max_ops), pid, op).await;
                if size >= LARGE {
                    // 64 workers leave 64 large objects (16 GiB at 256 MiB) that would otherwise
                    // stay for the target's later cells and fill this machine's disk, which slows
                    // ext4 down (it stops delaying allocation when free space runs low).
                    let count = c as u64 * per_worker;
                    let op = delete_op(prefix, per_worker);
                    if let Err(e) = ctx.prepare(&ep, 16, count, op).await {
                        say(&ctx.pb, format!("{label} PUT {} c={c}: deleting its objects: {e}", size_label(size)));
                    }
                }
            }
            _ => {
                let nkeys = if size >= LARGE { 1 } else { 64 };
                let prefix = format!("get/{label}/{size}");
                if !populated.iter().any(|(s, _)| *s == size) {
                    let op = put_op(ctx.payload.clone(), size, prefix.clone(), 0);
                    let done = ctx.prepare(&ep, 16, nkeys, op).await.map(|_| ());
                    populated.push((size, done.map_err(|e| format!("populating for GET: {e}"))));
                }
                // A target too slow to hold the GET objects in time gets failed GET cells of
                // that size (shown in the report), not an aborted run.
                if let Some((_, Err(e))) = populated.iter().find(|(s, _)| *s == size) {
                    let failed = Outcome { errors: 1, first_error: Some(e.clone()), ..Default::default() };
                    say(&ctx.pb, format!("{label} GET {} c={c}: {e}", size_label(size)));
                    let cell = Cell::from_outcome(info, label, "GET", size, c, &failed, Default::default());
                    ctx.cells.push(cell);
                    continue;
                }
                let op = get_op(prefix, nkeys, size);
                ctx.measure(info, label, "GET", size, ctx.spec(&ep, c, max_ops), pid, op).await;
            }
        }
    }
    Ok(())
}

async fn ossd_target(
    ctx: &mut Ctx,
    info: &TargetInfo,
    signed: Arc<Endpoint>,
    addr: SocketAddr,
    pid: Option<u32>,
    with_list: bool,
) -> Result<(), String> {
    create_bucket(&signed, BUCKET, true).await?;
    put_get_cells(ctx, info, &info.name, signed.clone(), pid, Kind::Ossd).await?;
    if ctx.args.ossd_anonymous {
        let anon = Endpoint::new(addr, Auth::Anonymous);
        let label = format!("{}/anon", info.name);
        put_get_cells(ctx, info, &label, anon, pid, Kind::Ossd).await?;
    }
    if has(&ctx.args.workloads, "callback") {
        callback_cells(ctx, info, &signed, pid).await;
    }
    if has(&ctx.args.workloads, "multipart") {
        multipart_cell(ctx, info, &signed, pid).await;
    }
    if with_list && has(&ctx.args.workloads, "list") {
        list_cells(ctx, info, &signed, pid).await;
    }
    Ok(())
}

async fn callback_cells(ctx: &mut Ctx, info: &TargetInfo, ep: &Arc<Endpoint>, pid: Option<u32>) {
    let size = small_size(&ctx.args);
    let spec = serde_json::json!({
        "callbackUrl": format!("http://{}/cb", ctx.callback_addr),
        "callbackBody": "bucket=${bucket}&object=${object}&size=${size}",
    });
    let header = base64::engine::general_purpose::STANDARD.encode(spec.to_string());
    let hits_before = ctx.callback_hits.load(Ordering::Relaxed);
    for c in ctx.args.concurrency.clone() {
        let body = ctx.payload.slice(..size as usize);
        let header = header.clone();
        let prefix = format!("cb/{}/{c}", info.name);
        let op: OpFn = Arc::new(move |_w, n, mut conn| {
            let (body, header, key) = (body.clone(), header.clone(), format!("{prefix}/{n}"));
            Box::pin(async move {
                let req = Req::new(Method::PUT, BUCKET, &key).body(body).header("x-oss-callback", &header).keep_body();
                let r = match conn.send(req).await {
                    Ok(resp) if resp.status.as_u16() == 200 && resp.text().contains("OK") => Ok(size),
                    Ok(resp) => Err(format!(
                        "PUT with callback: HTTP {} {}",
                        resp.status.as_u16(),
                        resp.text().chars().take(200).collect::<String>()
                    )),
                    Err(e) => Err(e),
                };
                (conn, r)
            })
        });
        let spec = ctx.spec(ep, c, ctx.args.max_ops);
        ctx.measure(info, &info.name, "PUT+callback", size, spec, pid, op).await;
    }
    let hits = ctx.callback_hits.load(Ordering::Relaxed) - hits_before;
    if let Some(last) = ctx.cells.last_mut() {
        last.note = Some(format!("receiver got {hits} callbacks over all concurrencies"));
    }
}

async fn multipart_cell(ctx: &mut Ctx, info: &TargetInfo, ep: &Arc<Endpoint>, pid: Option<u32>) {
    let parts = ctx.args.mpu_parts.expect("resolved");
    let rounds = ctx.args.mpu_rounds.expect("resolved");
    ctx.pb.set_message(format!("{} multipart: uploading {parts} parts x {rounds}", info.name));
    let mut lat_us = Vec::new();
    let mut first_error = None;
    let mut max_written = 0u64;
    let mut errors = 0;
    let mut peak_rss = None;
    let mut cpu = 0.0;
    for round in 0..rounds {
        let key = format!("mpu/{}/{round}", info.name);
        match multipart_round(ctx, ep, &key, parts, pid).await {
            Ok((lat, written, usage)) => {
                lat_us.push(lat.as_micros() as u64);
                max_written = max_written.max(written.unwrap_or(0));
                peak_rss = peak_rss.max(usage.peak_rss_bytes);
                cpu += usage.cpu_seconds.unwrap_or(0.0);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    lat_us.sort_unstable();
    let outcome = Outcome {
        ok: lat_us.len() as u64,
        errors,
        first_error: first_error.clone(),
        bytes: 0,
        elapsed: Duration::from_micros(lat_us.iter().sum()),
        lat_us,
        timed_out: false,
    };
    let usage = procstat::Usage { peak_rss_bytes: peak_rss, cpu_seconds: (pid.is_some()).then_some(cpu) };
    let mut cell =
        Cell::from_outcome(info, &info.name, "CompleteMultipart", (parts * PART_SIZE) as u64, 1, &outcome, usage);
    cell.note = Some(match &first_error {
        Some(e) => format!("{parts} parts of 100 KiB; error: {e}"),
        None => format!(
            "{parts} parts of 100 KiB; server wrote at most {:.1} KiB to storage during a completion",
            max_written as f64 / 1024.0
        ),
    });
    cell.extra = Some(serde_json::json!({ "parts": parts, "max_bytes_written_during_complete": max_written }));
    if let Some(e) = first_error {
        say(&ctx.pb, format!("{} CompleteMultipart: {e}", info.name));
    }
    ctx.pb.inc(1);
    ctx.cells.push(cell);
}

/// Initiates, uploads `parts` parts (16 at a time), then times the completion alone.
async fn multipart_round(
    ctx: &mut Ctx,
    ep: &Arc<Endpoint>,
    key: &str,
    parts: usize,
    pid: Option<u32>,
) -> Result<(Duration, Option<u64>, procstat::Usage), String> {
    let mut conn = Conn::new(ep.clone());
    let resp = conn.send_ok(Req::new(Method::POST, BUCKET, key).query("uploads", "").keep_body()).await?;
    let upload_id = xml_value(&resp.text(), "UploadId").ok_or("no UploadId in InitiateMultipartUpload")?.to_string();
    let etags: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(vec![None; parts]));
    let body = ctx.payload.slice(..PART_SIZE);
    let op: OpFn = {
        let (etags, key, upload_id) = (etags.clone(), key.to_string(), upload_id.clone());
        Arc::new(move |_w, n, mut conn| {
            let (etags, key, upload_id, body) = (etags.clone(), key.clone(), upload_id.clone(), body.clone());
            Box::pin(async move {
                let number = (n + 1).to_string();
                let req = Req::new(Method::PUT, BUCKET, &key)
                    .query("partNumber", &number)
                    .query("uploadId", &upload_id)
                    .body(body);
                let r = match conn.send_ok(req).await {
                    Ok(resp) => match resp.headers.get("etag").and_then(|v| v.to_str().ok()) {
                        Some(etag) => {
                            etags.lock().expect("not poisoned")[n as usize] = Some(etag.to_string());
                            Ok(PART_SIZE as u64)
                        }
                        None => Err("UploadPart answered without an ETag".to_string()),
                    },
                    Err(e) => Err(e),
                };
                (conn, r)
            })
        })
    };
    ctx.prepare(ep, 16, parts as u64, op).await.map_err(|e| format!("UploadPart: {e}"))?;
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.lock().expect("not poisoned").iter().enumerate() {
        let etag = etag.as_deref().ok_or("a part has no ETag")?;
        xml.push_str(&format!("<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>", i + 1));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let written_before = pid.and_then(procstat::write_bytes);
    let watch = Watch::start(pid);
    let t = Instant::now();
    let resp = conn
        .send_ok(Req::new(Method::POST, BUCKET, key).query("uploadId", &upload_id).body(Bytes::from(xml)).keep_body())
        .await;
    let lat = t.elapsed();
    let usage = watch.map(|w| w.finish()).unwrap_or_default();
    let written = match (written_before, pid.and_then(procstat::write_bytes)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let resp = resp?;
    if !resp.text().contains("CompleteMultipartUploadResult") {
        return Err(format!("unexpected completion answer: {}", resp.text()));
    }
    Ok((lat, written, usage))
}

/// Fills `bucket` with `n` 16-byte objects named by `key` (PUTs at c=64, measured too).
/// `false` when the bucket could not be made.
#[allow(clippy::too_many_arguments)]
async fn fill_bucket(
    ctx: &mut Ctx,
    info: &TargetInfo,
    ep: &Arc<Endpoint>,
    pid: Option<u32>,
    bucket: &'static str,
    n: u64,
    key: fn(u64) -> String,
    workload: &str,
) -> bool {
    if let Err(e) = create_bucket(ep, bucket, true).await {
        say(&ctx.pb, format!("{workload}: {e}"));
        return false;
    }
    let body = ctx.payload.slice(..16);
    let fill: OpFn = Arc::new(move |_w, i, mut conn| {
        let (body, key) = (body.clone(), key(i));
        Box::pin(async move {
            let r = conn.send_ok(Req::new(Method::PUT, bucket, &key).body(body)).await.map(|_| 16);
            (conn, r)
        })
    });
    let spec = LoadSpec {
        endpoint: ep.clone(),
        concurrency: 64,
        duration: Duration::from_secs(24 * 3600),
        max_ops: n,
        hard_timeout: ctx.args.cell_timeout.max(Duration::from_secs(n / 200 + 60)),
    };
    let label = info.name.clone();
    let cell = ctx.measure(info, &label, workload, 16, spec, pid, fill).await;
    if cell.errors > 0 || cell.ops < n {
        say(&ctx.pb, format!("{workload} incomplete ({} of {n} objects); its pages will be short", cell.ops));
    }
    true
}

/// A LIST cell per concurrency: `page(worker, op)` gives a page's query; a page counts when
/// each tag of `expect` occurs in it as often as said.
async fn list_pages(
    ctx: &mut Ctx,
    info: &TargetInfo,
    ep: &Arc<Endpoint>,
    pid: Option<u32>,
    (bucket, workload, size, note): (&'static str, &str, u64, String),
    page: PageQuery,
    expect: Vec<(&'static str, usize)>,
) {
    let expect = Arc::new(expect);
    let label = info.name.clone();
    for c in ctx.args.concurrency.clone() {
        let (page, expect) = (page.clone(), expect.clone());
        let op: OpFn = Arc::new(move |w, n, mut conn| {
            let (query, expect) = (page(w, n), expect.clone());
            Box::pin(async move {
                let mut req = Req::new(Method::GET, bucket, "").keep_body();
                for (k, v) in &query {
                    req = req.query(k, v);
                }
                let r = match conn.send_ok(req).await {
                    Ok(resp) => {
                        match expect.iter().map(|&(tag, want)| (tag, want, resp.count(tag))).find(|t| t.1 != t.2) {
                            None => Ok(resp.body_len),
                            Some((tag, want, got)) => Err(format!("LIST page with {got} {tag}, expected {want}")),
                        }
                    }
                    Err(e) => Err(e),
                };
                (conn, r)
            })
        });
        let spec = ctx.spec(ep, c, ctx.args.max_ops);
        ctx.measure(info, &label, workload, size, spec, pid, op).await;
        if let Some(last) = ctx.cells.last_mut() {
            last.note = Some(note.clone());
            last.size_label_override = Some(format!("{size} keys"));
        }
    }
}

async fn list_cells(ctx: &mut Ctx, info: &TargetInfo, ep: &Arc<Endpoint>, pid: Option<u32>) {
    let n_keys = ctx.args.list_keys.expect("resolved");
    if fill_bucket(ctx, info, ep, pid, LIST_BUCKET, n_keys, |i| format!("k/{i:08}"), "LIST fill (PUT)").await {
        let page = n_keys.min(1000);
        let span = n_keys.saturating_sub(page).max(1);
        let pages = Arc::new(move |w: usize, n: u64| {
            let start = (n.wrapping_mul(2_654_435_761) ^ (w as u64 * 40_503)) % span;
            let mut q = vec![("max-keys", "1000".to_string())];
            if start > 0 {
                q.push(("marker", format!("k/{:08}", start - 1)));
            }
            q
        });
        let note = format!("1,000-key pages at random markers out of {n_keys} keys");
        let expect = vec![("<Key>", page as usize)];
        list_pages(ctx, info, ep, pid, (LIST_BUCKET, "LIST 1000", n_keys, note), pages, expect).await;
    }
    // Folder browsing: a page of 1,000 common prefixes (delimiter `/`), FOLDER_FILES objects in
    // each folder.
    let folders = (n_keys / 100).clamp(2_000, 10_000);
    let objects = folders * FOLDER_FILES;
    let key = |i: u64| format!("f/{:05}/{}", i / FOLDER_FILES, i % FOLDER_FILES);
    if fill_bucket(ctx, info, ep, pid, FOLDER_BUCKET, objects, key, "LIST folders fill (PUT)").await {
        let span = folders - 1000;
        let pages = Arc::new(move |w: usize, n: u64| {
            let start = (n.wrapping_mul(2_654_435_761) ^ (w as u64 * 40_503)) % span;
            let q = vec![
                ("prefix", "f/".to_string()),
                ("delimiter", "/".to_string()),
                ("max-keys", "1000".to_string()),
                ("marker", format!("f/{start:05}/")),
            ];
            q
        });
        let note = format!(
            "1,000 common prefixes (delimiter /) at random markers out of {folders} folders of {FOLDER_FILES} objects"
        );
        let expect = vec![("<CommonPrefixes>", 1000), ("<Key>", 0)];
        list_pages(ctx, info, ep, pid, (FOLDER_BUCKET, "LIST 1000 prefixes", objects, note), pages, expect).await;
    }
}

/// Objects in each folder of the folder-listing bucket.
const FOLDER_FILES: u64 = 2;

/// A LIST page's query pairs for (worker, operation number).
type PageQuery = Arc<dyn Fn(usize, u64) -> Vec<(&'static str, String)> + Send + Sync>;

async fn disk_target(ctx: &mut Ctx) -> Result<(), String> {
    let dir = ctx.work.join("disk");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let info = TargetInfo {
        name: "disk".into(),
        kind: "disk".into(),
        version: "-".into(),
        durability: "fsync / page cache / cold read / cpu".into(),
        auth: "-".into(),
        endpoint: dir.display().to_string(),
    };
    ctx.targets.push(info.clone());
    let duration = ctx.args.duration.expect("resolved");
    let max_ops = ctx.args.max_ops;
    for size in ctx.args.sizes.clone().into_iter().filter(|&s| s >= 1 << 20) {
        for (workload, durability) in [("write", "fsync"), ("write", "relaxed"), ("read", "cold")] {
            ctx.pb.set_message(format!("disk {workload} ({durability}) {}", size_label(size)));
            let (dir, payload) = (dir.clone(), ctx.payload.clone());
            let lat = tokio::task::spawn_blocking(move || {
                let file = |n: u64| dir.join(format!("f{}", n % 2));
                if workload == "read" {
                    crate::disk::write_file(&file(0), &payload, size, true)?;
                    crate::disk::write_file(&file(1), &payload, size, true)?;
                    crate::disk::repeat(duration, max_ops, |n| crate::disk::read_cold(&file(n)).map(|_| ()))
                } else {
                    let fsync = durability == "fsync";
                    crate::disk::repeat(duration, max_ops, |n| crate::disk::write_file(&file(n), &payload, size, fsync))
                }
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("disk {workload}: {e}"))?;
            let outcome = Outcome::sequential(&lat, size);
            let mut target = info.clone();
            target.durability = durability.into();
            let workload = if workload == "write" { "disk write" } else { "disk read" };
            let cell = Cell::from_outcome(&target, "disk", workload, size, 1, &outcome, Default::default());
            ctx.pb.inc(1);
            ctx.cells.push(cell);
        }
        // The physical limit of a PUT that must produce OSS's ETag: one core's MD5 over the
        // same bytes, in this process, no I/O.
        ctx.pb.set_message(format!("md5 (1 thread) {}", size_label(size)));
        let payload = ctx.payload.slice(..size as usize);
        let lat = tokio::task::spawn_blocking(move || {
            crate::disk::repeat(duration, max_ops, |_| {
                use md5::Digest as _;
                std::hint::black_box(md5::Md5::digest(&payload));
                Ok(())
            })
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("md5: {e}"))?;
        let outcome = Outcome::sequential(&lat, size);
        let mut target = info.clone();
        target.durability = "cpu".into();
        ctx.cells.push(Cell::from_outcome(&target, "disk", "md5 (1 thread)", size, 1, &outcome, Default::default()));
        ctx.pb.inc(1);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
