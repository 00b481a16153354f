//! Tells the tests what this machine has, so that a test that cannot run is reported as ignored
//! (with the reason) instead of passing without checking anything:
//! `shared_data` when `../shared` (EMDB data and reference outputs) sits beside the repository,
//! `test_gemmi`, `test_snakemake` and `test_python` (maturin, pytest and NumPy, to build and
//! test the Python package) when `scripts/install_test_tools.sh` has installed them, and
//! `test_browser` when Chromium (Debian's package, or `$RSDM_CHROMIUM`) and Playwright's
//! Python driver are there to open the HTML pages.

use std::path::Path;
use std::process::Command;

fn main() {
    for flag in ["shared_data", "test_gemmi", "test_snakemake", "test_python", "test_python_versions", "test_browser"] {
        println!("cargo::rustc-check-cfg=cfg({flag})");
    }
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../shared/data");
    println!("cargo::rerun-if-changed=.venv-test/bin");
    println!("cargo::rerun-if-env-changed=RSDM_TEST_PYTHON");
    println!("cargo::rerun-if-env-changed=SNAKEMAKE");
    println!("cargo::rerun-if-env-changed=RSDM_CHROMIUM");
    println!("cargo::rerun-if-changed=/usr/bin/chromium");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if root.join("../shared/data").is_dir() {
        println!("cargo::rustc-cfg=shared_data");
    }
    let python = std::env::var_os("RSDM_TEST_PYTHON").map_or(root.join(".venv-test/bin/python"), Into::into);
    let has_gemmi = Command::new(&python).args(["-c", "import gemmi"]).output().is_ok_and(|o| o.status.success());
    if has_gemmi {
        println!("cargo::rustc-cfg=test_gemmi");
    }
    let has_python_tools =
        Command::new(&python).args(["-c", "import maturin, pytest, numpy"]).output().is_ok_and(|o| o.status.success());
    if has_python_tools {
        println!("cargo::rustc-cfg=test_python");
        if !other_pythons().is_empty() {
            println!("cargo::rustc-cfg=test_python_versions");
        }
    }
    let chromium = std::env::var_os("RSDM_CHROMIUM").map_or("/usr/bin/chromium".into(), std::path::PathBuf::from);
    let has_playwright =
        Command::new(&python).args(["-c", "import playwright.sync_api"]).output().is_ok_and(|o| o.status.success());
    if chromium.exists() && has_playwright {
        println!("cargo::rustc-cfg=test_browser");
        println!("cargo::rustc-env=RSDM_CHROMIUM_PATH={}", chromium.display());
    }
    let snakemake = std::env::var_os("SNAKEMAKE").map_or(root.join(".venv-test/bin/snakemake"), Into::into);
    let on_path = Command::new("snakemake").arg("--version").output().is_ok_and(|o| o.status.success());
    if Path::new(&snakemake).exists() || on_path {
        println!("cargo::rustc-cfg=test_snakemake");
    }
}

/// CPython interpreters besides the test venv's, to try the one abi3 wheel on: the oldest the
/// wheel promises (3.9) and the newest installed, from pyenv's folder (as on these machines).
/// The list is also what `tests/python_package.rs` uses.
fn other_pythons() -> Vec<std::path::PathBuf> {
    let Some(home) = std::env::var_os("HOME") else { return Vec::new() };
    let versions = Path::new(&home).join(".pyenv/versions");
    println!("cargo::rerun-if-changed={}", versions.display());
    let mut found: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(&versions)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().to_string_lossy().to_string();
            let minor: u32 = name.strip_prefix("3.")?.split('.').next()?.parse().ok()?;
            let python = versions.join(&name).join("bin/python3");
            (minor >= 9 && python.exists()).then_some((minor, python))
        })
        .collect();
    found.sort();
    let mut chosen: Vec<std::path::PathBuf> =
        found.iter().filter(|(m, _)| *m == 9).map(|(_, p)| p.clone()).take(1).collect();
    if let Some((minor, newest)) = found.last()
        && *minor > 11
    {
        chosen.push(newest.clone());
    }
    println!(
        "cargo::rustc-env=RSDM_OTHER_PYTHONS={}",
        chosen.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
    );
    chosen
}
