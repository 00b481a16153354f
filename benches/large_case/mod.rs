//! The large case of `../shared/tools/make_large_case.py` and the measuring tools that the
//! whole-job benches share: timed child processes, an FFT pair as the unit of time, servalcat.

use real_space_diff_map::density::fourier::Fft3d;
use real_space_diff_map::grid::Map;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The venv of the reference tools (`$REFERENCE_VENV`, else the default of `setup.sh`).
pub fn reference_venv() -> PathBuf {
    std::env::var_os("REFERENCE_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/real_space_diff_map-reference")
    })
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The large case: `LARGE_CASE`, or `target/large_case`, made there when missing.
pub fn large_case() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LARGE_CASE") {
        return Some(PathBuf::from(dir));
    }
    let dir = root().join("target/large_case");
    if dir.join("map.mrc").exists() && dir.join("model.cif").exists() {
        return Some(dir);
    }
    let python = reference_venv().join("bin/python");
    let script = root().join("../shared/tools/make_large_case.py");
    if !python.exists() || !script.exists() {
        eprintln!(
            "SKIPPED: no large case. Make one with ../shared/tools/make_large_case.py DIR (needs the reference \
             tools: ../shared/tools/reference/setup.sh) and run with LARGE_CASE=DIR"
        );
        return None;
    }
    eprintln!("making the large case in {} (about a minute)...", dir.display());
    let status = Command::new(python).arg(script).arg(&dir).status().ok()?;
    status.success().then_some(dir)
}

/// Runs a command under /usr/bin/time -v: wall seconds and peak RSS in MiB.
pub fn timed(program: &Path, args: &[String]) -> Option<(f64, f64)> {
    let start = Instant::now();
    let output = Command::new("/usr/bin/time").arg("-v").arg(program).args(args).output().ok()?;
    let wall = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        eprintln!("{} failed:\n{}", program.display(), stderr.lines().rev().take(15).collect::<Vec<_>>().join("\n"));
        return None;
    }
    let rss_kib: f64 = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Maximum resident set size"))
        .and_then(|l| l.rsplit(": ").next()?.trim().parse().ok())?;
    Some((wall, rss_kib / 1024.0))
}

/// Median wall time of one forward + inverse real FFT of the map's grid.
pub fn fft_pair_seconds(map: &Map) -> f64 {
    let fft = Fft3d::new(map.geometry.dims);
    let mut real = map.data.clone();
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            let mut spectrum = fft.forward(&mut real);
            fft.inverse(&mut spectrum, &mut real);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[1]
}

/// Runs `servalcat fofc` through `../shared/tools/reference/run_servalcat.sh` on `maps` (a map
/// file in `case`, or two half maps separated by a comma) at `resolution` Å: wall seconds and
/// peak RSS in MiB.
pub fn run_servalcat(case: &Path, model: &str, maps: &str, resolution: &str, out: &Path) -> Option<(f64, f64)> {
    let script = root().join("../shared/tools/reference/run_servalcat.sh");
    if !reference_venv().join("bin/servalcat").exists() || !script.exists() {
        return None;
    }
    let output = Command::new("bash")
        .arg(script)
        .arg(case.join(model))
        .arg(maps.split(',').map(|m| case.join(m).display().to_string()).collect::<Vec<_>>().join(","))
        .arg(resolution)
        .arg(out)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| text.split_whitespace().find_map(|w| w.strip_prefix(name)?.parse::<f64>().ok());
    Some((field("wall_s=")?, field("max_rss_kib=")? / 1024.0))
}
