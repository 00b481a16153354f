//! Real-space difference maps for cryo-EM: the experimental map minus a model map computed from
//! electron form factors and scaled to it locally, in a sliding window around every voxel.
//!
//! The data flow, one module per step:
//! [`map_io`] and [`grid`] (maps and their placement) → [`model_io`] and [`placement`] (models,
//! and whether they sit in the map) → [`form_factors`], [`fourier`], [`model_map`] (the model map)
//! → [`mask`], [`local_scaling`] (the sliding-window fit) → [`difference`] (the job) → [`cli`].
//!
//! # Example
//! A validation pipeline computes a difference map without touching files beyond its inputs:
//! ```
//! use real_space_diff_map::difference::{compute_difference_map, DifferenceOptions};
//! use real_space_diff_map::{map_io, model_io};
//!
//! let map = map_io::read_map("testdata/emd_21457_seg.mrc")?.map;
//! let model = model_io::read_model("testdata/6vyb_Ndom_noNAG.pdb")?;
//! let result = compute_difference_map(&model, map, &DifferenceOptions::new(3.2))?;
//! let difference = result.complex.expect("the complex difference is the default");
//! // Sigma units, in the input map's frame: the same grid and placement.
//! assert_eq!(difference.geometry.dims, [48, 40, 47]);
//! println!("global scale {:.3}, strongest feature {:.1} sigma",
//!          result.global.scale, difference.statistics().max);
//! # Ok::<(), real_space_diff_map::Error>(())
//! ```
#![warn(missing_docs)]
// Index loops over the three axes read more clearly than zipped iterators in geometry code.
#![allow(clippy::needless_range_loop)]

pub mod analysis;
pub mod app;
pub mod density;
pub mod difference;
pub mod error;
pub mod grid;
pub mod io;
pub mod report;
pub mod scaling;

pub use error::{Error, Result};
pub use grid::{GridGeometry, Map, MapHeader, MapStatistics};
