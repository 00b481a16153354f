//! Helpers shared by the integration tests, and what a test may need of this machine
//! ([`Needs`], probed when the tests run).
#![allow(dead_code)]

use std::sync::OnceLock;

/// Something a test needs that a machine may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// `../shared` (EMDB data and reference outputs) beside the repository.
    Shared,
    /// gemmi in the test Python (scripts/install_test_tools.sh installs it).
    Gemmi,
    /// Snakemake in the test venv or on the PATH.
    Snakemake,
    /// maturin, pytest and NumPy in the test Python.
    PythonTools,
    /// CPython 3.9 (and a newer one) under ~/.pyenv/versions, besides the Python tools.
    OtherPythons,
    /// Chromium (Debian's, or `$RSDM_CHROMIUM`) and Playwright's Python driver.
    Browser,
    /// actionlint, zig (PyPI's ziglang) and auditwheel in the test venv, besides the Python tools.
    ReleaseTools,
}

impl Needs {
    /// Whether this machine has it (probed once).
    pub fn available(&self) -> bool {
        static PROBED: OnceLock<[bool; 7]> = OnceLock::new();
        let probed = PROBED.get_or_init(|| {
            let imports = |modules: &str| {
                std::process::Command::new(test_python())
                    .args(["-c", &format!("import {modules}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            let snakemake = std::env::var_os("SNAKEMAKE").map_or(root().join(".venv-test/bin/snakemake"), Into::into);
            let python_tools = imports("maturin, pytest, numpy");
            [
                root().join("../shared/data").is_dir(),
                imports("gemmi"),
                snakemake.exists()
                    || std::process::Command::new("snakemake")
                        .arg("--version")
                        .output()
                        .is_ok_and(|o| o.status.success()),
                python_tools,
                python_tools && !other_pythons().is_empty(),
                std::path::Path::new(&chromium()).exists() && imports("playwright.sync_api"),
                python_tools && imports("ziglang, auditwheel") && root().join(".venv-test/bin/actionlint").exists(),
            ]
        });
        probed[*self as usize]
    }

    /// What to do about it.
    pub fn reason(&self) -> &'static str {
        match self {
            Needs::Shared => "../shared beside the repository (EMDB data and references)",
            Needs::Gemmi => "gemmi in .venv-test (scripts/install_test_tools.sh installs it)",
            Needs::Snakemake => "Snakemake (scripts/install_test_tools.sh installs it)",
            Needs::PythonTools => "maturin, pytest and numpy in .venv-test (scripts/install_test_tools.sh)",
            Needs::OtherPythons => "CPython 3.9 (and a newer one) under ~/.pyenv/versions",
            Needs::Browser => {
                "Chromium and Playwright's driver (scripts/install_test_tools.sh, as root with RSDM_TEST_SYSTEM=1)"
            }
            Needs::ReleaseTools => "actionlint, ziglang and auditwheel in .venv-test (scripts/install_test_tools.sh)",
        }
    }
}

/// Says, on stderr, that `name` is ignored and why.
pub fn say_skipped(name: &str, missing: &[&Needs]) {
    let reasons: Vec<&str> = missing.iter().map(|n| n.reason()).collect();
    eprintln!("SKIPPED {name} (ignored): needs {}", reasons.join("; "));
}

/// Runs a test function: a panic (a failed assertion) is the test's failure, with its message.
/// Its wall time goes to stderr, so that a CI log shows where the time goes.
pub fn run_test(name: &str, test: fn()) -> Result<(), libtest_mimic::Failed> {
    let clock = std::time::Instant::now();
    let outcome = std::panic::catch_unwind(test);
    eprintln!("TIME {name}: {:.1} s", clock.elapsed().as_secs_f64());
    outcome.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panicked".into());
        libtest_mimic::Failed::from(message)
    })
}

/// The repository root.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test Python: `$RSDM_TEST_PYTHON`, else the venv scripts/install_test_tools.sh makes.
pub fn test_python() -> std::path::PathBuf {
    std::env::var_os("RSDM_TEST_PYTHON").map_or(root().join(".venv-test/bin/python"), Into::into)
}

/// The Chromium the browser tests drive: `$RSDM_CHROMIUM`, else Debian's.
pub fn chromium() -> String {
    std::env::var("RSDM_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// CPython interpreters besides the test venv's, to try the one abi3 wheel on: the oldest the
/// wheel promises (3.9) and the newest installed (3.12 or later), from pyenv's folder.
pub fn other_pythons() -> Vec<std::path::PathBuf> {
    let Some(home) = std::env::var_os("HOME") else { return Vec::new() };
    let versions = std::path::Path::new(&home).join(".pyenv/versions");
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
    chosen
}

use std::path::PathBuf;

/// The shared data folder (`../shared` beside the repository), or `None` with a message saying
/// the test is skipped: a fresh clone elsewhere has no shared data.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("data").is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED {test}: ../shared (EMDB data and references) is not present beside the repository");
        None
    }
}

/// The repository's own small real example.
pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

/// Pearson correlation of two equally long slices.
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// Repairs a cctbx output from ../shared/reference: an absolute path was cut out of its first
/// header label after the reference values were made, so 22 bytes are missing before the data.
/// The first 224 header bytes and the float32 data block (at the end of the file) are intact:
/// rebuild a 1024-byte header around them. Returns `None` unless the file is short by less than
/// one label.
pub fn repair_cut_label(bytes: &[u8]) -> Option<Vec<u8>> {
    let word = |w: usize| i32::from_le_bytes(bytes[4 * w..4 * w + 4].try_into().unwrap());
    let data_len = 4 * (0..3).map(|w| word(w).max(0) as usize).product::<usize>();
    let missing = (1024 + data_len).checked_sub(bytes.len())?;
    if missing == 0 || missing >= 80 {
        return None;
    }
    let mut repaired = bytes[..bytes.len() - data_len].to_vec();
    repaired.resize(1024, b' ');
    repaired.extend_from_slice(&bytes[bytes.len() - data_len..]);
    Some(repaired)
}

/// A Python with gemmi for the differential tests: `$RSDM_TEST_PYTHON`, or the test venv that
/// scripts/install_test_tools.sh makes; `None` with a SKIPPED message when neither has gemmi.
pub fn python_with_gemmi(test: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("RSDM_TEST_PYTHON").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python")),
    ];
    for python in candidates.into_iter().flatten() {
        let ok = std::process::Command::new(&python)
            .args(["-c", "import gemmi"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(python);
        }
    }
    eprintln!("SKIPPED {test}: no Python with gemmi (run scripts/install_test_tools.sh)");
    None
}

/// The shared cases every end-to-end test draws from: (id, model, map, resolution), paths under
/// ../shared.
pub const SHARED_CASES: &[(&str, &str, &str, &str)] = &[
    ("spike", "data/spike_emd21457_seg/6vyb_Ndom_noNAG.pdb", "data/spike_emd21457_seg/emd_21457_seg.mrc", "3.2"),
    ("spike_cif", "data/spike_emd21457_seg/6vyb_Ndom_noNAG.cif", "data/spike_emd21457_seg/emd_21457_seg.mrc", "3.2"),
    (
        "spike_nstart",
        "data/spike_emd21457_seg/6vyb_Ndom_noNAG.pdb",
        "data/spike_emd21457_seg/emd_21457_seg_nstart.mrc",
        "3.2",
    ),
    (
        "spike_orig0",
        "data/spike_emd21457_seg/6vyb_Ndom_shifted_noNAG.pdb",
        "data/spike_emd21457_seg/emd_21457_seg_orig0.mrc",
        "3.2",
    ),
    ("mitoribo", "data/mitoribo_emd2566_3j6b/3J6B_9.pdb", "data/mitoribo_emd2566_3j6b/2566_3J6B_9.mrc", "3.2"),
    ("actin", "data/actin_emd5168/1J6Z.pdb", "data/actin_emd5168/emd_5168.map", "6.6"),
    ("actin_mono", "data/actin_emd5168/1J6Z.pdb", "data/actin_emd5168/emd_5168_monomer.mrc", "6.6"),
    ("4a7h", "synthetic/4a7h/model_trunc.pdb", "synthetic/4a7h/map.mrc", "3.0"),
    ("4a7h_cif", "synthetic/4a7h/model_trunc.cif", "synthetic/4a7h/map.mrc", "3.0"),
    ("4a7h_zyx", "synthetic/4a7h/model_trunc.pdb", "synthetic/4a7h/zyx/map.mrc", "3.0"),
    ("heme", "synthetic/1ahq_heme/model_trunc.pdb", "synthetic/1ahq_heme/map.mrc", "3.0"),
    ("heme_cif", "synthetic/1ahq_heme/model_trunc.cif", "synthetic/1ahq_heme/map.mrc", "3.0"),
];

/// Gaussian noise from a fixed seed (Box-Muller).
pub fn gaussian(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n).map(|_| ((-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos()) as f32).collect()
}

/// Two half maps: `map` plus independent noise of sd `level(x index)` times the map's sd.
pub fn halves(
    map: &real_space_diff_map::Map,
    level: impl Fn(usize) -> f32,
) -> (real_space_diff_map::Map, real_space_diff_map::Map) {
    let sd = map.statistics().sd as f32;
    let n = map.data.len();
    let (n1, n2) = (gaussian(1, n), gaussian(2, n));
    let nx = map.geometry.dims[0];
    let noisy = |noise: &[f32]| {
        let data = map.data.iter().zip(noise).enumerate().map(|(i, (v, e))| v + level(i % nx) * sd * e).collect();
        map.with_data(data)
    };
    (noisy(&n1), noisy(&n2))
}

/// One removed group (a ligand, a glycan, a side chain) of a `removed_atoms.json`: its id
/// (`CHAIN/RESNAME/NUMBER`) and the positions of its atoms.
pub struct RemovedGroup {
    pub id: String,
    pub atoms: Vec<[f64; 3]>,
}

/// The removed groups of a `removed_atoms.json`, in either layout: `../shared/synthetic`'s flat
/// `removed` atom list, or `testdata`'s `groups`.
pub fn removed_groups(path: &std::path::Path) -> Vec<RemovedGroup> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let xyz = |atom: &serde_json::Value| -> [f64; 3] { std::array::from_fn(|i| atom["xyz"][i].as_f64().unwrap()) };
    let mut groups: Vec<RemovedGroup> = Vec::new();
    if let Some(listed) = json.get("groups") {
        for group in listed.as_array().unwrap() {
            let atoms = group["atoms"].as_array().unwrap().iter().map(xyz).collect();
            groups.push(RemovedGroup { id: group["id"].as_str().unwrap().to_string(), atoms });
        }
        return groups;
    }
    for atom in json["removed"].as_array().unwrap() {
        let id =
            format!("{}/{}/{}", atom["chain"].as_str().unwrap(), atom["resname"].as_str().unwrap(), atom["resnum"]);
        match groups.iter_mut().find(|g| g.id == id) {
            Some(g) => g.atoms.push(xyz(atom)),
            None => groups.push(RemovedGroup { id, atoms: vec![xyz(atom)] }),
        }
    }
    groups
}

/// Every removed atom's position, group after group.
pub fn removed_atoms(path: &std::path::Path) -> Vec<[f64; 3]> {
    removed_groups(path).into_iter().flat_map(|g| g.atoms).collect()
}

/// The wheel users get, built once per test run the way the release builds it: maturin with
/// zig against glibc 2.28 (`--compatibility manylinux_2_28`), in the quick `static-check`
/// profile (the symbols and the code are those of a release; only the optimisation differs),
/// into `target/python-wheels`. The release test checks it with auditwheel, the Python tests
/// install it: one build instead of two, the largest single cost of a fresh CI run.
pub fn release_wheel() -> &'static Result<PathBuf, String> {
    static WHEEL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let venv_bin = root.join(".venv-test/bin");
        let python = std::env::var_os("RSDM_TEST_PYTHON").map_or(venv_bin.join("python"), PathBuf::from);
        let out = root.join("target/python-wheels");
        let _ = std::fs::remove_dir_all(&out);
        // zig comes from the test venv (the ziglang package), as in the release workflow.
        let path = format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default());
        let build = std::process::Command::new(&python)
            .current_dir(&root)
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", root.join("target"))
            .args(["-m", "maturin", "build", "--locked", "--profile", "static-check", "--zig"])
            .args(["--compatibility", "manylinux_2_28", "--out"])
            .arg(&out)
            .arg("--interpreter")
            .arg(&python)
            .output()
            .map_err(|e| format!("cannot run maturin: {e}"))?;
        if !build.status.success() {
            return Err(format!("maturin with zig failed:\n{}", String::from_utf8_lossy(&build.stderr)));
        }
        std::fs::read_dir(&out)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .ok_or_else(|| "maturin wrote no wheel".to_string())
    })
}
