//! The Python package as users get it: the release's abi3 wheel (`common::release_wheel`),
//! installed into `.venv-test`, tested by its pytest suite (`python/tests`), which compares it
//! with the command-line binary built for these tests, with gemmi, and with itself on data in
//! memory. The tests that need `../shared` run in their own test here, so that where it is
//! absent cargo reports them as ignored.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    std::env::var_os("RSDM_TEST_PYTHON").map_or(root().join(".venv-test/bin/python"), Into::into)
}

/// The release wheel ([`common::release_wheel`]), installed once per test run into the test
/// venv; returns its file name.
fn installed_wheel() -> &'static Result<String, String> {
    static WHEEL: OnceLock<Result<String, String>> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let wheel = common::release_wheel().as_ref().map_err(Clone::clone)?;
        let install = Command::new(python())
            .args(["-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps"])
            .arg(wheel)
            .output()
            .map_err(|e| format!("cannot run pip: {e}"))?;
        if !install.status.success() {
            return Err(format!("pip install failed:\n{}", String::from_utf8_lossy(&install.stderr)));
        }
        Ok(wheel.file_name().unwrap().to_string_lossy().to_string())
    })
}

/// Runs pytest on the package's suite with a marker expression; panics with its output on
/// failure and prints its summary (skips with their reasons) otherwise.
fn pytest(markers: &str, require_shared: bool) {
    let wheel = installed_wheel().as_ref().unwrap_or_else(|e| panic!("{e}"));
    let run = Command::new(python())
        .current_dir(root())
        .env("RSDM_BINARY", env!("CARGO_BIN_EXE_real_space_diff_map"))
        .env("RSDM_REQUIRE_SHARED", if require_shared { "1" } else { "0" })
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", markers, "python/tests"])
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "pytest -m '{markers}' failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    eprintln!("{wheel}: pytest -m '{markers}':\n{stdout}");
}

pub fn the_abi3_wheel_builds_and_passes_the_pytest_suite() {
    let wheel = installed_wheel().as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert!(wheel.starts_with("real_space_diff_map-") && wheel.contains("-cp39-abi3-"), "{wheel}");
    pytest("not shared", false);
}

pub fn the_python_package_matches_the_command_line_on_shared_entries() {
    pytest("shared", true);
}

/// The one abi3 wheel on the oldest CPython it promises (3.9) and the newest installed (from
/// pyenv, as on these machines): a fresh venv each, with NumPy and pytest from PyPI, runs the
/// suite (gemmi's tests skip there; the test venv runs them).
pub fn the_same_wheel_works_on_cpython_3_9_and_the_newest_installed() {
    installed_wheel().as_ref().unwrap_or_else(|e| panic!("{e}"));
    let wheel = common::release_wheel().as_ref().unwrap().clone();
    let pythons = common::other_pythons();
    assert!(!pythons.is_empty(), "no other CPython under ~/.pyenv/versions");
    for interpreter in pythons.iter().map(|p| p.display().to_string()) {
        let interpreter = interpreter.as_str();
        let venv = root().join("target/python-versions").join(interpreter.replace('/', "_"));
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new(interpreter).args(["-m", "venv"]).arg(&venv).status().unwrap();
        assert!(made.success(), "{interpreter}: venv");
        let python = venv.join("bin/python");
        let install = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .arg(&wheel)
            .args(["pytest"])
            .output()
            .unwrap();
        assert!(install.status.success(), "{interpreter}: {}", String::from_utf8_lossy(&install.stderr));
        let run = Command::new(&python)
            .current_dir(root())
            .env("RSDM_BINARY", env!("CARGO_BIN_EXE_real_space_diff_map"))
            .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "not shared", "python/tests"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{interpreter}:\n{stdout}");
        eprintln!("{interpreter}: {}", stdout.lines().last().unwrap_or_default());
    }
}

/// What a user without a Rust toolchain does: `pip install` the wheel into a fresh virtual
/// environment, then run the `real_space_diff_map` command it put on the PATH: `--help`, the
/// README's first example (peak 1 is the removed heme, as with the binary), and a batch, whose
/// entries the command starts through the same interpreter.
pub fn the_pip_installed_command_runs_the_readme_example_in_a_fresh_venv() {
    let wheel = installed_wheel().as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert!(wheel.contains("manylinux"), "a manylinux wheel: {wheel}");
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let made = Command::new(python()).args(["-m", "venv"]).arg(&venv).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let install = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet"])
        .arg(common::release_wheel().as_ref().unwrap())
        .output()
        .unwrap();
    assert!(install.status.success(), "pip install: {}", String::from_utf8_lossy(&install.stderr));
    let command = venv.join("bin/real_space_diff_map");
    assert!(command.is_file(), "pip put the command in the venv's bin/");
    let help = Command::new(&command).arg("--help").output().unwrap();
    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("Usage: real_space_diff_map"));
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::symlink(root().join("testdata"), work.join("testdata")).unwrap();
    let words = crate::first_hour::readme_first_command();
    // Only the venv's bin/ on the PATH besides the system's: no cargo, no test binary.
    let path = format!("{}:/usr/bin:/bin", venv.join("bin").display());
    let out = Command::new(&command).current_dir(&work).env("PATH", &path).args(&words).output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    let distance = crate::first_hour::first_peak_distance_to_heme(&printed).expect("a peak table");
    assert!(distance < 2.0, "peak 1 lies {distance:.2} Å from the removed heme");
    let binary = tempfile::tempdir().unwrap();
    let same = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(&work)
        .args(words.iter().filter(|w| !w.starts_with("output=")))
        .arg(format!("output={}", binary.path().join("diff.ccp4").display()))
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(same.status.success(), "{}", String::from_utf8_lossy(&same.stderr));
    let data = |p: &Path| std::fs::read(p).unwrap()[1024..].to_vec();
    assert!(data(&work.join("diff.ccp4")) == data(&binary.path().join("diff.ccp4")), "the same map as the binary's");
    // A batch: its entries run as `python -m real_space_diff_map entry ...`.
    std::fs::write(
        work.join("one.tsv"),
        "id\tmodel\tmap\tresolution\npocket\ttestdata/ligand_pocket/model.pdb\ttestdata/ligand_pocket/map.mrc\t3.2\n",
    )
    .unwrap();
    let batch = Command::new(&command)
        .current_dir(&work)
        .env("PATH", &path)
        .args(["batch", "one.tsv", "--out-dir", "out"])
        .output()
        .unwrap();
    assert!(batch.status.success(), "{}", String::from_utf8_lossy(&batch.stderr));
    assert!(work.join("out/pocket/done.json").is_file() && work.join("out/pocket/difference.ccp4").is_file());
}
