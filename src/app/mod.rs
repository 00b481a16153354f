//! The program around the science: the command line ([`args`]), what a run prints
//! ([`console`], [`describe`]), one job in memory ([`job`], shared with the Python package),
//! one run from files ([`run`]) and many entries at once ([`batch`]). The library modules
//! never print and never exit; this is the only place that does.

pub mod args;
pub mod batch;
pub mod console;
pub mod describe;
pub mod job;
pub mod run;

use crate::error::{Error, ErrorReport};

/// Entry point of the binary: returns the process exit code (0 success, 1 failure, 2 usage;
/// the batch command returns the number of failed entries).
pub fn main_with_args(args: Vec<String>) -> i32 {
    if args.get(1).map(String::as_str) == Some("batch") {
        let rest = std::iter::once("real_space_diff_map batch".to_string()).chain(args.into_iter().skip(2)).collect();
        return batch::main_with_args(rest);
    }
    let parsed = match args::parse_run_args(args) {
        Ok(parsed) => parsed,
        Err((text, code)) => {
            if code == 0 {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            return code;
        }
    };
    match run::run(&parsed) {
        Ok(_) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(path) = &parsed.error_json {
                let text = serde_json::to_string_pretty(&ErrorReport::from(&error)).unwrap_or_default();
                // The entry's failure is already on stderr; this copy is for the batch.
                let _ = crate::io::atomic_file::write_atomically(path, &[], |w| w.write_all(text.as_bytes()));
            }
            if matches!(error, Error::Usage(_)) { 2 } else { 1 }
        }
    }
}

use std::io::Write;
