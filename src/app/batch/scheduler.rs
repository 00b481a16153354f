//! Running entries: each as a child process of this program, admitted when its estimated memory
//! fits, with its outcome recorded in stamps.

use super::manifest::Entry;
use super::stamp::{Stamp, inputs_unchanged, read_stamp, stamp_inputs};
use super::summary::{EntryStatus, SummaryRow, summary_from_report};
use crate::error::{ErrorKind, ErrorReport};
use crate::io::atomic_file::write_atomically;
use std::io::Write;
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Bytes of memory one entry needs per voxel of its map: about four float32 copies of the map
/// (measured peak 3.44 maps on a 384³ entry).
pub const MEMORY_BYTES_PER_VOXEL: u64 = 4 * 4;
/// Memory one entry needs beyond its maps (program, model, tables).
pub const MEMORY_OVERHEAD_BYTES: u64 = 256 << 20;

/// Bytes per voxel with half maps: both halves are in memory besides the maps of the
/// single-map job, so about six float32 maps.
pub const HALF_MAP_MEMORY_BYTES_PER_VOXEL: u64 = 6 * 4;

/// Estimated peak memory of one entry in bytes: about four maps of float32 (six with half
/// maps) plus a margin, from the map header (decompressed size for .gz, whose header is read
/// without the data).
pub(super) fn memory_estimate(entry: &Entry) -> u64 {
    memory_for_voxels(entry, map_voxels(entry))
}

/// Voxels of the entry's map, from its header (`None` when the header cannot be read).
pub(super) fn map_voxels(entry: &Entry) -> Option<u64> {
    crate::io::ccp4::read_map_header_dims(entry.sizing_map()).map(|d| d.iter().map(|&n| n as u64).product::<u64>())
}

/// [`memory_estimate`] for an entry whose map has `voxels` voxels (1 GiB when unknown).
pub(super) fn memory_for_voxels(entry: &Entry, voxels: Option<u64>) -> u64 {
    let per_voxel = if entry.half_maps.is_some() { HALF_MAP_MEMORY_BYTES_PER_VOXEL } else { MEMORY_BYTES_PER_VOXEL };
    voxels.map_or(1 << 30, |v| v * per_voxel + MEMORY_OVERHEAD_BYTES)
}

pub(super) fn available_memory() -> u64 {
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

/// Runs one entry in a child process; returns the summary row.
pub(super) fn run_entry(entry: &Entry, out_dir: &Path, threads: usize, retry_failed: bool) -> SummaryRow {
    let dir = out_dir.join(&entry.id);
    let done_path = dir.join("done.json");
    let failed_path = dir.join("failed.json");
    let report_path = dir.join("report.json");
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
        row.report_html = html_link(entry, &dir);
        return row;
    }
    if !retry_failed
        && let Some(stamp) = read_stamp(&failed_path)
        && matches(&stamp)
    {
        let mut row = SummaryRow::new(&entry.id, EntryStatus::FailedEarlier);
        row.error = stamp.error;
        return row;
    }
    let start = Instant::now();
    let result = run_child(entry, &dir, threads, &version);
    let mut row = match result {
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
        row.report_html = html_link(entry, &dir);
    }
    row
}

/// The entry's HTML report as the batch page links to it (relative to the batch folder), when
/// it exists.
fn html_link(entry: &Entry, dir: &Path) -> Option<String> {
    let path = entry.parameters.outputs.html.clone().unwrap_or_else(|| dir.join("report.html"));
    let out_dir = dir.parent()?;
    path.exists().then(|| crate::view::slash_path(&crate::view::relative_path(out_dir, &path)))
}

/// Runs the entry's process and writes its log and stamp.
fn run_child(entry: &Entry, dir: &Path, threads: usize, version: &str) -> Result<(), ErrorReport> {
    let fail = |message: String| ErrorReport { kind: ErrorKind::Io, file: Some(dir.to_path_buf()), message };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let (done_path, failed_path, error_path) = (dir.join("done.json"), dir.join("failed.json"), dir.join("error.json"));
    // Leftovers of a killed run: stale stamps, a stale error and temporary files.
    for stale in [&done_path, &failed_path, &error_path] {
        let _ = std::fs::remove_file(stale);
    }
    if let Ok(listing) = std::fs::read_dir(dir) {
        for f in listing.flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if name.starts_with('.') && name.contains(".tmp-") {
                let _ = std::fs::remove_file(f.path());
            }
        }
    }
    let inputs = stamp_inputs(entry).map_err(|e| ErrorReport::from(&e))?;
    let exe = std::env::current_exe().map_err(|e| fail(format!("cannot find this program: {e}")))?;
    let mut parameters = entry.parameters.clone();
    parameters.outputs.output = dir.join("difference.ccp4");
    parameters.outputs.json = Some(dir.join("report.json"));
    if parameters.outputs.html.is_none() {
        parameters.outputs.html = Some(dir.join("report.html"));
    }
    let mut command = std::process::Command::new(exe);
    command.arg(&entry.model);
    if let Some(map) = &entry.map {
        command.arg(map);
    }
    for half in entry.half_maps.iter().flatten() {
        command.arg(format!("half_map={}", half.display()));
    }
    let output = command
        .args(parameters.to_arguments())
        .arg(format!("threads={threads}"))
        .arg(format!("error_json={}", error_path.display()))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot start the entry: {e}")))?;
    let mut log = output.stdout.clone();
    log.extend_from_slice(&output.stderr);
    write_atomically(&dir.join("log.txt"), &[], |w| w.write_all(&log)).map_err(|e| ErrorReport::from(&e))?;
    let stamp = |error: Option<ErrorReport>| Stamp {
        version: version.to_string(),
        parameters: entry.parameters.clone(),
        inputs: inputs.clone(),
        error,
    };
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
        let text = serde_json::to_string_pretty(&stamp(Some(error.clone()))).unwrap_or_default();
        let _ = write_atomically(&failed_path, &[], |w| w.write_all(text.as_bytes()));
        return Err(error);
    }
    let text = serde_json::to_string_pretty(&stamp(None)).map_err(|e| fail(e.to_string()))?;
    write_atomically(&done_path, &[], |w| w.write_all(text.as_bytes())).map_err(|e| ErrorReport::from(&e))
}
