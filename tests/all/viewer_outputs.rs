//! What people look at, checked against the run that wrote it: the ChimeraX and Coot scripts
//! (every command parsed, paths resolved from the script's folder after the whole results
//! folder has moved, levels, placement and peak coordinates compared with the JSON report; the
//! Coot script run by Python with stand-ins for Coot's functions), the peak pictures (decoded,
//! with the difference contours in the right colour around the peak), and the HTML report
//! (self-contained: no address outside the folder, every link resolves).

use crate::common;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Inputs in `root/inputs`, outputs in `root/results`: the scripts must climb out of one into
/// the other by relative paths.
fn run_in(root: &Path, extra: &[&str]) -> (PathBuf, Value) {
    let inputs = root.join("inputs");
    let results = root.join("results");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&results).unwrap();
    for name in ["6vyb_Ndom_noNAG.pdb", "emd_21457_seg.mrc"] {
        std::fs::copy(common::testdata(name), inputs.join(name)).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(root)
        .args([
            "inputs/6vyb_Ndom_noNAG.pdb",
            "inputs/emd_21457_seg.mrc",
            "resolution=3.2",
            "output=results/diff.ccp4",
            "json=results/report.json",
            "html=results/report.html",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(results.join("report.json")).unwrap()).unwrap();
    (results, report)
}

/// Moves the whole run (inputs and results) elsewhere, as a user moving a project folder does.
fn moved(root: &Path) -> PathBuf {
    let target = root.with_file_name(format!("{}_moved", root.file_name().unwrap().to_string_lossy()));
    std::fs::rename(root, &target).unwrap();
    target
}

/// A default run in a project folder that is then moved; returns the folder's new place (and
/// the temporary folder that holds it, to keep it alive) with the run's report.
fn run_then_move() -> (tempfile::TempDir, PathBuf, Value) {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("project");
    let (_, report) = run_in(&root, &[]);
    let root = moved(&root);
    (temp, root, report)
}

fn numbers(text: &str) -> Vec<f64> {
    text.split(',').map(|v| v.parse::<f64>().unwrap()).collect()
}

fn close(a: &[f64], b: &[f64], tolerance: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tolerance)
}

fn f64s(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

/// Splits a ChimeraX command into words, keeping quoted strings whole.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(c),
        }
    }
    assert!(!quoted, "unbalanced quotes: {line}");
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The value after `key` in a command's words.
fn option<'a>(words: &'a [String], key: &str) -> Option<&'a str> {
    words.iter().position(|w| w == key).map(|i| words[i + 1].as_str())
}

pub fn chimerax_script_opens_the_run_where_it_was_computed() {
    let (_temp, root, report) = run_then_move();
    let results = root.join("results");
    let script = std::fs::read_to_string(results.join("diff_chimerax.cxc")).unwrap();
    let threshold = report["peak_search"]["threshold"].as_f64().unwrap();
    let origin = f64s(&report["map"]["first_voxel_centre"]);
    let voxel = f64s(&report["map"]["voxel_size"]);
    let peaks = report["peaks"].as_array().unwrap();
    assert!(!peaks.is_empty());
    let (mut opened, mut volumes, mut markers, mut labels) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let w = words(line);
        match w[0].as_str() {
            "close" | "style" | "view" => {}
            "open" => {
                // ChimeraX runs a .cxc from the script's folder: resolve from there.
                let path = results.join(&w[1]);
                assert!(path.exists(), "{line}: {} does not exist after the folder moved", path.display());
                opened.push(path.canonicalize().unwrap());
            }
            "volume" => volumes.push(w),
            "marker" => markers.push(w),
            "label" => labels.push(w),
            other => panic!("unexpected ChimeraX command {other}: {line}"),
        }
    }
    let expected: Vec<PathBuf> = ["inputs/6vyb_Ndom_noNAG.pdb", "inputs/emd_21457_seg.mrc", "results/diff.ccp4"]
        .iter()
        .map(|p| root.join(p).canonicalize().unwrap())
        .collect();
    assert_eq!(opened, expected, "model, experimental map, difference map, in that order");
    assert_eq!(volumes.len(), 2);
    for volume in &volumes {
        assert_eq!(option(volume, "step"), Some("1"));
        assert!(close(&numbers(option(volume, "origin").unwrap()), &origin, 1e-3), "{volume:?}");
        assert!(close(&numbers(option(volume, "voxelSize").unwrap()), &voxel, 1e-3), "{volume:?}");
    }
    // The difference map: red at -threshold, green at +threshold.
    let difference = &volumes[1];
    assert_eq!(difference[1], "#3");
    let levels: Vec<(f64, &str)> = difference
        .iter()
        .enumerate()
        .filter(|(_, w)| *w == "level")
        .map(|(i, _)| (difference[i + 1].parse().unwrap(), difference[i + 3].as_str()))
        .collect();
    assert_eq!(levels.len(), 2);
    assert!((levels[0].0 + threshold).abs() < 1e-5 && levels[0].1 == "#ff0000", "{levels:?}");
    assert!((levels[1].0 - threshold).abs() < 1e-5 && levels[1].1 == "#00c000", "{levels:?}");
    // The experimental map's level lies inside its range of values.
    let experimental_level: f64 = option(&volumes[0], "level").unwrap().parse().unwrap();
    let statistics = &report["map"]["statistics"];
    assert!(experimental_level > statistics["mean"].as_f64().unwrap());
    assert!(experimental_level < statistics["max"].as_f64().unwrap());
    // One marker and one label per listed peak, at the peak, numbered as in the report.
    assert_eq!(markers.len(), peaks.len());
    assert_eq!(labels.len(), peaks.len());
    for (index, (marker, peak)) in markers.iter().zip(peaks).enumerate() {
        assert!(close(&numbers(option(marker, "position").unwrap()), &f64s(&peak["position"]), 1e-3), "{marker:?}");
        let colour = if peak["height"].as_f64().unwrap() > 0.0 { "#00c000" } else { "#ff0000" };
        assert_eq!(option(marker, "color"), Some(colour));
        let label = &labels[index];
        assert_eq!(label[1], format!("#10:{}", index + 1));
        let text = option(label, "text").unwrap();
        assert!(text.starts_with(&format!("{}: {:+.1}", index + 1, peak["height"].as_f64().unwrap())), "{text}");
    }
}

pub fn coot_script_runs_with_coot_functions_and_finds_the_files() {
    let (_temp, root, report) = run_then_move();
    let script = root.join("results/diff_coot.py");
    // Stand-ins for Coot's functions record the calls; the script runs as Coot would run it.
    let harness = r#"
import json, sys
calls = []
def recorder(name, result=None):
    def call(*args):
        calls.append([name] + list(args))
        return result
    return call
namespace = {"__file__": sys.argv[1], "__name__": "__main__"}
counter = iter(range(1, 100))
for name in ["read_pdb", "handle_read_ccp4_map"]:
    namespace[name] = (lambda n: (lambda *a: (calls.append([n] + list(a)), next(counter))[1]))(name)
for name in ["set_contour_level_absolute", "interesting_things_gui", "set_rotation_centre"]:
    namespace[name] = recorder(name)
source = open(sys.argv[1]).read()
exec(compile(source, sys.argv[1], "exec"), namespace)
print(json.dumps(calls))
"#;
    let output = Command::new("python3").arg("-c").arg(harness).arg(&script).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let calls: Vec<Value> = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let named = |name: &str| calls.iter().filter(|c| c[0] == name).collect::<Vec<_>>();
    let path_of = |v: &Value| PathBuf::from(v.as_str().unwrap()).canonicalize().unwrap();
    let read_pdb = named("read_pdb");
    assert_eq!(path_of(&read_pdb[0][1]), root.join("inputs/6vyb_Ndom_noNAG.pdb").canonicalize().unwrap());
    let maps = named("handle_read_ccp4_map");
    assert_eq!(maps.len(), 2);
    assert_eq!(path_of(&maps[0][1]), root.join("inputs/emd_21457_seg.mrc").canonicalize().unwrap());
    assert_eq!(maps[0][2], 0, "the experimental map is not a difference map");
    assert_eq!(path_of(&maps[1][1]), root.join("results/diff.ccp4").canonicalize().unwrap());
    assert_eq!(maps[1][2], 1, "Coot draws a difference map at +level green and -level red");
    let threshold = report["peak_search"]["threshold"].as_f64().unwrap();
    let levels = named("set_contour_level_absolute");
    // Map ids: the model took 1, the experimental map 2, the difference map 3.
    assert_eq!(levels[1][1], 3);
    assert!((levels[1][2].as_f64().unwrap() - threshold).abs() < 1e-5);
    let peaks = report["peaks"].as_array().unwrap();
    let list = named("interesting_things_gui");
    let items = list[0][2].as_array().unwrap();
    assert_eq!(items.len(), peaks.len());
    for (item, peak) in items.iter().zip(peaks) {
        let xyz: Vec<f64> = item.as_array().unwrap()[1..].iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(close(&xyz, &f64s(&peak["position"]), 2e-3), "{item} vs {}", peak["position"]);
    }
    let centre = named("set_rotation_centre");
    let centre: Vec<f64> = centre[0].as_array().unwrap()[1..].iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(close(&centre, &f64s(&peaks[0]["position"]), 2e-3), "the view starts at the strongest peak");
}

/// Decodes a PNG into (width, height, RGB bytes).
fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buffer.truncate(info.buffer_size());
    (info.width, info.height, buffer)
}

/// Pixels of a colour within `radius` pixels of the centre of the first panel.
fn near_first_panel_centre(image: &(u32, u32, Vec<u8>), radius: i64, colour: [u8; 3]) -> usize {
    let (width, _, pixels) = image;
    // Panel 1 spans x 12..312 and y 56..356 (see view::pictures).
    let (cx, cy) = (12 + 150, 56 + 150);
    let mut count = 0;
    for y in cy - radius..=cy + radius {
        for x in cx - radius..=cx + radius {
            let offset = ((y * *width as i64 + x) * 3) as usize;
            if pixels[offset..offset + 3] == colour {
                count += 1;
            }
        }
    }
    count
}

pub fn peak_pictures_show_contours_around_each_peak() {
    let temp = tempfile::tempdir().unwrap();
    let (results, report) = run_in(temp.path(), &["peak_sigma=2.5", "pictures=60"]);
    let peaks = report["peaks"].as_array().unwrap();
    let drawn = peaks.len().min(60);
    let negative = peaks[..drawn].iter().position(|p| p["height"].as_f64().unwrap() < 0.0);
    assert!(negative.is_some(), "the test needs a negative peak among those drawn");
    for (index, peak) in peaks[..drawn].iter().enumerate() {
        let path = results.join(format!("diff_pictures/peak_{}.png", index + 1));
        let image = decode(&path);
        assert_eq!((image.0, image.1), (948, 398));
        // A peak beyond the threshold is enclosed by its contour: the contour's colour lies
        // within a few Å of the panel's centre (15 pixels per Å).
        let colour = if peak["height"].as_f64().unwrap() > 0.0 { [0, 160, 0] } else { [220, 0, 0] };
        assert!(near_first_panel_centre(&image, 60, colour) > 0, "no contour near peak {}", index + 1);
        // The experimental map is drawn in grey (the shading runs from 250 down to 60): a good
        // part of the first panel is grey, which its few labels could not be.
        let greys = (56..356)
            .flat_map(|y| (12..312).map(move |x| (y, x)))
            .filter(|(y, x)| {
                let p = &image.2[(y * image.0 as usize + x) * 3..][..3];
                p[0] == p[1] && p[1] == p[2] && (60..=200).contains(&p[0])
            })
            .count();
        assert!(greys > 5000, "peak {}: {greys} grey pixels", index + 1);
    }
    assert!(!results.join(format!("diff_pictures/peak_{}.png", drawn + 1)).exists());
}

pub fn switches_turn_the_pictures_and_scripts_off() {
    let temp = tempfile::tempdir().unwrap();
    let (results, _) = run_in(temp.path(), &["viewer=false", "pictures=0"]);
    assert!(!results.join("diff_chimerax.cxc").exists());
    assert!(!results.join("diff_coot.py").exists());
    assert!(!results.join("diff_pictures").exists());
    assert!(results.join("report.html").exists());
}

pub fn html_report_is_self_contained_and_its_links_resolve() {
    let (_temp, root, report) = run_then_move();
    let results = root.join("results");
    let page = std::fs::read_to_string(results.join("report.html")).unwrap();
    assert!(!page.contains("http://") && !page.contains("https://"), "no network address in the page");
    assert!(!page.contains("<script"), "the run report needs no script");
    let mut links = Vec::new();
    for attribute in ["href=\"", "src=\""] {
        for (start, _) in page.match_indices(attribute) {
            let rest = &page[start + attribute.len()..];
            links.push(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    assert!(links.iter().any(|l| l.ends_with("peak_1.png")), "{links:?}");
    for link in links.iter().filter(|l| !l.starts_with("data:")) {
        assert!(results.join(link).exists(), "{link} does not resolve from the page's folder");
    }
    let listed = report["peaks"].as_array().unwrap().len().min(100);
    assert_eq!(page.matches("<tr><td class=\"num\">").count(), listed, "one table row per listed peak");
    for key in ["Placement check", "Residues in negative density", "Parameters", "resolution=3.2"] {
        assert!(page.contains(key), "{key}");
    }
}

pub fn a_run_that_could_not_write_its_extras_fails_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("diff_pictures"), "a file where the pictures' folder goes").unwrap();
    let map = common::testdata("emd_21457_seg.mrc");
    let cases: [&[&str]; 3] = [
        &["output=diff.ccp4"],
        &["output=other.ccp4", "html=diff_pictures/report.html"],
        &["output=other.ccp4", &format!("html={}", map.display())],
    ];
    let expected =
        ["diff_pictures: it exists and is not a folder", "diff_pictures is not a folder", "refusing to write"];
    for (args, message) in cases.iter().zip(expected) {
        let output = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
            .current_dir(d)
            .arg(common::testdata("6vyb_Ndom_noNAG.pdb"))
            .arg(&map)
            .arg("resolution=3.2")
            .args(*args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(message) && !stderr.contains("panicked"), "{args:?}: {stderr}");
        let names: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        assert_eq!(names, ["diff_pictures"], "{args:?}: nothing is written");
    }
}
