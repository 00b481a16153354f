//! One error type for the whole crate: every variant names the file (or the argument) at fault,
//! so that a message printed by the command line is enough to find the problem.

use std::path::PathBuf;

/// Everything that can go wrong in reading, computing or writing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused an operation on a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A map file is malformed or unsupported.
    #[error("{}: {message}", path.display())]
    Map {
        /// The map file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A model file is malformed or unusable.
    #[error("{}: {message}", path.display())]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A parameter or command-line argument is invalid.
    #[error("{0}")]
    Usage(String),
    /// No resolution was given and the model file records none that may be used; the text
    /// says what the file records, if anything. (A type of its own: a batch entry asks for the
    /// manifest's `resolution` column instead of a command-line word.)
    #[error("resolution is required (resolution=3.5): {0}")]
    NoResolution(String),
    /// The inputs are individually valid but cannot be used together.
    #[error("{0}")]
    Invalid(String),
    /// An input asks for more than the limits allow (memory, grid size), or is not a file to
    /// read ([`crate::limits`]).
    #[error("{}{message}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Limit {
        /// The file whose size is at fault, when one is.
        path: Option<PathBuf>,
        /// What it would need, and the limit.
        message: String,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    /// A map-format error on `path`.
    pub fn map(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Map { path: path.into(), message: message.into() }
    }
    /// A model-format error on `path`.
    pub fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Model { path: path.into(), message: message.into() }
    }
    /// A limit that `path` (if any) would exceed.
    pub fn limit(path: Option<&std::path::Path>, message: impl Into<String>) -> Self {
        Error::Limit { path: path.map(|p| p.to_path_buf()), message: message.into() }
    }
}

/// What kind of failure an [`Error`] is, as recorded for batch entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The operating system refused a file operation.
    Io,
    /// A map file is malformed or unsupported.
    Map,
    /// A model file is malformed or unusable.
    Model,
    /// A parameter or argument is invalid.
    Usage,
    /// The inputs cannot be used together.
    Invalid,
    /// An input asks for more than the limits allow, or is not a regular file.
    Limit,
    /// The process ended without saying why (killed, out of memory, a bug).
    Crash,
}

/// A failure as data: what a batch entry records instead of scraping a message from stderr.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorReport {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// The file at fault, when one is.
    pub file: Option<PathBuf>,
    /// The message, without the file name.
    pub message: String,
}

impl From<&Error> for ErrorReport {
    fn from(error: &Error) -> Self {
        let (kind, file, message) = match error {
            Error::Io { path, source } => (ErrorKind::Io, Some(path.clone()), source.to_string()),
            Error::Map { path, message } => (ErrorKind::Map, Some(path.clone()), message.clone()),
            Error::Model { path, message } => (ErrorKind::Model, Some(path.clone()), message.clone()),
            Error::Usage(message) => (ErrorKind::Usage, None, message.clone()),
            Error::NoResolution(_) => (ErrorKind::Usage, None, error.to_string()),
            Error::Invalid(message) => (ErrorKind::Invalid, None, message.clone()),
            Error::Limit { path, message } => (ErrorKind::Limit, path.clone(), message.clone()),
        };
        ErrorReport { kind, file, message }
    }
}

impl std::fmt::Display for ErrorReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: {}", file.display(), self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
