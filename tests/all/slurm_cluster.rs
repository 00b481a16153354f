//! The Snakemake workflow on a real Slurm cluster: `scripts/slurm_test_cluster.sh start` brings
//! up a single-node cluster (Debian's slurm-wlm and munge, daemons started by hand), and
//! workflow/Snakefile runs a manifest of testdata and shared entries on it through
//! `snakemake-executor-plugin-slurm` with the repository's profile. Checked: every entry
//! becomes a Slurm job; the maps are byte-identical to the local batch; a broken entry is
//! reported and the others finish; after the workflow is cancelled half-way (Snakemake
//! interrupted, running jobs `scancel`led) a resubmission runs only the unfinished entries.
//!
//! Skipped, with the reason, unless `RSDM_TEST_SYSTEM=1` allows what the cluster changes on the
//! machine (Debian packages, munged, /etc/slurm/slurm.conf while it runs), and where the cluster
//! cannot start (not root, no package) or Snakemake and its Slurm plugin are not installed
//! (scripts/install_test_tools.sh installs both). The cluster lives in this test's own
//! temporary folder; the test cancels only the jobs it submitted (by id) and stops only the
//! daemons the cluster script started (by their PID files).

use crate::common;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CLUSTER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm_test_cluster.sh");

/// This test's cluster: its folder (configuration, state, logs) and its configuration file.
/// Stops the cluster however the test ends.
struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    fn script(&self, action: &str) -> std::process::Output {
        Command::new("bash").args([CLUSTER_SCRIPT, action]).env("RSDM_SLURM_DIR", self.dir.path()).output().unwrap()
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// A Slurm client command that talks to this cluster.
    fn client(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", self.conf());
        command
    }

    fn squeue(&self, args: &[&str]) -> String {
        let output = self.client("squeue").args(args).output().expect("squeue");
        String::from_utf8_lossy(&output.stdout).to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

/// The Slurm job ids that Snakemake's log says it submitted.
fn submitted_job_ids(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split("submitted with SLURM jobid ").nth(1)?.split_whitespace().next().map(str::to_string))
        .collect()
}

fn venv_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin")
}

/// The PATH for Snakemake: Slurm jobs run Snakemake again on the node, so it must be found
/// there (sbatch passes the submitting environment on).
fn path_with_venv() -> String {
    format!("{}:{}", venv_bin().display(), std::env::var("PATH").unwrap_or_default())
}

fn snakemake(dir: &Path, conf: &Path, manifest: &str, out_dir: &str) -> Command {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new(venv_bin().join("snakemake"));
    command
        .current_dir(dir)
        .env("SLURM_CONF", conf)
        .env("PATH", path_with_venv())
        .arg("-s")
        .arg(root.join("workflow/Snakefile"))
        .arg("--workflow-profile")
        .arg(root.join("workflow/profiles/slurm"))
        // This cluster has no accounting: no account, job states from squeue (MinJobAge=600).
        .args(["--slurm-no-account", "--slurm-status-command", "squeue"])
        // A test cluster answers at once: check often (81 s -> 18 s for three jobs).
        .args(["--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2"])
        .arg("--config")
        .arg(format!("manifest={manifest}"))
        .arg(format!("out_dir={out_dir}"))
        .arg(format!("program={}", env!("CARGO_BIN_EXE_real_space_diff_map")))
        .arg("threads=1");
    command
}

/// Entry ids that Snakemake submitted as Slurm jobs, from its log lines
/// "Job N has been submitted with SLURM jobid J (log: .../rule_entry/ID/J.log)".
fn submitted(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("has been submitted with SLURM jobid"))
        .filter_map(|l| l.split("/rule_entry/").nth(1)?.split('/').next().map(str::to_string))
        .collect()
}

fn finished(out: &Path, ids: &[String]) -> BTreeSet<String> {
    ids.iter().filter(|id| out.join(id).join("done.json").exists()).cloned().collect()
}

pub fn the_workflow_runs_on_a_slurm_cluster_like_the_local_batch() {
    let test = "the_workflow_runs_on_a_slurm_cluster_like_the_local_batch";
    let plugin = Command::new(venv_bin().join("python"))
        .args(["-c", "import snakemake, snakemake_executor_plugin_slurm"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !plugin {
        eprintln!(
            "SKIPPED {test}: Snakemake and its Slurm executor plugin are not in .venv-test (scripts/install_test_tools.sh)"
        );
        return;
    }
    if std::env::var("RSDM_TEST_SYSTEM").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED {test}: the test cluster changes the system (Debian packages, munged, /etc/slurm/slurm.conf \
             while it runs); RSDM_TEST_SYSTEM=1 allows it"
        );
        return;
    }
    let cluster = Cluster { dir: tempfile::Builder::new().prefix("rsdm-slurm-").tempdir().unwrap() };
    let start = cluster.script("start");
    if !start.status.success() {
        eprintln!("SKIPPED {test}: {}", String::from_utf8_lossy(&start.stderr).trim());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = common::testdata("6vyb_Ndom_noNAG.pdb");
    let map = common::testdata("emd_21457_seg.mrc");
    let mut manifest = String::from("id\tmodel\tmap\tresolution\twindow\n");
    for window in [12, 14, 16, 18, 20, 22] {
        manifest.push_str(&format!("spike_w{window}\t{}\t{}\t3.2\t{window}\n", model.display(), map.display()));
    }
    manifest.push_str(&format!("broken\t{}\tabsent.mrc\t3.2\t20\n", model.display()));
    if let Some(shared) = common::shared_dir(&format!("{test} (shared entries)")) {
        let s = |p: &str| shared.join(p).display().to_string();
        for (id, m, mp, r) in common::SHARED_CASES.iter().filter(|c| ["mitoribo", "4a7h_zyx"].contains(&c.0)) {
            manifest.push_str(&format!("{id}\t{}\t{}\t{r}\t20\n", s(m), s(mp)));
        }
    }
    std::fs::write(d.join("manifest.tsv"), &manifest).unwrap();
    let ids: Vec<String> = manifest.lines().skip(1).map(|l| l.split('\t').next().unwrap().to_string()).collect();
    let good: Vec<String> = ids.iter().filter(|id| *id != "broken").cloned().collect();

    // The local batch, for comparison.
    let local = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(["batch", "manifest.tsv", "--out-dir", "local", "--jobs", "2", "--threads", "1"])
        .output()
        .unwrap();
    assert_eq!(local.status.code(), Some(1), "only the broken entry fails locally");

    // First submission, cancelled half-way: once Snakemake has seen an entry finish while
    // others run, it is interrupted and the running jobs are cancelled. (An entry whose job
    // ended but whose end Snakemake has not yet seen counts as running: Snakemake removes its
    // outputs when interrupted.)
    let first_log = std::fs::File::create(d.join("first.log")).unwrap();
    let mut first = snakemake(d, &cluster.conf(), "manifest.tsv", "slurm")
        .stdout(Stdio::from(first_log.try_clone().unwrap()))
        .stderr(Stdio::from(first_log))
        .spawn()
        .unwrap();
    let clock = Instant::now();
    loop {
        let log = std::fs::read_to_string(d.join("first.log")).unwrap_or_default();
        let done = log.matches("(Rule: entry)").count();
        let running = cluster.squeue(&["-h", "-t", "RUNNING", "-o", "%i"]).lines().count();
        if done >= 1 && running >= 1 {
            break;
        }
        assert!(first.try_wait().unwrap().is_none(), "the workflow ended before it could be cancelled half-way");
        assert!(clock.elapsed() < Duration::from_secs(300), "no entry finished on the cluster in 5 minutes");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Snakemake is this test's child; the jobs cancelled are the ones its log says it submitted.
    let _ = Command::new("kill").args(["-INT", &first.id().to_string()]).status();
    let ours = submitted_job_ids(&std::fs::read_to_string(d.join("first.log")).unwrap());
    assert!(!ours.is_empty(), "the log names the submitted jobs");
    let _ = cluster.client("scancel").arg("--full").args(&ours).status();
    let first_status = first.wait().unwrap();
    assert!(!first_status.success(), "an interrupted workflow does not report success");
    let first_log = std::fs::read_to_string(d.join("first.log")).unwrap();
    let ours_list = ours.join(",");
    while !cluster.squeue(&["-h", "-j", &ours_list, "-t", "PENDING,RUNNING,COMPLETING"]).trim().is_empty() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let done_first = finished(&d.join("slurm"), &ids);
    assert!(!done_first.is_empty() && done_first.len() < good.len(), "half-way: {done_first:?}");
    let stamps_first: Vec<(String, std::time::SystemTime)> = done_first
        .iter()
        .map(|id| {
            (id.clone(), std::fs::metadata(d.join("slurm").join(id).join("done.json")).unwrap().modified().unwrap())
        })
        .collect();

    // The resubmission runs only what is unfinished; the broken entry fails and is reported,
    // every other entry finishes.
    let second = snakemake(d, &cluster.conf(), "manifest.tsv", "slurm").output().unwrap();
    let second_log = format!("{}{}", String::from_utf8_lossy(&second.stdout), String::from_utf8_lossy(&second.stderr));
    assert!(!second.status.success(), "the broken entry fails the workflow:\n{second_log}");
    assert!(second_log.contains("Error in rule entry") && second_log.contains("rule_entry/broken/"), "{second_log}");
    let resubmitted: BTreeSet<String> = submitted(&second_log).into_iter().collect();
    let unfinished: BTreeSet<String> = ids.iter().filter(|id| !done_first.contains(*id)).cloned().collect();
    assert_eq!(resubmitted, unfinished, "the resubmission runs exactly the unfinished entries:\n{second_log}");
    for (id, modified) in &stamps_first {
        let now = std::fs::metadata(d.join("slurm").join(id).join("done.json")).unwrap().modified().unwrap();
        assert_eq!(&now, modified, "{id} finished in the first submission and was not run again");
    }
    // Every entry was a Slurm job (in one submission or the other).
    let all_submitted: BTreeSet<String> = submitted(&first_log).into_iter().chain(resubmitted).collect();
    assert_eq!(all_submitted, ids.iter().cloned().collect(), "{first_log}");
    let broken_logs = d.join(".snakemake/slurm_logs/rule_entry/broken");
    let broken_log: String =
        std::fs::read_dir(&broken_logs).unwrap().map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap()).collect();
    assert!(broken_log.contains("absent.mrc"), "the job's log says what is wrong: {broken_log}");

    // The cluster's maps are the local batch's, byte for byte.
    assert_eq!(finished(&d.join("slurm"), &ids), good.iter().cloned().collect());
    for id in &good {
        let cluster = std::fs::read(d.join("slurm").join(id).join("difference.ccp4")).unwrap();
        let local = std::fs::read(d.join("local").join(id).join("difference.ccp4")).unwrap();
        assert!(cluster == local, "{id}: the map from the cluster differs from the local batch's");
    }

    // The other way to use a cluster: a job array, one task per shard of the manifest (the
    // README's command), then the summary gathered by one more batch run.
    let wrap = format!(
        "{} batch manifest.tsv --out-dir array --shard ${{SLURM_ARRAY_TASK_ID}}/3 --no-summary --jobs 1 --threads 1",
        env!("CARGO_BIN_EXE_real_space_diff_map")
    );
    let array = cluster
        .client("sbatch")
        .current_dir(d)
        .args(["--wait", "--array=1-3", "--cpus-per-task=1", "--mem=1000", "--output=array_%a.log", "--wrap", &wrap])
        .output()
        .unwrap();
    assert!(!array.status.success(), "the shard holding the broken entry fails");
    let gather = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(["batch", "manifest.tsv", "--out-dir", "array", "--jobs", "1"])
        .output()
        .unwrap();
    assert_eq!(gather.status.code(), Some(1), "{}", String::from_utf8_lossy(&gather.stdout));
    let summary = std::fs::read_to_string(d.join("array/summary.tsv")).unwrap();
    for line in summary.lines().skip(1) {
        let status = line.split('\t').nth(1).unwrap();
        // (A missing input is looked for again on every run, so the broken entry fails anew.)
        let expected: &[&str] = if line.starts_with("broken\t") { &["failed", "failed-earlier"] } else { &["skipped"] };
        assert!(expected.contains(&status), "every entry ran in its array task: {line}");
    }
    for id in &good {
        let array = std::fs::read(d.join("array").join(id).join("difference.ccp4")).unwrap();
        let local = std::fs::read(d.join("local").join(id).join("difference.ccp4")).unwrap();
        assert!(array == local, "{id}: the job array's map differs from the local batch's");
    }
}
