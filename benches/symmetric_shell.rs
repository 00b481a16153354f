//! A one-copy file of a 60-copy icosahedral shell as the archive holds it (issue 31): a unit of
//! about 11,000 atoms with 60 MTRIX operators, a 512³ map at 1.1 Å holding all 660,000 atoms
//! (`benches/symmetric_shell/make_case.py`; three C-terminal residues missing from each chain of
//! every copy). Side by side in one session:
//!
//! - ours on the one-copy file (the NCS copies made by default) and on the expanded file
//!   (gemmi's `expand_ncs` of it, as mmCIF): wall, peak memory, and the one-copy run's peak
//!   memory over the expanded file's (at most 1: the copies cost no more than the file that
//!   holds them);
//! - `servalcat fofc --map` on the same one-copy file (it expands MTRIX through gemmi): its wall
//!   over ours;
//! - what the one-copy run lists first: the missing residues, each seen in (nearly) all copies.
//!
//! Run: `cargo bench --bench symmetric_shell` (the case is made in `target/symmetric_shell` or
//! taken from `SYMMETRIC_SHELL=DIR`; making it and running servalcat need the reference venv of
//! `../shared/tools/reference/setup.sh`).

use real_space_diff_map::report::Report;
use std::path::{Path, PathBuf};
use std::process::Command;

// Shared by the whole-job benches; this one uses its tools, not the large case itself.
#[allow(dead_code)]
mod large_case;
use large_case::{reference_venv, root, run_servalcat, timed};

/// The case folder, made when missing; `None` (said) when it cannot be.
fn shell_case() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SYMMETRIC_SHELL") {
        return Some(PathBuf::from(dir));
    }
    let dir = root().join("target/symmetric_shell");
    if dir.join("case.json").exists() {
        return Some(dir);
    }
    let python = reference_venv().join("bin/python");
    if !python.exists() {
        eprintln!(
            "SKIPPED: no symmetric shell case and no reference venv to make one (../shared/tools/reference/setup.sh)"
        );
        return None;
    }
    eprintln!("making the symmetric shell case in {} (a few minutes)", dir.display());
    let made = Command::new(python).arg(root().join("benches/symmetric_shell/make_case.py")).arg(&dir).status();
    made.ok().filter(|s| s.success()).map(|_| dir)
}

/// Our command line on `model`: wall, peak RSS (MiB) and the report.
fn run_ours(case: &Path, model: &str, out: &Path, resolution: &str) -> Option<(f64, f64, Report)> {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_real_space_diff_map"));
    let json = out.with_extension("json");
    let args = vec![
        case.join(model).display().to_string(),
        case.join("map.mrc").display().to_string(),
        format!("resolution={resolution}"),
        format!("output={}", out.display()),
        format!("json={}", json.display()),
        "quiet=true".into(),
    ];
    let (wall, rss) = timed(&binary, &args)?;
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).ok()?).ok()?;
    Some((wall, rss, report))
}

fn main() {
    let Some(case) = shell_case() else { return };
    let about: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap_or_default()).unwrap_or_default();
    let resolution = about["resolution"].as_f64().unwrap_or(3.0).to_string();
    println!("case: {about}");
    let map_mib = about["voxels"].as_f64().unwrap_or(512.0).powi(3) * 4.0 / (1024.0 * 1024.0);
    let out = tempfile::tempdir().expect("a temporary folder");
    // Alternately, twice each: the medians of two are their means.
    let mut one_copy = Vec::new();
    let mut expanded = Vec::new();
    for round in 0..2 {
        one_copy.extend(run_ours(&case, "unit.pdb", &out.path().join(format!("unit_{round}.ccp4")), &resolution));
        expanded.extend(run_ours(&case, "shell.cif", &out.path().join(format!("shell_{round}.ccp4")), &resolution));
    }
    if one_copy.is_empty() || expanded.is_empty() {
        eprintln!("our runs failed");
        return;
    }
    let mean = |runs: &[(f64, f64, Report)], k: usize| {
        runs.iter().map(|r| if k == 0 { r.0 } else { r.1 }).sum::<f64>() / runs.len() as f64
    };
    let (wall_one, rss_one) = (mean(&one_copy, 0), mean(&one_copy, 1));
    let (wall_shell, rss_shell) = (mean(&expanded, 0), mean(&expanded, 1));
    println!(
        "ours, one-copy file (60 NCS copies made): {wall_one:.1} s, {rss_one:.0} MiB ({:.2}x the map's float32 size)",
        rss_one / map_mib
    );
    println!("ours, expanded file: {wall_shell:.1} s, {rss_shell:.0} MiB ({:.2}x the map)", rss_shell / map_mib);
    println!("one-copy over expanded: time {:.2}, memory {:.2}", wall_one / wall_shell, rss_one / rss_shell);
    let report = &one_copy[0].2;
    for (rank, peak) in report.peaks.iter().take(8).enumerate() {
        let near = peak.nearest_atom.as_ref().map(|a| a.residue_label()).unwrap_or_default();
        println!("  peak {}: {:+.1} sigma at {near}, seen in {} copies", rank + 1, peak.height, peak.copies);
    }
    match run_servalcat(&case, "unit.pdb", "map.mrc", &resolution, &out.path().join("servalcat")) {
        Some((wall, rss)) => println!(
            "servalcat fofc --map, one-copy file: {wall:.1} s, {rss:.0} MiB; its wall over ours {:.2}, its memory \
             over ours {:.2}",
            wall / wall_one,
            rss / rss_one
        ),
        None => println!("SKIPPED servalcat: no reference venv, or it failed"),
    }
}
