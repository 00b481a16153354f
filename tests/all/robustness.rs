#![allow(clippy::needless_range_loop)]
//! Random damage to real files never panics, hangs or allocates without bound: reading returns
//! an error or a valid map/model.

use crate::common;
use proptest::prelude::*;
use real_space_diff_map::io::ccp4::{MapEncoding, encode_map, read_map, read_map_bytes};
use real_space_diff_map::io::model::{ModelFormat, parse_model};
use std::path::Path;
use std::sync::OnceLock;

/// A small real map (a 10^3 crop of the spike segment), encoded as a file.
fn small_map_bytes() -> &'static Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let map = read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map;
        let crop = map.crop([20, 15, 20], [10, 10, 10]).unwrap();
        encode_map(&crop, MapEncoding::default(), "robustness")
    })
}

/// A real PDB file and a real mmCIF file cut to their first 80 atoms: the PDB keeps 40 header
/// lines, the mmCIF its whole header (the `_atom_site` item names come just before the atoms).
fn model_texts() -> &'static (String, String) {
    static TEXTS: OnceLock<(String, String)> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let head = |name: &str, header_lines: usize| {
            let text = std::fs::read_to_string(common::testdata(name)).unwrap();
            let start = text.find("\nATOM ").expect("an atom record") + 1;
            let mut out: String = text[..start].lines().take(header_lines).map(|l| format!("{l}\n")).collect();
            out.extend(text[start..].lines().take(80).map(|l| format!("{l}\n")));
            out
        };
        (head("6vyb_Ndom_noNAG.pdb", 40), head("6vyb_Ndom_noNAG.cif", usize::MAX))
    })
}

fn mutate(bytes: &[u8], edits: &[(usize, u8)], header_bias: bool) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for &(position, value) in edits {
        let limit = if header_bias { 1024.min(out.len()) } else { out.len() };
        out[position % limit] = value;
    }
    out
}

fn check_map(bytes: &[u8]) {
    if let Ok(read) = read_map_bytes(bytes, "mutated.mrc") {
        let g = read.map.geometry;
        assert_eq!(read.map.data.len(), g.dims.iter().product::<usize>());
        assert!(read.map.data.iter().all(|v| v.is_finite()));
        assert!(g.voxel_size.iter().all(|v| v.is_finite() && *v > 0.0));
    }
}

pub fn mutated_map_headers_never_panic() {
    proptest!(ProptestConfig { cases: 400, ..ProptestConfig::default() }, |(edits in prop::collection::vec((0usize..4096, any::<u8>()), 1..12))| {
        check_map(&mutate(small_map_bytes(), &edits, true));
    });
}

pub fn mutated_maps_never_panic() {
    proptest!(ProptestConfig { cases: 400, ..ProptestConfig::default() }, |(edits in prop::collection::vec((0usize..1 << 20, any::<u8>()), 1..12), cut in 0usize..5024)| {
        let mut bytes = mutate(small_map_bytes(), &edits, false);
        bytes.truncate(bytes.len().saturating_sub(cut % 64 * (cut / 64 % 2)));
        check_map(&bytes);
    });
}

/// Headers with any dimensions and any cell (voxels from 1e-9 Å to 1e9 Å), their data
/// compressed or not: read, sized for a job and refused or accepted, never a panic or an
/// allocation beyond the limit.
pub fn extreme_dimensions_and_voxel_sizes_never_panic() {
    proptest!(ProptestConfig { cases: 400, ..ProptestConfig::default() }, |(dims in prop::array::uniform3(1i32..=i32::MAX), cell_exponent in -9i32..9, compress in any::<bool>())| {
        let mut bytes = small_map_bytes().clone();
        for a in 0..3 {
            bytes[4 * a..4 * a + 4].copy_from_slice(&dims[a].to_le_bytes());
            bytes[4 * (7 + a)..4 * (7 + a) + 4].copy_from_slice(&dims[a].to_le_bytes());
            let cell = 10f32.powi(cell_exponent) * dims[a] as f32;
            bytes[4 * (10 + a)..4 * (10 + a) + 4].copy_from_slice(&cell.to_le_bytes());
        }
        let bytes = if compress {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut encoder, &bytes).unwrap();
            encoder.finish().unwrap()
        } else {
            bytes
        };
        check_map(&bytes);
        let d = dims.map(|n| n as usize);
        let _ = real_space_diff_map::limits::job_memory(d, [10f64.powi(cell_exponent); 3], 3.0, false, u64::MAX);
    });
}

pub fn mutated_header_words_never_panic() {
    proptest!(ProptestConfig { cases: 400, ..ProptestConfig::default() }, |(word in 0usize..256, value in any::<i32>())| {
        let mut bytes = small_map_bytes().clone();
        bytes[word * 4..word * 4 + 4].copy_from_slice(&value.to_le_bytes());
        check_map(&bytes);
    });
}

pub fn mutated_models_never_panic() {
    proptest!(ProptestConfig { cases: 400, ..ProptestConfig::default() }, |(edits in prop::collection::vec((0usize..1 << 20, any::<u8>()), 1..10), mmcif in any::<bool>())| {
        let (pdb, cif) = model_texts();
        let (text, format) = if mmcif { (cif, ModelFormat::Mmcif) } else { (pdb, ModelFormat::Pdb) };
        let bytes = mutate(text.as_bytes(), &edits, false);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(model) = parse_model(&text, format, Path::new("mutated")) {
            prop_assert!(!model.atoms.is_empty());
            prop_assert!(model.atoms.iter().all(|a| a.residue < model.residues.len()));
        }
    });
}

/// The whole command line on mutated copies of the real PDB and mmCIF files: it succeeds or
/// fails with a message naming the model, never with a panic message.
fn run_mutated_model(text: &[u8], extension: &str) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join(format!("mutated.{extension}"));
    std::fs::write(&model, text).unwrap();
    let output = dir.path().join("out.ccp4");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .arg(&model)
        .arg(common::testdata("emd_21457_seg.mrc"))
        .args(["resolution=3.2", "quiet=true", "peaks_shown=0", &format!("output={}", output.display())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{stderr}");
    match run.status.code() {
        Some(0) => assert!(output.exists()),
        Some(1) => {
            assert!(stderr.contains("mutated."), "the error names the file: {stderr}");
            assert!(!output.exists(), "no partial output");
        }
        other => panic!("exit {other:?}: {stderr}"),
    }
}

pub fn mutated_models_through_the_command_line_never_panic() {
    proptest!(ProptestConfig { cases: 48, ..ProptestConfig::default() }, |(edits in prop::collection::vec((0usize..1 << 20, any::<u8>()), 1..10), mmcif in any::<bool>())| {
        let (pdb, cif) = model_texts();
        let text = if mmcif { cif } else { pdb };
        run_mutated_model(&mutate(text.as_bytes(), &edits, false), if mmcif { "cif" } else { "pdb" });
    });
}

pub fn odd_coordinate_values_never_panic() {
    let (pdb, _) = model_texts();
    let first_atom = pdb.find("\nATOM  ").unwrap() + 1;
    for value in ["     nan", "     inf", "-1.0e308", "  1e400 ", "        ", "\u{e9}\u{e9}\u{e9}\u{e9}"] {
        let mut text = pdb.as_bytes().to_vec();
        let bytes = value.as_bytes();
        text[first_atom + 30..first_atom + 30 + bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
        run_mutated_model(&text, "pdb");
    }
}

/// Two half maps of a 32³ crop of the spike segment (same frame), encoded as files.
fn half_map_bytes() -> &'static (Vec<u8>, Vec<u8>) {
    static BYTES: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    BYTES.get_or_init(|| {
        let map = read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map;
        let crop = map.crop([8, 8, 8], [32, 32, 32]).unwrap();
        let (h1, h2) = common::halves(&crop, |_| 0.5);
        (encode_map(&h1, MapEncoding::default(), "half 1"), encode_map(&h2, MapEncoding::default(), "half 2"))
    })
}

/// Damage to the second half map (header words mostly: grid, cell, origin, mode) through
/// the command line: an error naming that file and no output, or a run that succeeds.
pub fn mutated_half_maps_through_the_command_line_never_panic() {
    proptest!(ProptestConfig { cases: 32, ..ProptestConfig::default() }, |(edits in prop::collection::vec((0usize..1 << 16, any::<u8>()), 1..8), header_bias in any::<bool>())| {
        let (h1, h2) = half_map_bytes();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("h1.mrc"), h1).unwrap();
        std::fs::write(dir.path().join("mutated_half.mrc"), mutate(h2, &edits, header_bias)).unwrap();
        let output = dir.path().join("out.ccp4");
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
            .current_dir(dir.path())
            .arg(common::testdata("6vyb_Ndom_noNAG.pdb"))
            .args(["half_map=h1.mrc", "half_map=mutated_half.mrc", "resolution=3.2", "quiet=true", "peaks_shown=0"])
            .arg(format!("output={}", output.display()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        prop_assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{}", stderr);
        match run.status.code() {
            Some(0) => prop_assert!(output.exists()),
            Some(1) => {
                prop_assert!(stderr.contains("mutated_half.mrc"), "the error names the file: {}", stderr);
                prop_assert!(!output.exists(), "no partial output");
            }
            other => prop_assert!(false, "exit {:?}: {}", other, stderr),
        }
    });
}

/// Windows far wider than the box (found by the Python package's fuzz test: window=1e6 made
/// the local fit's plane ring, the amplitude tiles and the noise window grow without bound, an
/// out-of-memory kill or a capacity-overflow panic) finish like windows that span the box, and
/// give the same map as one exactly twice the box.
pub fn windows_wider_than_the_box_give_the_whole_box_window() {
    let (h1, h2) = half_map_bytes();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h1.mrc"), h1).unwrap();
    std::fs::write(dir.path().join("h2.mrc"), h2).unwrap();
    let run = |words: &[&str], output: &str| {
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
            .current_dir(dir.path())
            .arg(common::testdata("6vyb_Ndom_noNAG.pdb"))
            .args(["resolution=3.2", "quiet=true", "peaks_shown=0"])
            .args(words)
            .arg(format!("output={output}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{words:?}: {stderr}");
        read_map(dir.path().join(output)).unwrap().map.data
    };
    let map = common::testdata("emd_21457_seg.mrc").display().to_string();
    // The box's longest edge is 50.4 Å: 101 voxels of 1.05 Å span twice the box along X.
    let huge = run(&[&map, "window=1e9", "variant=both"], "huge.ccp4");
    let spanning = run(&[&map, "window=106", "variant=both"], "spanning.ccp4");
    assert_eq!(huge, spanning);
    run(&["half_map=h1.mrc", "half_map=h2.mrc", "window=1e9", "noise_window=1e9"], "halves.ccp4");
}

/// A gzip bomb through the command line: a small file whose header promises 400 million voxels
/// of zeros that are really there, refused from the header with a memory limit below them.
pub fn a_gzip_bomb_is_refused_under_a_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut header = small_map_bytes()[..1024].to_vec();
    for a in 0..3 {
        let n: i32 = [1000, 1000, 400][a];
        header[4 * a..4 * a + 4].copy_from_slice(&n.to_le_bytes());
        header[4 * (7 + a)..4 * (7 + a) + 4].copy_from_slice(&n.to_le_bytes());
        header[4 * (10 + a)..4 * (10 + a) + 4].copy_from_slice(&(n as f32).to_le_bytes());
    }
    header[12..16].copy_from_slice(&0i32.to_le_bytes());
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &header).unwrap();
    let zeros = vec![0u8; 1 << 22];
    for _ in 0..(400_000_000 / zeros.len()) {
        std::io::Write::write_all(&mut encoder, &zeros).unwrap();
    }
    let path = dir.path().join("bomb.mrc.gz");
    std::fs::write(&path, encoder.finish().unwrap()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .arg(common::testdata("6vyb_Ndom_noNAG.pdb"))
        .arg(&path)
        .args(["resolution=3", "max_memory=1G", "output=never.ccp4"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bomb.mrc.gz") && stderr.contains("limit of 1.0 GiB"), "{stderr}");
    assert!(!dir.path().join("never.ccp4").exists());
}

/// EMDB headers are strangers' files too: mutated copies of a v3 header (bytes changed, cut
/// short), and random entry and PDB ids, are read or refused, never a panic; a header that
/// reads names only plain files.
pub fn mutated_emdb_headers_and_ids_never_panic() {
    use real_space_diff_map::io::archive::{header::parse_header, layout};
    let header = crate::archive_fixture::header_xml("EMD-90001", &["9lpk", "9zzz"], 3.2, true);
    proptest!(ProptestConfig { cases: 400, ..ProptestConfig::default() }, |(edits in prop::collection::vec((0usize..4096, any::<u8>()), 1..12), cut in 0usize..4096, id in ".{0,12}")| {
        let mut bytes = mutate(header.as_bytes(), &edits, false);
        bytes.truncate(cut.max(1).min(bytes.len()));
        let text = String::from_utf8_lossy(&bytes);
        let emdb = layout::EmdbId::parse("EMD-90001").unwrap();
        if let Ok(parsed) = parse_header(&text, "mutated.xml") {
            for file in &parsed.half_map_files {
                if let Ok(path) = emdb.half_map(file) {
                    prop_assert!(!path.contains("..") && path.matches('/').count() == 3, "{path}");
                }
            }
        }
        if let Ok(emdb) = layout::EmdbId::parse(&id) {
            prop_assert!(emdb.header().starts_with("structures/EMD-") && !emdb.header().contains(".."));
        }
        if let Ok(path) = layout::pdb_model(&id) {
            prop_assert!(path.starts_with("data/structures/divided/mmCIF/") && !path.contains(".."));
        }
    });
}
