//! What a release ships, checked here before a tag is pushed: the forge's workflows
//! (.github/workflows) pass actionlint and build the wheels, sdist, static program and image
//! they promise, and a wheel built the way the release builds it (maturin with zig against
//! glibc 2.28) is manylinux_2_28 by auditwheel, installs into a fresh venv and runs the
//! README's first example.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv(tool: &str) -> PathBuf {
    root().join(".venv-test/bin").join(tool)
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn the_release_workflows_pass_actionlint_and_build_what_they_promise() {
    let workflows = root().join(".github/workflows");
    let files = ["ci.yml", "release.yml"].map(|f| workflows.join(f));
    let out = Command::new(venv("actionlint")).args(&files).output().unwrap();
    assert!(out.status.success(), "actionlint:\n{}", text(&out));
    let ci = std::fs::read_to_string(&files[0]).unwrap();
    assert!(ci.contains("bash .ci/run"), "CI on push runs the project's CI script");
    let release = std::fs::read_to_string(&files[1]).unwrap();
    for promised in [
        "tags: [\"v*\"]",
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "--zig",
        "--compatibility manylinux_2_28",
        "auditwheel show",
        "maturin sdist",
        "scripts/release_static.sh",
        "scripts/build_container.sh",
        "SHA256SUMS",
    ] {
        assert!(release.contains(promised), "the release workflow lacks {promised:?}");
    }
    // It builds from the locked dependencies, as `cargo install --locked` does.
    assert!(release.contains("--locked"));
}

pub fn the_wheel_for_clusters_is_manylinux_2_28_and_runs_the_readme_example() {
    let wheel = crate::common::release_wheel().as_ref().unwrap_or_else(|e| panic!("{e}")).clone();
    let show = Command::new(venv("python")).args(["-m", "auditwheel", "show"]).arg(&wheel).output().unwrap();
    let said = text(&show);
    assert!(show.status.success(), "{said}");
    // "consistent with the following platform tag: "manylinux_2_28_x86_64"": glibc 2.28 or older.
    let tag = said.split("platform tag:").nth(1).and_then(|t| t.split('"').nth(1)).unwrap_or_default().to_string();
    let minor: u32 = tag.strip_prefix("manylinux_2_").and_then(|t| t.split('_').next()?.parse().ok()).unwrap_or(99);
    assert!(minor <= 28, "auditwheel: {tag} (glibc 2.{minor}), not manylinux_2_28 or older:\n{said}");
    eprintln!("release wheel: {} is {tag}", wheel.file_name().unwrap().to_string_lossy());

    // A user's install: a fresh venv, the wheel, the command on the README's example.
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("venv");
    let made = Command::new("python3").arg("-m").arg("venv").arg(&fresh).output().unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let install = Command::new(fresh.join("bin/pip")).args(["install", "--quiet"]).arg(&wheel).output().unwrap();
    assert!(install.status.success(), "{}", text(&install));
    std::os::unix::fs::symlink(root().join("testdata"), dir.path().join("testdata")).unwrap();
    let words = crate::first_hour::readme_first_command();
    let run =
        Command::new(fresh.join("bin/real_space_diff_map")).current_dir(dir.path()).args(&words).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let printed = text(&run);
    let distance = crate::first_hour::first_peak_distance_to_heme(&printed).expect("a peak 1");
    assert!(distance < 3.0, "peak 1 is the heme: {printed}");
    assert!(dir.path().join("diff.ccp4").exists());
}
