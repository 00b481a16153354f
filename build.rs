//! Tells the tests what this machine has, so that a test that cannot run is reported as ignored
//! (with the reason) instead of passing without checking anything:
//! `shared_data` when `../shared` (EMDB data and reference outputs) sits beside the repository,
//! `test_gemmi`, `test_snakemake` and `test_python` (maturin, pytest and NumPy, to build and
//! test the Python package) when `scripts/install_test_tools.sh` has installed them.

use std::path::Path;
use std::process::Command;

fn main() {
    for flag in ["shared_data", "test_gemmi", "test_snakemake", "test_python"] {
        println!("cargo::rustc-check-cfg=cfg({flag})");
    }
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../shared/data");
    println!("cargo::rerun-if-changed=.venv-test/bin");
    println!("cargo::rerun-if-env-changed=RSDM_TEST_PYTHON");
    println!("cargo::rerun-if-env-changed=SNAKEMAKE");
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
    }
    let snakemake = std::env::var_os("SNAKEMAKE").map_or(root.join(".venv-test/bin/snakemake"), Into::into);
    let on_path = Command::new("snakemake").arg("--version").output().is_ok_and(|o| o.status.success());
    if Path::new(&snakemake).exists() || on_path {
        println!("cargo::rustc-cfg=test_snakemake");
    }
}
