//! A new user's first hour, as issue 24 tried it: the README's first example does what the
//! README says it does, a model file's X-ray resolution is refused by name, every message
//! points at the real mistake, and every number carries its unit.

use crate::common;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn program() -> &'static str {
    env!("CARGO_BIN_EXE_real_space_diff_map")
}

/// A folder that sees the repository's `testdata/` as its own, so the README's relative paths
/// work from it.
fn user_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(common::root().join("testdata"), dir.path().join("testdata")).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(program()).current_dir(dir).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The code blocks of the README's "Try it" section, in order.
fn try_it_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let start = readme.find("## Try it").expect("README has a Try it section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    // Each block without its language tag (```sh, ```text).
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.split_once('\n').map_or(b, |(tag, rest)| if tag.contains(' ') { b } else { rest }))
        .map(|b| b.trim_matches('\n').to_string())
        .collect()
}

/// The command words of a README block (`real_space_diff_map` first).
fn words(block: &str) -> Vec<&str> {
    let words: Vec<&str> = block.split_whitespace().collect();
    assert_eq!(words[0], "real_space_diff_map", "{block}");
    words[1..].to_vec()
}

/// Rank, height and position of each row of the printed peak table.
fn peak_rows(printed: &str) -> Vec<(usize, f64, [f64; 3])> {
    printed
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("rank"))
        .skip(1)
        .map_while(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let number = |i: usize| f.get(i)?.parse::<f64>().ok();
            Some((f.first()?.parse().ok()?, number(1)?, [number(2)?, number(3)?, number(4)?]))
        })
        .collect()
}

fn distance_to_nearest(point: [f64; 3], atoms: &[[f64; 3]]) -> f64 {
    atoms
        .iter()
        .map(|a| ((a[0] - point[0]).powi(2) + (a[1] - point[1]).powi(2) + (a[2] - point[2]).powi(2)).sqrt())
        .fold(f64::INFINITY, f64::min)
}

pub fn the_readme_first_example_shows_the_removed_heme_as_peak_1() {
    let blocks = try_it_blocks();
    assert!(blocks.len() >= 3, "a command, what it prints, the half-map command: {blocks:?}");
    let dir = user_folder();
    let out = run(dir.path(), &words(&blocks[0]));
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    // What the README says the user should see is what the program prints, line for line.
    for line in blocks[1].lines() {
        assert!(printed.lines().any(|l| l == line), "README line not printed: {line:?}\n---\n{printed}");
    }
    let heme = common::removed_atoms(&common::testdata("ligand_pocket/removed_atoms.json"));
    let rows = peak_rows(&printed);
    let (rank, height, position) = rows[0];
    assert_eq!(rank, 1);
    assert!(height > 5.0, "peak 1 at {height} sigma");
    let distance = distance_to_nearest(position, &heme);
    assert!(distance < 2.0, "peak 1 lies {distance:.2} Å from the nearest removed heme atom");
    assert!(dir.path().join("diff.ccp4").exists());

    // The half-map command: the heme is peak 1 again, in z, and the only blob at q <= 0.01.
    let out = run(dir.path(), &words(&blocks[2]));
    assert!(out.status.success(), "{}", text(&out));
    let rows = peak_rows(&String::from_utf8_lossy(&out.stdout));
    assert!(rows[0].1 > 30.0, "heme at {} z", rows[0].1);
    assert_eq!(rows.len(), 1, "with fdr=0.01 the heme is the only blob listed: {rows:?}");
    assert!(distance_to_nearest(rows[0].2, &heme) < 2.0);
    assert!(dir.path().join("report.html").exists());
}

/// The recipe builds and tests what the README shows: same version, same first example.
pub fn the_conda_recipe_tests_the_readme_example_at_this_version() {
    let recipe = std::fs::read_to_string(common::root().join("recipe/meta.yaml")).unwrap();
    assert!(recipe.contains(&format!("{{% set version = \"{}\" %}}", env!("CARGO_PKG_VERSION"))), "{recipe}");
    let first = &try_it_blocks()[0];
    assert!(recipe.contains(&format!("    - {first}")), "the recipe runs `{first}`");
    assert!(recipe.contains("- testdata/ligand_pocket"), "the recipe carries the example");
    assert!(recipe.contains("real_space_diff_map --help"));
}

pub fn a_resolution_from_an_x_ray_entry_is_named_and_refused() {
    let dir = user_folder();
    let d = dir.path();
    let map = "testdata/emd_21457_seg.mrc";
    let pdb = std::fs::read_to_string(common::testdata("6vyb_Ndom_noNAG.pdb")).unwrap();
    assert!(pdb.contains("EXPDTA    ELECTRON MICROSCOPY") && pdb.contains("RESOLUTION.    3.20"));
    // As recorded by an electron-microscopy entry: used.
    let out = run(d, &["testdata/6vyb_Ndom_noNAG.pdb", map, "output=em.ccp4", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    // The same REMARK 2 in an X-ray entry: refused, naming the record and the method.
    std::fs::write(d.join("xray.pdb"), pdb.replace("EXPDTA    ELECTRON MICROSCOPY", "EXPDTA    X-RAY DIFFRACTION"))
        .unwrap();
    let out = run(d, &["xray.pdb", map, "output=xray.ccp4"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    for words in ["resolution=", "xray.pdb records 3.2 Å in REMARK 2 RESOLUTION", "X-RAY DIFFRACTION", "not used"] {
        assert!(said.contains(words), "{words:?} in {said}");
    }
    assert!(!d.join("xray.ccp4").exists());
    // No EXPDTA at all: not known to be from a reconstruction either.
    let bare: String = pdb.lines().filter(|l| !l.starts_with("EXPDTA")).map(|l| format!("{l}\n")).collect();
    std::fs::write(d.join("bare.pdb"), bare).unwrap();
    let out = run(d, &["bare.pdb", map]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("does not say the model is from electron microscopy"), "{}", text(&out));
    // mmCIF: an X-ray refinement's limit is named by its item.
    let cif = std::fs::read_to_string(common::testdata("6vyb_Ndom_noNAG.cif")).unwrap();
    let cif = cif.replace("6VYB 'ELECTRON MICROSCOPY'", "6VYB 'X-RAY DIFFRACTION'")
        + "#\n_refine.entry_id 6VYB\n_refine.ls_d_res_high 1.54\n#\n";
    std::fs::write(d.join("xray.cif"), cif).unwrap();
    let out = run(d, &["xray.cif", map]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("1.54 Å in _refine.ls_d_res_high"), "{}", text(&out));
    // With resolution= the file's record does not matter.
    let out = run(d, &["xray.pdb", map, "resolution=3.2", "output=given.ccp4", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    // The shared actin case of the issue: 1J6Z (X-ray, 1.54 Å) in a 6.6 Å reconstruction.
    let Some(shared) = common::shared_dir("a_resolution_from_an_x_ray_entry_is_named_and_refused") else { return };
    let actin = shared.join("data/actin_emd5168");
    let out = Command::new(program())
        .current_dir(d)
        .arg(actin.join("1J6Z.pdb"))
        .arg(actin.join("emd_5168.map"))
        .arg("output=actin.ccp4")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("1.54 Å in REMARK 2 RESOLUTION, but its experimental method is X-RAY DIFFRACTION"));
}

pub fn messages_name_the_real_mistake() {
    let dir = user_folder();
    let d = dir.path();
    let (model, map) = ("testdata/6vyb_Ndom_noNAG.pdb", "testdata/emd_21457_seg.mrc");
    let fails_saying = |args: &[&str], code: i32, wanted: &[&str]| {
        let out = run(d, args);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {said}");
        for w in wanted {
            assert!(said.contains(w), "{args:?}: {w:?} not in {said}");
        }
        assert!(!said.contains("panicked"));
    };
    // The two files swapped, either way round.
    fails_saying(&[map, model, "resolution=3.2"], 1, &["this is a model file", "the order is MODEL MAP"]);
    fails_saying(&[map, map, "resolution=3.2"], 1, &["emd_21457_seg.mrc", "this is a CCP4/MRC map, not a model"]);
    // The README's own pocket files, whose model starts with HET records: told by content.
    let pocket = ("testdata/ligand_pocket/model.pdb", "testdata/ligand_pocket/map.mrc");
    fails_saying(
        &[pocket.1, pocket.0, "resolution=3.2"],
        1,
        &["map.mrc", "this is a model file", "the order is MODEL MAP"],
    );
    fails_saying(&["testdata/ligand_pocket/model.cif", pocket.0, "resolution=3.2"], 1, &["this is a model file"]);
    // A model in another frame: both extents, in Å.
    let shifted: String = std::fs::read_to_string(common::testdata("6vyb_Ndom_noNAG.pdb"))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("ATOM") || l.starts_with("HETATM") {
                let x: f64 = l[30..38].trim().parse().unwrap();
                format!("{}{:8.3}{}\n", &l[..30], x + 500.0, &l[38..])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(d.join("shifted.pdb"), shifted).unwrap();
    fails_saying(
        &["shifted.pdb", map, "resolution=3.2"],
        1,
        &["do not overlap", "the model's 1573 atoms span (", "the map's box spans (162.7, 231.0, 204.7) .. ("],
    );
    // A typo in a key.
    fails_saying(&[model, map, "resolutoin=3.2"], 2, &["unknown key 'resolutoin'; did you mean 'resolution'?"]);
    fails_saying(&[model, map, "resolution=3.2", "--peak-sigm", "4"], 2, &["did you mean 'peak_sigma'?"]);
    // Output folders are made; a file in the way is named.
    let out = run(d, &[model, map, "resolution=3.2", "output=new/sub/diff.ccp4", "json=new/report.json", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(d.join("new/sub/diff.ccp4").is_file() && d.join("new/report.json").is_file());
    std::fs::write(d.join("blocker"), "a file").unwrap();
    fails_saying(&[model, map, "resolution=3.2", "output=blocker/diff.ccp4"], 1, &["blocker is not a folder"]);

    // Manifests: a mistyped column, a mistyped option, and entries that fail for any reason
    // leave one failed.json each.
    let manifest = |name: &str, text: &str| {
        std::fs::write(d.join(name), text).unwrap();
        name.to_string()
    };
    let typo = manifest("columns.tsv", &format!("id\tmodel\tmap\tresolution\tpeak_sigm\nok\t{model}\t{map}\t3.2\t4\n"));
    fails_saying(&["batch", &typo, "--out-dir", "out_typo"], 2, &["columns.tsv:1", "did you mean 'peak_sigma'?"]);
    let option = manifest("options.tsv", &format!("id\tmodel\tmap\toptions\nok\t{model}\t{map}\tpeak_sigm=4\n"));
    fails_saying(
        &["batch", &option, "--out-dir", "out_opt"],
        2,
        &["options.tsv:2", "unknown option 'peak_sigm'; did you mean 'peak_sigma'?"],
    );
    let pocket = "testdata/ligand_pocket";
    let failing = manifest(
        "failing.tsv",
        &format!(
            "id\tmodel\tmap\tresolution\nmissing\ttestdata/absent.pdb\t{map}\t3.2\n\
             no_resolution\t{pocket}/model.pdb\t{pocket}/map.mrc\t\nswapped\t{map}\t{model}\t3.2\n"
        ),
    );
    let out = run(d, &["batch", &failing, "--out-dir", "out", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for (id, kind, message) in [
        ("missing", "io", "absent.pdb"),
        ("no_resolution", "usage", "a `resolution` column of the manifest"),
        ("swapped", "map", "the order is MODEL MAP"),
    ] {
        let folder = d.join("out").join(id);
        let files: Vec<String> =
            std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        assert!(
            files.contains(&"failed.json".to_string()) && !files.contains(&"error.json".to_string()),
            "{id}: {files:?}"
        );
        let stamp: Value = serde_json::from_str(&std::fs::read_to_string(folder.join("failed.json")).unwrap()).unwrap();
        for key in ["version", "parameters", "inputs", "error"] {
            assert!(stamp.get(key).is_some(), "{id}: failed.json has {key}");
        }
        assert_eq!(stamp["error"]["kind"], kind, "{id}: {stamp}");
        let said = format!("{} {}", stamp["error"]["file"], stamp["error"]["message"]);
        assert!(said.contains(message), "{id}: {message:?} not in {said}");
    }
}

pub fn units_travel_with_every_number() {
    let dir = user_folder();
    let d = dir.path();
    let pocket = "testdata/ligand_pocket";
    let half = |n: u8| format!("half_map={pocket}/half{n}.mrc");
    let out = run(
        d,
        &[
            &format!("{pocket}/model.pdb"),
            &half(1),
            &half(2),
            "resolution=3.2",
            "output=z.ccp4",
            "csv=z",
            "json=z.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    let header = printed.lines().find(|l| l.trim_start().starts_with("rank")).unwrap();
    assert!(header.contains("height(z)") && header.contains("x(A)") && header.contains("z(A)"), "{header}");
    assert_eq!(header.split_whitespace().filter(|w| *w == "z").count(), 0, "no bare z column: {header}");
    for (file, unit) in [("z_peaks.csv", "z"), ("z_residues.csv", "z")] {
        let csv = std::fs::read_to_string(d.join(file)).unwrap();
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().ends_with(",units"), "{file}");
        assert!(lines.all(|l| l.ends_with(&format!(",{unit}"))), "{file}: every row says {unit}");
    }
    let report: Value = serde_json::from_str(&std::fs::read_to_string(d.join("z.json")).unwrap()).unwrap();
    assert_eq!(report["peak_search"]["units"], "half_map_z");
    let voxels: u64 = report["map"]["dims"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).product();
    let h = &report["histogram"];
    let counted: u64 = h["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum::<u64>()
        + h["below"].as_u64().unwrap()
        + h["above"].as_u64().unwrap();
    assert_eq!(counted, voxels, "the histogram counts every voxel once");

    // A batch mixing half-map and single-map entries: every row says its unit.
    std::fs::write(
        d.join("mixed.tsv"),
        format!(
            "id\tmodel\tmap\thalf_map_1\thalf_map_2\tresolution\n\
             halves\t{pocket}/model.pdb\t\t{pocket}/half1.mrc\t{pocket}/half2.mrc\t3.2\n\
             single\t{pocket}/model.pdb\t{pocket}/map.mrc\t\t\t3.2\n"
        ),
    )
    .unwrap();
    let out = run(d, &["batch", "mixed.tsv", "--out-dir", "batch"]);
    assert!(out.status.success(), "{}", text(&out));
    let tsv = std::fs::read_to_string(d.join("batch/summary.tsv")).unwrap();
    let columns: Vec<&str> = tsv.lines().next().unwrap().split('\t').collect();
    let units = columns.iter().position(|c| *c == "units").expect("a units column");
    assert!(!columns.iter().any(|c| c.ends_with("_sigma")), "no column claims sigma: {columns:?}");
    let unit_of = |id: &str| -> String {
        tsv.lines().find(|l| l.starts_with(&format!("{id}\t"))).unwrap().split('\t').nth(units).unwrap().to_string()
    };
    assert_eq!((unit_of("halves").as_str(), unit_of("single").as_str()), ("z", "sigma"));
    let rows: Value = serde_json::from_str(&std::fs::read_to_string(d.join("batch/summary.json")).unwrap()).unwrap();
    let json_units: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["units"].as_str().unwrap()).collect();
    assert_eq!(json_units, ["z", "sigma"]);
    let page = std::fs::read_to_string(d.join("batch/index.html")).unwrap();
    assert!(page.contains("{key: \"units\", title: \"units\""), "the batch page has a units column");
    // Without JavaScript the page still lists every entry, linked to its report.
    let plain =
        page.split("<noscript>").nth(1).and_then(|p| p.split("</noscript>").next()).expect("a <noscript> table");
    for id in ["halves", "single"] {
        assert!(plain.contains(&format!("<a href=\"{id}/report.html\">{id}</a>")), "{id} in {plain}");
    }
    assert!(plain.matches("<tr><td>").count() == 2 && plain.contains("<td>done</td>"), "{plain}");
}

/// The words after the program's name of the README's first example.
pub fn readme_first_command() -> Vec<String> {
    let block = try_it_blocks().remove(0);
    words(&block).iter().map(|w| w.to_string()).collect()
}

/// Peak 1 of a printed table, and how far it lies from the README example's removed heme.
pub fn first_peak_distance_to_heme(printed: &str) -> Option<f64> {
    let heme = common::removed_atoms(&common::testdata("ligand_pocket/removed_atoms.json"));
    peak_rows(printed).first().map(|row| distance_to_nearest(row.2, &heme))
}
