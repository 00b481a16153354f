//! The HTML pages in a real browser: headless Chromium (Debian's package) driven by Playwright
//! (`tests/tools/browser_check.py`) opens a run's report and a small batch's page, and the
//! tests check what the DOM holds: the rows, that every image loaded (natural width > 0), that
//! clicking a header sorts the rows, that a filter keeps the right rows, and that nothing was
//! logged as an error. Screenshots are saved in the test's folder (and copied to
//! `$RSDM_SCREENSHOT_DIR` when it is set, to look at them).

use crate::common;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> PathBuf {
    std::env::var_os("RSDM_TEST_PYTHON")
        .map_or(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python"), PathBuf::from)
}

fn chromium() -> String {
    common::chromium()
}

/// Opens `url` in Chromium; returns what the page held. The screenshot goes to `screenshot`.
fn open_in_browser(kind: &str, url: &str, screenshot: &Path) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/browser_check.py");
    let output = Command::new(python())
        .arg(script)
        .args([chromium().as_str(), kind, url])
        .arg(screenshot)
        .output()
        .expect("run the browser check");
    assert!(
        output.status.success(),
        "browser check failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if let Some(dir) = std::env::var_os("RSDM_SCREENSHOT_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(screenshot, Path::new(&dir).join(screenshot.file_name().unwrap())).unwrap();
    }
    serde_json::from_str(String::from_utf8_lossy(&output.stdout).lines().last().unwrap()).unwrap()
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

fn assert_clean(result: &Value) {
    for key in ["console_errors", "page_errors", "failed_requests"] {
        assert!(result[key].as_array().unwrap().is_empty(), "{key}: {}", result[key]);
    }
    for image in result["images"].as_array().unwrap() {
        assert!(image["width"].as_u64().unwrap() > 0, "image did not load: {image}");
    }
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap_or("").to_string()).collect()
}

pub fn run_report_loads_with_its_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let status = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .arg(common::testdata("6vyb_Ndom_noNAG.pdb"))
        .arg(common::testdata("emd_21457_seg.mrc"))
        .args(["resolution=3.2", "output=diff.ccp4", "json=report.json", "html=report.html", "quiet=true"])
        .status()
        .unwrap();
    assert!(status.success());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
    let result = open_in_browser("run", &file_url(&d.join("report.html")), &d.join("run_report.png"));
    assert_clean(&result);
    let peaks = report["peaks"].as_array().unwrap().len();
    assert_eq!(result["rows"].as_u64().unwrap() as usize, peaks.min(100));
    let images = result["images"].as_array().unwrap();
    assert_eq!(images.len(), peaks.min(6), "one picture per drawn peak");
    let flagged = report["residues"].as_array().unwrap().iter().filter(|r| r["in_negative_density"] == true).count();
    assert_eq!(result["residue_rows"].as_u64().unwrap() as usize, flagged);
    assert!(d.join("run_report.png").metadata().unwrap().len() > 10_000);
}

/// A half-map run's page: the half-map section with one row per shell of the report, the
/// histogram drawn with both thresholds, one row per chain, and the command that reproduces
/// the run, which does reproduce it.
pub fn half_map_report_shows_its_noise_histogram_chains_and_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(common::root().join("testdata"), d.join("testdata")).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args([
            "testdata/ligand_pocket/model.pdb",
            "half_map=testdata/ligand_pocket/half1.mrc",
            "half_map=testdata/ligand_pocket/half2.mrc",
            "resolution=3.2",
            "output=diff.ccp4",
            "json=report.json",
            "html=report.html",
            "--quiet",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
    let result = open_in_browser("run", &file_url(&d.join("report.html")), &d.join("half_map_report.png"));
    assert_clean(&result);
    let sections = strings(&result["sections"]);
    for section in ["command", "peaks", "distribution", "chains", "half-maps", "placement", "fit", "parameters"] {
        assert!(sections.iter().any(|s| s == section), "section {section} in {sections:?}");
    }
    let shells = report["fit"]["noise"]["shells"].as_array().unwrap().len();
    assert_eq!(result["shell_rows"].as_u64().unwrap() as usize, shells);
    let chains: std::collections::BTreeSet<&str> =
        report["residues"].as_array().unwrap().iter().map(|r| r["chain"].as_str().unwrap()).collect();
    assert_eq!(result["chain_rows"].as_u64().unwrap() as usize, chains.len());
    assert_eq!(result["threshold_lines"].as_u64(), Some(2), "both thresholds are marked");
    let bins = report["histogram"]["counts"].as_array().unwrap().iter().filter(|c| c.as_u64() != Some(0)).count();
    assert_eq!(result["histogram_bars"].as_u64().unwrap() as usize, bins, "one bar per non-empty bin");
    assert!(result["histogram_height"].as_f64().unwrap() > 100.0, "the histogram is drawn");
    // The command, pasted into a shell in the same folder, gives the same map.
    let command = result["command"].as_str().unwrap().to_string();
    assert!(command.starts_with("real_space_diff_map testdata/ligand_pocket/model.pdb half_map="), "{command}");
    let again = command.replace("real_space_diff_map ", "").replace("output=diff.ccp4", "output=again.ccp4");
    let words: Vec<&str> =
        again.split_whitespace().filter(|w| !w.starts_with("json=") && !w.starts_with("html=")).collect();
    let status = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(&words)
        .arg("--quiet")
        .status()
        .unwrap();
    assert!(status.success());
    let data = |name: &str| std::fs::read(d.join(name)).unwrap()[1024..].to_vec();
    assert!(data("again.ccp4") == data("diff.ccp4"), "the printed command reproduces the map");
}

/// A small batch: three good entries of the testdata (different windows, so different peaks)
/// and one whose map is missing.
fn small_batch(d: &Path, extra_entry: bool) -> std::process::Output {
    let model = common::testdata("6vyb_Ndom_noNAG.pdb");
    let map = common::testdata("emd_21457_seg.mrc");
    let mut manifest = String::from("id\tmodel\tmap\tresolution\twindow\n");
    for (id, window) in [("spike_w12", 12), ("spike_w20", 20), ("spike_w30", 30)] {
        manifest.push_str(&format!("{id}\t{}\t{}\t3.2\t{window}\n", model.display(), map.display()));
    }
    manifest.push_str(&format!("broken\t{}\tabsent.mrc\t3.2\t20\n", model.display()));
    if extra_entry {
        manifest.push_str(&format!("spike_w16\t{}\t{}\t3.2\t16\n", model.display(), map.display()));
    }
    std::fs::write(d.join("manifest.tsv"), manifest).unwrap();
    Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(["batch", "manifest.tsv", "--out-dir", "out", "--jobs", "2"])
        .output()
        .unwrap()
}

pub fn batch_page_sorts_filters_and_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = small_batch(d, false);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/summary.json")).unwrap()).unwrap();
    let result = open_in_browser("batch", &file_url(&d.join("out/index.html")), &d.join("batch_page.png"));
    assert_clean(&result);
    assert_eq!(result["rows"], 4);
    assert_eq!(strings(&result["initial_order"]), ["spike_w12", "spike_w20", "spike_w30", "broken"]);
    // Every good entry links to its report, which exists.
    let links = strings(&result["links"]);
    assert_eq!(links.len(), 3);
    for link in &links {
        assert!(d.join("out").join(link).exists(), "{link}");
    }
    // Sorting by the strongest positive peak: descending first, then ascending; rows without a
    // value last either way.
    let mut by_peak: Vec<(f64, String)> = summary
        .iter()
        .filter_map(|r| Some((r["top_positive"].as_array()?[0].as_f64()?, r["id"].as_str()?.to_string())))
        .collect();
    by_peak.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut expected: Vec<String> = by_peak.iter().map(|(_, id)| id.clone()).collect();
    expected.push("broken".into());
    assert_ne!(expected, strings(&result["initial_order"]), "the test needs a sort that changes the order");
    assert_eq!(strings(&result["after_positive_click"]), expected);
    assert_eq!(result["aria_after_click"], "descending");
    let mut ascending: Vec<String> = by_peak.iter().rev().map(|(_, id)| id.clone()).collect();
    ascending.push("broken".into());
    assert_eq!(strings(&result["after_second_positive_click"]), ascending);
    assert_eq!(strings(&result["after_id_click"]), ["broken", "spike_w12", "spike_w20", "spike_w30"]);
    assert_eq!(strings(&result["rows_filtered_failed"]), ["broken"]);
    assert_eq!(strings(&result["rows_filtered_positive"]).len(), 3);

    // Reopened after more entries ran, the page shows the new summary.
    let out = small_batch(d, true);
    assert_eq!(out.status.code(), Some(1), "the broken entry failed earlier (not retried) and still counts");
    let again = open_in_browser("batch", &file_url(&d.join("out/index.html")), &d.join("batch_page_reopened.png"));
    assert_clean(&again);
    assert_eq!(again["rows"], 5);

    // Served over HTTP, the page reads summary.json itself.
    let mut server = Command::new(python())
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
        .arg(d.join("out"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let port = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(server.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        line.split("port ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_string()
    };
    let served =
        open_in_browser("batch", &format!("http://127.0.0.1:{port}/index.html"), &d.join("batch_page_http.png"));
    let _ = server.kill();
    let _ = server.wait();
    assert_clean(&served);
    assert_eq!(served["rows"], 5);
}
