//! Stamps: `done.json` and `failed.json` in an entry's folder record what the entry was run
//! with (program version, parameters, the inputs' size, time and SHA-256), so a rerun can tell
//! whether it may skip the entry.

use super::manifest::Entry;
use crate::error::{ErrorReport, Result};
use crate::parameters::Parameters;
use crate::report::file_info;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    /// The entry's parameters, as the manifest gave them.
    pub parameters: Parameters,
    /// Inputs.
    pub inputs: Vec<InputStamp>,
    /// What went wrong, for failures.
    pub error: Option<ErrorReport>,
    /// For an entry by EMDB id: the archive files it was given (URL, size, ETag, modification
    /// time), as fetched for this run.
    #[serde(default)]
    pub sources: Vec<crate::io::archive::fetch::Fetched>,
}

fn modified(path: &Path) -> f64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The entry's inputs as they are now: size and time from their metadata (which never blocks,
/// whatever the file is), and with `checksums` their SHA-256 (regular files only: reading a
/// FIFO would block the batch).
pub(super) fn stamp_inputs(entry: &Entry, checksums: bool) -> Result<Vec<InputStamp>> {
    entry
        .input_files()
        .into_iter()
        .map(|p| {
            crate::limits::ensure_regular_file(p)?;
            let bytes = std::fs::metadata(p).map_err(|e| crate::error::Error::io(p, e))?.len();
            let sha256 = if checksums { file_info(p)?.sha256.unwrap_or_default() } else { String::new() };
            Ok(InputStamp { path: p.to_path_buf(), bytes, modified: modified(p), sha256 })
        })
        .collect()
}

/// True when the recorded inputs are still the files on disk: same size and time, or, when the
/// time changed (a copy, a touch), the same content.
pub(super) fn inputs_unchanged(recorded: &[InputStamp], entry: &Entry) -> bool {
    let paths = entry.input_files();
    recorded.len() == paths.len()
        && recorded.iter().zip(paths).all(|(r, p)| {
            let Ok(meta) = std::fs::metadata(p) else { return false };
            if r.path != *p || r.bytes != meta.len() {
                return false;
            }
            r.modified == modified(p)
                || (!r.sha256.is_empty()
                    && crate::limits::ensure_regular_file(p).is_ok()
                    && file_info(p).is_ok_and(|i| i.sha256.as_deref() == Some(r.sha256.as_str())))
        })
}

pub(super) fn read_stamp(path: &Path) -> Option<Stamp> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}
