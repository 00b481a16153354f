//! The program as clusters run it for years: one statically linked executable
//! (scripts/build_static.sh) with no shared-library dependencies, and a `FROM scratch`
//! container image of it (scripts/build_container.sh, podman). Both run the README example to
//! the same bytes as the ordinary build. The image is checked the way these machines allow
//! (`podman run` does not work here): its file system is exported and the program run from it
//! with `chroot`, through the image's `bash -c` as Snakemake's `container:` directive does.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Cargo profile of the static builds here: the release program's code without
/// optimisation (Cargo.toml), since what is checked is the linking and the bytes of the
/// map, not the speed.
const STATIC_PROFILE: &str = "static-check";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The README example with `binary`, in `dir`; returns the difference map's bytes.
fn readme_example(binary: &Path, dir: &Path) -> Vec<u8> {
    let output = Command::new(binary)
        .current_dir(dir)
        .arg(common::testdata("6vyb_Ndom_noNAG.pdb"))
        .arg(common::testdata("emd_21457_seg.mrc"))
        .args(["resolution=3.2", "output=map_model_difference.ccp4", "quiet=true"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::read(dir.join("map_model_difference.ccp4")).unwrap()
}

fn ordinary_build_map() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    readme_example(Path::new(env!("CARGO_BIN_EXE_real_space_diff_map")), dir.path())
}

pub fn the_static_build_needs_no_shared_library_and_computes_the_same_map() {
    let build = Command::new("bash")
        .arg(root().join("scripts/build_static.sh"))
        .env("RSDM_STATIC_PROFILE", STATIC_PROFILE)
        .output()
        .unwrap();
    assert!(build.status.success(), "static build failed: {}", String::from_utf8_lossy(&build.stderr));
    let binary = root().join(String::from_utf8_lossy(&build.stdout).lines().last().unwrap().trim());
    let ldd = Command::new("ldd").arg(&binary).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&ldd.stdout), String::from_utf8_lossy(&ldd.stderr));
    assert!(
        (said.contains("statically linked") || said.contains("not a dynamic executable")) && !said.contains("=>"),
        "ldd lists shared libraries: {said}"
    );
    // No program interpreter (ld-linux) either: the ELF has no PT_INTERP program header.
    let elf = std::fs::read(&binary).unwrap();
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF");
    let le = |at: usize, n: usize| elf[at..at + n].iter().rev().fold(0u64, |v, &b| (v << 8) | b as u64);
    let (offset, size, count) = (le(0x20, 8) as usize, le(0x36, 2) as usize, le(0x38, 2) as usize);
    const PT_INTERP: u64 = 3;
    let interpreter = (0..count).any(|i| le(offset + i * size, 4) == PT_INTERP);
    assert!(!interpreter, "the binary asks for a dynamic loader (PT_INTERP)");
    let dir = tempfile::tempdir().unwrap();
    assert!(readme_example(&binary, dir.path()) == ordinary_build_map(), "the static build's map differs");
    // The release script packs the same build (already compiled: only the checks and the
    // packing run) with its checksum.
    let out = dir.path().join("artefacts");
    let release = Command::new("bash")
        .arg(root().join("scripts/release_static.sh"))
        .arg(&out)
        .env("RSDM_STATIC_PROFILE", STATIC_PROFILE)
        .output()
        .unwrap();
    assert!(release.status.success(), "release script failed: {}", String::from_utf8_lossy(&release.stderr));
    let tarball = PathBuf::from(String::from_utf8_lossy(&release.stdout).lines().last().unwrap().trim());
    let name = tarball.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(name, format!("real_space_diff_map-{}-x86_64-linux.tar.gz", env!("CARGO_PKG_VERSION")));
    let check =
        Command::new("sha256sum").current_dir(&out).args(["--check", &format!("{name}.sha256")]).output().unwrap();
    assert!(check.status.success(), "the checksum file verifies: {}", String::from_utf8_lossy(&check.stdout));
    let listing = Command::new("tar").arg("-tzf").arg(&tarball).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    let stem = name.trim_end_matches(".tar.gz");
    for file in ["real_space_diff_map", "README.md", "testdata/ligand_pocket/map.mrc"] {
        assert!(listing.lines().any(|l| l == format!("{stem}/{file}")), "{file} in {listing}");
    }
}

pub fn the_container_image_holds_the_program_and_runs_it() {
    let test = "the_container_image_holds_the_program_and_runs_it";
    let podman = Command::new("podman").arg("--version").output().is_ok_and(|o| o.status.success());
    if !podman {
        eprintln!("SKIPPED {test}: podman is not installed (Debian's podman; scripts/install_test_tools.sh)");
        return;
    }
    // podman's images in a folder of this test's, not in the system's storage.
    let storage = tempfile::Builder::new().prefix("rsdm-podman-").tempdir().unwrap();
    let build = Command::new("bash")
        .arg(root().join("scripts/build_container.sh"))
        .env("RSDM_STATIC_PROFILE", STATIC_PROFILE)
        .env("RSDM_PODMAN_ROOT", storage.path())
        .output()
        .unwrap();
    if build.status.code() == Some(3) {
        eprintln!("SKIPPED {test}: {}", String::from_utf8_lossy(&build.stderr).trim());
        return;
    }
    assert!(build.status.success(), "container build failed: {}", String::from_utf8_lossy(&build.stderr));
    let image = String::from_utf8_lossy(&build.stdout).lines().last().unwrap().trim().to_string();
    let podman = |args: &[&str]| {
        let output = Command::new("podman")
            .args(["--storage-driver", "vfs", "--root"])
            .arg(storage.path().join("storage"))
            .arg("--runroot")
            .arg(storage.path().join("run"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let container = podman(&["create", &image]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("rootfs.tar");
    podman(&["export", &container, "-o", archive.to_str().unwrap()]);
    podman(&["rm", &container]);
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let untar = Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&rootfs).status().unwrap();
    assert!(untar.success());
    // Nothing but the program, the workflow and the shell: no base image came with it.
    let mut top: Vec<String> =
        std::fs::read_dir(&rootfs).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    top.sort();
    let expected: Vec<&str> = ["bin", "dev", "etc", "opt", "proc", "run", "sys", "usr"]
        .into_iter()
        .filter(|name| rootfs.join(name).exists())
        .collect();
    assert_eq!(top, expected, "unexpected top-level folders in the image");
    assert!(rootfs.join("opt/real_space_diff_map/workflow/Snakefile").exists());
    let libraries = ["lib", "lib64", "usr/lib"].iter().filter(|p| rootfs.join(p).exists()).count();
    assert_eq!(libraries, 0, "the image holds no shared libraries");

    let data = rootfs.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for name in ["6vyb_Ndom_noNAG.pdb", "emd_21457_seg.mrc"] {
        std::fs::copy(common::testdata(name), data.join(name)).unwrap();
    }
    let run = Command::new("chroot")
        .arg(&rootfs)
        .args([
            "/bin/bash",
            "-c",
            "set -euo pipefail; cd /data && real_space_diff_map 6vyb_Ndom_noNAG.pdb emd_21457_seg.mrc \
             resolution=3.2 output=map_model_difference.ccp4 quiet=true",
        ])
        .output()
        .unwrap();
    if !run.status.success() && String::from_utf8_lossy(&run.stderr).contains("Operation not permitted") {
        eprintln!("SKIPPED {test} (running the image): chroot is not permitted here");
        return;
    }
    assert!(run.status.success(), "the program in the image failed: {}", String::from_utf8_lossy(&run.stderr));
    let map = std::fs::read(data.join("map_model_difference.ccp4")).unwrap();
    assert!(map == ordinary_build_map(), "the image's map differs from the ordinary build's");
    assert!(data.join("map_model_difference_pictures/peak_1.png").exists());
}
