//! Batch runs over a manifest of EMDB entries: `real_space_diff_map batch MANIFEST --out-dir DIR`.
//!
//! Each entry runs as a child process of the same program (the single-entry command), so that a
//! crash, an abort or an out-of-memory kill in one entry cannot take the others down, and so that
//! each entry's peak memory is its own. An entry's outputs (`difference.ccp4`, `report.json`,
//! `log.txt`) appear atomically in `DIR/<id>/`; `done.json`, written last, records the inputs
//! (size, modification time, SHA-256), the arguments and the program version. A rerun skips
//! entries whose stamp still matches, so a killed batch resumes where it stopped, and redoes
//! those whose inputs or parameters changed.

use crate::io::atomic_file::write_atomically;
use crate::error::{Error, Result};
use crate::report::file_info;
use clap::Parser;
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Instant, SystemTime};

/// Options of the batch command.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "real_space_diff_map batch",
    about = "Runs the difference map over every entry of a manifest (TSV or CSV with a header: id, model, map, \
             optional resolution, optional options and key columns).",
    version
)]
pub struct BatchArgs {
    /// The manifest: columns id, model, map, [resolution], [options] and any option key; paths
    /// relative to the manifest.
    pub manifest: PathBuf,
    /// Output directory: one folder per entry, plus summary.tsv and summary.json.
    #[arg(long = "out-dir", alias = "out_dir")]
    pub out_dir: PathBuf,
    /// Entries run at once (default: what fits the cores and the memory).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Take every N-th entry starting from the K-th (1-based), for scheduler job arrays: K/N.
    #[arg(long)]
    pub shard: Option<String>,
    /// Run again the entries that failed in an earlier run with the same inputs.
    #[arg(long = "retry-failed", alias = "retry_failed")]
    pub retry_failed: bool,
    /// Run only the entry with this id (as a workflow engine does, one job per entry).
    #[arg(long)]
    pub only: Option<String>,
    /// Worker threads per entry (default: the cores shared among the jobs).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Do not write summary.tsv/summary.json (for --only runs in parallel).
    #[arg(long = "no-summary", alias = "no_summary")]
    pub no_summary: bool,
}

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Entry id (folder name).
    pub id: String,
    /// Model path (resolved against the manifest's folder).
    pub model: PathBuf,
    /// Map path (resolved against the manifest's folder).
    pub map: PathBuf,
    /// Extra `key=value` arguments (resolution and overrides).
    pub options: Vec<String>,
}

fn split_line(line: &str, separator: char) -> Vec<String> {
    if separator == '\t' {
        return line.split('\t').map(|f| f.trim().to_string()).collect();
    }
    // CSV with double-quoted fields.
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field).trim().to_string()),
            (c, _) => field.push(c),
        }
    }
    fields.push(field.trim().to_string());
    fields
}

/// Reads a manifest. Errors name the file and the line.
pub fn read_manifest(path: &Path) -> Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |line: usize, message: String| Error::Invalid(format!("{}:{line}: {message}", path.display()));
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (header_line, header) = lines.next().ok_or_else(|| bad(1, "the manifest is empty".into()))?;
    let separator = if header.contains('\t') { '\t' } else { ',' };
    let columns: Vec<String> = split_line(header, separator).iter().map(|c| c.to_ascii_lowercase()).collect();
    let column = |name: &str| columns.iter().position(|c| c == name);
    let (Some(id_col), Some(model_col), Some(map_col)) = (column("id"), column("model"), column("map")) else {
        return Err(bad(
            header_line + 1,
            format!("the header must name the columns id, model and map; it has {columns:?}"),
        ));
    };
    let valid_keys = crate::app::run::valid_keys();
    for (i, c) in columns.iter().enumerate() {
        if ![id_col, model_col, map_col].contains(&i) && c != "options" && !valid_keys.contains(c) {
            return Err(bad(
                header_line + 1,
                format!("unknown column '{c}'; valid option columns: {}", valid_keys.join(", ")),
            ));
        }
    }
    let mut entries: Vec<Entry> = Vec::new();
    for (n, line) in lines {
        let fields = split_line(line, separator);
        let get = |i: usize| fields.get(i).map(String::as_str).unwrap_or("");
        let id = get(id_col).to_string();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) || id.starts_with('.') {
            return Err(bad(n + 1, format!("entry id '{id}' must be non-empty letters, digits, '.', '_' or '-'")));
        }
        if entries.iter().any(|e| e.id == id) {
            return Err(bad(n + 1, format!("entry id '{id}' appears twice")));
        }
        if get(model_col).is_empty() || get(map_col).is_empty() {
            return Err(bad(n + 1, format!("entry '{id}' needs a model and a map")));
        }
        let mut options = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let value = get(i);
            if [id_col, model_col, map_col].contains(&i) || value.is_empty() {
                continue;
            }
            if c == "options" {
                options.extend(value.split_whitespace().map(str::to_string));
            } else {
                options.push(format!("{c}={value}"));
            }
        }
        entries.push(Entry { id, model: base.join(get(model_col)), map: base.join(get(map_col)), options });
    }
    Ok(entries)
}

/// Input file identity stored in a stamp.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputStamp {
    /// Path.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Modification time, seconds since the epoch.
    pub modified: f64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// What `done.json` (or `failed.json`) records.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    /// Program version.
    pub version: String,
    /// Arguments of the entry's run (without the output paths).
    pub arguments: Vec<String>,
    /// Inputs.
    pub inputs: Vec<InputStamp>,
    /// Error message, for failures.
    pub error: Option<String>,
}

fn modified(path: &Path) -> f64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

fn stamp_inputs(entry: &Entry) -> Result<Vec<InputStamp>> {
    [&entry.model, &entry.map]
        .iter()
        .map(|p| {
            let info = file_info(p)?;
            Ok(InputStamp {
                path: p.to_path_buf(),
                bytes: info.bytes,
                modified: modified(p),
                sha256: info.sha256.unwrap_or_default(),
            })
        })
        .collect()
}

/// True when the recorded inputs are still the files on disk: same size and time, or, when the
/// time changed (a copy, a touch), the same content.
fn inputs_unchanged(recorded: &[InputStamp], entry: &Entry) -> bool {
    let paths = [&entry.model, &entry.map];
    recorded.len() == 2
        && recorded.iter().zip(paths).all(|(r, p)| {
            let Ok(meta) = std::fs::metadata(p) else { return false };
            if r.path != *p || r.bytes != meta.len() {
                return false;
            }
            r.modified == modified(p) || file_info(p).is_ok_and(|i| i.sha256.as_deref() == Some(r.sha256.as_str()))
        })
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SummaryRow {
    /// Entry id.
    pub id: String,
    /// done, skipped (done earlier), failed, or failed-earlier.
    pub status: String,
    /// Wall time of this run of the entry (0 when skipped), seconds.
    pub wall_seconds: f64,
    /// Peak resident memory of the entry's process, MiB (from its report).
    pub peak_memory_mb: Option<f64>,
    /// Map size in voxels.
    pub map_voxels: Option<u64>,
    /// Strongest positive peak (sigma) and its nearest residue.
    pub top_positive: Option<(f64, String)>,
    /// Strongest negative peak (sigma) and its nearest residue.
    pub top_negative: Option<(f64, String)>,
    /// Error message of a failure.
    pub error: Option<String>,
}

fn summary_from_report(row: &mut SummaryRow, report_path: &Path) {
    let Ok(text) = std::fs::read_to_string(report_path) else { return };
    let Ok(report) = serde_json::from_str::<serde_json::Value>(&text) else { return };
    row.peak_memory_mb = report["peak_memory_mb"].as_f64();
    row.map_voxels = report["map"]["dims"].as_array().map(|d| d.iter().filter_map(|v| v.as_u64()).product());
    let describe = |p: &serde_json::Value| {
        let near = &p["nearest_atom"];
        let residue = if near.is_null() {
            String::new()
        } else {
            format!(
                "{}/{}{}{}",
                near["chain"].as_str().unwrap_or(""),
                near["residue_name"].as_str().unwrap_or(""),
                near["residue_number"],
                near["insertion_code"].as_str().unwrap_or("")
            )
        };
        (p["height"].as_f64().unwrap_or(f64::NAN), residue)
    };
    if let Some(peaks) = report["peaks"].as_array() {
        row.top_positive = peaks.iter().find(|p| p["height"].as_f64().is_some_and(|h| h > 0.0)).map(describe);
        row.top_negative = peaks.iter().find(|p| p["height"].as_f64().is_some_and(|h| h < 0.0)).map(describe);
    }
}

/// Estimated peak memory of one entry in bytes: about four maps of float32 plus a margin, from
/// the map header (decompressed size for .gz, whose header is read without the data).
fn memory_estimate(map: &Path) -> u64 {
    let voxels = crate::io::ccp4::read_map_header_dims(map).map(|d| d.iter().map(|&n| n as u64).product::<u64>());
    voxels.map_or(1 << 30, |v| v * 4 * 4 + (256 << 20))
}

fn available_memory() -> u64 {
    let from_proc = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    from_proc.unwrap_or(8 << 30)
}

/// A memory budget shared by the workers: an entry starts only when its estimate fits (an entry
/// larger than the whole budget runs alone).
struct MemoryBudget {
    free: Mutex<u64>,
    total: u64,
    changed: Condvar,
}

impl MemoryBudget {
    fn acquire(&self, want: u64) -> u64 {
        let want = want.min(self.total);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free < want {
            free = self.changed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= want;
        want
    }
    fn release(&self, amount: u64) {
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += amount;
        self.changed.notify_all();
    }
}

/// Runs one entry in a child process; returns the summary row.
fn run_entry(entry: &Entry, out_dir: &Path, threads: usize, retry_failed: bool) -> SummaryRow {
    let mut row = SummaryRow {
        id: entry.id.clone(),
        status: String::new(),
        wall_seconds: 0.0,
        peak_memory_mb: None,
        map_voxels: None,
        top_positive: None,
        top_negative: None,
        error: None,
    };
    let dir = out_dir.join(&entry.id);
    let done_path = dir.join("done.json");
    let failed_path = dir.join("failed.json");
    let report_path = dir.join("report.json");
    let arguments: Vec<String> = [entry.model.display().to_string(), entry.map.display().to_string()]
        .into_iter()
        .chain(entry.options.iter().cloned())
        .collect();
    let version = env!("CARGO_PKG_VERSION").to_string();
    let matches = |stamp: &Stamp| {
        stamp.version == version && stamp.arguments == arguments && inputs_unchanged(&stamp.inputs, entry)
    };
    if let Some(stamp) = read_stamp(&done_path)
        && matches(&stamp)
        && report_path.exists()
    {
        row.status = "skipped".into();
        summary_from_report(&mut row, &report_path);
        return row;
    }
    if !retry_failed
        && let Some(stamp) = read_stamp(&failed_path)
        && matches(&stamp)
    {
        row.status = "failed-earlier".into();
        row.error = stamp.error;
        return row;
    }
    let start = Instant::now();
    let result = (|| -> std::result::Result<(), String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // Leftovers of a killed run: stale stamps and temporary files.
        let _ = std::fs::remove_file(&done_path);
        let _ = std::fs::remove_file(&failed_path);
        if let Ok(listing) = std::fs::read_dir(&dir) {
            for f in listing.flatten() {
                let name = f.file_name().to_string_lossy().to_string();
                if name.starts_with('.') && name.contains(".tmp-") {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        let inputs = stamp_inputs(entry).map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let output = std::process::Command::new(exe)
            .args(&arguments)
            .arg(format!("output={}", dir.join("difference.ccp4").display()))
            .arg(format!("json={}", report_path.display()))
            .arg(format!("threads={threads}"))
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot start the entry: {e}"))?;
        let mut log = output.stdout.clone();
        log.extend_from_slice(&output.stderr);
        write_atomically(&dir.join("log.txt"), &[], |w| w.write_all(&log)).map_err(|e| e.to_string())?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = stderr
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .map(|l| l.trim_start_matches("error:").trim().to_string())
                .unwrap_or_else(|| format!("the entry's process ended with {}", output.status));
            let stamp =
                Stamp { version: version.clone(), arguments: arguments.clone(), inputs, error: Some(message.clone()) };
            let text = serde_json::to_string_pretty(&stamp).unwrap_or_default();
            let _ = write_atomically(&failed_path, &[], |w| w.write_all(text.as_bytes()));
            return Err(message);
        }
        let stamp = Stamp { version: version.clone(), arguments: arguments.clone(), inputs, error: None };
        let text = serde_json::to_string_pretty(&stamp).map_err(|e| e.to_string())?;
        write_atomically(&done_path, &[], |w| w.write_all(text.as_bytes())).map_err(|e| e.to_string())
    })();
    row.wall_seconds = start.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            row.status = "done".into();
            summary_from_report(&mut row, &report_path);
        }
        Err(message) => {
            row.status = "failed".into();
            row.error = Some(message);
        }
    }
    row
}

fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let bad = || Error::Usage(format!("--shard must be K/N with 1 <= K <= N, got '{text}'"));
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Writes summary.tsv and summary.json.
fn write_summary(out_dir: &Path, rows: &[SummaryRow]) -> Result<()> {
    let text = serde_json::to_string_pretty(rows).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomically(&out_dir.join("summary.json"), &[], |w| w.write_all(text.as_bytes()))?;
    let clean = |s: &str| s.replace(['\t', '\n'], " ");
    write_atomically(&out_dir.join("summary.tsv"), &[], |w| {
        writeln!(
            w,
            "id\tstatus\twall_s\tpeak_memory_mb\tmap_voxels\ttop_positive_sigma\ttop_positive_residue\ttop_negative_sigma\ttop_negative_residue\terror"
        )?;
        for r in rows {
            let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.2}"));
            writeln!(
                w,
                "{}\t{}\t{:.2}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                r.id,
                r.status,
                r.wall_seconds,
                num(r.peak_memory_mb),
                r.map_voxels.map_or(String::new(), |v| v.to_string()),
                num(r.top_positive.as_ref().map(|p| p.0)),
                r.top_positive.as_ref().map_or(String::new(), |p| clean(&p.1)),
                num(r.top_negative.as_ref().map(|p| p.0)),
                r.top_negative.as_ref().map_or(String::new(), |p| clean(&p.1)),
                r.error.as_deref().map(clean).unwrap_or_default()
            )?;
        }
        Ok(())
    })
}

/// Runs a batch; returns the number of failed entries.
pub fn run_batch(args: &BatchArgs, quiet: bool) -> Result<usize> {
    let mut entries = read_manifest(&args.manifest)?;
    if let Some(shard) = &args.shard {
        let (k, n) = parse_shard(shard)?;
        entries = entries.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, e)| e).collect();
    }
    if let Some(only) = &args.only {
        entries.retain(|e| &e.id == only);
        if entries.is_empty() {
            return Err(Error::Usage(format!("no entry '{only}' in {}", args.manifest.display())));
        }
    }
    std::fs::create_dir_all(&args.out_dir).map_err(|e| Error::io(&args.out_dir, e))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total_memory = available_memory() * 4 / 5;
    let estimates: Vec<u64> = entries.iter().map(|e| memory_estimate(&e.map)).collect();
    let jobs = args.jobs.unwrap_or_else(|| {
        let typical = estimates.iter().copied().max().unwrap_or(1 << 30).max(1);
        cores.min((total_memory / typical).max(1) as usize)
    });
    if jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    let jobs = jobs.min(entries.len().max(1));
    let threads = args.threads.unwrap_or(cores / jobs).max(1);
    let budget = MemoryBudget { free: Mutex::new(total_memory), total: total_memory, changed: Condvar::new() };
    let queue: Mutex<VecDeque<(usize, Entry, u64)>> =
        Mutex::new(entries.iter().cloned().zip(estimates).enumerate().map(|(i, (e, m))| (i, e, m)).collect());
    let rows: Mutex<Vec<Option<SummaryRow>>> = Mutex::new(vec![None; entries.len()]);
    let progress =
        if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(entries.len() as u64) };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} entries, {msg}, ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let failed = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let Some((index, entry, estimate)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                    else {
                        break;
                    };
                    let held = budget.acquire(estimate);
                    let row = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_entry(&entry, &args.out_dir, threads, args.retry_failed)
                    }))
                    .unwrap_or_else(|_| SummaryRow {
                        id: entry.id.clone(),
                        status: "failed".into(),
                        wall_seconds: 0.0,
                        peak_memory_mb: None,
                        map_voxels: None,
                        top_positive: None,
                        top_negative: None,
                        error: Some("internal error (panic) while running the entry".into()),
                    });
                    budget.release(held);
                    if row.status.starts_with("failed") {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if !quiet {
                            progress.suspend(|| eprintln!("{}: {}", row.id, row.error.as_deref().unwrap_or("failed")));
                        }
                    }
                    rows.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(row);
                    progress.inc(1);
                    progress.set_message(format!("{} failed", failed.load(std::sync::atomic::Ordering::Relaxed)));
                }
            });
        }
    });
    progress.finish_and_clear();
    let rows: Vec<SummaryRow> = rows.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect();
    if !args.no_summary {
        write_summary(&args.out_dir, &rows)?;
    }
    let failed = failed.into_inner();
    if !quiet {
        let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
        println!(
            "{} entries: {} done, {} skipped (done earlier), {} failed, {} failed earlier; summary in {}",
            rows.len(),
            count("done"),
            count("skipped"),
            count("failed"),
            count("failed-earlier"),
            args.out_dir.join("summary.tsv").display()
        );
    }
    Ok(failed)
}

/// Entry point of `real_space_diff_map batch ...`: exit code 0 when every entry succeeded, else
/// the number of failed entries (at most 125), 2 for usage errors.
pub fn main_with_args(args: Vec<String>) -> i32 {
    let parsed = match BatchArgs::try_parse_from(&args) {
        Ok(p) => p,
        Err(e) => {
            let code =
                if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) {
                    0
                } else {
                    2
                };
            let _ = e.print();
            return code;
        }
    };
    match run_batch(&parsed, false) {
        Ok(0) => 0,
        Ok(failed) => failed.min(125) as i32,
        // A manifest or arguments that cannot be used: nothing ran.
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
