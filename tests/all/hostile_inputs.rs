//! Inputs from strangers on machines shared with strangers (issue 22): every case below was a
//! way to take the machine, write outside the folder asked for, or turn an output into a
//! command. Each runs the real program (under `ulimit -v` and a time limit where a size is at
//! stake) and checks: a clear error naming the file and the limit, a non-zero exit, nothing
//! written outside the folder, no temporary left behind, bounded memory and time.

use crate::common;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_real_space_diff_map");

/// Runs the program in `dir` under an address-space limit (KiB) and a time limit (s).
fn run_limited(dir: &Path, args: &[&str], memory_kb: u64, seconds: u64) -> Output {
    Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(r#"l=$0; t=$1; shift; ulimit -v "$l" && exec timeout "$t" "$@""#)
        .arg(memory_kb.to_string())
        .arg(seconds.to_string())
        .arg(BIN)
        .args(args)
        .output()
        .unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).current_dir(dir).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

fn no_temporaries(dir: &Path) {
    let left: Vec<String> =
        files(dir).into_iter().filter(|f| f.contains(".rsdm-tmp-") || f.contains(".tmp-")).collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}

fn model() -> String {
    common::testdata("6vyb_Ndom_noNAG.pdb").display().to_string()
}

fn map() -> String {
    common::testdata("emd_21457_seg.mrc").display().to_string()
}

/// The spike segment's header with `edit` applied, followed by `data` bytes.
fn map_with_header(edit: impl Fn(&mut Vec<u8>), data: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(common::testdata("emd_21457_seg.mrc")).unwrap()[..1024].to_vec();
    edit(&mut bytes);
    bytes.resize(1024 + data, 0);
    bytes
}

fn put_i32(bytes: &mut [u8], word: usize, value: i32) {
    bytes[4 * word..4 * word + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_f32(bytes: &mut [u8], word: usize, value: f32) {
    bytes[4 * word..4 * word + 4].copy_from_slice(&value.to_le_bytes());
}

/// Case 1: a 10³ map of 0.003 Å voxels asked the model map's padded grid for 57 GB and aborted.
pub fn tiny_voxels_are_refused_with_the_memory_they_would_need() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = map_with_header(
        |b| {
            for w in 0..3 {
                put_i32(b, w, 10);
                put_i32(b, 7 + w, 10);
                put_f32(b, 10 + w, 0.03);
            }
            put_i32(b, 3, 2);
        },
        4000,
    );
    std::fs::write(dir.path().join("tiny.mrc"), bytes).unwrap();
    let start = Instant::now();
    let out = run_limited(dir.path(), &[&model(), "tiny.mrc", "resolution=3", "output=o.ccp4"], 2_000_000, 60);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("tiny.mrc") && said.contains("max_memory") && said.contains("GiB"), "{said}");
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(files(dir.path()), ["tiny.mrc"]);
    // batch --resources sizes it with the same arithmetic: terabytes, not 300 MB.
    std::fs::write(dir.path().join("m.tsv"), format!("id\tmodel\tmap\tresolution\nt\t{}\ttiny.mrc\t3\n", model()))
        .unwrap();
    let out = run(dir.path(), &["batch", "m.tsv", "--out-dir", "out", "--resources"]);
    let mem_mb: u64 = text(&out).lines().nth(1).unwrap().split('\t').nth(1).unwrap().parse().unwrap();
    assert!(mem_mb > 500_000, "{}", text(&out));
}

/// Case 2: one atom with B = -1e30 made the run hang.
pub fn hugely_negative_b_is_used_as_zero_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let pdb: String = std::fs::read_to_string(model())
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("ATOM"))
        .take(200)
        .enumerate()
        .map(|(i, l)| if i < 32 { format!("{}{:>6}{}\n", &l[..60], "-1e30", &l[66..]) } else { format!("{l}\n") })
        .collect();
    std::fs::write(dir.path().join("negb.pdb"), pdb).unwrap();
    let start = Instant::now();
    let out = run_limited(dir.path(), &["negb.pdb", &map(), "resolution=3.2", "output=o.ccp4"], 2_000_000, 60);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("32 atoms have a negative B"), "{}", text(&out));
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// Case 3: dimensions whose product is 2^64 wrapped to 0 and passed the size check.
pub fn dimension_products_beyond_u64_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = map_with_header(
        |b| {
            put_i32(b, 0, 4194304);
            put_i32(b, 1, 4194304);
            put_i32(b, 2, 1048576);
        },
        4000,
    );
    std::fs::write(dir.path().join("huge.mrc"), bytes).unwrap();
    let out = run_limited(dir.path(), &[&model(), "huge.mrc", "resolution=3", "output=o.ccp4"], 2_000_000, 30);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("huge.mrc") && text(&out).contains("2^64"), "{}", text(&out));
    assert!(!text(&out).contains("panic") && !text(&out).contains("internal error"));
    let out = run(dir.path(), &["batch", "m.tsv", "--out-dir", "out", "--resources"]);
    assert_ne!(out.status.code(), Some(101), "no panic");
}

/// Case 4: a 1 MB gzip that inflates to a 1000³ map aborted on a 4 GiB allocation.
pub fn a_gzip_bomb_map_is_refused_before_it_is_inflated() {
    let dir = tempfile::tempdir().unwrap();
    let header = map_with_header(
        |b| {
            for w in 0..3 {
                put_i32(b, w, 1000);
                put_i32(b, 7 + w, 1000);
                put_f32(b, 10 + w, 1000.0);
            }
            put_i32(b, 3, 0);
        },
        0,
    );
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.path().join("bomb.mrc.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    encoder.write_all(&header).unwrap();
    let zeros = vec![0u8; 1 << 24];
    for _ in 0..(1_000_000_000 / zeros.len()) {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap();
    let start = Instant::now();
    let out = run_limited(dir.path(), &[&model(), "bomb.mrc.gz", "resolution=3", "output=o.ccp4"], 3_000_000, 60);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("bomb.mrc.gz") && said.contains("max_memory"), "{said}");
    assert!(start.elapsed() < Duration::from_secs(10), "refused from the header, not after inflating");
}

/// Case 5: a small .gz model that inflates to gigabytes, `/dev/zero` as a model, and in a batch
/// a device or a FIFO as an input (which hung the parent before anything ran).
pub fn model_bombs_devices_and_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let atom =
        std::fs::read_to_string(model()).unwrap().lines().find(|l| l.starts_with("ATOM")).unwrap().to_string() + "\n";
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("bomb.pdb.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    let block = atom.repeat(100_000);
    for _ in 0..(700_000_000 / block.len()) {
        encoder.write_all(block.as_bytes()).unwrap();
    }
    encoder.finish().unwrap();
    let out = run_limited(d, &["bomb.pdb.gz", &map(), "resolution=3.2", "output=o.ccp4"], 2_000_000, 60);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("bomb.pdb.gz") && text(&out).contains("max_memory"), "{}", text(&out));
    let out = run_limited(d, &["/dev/zero", &map(), "resolution=3.2", "output=o.ccp4"], 2_000_000, 30);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("/dev/zero") && text(&out).contains("not a regular file"), "{}", text(&out));
    // In a batch: the parent never opens them; the entries fail with the reason.
    let fifo = d.join("fifo.mrc");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::fs::write(
        d.join("m.tsv"),
        format!("id\tmodel\tmap\tresolution\nzero\t/dev/zero\t{}\t3.2\nfifo\t{}\tfifo.mrc\t3.2\n", map(), model()),
    )
    .unwrap();
    let start = Instant::now();
    let out = run_limited(d, &["batch", "m.tsv", "--out-dir", "out"], 4_000_000, 60);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(start.elapsed() < Duration::from_secs(30));
    for id in ["zero", "fifo"] {
        let failed = std::fs::read_to_string(d.join("out").join(id).join("failed.json")).unwrap();
        assert!(failed.contains("not a regular file"), "{failed}");
    }
}

/// Case 6: threads=100000 started thousands of threads.
pub fn threads_are_capped_at_the_cores_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_limited(
        dir.path(),
        &[&model(), &map(), "resolution=3.2", "threads=100000", "output=o.ccp4"],
        4_000_000,
        60,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("threads=100000 is more than the"), "{}", text(&out));
}

/// A manifest of one entry on the testdata, with `extra` columns.
fn manifest(d: &Path, header_extra: &str, row_extra: &str) -> PathBuf {
    let path = d.join("m.tsv");
    std::fs::write(
        &path,
        format!("id\tmodel\tmap\tresolution{header_extra}\ns1\t{}\t{}\t3.2{row_extra}\n", model(), map()),
    )
    .unwrap();
    path
}

/// Cases 7, 8: output options in a manifest wrote outside the out-dir and over files; a link
/// in the batch page could run a script.
pub fn manifest_outputs_stay_inside_the_entry_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("precious.html"), "keep").unwrap();
    for option in [
        format!("html={}", d.join("precious.html").display()),
        "csv=../escape".to_string(),
        "scale_map=sub/k.mrc".to_string(),
        "html=out3/javascript:document.title='PWNED'".to_string(),
        "output=elsewhere.ccp4".to_string(),
    ] {
        manifest(d, "\toptions", &format!("\t{option}"));
        let out = run(d, &["batch", "m.tsv", "--out-dir", "out"]);
        assert_eq!(out.status.code(), Some(2), "{option}: {}", text(&out));
        assert!(text(&out).contains("m.tsv:2"), "{option}: {}", text(&out));
    }
    assert_eq!(std::fs::read_to_string(d.join("precious.html")).unwrap(), "keep");
    assert!(!d.join("escape_peaks.csv").exists());
    // Plain names land in the entry's folder.
    manifest(d, "\toptions", "\thtml=page.html csv=tables pictures=0");
    let out = run(d, &["batch", "m.tsv", "--out-dir", "out"]);
    assert!(out.status.success(), "{}", text(&out));
    for name in ["page.html", "tables_peaks.csv", "tables_residues.csv", "difference.ccp4", "report.json", "done.json"]
    {
        assert!(d.join("out/s1").join(name).exists(), "{name}");
    }
    let summary = std::fs::read_to_string(d.join("out/summary.json")).unwrap();
    assert!(summary.contains("\"s1/page.html\""), "{summary}");
    // The page links only to relative paths inside the folder.
    let page = std::fs::read_to_string(d.join("out/index.html")).unwrap();
    assert!(page.contains(r#"!r.report.split("/").includes("..")"#));
}

/// Case 9: temporaries opened with File::create followed planted links; an entry folder that
/// is a link was written through; the batch deleted others' dot-files with `.tmp-`.
#[cfg(unix)]
pub fn links_are_never_followed_and_only_own_temporaries_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let outside = d.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::create_dir(d.join("out")).unwrap();
    std::os::unix::fs::symlink(&outside, d.join("out/s1")).unwrap();
    manifest(d, "", "");
    let out = run(d, &["batch", "m.tsv", "--out-dir", "out"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("link"), "{}", text(&out));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written through the link");
    std::fs::remove_file(d.join("out/s1")).unwrap();
    // Others' files with '.tmp-' in their names stay; only this program's temporaries go.
    std::fs::create_dir(d.join("out/s1")).unwrap();
    std::fs::write(d.join("out/s1/.notes.tmp-1"), "mine").unwrap();
    std::fs::write(d.join("out/s1/.rsdm-tmp-stale"), "stale").unwrap();
    std::os::unix::fs::symlink(d.join("m.tsv"), d.join("out/s1/.rsdm-tmp-link")).unwrap();
    let out = run(d, &["batch", "m.tsv", "--out-dir", "out"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(d.join("out/s1/.notes.tmp-1").exists());
    assert!(!d.join("out/s1/.rsdm-tmp-stale").exists());
    assert!(std::fs::symlink_metadata(d.join("out/s1/.rsdm-tmp-link")).is_ok());
    assert!(d.join("m.tsv").exists());
    // An output that is a link to a file elsewhere: the link is replaced, the file kept.
    std::fs::write(d.join("victim.txt"), "victim").unwrap();
    std::os::unix::fs::symlink(d.join("victim.txt"), d.join("planted.ccp4")).unwrap();
    let out = run(d, &[&model(), &map(), "resolution=3.2", "output=planted.ccp4", "viewer=false", "pictures=0"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(d.join("victim.txt")).unwrap(), "victim");
    assert!(std::fs::symlink_metadata(d.join("planted.ccp4")).unwrap().is_file());
}

/// Case 10: a manifest named summary.tsv with `--out-dir .` was overwritten by the summary.
pub fn the_summary_never_replaces_the_manifest_or_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text_before = format!("id\tmodel\tmap\tresolution\ns1\t{}\t{}\t3.2\n", model(), map());
    std::fs::write(d.join("summary.tsv"), &text_before).unwrap();
    let out = run(d, &["batch", "summary.tsv", "--out-dir", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("summary.tsv"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(d.join("summary.tsv")).unwrap(), text_before);
}

/// Case 11: a newline in a file name became its own ChimeraX command.
pub fn names_cannot_become_chimerax_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let odd = "model\nrunscript pwn.py\".pdb";
    std::fs::copy(model(), d.join(odd)).unwrap();
    let out = run(d, &[odd, &map(), "resolution=3.2", "output=d.ccp4", "pictures=0"]);
    assert!(out.status.success(), "{}", text(&out));
    let script = std::fs::read_to_string(d.join("d_chimerax.cxc")).unwrap();
    for line in script.lines() {
        assert!(!line.trim_start().starts_with("runscript"), "{script}");
        if !line.starts_with('#') {
            assert!(!line.contains("pwn"), "{line}");
        }
    }
    assert!(script.contains("open it yourself"), "{script}");
    // The maps with ordinary names still open, led by ./ (a name like pdb:1abc is a file).
    assert!(script.contains("open \"./d.ccp4\" format ccp4"), "{script}");
}

/// Case 12: manifest paths were passed to the child as words: a model named `--version` made
/// the child print the version and the entry count as done; `x=1.pdb` was read as a key.
pub fn manifest_paths_are_files_whatever_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(model(), d.join("--version")).unwrap();
    std::fs::copy(model(), d.join("x=1.pdb")).unwrap();
    std::fs::write(
        d.join("m.tsv"),
        format!("id\tmodel\tmap\tresolution\na\t--version\t{}\t3.2\nb\tx=1.pdb\t{}\t3.2\n", map(), map()),
    )
    .unwrap();
    let out = run(d, &["batch", "m.tsv", "--out-dir", "out"]);
    assert!(out.status.success(), "{}", text(&out));
    for id in ["a", "b"] {
        assert!(d.join("out").join(id).join("difference.ccp4").exists(), "{id}: {}", text(&out));
    }
    // On the command line, `--` ends the options.
    let out = run(d, &["resolution=3.2", "output=c.ccp4", "pictures=0", "--", "x=1.pdb", &map()]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Case 13: a chain ID like `=HYPERLINK(...)` landed in CSV cells unescaped, a bare CR split
/// rows, and escape sequences in names reached the terminal.
pub fn names_stay_text_in_tables_and_terminals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Chain '=' for every atom, and an escape character as a second chain character.
    let pdb: String = std::fs::read_to_string(model())
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("ATOM") || l.starts_with("HETATM"))
        .map(|l| format!("{}=\u{1b}{}\n", &l[..20], &l[22..]))
        .collect();
    std::fs::write(d.join("odd.pdb"), pdb).unwrap();
    let out = run(d, &["odd.pdb", &map(), "resolution=3.2", "output=d.ccp4", "csv=t", "pictures=0", "peak_sigma=2.5"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains('\u{1b}'), "no escape character reaches the terminal");
    let peaks = std::fs::read_to_string(d.join("t_peaks.csv")).unwrap();
    for line in peaks.lines().skip(1) {
        let chain = line.split(',').nth(8).unwrap_or("");
        assert!(!chain.starts_with('='), "a cell starting with = : {line}");
    }
    assert!(peaks.lines().count() > 1 && peaks.contains("'=\u{1b}"), "{peaks}");
}

/// Case 15: a failed run left part of its outputs; output names that collide with each other
/// or with an input were found only after writing; a replaced output changed its mode.
pub fn a_run_writes_all_its_outputs_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = |extra: &[&str]| {
        let mut a = vec![model(), map(), "resolution=3.2".to_string()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let words = |a: &Vec<String>| a.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
    for extra in [&["output=x.ccp4", "json=x.ccp4"][..], &["output=y.ccp4", "html=y_coot.py"][..]] {
        let args = base(extra);
        let out = run(d, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.status.code(), Some(2), "{}: {}", words(&args), text(&out));
        assert!(text(&out).contains("would both be written"), "{}", text(&out));
    }
    // A device is not an output: renamed over as root, /dev/null would become a file.
    let out = run(d, &[&model(), &map(), "resolution=3.2", "output=/dev/null"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));
    std::fs::copy(model(), d.join("d_coot.py")).unwrap();
    let out = run(d, &["d_coot.py", &map(), "resolution=3.2", "output=d.ccp4"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(files(d), ["d_coot.py"], "nothing was written before the refusal");
    // A replaced output keeps its mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let out = run(d, &[&model(), &map(), "resolution=3.2", "output=m.ccp4", "pictures=0", "viewer=false"]);
        assert!(out.status.success());
        std::fs::set_permissions(d.join("m.ccp4"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = run(d, &[&model(), &map(), "resolution=3.2", "output=m.ccp4", "pictures=0", "viewer=false"]);
        assert!(out.status.success());
        assert_eq!(std::fs::metadata(d.join("m.ccp4")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    no_temporaries(d);
    // A disk that fills up half-way (a small tmpfs; needs root, else skipped): no output at all.
    let small = d.join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=400k", "tmpfs"])
        .arg(&small)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("SKIPPED the full-disk part: cannot mount a small tmpfs here (not root?)");
        return;
    }
    let out =
        run(&small, &[&model(), &map(), "resolution=3.2", "output=d.ccp4", "json=r.json", "csv=t", "html=r.html"]);
    let left = files(&small);
    let _ = Command::new("umount").arg(&small).status();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("No space left"), "{}", text(&out));
    assert!(left.is_empty(), "a failed run left {left:?}");
}

/// Case 15 (signals): SIGTERM left `.NAME.tmp-PID-N` files.
pub fn sigterm_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for delay_ms in [50u64, 150, 300] {
        let mut child = Command::new(BIN)
            .current_dir(d)
            .args([
                &model(),
                &map(),
                "resolution=3.2",
                "output=d.ccp4",
                "json=r.json",
                "csv=t",
                "html=r.html",
                "variant=both",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        assert!(status.success() || status.code() == Some(130), "{status}");
        no_temporaries(d);
    }
}

/// Cases 16, 17: two batches on one folder computed every entry twice; replacing the program
/// during a batch failed every later entry; killing the batch left its entry running.
pub fn batches_share_a_folder_survive_an_upgrade_and_take_their_entries_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows: String = (1..=4).map(|i| format!("e{i}\t{}\t{}\t3.2\n", model(), map())).collect();
    std::fs::write(d.join("m.tsv"), format!("id\tmodel\tmap\tresolution\tpictures\n{}", rows.replace("\n", "\t0\n")))
        .unwrap();
    // A copy of the program, removed while the batch runs.
    let program = d.join("rsdm-copy");
    std::fs::copy(BIN, &program).unwrap();
    let spawn = || {
        Command::new(&program)
            .current_dir(d)
            .args(["batch", "m.tsv", "--out-dir", "out", "--jobs", "1", "--threads", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(&program).unwrap();
    let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    assert!(first.status.success() && second.status.success(), "{}\n{}", text(&first), text(&second));
    let computed = |out: &Output| {
        text(out).split(" done,").next().and_then(|s| s.rsplit(' ').next()?.parse::<usize>().ok()).unwrap()
    };
    assert_eq!(
        computed(&first) + computed(&second),
        4,
        "each entry computed once:\n{}\n{}",
        text(&first),
        text(&second)
    );
    // Killing the batch's process (no chance to clean up) stops its running entry too.
    std::fs::copy(BIN, &program).unwrap();
    // The spike segment inside a 200³ box of noise: an entry that runs for a while.
    let small = real_space_diff_map::io::ccp4::read_map(map()).unwrap().map;
    let mut geometry = small.geometry;
    let shift = [76usize, 80, 76];
    geometry.dims = [200, 200, 200];
    geometry.first_voxel_centre =
        std::array::from_fn(|a| small.geometry.first_voxel_centre[a] - shift[a] as f64 * geometry.voxel_size[a]);
    let mut data = common::gaussian(5, geometry.len());
    let sd = small.statistics().sd as f32;
    data.iter_mut().for_each(|v| *v *= 0.3 * sd);
    let [nx, ny, nz] = small.geometry.dims;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                data[geometry.index(i + shift[0], j + shift[1], k + shift[2])] += small.at(i, j, k);
            }
        }
    }
    let big_map =
        real_space_diff_map::Map { geometry, data, header: real_space_diff_map::MapHeader::for_geometry(&geometry) };
    real_space_diff_map::io::ccp4::write_map(d.join("big.mrc"), &big_map, "spike in noise", &[]).unwrap();
    std::fs::write(d.join("k.tsv"), format!("id\tmodel\tmap\tresolution\nk1\t{}\tbig.mrc\t3.2\n", model())).unwrap();
    let mut batch = Command::new(&program)
        .current_dir(d)
        .args(["batch", "k.tsv", "--out-dir", "kill"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let _ = batch.kill();
    let _ = batch.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let running = Command::new("pgrep").args(["-f", "__entry kill/k1/entry.json"]).output().unwrap();
        if running.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "an entry outlived its batch");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Case 19: a manifest saved with a byte-order mark was refused.
pub fn a_manifest_with_a_byte_order_mark_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("m.tsv"),
        format!("\u{feff}id\tmodel\tmap\tresolution\tpictures\ns1\t{}\t{}\t3.2\t0\n", model(), map()),
    )
    .unwrap();
    let out = run(d, &["batch", "m.tsv", "--out-dir", "out"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Case 18: the report records the checksum of the bytes the run read.
pub fn reports_record_the_bytes_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(d, &[&model(), &map(), "resolution=3.2", "output=d.ccp4", "json=r.json", "pictures=0"]);
    assert!(out.status.success());
    let report: real_space_diff_map::report::Report =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    for input in &report.inputs {
        let expected = real_space_diff_map::report::file_info(&input.path).unwrap();
        assert_eq!(input.sha256, expected.sha256, "{}", input.path.display());
        assert_eq!(input.bytes, expected.bytes);
    }
}
