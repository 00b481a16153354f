//! The batch command: bad entries do not stop good ones, a killed batch resumes to the same
//! result, parallel and sharded runs agree with serial ones.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn batch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_real_space_diff_map")).current_dir(dir).arg("batch").args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A manifest of good entries made from testdata (different ids and options), written in `dir`.
fn good_manifest(dir: &Path, copies: usize) -> PathBuf {
    let model = common::testdata("6vyb_Ndom_noNAG.pdb");
    let map = common::testdata("emd_21457_seg.mrc");
    let mut text = String::from("id\tmodel\tmap\tresolution\twindow\n");
    for i in 0..copies {
        text.push_str(&format!("spike{i}\t{}\t{}\t3.2\t{}\n", model.display(), map.display(), 14 + i));
    }
    let path = dir.join("manifest.tsv");
    std::fs::write(&path, text).unwrap();
    path
}

fn outputs_of(out: &Path, id: &str) -> Vec<u8> {
    std::fs::read(out.join(id).join("difference.ccp4")).unwrap()
}

pub fn bad_entries_are_reported_and_good_ones_finish() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = common::testdata("6vyb_Ndom_noNAG.pdb");
    let map = common::testdata("emd_21457_seg.mrc");
    let bytes = std::fs::read(&map).unwrap();
    std::fs::write(d.join("short.mrc"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(d.join("garbage.pdb"), "not a model at all\n").unwrap();
    let mut manifest = String::from("id,model,map,resolution\n");
    manifest.push_str(&format!("good,{},{},3.2\n", model.display(), map.display()));
    manifest.push_str(&format!("truncated,{},short.mrc,3.2\n", model.display()));
    manifest.push_str(&format!("missing,{},absent.mrc,3.2\n", model.display()));
    manifest.push_str(&format!("garbage,garbage.pdb,{},3.2\n", map.display()));
    if let Some(shared) = common::shared_dir("bad_entries_are_reported_and_good_ones_finish (shared cases)") {
        let s = |p: &str| shared.join(p).display().to_string();
        // Different placements and axis orders, low resolution, mmCIF.
        let picked = ["spike_nstart", "mitoribo", "actin", "4a7h_zyx", "heme_cif"];
        for (id, m, mp, r) in common::SHARED_CASES.iter().filter(|c| picked.contains(&c.0)) {
            manifest.push_str(&format!("{id},{},{},{r}\n", s(m), s(mp)));
        }
    }
    std::fs::write(d.join("manifest.csv"), manifest).unwrap();
    let out = batch(d, &["manifest.csv", "--out-dir", "out", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(1), "three entries fail: {}", text(&out));
    let summary = std::fs::read_to_string(d.join("out/summary.tsv")).unwrap();
    let columns: Vec<&str> = summary.lines().next().unwrap().split('\t').collect();
    let column = |name: &str| columns.iter().position(|c| *c == name).unwrap();
    for line in summary.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (id, status, error) = (fields[0], fields[1], fields[column("error")]);
        match id {
            "truncated" => {
                assert!(status == "failed" && error.contains("short.mrc") && error.contains("shorter"), "{line}")
            }
            "missing" => assert!(status == "failed" && error.contains("absent.mrc"), "{line}"),
            "garbage" => assert!(status == "failed" && error.contains("garbage.pdb"), "{line}"),
            _ => {
                assert_eq!(status, "done", "{line}");
                assert!(d.join("out").join(id).join("done.json").exists());
                assert!(fields[column("top_positive")].parse::<f64>().unwrap() > 3.0, "top positive peak: {line}");
            }
        }
    }
    // No output folder of a failed entry holds a map or a stamp.
    assert!(!d.join("out/truncated/difference.ccp4").exists());
    assert!(!d.join("out/truncated/done.json").exists());
    // A rerun skips the good entries and reports the failures again without rerunning them.
    let again = batch(d, &["manifest.csv", "--out-dir", "out"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("0 done"), "{}", text(&again));
}

pub fn a_killed_batch_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    good_manifest(d, 8);
    // Reference: an uninterrupted run.
    assert!(batch(d, &["manifest.tsv", "--out-dir", "reference", "--jobs", "1"]).status.success());
    // Interrupted run: SIGKILL once the first entry is stamped.
    let mut child = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(["batch", "manifest.tsv", "--out-dir", "killed", "--jobs", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !d.join("killed/spike0/done.json").exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stamped_before = (0..8).filter(|i| d.join(format!("killed/spike{i}/done.json")).exists()).count();
    assert!(stamped_before < 8, "the batch finished before it could be killed");
    let resumed = batch(d, &["manifest.tsv", "--out-dir", "killed", "--jobs", "1"]);
    assert!(resumed.status.success(), "{}", text(&resumed));
    let summary = std::fs::read_to_string(d.join("killed/summary.tsv")).unwrap();
    let skipped = summary.lines().filter(|l| l.contains("\tskipped\t")).count();
    assert!(skipped >= 1 && skipped >= stamped_before, "{summary}");
    for i in 0..8 {
        let id = format!("spike{i}");
        assert_eq!(outputs_of(&d.join("killed"), &id), outputs_of(&d.join("reference"), &id), "{id}");
        let leftovers: Vec<_> = std::fs::read_dir(d.join("killed").join(&id))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{id}: {leftovers:?}");
    }
    // A changed parameter reruns that entry only.
    let manifest = std::fs::read_to_string(d.join("manifest.tsv")).unwrap().replace("\t3.2\t14\n", "\t3.2\t25\n");
    std::fs::write(d.join("manifest.tsv"), manifest).unwrap();
    let rerun = batch(d, &["manifest.tsv", "--out-dir", "killed"]);
    assert!(text(&rerun).contains("1 done, 7 skipped"), "{}", text(&rerun));
}

pub fn parallel_and_sharded_runs_agree_with_a_serial_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    good_manifest(d, 5);
    assert!(batch(d, &["manifest.tsv", "--out-dir", "serial", "--jobs", "1"]).status.success());
    assert!(batch(d, &["manifest.tsv", "--out-dir", "parallel", "--jobs", "2"]).status.success());
    assert!(batch(d, &["manifest.tsv", "--out-dir", "sharded", "--shard", "1/2"]).status.success());
    let first: Vec<String> = std::fs::read_dir(d.join("sharded"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("spike"))
        .collect();
    assert!(batch(d, &["manifest.tsv", "--out-dir", "sharded", "--shard", "2/2"]).status.success());
    for i in 0..5 {
        let id = format!("spike{i}");
        assert_eq!(outputs_of(&d.join("serial"), &id), outputs_of(&d.join("parallel"), &id), "{id}: jobs 1 vs 2");
        assert_eq!(outputs_of(&d.join("serial"), &id), outputs_of(&d.join("sharded"), &id), "{id}: sharded");
    }
    // Shard 1/2 took entries 1, 3, 5 (0-based 0, 2, 4); 2/2 the others: each entry once.
    let mut first = first;
    first.sort();
    assert_eq!(first, ["spike0", "spike2", "spike4"]);
    for bad in ["0/2", "3/2", "x", "1/0"] {
        assert_eq!(batch(d, &["manifest.tsv", "--out-dir", "x", "--shard", bad]).status.code(), Some(2), "{bad}");
    }
}

pub fn manifest_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (content, expected) in [
        ("name,model,map\na,b,c\n", "must name the columns id, model and map"),
        ("id,model,map\na/b,m.pdb,x.map\n", "entry id 'a/b'"),
        ("id,model,map\na,m.pdb,x.map\na,m.pdb,y.map\n", "appears twice"),
        ("id,model,map,colour\na,m.pdb,x.map,red\n", "unknown column 'colour'"),
    ] {
        std::fs::write(d.join("m.csv"), content).unwrap();
        let out = batch(d, &["m.csv", "--out-dir", "out"]);
        assert_eq!(out.status.code(), Some(2), "{content}");
        assert!(text(&out).contains(expected) && text(&out).contains("m.csv:"), "{}", text(&out));
    }
}
