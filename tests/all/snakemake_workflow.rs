//! workflow/Snakefile runs a manifest through Snakemake (`snakemake --cores 2`) to the same
//! outputs as the batch command. Needs Snakemake: `$SNAKEMAKE`, `.venv-test/bin/snakemake`
//! (scripts/install_test_tools.sh installs it from PyPI), or `snakemake` on the PATH; skipped
//! with a message otherwise.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn snakemake() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("SNAKEMAKE")
        && Path::new(&path).exists()
    {
        return Some(PathBuf::from(path));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/snakemake");
    if local.exists() {
        return Some(local);
    }
    let found = Command::new("snakemake").arg("--version").output().ok()?;
    found.status.success().then(|| PathBuf::from("snakemake"))
}

pub fn the_snakefile_runs_a_manifest_like_the_batch_command() {
    let Some(snakemake) = snakemake() else {
        eprintln!(
            "SKIPPED the_snakefile_runs_a_manifest_like_the_batch_command: no snakemake (run scripts/install_test_tools.sh)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = common::testdata("6vyb_Ndom_noNAG.pdb");
    let map = common::testdata("emd_21457_seg.mrc");
    let mut manifest = String::from("id\tmodel\tmap\tresolution\twindow\n");
    manifest.push_str(&format!("spike\t{}\t{}\t3.2\t20\n", model.display(), map.display()));
    manifest.push_str(&format!("spike_w15\t{}\t{}\t3.2\t15\n", model.display(), map.display()));
    if let Some(shared) = common::shared_dir("the_snakefile_runs_a_manifest_like_the_batch_command (shared entries)") {
        let s = |p: &str| shared.join(p).display().to_string();
        manifest.push_str(&format!(
            "mitoribo\t{}\t{}\t3.2\t20\n",
            s("data/mitoribo_emd2566_3j6b/3J6B_9.pdb"),
            s("data/mitoribo_emd2566_3j6b/2566_3J6B_9.mrc")
        ));
        manifest.push_str(&format!(
            "actin_monomer\t{}\t{}\t6.6\t20\n",
            s("data/actin_emd5168/1J6Z.pdb"),
            s("data/actin_emd5168/emd_5168_monomer.mrc")
        ));
    }
    std::fs::write(d.join("manifest.tsv"), &manifest).unwrap();
    let snakefile = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workflow/Snakefile");
    let out = Command::new(&snakemake)
        .current_dir(d)
        .args(["-s", snakefile.to_str().unwrap(), "--cores", "2", "--keep-going", "--config"])
        .arg("manifest=manifest.tsv")
        .arg("out_dir=results")
        .arg(format!("program={}", env!("CARGO_BIN_EXE_real_space_diff_map")))
        .arg("threads=1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "snakemake failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<&str> = manifest.lines().skip(1).map(|l| l.split('\t').next().unwrap()).collect();
    let summary = std::fs::read_to_string(d.join("results/summary.tsv")).unwrap();
    assert_eq!(summary.lines().count(), ids.len() + 1, "{summary}");
    // The same entries through the batch command give byte-identical maps.
    let batch = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(["batch", "manifest.tsv", "--out-dir", "batch", "--jobs", "1"])
        .output()
        .unwrap();
    assert!(batch.status.success());
    for id in ids {
        assert!(d.join("results").join(id).join("done.json").exists(), "{id}");
        let a = std::fs::read(d.join("results").join(id).join("difference.ccp4")).unwrap();
        let b = std::fs::read(d.join("batch").join(id).join("difference.ccp4")).unwrap();
        assert_eq!(a, b, "{id}");
    }
}
