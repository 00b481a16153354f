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
    /// The inputs are individually valid but cannot be used together.
    #[error("{0}")]
    Invalid(String),
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
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
