//! Smoke test: a couple of seconds of `ossd-bench run --quick` against a fresh ossd and the
//! floor, so the bench keeps working. It times nothing: it only checks that the run produced
//! a JSON report with successful PUT and GET operations. No peers are needed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The ossd binary: `OSSD_BIN` if set, else `ossd` built (or found fresh) by cargo with this
/// test's profile into this test's target directory, next to `ossd-bench`.
fn ossd_bin(bench: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("OSSD_BIN") {
        return PathBuf::from(p);
    }
    let profile_dir = bench.parent().expect("ossd-bench has a directory");
    let target_dir = profile_dir.parent().expect("profile directory has a parent");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => "dev",
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "ossd", "--bin", "ossd", "--profile", profile, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("run cargo build -p ossd");
    assert!(status.success(), "cargo build -p ossd failed");
    let bin = profile_dir.join("ossd");
    assert!(bin.is_file(), "ossd not at {}", bin.display());
    bin
}

#[test]
fn quick_run_reports_put_and_get() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_ossd-bench"));
    let ossd = ossd_bin(&bench);
    let out = std::env::temp_dir().join(format!("ossd-bench-smoke-{}", std::process::id()));
    let output = Command::new(&bench)
        .args([
            "run",
            "--quick",
            "--duration",
            "300ms",
            "--sizes",
            "4k,1m",
            "--concurrency",
            "1,4",
            "--targets",
            "ossd-relaxed,floor-relaxed,floor-md5",
            "--workloads",
            "put,get,callback,list,multipart",
            "--list-keys",
            "1200",
            "--mpu-parts",
            "3",
            "--ossd-bin",
        ])
        .arg(&ossd)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run ossd-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "ossd-bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}");

    let json = std::fs::read_to_string(out.join("report.json")).expect("report.json written");
    let report: serde_json::Value = serde_json::from_str(&json).expect("report.json is JSON");
    assert!(out.join("report.md").is_file() && out.join("plot.svg").is_file());
    let cells = report["cells"].as_array().expect("cells");
    for target in ["ossd-relaxed", "floor-relaxed"] {
        for workload in ["PUT", "GET"] {
            let ops: u64 = cells
                .iter()
                .filter(|c| c["target"] == target && c["workload"] == workload)
                .map(|c| c["ops"].as_u64().unwrap_or(0))
                .sum();
            assert!(ops > 0, "no successful {workload} on {target}\n{stdout}");
        }
    }
    // The hashing floor is measured on large PUTs only.
    let md5_puts: Vec<_> = cells.iter().filter(|c| c["target"] == "floor-md5").collect();
    assert!(!md5_puts.is_empty() && md5_puts.iter().all(|c| c["workload"] == "PUT" && c["size"] == 1 << 20));
    assert!(md5_puts.iter().any(|c| c["ops"].as_u64().unwrap_or(0) > 0), "no floor-md5 PUT\n{stdout}");
    // The other workloads ran and were recorded (their success depends on server features).
    for workload in ["PUT+callback", "LIST 1000", "CompleteMultipart"] {
        assert!(cells.iter().any(|c| c["workload"] == workload), "no {workload} cell\n{stdout}");
    }
    assert!(report["ratios"].as_array().is_some_and(|r| !r.is_empty()));
    let _ = std::fs::remove_dir_all(&out);
}
