//! Errors as Python exceptions with the command line's messages, and panics kept from reaching
//! the user as Rust text.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use real_space_diff_map::Error;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The Python exception for an error of the library: `ValueError` for parameters and inputs
/// that cannot be used together; for files, an `OSError` subclass from
/// `real_space_diff_map.errors` that carries the file name (and `FileNotFoundError` or
/// `PermissionError` as well when the system said so).
pub fn to_py_err(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    let (kind, path, errno) = match &error {
        Error::Usage(_) | Error::NoResolution(_) | Error::Invalid(_) => return PyValueError::new_err(message),
        Error::Io { path, source } => ("io", path, source.raw_os_error()),
        Error::Map { path, .. } => ("map", path, None),
        Error::Model { path, .. } => ("model", path, None),
        Error::Limit { path: Some(path), .. } => ("limit", path, None),
        Error::Limit { path: None, .. } => return PyValueError::new_err(message),
    };
    let made = py.import("real_space_diff_map.errors").and_then(|errors| {
        errors.getattr("_file_error")?.call1((kind, message.clone(), path.display().to_string(), errno))
    });
    match made {
        Ok(exception) => PyErr::from_value(exception),
        // Only when the Python half of the package is missing: still an OSError with the message.
        Err(_) => pyo3::exceptions::PyOSError::new_err(message),
    }
}

/// Calls into the library in flight: while any is, panics are not printed by the default hook
/// (they become one `RuntimeError` instead).
static CALLS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Installs a panic hook that stays silent while a call of this package runs and defers to the
/// previous hook otherwise (other extensions in the process keep their behaviour).
pub fn install_quiet_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CALLS_IN_FLIGHT.load(Ordering::SeqCst) == 0 {
            previous(info);
        }
    }));
}

/// Runs `work` (usually with the interpreter detached); a panic inside becomes a
/// `RuntimeError` that says it is a bug to report, never the dependency's own text alone.
pub fn guarded<T>(work: impl FnOnce() -> T) -> PyResult<T> {
    CALLS_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CALLS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    outcome.map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        PyRuntimeError::new_err(format!(
            "internal error in real_space_diff_map ({what}); please report it with the input files"
        ))
    })
}
