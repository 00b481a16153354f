//! Real-space difference maps for cryo-EM.
//!
//! The data flow, one module per step:
//! [`map_io`] → [`model_io`] → model map → local scaling → difference → peaks/report → batch.
#![warn(missing_docs)]

pub mod atomic_file;
pub mod error;
pub mod form_factors;
pub mod fourier;
pub mod grid;
pub mod map_io;
pub mod mask;
pub mod model_io;
pub mod model_map;
pub mod placement;

pub use error::{Error, Result};
pub use grid::{GridGeometry, Map, MapHeader, MapStatistics};
