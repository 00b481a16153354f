#![allow(clippy::needless_range_loop)]
//! Peaks and per-residue scores on data with known answers, and the JSON/CSV reports.

use crate::common;
use real_space_diff_map::Map;
use real_space_diff_map::analysis::peaks::{FlagRule, Peak, find_blobs, score_residues};
use real_space_diff_map::difference::{DifferenceOptions, compute_difference_map};
use real_space_diff_map::io::ccp4::read_map;
use real_space_diff_map::io::model::read_model;
use serde_json::Value;

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The blob covering the strongest voxel within 1.5 Å of `atoms`, with its rank among the
/// positive blobs (1-based); `None` when that voxel is below the threshold.
fn blob_at<'a>(map: &Map, peaks: &'a [Peak], labels: &[u32], atoms: &[[f64; 3]]) -> Option<(usize, &'a Peak)> {
    let g = &map.geometry;
    let mut best: Option<(f32, usize)> = None;
    for k in 0..g.dims[2] {
        for j in 0..g.dims[1] {
            for i in 0..g.dims[0] {
                let c = g.voxel_centre(i, j, k);
                if atoms.iter().any(|a| distance(*a, c) <= 1.5) {
                    let index = g.index(i, j, k);
                    if best.is_none_or(|(v, _)| map.data[index] > v) {
                        best = Some((map.data[index], index));
                    }
                }
            }
        }
    }
    let label = labels[best?.1] as usize;
    if label == 0 {
        return None;
    }
    let peak = &peaks[label - 1];
    let rank = peaks[..label].iter().filter(|p| p.height > 0.0).count();
    Some((rank, peak))
}

fn removed_atoms(json: &Value, key: &str) -> Vec<(String, isize, [f64; 3])> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<(String, isize, [f64; 3])>, atom: &Value, id: String, number: isize| {
        let xyz = atom["xyz"].as_array().unwrap();
        out.push((id, number, [xyz[0].as_f64().unwrap(), xyz[1].as_f64().unwrap(), xyz[2].as_f64().unwrap()]));
    };
    if key == "removed" {
        for atom in json["removed"].as_array().unwrap() {
            let number = atom["resnum"].as_i64().unwrap() as isize;
            push(
                &mut out,
                atom,
                format!("{}/{}{}", atom["chain"].as_str().unwrap(), atom["resname"].as_str().unwrap(), number),
                number,
            );
        }
    } else {
        for group in json["groups"].as_array().unwrap() {
            let id = group["id"].as_str().unwrap().to_string();
            let number: isize = id.rsplit('/').next().unwrap().parse().unwrap_or(0);
            for atom in group["atoms"].as_array().unwrap() {
                push(&mut out, atom, id.clone(), number);
            }
        }
    }
    out
}

pub fn removed_groups_are_the_top_positive_blobs_with_the_right_neighbours() {
    let Some(shared) = common::shared_dir("removed_groups_are_the_top_positive_blobs_with_the_right_neighbours") else {
        return;
    };
    for case in ["4a7h", "1ahq_heme"] {
        let dir = shared.join("synthetic").join(case);
        let model = read_model(dir.join("model_trunc.pdb")).unwrap();
        let map = read_map(dir.join("map.mrc")).unwrap().map;
        let difference = compute_difference_map(&model, map, &DifferenceOptions::new(2.9)).unwrap().complex.unwrap();
        let (peaks, labels) = find_blobs(&difference, 3.0, Some(&model));
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("removed_atoms.json")).unwrap()).unwrap();
        let removed = removed_atoms(&json, "removed");
        let mut groups: Vec<(String, isize)> = Vec::new();
        for (id, n, _) in &removed {
            if !groups.iter().any(|g| &g.0 == id) {
                groups.push((id.clone(), *n));
            }
        }
        let positive = peaks.iter().filter(|p| p.height > 0.0).count();
        for (id, number) in &groups {
            let atoms: Vec<[f64; 3]> = removed.iter().filter(|r| &r.0 == id).map(|r| r.2).collect();
            let (rank, peak) =
                blob_at(&difference, &peaks, &labels, &atoms).unwrap_or_else(|| panic!("{case}: no blob at {id}"));
            let near = peak.nearest_atom.as_ref().unwrap();
            eprintln!(
                "{case}: {id}: positive blob rank {rank}/{positive}, {:.2} sigma, {:.0} Å³; nearest atom {}/{}{}/{} at {:.2} Å",
                peak.height,
                peak.volume,
                near.chain,
                near.residue_name,
                near.residue_number,
                near.atom_name,
                near.distance
            );
            // Adjacent removed residues merge into one blob: every group is within the top blobs.
            assert!(rank <= groups.len(), "{case}: {id} is blob {rank}");
            // The nearest atom is the true nearest (brute force) and close by.
            let brute = model.atoms.iter().map(|a| distance(a.position, peak.position)).fold(f64::INFINITY, f64::min);
            assert!((near.distance - brute).abs() < 1e-9, "{case}: {id}: nearest-atom lookup");
            assert!(near.distance < 5.0, "{case}: {id}: blob {:.2} Å from the model", near.distance);
            // A removed side chain's blob names its own residue (its backbone is still modelled).
            if id.starts_with("C/TRP") {
                assert_eq!((near.residue_name.as_str(), near.residue_number), ("TRP", *number), "{case}: {id}");
            }
        }
    }
}

pub fn spike_nag_blobs_name_their_asparagines() {
    let Some(shared) = common::shared_dir("spike_nag_blobs_name_their_asparagines") else { return };
    let dir = shared.join("data/spike_emd21457_seg");
    let model = read_model(dir.join("6vyb_Ndom_noNAG.pdb")).unwrap();
    let map = read_map(dir.join("emd_21457_seg.mrc")).unwrap().map;
    let difference = compute_difference_map(&model, map, &DifferenceOptions::new(3.2)).unwrap().complex.unwrap();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("removed_atoms.json")).unwrap()).unwrap();
    let removed = removed_atoms(&json, "groups");
    // LINK records of 6vyb_Ndom.pdb: NAG 1301 on ASN 61, 1302 on ASN 122, 1305 on ASN 282.
    let asparagine = |nag: isize| match nag {
        1301 => 61,
        1302 => 122,
        _ => 282,
    };
    // The segment is masked to zero outside Chimera's segmentation, which cuts most glycan
    // density (3-4 sigma also in the reference tool). Report at the default 3 sigma and at 2.5.
    for threshold in [3.0, 2.5] {
        let (peaks, labels) = find_blobs(&difference, threshold, Some(&model));
        let positive = peaks.iter().filter(|p| p.height > 0.0).count();
        let (mut found, mut named) = (0, 0);
        for nag in [1301, 1302, 1305] {
            let atoms: Vec<[f64; 3]> = removed.iter().filter(|r| r.1 == nag).map(|r| r.2).collect();
            match blob_at(&difference, &peaks, &labels, &atoms) {
                Some((rank, peak)) => {
                    let near = peak.nearest_atom.as_ref().unwrap();
                    eprintln!(
                        "spike NAG {nag} at {threshold} sigma: blob rank {rank}/{positive}, {:.2} sigma, nearest \
                         {}/{}{}/{} at {:.2} Å (attached to ASN {})",
                        peak.height,
                        near.chain,
                        near.residue_name,
                        near.residue_number,
                        near.atom_name,
                        near.distance,
                        asparagine(nag)
                    );
                    found += 1;
                    if near.residue_name == "ASN" && near.residue_number == asparagine(nag) {
                        named += 1;
                    }
                }
                None => eprintln!("spike NAG {nag}: no blob above {threshold} sigma at its atoms"),
            }
        }
        eprintln!("spike at {threshold} sigma: {found} NAG blobs, {named} name their asparagine");
        // At the default threshold every NAG blob found names its asparagine, and the strongest
        // NAG is found; lower thresholds merge glycan and protein density (reported above).
        if threshold == 3.0 {
            assert_eq!(found, named, "a NAG blob names another residue");
            assert!(found >= 1);
        }
    }
}

pub fn residue_scores_flag_a_misplaced_side_chain() {
    let Some(shared) = common::shared_dir("residue_scores_flag_a_misplaced_side_chain") else { return };
    // The synthetic map was made from the full model: displace one side chain of that model by
    // 3 Å, and its atoms sit in negative difference density while the rest scores near zero.
    let dir = shared.join("synthetic/4a7h");
    let mut model = read_model(dir.join("model_full.pdb")).unwrap();
    let map = read_map(dir.join("map.mrc")).unwrap().map;
    let target = model.residues.iter().position(|r| r.name == "TRP" && r.number == 363).expect("TRP 363");
    for atom in model.atoms.iter_mut().filter(|a| a.residue == target) {
        if !["N", "CA", "C", "O", "CB"].contains(&atom.name.as_str()) {
            atom.position[0] += 3.0;
        }
    }
    let difference = compute_difference_map(&model, map, &DifferenceOptions::new(2.9)).unwrap().complex.unwrap();
    let scores = score_residues(&difference, &model, FlagRule::Sigma(3.0));
    let moved = &scores[target];
    eprintln!("moved TRP 363: mean {:.2}, min {:.2}, max {:.2} sigma", moved.mean, moved.min, moved.max);
    assert!(moved.in_negative_density);
    let flagged: Vec<String> = scores
        .iter()
        .filter(|s| s.in_negative_density)
        .map(|s| format!("{}/{}{}", s.chain, s.residue_name, s.residue_number))
        .collect();
    eprintln!("flagged: {flagged:?}");
    assert!(flagged.len() <= 5, "{} residues flagged", flagged.len());
}

pub fn json_and_csv_reports_hold_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(dir.path())
        .args([
            common::testdata("6vyb_Ndom_noNAG.pdb").to_str().unwrap(),
            common::testdata("emd_21457_seg.mrc").to_str().unwrap(),
            "resolution=3.2",
            "output=d.mrc",
            "json=report.json",
            "csv=run",
            "peak_sigma=3.5",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["program"], "real_space_diff_map");
    assert_eq!(report["inputs"][1]["bytes"], 361984);
    assert_eq!(report["inputs"][1]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(report["parameters"]["resolution"], 3.2);
    assert_eq!(report["map"]["dims"], serde_json::json!([48, 40, 47]));
    assert_eq!(report["peak_search"]["threshold"], 3.5);
    let peaks = report["peaks"].as_array().unwrap();
    assert!(!peaks.is_empty());
    assert!(peaks.iter().all(|p| p["height"].as_f64().unwrap().abs() >= 3.5));
    let residues = report["residues"].as_array().unwrap().len();
    let csv_peaks = std::fs::read_to_string(dir.path().join("run_peaks.csv")).unwrap();
    let csv_residues = std::fs::read_to_string(dir.path().join("run_residues.csv")).unwrap();
    assert_eq!(csv_peaks.lines().count(), peaks.len() + 1);
    assert_eq!(csv_residues.lines().count(), residues + 1);
    // Nothing else (no temporary files) is left.
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    names.sort();
    let viewer = ["d_chimerax.cxc", "d_coot.py", "d_pictures"];
    assert_eq!(names, ["d.mrc", viewer[0], viewer[1], viewer[2], "report.json", "run_peaks.csv", "run_residues.csv"]);
}
