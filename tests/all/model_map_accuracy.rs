#![allow(clippy::needless_range_loop)]
//! The model map against independent references: direct Fourier summation of the same
//! Gaussians, gemmi's model maps in ../shared/reference, and translation invariance.

use crate::common;
use real_space_diff_map::GridGeometry;
use real_space_diff_map::density::filter::ResolutionEdge;
use real_space_diff_map::density::form_factors::electron_form_factor;
use real_space_diff_map::density::mask::envelope_mask;
use real_space_diff_map::density::model_map::{ModelMapOptions, compute_model_map};
use real_space_diff_map::io::ccp4::read_map;
use real_space_diff_map::io::model::{Atom, Model, Residue, read_model};
use std::f64::consts::PI;

/// A small synthetic model with varied elements, B and occupancies, some atoms near the faces.
fn toy_model(box_len: [f64; 3], origin: [f64; 3]) -> Model {
    let elements = [(6u8, "C"), (7, "N"), (8, "O"), (16, "S"), (1, "H"), (26, "FE")];
    let mut atoms = Vec::new();
    let mut state = 12345u64;
    let mut rand = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for n in 0..40 {
        let (z, symbol) = elements[n % elements.len()];
        atoms.push(Atom {
            position: std::array::from_fn(|a| origin[a] + rand() * box_len[a]),
            element: symbol.to_string(),
            atomic_number: z,
            occupancy: if n % 7 == 0 { 0.5 } else { 1.0 },
            b_iso: 10.0 + 60.0 * rand(),
            aniso_u: None,
            charge: 0,
            is_hydrogen: z == 1,
            name: symbol.to_string(),
            alt_loc: None,
            residue: 0,
            serial: n + 1,
        });
    }
    Model {
        atoms,
        residues: vec![Residue {
            chain: "A".into(),
            name: "TOY".into(),
            number: 1,
            insertion_code: String::new(),
            subchain: String::new(),
        }],
        warnings: Vec::new(),
        ..Model::default()
    }
}

/// The resolution-limited density of a periodic box by direct summation over every lattice
/// point of reciprocal space inside the sphere: rho(x) = (1/V) sum_s w(s) F(s) exp(2 pi i s.x),
/// F(s) = sum_atoms occ f_e(s) exp(-B s^2/4) exp(-2 pi i s.r).
fn direct_summation(model: &Model, geometry: &GridGeometry, d_min: f64, edge: ResolutionEdge) -> Vec<f64> {
    let dims = geometry.dims;
    let cell: [f64; 3] = std::array::from_fn(|a| dims[a] as f64 * geometry.voxel_size[a]);
    let volume: f64 = cell.iter().product();
    let s_max = 1.0 / d_min;
    let limit: [i64; 3] = std::array::from_fn(|a| (cell[a] * s_max).floor() as i64);
    let mut terms = Vec::new();
    for h in -limit[0]..=limit[0] {
        for k in -limit[1]..=limit[1] {
            for l in -limit[2]..=limit[2] {
                let s = [h as f64 / cell[0], k as f64 / cell[1], l as f64 / cell[2]];
                let s2 = s[0] * s[0] + s[1] * s[1] + s[2] * s[2];
                let w = edge.weight(s2.sqrt(), s_max);
                if w == 0.0 {
                    continue;
                }
                let (mut re, mut im) = (0.0, 0.0);
                for atom in &model.atoms {
                    let f = electron_form_factor(atom.atomic_number).unwrap();
                    // f_e is tabulated against sin(theta)/lambda = |s|/2.
                    let amplitude = atom.occupancy * f.at(s2.sqrt() / 2.0) * (-atom.b_iso * s2 / 4.0).exp();
                    let r: [f64; 3] = std::array::from_fn(|a| atom.position[a] - geometry.first_voxel_centre[a]);
                    let phase = -2.0 * PI * (s[0] * r[0] + s[1] * r[1] + s[2] * r[2]);
                    re += amplitude * phase.cos();
                    im += amplitude * phase.sin();
                }
                terms.push(([h, k, l], w * re / volume, w * im / volume));
            }
        }
    }
    let mut out = vec![0.0; geometry.len()];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let mut v = 0.0;
                for (hkl, re, im) in &terms {
                    let phase = 2.0
                        * PI
                        * (hkl[0] as f64 * i as f64 / dims[0] as f64
                            + hkl[1] as f64 * j as f64 / dims[1] as f64
                            + hkl[2] as f64 * k as f64 / dims[2] as f64);
                    v += re * phase.cos() - im * phase.sin();
                }
                out[geometry.index(i, j, k)] = v;
            }
        }
    }
    out
}

pub fn periodic_model_map_matches_direct_summation() {
    let geometry =
        GridGeometry { dims: [20, 18, 16], voxel_size: [1.0, 1.1, 0.95], first_voxel_centre: [5.0, -3.0, 12.0] };
    let cell: [f64; 3] = std::array::from_fn(|a| geometry.dims[a] as f64 * geometry.voxel_size[a]);
    let model = toy_model(cell, geometry.first_voxel_centre);
    for (d_min, edge) in [(3.0, ResolutionEdge::Sharp), (3.3, ResolutionEdge::RaisedCosine { width: 0.1 })] {
        let options = ModelMapOptions { d_min, edge, periodic: true, ..ModelMapOptions::new(d_min) };
        let ours = compute_model_map(&model, &geometry, &options).unwrap();
        let reference = direct_summation(&model, &geometry, d_min, edge);
        let peak = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let worst = ours.data.iter().zip(&reference).fold(0.0f64, |m, (a, b)| m.max((*a as f64 - b).abs()));
        eprintln!(
            "d_min {d_min} {edge:?}: max |ours - direct| = {:.2e} of the maximum (blur {:.1})",
            worst / peak,
            ours.blur
        );
        // The exact comparison: max over all voxels of |ours - direct| <= 1e-3 * max |direct|.
        assert!(worst <= 1e-3 * peak, "relative error {}", worst / peak);
    }
}

pub fn translation_by_whole_voxels_changes_nothing() {
    let geometry =
        GridGeometry { dims: [24, 20, 22], voxel_size: [1.05, 1.05, 1.05], first_voxel_centre: [100.0, 50.0, -20.0] };
    let cell: [f64; 3] = std::array::from_fn(|a| geometry.dims[a] as f64 * geometry.voxel_size[a]);
    // Atoms poke out of the box on purpose.
    let model = toy_model([cell[0] + 6.0, cell[1] + 6.0, cell[2]], [97.0, 47.0, -20.0]);
    let shift_voxels = [3.0, -7.0, 11.0];
    let shift: [f64; 3] = std::array::from_fn(|a| shift_voxels[a] * geometry.voxel_size[a]);
    let mut moved_model = model.clone();
    for atom in &mut moved_model.atoms {
        for a in 0..3 {
            atom.position[a] += shift[a];
        }
    }
    let moved_geometry = GridGeometry {
        first_voxel_centre: std::array::from_fn(|a| geometry.first_voxel_centre[a] + shift[a]),
        ..geometry
    };
    for periodic in [false, true] {
        let options = ModelMapOptions { periodic, ..ModelMapOptions::new(3.2) };
        let a = compute_model_map(&model, &geometry, &options).unwrap().data;
        let b = compute_model_map(&moved_model, &moved_geometry, &options).unwrap().data;
        let peak = a.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(worst <= 1e-5 * peak, "periodic {periodic}: {worst} of {peak}");
    }
}

pub fn padded_box_agrees_with_periodic_box_when_the_model_is_well_inside() {
    let geometry = GridGeometry { dims: [40, 40, 40], voxel_size: [1.0; 3], first_voxel_centre: [0.0; 3] };
    let model = toy_model([12.0, 12.0, 12.0], [14.0, 14.0, 14.0]);
    let padded = compute_model_map(&model, &geometry, &ModelMapOptions::new(3.0)).unwrap();
    let periodic =
        compute_model_map(&model, &geometry, &ModelMapOptions { periodic: true, ..ModelMapOptions::new(3.0) }).unwrap();
    assert!(padded.fft_dims.iter().all(|&n| n > 40));
    let a: Vec<f64> = padded.data.iter().map(|&v| v as f64).collect();
    let b: Vec<f64> = periodic.data.iter().map(|&v| v as f64).collect();
    let cc = common::correlation(&a, &b);
    // Not identical: the two boxes sample reciprocal space on different lattices.
    assert!(cc > 0.999, "cc {cc}");
}

pub fn atoms_outside_a_tight_box_do_not_wrap_to_the_opposite_face() {
    let geometry = GridGeometry { dims: [30, 30, 30], voxel_size: [1.0; 3], first_voxel_centre: [0.0; 3] };
    let mut model = toy_model([1.0, 1.0, 1.0], [0.0, 0.0, 0.0]);
    model.atoms.truncate(1);
    model.atoms[0].atomic_number = 16;
    model.atoms[0].position = [30.5, 15.0, 15.0]; // just beyond the +X face
    let padded = compute_model_map(&model, &geometry, &ModelMapOptions::new(3.0)).unwrap();
    let periodic =
        compute_model_map(&model, &geometry, &ModelMapOptions { periodic: true, ..ModelMapOptions::new(3.0) }).unwrap();
    let at = |data: &[f32], i: usize| data[geometry.index(i, 15, 15)];
    // Near the +X face both see the atom; near the -X face only the periodic box does.
    assert!(at(&padded.data, 29) > 0.1 * at(&periodic.data, 29));
    assert!(at(&padded.data, 0).abs() < 0.02 * at(&padded.data, 29), "{}", at(&padded.data, 0));
    assert!(at(&periodic.data, 0) > 0.2 * at(&periodic.data, 29));
}

pub fn matches_gemmi_model_maps_near_the_model() {
    let Some(shared) = common::shared_dir("matches_gemmi_model_maps_near_the_model") else {
        return;
    };
    let cases = [
        (
            "data/spike_emd21457_seg/6vyb_Ndom_noNAG.pdb",
            "data/spike_emd21457_seg/emd_21457_seg.mrc",
            "reference/spike_emd21457_seg/model_map_gemmi_seg.mrc",
            3.2,
        ),
        (
            "data/spike_emd21457_seg/6vyb_Ndom_noNAG.pdb",
            "data/spike_emd21457_seg/emd_21457_seg_nstart.mrc",
            "reference/spike_emd21457_seg/model_map_gemmi_seg_nstart.mrc",
            3.2,
        ),
        (
            "data/spike_emd21457_seg/6vyb_Ndom_shifted_noNAG.pdb",
            "data/spike_emd21457_seg/emd_21457_seg_orig0.mrc",
            "reference/spike_emd21457_seg/model_map_gemmi_seg_orig0.mrc",
            3.2,
        ),
        (
            "data/mitoribo_emd2566_3j6b/3J6B_9.pdb",
            "data/mitoribo_emd2566_3j6b/2566_3J6B_9.mrc",
            "reference/mitoribo_emd2566_3j6b/model_map_gemmi.mrc",
            3.2,
        ),
        (
            "data/actin_emd5168/1J6Z.pdb",
            "data/actin_emd5168/emd_5168.map",
            "reference/actin_emd5168/model_map_gemmi_emd5168.mrc",
            6.6,
        ),
        (
            "data/actin_emd5168/1J6Z.pdb",
            "data/actin_emd5168/emd_5168_monomer.mrc",
            "reference/actin_emd5168/model_map_gemmi_emd5168_monomer.mrc",
            6.6,
        ),
    ];
    for (model_path, map_path, reference_path, d_min) in cases {
        let model = read_model(shared.join(model_path)).unwrap();
        let map = read_map(shared.join(map_path)).unwrap().map;
        let reference = read_map(shared.join(reference_path)).unwrap().map;
        assert_eq!(reference.geometry.dims, map.geometry.dims);
        let near = envelope_mask(&model, &map.geometry, 3.0);
        let pick = |data: &[f32]| -> Vec<f64> {
            data.iter().zip(&near).filter(|(_, n)| **n).map(|(v, _)| *v as f64).collect()
        };
        let gemmi = pick(&reference.data);
        // gemmi's convention: periodic box, sharp cut.
        let same_convention =
            ModelMapOptions { periodic: true, edge: ResolutionEdge::Sharp, ..ModelMapOptions::new(d_min) };
        let ours = compute_model_map(&model, &map.geometry, &same_convention).unwrap();
        let cc_same = common::correlation(&pick(&ours.data), &gemmi);
        let ours_default = compute_model_map(&model, &map.geometry, &ModelMapOptions::new(d_min)).unwrap();
        let cc_default = common::correlation(&pick(&ours_default.data), &gemmi);
        let scale = pick(&ours.data).iter().sum::<f64>() / gemmi.iter().sum::<f64>();
        eprintln!(
            "{map_path}: CC within 3 Å ({} voxels): {cc_same:.5} periodic+sharp, {cc_default:.5} default (padded, soft edge); sum ratio {scale:.4}",
            gemmi.len()
        );
        assert!(cc_same >= 0.99, "{map_path}: {cc_same}");
        assert!(cc_default >= 0.95, "{map_path}: {cc_default}");
    }
}

pub fn unknown_elements_are_named_and_modelled_as_carbon() {
    let geometry = GridGeometry { dims: [20, 20, 20], voxel_size: [1.0; 3], first_voxel_centre: [0.0; 3] };
    let mut model = toy_model([10.0, 10.0, 10.0], [5.0, 5.0, 5.0]);
    model.atoms.truncate(2);
    for atom in &mut model.atoms {
        atom.atomic_number = 6;
    }
    let carbon = compute_model_map(&model, &geometry, &ModelMapOptions::new(3.0)).unwrap();
    model.atoms[1].atomic_number = 0;
    model.atoms[1].element = "X".into();
    model.atoms[1].name = "UNK1".into();
    let unknown = compute_model_map(&model, &geometry, &ModelMapOptions::new(3.0)).unwrap();
    assert_eq!(unknown.warnings.len(), 1);
    assert!(
        unknown.warnings[0].contains("A/TOY1/UNK1 (X)") && unknown.warnings[0].contains("carbon"),
        "{:?}",
        unknown.warnings
    );
    assert_eq!(carbon.data, unknown.data);
}
