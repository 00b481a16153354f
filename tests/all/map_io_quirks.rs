#![allow(clippy::needless_range_loop)]
//! One generated fixture per file quirk, each made from the real map in `testdata/`: byte order,
//! data modes, axis orders, machine stamps, extended headers, gzip, and the broken files that
//! must give a clear error (truncated, too long, NaN, bad dimensions, bad axis order, bad mode).
//! Plus read-write-read round trips on every map in ../shared.

use crate::common;
use real_space_diff_map::Map;
use real_space_diff_map::io::ccp4::{
    DataMode, Endianness, MapEncoding, encode_map, read_map, read_map_bytes, write_map,
};
use std::io::Write;

fn spike() -> Map {
    read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map
}

fn set_word(bytes: &mut [u8], word: usize, value: i32, endianness: Endianness) {
    let b = match endianness {
        Endianness::Little => value.to_le_bytes(),
        Endianness::Big => value.to_be_bytes(),
    };
    bytes[(word - 1) * 4..word * 4].copy_from_slice(&b);
}

fn error_of(bytes: &[u8]) -> String {
    match read_map_bytes(bytes, "fixture.mrc") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

pub fn every_mode_and_byte_order_reads_back() {
    let original = spike();
    // Scale so that integer modes keep the map's shape: 0..2.65 becomes 0..106 (int8) etc.
    for (mode, scale) in [
        (DataMode::Int8, 40.0f32),
        (DataMode::Int16, 10000.0),
        (DataMode::Uint16, 20000.0),
        (DataMode::Float16, 1.0),
        (DataMode::Float32, 1.0),
    ] {
        let scaled = original.with_data(original.data.iter().map(|v| v * scale).collect());
        for endianness in [Endianness::Little, Endianness::Big] {
            let bytes = encode_map(&scaled, MapEncoding { mode, endianness }, "fixture");
            let read = read_map_bytes(&bytes, "fixture.mrc").unwrap();
            assert_eq!(read.mode, mode);
            assert_eq!(read.endianness, endianness);
            assert_eq!(read.map.geometry, original.geometry, "{mode:?} {endianness:?}");
            assert!(read.warnings.is_empty(), "{:?}", read.warnings);
            for (got, want) in read.map.data.iter().zip(&scaled.data) {
                let tolerance = match mode {
                    DataMode::Float32 => 0.0,
                    DataMode::Float16 => want.abs() * 1e-3 + 1e-7,
                    _ => 0.5,
                };
                assert!((got - want).abs() <= tolerance, "{mode:?}: {got} vs {want}");
            }
        }
    }
}

pub fn every_axis_order_lands_on_the_same_grid() {
    let original = spike();
    for order in [[1, 2, 3], [1, 3, 2], [2, 1, 3], [2, 3, 1], [3, 1, 2], [3, 2, 1]] {
        let mut permuted = original.clone();
        permuted.header.axis_order = order;
        let bytes = encode_map(&permuted, MapEncoding::default(), "fixture");
        // The file really is in that order: NC is the length of the axis named by MAPC.
        let nc = i32::from_le_bytes(bytes[0..4].try_into().unwrap());
        assert_eq!(nc as usize, original.geometry.dims[order[0] as usize - 1]);
        let read = read_map_bytes(&bytes, "fixture.mrc").unwrap().map;
        assert_eq!(read.geometry, original.geometry, "{order:?}");
        assert_eq!(read.data, original.data, "{order:?}");
        assert_eq!(read.header.axis_order, order);
    }
}

pub fn machine_stamps_old_missing_and_wrong() {
    let original = spike();
    let le = encode_map(&original, MapEncoding::default(), "fixture");
    let be = encode_map(&original, MapEncoding { endianness: Endianness::Big, ..Default::default() }, "f");
    // Old little-endian stamp 'DA' and the MRC2014 'DD' read silently.
    for stamp in [[0x44u8, 0x41, 0, 0], [0x44, 0x44, 0, 0]] {
        let mut bytes = le.clone();
        bytes[212..216].copy_from_slice(&stamp);
        let read = read_map_bytes(&bytes, "old.map").unwrap();
        assert!(read.warnings.is_empty());
        assert_eq!(read.map.data, original.data);
    }
    // No stamp: the sane byte order wins, with a warning.
    for (bytes, endianness) in [(&le, Endianness::Little), (&be, Endianness::Big)] {
        let mut bytes = bytes.clone();
        bytes[212..216].fill(0);
        let read = read_map_bytes(&bytes, "nostamp.map").unwrap();
        assert_eq!(read.endianness, endianness);
        assert_eq!(read.map.data, original.data);
        assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
    }
    // A little-endian stamp on big-endian data: the header decides, with a warning.
    let mut bytes = be.clone();
    bytes[212..214].copy_from_slice(&[0x44, 0x41]);
    let read = read_map_bytes(&bytes, "liar.map").unwrap();
    assert_eq!(read.endianness, Endianness::Big);
    assert_eq!(read.map.data, original.data);
    assert!(read.warnings[0].contains("contradicts"));
}

pub fn extended_header_is_skipped() {
    let original = spike();
    let plain = encode_map(&original, MapEncoding::default(), "fixture");
    let mut bytes = plain[..1024].to_vec();
    set_word(&mut bytes, 24, 160, Endianness::Little);
    bytes.extend(std::iter::repeat_n(0xabu8, 160));
    bytes.extend_from_slice(&plain[1024..]);
    let read = read_map_bytes(&bytes, "ext.mrc").unwrap().map;
    assert_eq!(read.data, original.data);
}

pub fn gzip_files_read_transparently() {
    let original = spike();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emd_21457.map.gz");
    let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), Default::default());
    encoder.write_all(&encode_map(&original, MapEncoding::default(), "gz")).unwrap();
    encoder.finish().unwrap();
    let read = read_map(&path).unwrap().map;
    assert_eq!(read.data, original.data);
    assert_eq!(read.geometry, original.geometry);
}

pub fn broken_files_give_clear_errors() {
    let original = spike();
    let good = encode_map(&original, MapEncoding::default(), "fixture");

    let truncated = &good[..good.len() - 1];
    assert!(error_of(truncated).contains("shorter than"), "{}", error_of(truncated));
    let mut long = good.clone();
    long.push(0);
    assert!(error_of(&long).contains("longer than"));
    assert!(error_of(&good[..500]).contains("shorter than the 1024-byte"));

    let mut nan = good.clone();
    nan[1024 + 4 * 100..1024 + 4 * 101].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(error_of(&nan).contains("NaN"), "{}", error_of(&nan));

    let mut zero_dim = good.clone();
    set_word(&mut zero_dim, 2, 0, Endianness::Little);
    let message = error_of(&zero_dim);
    assert!(message.contains("must all be positive") || message.contains("contradicts"), "{message}");

    let mut negative_dim = good.clone();
    set_word(&mut negative_dim, 3, -47, Endianness::Little);
    assert!(error_of(&negative_dim).contains("positive"));

    let mut axes = good.clone();
    set_word(&mut axes, 18, 1, Endianness::Little);
    assert!(error_of(&axes).contains("not a permutation"), "{}", error_of(&axes));

    let mut complex = good.clone();
    set_word(&mut complex, 4, 4, Endianness::Little);
    let message = error_of(&complex);
    assert!(message.contains("mode 4") && message.contains("complex"), "{message}");

    // A skewed cell (angles are words 14-16, floats) is refused, not misplaced; 90.001 is rounding.
    let mut skewed = good.clone();
    skewed[13 * 4..14 * 4].copy_from_slice(&100.0f32.to_le_bytes());
    let message = error_of(&skewed);
    assert!(message.contains("not 90 degrees") && message.contains("fixture.mrc"), "{message}");
    let mut rounded = good.clone();
    rounded[14 * 4..15 * 4].copy_from_slice(&90.001f32.to_le_bytes());
    assert!(read_map_bytes(&rounded, "fixture.mrc").is_ok());

    let mut no_cell = good.clone();
    set_word(&mut no_cell, 11, 0, Endianness::Little);
    assert!(error_of(&no_cell).contains("cell lengths"));

    // A header claiming 10^12 voxels is refused before any allocation, compressed or not.
    let mut huge = good.clone();
    for w in 1..=3 {
        set_word(&mut huge, w, 10_000, Endianness::Little);
    }
    assert!(error_of(&huge).contains("voxels"), "{}", error_of(&huge));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    gz.write_all(&huge).unwrap();
    let message = error_of(&gz.finish().unwrap());
    assert!(message.contains("more than"), "{message}");
    // ...and a compressed file that claims a big but allowed map and is short says so.
    let mut big = good[..1024].to_vec();
    for w in 1..=3 {
        set_word(&mut big, w, 1500, Endianness::Little);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    gz.write_all(&big).unwrap();
    gz.write_all(&good[1024..]).unwrap();
    let message = error_of(&gz.finish().unwrap());
    assert!(message.contains("file ends after"), "{message}");

    let error = read_map("/nonexistent/emd_1.map").unwrap_err().to_string();
    assert!(error.contains("/nonexistent/emd_1.map"), "{error}");
}

pub fn writer_refuses_to_overwrite_its_input_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mrc");
    std::fs::copy(common::testdata("emd_21457_seg.mrc"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let map = read_map(&input).unwrap().map;
    let err = write_map(&input, &map, "x", &[input.as_path()]).unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // A missing folder is made; a file where a folder should be is named, and nothing is left.
    write_map(dir.path().join("new/dir/out.mrc"), &map, "x", &[]).unwrap();
    assert!(dir.path().join("new/dir/out.mrc").is_file());
    std::fs::write(dir.path().join("blocker"), "a file").unwrap();
    let err = write_map(dir.path().join("blocker/sub/out.mrc"), &map, "x", &[]).unwrap_err();
    assert!(err.to_string().contains("blocker"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "in.mrc, new/ and blocker only");
}

pub fn every_shared_map_round_trips() {
    let Some(shared) = common::shared_dir("every_shared_map_round_trips") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut maps = Vec::new();
    for top in ["data", "synthetic"] {
        for case in std::fs::read_dir(shared.join(top)).unwrap() {
            let case = case.unwrap().path();
            for sub in [case.clone(), case.join("nzorigin"), case.join("zyx")] {
                let Ok(entries) = std::fs::read_dir(&sub) else {
                    continue;
                };
                for f in entries {
                    let f = f.unwrap().path();
                    let ext = f.extension().map(|e| e.to_string_lossy().to_string()).unwrap_or_default();
                    if ["mrc", "map", "ccp4"].contains(&ext.as_str()) {
                        maps.push(f);
                    }
                }
            }
        }
    }
    assert!(maps.len() >= 20);
    for path in maps {
        let first = read_map(&path).unwrap_or_else(|e| panic!("{e}")).map;
        let out = dir.path().join("round_trip.mrc");
        write_map(&out, &first, "round trip", &[path.as_path()]).unwrap();
        let second = read_map(&out).unwrap();
        assert!(second.warnings.is_empty(), "{}: {:?}", path.display(), second.warnings);
        let second = second.map;
        assert_eq!(second.data, first.data, "{}", path.display());
        assert_eq!(second.geometry.dims, first.geometry.dims);
        for a in 0..3 {
            assert!((second.geometry.voxel_size[a] - first.geometry.voxel_size[a]).abs() < 1e-6);
            assert!((second.geometry.first_voxel_centre[a] - first.geometry.first_voxel_centre[a]).abs() < 1e-4);
        }
        assert_eq!(second.header.axis_order, first.header.axis_order);
        assert_eq!(second.header.nstart, first.header.nstart);
        assert_eq!(second.header.sampling, first.header.sampling);
    }
}

/// mrcfile's MRC2014 validator accepts what we write (runs when the reference tools are
/// installed: `../shared/tools/reference/setup.sh`; skipped otherwise).
pub fn written_maps_pass_the_mrc2014_validator() {
    let Some(shared) = common::shared_dir("written_maps_pass_the_mrc2014_validator") else {
        return;
    };
    let venv = std::env::var("REFERENCE_VENV").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/real_space_diff_map-reference")
    });
    if !venv.join("bin/python").exists() {
        eprintln!("SKIPPED written_maps_pass_the_mrc2014_validator: no reference venv at {}", venv.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for (name, input) in [
        ("seg.mrc", "data/spike_emd21457_seg/emd_21457_seg.mrc"),
        ("axis321.mrc", "data/emd11007_axisorder/emd_11007.map"),
        ("nstart_negative.mrc", "data/actin_emd5168/emd_5168.map"),
    ] {
        let map = read_map(shared.join(input)).unwrap().map;
        let out = dir.path().join(name);
        write_map(&out, &map, "real_space_diff_map validator test", &[]).unwrap();
        outputs.push(out);
    }
    let status = std::process::Command::new("bash")
        .arg(shared.join("tools/reference/validate_mrc.sh"))
        .args(&outputs)
        .env("REFERENCE_VENV", &venv)
        .status()
        .unwrap();
    assert!(status.success(), "mrcfile's validator rejected our output");
}
