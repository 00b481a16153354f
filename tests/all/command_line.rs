//! The binary as scripts call it: `real_space_diff_map MODEL MAP resolution=R output=FILE`,
//! its exit codes, its messages, and that it never leaves a partial file or touches an input.

use crate::common;
use real_space_diff_map::io::ccp4::read_map;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_real_space_diff_map")).current_dir(dir).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn testdata(name: &str) -> String {
    common::testdata(name).display().to_string()
}

pub fn the_readme_command_writes_a_map_in_the_input_frame() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[&testdata("6vyb_Ndom_noNAG.pdb"), &testdata("emd_21457_seg.mrc"), "resolution=3.2", "output=diff.ccp4"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    for expected in ["48 x 40 x 47", "atoms inside the map box", "global fit", "wrote diff.ccp4", "done in"] {
        assert!(report.contains(expected), "missing '{expected}' in:\n{report}");
    }
    let input = read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map;
    let output = read_map(dir.path().join("diff.ccp4")).unwrap().map;
    assert_eq!(output.geometry, input.geometry);
    assert_eq!(output.header.origin, input.header.origin);
    // Sigma units inside the envelope: the strongest features are several sigma.
    let stats = output.statistics();
    assert!(stats.max > 3.0 && stats.min < -3.0, "{stats:?}");
    // Flags are the same options; the default output name is used when none is given.
    let out = run(
        dir.path(),
        &[&testdata("6vyb_Ndom_noNAG.pdb"), &testdata("emd_21457_seg.mrc"), "--resolution", "3.2", "--quiet"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(read_map(dir.path().join("map_model_difference.ccp4")).unwrap().map.data, output.data);
}

pub fn resolution_comes_from_an_mmcif_that_records_it_and_gz_models_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut cif = std::fs::read_to_string(common::testdata("6vyb_Ndom_noNAG.cif")).unwrap();
    cif.push_str("#\n_em_3d_reconstruction.id 1\n_em_3d_reconstruction.resolution 3.2\n#\n");
    let path = dir.path().join("model.cif.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), Default::default());
    gz.write_all(cif.as_bytes()).unwrap();
    gz.finish().unwrap();
    let out = run(dir.path(), &["model.cif.gz", &testdata("emd_21457_seg.mrc"), "output=d.mrc"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("resolution 3.2 Å, as recorded in model.cif.gz"), "{}", text(&out));
}

pub fn bad_input_fails_clearly_with_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = testdata("6vyb_Ndom_noNAG.pdb");
    let map = testdata("emd_21457_seg.mrc");

    // No resolution anywhere (the testdata PDB records one in REMARK 2: strip it): usage error.
    let stripped: String = std::fs::read_to_string(&model)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("REMARK   2"))
        .map(|l| format!("{l}\n"))
        .collect();
    let no_resolution = dir.path().join("no_resolution.pdb");
    std::fs::write(&no_resolution, stripped).unwrap();
    let out = run(dir.path(), &["no_resolution.pdb", &map]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("resolution is required"), "{}", text(&out));
    let out = run(dir.path(), &[&model, &map, "output=from_remark.mrc"]);
    assert!(out.status.success() && text(&out).contains("as recorded in"), "{}", text(&out));
    std::fs::remove_file(dir.path().join("from_remark.mrc")).unwrap();
    // (A successful run also writes its viewer scripts and peak pictures beside the map.)
    std::fs::remove_file(dir.path().join("from_remark_chimerax.cxc")).unwrap();
    std::fs::remove_file(dir.path().join("from_remark_coot.py")).unwrap();
    std::fs::remove_dir_all(dir.path().join("from_remark_pictures")).unwrap();
    for bad in ["resolution=-1", "resolution=abc", "resolution=0"] {
        let out = run(dir.path(), &[&model, &map, bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
    }
    let out = run(dir.path(), &[&model, &map, "resolution=3.2", "windw=20"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("unknown key 'windw'") && text(&out).contains("window"), "{}", text(&out));

    // A truncated map: the error names the file and the problem.
    let bytes = std::fs::read(&map).unwrap();
    std::fs::write(dir.path().join("short.mrc"), &bytes[..bytes.len() - 100]).unwrap();
    let out = run(dir.path(), &[&model, "short.mrc", "resolution=3.2", "output=out.mrc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("short.mrc") && text(&out).contains("shorter than"), "{}", text(&out));

    // Missing files and garbage models.
    let out = run(dir.path(), &["missing.pdb", &map, "resolution=3.2", "output=out.mrc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("missing.pdb"), "{}", text(&out));
    std::fs::write(dir.path().join("garbage.pdb"), "this is not a model\n").unwrap();
    let out = run(dir.path(), &["garbage.pdb", &map, "resolution=3.2", "output=out.mrc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("garbage.pdb"), "{}", text(&out));

    // A model in another frame than the map.
    let shared_model = "ATOM      1  CA  ALA A   1       1.000   1.000   1.000  1.00 20.00           C\nEND\n";
    std::fs::write(dir.path().join("far.pdb"), shared_model).unwrap();
    let out = run(dir.path(), &["far.pdb", &map, "resolution=3.2", "output=out.mrc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("different frames"), "{}", text(&out));

    // Writing over an input is refused and leaves it intact.
    std::fs::copy(&map, dir.path().join("in.mrc")).unwrap();
    let out = run(dir.path(), &[&model, "in.mrc", "resolution=3.2", "output=in.mrc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("refusing"), "{}", text(&out));
    assert_eq!(std::fs::read(dir.path().join("in.mrc")).unwrap(), bytes);

    // None of the failures left an output or a temporary file.
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    names.sort();
    assert_eq!(names, ["far.pdb", "garbage.pdb", "in.mrc", "no_resolution.pdb", "short.mrc"]);
}

pub fn help_lists_the_keys_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"]);
    assert!(out.status.success());
    let help = text(&out);
    for key in
        ["--resolution", "--output", "--window", "--variant", "--sigma_scope", "map_model_difference.ccp4", "key=value"]
    {
        assert!(help.contains(key), "missing {key} in help");
    }
}
