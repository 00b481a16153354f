#![allow(clippy::needless_range_loop)]
//! The difference map on real and synthetic data: independence from where the box starts,
//! known answers (removed atoms are the strongest positive features), agreement with the ideal
//! difference map and with the reference tool, and every shared case running.

use crate::common;
use real_space_diff_map::Map;
use real_space_diff_map::density::mask::envelope_mask;
use real_space_diff_map::difference::{DifferenceOptions, Variant, compute_difference_map};
use real_space_diff_map::io::ccp4::{read_map, read_map_bytes};
use real_space_diff_map::io::model::read_model;
use std::path::Path;

fn difference(model: &Path, map: &Map, d_min: f64) -> Map {
    let model = read_model(model).unwrap();
    compute_difference_map(&model, map.clone(), &DifferenceOptions::new(d_min)).unwrap().complex.unwrap()
}

/// Compares the difference map of a cropped box with the full one near the model (within 3 Å),
/// skipping voxels closer than `keep_away` Å to the new (cropped) faces: (rms, max) in sd.
///
/// With `same_sigma`, both maps are put on the full map's sigma first: cropping a box that the
/// model fills removes part of the envelope, which changes the sd it is normalised by (reported)
/// without changing the fit.
fn crop_dependence(
    model_path: &Path,
    map_path: &Path,
    d_min: f64,
    crop: [usize; 3],
    keep_away: f64,
    same_sigma: bool,
) -> (f64, f64, usize) {
    let map = read_map(map_path).unwrap().map;
    let dims = map.geometry.dims;
    let cropped = map.crop(crop, std::array::from_fn(|a| dims[a] - crop[a])).unwrap();
    assert_ne!(cropped.header.nstart, map.header.nstart, "placement moves into NSTART");
    let model = read_model(model_path).unwrap();
    let options = DifferenceOptions::new(d_min);
    let full_result = compute_difference_map(&model, map.clone(), &options).unwrap();
    let part_result = compute_difference_map(&model, cropped, &options).unwrap();
    let full = full_result.complex.unwrap();
    let mut part = part_result.complex.unwrap();
    eprintln!("  sigma: full box {:.5}, cropped {:.5}", full_result.sigma, part_result.sigma);
    if same_sigma {
        let ratio = (part_result.sigma / full_result.sigma) as f32;
        part.data.iter_mut().for_each(|v| *v *= ratio);
    }
    let near = envelope_mask(&model, &part.geometry, 3.0);
    let g = part.geometry;
    let skip: [usize; 3] =
        std::array::from_fn(|a| if crop[a] > 0 { (keep_away / g.voxel_size[a]).ceil() as usize } else { 0 });
    let (mut sum, mut worst, mut n) = (0.0f64, 0.0f64, 0usize);
    for k in skip[2]..g.dims[2] {
        for j in skip[1]..g.dims[1] {
            for i in skip[0]..g.dims[0] {
                if !near[g.index(i, j, k)] {
                    continue;
                }
                let d = (part.at(i, j, k) - full.at(i + crop[0], j + crop[1], k + crop[2])) as f64;
                sum += d * d;
                worst = worst.max(d.abs());
                n += 1;
            }
        }
    }
    ((sum / n as f64).sqrt(), worst, n)
}

pub fn result_does_not_depend_on_where_the_box_starts() {
    let Some(shared) = common::shared_dir("result_does_not_depend_on_where_the_box_starts") else {
        return;
    };
    // Actin: the box start moves 24 Å along X and Y, where the model leaves room (along Z the
    // model reaches within 3.4 Å of the face, so cropping there would remove data next to atoms).
    let (rms, max, n) = crop_dependence(
        &shared.join("data/actin_emd5168/1J6Z.pdb"),
        &shared.join("data/actin_emd5168/emd_5168.map"),
        6.6,
        [14, 14, 0],
        0.0,
        false,
    );
    eprintln!(
        "actin, first 14 voxels of X and Y cropped: rms {rms:.4} sd, max {max:.4} sd over {n} voxels near the model"
    );
    assert!(rms <= 0.01 && max <= 0.25, "actin: rms {rms} max {max}");
    // The amplitude variant works in blended tiles, anchored to absolute voxel positions so that
    // they do not move with the box start.
    let map = read_map(shared.join("data/actin_emd5168/emd_5168.map")).unwrap().map;
    let model = read_model(shared.join("data/actin_emd5168/1J6Z.pdb")).unwrap();
    let options = DifferenceOptions { variant: Variant::Amplitude, ..DifferenceOptions::new(6.6) };
    let cropped = map.crop([14, 14, 0], [86, 86, 100]).unwrap();
    let full = compute_difference_map(&model, map, &options).unwrap().amplitude.unwrap();
    let part = compute_difference_map(&model, cropped, &options).unwrap().amplitude.unwrap();
    let near = envelope_mask(&model, &part.geometry, 3.0);
    let (mut sum, mut worst, mut n) = (0.0f64, 0.0f64, 0usize);
    for k in 0..100 {
        for j in 0..86 {
            for i in 0..86 {
                if near[part.geometry.index(i, j, k)] {
                    let d = (part.at(i, j, k) - full.at(i + 14, j + 14, k)) as f64;
                    sum += d * d;
                    worst = worst.max(d.abs());
                    n += 1;
                }
            }
        }
    }
    let rms = (sum / n as f64).sqrt();
    eprintln!("actin, amplitude variant, same crop: rms {rms:.4} sd, max {worst:.4} sd");
    assert!(rms <= 0.01 && worst <= 0.25, "amplitude variant: rms {rms} max {worst}");
    // Boxes that the model fills: the data next to the new faces is gone, so compare at least
    // half a window plus the resolution edge's reach away from them. Tiles would still show here.
    for (model, map, d_min) in [
        ("synthetic/4a7h/model_trunc.pdb", "synthetic/4a7h/map.mrc", 2.9),
        ("data/mitoribo_emd2566_3j6b/3J6B_9.pdb", "data/mitoribo_emd2566_3j6b/2566_3J6B_9.mrc", 3.2),
    ] {
        let keep_away = DifferenceOptions::new(d_min).scaling.window / 2.0 + 2.0 * d_min;
        let (rms, max, n) = crop_dependence(&shared.join(model), &shared.join(map), d_min, [5, 5, 5], keep_away, true);
        eprintln!(
            "{map}: first 5 voxels cropped: rms {rms:.4} sd, max {max:.4} sd over {n} voxels near the model, >= {keep_away:.1} Å from the new faces"
        );
        assert!(n > 1000, "{map}: too few voxels compared ({n})");
        // Mitoribo's box is 47 Å wide: 16 Å from the mirrored new face, the ringing of the
        // resolution edge has not fully faded (measured rms 0.015, max 0.07).
        let rms_limit = if map.contains("mitoribo") { 0.02 } else { 0.01 };
        assert!(rms <= rms_limit && max <= 0.25, "{map}: rms {rms} max {max}");
    }
}

/// Max value within `radius` of any of `points`, and the max over voxels farther than `far` from
/// all of `all_points`.
fn near_and_far(map: &Map, points: &[[f64; 3]], all_points: &[[f64; 3]], radius: f64, far: f64) -> (f64, f64) {
    let g = &map.geometry;
    let (mut near_max, mut far_max) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for k in 0..g.dims[2] {
        for j in 0..g.dims[1] {
            for i in 0..g.dims[0] {
                let c = g.voxel_centre(i, j, k);
                let d2 = |p: &[f64; 3]| (0..3).map(|a| (c[a] - p[a]).powi(2)).sum::<f64>();
                let v = map.at(i, j, k) as f64;
                if points.iter().any(|p| d2(p) <= radius * radius) {
                    near_max = near_max.max(v);
                }
                if all_points.iter().all(|p| d2(p) > far * far) {
                    far_max = far_max.max(v);
                }
            }
        }
    }
    (near_max, far_max)
}

pub fn removed_atoms_are_the_strongest_positive_features() {
    let Some(shared) = common::shared_dir("removed_atoms_are_the_strongest_positive_features") else {
        return;
    };
    for case in ["4a7h", "1ahq_heme"] {
        let dir = shared.join("synthetic").join(case);
        let groups = common::removed_groups(&dir.join("removed_atoms.json"))
            .into_iter()
            .map(|g| (g.id, g.atoms))
            .collect::<Vec<_>>();
        let all: Vec<[f64; 3]> = groups.iter().flat_map(|g| g.1.clone()).collect();
        let truth = read_map(dir.join("truth_removed.mrc")).unwrap().map;
        for (model, map) in
            [("model_trunc.pdb", "map.mrc"), ("model_trunc.pdb", "zyx/map.mrc"), ("model_trunc.cif", "map.mrc")]
        {
            let input = read_map(dir.join(map)).unwrap().map;
            let result = difference(&dir.join(model), &input, 2.9);
            let mut weakest = f64::INFINITY;
            for (id, points) in &groups {
                let (near, far) = near_and_far(&result, points, &all, 1.5, 3.0);
                eprintln!("{case} {map}: {id}: max {near:.2} sd within 1.5 Å; strongest elsewhere {far:.2} sd");
                weakest = weakest.min(near / far);
            }
            // Correlation with the ideal (noise-free) difference map over the full model's envelope
            // (3 Å around the truncated model and the removed atoms): the synthetic map carries
            // noise everywhere, so the whole box would measure mostly noise.
            let full_model = read_model(dir.join("model_full.pdb")).unwrap();
            let envelope = envelope_mask(&full_model, &result.geometry, 3.0);
            let pick = |m: &Map| -> Vec<f64> {
                m.data.iter().zip(&envelope).filter(|(_, e)| **e).map(|(v, _)| *v as f64).collect()
            };
            let cc = common::correlation(&pick(&result), &pick(&truth));
            let cc_box = common::correlation(
                &result.data.iter().map(|&v| v as f64).collect::<Vec<_>>(),
                &truth.data.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            );
            eprintln!(
                "{case} {map} ({model}): contrast {weakest:.2}, CC with truth_removed {cc:.3} in the envelope, {cc_box:.3} whole box"
            );
            assert!(weakest > 1.0, "{case}: a removed group is weaker than a feature elsewhere");
            assert!(cc > 0.3, "{case}: CC with the ideal difference map {cc}");
        }
        // The amplitude variant finds them too.
        let model = read_model(dir.join("model_trunc.pdb")).unwrap();
        let options = DifferenceOptions { variant: Variant::Amplitude, ..DifferenceOptions::new(2.9) };
        let result = compute_difference_map(&model, read_map(dir.join("map.mrc")).unwrap().map, &options).unwrap();
        assert!(result.complex.is_none());
        let amplitude = result.amplitude.unwrap();
        let mut weakest = f64::INFINITY;
        for (_, points) in &groups {
            let (near, far) = near_and_far(&amplitude, points, &all, 1.5, 3.0);
            weakest = weakest.min(near / far);
        }
        eprintln!("{case} amplitude variant: contrast {weakest:.2}");
        assert!(weakest > 1.0, "{case}: amplitude variant contrast {weakest}");
    }
}

/// Reads a cctbx output from ../shared, repairing the 22 bytes cut out of its first label
/// (see tests/map_reference_values.rs).
fn read_cctbx(path: &Path) -> Map {
    match read_map(path) {
        Ok(r) => r.map,
        Err(_) => {
            let repaired = common::repair_cut_label(&std::fs::read(path).unwrap()).expect("the known label cut");
            read_map_bytes(&repaired, path).unwrap().map
        }
    }
}

pub fn agrees_with_the_reference_tool_and_every_shared_case_runs() {
    let Some(shared) = common::shared_dir("agrees_with_the_reference_tool_and_every_shared_case_runs") else {
        return;
    };
    let spike = "data/spike_emd21457_seg";
    for (model, map, d_min, reference) in [
        (
            format!("{spike}/6vyb_Ndom_noNAG.pdb"),
            format!("{spike}/emd_21457_seg.mrc"),
            3.2,
            "reference/spike_emd21457_seg/cctbx_seg",
        ),
        (
            format!("{spike}/6vyb_Ndom_noNAG.pdb"),
            format!("{spike}/emd_21457_seg_nstart.mrc"),
            3.2,
            "reference/spike_emd21457_seg/cctbx_seg_nstart",
        ),
        (
            format!("{spike}/6vyb_Ndom_shifted_noNAG.pdb"),
            format!("{spike}/emd_21457_seg_orig0.mrc"),
            3.2,
            "reference/spike_emd21457_seg/cctbx_seg_orig0",
        ),
        (
            format!("{spike}/6vyb_Ndom_noNAG.cif"),
            format!("{spike}/emd_21457_seg.mrc"),
            3.2,
            "reference/spike_emd21457_seg/cctbx_seg_cifmodel",
        ),
        (
            "data/mitoribo_emd2566_3j6b/3J6B_9.pdb".into(),
            "data/mitoribo_emd2566_3j6b/2566_3J6B_9.mrc".into(),
            3.2,
            "reference/mitoribo_emd2566_3j6b/cctbx",
        ),
        (
            "data/actin_emd5168/1J6Z.pdb".into(),
            "data/actin_emd5168/emd_5168.map".into(),
            6.6,
            "reference/actin_emd5168/cctbx_emd5168",
        ),
        (
            "data/actin_emd5168/1J6Z.pdb".into(),
            "data/actin_emd5168/emd_5168_monomer.mrc".into(),
            6.6,
            "reference/actin_emd5168/cctbx_emd5168_monomer",
        ),
    ] {
        let input = read_map(shared.join(&map)).unwrap().map;
        let ours = difference(&shared.join(&model), &input, d_min);
        assert_eq!(ours.geometry, input.geometry);
        assert!(ours.data.iter().all(|v| v.is_finite()));
        let cctbx = read_cctbx(&shared.join(reference).join("map_model_difference_1.ccp4"));
        assert_eq!(cctbx.geometry.dims, input.geometry.dims);
        let model = read_model(shared.join(&model)).unwrap();
        let near = envelope_mask(&model, &input.geometry, 3.0);
        let pick = |m: &Map, mask: bool| -> Vec<f64> {
            m.data.iter().zip(&near).filter(|(_, n)| **n || !mask).map(|(v, _)| *v as f64).collect()
        };
        let cc_near = common::correlation(&pick(&ours, true), &pick(&cctbx, true));
        let cc_all = common::correlation(&pick(&ours, false), &pick(&cctbx, false));
        eprintln!(
            "{map}: CC with cctbx map_model_difference_1: {cc_near:.3} within 3 Å of the model, {cc_all:.3} whole box"
        );
        assert!(cc_near > 0.3, "{map}: {cc_near}");
    }
}

pub fn the_same_case_in_another_frame_gives_the_same_map() {
    let Some(shared) = common::shared_dir("the_same_case_in_another_frame_gives_the_same_map") else {
        return;
    };
    for case in ["4a7h", "1ahq_heme"] {
        let dir = shared.join("synthetic").join(case);
        let origin0 = difference(&dir.join("model_trunc.pdb"), &read_map(dir.join("map.mrc")).unwrap().map, 2.9);
        // Model in its original coordinates, map placed by a non-zero NSTART with MX != NX.
        let nz_map = read_map(dir.join("nzorigin/map.mrc")).unwrap().map;
        let moved = difference(&dir.join("nzorigin/model_trunc.pdb"), &nz_map, 2.9);
        assert_eq!(moved.header.nstart, nz_map.header.nstart);
        let worst = origin0.data.iter().zip(&moved.data).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        eprintln!("{case}: origin-0 vs non-zero NSTART frame: max difference {worst:.2e} sd");
        assert!(worst < 2e-3, "{case}: {worst}");
    }
}

pub fn local_relative_b_is_fitted_on_request() {
    let Some(shared) = common::shared_dir("local_relative_b_is_fitted_on_request") else {
        return;
    };
    let dir = shared.join("synthetic/1ahq_heme");
    let model = read_model(dir.join("model_trunc.pdb")).unwrap();
    let options = DifferenceOptions { local_b: true, ..DifferenceOptions::new(2.9) };
    let result = compute_difference_map(&model, read_map(dir.join("map.mrc")).unwrap().map, &options).unwrap();
    let b = result.local.relative_b_percentiles.expect("B percentiles when fitted");
    assert!(b[0] >= -30.0 && b[2] <= 60.0 && b[0] <= b[1] && b[1] <= b[2], "{b:?}");
    let map = result.complex.unwrap();
    let groups = common::removed_groups(&dir.join("removed_atoms.json"))
        .into_iter()
        .map(|g| (g.id, g.atoms))
        .collect::<Vec<_>>();
    let all: Vec<[f64; 3]> = groups.iter().flat_map(|g| g.1.clone()).collect();
    let (near, far) = near_and_far(&map, &groups[0].1, &all, 1.5, 3.0);
    eprintln!("heme with local B: {near:.2} sd at the heme, {far:.2} sd elsewhere; B percentiles {b:?}");
    assert!(near > far);
}
