//! Entries per hour through an archive served over HTTP on this machine: a 50-entry archive
//! (`tests/all/archive_fixture.rs`: the ligand pocket with its half maps, each entry its own
//! files) run by `real_space_diff_map batch` with `--emdb-root http://...`, first with a cold
//! cache, then with the cache warm (a new output folder: every entry computes again, nothing is
//! downloaded). The difference of the two is the share of the wall time spent on transfer.
//!
//!   cargo bench --bench archive_throughput            (ARCHIVE_ENTRIES=N to change the 50)

// The tests use all of it; the benchmark only the archive of copies and the servers.
#[allow(dead_code)]
#[path = "../tests/all/archive_fixture.rs"]
mod archive_fixture;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn program() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("cargo")
        .current_dir(root)
        .args(["build", "--release", "--bin", "real_space_diff_map", "--quiet"])
        .status()
        .expect("cargo build");
    assert!(status.success());
    root.join("target/release/real_space_diff_map")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("ARCHIVE_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let program = program();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = archive_fixture::build_copies(d, n);
    let bytes: u64 = walk_size(&archive);
    let mut manifest = String::from("id\temdb\n");
    for i in 0..n {
        manifest.push_str(&format!("e{i}\tEMD-{}\n", 91000 + i));
    }
    std::fs::write(d.join("ids.tsv"), manifest).unwrap();
    let servers = archive_fixture::Servers::start(&archive);
    let (emdb, pdb) = (servers.http("plain", "emdb"), servers.http("plain", "pdb"));
    let cache = d.join("cache").display().to_string();
    let run = |out: &str| {
        let start = Instant::now();
        let status = Command::new(&program)
            .current_dir(d)
            .args(["batch", "ids.tsv", "--out-dir", out, "--emdb-root", &emdb, "--pdb-root", &pdb, "--cache", &cache])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "batch {out}");
        start.elapsed().as_secs_f64()
    };
    let cold = run("cold");
    let warm = run("warm");
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "archive_throughput: {n} entries (44^3 map + two half maps + model each, {:.1} MB in all) over HTTP on 127.0.0.1, {cores} cores",
        bytes as f64 / 1e6
    );
    println!("  cold cache: {cold:.1} s = {:.0} entries/hour", n as f64 * 3600.0 / cold);
    println!("  warm cache: {warm:.1} s = {:.0} entries/hour", n as f64 * 3600.0 / warm);
    println!(
        "  transfer and caching: {:.1} s, {:.0}% of the cold run's wall time ({:.0} MB/s)",
        cold - warm,
        100.0 * (cold - warm).max(0.0) / cold,
        bytes as f64 / 1e6 / (cold - warm).max(1e-3)
    );
}

fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| if e.path().is_dir() { walk_size(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) })
        .sum()
}
