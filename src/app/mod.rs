//! The program around the science: the command line ([`args`]), what a run prints
//! ([`console`], the [`crate::pipeline::Observer`] that prints), one run from files ([`run`])
//! and many entries at once ([`batch`]). The job itself is the library's
//! ([`crate::pipeline`], shared with the Python package). The library modules
//! never print and never exit; this is the only place that does.

pub mod args;
pub mod batch;
pub mod console;
pub mod emdb;
pub mod run;

use crate::error::{Error, ErrorReport};

/// Entry point of the binary: returns the process exit code (0 success, 1 failure, 2 usage; the
/// batch command: 0 all entries done, 1 some failed, 2 bad arguments or manifest).
pub fn main_with_args(args: Vec<String>) -> i32 {
    install_signal_cleanup();
    if args.get(1).map(String::as_str) == Some("batch") {
        let rest = std::iter::once("real_space_diff_map batch".to_string()).chain(args.into_iter().skip(2)).collect();
        return batch::main_with_args(rest);
    }
    if args.get(1).map(String::as_str) == Some("emdb") {
        return run_emdb_entry(args);
    }
    if args.get(1).map(String::as_str) == Some(batch::entry::ENTRY_COMMAND) {
        let Some(path) = args.get(2) else {
            eprintln!("error: {} needs the entry's spec file", batch::entry::ENTRY_COMMAND);
            return 2;
        };
        return match batch::entry::read_spec(std::path::Path::new(path)) {
            Ok(spec) => {
                batch::entry::exit_when_parent_goes();
                run_and_report(&spec.run_args())
            }
            Err(error) => {
                eprintln!("error: {}", console::printable(&error.to_string()));
                1
            }
        };
    }
    match args::parse_run_args(args) {
        Ok(parsed) => run_and_report(&parsed),
        Err((text, code)) => say_parse_outcome(&text, code),
    }
}

/// What the argument parser said instead of arguments: help or version on stdout (code 0), an
/// error on stderr; returns the exit code.
fn say_parse_outcome(text: &str, code: i32) -> i32 {
    if code == 0 {
        print!("{text}");
    } else {
        eprint!("{}", console::printable(text));
    }
    code
}

/// `real_space_diff_map emdb ID ...`: fetches what the entry needs, then the ordinary run.
fn run_emdb_entry(args: Vec<String>) -> i32 {
    let (options, id, parsed) = match emdb::parse_emdb_args(args) {
        Ok(parsed) => parsed,
        Err((text, code)) => return say_parse_outcome(&text, code),
    };
    let staged = options.archive().and_then(|archive| archive.stage(&id, emdb::wanted_for(&parsed)));
    match staged {
        Ok(staged) => {
            if !parsed.quiet {
                for file in staged.files() {
                    let how = if file.downloaded { "downloaded" } else { "from" };
                    println!("{} {how} {}", staged.accession, console::printable(&file.url));
                }
            }
            for note in &staged.notes {
                eprintln!("note: {}", console::printable(note));
            }
            run_and_report(&emdb::complete_run_args(parsed, &staged))
        }
        Err(error) => {
            eprintln!("error: {id}: {}", console::printable(&error.to_string()));
            if matches!(error, Error::Usage(_)) { 2 } else { 1 }
        }
    }
}

/// Runs one job; on failure prints the error and, for a batch entry, writes it as JSON. A panic
/// (a bug of ours) is reported the same way, as a crash with its message.
fn run_and_report(parsed: &args::RunArgs) -> i32 {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run::run(parsed)));
    let (report, code) = match outcome {
        Ok(Ok(_)) => return 0,
        Ok(Err(error)) => {
            eprintln!("error: {}", console::printable(&error.to_string()));
            let code = if matches!(error, Error::Usage(_) | Error::NoResolution(_)) { 2 } else { 1 };
            let mut report = ErrorReport::from(&error);
            if let (Error::NoResolution(why), Some(_)) = (&error, &parsed.error_json) {
                // A batch entry: the resolution belongs in the manifest.
                report.message = format!(
                    "resolution is required: give the entry a value in a `resolution` column of the manifest \
                     (or resolution=3.5 in its `options` column): {why}"
                );
            }
            (report, code)
        }
        Err(_) => {
            let message = format!("internal error ({}); please report it with the input files", last_panic_message());
            (ErrorReport { kind: crate::error::ErrorKind::Crash, file: None, message }, 1)
        }
    };
    // Whatever the run staged is gone with its transaction; this also covers files a panic
    // left between staging and dropping.
    crate::io::atomic_file::remove_in_flight();
    if let Some(path) = &parsed.error_json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        // The entry's failure is already on stderr; this copy is for the batch.
        let _ = crate::io::atomic_file::write_atomically(path, &[], |w| w.write_all(text.as_bytes()));
    }
    code
}

/// The last panic's message, kept by the binary's panic hook ([`remember_panic`]).
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Keeps a panic's message and place for the failure report (the binary's panic hook calls
/// this; the message also goes to stderr in one line).
pub fn remember_panic(message: String) {
    *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
}

fn last_panic_message() -> String {
    LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| "unknown cause".into())
}

/// On SIGINT, SIGTERM or SIGHUP: remove the temporaries of the run in flight and exit (130).
/// A batch's entries notice that their parent is gone and stop themselves.
fn install_signal_cleanup() {
    let _ = ctrlc::set_handler(|| {
        crate::io::atomic_file::remove_in_flight();
        batch::summary::write_interrupted_summary();
        std::process::exit(130);
    });
}

use std::io::Write;
