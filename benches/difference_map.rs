#![allow(clippy::needless_range_loop)]
//! The whole job on a generated case of about 384^3 voxels and 80,000 atoms: wall time and peak
//! memory of the binary, as ratios to the map's float32 size and to `servalcat fofc` run on the
//! same files in the same session (when the reference tools are installed; see
//! ../shared/tools/reference/setup.sh).
//!
//! Run: `cargo bench --bench difference_map` (BENCH_GRID=256 for a quicker case; BENCH_PHENIX=1
//! to time mmtbx's real_space_diff_map as well, which takes tens of seconds).

use real_space_diff_map::grid::{GridGeometry, Map, MapHeader};
use real_space_diff_map::map_io::write_map;
use real_space_diff_map::model_io::Model;
use real_space_diff_map::model_map::{ModelMapOptions, compute_model_map};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::tiled_model;

fn write_pdb(path: &Path, model: &Model) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "REMARK   2 RESOLUTION.    3.20 ANGSTROMS.").unwrap();
    for (i, atom) in model.atoms.iter().enumerate() {
        let residue = model.residue_of(atom);
        let chain = ["A", "B", "C", "D", "E", "F", "G", "H"][(i / 9999) % 8];
        writeln!(
            out,
            "ATOM  {:>5} {:<4} {:>3} {}{:>4}    {:8.3}{:8.3}{:8.3}{:6.2}{:6.2}          {:>2}",
            (i % 99999) + 1,
            atom.name,
            residue.name,
            chain,
            residue.number % 10000,
            atom.position[0],
            atom.position[1],
            atom.position[2],
            atom.occupancy,
            atom.b_iso,
            atom.element
        )
        .unwrap();
    }
    writeln!(out, "END").unwrap();
}

/// Runs a command under /usr/bin/time -v: (wall seconds, peak RSS in MiB, its stdout).
fn timed(program: &Path, args: &[&str], dir: &Path) -> Option<(f64, f64, String)> {
    let output = Command::new("/usr/bin/time").arg("-v").arg(program).args(args).current_dir(dir).output().ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        eprintln!("{} failed:\n{}", program.display(), stderr.lines().rev().take(15).collect::<Vec<_>>().join("\n"));
        return None;
    }
    let field = |name: &str| {
        stderr
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .map(|l| l.rsplit(": ").next().unwrap().trim().to_string())
    };
    let wall = field("Elapsed (wall clock) time")?;
    let seconds = wall.split(':').fold(0.0, |acc, part| acc * 60.0 + part.parse::<f64>().unwrap_or(0.0));
    let rss_kb: f64 = field("Maximum resident set size")?.parse().ok()?;
    Some((seconds, rss_kb / 1024.0, String::from_utf8_lossy(&output.stdout).to_string()))
}

fn main() {
    let n = std::env::var("BENCH_GRID").ok().and_then(|v| v.parse().ok()).unwrap_or(384usize);
    let voxel = 1.05;
    let dir = tempfile::tempdir().unwrap();
    let model = tiled_model(n, voxel);
    let geometry = GridGeometry { dims: [n; 3], voxel_size: [voxel; 3], first_voxel_centre: [0.0; 3] };
    // The "experimental" map: the model's own map at 3.2 Å plus noise, with a quarter of the
    // atoms then removed from the model so that there is something to find.
    let mut data = compute_model_map(&model, &geometry, &ModelMapOptions::new(3.2)).unwrap().data;
    let mut state = 42u64;
    let sd = real_space_diff_map::MapStatistics::of(&data).sd as f32;
    for v in &mut data {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *v += 0.3 * sd * (((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5);
    }
    let map = Map { geometry, data, header: MapHeader::for_geometry(&geometry) };
    write_map(dir.path().join("map.mrc"), &map, "benchmark map", &[]).unwrap();
    drop(map);
    let mut truncated = model.clone();
    truncated.atoms.retain(|a| a.serial % 4 != 0);
    write_pdb(&dir.path().join("model.pdb"), &truncated);
    let map_mb = (n * n * n * 4) as f64 / 1e6 / 1.048576;
    println!("case: {n}^3 voxels ({map_mb:.0} MiB as float32), {} atoms in the model", truncated.atoms.len());

    let ours = PathBuf::from(env!("CARGO_BIN_EXE_real_space_diff_map"));
    let args = ["model.pdb", "map.mrc", "resolution=3.2", "output=ours.mrc"];
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..2 {
        if let Some((wall, rss, stdout)) = timed(&ours, &args, dir.path()) {
            best = Some(best.map_or((wall, rss), |b| (b.0.min(wall), b.1.max(rss))));
            if let Some(line) = stdout.lines().find(|l| l.starts_with("time:")) {
                println!("  stages: {line}");
            }
        }
    }
    let Some((our_wall, our_rss)) = best else {
        println!("our run failed");
        return;
    };
    println!(
        "real_space_diff_map: {our_wall:.2} s wall (best of 2), peak RSS {our_rss:.0} MiB = {:.2}x the map",
        our_rss / map_mb
    );

    let venv = std::env::var("REFERENCE_VENV").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/real_space_diff_map-reference")
    });
    let servalcat = venv.join("bin/servalcat");
    if servalcat.exists() {
        let args = ["fofc", "--model", "model.pdb", "--map", "map.mrc", "-d", "3.2"];
        if let Some((wall, rss, _)) = timed(&servalcat, &args, dir.path()) {
            println!("servalcat fofc:      {wall:.2} s wall, peak RSS {rss:.0} MiB = {:.2}x the map", rss / map_mb);
            println!("speed-up over servalcat: {:.2}x; memory ratio {:.2}x", wall / our_wall, rss / our_rss);
        }
        if std::env::var("BENCH_PHENIX").is_ok() {
            let python = venv.join("bin/python");
            let args = [
                "-m",
                "mmtbx.command_line.real_space_diff_map",
                "model.pdb",
                "map.mrc",
                "resolution=3.2",
                "scattering_table=electron",
            ];
            if let Some((wall, rss, _)) = timed(&python, &args, dir.path()) {
                println!(
                    "mmtbx real_space_diff_map: {wall:.2} s wall, peak RSS {rss:.0} MiB; speed-up {:.1}x",
                    wall / our_wall
                );
            }
        }
    } else {
        println!("(no reference venv at {}: peers not timed)", venv.display());
    }
}
