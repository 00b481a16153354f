#![allow(clippy::needless_range_loop)]
//! Every model in ../shared loads, with the atoms, hydrogens, occupancies and resolution the
//! files hold, and sits where its map is (ORIGIN, NSTART and shifted copies alike).

use crate::common;
use real_space_diff_map::analysis::placement::check_placement;
use real_space_diff_map::io::ccp4::read_map;
use real_space_diff_map::io::model::read_model;

pub fn every_shared_model_loads() {
    let Some(shared) = common::shared_dir("every_shared_model_loads") else {
        return;
    };
    let mut models = Vec::new();
    for top in ["data", "synthetic"] {
        for case in std::fs::read_dir(shared.join(top)).unwrap() {
            let case = case.unwrap().path();
            for dir in [case.clone(), case.join("nzorigin")] {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for f in entries {
                    let f = f.unwrap().path();
                    let name = f.file_name().unwrap().to_string_lossy().to_string();
                    if name.ends_with(".pdb") || name.ends_with(".cif") {
                        models.push(f);
                    }
                }
            }
        }
    }
    assert!(models.len() >= 15, "found only {} models", models.len());
    for path in &models {
        let model = read_model(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(model.atoms.len() > 100, "{}: {} atoms", path.display(), model.atoms.len());
        let unknown = model.atoms.iter().filter(|a| a.atomic_number == 0).count();
        assert_eq!(unknown, 0, "{}: atoms without element", path.display());
        for w in &model.warnings {
            eprintln!("{}: warning: {w}", path.display());
        }
    }
}

pub fn spike_models_have_the_expected_contents() {
    let Some(shared) = common::shared_dir("spike_models_have_the_expected_contents") else {
        return;
    };
    let dir = shared.join("data/spike_emd21457_seg");
    let full = read_model(dir.join("6vyb_Ndom.pdb")).unwrap();
    let no_nag = read_model(dir.join("6vyb_Ndom_noNAG.pdb")).unwrap();
    let cif = read_model(dir.join("6vyb_Ndom_noNAG.cif")).unwrap();
    assert_eq!(full.atoms.len(), 1615);
    assert_eq!(no_nag.atoms.len(), 1573);
    assert_eq!(cif.atoms.len(), 1573);
    assert_eq!(full.residues.iter().filter(|r| r.name == "NAG").count(), 3);
    // PDB and mmCIF copies agree atom by atom.
    for (a, b) in no_nag.atoms.iter().zip(&cif.atoms) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.element, b.element);
        for k in 0..3 {
            assert!((a.position[k] - b.position[k]).abs() < 1e-3);
        }
        assert!((a.b_iso - b.b_iso).abs() < 1e-2);
    }
    let shifted = read_model(dir.join("6vyb_Ndom_shifted.pdb")).unwrap();
    assert_eq!(shifted.resolution, Some(3.2), "REMARK 2 RESOLUTION");
    // PROVENANCE.txt says 6vyb_Ndom.pdb has no REMARK 2, but line 31 holds one.
    assert_eq!(full.resolution, Some(3.2));
}

pub fn mitoribo_hydrogens_and_zero_occupancies_are_kept() {
    let Some(shared) = common::shared_dir("mitoribo_hydrogens_and_zero_occupancies_are_kept") else {
        return;
    };
    let model = read_model(shared.join("data/mitoribo_emd2566_3j6b/3J6B_9.pdb")).unwrap();
    let text = std::fs::read_to_string(shared.join("data/mitoribo_emd2566_3j6b/3J6B_9.pdb")).unwrap();
    let atom_lines = text.lines().filter(|l| l.starts_with("ATOM") || l.starts_with("HETATM")).count();
    let h_lines = text
        .lines()
        .filter(|l| (l.starts_with("ATOM") || l.starts_with("HETATM")) && l.len() >= 78 && l[76..78].trim() == "H")
        .count();
    assert_eq!(model.atoms.len(), atom_lines);
    assert!(h_lines > 0);
    assert_eq!(model.hydrogen_count(), h_lines);
    assert!(model.atoms.iter().any(|a| a.occupancy == 0.0), "occupancy-0 atoms are kept");
}

pub fn models_sit_in_their_maps_in_every_placement_convention() {
    let Some(shared) = common::shared_dir("models_sit_in_their_maps_in_every_placement_convention") else {
        return;
    };
    let cases = [
        ("data/spike_emd21457_seg/6vyb_Ndom.pdb", "data/spike_emd21457_seg/emd_21457_seg.mrc"),
        ("data/spike_emd21457_seg/6vyb_Ndom.pdb", "data/spike_emd21457_seg/emd_21457_seg_nstart.mrc"),
        ("data/spike_emd21457_seg/6vyb_Ndom_shifted.pdb", "data/spike_emd21457_seg/emd_21457_seg_orig0.mrc"),
        ("data/mitoribo_emd2566_3j6b/3J6B_9.pdb", "data/mitoribo_emd2566_3j6b/2566_3J6B_9.mrc"),
        ("data/actin_emd5168/1J6Z.pdb", "data/actin_emd5168/emd_5168.map"),
        ("data/actin_emd5168/1J6Z.pdb", "data/actin_emd5168/emd_5168_monomer.mrc"),
        ("synthetic/4a7h/model_trunc.pdb", "synthetic/4a7h/map.mrc"),
        ("synthetic/4a7h/nzorigin/model_trunc.pdb", "synthetic/4a7h/nzorigin/map.mrc"),
        ("synthetic/4a7h/model_trunc.pdb", "synthetic/4a7h/zyx/map.mrc"),
        ("synthetic/1ahq_heme/model_trunc.cif", "synthetic/1ahq_heme/map.mrc"),
    ];
    for (model_path, map_path) in cases {
        let model = read_model(shared.join(model_path)).unwrap();
        let map = read_map(shared.join(map_path)).unwrap().map;
        let report = check_placement(&model, &map);
        eprintln!(
            "{map_path}: {:.1}% inside, mean density at atoms {:.2} sd",
            100.0 * report.fraction_inside(),
            report.mean_density_at_atoms_sd
        );
        assert!(report.warning.is_none(), "{map_path}: {:?}", report.warning);
        assert!(report.mean_density_at_atoms_sd > 1.0, "{map_path}");
    }
    // The wrong pairing (model for the ORIGIN-encoded map on the box moved to 0) is flagged.
    let model = read_model(shared.join("data/spike_emd21457_seg/6vyb_Ndom.pdb")).unwrap();
    let map = read_map(shared.join("data/spike_emd21457_seg/emd_21457_seg_orig0.mrc")).unwrap().map;
    let report = check_placement(&model, &map);
    assert!(report.warning.is_some());
    assert_eq!(report.atoms_inside, 0);
}
