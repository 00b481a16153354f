//! Real-space difference maps for cryo-EM.
//!
//! The data flow, one module per step:
//! [`map_io`] → [`model_io`] → model map → local scaling → difference → peaks/report → batch.
#![warn(missing_docs)]
// Index loops over the three axes read more clearly than zipped iterators in geometry code.
#![allow(clippy::needless_range_loop)]

pub mod atomic_file;
pub mod cli;
pub mod difference;
pub mod error;
pub mod form_factors;
pub mod fourier;
pub mod grid;
pub mod local_scaling;
pub mod map_io;
pub mod mask;
pub mod model_io;
pub mod model_map;
pub mod placement;

pub use error::{Error, Result};
pub use grid::{GridGeometry, Map, MapHeader, MapStatistics};
