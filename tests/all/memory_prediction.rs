//! The peak memory a run predicts from the map's header and the model file's size
//! (`limits::job_memory`: what a run checks against `max_memory=` before reading the map, and
//! what a batch admits its entries by) is within 10% of the peak it then reaches (VmHWM, the
//! report's `peak_memory_mb`), on sizes other than those it was fitted on, cubic and not, with
//! one map and with half maps; and a run whose prediction exceeds the limit is refused before
//! it reads the map, naming both figures.

use real_space_diff_map::grid::{GridGeometry, Map, MapHeader};
use real_space_diff_map::io::ccp4::write_map;
use real_space_diff_map::limits::{job_memory, model_file_bytes};
use std::path::Path;
use std::process::Command;

/// A map of noise (xorshift, so that no two maps are alike) at 1.05 Å with its origin at 0.
fn noise_map(dims: [usize; 3], seed: u64) -> Map {
    let geometry = GridGeometry { dims, voxel_size: [1.05; 3], first_voxel_centre: [0.0; 3] };
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..geometry.len())
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    Map { header: MapHeader::for_geometry(&geometry), geometry, data }
}

fn run(dir: &Path, args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_real_space_diff_map")).current_dir(dir).args(args).output().unwrap()
}

pub fn the_predicted_peak_memory_is_within_ten_percent_of_the_measured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = crate::common::testdata("ligand_pocket/model.pdb");
    let mut worst: f64 = 0.0;
    for (n, dims) in [[160, 160, 160], [224, 224, 224], [288, 256, 224]].into_iter().enumerate() {
        for half in [false, true] {
            let maps: Vec<String> = if half {
                for k in 0..2 {
                    write_map(d.join(format!("h{k}.mrc")), &noise_map(dims, 2 * n as u64 + k), "half", &[]).unwrap();
                }
                vec!["half_map=h0.mrc".into(), "half_map=h1.mrc".into()]
            } else {
                write_map(d.join("map.mrc"), &noise_map(dims, 100 + n as u64), "map", &[]).unwrap();
                vec!["map.mrc".into()]
            };
            let mut args = vec![model.display().to_string()];
            args.extend(maps);
            args.extend(
                ["resolution=3.2", "output=out.ccp4", "json=r.json", "quiet=true", "viewer=false", "pictures=0"]
                    .map(String::from),
            );
            let out = run(d, &args);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let report: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
            let Some(measured) = report["peak_memory_mb"].as_f64() else {
                eprintln!("SKIPPED the_predicted_peak_memory_is_within_ten_percent_of_the_measured: no VmHWM here");
                return;
            };
            let predicted =
                job_memory(dims, [1.05; 3], 3.2, half, model_file_bytes(&model)).unwrap() as f64 / (1u64 << 20) as f64;
            let error = predicted / measured - 1.0;
            eprintln!(
                "{dims:?} {}: predicted {predicted:.0} MiB, measured {measured:.0} MiB ({:+.1}%)",
                if half { "half maps" } else { "one map" },
                100.0 * error
            );
            assert!(
                error.abs() <= 0.10,
                "{dims:?} half={half}: predicted {predicted:.0} MiB, measured {measured:.0} MiB"
            );
            worst = worst.max(error.abs());
        }
    }
    eprintln!("largest prediction error {:.1}%", 100.0 * worst);
    // Beyond the limit: refused from the header, before the map is read, both figures named.
    let out = run(
        d,
        &[
            model.display().to_string(),
            "map.mrc".into(),
            "resolution=3.2".into(),
            "max_memory=100M".into(),
            "output=x.ccp4".into(),
        ],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !d.join("x.ccp4").exists(), "{said}");
    assert!(
        said.contains("would need") && said.contains("MiB of memory") && said.contains("the limit of 100 MiB"),
        "{said}"
    );
}
