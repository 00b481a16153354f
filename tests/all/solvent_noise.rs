//! `solvent_noise=true`: a single map's noise spectrum measured in its solvent weights the
//! difference by resolution shell. It must raise the removed groups above everything else on
//! the synthetic entries (unmasked, noise in the solvent), and leave a masked map alone.

use crate::common;
use real_space_diff_map::difference::{DifferenceOptions, compute_difference_map};
use real_space_diff_map::io::ccp4::{read_map, write_map};
use real_space_diff_map::io::model::read_model;
use real_space_diff_map::scaling::noise::mark_near_atoms;
use real_space_diff_map::{GridGeometry, Map};
use std::process::Command;

/// Voxels within `radius` of any of `points`.
fn near(geometry: &GridGeometry, points: &[[f64; 3]], radius: f64) -> Vec<bool> {
    mark_near_atoms(geometry, 1, points, radius).1
}

/// Median difference at the removed atoms over the largest value farther than 5 Å from them.
fn contrast(map: &Map, removed: &[[f64; 3]]) -> f64 {
    let mut at_atoms: Vec<f64> = removed.iter().filter_map(|p| map.interpolate(*p)).collect();
    at_atoms.sort_by(f64::total_cmp);
    let close = near(&map.geometry, removed, 5.0);
    let elsewhere = map.data.iter().zip(&close).filter(|(_, c)| !**c).map(|(v, _)| *v as f64).fold(f64::MIN, f64::max);
    at_atoms[at_atoms.len() / 2] / elsewhere
}

pub fn solvent_noise_raises_the_removed_groups_on_unmasked_synthetic_maps() {
    let Some(shared) = common::shared_dir("solvent_noise_raises_the_removed_groups_on_unmasked_synthetic_maps") else {
        return;
    };
    for case in ["4a7h", "1ahq_heme"] {
        let dir = shared.join("synthetic").join(case);
        let model = read_model(dir.join("model_trunc.pdb")).unwrap();
        let removed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("removed_atoms.json")).unwrap()).unwrap();
        let removed: Vec<[f64; 3]> = removed["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| std::array::from_fn(|i| a["xyz"][i].as_f64().unwrap()))
            .collect();
        let map = read_map(dir.join("map.mrc")).unwrap().map;
        let mut options = DifferenceOptions::new(3.0);
        let plain = compute_difference_map(&model, map.clone(), &options).unwrap();
        options.solvent_noise = true;
        let weighted = compute_difference_map(&model, map, &options).unwrap();
        let summary = weighted.solvent_noise.as_ref().unwrap();
        assert!(summary.applied, "{case}: {:?}", weighted.warnings);
        let (before, after) = (
            contrast(plain.complex.as_ref().unwrap(), &removed),
            contrast(weighted.complex.as_ref().unwrap(), &removed),
        );
        eprintln!("{case}: contrast {before:.2} without, {after:.2} with the solvent noise weight");
        // (The robust local fit raised the unweighted contrast, 2.8 -> 3.2 on the heme, more
        // than the weighted one's measure here: the gain is now 1.30x there.)
        assert!(after > 1.25 * before, "{case}: {before} -> {after}");
    }
}

pub fn a_masked_map_is_left_alone_and_half_maps_refuse_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let model_path = common::testdata("6vyb_Ndom_noNAG.pdb");
    let model = read_model(&model_path).unwrap();
    let map = read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map;
    // Flatten everything farther than 6 Å from the model, as a deposited masked map is.
    let positions: Vec<[f64; 3]> = model.positions();
    let inside = near(&map.geometry, &positions, 6.0);
    let masked = map.with_data(map.data.iter().zip(&inside).map(|(v, i)| if *i { *v } else { 0.0 }).collect());
    write_map(dir.path().join("masked.mrc"), &masked, "masked", &[]).unwrap();
    let run = |extra: &[&str], output: &str| {
        Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
            .current_dir(dir.path())
            .arg(&model_path)
            .args(["masked.mrc", "resolution=3.2", &format!("output={output}")])
            .args(extra)
            .output()
            .unwrap()
    };
    let plain = run(&[], "plain.mrc");
    let solvent = run(&["solvent_noise=true"], "solvent.mrc");
    assert!(plain.status.success() && solvent.status.success());
    let console = String::from_utf8_lossy(&solvent.stderr).to_string() + &String::from_utf8_lossy(&solvent.stdout);
    assert!(console.contains("solvent is flat") || console.contains("too little"), "{console}");
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap()[1024..].to_vec();
    assert_eq!(read("plain.mrc"), read("solvent.mrc"), "the weight was skipped, the map is unchanged");

    let (h1, h2) = common::halves(&map, |_| 0.5);
    write_map(dir.path().join("h1.mrc"), &h1, "half 1", &[]).unwrap();
    write_map(dir.path().join("h2.mrc"), &h2, "half 2", &[]).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(dir.path())
        .arg(&model_path)
        .args(["half_map=h1.mrc", "half_map=h2.mrc", "resolution=3.2", "solvent_noise=true", "output=x.mrc"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("solvent_noise"));
    assert!(!dir.path().join("x.mrc").exists());
}
