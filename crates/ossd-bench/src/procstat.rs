//! Server-side figures from /proc: resident memory (peak), CPU time and bytes written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// utime + stime of the process (all threads), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((utime + stime) / ticks)
}

/// `write_bytes` of /proc/PID/io: bytes this process caused to be written to storage
/// (counted when pages are dirtied, so page-cache writes count too).
pub fn write_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let line = text.lines().find(|l| l.starts_with("write_bytes:"))?;
    line["write_bytes:".len()..].trim().parse().ok()
}

pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:").map(|k| k * 1024)
}

/// Watches a process for the duration of one measurement.
pub struct Watch {
    pid: u32,
    cpu_start: Option<f64>,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

/// What a watch saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub peak_rss_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
}

impl Watch {
    /// Resets the kernel's peak-RSS mark (VmHWM, via clear_refs) and samples VmRSS every 20 ms
    /// on a thread of its own, so the figure is the peak within this measurement.
    pub fn start(pid: Option<u32>) -> Option<Watch> {
        let pid = pid?;
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_bytes(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Some(Watch { pid, cpu_start: cpu_seconds(pid), peak, stop, sampler: Some(sampler) })
    }

    pub fn finish(mut self) -> Usage {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.sampler.take() {
            let _ = t.join();
        }
        let hwm = status_kib(self.pid, "VmHWM:").map(|k| k * 1024).unwrap_or(0);
        let peak = self.peak.load(Ordering::Relaxed).max(hwm);
        let cpu = match (self.cpu_start, cpu_seconds(self.pid)) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        Usage { peak_rss_bytes: (peak > 0).then_some(peak), cpu_seconds: cpu }
    }
}
