//! One batch entry as its own process: the parent writes what to run as JSON (`entry.json` in
//! the entry's folder: the inputs, the typed [`Parameters`] with the batch's output names, the
//! threads and memory limit) and starts this program as `real_space_diff_map __entry FILE`.
//! No path or value crosses a command line, so a file named `--version` or `x=1.pdb` is just a
//! file; the child reads the same serde form of the parameters that the stamps store.
//!
//! The child keeps its standard input open to the parent: when it ends (the parent exited,
//! was killed, or went away with its machine's session), the child removes its temporary files
//! and exits, so a killed batch leaves no entry running on its own.

use crate::app::args::RunArgs;
use crate::error::{Error, Result};
use crate::parameters::Parameters;
use std::path::{Path, PathBuf};

/// The hidden first argument of an entry's process.
pub const ENTRY_COMMAND: &str = "__entry";

/// What one entry's process runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntrySpec {
    /// Model file.
    pub model: PathBuf,
    /// Map file, when the entry has one.
    pub map: Option<PathBuf>,
    /// Half maps, when the entry has them.
    pub half_maps: Option<[PathBuf; 2]>,
    /// Parameters, with the output files the batch chose (all inside the entry's folder).
    pub parameters: Parameters,
    /// Worker threads.
    pub threads: usize,
    /// Memory limit in bytes.
    pub max_memory: Option<u64>,
    /// Where the child writes its error as JSON when it fails.
    pub error_json: PathBuf,
}

impl EntrySpec {
    /// The run's arguments, as if they had been given on the command line.
    pub fn run_args(&self) -> RunArgs {
        let [half_1, half_2] = self.half_maps.clone().map_or([None, None], |[a, b]| [Some(a), Some(b)]);
        RunArgs {
            model_path: None,
            map_path: None,
            model_key: Some(self.model.clone()),
            map_key: self.map.clone(),
            half_map: half_1.into_iter().chain(half_2).collect(),
            half_maps: Vec::new(),
            parameters: self.parameters.clone(),
            threads: Some(self.threads),
            force_threads: false,
            max_memory: self.max_memory,
            quiet: false,
            error_json: Some(self.error_json.clone()),
        }
    }
}

/// Reads an entry's spec.
pub fn read_spec(path: &Path) -> Result<EntrySpec> {
    crate::limits::ensure_regular_file(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: not an entry spec: {e}", path.display())))
}

/// Ends this process when the parent closes its end of standard input (the parent is gone):
/// the temporaries of the run in flight are removed first. Runs on a thread of its own.
pub fn exit_when_parent_goes() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match std::io::Read::read(&mut stdin, &mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        crate::io::atomic_file::remove_in_flight();
        eprintln!("error: the batch that started this entry is gone; stopping");
        std::process::exit(143);
    });
}
