//! Half-map mode as a user meets it, on the large case of `../shared/tools/make_large_case.py`
//! (384³ map at 1.05 Å, 82,000 atoms in 360 chains, half maps with noise in the solvent, two
//! hemes removed from the model), with `model.pdb` and with `model.cif`:
//!
//! - cost: the half-map job (`half_map=half1.mrc half_map=half2.mrc`) against the single-map job
//!   (`map.mrc`), run alternately three times each; the ratio of the two walls of each pair, and
//!   the half-map stages as multiples of an FFT pair of the map's grid timed beside them;
//! - what it finds, side by side with `servalcat fofc --halfmaps` on the same files: contrast
//!   (the weakest removed heme's maximum over the strongest positive local maximum farther than
//!   3 Å from every removed atom) and, in our z map, the mean and sd far (> 8 Å) from the model.
//!
//! Run: `cargo bench --bench half_maps` (the case is made in `target/large_case` or taken from
//! `LARGE_CASE=DIR`; servalcat needs the reference venv of `../shared/tools/reference/setup.sh`).

use rayon::prelude::*;
use real_space_diff_map::grid::Map;
use real_space_diff_map::io::ccp4::read_map;
use real_space_diff_map::io::model::read_model;
use real_space_diff_map::report::Report;
use real_space_diff_map::scaling::noise::{far_from_model_statistics, mark_near_atoms};
use std::path::{Path, PathBuf};

mod large_case;
use large_case::{fft_pair_seconds, large_case, run_servalcat, timed};

/// One run of our command line: wall, peak memory and the report's stage timings.
struct OurRun {
    wall: f64,
    rss_mib: f64,
    stages: Vec<(String, f64)>,
    report: Report,
}

fn run_ours(case: &Path, model: &str, maps: &[&str], out: &Path) -> Option<OurRun> {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_real_space_diff_map"));
    let report = out.with_extension("json");
    let mut args = vec![case.join(model).display().to_string()];
    match maps {
        [map] => args.push(case.join(map).display().to_string()),
        halves => args.extend(halves.iter().map(|h| format!("half_map={}", case.join(h).display()))),
    }
    args.extend([
        "resolution=3.2".to_string(),
        format!("output={}", out.display()),
        format!("json={}", report.display()),
        "quiet=true".into(),
    ]);
    let (wall, rss_mib) = timed(&binary, &args)?;
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&report).ok()?).ok()?;
    let mut stages: Vec<(String, f64)> = report.timings.clone().into_iter().collect();
    stages.sort_by(|a, b| b.1.total_cmp(&a.1));
    Some(OurRun { wall, rss_mib, stages, report })
}

/// The removed groups of the case: name and atom positions.
fn removed_groups(case: &Path) -> Vec<(String, Vec<[f64; 3]>)> {
    let text = std::fs::read_to_string(case.join("removed_atoms.json")).expect("removed_atoms.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("removed_atoms.json is JSON");
    json["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            let atoms = g["atoms"]
                .as_array()
                .expect("atoms")
                .iter()
                .map(|a| std::array::from_fn(|i| a["xyz"][i].as_f64().expect("xyz")))
                .collect();
            (g["id"].as_str().unwrap_or("?").to_string(), atoms)
        })
        .collect()
}

/// Marks the voxels within `radius` of any of `points`.
fn near(map: &Map, points: &[[f64; 3]], radius: f64) -> Vec<bool> {
    mark_near_atoms(&map.geometry, 1, points, radius).1
}

/// The weakest removed group's maximum (within 1.5 Å of its atoms), the strongest positive
/// local maximum (not below any of its 26 neighbours) farther than 3 Å from every removed atom,
/// and their ratio.
fn contrast(map: &Map, groups: &[(String, Vec<[f64; 3]>)]) -> (f64, f64, f64) {
    let weakest = groups
        .iter()
        .map(|(_, atoms)| {
            let marked = near(map, atoms, 1.5);
            map.data.iter().zip(&marked).filter(|(_, m)| **m).map(|(v, _)| *v as f64).fold(f64::MIN, f64::max)
        })
        .fold(f64::MAX, f64::min);
    let all: Vec<[f64; 3]> = groups.iter().flat_map(|(_, atoms)| atoms.iter().copied()).collect();
    let close = near(map, &all, 3.0);
    let g = map.geometry;
    let [nx, ny, nz] = g.dims;
    let strongest = (0..nz)
        .into_par_iter()
        .map(|k| {
            let mut best = f64::MIN;
            for j in 0..ny {
                for i in 0..nx {
                    let index = g.index(i, j, k);
                    let value = map.data[index];
                    if close[index] || value <= 0.0 || (value as f64) <= best {
                        continue;
                    }
                    let is_maximum = (-1isize..=1).all(|dk| {
                        (-1isize..=1).all(|dj| {
                            (-1isize..=1).all(|di| {
                                let (x, y, z) = (i as isize + di, j as isize + dj, k as isize + dk);
                                let inside = x >= 0 && y >= 0 && z >= 0;
                                !inside
                                    || x as usize >= nx
                                    || y as usize >= ny
                                    || z as usize >= nz
                                    || map.data[g.index(x as usize, y as usize, z as usize)] <= value
                            })
                        })
                    });
                    if is_maximum {
                        best = value as f64;
                    }
                }
            }
            best
        })
        .reduce(|| f64::MIN, f64::max);
    (weakest, strongest, weakest / strongest)
}

fn main() {
    let Some(case) = large_case() else { return };
    if !case.join("half1.mrc").exists() {
        eprintln!("SKIPPED: {} has no half maps (make it with make_large_case.py)", case.display());
        return;
    }
    let out = tempfile::tempdir().expect("temporary folder");
    let map = read_map(case.join("map.mrc")).expect("large case map").map;
    let map_mib = map.data.len() as f64 * 4.0 / (1024.0 * 1024.0);
    let dims = map.geometry.dims;
    println!("large case {}: {}x{}x{} map ({map_mib:.0} MiB as float32)", case.display(), dims[0], dims[1], dims[2]);
    let groups = removed_groups(&case);
    for model in ["model.pdb", "model.cif"] {
        let positions: Vec<[f64; 3]> = read_model(case.join(model)).expect("large case model").positions();
        let single_path = out.path().join(format!("single_{model}.ccp4"));
        let half_path = out.path().join(format!("half_{model}.ccp4"));
        // The machine's speed drifts by ±20% over minutes: single and half runs alternate, and
        // each ratio compares a pair of neighbouring runs.
        let mut pairs: Vec<(OurRun, OurRun, f64)> = Vec::new();
        for _ in 0..3 {
            let fft_pair = fft_pair_seconds(&map);
            let Some(single) = run_ours(&case, model, &["map.mrc"], &single_path) else { break };
            let Some(half) = run_ours(&case, model, &["half1.mrc", "half2.mrc"], &half_path) else { break };
            pairs.push((single, half, fft_pair));
        }
        if pairs.len() < 3 {
            continue;
        }
        pairs.sort_by(|a, b| (a.1.wall / a.0.wall).total_cmp(&(b.1.wall / b.0.wall)));
        let ratios: Vec<String> = pairs.iter().map(|(s, h, _)| format!("{:.2}", h.wall / s.wall)).collect();
        let (single, half, fft_pair) = &pairs[1];
        println!(
            "\n{model}: half maps {:.2} s / single map {:.2} s = {:.2}x (median pair; all pairs {}), \
             peak memory {:.0} / {:.0} MiB = {:.2}x the map",
            half.wall,
            single.wall,
            half.wall / single.wall,
            ratios.join(", "),
            half.rss_mib,
            single.rss_mib,
            half.rss_mib / map_mib
        );
        println!("    half-map stages, FFT pair beside them {fft_pair:.3} s:");
        for (stage, seconds) in &half.stages {
            println!("    {stage:<40} {seconds:>6.2} s = {:>5.2} FFT pairs", seconds / fft_pair);
        }

        // Residues flagged in negative density: the model is exact apart from the removed
        // hemes, so every flag is false; near them (within 8 Å) a flag is the fit's absorption
        // of the missing density, far from them chance (at most the false discovery rate's
        // share of the flags with half maps).
        let removed: Vec<[f64; 3]> = groups.iter().flat_map(|(_, atoms)| atoms.iter().copied()).collect();
        let model_read = read_model(case.join(model)).expect("large case model");
        for (name, run) in [("single map", single), ("half maps", half)] {
            let (mut near_flags, mut far_flags) = (0, 0);
            for residue in run.report.residues.iter().filter(|r| r.in_negative_density) {
                let distance = model_read
                    .atoms
                    .iter()
                    .filter(|a| {
                        let r = model_read.residue_of(a);
                        r.chain == residue.chain && r.number == residue.residue_number && r.name == residue.residue_name
                    })
                    .flat_map(|a| {
                        removed.iter().map(move |p| (0..3).map(|i| (a.position[i] - p[i]).powi(2)).sum::<f64>().sqrt())
                    })
                    .fold(f64::INFINITY, f64::min);
                if distance < 8.0 { near_flags += 1 } else { far_flags += 1 }
            }
            let flags = &run.report.residue_flags;
            println!(
                "    {name}: residues flagged ({} rule{}): {near_flags} within 8 Å of a removed heme, {far_flags} farther, \
                 of {} scored",
                flags.rule,
                flags.fdr.map_or(String::new(), |rate| format!(" at {rate}")),
                flags.scored
            );
        }

        let servalcat_dir = out.path().join(format!("servalcat_{model}"));
        let servalcat = run_servalcat(&case, model, "half1.mrc,half2.mrc", "3.2", &servalcat_dir);
        let mut maps = vec![("ours, single map", read_map(&single_path).unwrap().map)];
        maps.push(("ours, half maps (z)", read_map(&half_path).unwrap().map));
        if let Some((wall, rss)) = servalcat {
            println!(
                "    servalcat fofc --halfmaps, same files: {wall:.2} s, {rss:.0} MiB: ours is {:.2}x faster, {:.2}x \
                 less memory",
                wall / half.wall,
                rss / half.rss_mib
            );
            // servalcat's map is on the input grid; it is placed like the input map.
            match read_map(servalcat_dir.join("delfwt.mrc")) {
                Ok(read) if read.map.geometry.dims == map.geometry.dims => {
                    maps.push(("servalcat --halfmaps", map.with_data(read.map.data)))
                }
                _ => println!("    servalcat's delfwt.mrc is missing or not on the map's grid"),
            }
        } else {
            println!("    servalcat fofc --halfmaps: not run (no reference venv)");
        }
        println!("    contrast (weakest removed heme / strongest positive local maximum > 3 Å from them):");
        for (name, result) in &maps {
            let (weakest, strongest, ratio) = contrast(result, &groups);
            let far = far_from_model_statistics(&result.data, &result.geometry, &positions, 8.0);
            // Heights in units of the sd far from the model, so that the three maps compare.
            let (far_text, sd) = match far {
                Some(f) => (format!("mean {:.3} sd {:.3} (map units)", f.mean, f.sd), f.sd),
                None => ("none".to_string(), 1.0),
            };
            println!(
                "    {name:<22} contrast {ratio:.2} (heme {:.2}, elsewhere {:.2} far-sd); > 8 Å from the model: \
                 {far_text}",
                weakest / sd,
                strongest / sd
            );
        }
    }
}
