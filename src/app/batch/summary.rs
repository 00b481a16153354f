//! The batch's summary: one row per entry in `summary.tsv` and `summary.json`.

use crate::analysis::peaks::Peak;
use crate::error::{Error, ErrorReport, Result};
use crate::io::atomic_file::write_atomically;
use crate::report::Report;
use crate::view::batch_page::write_batch_page;
use std::io::Write;
use std::path::Path;

/// What happened to an entry in a batch run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryStatus {
    /// Computed in this run.
    Done,
    /// Done in an earlier run with the same inputs and parameters.
    Skipped,
    /// Failed in this run.
    Failed,
    /// Failed in an earlier run with the same inputs and parameters (not retried).
    FailedEarlier,
    /// Waiting for its turn (only in the summaries written while a batch runs).
    Pending,
    /// Running now (only in the summaries written while a batch runs).
    Running,
    /// Pending or running when the batch was stopped (SIGINT, SIGTERM): it runs again next time.
    Interrupted,
}

impl EntryStatus {
    /// Whether the entry has no result.
    pub fn is_failure(self) -> bool {
        matches!(self, EntryStatus::Failed | EntryStatus::FailedEarlier)
    }
}

impl std::fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryStatus::Done => "done",
            EntryStatus::Skipped => "skipped",
            EntryStatus::Failed => "failed",
            EntryStatus::FailedEarlier => "failed-earlier",
            EntryStatus::Pending => "pending",
            EntryStatus::Running => "running",
            EntryStatus::Interrupted => "interrupted",
        })
    }
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryRow {
    /// Entry id.
    pub id: String,
    /// What happened to the entry in this run.
    pub status: EntryStatus,
    /// Wall time of this run of the entry (0 when skipped), seconds.
    pub wall_seconds: f64,
    /// Peak resident memory of the entry's process, MiB (from its report).
    pub peak_memory_mb: Option<f64>,
    /// Map size in voxels.
    pub map_voxels: Option<u64>,
    /// Strongest positive peak (in [`SummaryRow::units`]) and its nearest residue.
    pub top_positive: Option<(f64, String)>,
    /// Strongest negative peak (in [`SummaryRow::units`]) and its nearest residue.
    pub top_negative: Option<(f64, String)>,
    /// The unit of the peak heights: `z` (half maps) or `sigma`; entries of one batch may
    /// differ, so every row says.
    #[serde(default)]
    pub units: Option<String>,
    /// What went wrong, for failures.
    pub error: Option<ErrorReport>,
    /// Map size in voxels along X, Y, Z.
    #[serde(default)]
    pub map_dims: Option<[usize; 3]>,
    /// Residues with an atom in negative density beyond the threshold.
    #[serde(default)]
    pub flagged_residues: Option<usize>,
    /// The entry's HTML report, relative to the batch's folder.
    #[serde(default)]
    pub report_html: Option<String>,
}

impl SummaryRow {
    /// A row with only the id and status filled in.
    pub fn new(id: &str, status: EntryStatus) -> Self {
        SummaryRow {
            id: id.to_string(),
            status,
            wall_seconds: 0.0,
            peak_memory_mb: None,
            map_voxels: None,
            top_positive: None,
            top_negative: None,
            units: None,
            error: None,
            map_dims: None,
            flagged_residues: None,
            report_html: None,
        }
    }
}

/// Fills a row from the entry's report, read as the typed [`Report`]: a renamed field is a
/// compile error here, not a silently empty column.
pub(super) fn summary_from_report(row: &mut SummaryRow, report_path: &Path) {
    let Ok(text) = std::fs::read_to_string(report_path) else { return };
    let Ok(report) = serde_json::from_str::<Report>(&text) else { return };
    row.peak_memory_mb = report.peak_memory_mb;
    row.map_voxels = Some(report.map.dims.iter().map(|&d| d as u64).product());
    row.map_dims = Some(report.map.dims);
    row.flagged_residues = Some(report.residues.iter().filter(|r| r.in_negative_density).count());
    let describe = |p: &Peak| {
        let residue = p.nearest_atom.as_ref().map_or(String::new(), |a| a.residue_label());
        (p.height, residue)
    };
    row.top_positive = report.peaks.iter().find(|p| p.height > 0.0).map(describe);
    row.top_negative = report.peaks.iter().find(|p| p.height < 0.0).map(describe);
    row.units = Some(report.peak_search.units.word().to_string());
}

/// The summary as last written while a batch runs, for [`write_interrupted_summary`].
static LIVE: std::sync::Mutex<Option<(std::path::PathBuf, Vec<SummaryRow>)>> = std::sync::Mutex::new(None);

/// Remembers the rows last written to `out_dir`'s summary (or forgets them: `None`).
pub(super) fn remember_live(live: Option<(&Path, &[SummaryRow])>) {
    *LIVE.lock().unwrap_or_else(|e| e.into_inner()) = live.map(|(dir, rows)| (dir.to_path_buf(), rows.to_vec()));
}

/// For a batch stopped by a signal: its summary with the pending and running entries marked
/// `interrupted`, so that neither the rows nor the page (which reloads while entries run) wait
/// for entries that will not finish.
pub fn write_interrupted_summary() {
    let Some((out_dir, mut rows)) = LIVE.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
    for row in &mut rows {
        if matches!(row.status, EntryStatus::Pending | EntryStatus::Running) {
            row.status = EntryStatus::Interrupted;
        }
    }
    let _ = write_summary(&out_dir, &rows);
}

/// Writes summary.tsv, summary.json and the batch page that shows it (index.html, summary.js).
pub(super) fn write_summary(out_dir: &Path, rows: &[SummaryRow]) -> Result<()> {
    let text = serde_json::to_string_pretty(rows).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomically(&out_dir.join("summary.json"), &[], |w| w.write_all(text.as_bytes()))?;
    write_batch_page(out_dir, &text)?;
    let clean = crate::escape::tsv_cell;
    write_atomically(&out_dir.join("summary.tsv"), &[], |w| {
        writeln!(
            w,
            "id\tstatus\twall_s\tpeak_memory_mb\tmap_voxels\ttop_positive\ttop_positive_residue\ttop_negative\ttop_negative_residue\tunits\terror"
        )?;
        for r in rows {
            let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.2}"));
            writeln!(
                w,
                "{}\t{}\t{:.2}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                clean(&r.id),
                r.status,
                r.wall_seconds,
                num(r.peak_memory_mb),
                r.map_voxels.map_or(String::new(), |v| v.to_string()),
                num(r.top_positive.as_ref().map(|p| p.0)),
                r.top_positive.as_ref().map_or(String::new(), |p| clean(&p.1)),
                num(r.top_negative.as_ref().map(|p| p.0)),
                r.top_negative.as_ref().map_or(String::new(), |p| clean(&p.1)),
                r.units.as_deref().unwrap_or(""),
                r.error.as_ref().map(|e| clean(&e.to_string())).unwrap_or_default()
            )?;
        }
        Ok(())
    })
}
