//! Behaviour preserved: the command line writes byte-identical difference maps (complex and
//! amplitude) for every shared case, compared with SHA-256 sums recorded in
//! `tests/data/regression_sha256.tsv`. A deliberate change of the numbers regenerates the list:
//! `RSDM_UPDATE_REGRESSION=1 cargo test --test all -- regression`, and the commit says why.

use crate::common;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn recorded() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/regression_sha256.tsv")
}

pub fn every_shared_case_gives_the_recorded_maps() {
    let Some(shared) = common::shared_dir("every_shared_case_gives_the_recorded_maps") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut sums = BTreeMap::new();
    for (case, model, map, resolution) in common::SHARED_CASES {
        let output = dir.path().join(format!("{case}.ccp4"));
        let run = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
            .arg(shared.join(model))
            .arg(shared.join(map))
            .args([format!("resolution={resolution}"), format!("output={}", output.display())])
            .args(["variant=both", "quiet=true"])
            .output()
            .unwrap();
        assert!(run.status.success(), "{case}: {}", String::from_utf8_lossy(&run.stderr));
        for file in [format!("{case}.ccp4"), format!("{case}_amplitude.ccp4")] {
            let bytes = std::fs::read(dir.path().join(&file)).unwrap();
            sums.insert(file, Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>());
        }
    }
    if std::env::var_os("RSDM_UPDATE_REGRESSION").is_some() {
        let mut text = String::from(
            "# case\tfile\tsha256 (maps written by the command line with variant=both; see tests/regression.rs)\n",
        );
        for (file, sum) in &sums {
            let case = file.trim_end_matches(".ccp4").trim_end_matches("_amplitude");
            text.push_str(&format!("{case}\t{file}\t{sum}\n"));
        }
        std::fs::write(recorded(), text).unwrap();
        eprintln!("regression sums rewritten: {}", recorded().display());
        return;
    }
    let expected: BTreeMap<String, String> = std::fs::read_to_string(recorded())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            (fields[1].to_string(), fields[2].to_string())
        })
        .collect();
    let changed: Vec<&String> = sums.iter().filter(|(f, s)| expected.get(*f) != Some(s)).map(|(f, _)| f).collect();
    assert_eq!(expected.len(), sums.len(), "cases recorded vs run");
    assert!(changed.is_empty(), "maps differ from the recorded ones: {changed:?}");
}
