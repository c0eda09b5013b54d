//! Results: cells, the target ratios, and the Markdown / JSON / SVG renderings.

use crate::load::Outcome;
use crate::procstat::Usage;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Serialize, Clone, Debug)]
pub struct TargetInfo {
    pub name: String,
    pub kind: String,
    pub version: String,
    pub durability: String,
    pub auth: String,
    pub endpoint: String,
}

/// One measurement: a workload at one size and concurrency against one target.
#[derive(Serialize, Clone, Debug)]
pub struct Cell {
    /// The target as shown (`ossd-relaxed`, `ossd-relaxed/anon`, `seaweedfs`, `disk`).
    pub target: String,
    pub durability: String,
    pub workload: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_label_override: Option<String>,
    pub concurrency: usize,
    /// ok, partial (some errors), failed (no successful operation), timeout.
    pub status: String,
    pub ops: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    pub mib_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub server_peak_rss_mib: Option<f64>,
    pub server_cpu_ms_per_op: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

impl Cell {
    pub fn from_outcome(
        target: &TargetInfo,
        label: &str,
        workload: &str,
        size: u64,
        concurrency: usize,
        o: &Outcome,
        usage: Usage,
    ) -> Cell {
        let secs = o.elapsed.as_secs_f64().max(1e-9);
        let status = if o.timed_out {
            "timeout"
        } else if o.ok == 0 {
            "failed"
        } else if o.errors > 0 {
            "partial"
        } else {
            "ok"
        };
        Cell {
            target: label.to_string(),
            durability: target.durability.clone(),
            workload: workload.to_string(),
            size,
            size_label_override: None,
            concurrency,
            status: status.into(),
            ops: o.ok,
            errors: o.errors,
            first_error: o.first_error.clone(),
            elapsed_s: secs,
            ops_per_s: o.ok as f64 / secs,
            mib_per_s: o.bytes as f64 / MIB / secs,
            p50_ms: o.percentile_ms(0.5),
            p99_ms: o.percentile_ms(0.99),
            p999_ms: o.percentile_ms(0.999),
            server_peak_rss_mib: usage.peak_rss_bytes.map(|b| b as f64 / MIB),
            server_cpu_ms_per_op: usage.cpu_seconds.filter(|_| o.ok > 0).map(|s| s * 1000.0 / o.ok as f64),
            note: None,
            extra: None,
        }
    }

    fn usable(&self) -> bool {
        self.ops > 0 && (self.status == "ok" || self.status == "partial")
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub os: String,
    pub data_dir: String,
    pub data_device: String,
    /// Free space of the data directory's file system when the run started and ended (GiB):
    /// a nearly full ext4 made the same PUTs markedly slower on the bench machine.
    pub data_free_gib_start: Option<f64>,
    pub data_free_gib_end: Option<f64>,
}

/// Free space (for unprivileged users) of the file system holding `path`, in GiB.
pub fn free_gib(path: &Path) -> Option<f64> {
    use std::os::unix::ffi::OsStrExt as _;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c_path` is a valid NUL-terminated string and `st` a writable statvfs, both
    // live for the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as f64 * st.f_frsize as f64 / (1u64 << 30) as f64)
}

impl Machine {
    pub fn probe(data_dir: &Path, free_gib_start: Option<f64>) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        let os = std::fs::read_to_string("/etc/os-release")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("PRETTY_NAME="))
            .map(|l| l["PRETTY_NAME=".len()..].trim_matches('"').to_string())
            .unwrap_or_default();
        let abs = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let device = mounts
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 3 && abs.starts_with(f[1]))
                    .then(|| (f[1].len(), format!("{} ({}) on {}", f[0], f[2], f[1])))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, d)| d)
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            memory_gib: mem_kib / 1024.0 / 1024.0,
            kernel,
            os,
            data_dir: abs.display().to_string(),
            data_device: device,
            data_free_gib_start: free_gib_start,
            data_free_gib_end: free_gib(data_dir),
        }
    }
}

/// A target of the issue, as measured in this run.
#[derive(Serialize, Clone, Debug)]
pub struct Ratio {
    pub check: String,
    pub value: Option<f64>,
    pub goal: String,
    /// None when the run lacks the cells to judge.
    pub met: Option<bool>,
    pub detail: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct Report {
    pub date: String,
    pub command: String,
    pub machine: Machine,
    pub targets: Vec<TargetInfo>,
    pub cells: Vec<Cell>,
    pub ratios: Vec<Ratio>,
}

impl Report {
    pub fn new(
        started: time::OffsetDateTime,
        command: String,
        machine: Machine,
        targets: Vec<TargetInfo>,
        cells: Vec<Cell>,
    ) -> Report {
        let date = started
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| started.unix_timestamp().to_string());
        let ratios = ratios(&targets, &cells);
        Report { date, command, machine, targets, cells, ratios }
    }
}

pub fn size_label(size: u64) -> String {
    if size >= 1 << 30 && size & ((1 << 30) - 1) == 0 {
        format!("{} GiB", size >> 30)
    } else if size >= 1 << 20 && size & ((1 << 20) - 1) == 0 {
        format!("{} MiB", size >> 20)
    } else if size >= 1 << 10 && size & ((1 << 10) - 1) == 0 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

fn find<'a>(cells: &'a [Cell], target: &str, workload: &str, size: u64, c: usize) -> Option<&'a Cell> {
    cells
        .iter()
        .find(|x| x.target == target && x.workload == workload && x.size == size && x.concurrency == c && x.usable())
}

fn judge(check: String, value: Option<f64>, goal: &str, detail: String, ok: impl Fn(f64) -> bool) -> Ratio {
    Ratio { check, value, goal: goal.into(), met: value.map(ok), detail }
}

fn ratios(targets: &[TargetInfo], cells: &[Cell]) -> Vec<Ratio> {
    let mut out = Vec::new();
    let small = 4096;
    let concs = |target: &str, workload: &str, size: u64| -> Vec<usize> {
        let mut v: Vec<usize> = cells
            .iter()
            .filter(|x| x.target == target && x.workload == workload && x.size == size)
            .map(|x| x.concurrency)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    // 1. ossd ahead of every peer on 4 KiB PUT and GET, at equal durability.
    for peer in targets.iter().filter(|t| t.kind == "peer") {
        let ossd = if peer.durability.starts_with("fsync") { "ossd-fsync" } else { "ossd-relaxed" };
        for wl in ["PUT", "GET"] {
            let mut worst: Option<f64> = None;
            let mut detail = Vec::new();
            for c in concs(&peer.name, wl, small) {
                if let (Some(a), Some(b)) = (find(cells, ossd, wl, small, c), find(cells, &peer.name, wl, small, c)) {
                    let r = a.ops_per_s / b.ops_per_s;
                    worst = Some(worst.map_or(r, |w: f64| w.min(r)));
                    detail.push(format!("c={c}: {:.0} vs {:.0} ops/s", a.ops_per_s, b.ops_per_s));
                }
            }
            out.push(judge(
                format!("{ossd} / {} ({}) 4 KiB {wl}, worst concurrency", peer.name, peer.durability),
                worst,
                "> 1.00",
                detail.join("; "),
                |v| v > 1.0,
            ));
        }
    }
    // 2. 4 KiB PUT/GET at the highest concurrency vs the floor.
    for d in ["fsync", "relaxed"] {
        let (ossd, floor) = (format!("ossd-{d}"), format!("floor-{d}"));
        for (wl, goal) in [("PUT", 0.7), ("GET", 0.8)] {
            let Some(&c) = concs(&ossd, wl, small).last() else { continue };
            let (a, b) = (find(cells, &ossd, wl, small, c), find(cells, &floor, wl, small, c));
            let value = a.zip(b).map(|(a, b)| a.ops_per_s / b.ops_per_s);
            let detail = a
                .zip(b)
                .map(|(a, b)| format!("{:.0} vs {:.0} ops/s", a.ops_per_s, b.ops_per_s))
                .unwrap_or_else(|| "missing cells".into());
            out.push(judge(
                format!("{ossd} / {floor} 4 KiB {wl} c={c}"),
                value,
                &format!(">= {goal:.2}"),
                detail,
                |v| v >= goal,
            ));
        }
    }
    // 3. PUT with callback vs plain PUT.
    for ossd in ["ossd-fsync", "ossd-relaxed"] {
        let cs = concs(ossd, "PUT+callback", small);
        if cs.is_empty() {
            continue;
        }
        let mut worst: Option<f64> = None;
        let mut detail = Vec::new();
        let mut failed = false;
        for c in cs {
            match (find(cells, ossd, "PUT+callback", small, c), find(cells, ossd, "PUT", small, c)) {
                (Some(a), Some(b)) => {
                    let r = a.ops_per_s / b.ops_per_s;
                    worst = Some(worst.map_or(r, |w: f64| w.min(r)));
                    detail.push(format!("c={c}: {:.0} vs {:.0} ops/s", a.ops_per_s, b.ops_per_s));
                }
                _ => failed = true,
            }
        }
        if failed {
            let why = cells
                .iter()
                .find(|x| x.target == ossd && x.workload == "PUT+callback" && !x.usable())
                .and_then(|x| x.first_error.clone())
                .unwrap_or_default();
            detail.push(format!("callback cells failed: {why}"));
            worst = None;
        }
        // Relaxed PUT costs so little that one RSA-2048 signature per upload is most of the
        // difference: its goal is lower.
        let goal = if ossd == "ossd-fsync" { 0.8 } else { 0.3 };
        out.push(judge(
            format!("{ossd} PUT+callback / PUT 4 KiB, worst concurrency"),
            worst,
            &format!(">= {goal:.2}"),
            detail.join("; "),
            |v| v >= goal,
        ));
    }
    // 4. Large PUT/GET vs the floor and the disk (c=1).
    let large = cells.iter().filter(|x| x.workload == "PUT" && x.size >= 64 << 20).map(|x| x.size).max();
    if let Some(large) = large {
        let sl = size_label(large);
        for d in ["fsync", "relaxed"] {
            let (ossd, floor) = (format!("ossd-{d}"), format!("floor-{d}"));
            for wl in ["PUT", "GET"] {
                let a = find(cells, &ossd, wl, large, 1);
                let b = find(cells, &floor, wl, large, 1);
                out.push(judge(
                    format!("{ossd} / {floor} {sl} {wl} c=1"),
                    a.zip(b).map(|(a, b)| a.mib_per_s / b.mib_per_s),
                    ">= 0.85",
                    a.zip(b)
                        .map(|(a, b)| format!("{:.0} vs {:.0} MiB/s", a.mib_per_s, b.mib_per_s))
                        .unwrap_or_else(|| "missing cells".into()),
                    |v| v >= 0.85,
                ));
                let disk = cells.iter().find(|x| {
                    x.target == "disk"
                        && x.size == large
                        && x.usable()
                        && if wl == "PUT" {
                            x.workload == "disk write" && x.durability == d
                        } else {
                            x.workload == "disk read"
                        }
                });
                let disk_name = if wl == "PUT" { format!("disk write ({d})") } else { "disk read (cold)".to_string() };
                out.push(judge(
                    format!("{ossd} {sl} {wl} c=1 / {disk_name}"),
                    a.zip(disk).map(|(a, b)| a.mib_per_s / b.mib_per_s),
                    ">= 0.85",
                    a.zip(disk)
                        .map(|(a, b)| format!("{:.0} vs {:.0} MiB/s", a.mib_per_s, b.mib_per_s))
                        .unwrap_or_else(|| "missing cells".into()),
                    |v| v >= 0.85,
                ));
            }
        }
        // 4b. Large PUT vs the floor that hashes, and vs one core's MD5 of the same bytes (the
        // physical limit of a PUT that must produce OSS's ETag).
        let a = find(cells, "ossd-fsync", "PUT", large, 1);
        let b = find(cells, "floor-md5", "PUT", large, 1);
        out.push(judge(
            format!("ossd-fsync / floor-md5 {sl} PUT c=1"),
            a.zip(b).map(|(a, b)| a.mib_per_s / b.mib_per_s),
            ">= 0.90",
            a.zip(b)
                .map(|(a, b)| format!("{:.0} vs {:.0} MiB/s", a.mib_per_s, b.mib_per_s))
                .unwrap_or_else(|| "missing cells".into()),
            |v| v >= 0.9,
        ));
        let md5 = cells.iter().find(|x| x.target == "disk" && x.workload == "md5 (1 thread)" && x.size == large);
        for ossd in ["ossd-fsync", "ossd-relaxed"] {
            let a = find(cells, ossd, "PUT", large, 1);
            out.push(judge(
                format!("{ossd} {sl} PUT c=1 / MD5 of the same bytes on one thread"),
                a.zip(md5).map(|(a, b)| a.mib_per_s / b.mib_per_s),
                ">= 0.90",
                a.zip(md5)
                    .map(|(a, b)| format!("{:.0} vs {:.0} MiB/s", a.mib_per_s, b.mib_per_s))
                    .unwrap_or_else(|| "missing cells".into()),
                |v| v >= 0.9,
            ));
        }
        // 5. Peak RSS while many clients upload large objects.
        for ossd in ["ossd-fsync", "ossd-relaxed"] {
            let Some(&c) = concs(ossd, "PUT", large).last() else { continue };
            let cell =
                cells.iter().find(|x| x.target == ossd && x.workload == "PUT" && x.size == large && x.concurrency == c);
            let value = cell.and_then(|x| x.server_peak_rss_mib);
            out.push(judge(
                format!("{ossd} peak RSS during {sl} PUT c={c} (MiB)"),
                value,
                "< 150",
                cell.map(|x| format!("{} uploads finished, status {}", x.ops, x.status)).unwrap_or_default(),
                |v| v < 150.0,
            ));
        }
    }
    // 6. LIST page p99.
    for x in cells.iter().filter(|x| x.workload == "LIST 1000") {
        // The issue's goals: 20 ms up to c=16, 40 ms at c=64 (the 2 cores are shared by then).
        let goal = if x.concurrency <= 16 { 20.0 } else { 40.0 };
        out.push(judge(
            format!("{} LIST 1,000-key page p99 at c={} ({} keys) (ms)", x.target, x.concurrency, x.size),
            x.usable().then_some(x.p99_ms),
            &format!("< {goal:.0}"),
            format!("{:.0} pages/s, p50 {:.2} ms", x.ops_per_s, x.p50_ms),
            |v| v < goal,
        ));
    }
    // 7. CompleteMultipartUpload.
    for x in cells.iter().filter(|x| x.workload == "CompleteMultipart") {
        let parts = x.extra.as_ref().and_then(|e| e["parts"].as_u64()).unwrap_or(0);
        out.push(judge(
            format!("{} CompleteMultipartUpload of {parts} parts, slowest (ms)", x.target),
            x.usable().then_some(x.p999_ms),
            "< 100",
            format!("{} completions, p50 {:.1} ms", x.ops, x.p50_ms),
            |v| v < 100.0,
        ));
        let written = x.extra.as_ref().and_then(|e| e["max_bytes_written_during_complete"].as_u64());
        out.push(judge(
            format!("{} bytes written during a completion / bytes uploaded", x.target),
            written.filter(|_| x.usable()).map(|w| w as f64 / x.size as f64),
            "< 0.10 (a copy would be >= 1)",
            written.map(|w| format!("{:.1} KiB of {}", w as f64 / 1024.0, size_label(x.size))).unwrap_or_default(),
            |v| v < 0.1,
        ));
    }
    out
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into())
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(s, "Run of {}\n", r.date);
    let _ = writeln!(s, "Command: `{}`\n", r.command);
    let _ = writeln!(
        s,
        "Machine: {} ({} cores), {:.1} GiB RAM, Linux {}, {}; data on {} ({} GiB free at the start, {} at the end)\n",
        m.cpu,
        m.cores,
        m.memory_gib,
        m.kernel,
        m.os,
        m.data_device,
        m.data_free_gib_start.map_or("?".into(), |g| format!("{g:.1}")),
        m.data_free_gib_end.map_or("?".into(), |g| format!("{g:.1}")),
    );
    let _ = writeln!(s, "| target | kind | version | durability | auth |");
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for t in &r.targets {
        let _ = writeln!(s, "| {} | {} | {} | {} | {} |", t.name, t.kind, t.version, t.durability, t.auth);
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| target | durability | workload | size | c | ops | ops/s | MiB/s | p50 ms | p99 ms | p99.9 ms | server peak RSS MiB | server CPU ms/op | status |"
    );
    let _ =
        writeln!(s, "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for c in &r.cells {
        let size = c.size_label_override.clone().unwrap_or_else(|| size_label(c.size));
        let mut status = c.status.clone();
        if c.errors > 0 {
            status = format!("{status} ({} errors)", c.errors);
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.target,
            c.durability,
            c.workload,
            size,
            c.concurrency,
            c.ops,
            num(c.ops_per_s),
            num(c.mib_per_s),
            num(c.p50_ms),
            num(c.p99_ms),
            num(c.p999_ms),
            opt(c.server_peak_rss_mib, 0),
            opt(c.server_cpu_ms_per_op, 3),
            status
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| check | value | goal | met | detail |");
    let _ = writeln!(s, "| --- | ---: | --- | --- | --- |");
    for x in &r.ratios {
        let met = match x.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/a",
        };
        let _ = writeln!(s, "| {} | {} | {} | {} | {} |", x.check, opt(x.value, 2), x.goal, met, x.detail);
    }
    let notes: Vec<&Cell> = r.cells.iter().filter(|c| c.note.is_some() || c.first_error.is_some()).collect();
    if !notes.is_empty() {
        let _ = writeln!(s);
        for c in notes {
            let size = c.size_label_override.clone().unwrap_or_else(|| size_label(c.size));
            let mut text = c.note.clone().unwrap_or_default();
            if let Some(e) = &c.first_error {
                if !text.is_empty() {
                    text.push_str("; ");
                }
                text.push_str(&format!("first error: {e}"));
            }
            let _ = writeln!(s, "- {} {} {} c={}: {}", c.target, c.workload, size, c.concurrency, text);
        }
    }
    s
}

const COLORS: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/// The plot's series: ossd and the floor as they are, and of the peers only the best one per
/// (workload, size, concurrency), as "best peer" (its name in the bar's title).
const PLOTTED: [&str; 5] = ["ossd-fsync", "ossd-relaxed", "floor-fsync", "floor-relaxed", "floor-md5"];
const BEST_PEER: &str = "best peer";

/// Grouped bars of MiB/s (log scale) for the PUT/GET cells of ossd, the floor and the best peer:
/// one group per (workload, size, concurrency), one bar per series.
pub fn svg(r: &Report) -> String {
    let peers: Vec<&str> = r.targets.iter().filter(|t| t.kind == "peer").map(|t| t.name.as_str()).collect();
    let put_get = |c: &&Cell| (c.workload == "PUT" || c.workload == "GET") && c.usable();
    // (series, cell)
    let mut cells: Vec<(&str, &Cell)> = r
        .cells
        .iter()
        .filter(put_get)
        .filter_map(|c| PLOTTED.iter().find(|&&t| t == c.target).map(|t| (*t, c)))
        .collect();
    for c in r.cells.iter().filter(put_get).filter(|c| peers.contains(&c.target.as_str())) {
        let same = |x: &Cell| x.workload == c.workload && x.size == c.size && x.concurrency == c.concurrency;
        match cells.iter_mut().find(|(s, x)| *s == BEST_PEER && same(x)) {
            Some(best) if best.1.mib_per_s >= c.mib_per_s => {}
            Some(best) => best.1 = c,
            None => cells.push((BEST_PEER, c)),
        }
    }
    let mut groups: Vec<(String, u64, usize)> = Vec::new();
    let mut series: Vec<String> = Vec::new();
    for (name, c) in &cells {
        let g = (c.workload.clone(), c.size, c.concurrency);
        if !groups.contains(&g) {
            groups.push(g);
        }
        if !series.iter().any(|s| s == name) {
            series.push(name.to_string());
        }
    }
    let bar = 9.0;
    let group_w = bar * series.len().max(1) as f64 + 14.0;
    let (left, top, plot_h, bottom) = (70.0, 40.0, 360.0, 90.0);
    let width = left + group_w * groups.len().max(1) as f64 + 200.0;
    let height = top + plot_h + bottom;
    let max = cells.iter().map(|(_, c)| c.mib_per_s).fold(1.0f64, f64::max);
    let min = cells.iter().map(|(_, c)| c.mib_per_s).filter(|v| *v > 0.0).fold(max, f64::min);
    let (lo, hi) = (min.log10().floor().min(max.log10().floor() - 1.0), max.log10().ceil());
    let y = |v: f64| top + plot_h * (1.0 - (v.max(10f64.powf(lo)).log10() - lo) / (hi - lo));
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="14">ossd-bench {}: throughput, MiB/s (log scale), PUT and GET</text>"#,
        r.date
    );
    let mut e = lo as i32;
    while e as f64 <= hi {
        let v = 10f64.powi(e);
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{:.0}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.0}" y="{:.1}" text-anchor="end">{}</text>"##,
            width - 200.0,
            left - 6.0,
            yy + 4.0,
            if v >= 1.0 { format!("{v:.0}") } else { format!("{v}") }
        );
        e += 1;
    }
    for (gi, g) in groups.iter().enumerate() {
        let gx = left + gi as f64 * group_w + 7.0;
        for (si, name) in series.iter().enumerate() {
            if let Some((_, c)) =
                cells.iter().find(|(s, c)| s == name && c.workload == g.0 && c.size == g.1 && c.concurrency == g.2)
            {
                if c.mib_per_s <= 0.0 {
                    continue;
                }
                let x = gx + si as f64 * bar;
                let yy = y(c.mib_per_s);
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {} {} c={}: {:.1} MiB/s, {:.0} ops/s</title></rect>"#,
                    bar - 1.0,
                    top + plot_h - yy,
                    COLORS[si % COLORS.len()],
                    c.target,
                    g.0,
                    size_label(g.1),
                    g.2,
                    c.mib_per_s,
                    c.ops_per_s
                );
            }
        }
        let cx = gx + bar * series.len() as f64 / 2.0;
        let ly = top + plot_h + 14.0;
        let _ = writeln!(
            s,
            r#"<text transform="translate({cx:.1},{ly:.1}) rotate(40)" text-anchor="start">{} {} c={}</text>"#,
            g.0,
            size_label(g.1),
            g.2
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" x2="{left}" y1="{top}" y2="{:.0}" stroke="#333"/><line x1="{left}" x2="{:.0}" y1="{:.0}" y2="{:.0}" stroke="#333"/>"##,
        top + plot_h,
        width - 200.0,
        top + plot_h,
        top + plot_h
    );
    for (si, name) in series.iter().enumerate() {
        let lx = width - 185.0;
        let ly = top + 10.0 + si as f64 * 18.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.0}" y="{:.0}" width="12" height="12" fill="{}"/><text x="{:.0}" y="{:.0}">{}</text>"#,
            ly - 10.0,
            COLORS[si % COLORS.len()],
            lx + 18.0,
            ly,
            name
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Writes report.md, report.json and plot.svg into `out`.
pub fn write(r: &Report, out: &Path) -> Result<Vec<PathBuf>, String> {
    let files = [
        (out.join("report.md"), markdown(r)),
        (out.join("report.json"), serde_json::to_string_pretty(r).map_err(|e| e.to_string())?),
        (out.join("plot.svg"), svg(r)),
    ];
    let mut written = Vec::new();
    for (path, text) in files {
        std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
