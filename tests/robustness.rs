#![allow(clippy::needless_range_loop)]
//! Random damage to real files never panics, hangs or allocates without bound: reading returns
//! an error or a valid map/model.

mod common;

use proptest::prelude::*;
use real_space_diff_map::map_io::{MapEncoding, encode_map, read_map, read_map_bytes};
use real_space_diff_map::model_io::{ModelFormat, parse_model};
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

/// The first 80 lines of a real PDB file and of a real mmCIF file.
fn model_texts() -> &'static (String, String) {
    static TEXTS: OnceLock<(String, String)> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let head = |name: &str, skip_to: &str| {
            let text = std::fs::read_to_string(common::testdata(name)).unwrap();
            let start = text.find(skip_to).unwrap_or(0);
            let mut out: String = text[..start].lines().take(40).map(|l| format!("{l}\n")).collect();
            out.extend(text[start..].lines().take(80).map(|l| format!("{l}\n")));
            out
        };
        (head("6vyb_Ndom_noNAG.pdb", "ATOM  "), head("6vyb_Ndom_noNAG.cif", "ATOM"))
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_map_headers_never_panic(edits in prop::collection::vec((0usize..4096, any::<u8>()), 1..12)) {
        check_map(&mutate(small_map_bytes(), &edits, true));
    }

    #[test]
    fn mutated_maps_never_panic(edits in prop::collection::vec((0usize..1 << 20, any::<u8>()), 1..12),
                                cut in 0usize..5024) {
        let mut bytes = mutate(small_map_bytes(), &edits, false);
        bytes.truncate(bytes.len().saturating_sub(cut % 64 * (cut / 64 % 2)));
        check_map(&bytes);
    }

    #[test]
    fn mutated_header_words_never_panic(word in 0usize..256, value in any::<i32>()) {
        let mut bytes = small_map_bytes().clone();
        bytes[word * 4..word * 4 + 4].copy_from_slice(&value.to_le_bytes());
        check_map(&bytes);
    }

    #[test]
    fn mutated_models_never_panic(edits in prop::collection::vec((0usize..1 << 20, any::<u8>()), 1..10),
                                  mmcif in any::<bool>()) {
        let (pdb, cif) = model_texts();
        let (text, format) = if mmcif { (cif, ModelFormat::Mmcif) } else { (pdb, ModelFormat::Pdb) };
        let bytes = mutate(text.as_bytes(), &edits, false);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(model) = parse_model(&text, format, Path::new("mutated")) {
            prop_assert!(!model.atoms.is_empty());
            prop_assert!(model.atoms.iter().all(|a| a.residue < model.residues.len()));
        }
    }
}
