//! Running entries: each as a child process of this program ([`super::entry`]), admitted when
//! its estimated memory fits, with its outcome recorded in stamps.
//!
//! What an entry may touch: its own folder `DIR/<id>/` (a folder that is a link is refused, so
//! nothing is written through it), held under an advisory lock while it runs (a second batch on
//! the same folder waits for the entry, then finds it done), and the temporaries this program
//! made there (only regular files with [`crate::io::atomic_file::TEMP_PREFIX`]).

use super::entry::{ENTRY_COMMAND, EntrySpec};
use super::manifest::Entry;
use super::stamp::{InputStamp, Stamp, inputs_unchanged, read_stamp, stamp_inputs};
use super::summary::{EntryStatus, SummaryRow, summary_from_report};
use crate::error::{ErrorKind, ErrorReport};
use crate::io::atomic_file::{remove_stale_temporaries, write_atomically};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Estimated peak memory of one entry in bytes, from its map header
/// ([`crate::limits::job_memory`], the same arithmetic a run checks itself with); 1 GiB when
/// the header cannot be read (the entry then fails on its own, with the reason).
pub(super) fn memory_estimate(entry: &Entry) -> u64 {
    memory_for_geometry(entry, map_geometry(entry).as_ref())
}

/// The entry's map grid from its header alone (`None` when it cannot be read). Never opens
/// anything but a regular file, so a FIFO given as a map cannot block the batch.
pub(super) fn map_geometry(entry: &Entry) -> Option<crate::GridGeometry> {
    crate::io::ccp4::read_map_header(entry.sizing_map()).ok()
}

/// [`memory_estimate`] for an entry whose map grid is `geometry`; `u64::MAX` when the sizes
/// overflow (an entry that cannot run: it fails on its own, alone).
pub(super) fn memory_for_geometry(entry: &Entry, geometry: Option<&crate::GridGeometry>) -> u64 {
    let Some(g) = geometry else { return 1 << 30 };
    let d_min = entry.parameters.resolution.unwrap_or(3.0);
    let model_bytes = crate::limits::model_file_bytes(&entry.model);
    crate::limits::job_memory(g.dims, g.voxel_size, d_min, entry.half_maps.is_some(), model_bytes).unwrap_or(u64::MAX)
}

/// A memory budget shared by the workers: an entry starts only when its estimate fits (an entry
/// larger than the whole budget runs alone).
pub(super) struct MemoryBudget {
    pub(super) free: Mutex<u64>,
    pub(super) total: u64,
    pub(super) changed: Condvar,
}

impl MemoryBudget {
    pub(super) fn acquire(&self, want: u64) -> u64 {
        let want = want.min(self.total);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free < want {
            free = self.changed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= want;
        want
    }
    pub(super) fn release(&self, amount: u64) {
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += amount;
        self.changed.notify_all();
    }
}

/// How the batch runs its entries.
pub(super) struct Runner<'a> {
    pub(super) out_dir: &'a Path,
    /// This program, resolved once when the batch started (see [`program_command`]).
    pub(super) program: &'a ProgramCommand,
    pub(super) threads: usize,
    pub(super) retry_failed: bool,
    pub(super) max_memory: Option<u64>,
}

/// The program that runs the entries: on Linux `/proc/self/exe`, which names this process's
/// own executable even after the file on disk was replaced or removed (an upgrade during a long
/// batch), so every entry runs the version the batch started with; else the path it started
/// from.
pub(super) fn program_path() -> std::io::Result<PathBuf> {
    let own = Path::new("/proc/self/exe");
    if own.exists() { Ok(own.to_path_buf()) } else { std::env::current_exe() }
}

/// The command that runs an entry: a program and the words before the entry's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCommand {
    /// The executable.
    pub program: PathBuf,
    /// Words before `entry SPEC` (`-m real_space_diff_map` for the Python package's command).
    pub leading: Vec<String>,
}

static PROGRAM_COMMAND: std::sync::OnceLock<ProgramCommand> = std::sync::OnceLock::new();

/// Sets how this process's batches start their entries, when this process is not the program
/// itself: the Python package's `real_space_diff_map` command runs inside the interpreter,
/// whose own executable is Python, so it says `python -m real_space_diff_map`. Only the first
/// call counts.
pub fn set_program_command(command: ProgramCommand) {
    let _ = PROGRAM_COMMAND.set(command);
}

/// The command set by [`set_program_command`], else this executable ([`program_path`]).
pub(super) fn program_command() -> std::io::Result<ProgramCommand> {
    match PROGRAM_COMMAND.get() {
        Some(command) => Ok(command.clone()),
        None => Ok(ProgramCommand { program: program_path()?, leading: Vec::new() }),
    }
}

/// The entry's folder `DIR/<id>/`, made if missing; an existing link or file there is refused
/// (writing through a link would put outputs wherever it points).
fn entry_folder(out_dir: &Path, id: &str) -> Result<PathBuf, ErrorReport> {
    let dir = out_dir.join(id);
    let refuse = |message: String| ErrorReport { kind: ErrorKind::Invalid, file: Some(dir.clone()), message };
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refuse("the entry's folder is a link; refusing to write through it (remove it)".into()));
        }
        Ok(meta) if !meta.is_dir() => return Err(refuse("exists and is not a folder".into())),
        Ok(_) => {}
        Err(_) => match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return entry_folder(out_dir, id),
            Err(e) => return Err(refuse(format!("cannot make the entry's folder: {e}"))),
        },
    }
    Ok(dir)
}

impl Runner<'_> {
    /// An entry that failed before it could run (its archive files could not be fetched):
    /// `failed.json` in its folder, like every failure, and its summary row.
    pub(super) fn record_early_failure(&self, entry: &Entry, error: ErrorReport) -> SummaryRow {
        let mut row = SummaryRow::new(&entry.id, EntryStatus::Failed);
        if let Ok(dir) = entry_folder(self.out_dir, &entry.id) {
            let stamp = Stamp {
                version: env!("CARGO_PKG_VERSION").to_string(),
                parameters: entry.parameters.clone(),
                inputs: Vec::new(),
                error: Some(error.clone()),
                sources: entry.sources.clone(),
            };
            let text = serde_json::to_string_pretty(&stamp).unwrap_or_default();
            let _ = std::fs::remove_file(dir.join("done.json"));
            let _ = write_atomically(&dir.join("failed.json"), &[], |w| w.write_all(text.as_bytes()));
        }
        row.error = Some(error);
        row
    }

    /// Runs one entry (or skips it when its stamp still matches) and returns its summary row.
    pub(super) fn run_entry(&self, entry: &Entry) -> SummaryRow {
        let dir = match entry_folder(self.out_dir, &entry.id) {
            Ok(dir) => dir,
            Err(error) => {
                let mut row = SummaryRow::new(&entry.id, EntryStatus::Failed);
                row.error = Some(error);
                return row;
            }
        };
        // While this entry runs, another batch on the same folder waits here for it; then it
        // finds the entry done and skips it.
        let lock = std::fs::File::open(&dir).and_then(|folder| folder.lock().map(|()| folder));
        let row = self.run_locked(entry, &dir);
        drop(lock);
        row
    }

    fn run_locked(&self, entry: &Entry, dir: &Path) -> SummaryRow {
        let done_path = dir.join("done.json");
        let failed_path = dir.join("failed.json");
        let report_path = dir.join(crate::outputs::ENTRY_REPORT);
        let version = env!("CARGO_PKG_VERSION").to_string();
        let matches = |stamp: &Stamp| {
            stamp.version == version && stamp.parameters == entry.parameters && inputs_unchanged(&stamp.inputs, entry)
        };
        if let Some(stamp) = read_stamp(&done_path)
            && matches(&stamp)
            && report_path.exists()
        {
            let mut row = SummaryRow::new(&entry.id, EntryStatus::Skipped);
            summary_from_report(&mut row, &report_path);
            row.report_html = html_link(entry, dir);
            return row;
        }
        if !self.retry_failed
            && let Some(stamp) = read_stamp(&failed_path)
            && matches(&stamp)
        {
            let mut row = SummaryRow::new(&entry.id, EntryStatus::FailedEarlier);
            row.error = stamp.error;
            return row;
        }
        let start = Instant::now();
        let mut row = match self.run_child(entry, dir, &version) {
            Ok(()) => {
                let mut row = SummaryRow::new(&entry.id, EntryStatus::Done);
                summary_from_report(&mut row, &report_path);
                row
            }
            Err(error) => {
                let mut row = SummaryRow::new(&entry.id, EntryStatus::Failed);
                row.error = Some(error);
                row
            }
        };
        row.wall_seconds = start.elapsed().as_secs_f64();
        if !row.status.is_failure() {
            row.report_html = html_link(entry, dir);
        }
        row
    }

    /// Runs the entry's process and writes its log and stamp: `failed.json` whatever failed
    /// (the entry's own error, a crash, or an input that could not be read), else `done.json`.
    fn run_child(&self, entry: &Entry, dir: &Path, version: &str) -> Result<(), ErrorReport> {
        let (done_path, failed_path, error_path) =
            (dir.join("done.json"), dir.join("failed.json"), dir.join("error.json"));
        // Leftovers of a killed run: stale stamps, a stale error and temporary files.
        for stale in [&done_path, &failed_path, &error_path] {
            let _ = std::fs::remove_file(stale);
        }
        remove_stale_temporaries(dir);
        let record_failure = |inputs: Vec<InputStamp>, error: ErrorReport| {
            let stamp = Stamp {
                version: version.to_string(),
                parameters: entry.parameters.clone(),
                inputs,
                error: Some(error.clone()),
                sources: entry.sources.clone(),
            };
            let text = serde_json::to_string_pretty(&stamp).unwrap_or_default();
            let _ = write_atomically(&failed_path, &[], |w| w.write_all(text.as_bytes()));
            error
        };
        // The inputs as they are now: sizes and times (checked again when the entry is
        // considered for a skip); their checksums are those of the bytes the entry read.
        let inputs = stamp_inputs(entry, false).map_err(|e| record_failure(Vec::new(), ErrorReport::from(&e)))?;
        let spec = EntrySpec {
            model: entry.model.clone(),
            map: entry.map.clone(),
            half_maps: entry.half_maps.clone(),
            parameters: entry_parameters(entry, dir),
            threads: self.threads,
            max_memory: self.max_memory,
            error_json: error_path.clone(),
        };
        let spec_path = dir.join("entry.json");
        let text = serde_json::to_string_pretty(&spec).map_err(|e| record_failure(inputs.clone(), internal(e)))?;
        write_atomically(&spec_path, &entry.input_files(), |w| w.write_all(text.as_bytes()))
            .map_err(|e| record_failure(inputs.clone(), ErrorReport::from(&e)))?;
        let output = std::process::Command::new(&self.program.program)
            .args(&self.program.leading)
            .arg(ENTRY_COMMAND)
            .arg(&spec_path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                // Held open until the child ends: when this process goes, the child sees its
                // input close and stops (see super::entry::exit_when_parent_goes).
                let parent_end = child.stdin.take();
                let output = child.wait_with_output();
                drop(parent_end);
                output
            })
            .map_err(|e| {
                let message = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("cannot start the entry: the program {} is gone: {e}", self.program.program.display())
                } else {
                    format!("cannot start the entry with {}: {e}", self.program.program.display())
                };
                record_failure(
                    inputs.clone(),
                    ErrorReport { kind: ErrorKind::Io, file: Some(self.program.program.clone()), message },
                )
            })?;
        let mut log = output.stdout.clone();
        log.extend_from_slice(&output.stderr);
        write_atomically(&dir.join("log.txt"), &entry.input_files(), |w| w.write_all(&log))
            .map_err(|e| record_failure(inputs.clone(), ErrorReport::from(&e)))?;
        if !output.status.success() {
            // The child says what went wrong as JSON; a child that could not (killed, out of
            // memory) is a crash.
            let error = std::fs::read_to_string(&error_path)
                .ok()
                .and_then(|text| serde_json::from_str::<ErrorReport>(&text).ok())
                .unwrap_or_else(|| ErrorReport {
                    kind: ErrorKind::Crash,
                    file: None,
                    message: format!("the entry's process ended with {}", output.status),
                });
            let _ = std::fs::remove_file(&error_path);
            return Err(record_failure(inputs, error));
        }
        let stamp = Stamp {
            version: version.to_string(),
            parameters: entry.parameters.clone(),
            inputs: with_checksums_read(inputs, &dir.join(crate::outputs::ENTRY_REPORT)),
            error: None,
            sources: entry.sources.clone(),
        };
        let text = serde_json::to_string_pretty(&stamp).map_err(|e| record_failure(Vec::new(), internal(e)))?;
        write_atomically(&done_path, &[], |w| w.write_all(text.as_bytes())).map_err(|e| ErrorReport::from(&e))
    }
}

fn internal(e: impl std::fmt::Display) -> ErrorReport {
    ErrorReport { kind: ErrorKind::Crash, file: None, message: format!("internal error: {e}") }
}

/// The entry's parameters with every output inside its folder ([`crate::outputs`] names them).
fn entry_parameters(entry: &Entry, dir: &Path) -> crate::parameters::Parameters {
    crate::outputs::entry_parameters(&entry.parameters, dir)
}

/// The stamp's inputs with the checksums of the bytes the entry actually read (its report's
/// `inputs`), so that a file replaced while the entry ran is seen as changed on the next run.
fn with_checksums_read(mut inputs: Vec<InputStamp>, report: &Path) -> Vec<InputStamp> {
    let read = std::fs::read_to_string(report)
        .ok()
        .and_then(|text| serde_json::from_str::<crate::report::Report>(&text).ok())
        .map(|r| r.inputs)
        .unwrap_or_default();
    for input in &mut inputs {
        input.sha256 = read.iter().find(|r| r.path == input.path).and_then(|r| r.sha256.clone()).unwrap_or_default();
    }
    inputs
}

/// The entry's HTML report as the batch page links to it (relative to the batch folder), when
/// it exists.
fn html_link(entry: &Entry, dir: &Path) -> Option<String> {
    let path = entry_parameters(entry, dir).outputs.html?;
    let out_dir = dir.parent()?;
    path.exists().then(|| crate::view::slash_path(&crate::view::relative_path(out_dir, &path)))
}
