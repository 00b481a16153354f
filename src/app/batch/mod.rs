//! Batch runs over a manifest of EMDB entries: `real_space_diff_map batch MANIFEST --out-dir DIR`.
//!
//! Each entry runs as a child process of the same program (the single-entry command), so that a
//! crash, an abort or an out-of-memory kill in one entry cannot take the others down, and so that
//! each entry's peak memory is its own. An entry's outputs (`difference.ccp4`, `report.json`,
//! `log.txt`) appear atomically in `DIR/<id>/`; `done.json`, written last, records the inputs
//! (size, modification time, SHA-256), the parameters and the program version. A rerun skips
//! entries whose stamp still matches, so a killed batch resumes where it stopped, and redoes
//! those whose inputs or parameters changed. The files: [`manifest`] (what to run), [`stamp`]
//! (what ran), [`scheduler`] (how entries run), [`summary`] (what came out).

pub mod entry;
pub mod manifest;
pub mod scheduler;
pub mod stamp;
pub mod summary;

use crate::error::{Error, ErrorReport, Result};
use clap::Parser;
use manifest::{Entry, read_manifest};
use scheduler::{MemoryBudget, Runner, map_geometry, memory_estimate, memory_for_geometry, program_command};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use summary::{EntryStatus, SummaryRow, write_summary};

/// Options of the batch command.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "real_space_diff_map batch",
    about = "Runs the difference map over every entry of a manifest (TSV or CSV with a header: id, model, map, \
             optional resolution, optional options and key columns).",
    version
)]
pub struct BatchArgs {
    /// The manifest: columns id, model, map, optionally resolution and options, and any option key; paths
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
    /// Print what each entry needs (TSV: id, mem_mb, runtime_min, map_voxels, from the map
    /// headers) and run nothing: a workflow engine asks this to size its cluster jobs.
    #[arg(long)]
    pub resources: bool,
    /// The most memory an entry may ask for (8G, 800M; default: 90% of the memory available):
    /// entries whose maps or grids would need more fail with the reason.
    #[arg(long = "max-memory", alias = "max_memory", value_name = "SIZE", value_parser = crate::limits::parse_memory)]
    pub max_memory: Option<u64>,
    /// Allow --threads beyond the machine's cores.
    #[arg(long = "force-threads", alias = "force_threads")]
    pub force_threads: bool,
    /// The EMDB archive, for entries given by id (an `emdb` column): a folder in the archive's
    /// layout, an http(s):// URL or s3://bucket/prefix.
    #[arg(long = "emdb-root", alias = "emdb_root", value_name = "ROOT")]
    pub emdb_root: Option<String>,
    /// The PDB archive (mmCIF files in its divided layout), for entries given by EMDB id.
    #[arg(long = "pdb-root", alias = "pdb_root", value_name = "ROOT")]
    pub pdb_root: Option<String>,
    /// The local cache of files fetched from remote archives (default ~/.cache/real_space_diff_map).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Also copy the results to a remote prefix (s3://bucket/prefix, or an http(s):// WebDAV
    /// root): each entry's folder as it finishes, the summaries at the end. The out-dir stays
    /// the batch's working copy (stamps, resumption).
    #[arg(long, value_name = "URL")]
    pub upload: Option<String>,
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
    let archive = if entries.iter().any(|e| e.emdb.is_some()) {
        let options = crate::app::emdb::ArchiveOptions {
            emdb_root: args.emdb_root.clone(),
            pdb_root: args.pdb_root.clone(),
            cache: args.cache.clone(),
        };
        Some(options.archive()?)
    } else {
        None
    };
    let uploader = match &args.upload {
        Some(url) => Some(crate::io::archive::fetch::Uploader::new(crate::io::archive::fetch::Root::parse(url)?)?),
        None => None,
    };
    if args.resources {
        // Entries by id are sized from their maps, fetched now (a workflow engine asks this
        // once; the entries' jobs then find the files in the cache).
        if let Some(archive) = &archive {
            for entry in entries.iter_mut().filter(|e| e.emdb.is_some()) {
                *entry = stage_entry(archive, entry).map_err(|e| Error::Invalid(format!("{}: {e}", entry.id)))?;
            }
        }
        print!("{}", resource_table(&entries));
        return Ok(0);
    }
    if let Some(bytes) = args.max_memory {
        crate::limits::set_memory_limit(bytes);
    }
    std::fs::create_dir_all(&args.out_dir).map_err(|e| Error::io(&args.out_dir, e))?;
    refuse_summaries_over_inputs(args, &entries)?;
    let program =
        program_command().map_err(|e| Error::Invalid(format!("cannot find this program to run the entries: {e}")))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total_memory = crate::limits::available_memory() * 4 / 5;
    let estimates: Vec<u64> = entries.iter().map(memory_estimate).collect();
    let jobs = args.jobs.unwrap_or_else(|| {
        let typical = estimates.iter().copied().max().unwrap_or(1 << 30).max(1);
        cores.min((total_memory / typical).max(1) as usize)
    });
    if jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    let jobs = jobs.min(entries.len().max(1));
    if args.threads == Some(0) {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    let (threads, warning) = crate::limits::threads(args.threads, args.force_threads);
    if let Some(warning) = warning
        && !quiet
    {
        eprintln!("warning: {warning}");
    }
    let threads = threads.unwrap_or(cores / jobs).max(1);
    let runner = Runner {
        out_dir: &args.out_dir,
        program: &program,
        threads,
        retry_failed: args.retry_failed,
        max_memory: args.max_memory,
    };
    let budget = MemoryBudget { free: Mutex::new(total_memory), total: total_memory, changed: Condvar::new() };
    let queue: Mutex<VecDeque<(usize, Entry, u64)>> =
        Mutex::new(entries.iter().cloned().zip(estimates).enumerate().map(|(i, (e, m))| (i, e, m)).collect());
    // Every entry has a row from the start, so the summary written while the batch runs (and
    // the page that shows it) lists what is pending and running too.
    let rows: Mutex<Vec<SummaryRow>> =
        Mutex::new(entries.iter().map(|e| SummaryRow::new(&e.id, EntryStatus::Pending)).collect());
    let live = LiveSummary { out_dir: &args.out_dir, enabled: !args.no_summary, last: Mutex::new(None) };
    live.write(&rows, true);
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
                    let Some((index, mut entry, mut estimate)) =
                        queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                    else {
                        break;
                    };
                    // An entry by EMDB id fetches its files first (while other workers
                    // compute), then is sized from its map like any other.
                    if let (Some(archive), Some(_)) = (&archive, &entry.emdb) {
                        rows.lock().unwrap_or_else(|e| e.into_inner())[index].status = EntryStatus::Running;
                        match stage_entry(archive, &entry) {
                            Ok(staged) => {
                                entry = staged;
                                estimate = memory_estimate(&entry);
                            }
                            Err(error) => {
                                let row = runner.record_early_failure(&entry, error);
                                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                if !quiet {
                                    let why = row.error.as_ref().map_or("failed".to_string(), |e| e.to_string());
                                    progress.suspend(|| {
                                        eprintln!("{}", crate::escape::terminal(&format!("{}: {why}", row.id)))
                                    });
                                }
                                rows.lock().unwrap_or_else(|e| e.into_inner())[index] = row;
                                live.write(&rows, false);
                                progress.inc(1);
                                continue;
                            }
                        }
                    }
                    let held = budget.acquire(estimate);
                    rows.lock().unwrap_or_else(|e| e.into_inner())[index].status = EntryStatus::Running;
                    live.write(&rows, false);
                    let row = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.run_entry(&entry)))
                        .unwrap_or_else(|_| {
                            let mut row = SummaryRow::new(&entry.id, EntryStatus::Failed);
                            row.error = Some(ErrorReport {
                                kind: crate::error::ErrorKind::Crash,
                                file: None,
                                message: "internal error (panic) while running the entry".into(),
                            });
                            row
                        });
                    budget.release(held);
                    let row = match &uploader {
                        Some(uploader) if !row.status.is_failure() => upload_entry(uploader, &args.out_dir, row),
                        _ => row,
                    };
                    if row.status.is_failure() {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if !quiet {
                            let why = row.error.as_ref().map_or("failed".to_string(), |e| e.to_string());
                            progress
                                .suspend(|| eprintln!("{}", crate::escape::terminal(&format!("{}: {why}", row.id))));
                        }
                    }
                    rows.lock().unwrap_or_else(|e| e.into_inner())[index] = row;
                    live.write(&rows, false);
                    progress.inc(1);
                    progress.set_message(format!("{} failed", failed.load(std::sync::atomic::Ordering::Relaxed)));
                }
            });
        }
    });
    progress.finish_and_clear();
    summary::remember_live(None);
    let rows: Vec<SummaryRow> = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    if !args.no_summary {
        write_summary(&args.out_dir, &rows)?;
        if let Some(uploader) = &uploader {
            for name in ["summary.tsv", "summary.json", "summary.js", "index.html"] {
                uploader.upload(&args.out_dir.join(name), name)?;
            }
        }
    }
    let failed = failed.into_inner();
    if !quiet {
        let count = |s: EntryStatus| rows.iter().filter(|r| r.status == s).count();
        println!(
            "{} entries: {} done, {} skipped (done earlier), {} failed, {} failed earlier; summary in {}",
            rows.len(),
            count(EntryStatus::Done),
            count(EntryStatus::Skipped),
            count(EntryStatus::Failed),
            count(EntryStatus::FailedEarlier),
            args.out_dir.join("summary.tsv").display()
        );
    }
    Ok(failed)
}

/// Copies a finished entry's folder to the upload prefix; a failed upload fails the entry's
/// row (its local results stay, and the next run uploads what is missing).
fn upload_entry(
    uploader: &crate::io::archive::fetch::Uploader,
    out_dir: &std::path::Path,
    mut row: SummaryRow,
) -> SummaryRow {
    if let Err(error) = uploader.upload_folder(&out_dir.join(&row.id), &row.id) {
        row.status = EntryStatus::Failed;
        let mut report = ErrorReport::from(&error);
        report.message =
            format!("results kept in {}, upload failed: {}", out_dir.join(&row.id).display(), report.message);
        row.error = Some(report);
    }
    row
}

/// An entry given by EMDB id with its files fetched: what its columns did not give (model, map
/// and half maps, resolution) taken from the archives, and the fetched files recorded for its
/// stamp. The settings are checked again, now that it is known whether there are half maps.
fn stage_entry(archive: &crate::io::archive::Archive, entry: &Entry) -> std::result::Result<Entry, ErrorReport> {
    let Some(id) = &entry.emdb else { return Ok(entry.clone()) };
    let maps_given = entry.map.is_some() || entry.half_maps.is_some();
    let wanted = crate::io::archive::Wanted {
        model: entry.model.as_os_str().is_empty(),
        map: !maps_given,
        half_maps: !maps_given,
    };
    let staged = archive.stage(id, wanted).map_err(|e| ErrorReport::from(&e))?;
    let mut ready = entry.clone();
    if let Some(model) = &staged.model {
        ready.model = model.local.clone();
    }
    if !maps_given {
        ready.map = staged.map.as_ref().map(|m| m.local.clone());
        ready.half_maps = staged.half_maps.as_ref().map(|[a, b]| [a.local.clone(), b.local.clone()]);
    }
    if ready.parameters.resolution.is_none() {
        ready.parameters.resolution = staged.header.resolution;
    }
    if !maps_given && ready.parameters.outputs.map_level.is_none() {
        ready.parameters.outputs.map_level = staged.header.contour_level;
    }
    ready.sources = staged.files().into_iter().cloned().collect();
    crate::parameters::Settings::check(ready.parameters.clone(), ready.half_maps.is_some())
        .map_err(|e| ErrorReport::from(&e))?;
    Ok(ready)
}

/// Refuses a batch whose summary files would replace its manifest or one of its inputs (a
/// manifest named `summary.tsv` in the out-dir).
fn refuse_summaries_over_inputs(args: &BatchArgs, entries: &[Entry]) -> Result<()> {
    use crate::io::atomic_file::same_file;
    let mut inputs: Vec<&std::path::Path> = vec![args.manifest.as_path()];
    for entry in entries {
        inputs.extend(entry.input_files());
    }
    for name in ["summary.tsv", "summary.json", "summary.js", "index.html"] {
        let summary = args.out_dir.join(name);
        if let Some(input) = inputs.iter().find(|i| same_file(&summary, i)) {
            return Err(Error::Invalid(format!(
                "the batch's {} would replace its input {}: choose another --out-dir",
                summary.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// What each entry needs, as a TSV table: the memory predicted for it plus 15% (a cluster kills
/// a job beyond its request; the prediction is within 10% of the measured peak,
/// tests/all/memory_prediction.rs), rounded up to 100 MiB, and a generous wall-time limit (10 minutes plus a minute per 10 million voxels: a
/// 384³ entry takes about 5 s on two cores).
fn resource_table(entries: &[Entry]) -> String {
    let mut table = String::from("id\tmem_mb\truntime_min\tmap_voxels\n");
    for entry in entries {
        let geometry = map_geometry(entry);
        let predicted = memory_for_geometry(entry, geometry.as_ref());
        let mem_mb = predicted.saturating_add(predicted / 100 * 15).div_ceil(100 << 20).saturating_mul(100);
        let voxels = geometry.and_then(|g| crate::limits::voxels(g.dims.map(|n| n as u64))).unwrap_or(0);
        let runtime = 10 + voxels.div_ceil(10_000_000);
        table.push_str(&format!("{}\t{mem_mb}\t{runtime}\t{voxels}\n", entry.id));
    }
    table
}

/// The summary as a batch runs: rewritten at most every [`LIVE_SUMMARY_INTERVAL`] (a batch of
/// thousands of entries would otherwise rewrite a large file thousands of times).
struct LiveSummary<'a> {
    out_dir: &'a std::path::Path,
    enabled: bool,
    last: Mutex<Option<std::time::Instant>>,
}

/// Shortest time between two summaries written while a batch runs.
const LIVE_SUMMARY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

impl LiveSummary<'_> {
    fn write(&self, rows: &Mutex<Vec<SummaryRow>>, force: bool) {
        if !self.enabled {
            return;
        }
        let snapshot = rows.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // Always current, for a summary written when a signal stops the batch.
        summary::remember_live(Some((self.out_dir, &snapshot)));
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if !force && last.is_some_and(|t| t.elapsed() < LIVE_SUMMARY_INTERVAL) {
            return;
        }
        // A summary that cannot be written now is written at the end (or the end says why).
        let _ = write_summary(self.out_dir, &snapshot);
        *last = Some(std::time::Instant::now());
    }
}

/// Entry point of `real_space_diff_map batch ...`: exit code 0 when every entry succeeded, 1 when
/// some entries failed (how many is in the summary), 2 for a bad manifest or bad arguments
/// (nothing ran). The count itself is not the code: two failures would read as a usage error.
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
        Ok(_) => 1,
        // A manifest or arguments that cannot be used: nothing ran.
        Err(e) => {
            eprintln!("error: {}", crate::escape::terminal(&e.to_string()));
            2
        }
    }
}
