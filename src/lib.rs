//! Real-space difference maps for cryo-EM: the experimental map minus a model map computed from
//! electron form factors and scaled to it locally, in a sliding window around every voxel.
//!
//! The folders follow the data flow:
//! [`io`] (CCP4/MRC maps, PDB/mmCIF models) and [`grid`] (a map and its placement) →
//! [`density`] (form factors, FFTs, the resolution filter, the model map, the envelope) →
//! [`scaling`] (the sliding-window fit, the local noise) → [`difference`] (one pipeline, its
//! noise models) → [`analysis`] (placement check, peaks, residue scores) → [`report`] and
//! [`outputs`] (every file a run writes) → [`view`] (viewer scripts, peak pictures, HTML pages).
//! [`pipeline`] runs one job from inputs in memory to its files, reporting through an observer;
//! every entry point takes its settings as one [`parameters::Parameters`], checked once into
//! [`parameters::Settings`]. [`limits`] (memory, threads, file kinds), [`escape`] (strings put
//! into scripts, tables and terminals), [`timings`] and [`defaults`] serve them all. [`app`] is
//! the program around it (command line, console, batch), and the only part that prints; the
//! Python package (`python/`) is another shell over [`pipeline`].
//!
//! # Example
//! A validation pipeline computes a difference map without touching files beyond its inputs:
//! ```
//! use real_space_diff_map::difference::{compute_difference_map, DifferenceOptions};
//! use real_space_diff_map::io::{ccp4, model};
//!
//! let map = ccp4::read_map("testdata/emd_21457_seg.mrc")?.map;
//! let model = model::read_model("testdata/6vyb_Ndom_noNAG.pdb")?;
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
pub mod defaults;
pub mod density;
pub mod difference;
pub mod error;
pub mod escape;
pub mod grid;
pub mod io;
pub mod limits;
pub mod outputs;
pub mod parameters;
pub mod pipeline;
pub mod report;
pub mod scaling;
pub mod suggest;
pub mod timings;
pub mod view;

pub use error::{Error, Result};
pub use grid::{GridGeometry, Map, MapHeader, MapStatistics};
