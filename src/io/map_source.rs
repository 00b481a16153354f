//! A map as a source of Z slabs: its header first (grid, placement, data mode; every size
//! checked before anything is allocated), its values slab by slab after, and what identifies
//! the bytes read (for reports and batch stamps). The CCP4/MRC reader is one implementation
//! ([`crate::io::ccp4::Ccp4Source`]); a very large map read in slabs, or a map behind a URL,
//! is another implementation of the same three calls, not a change to its callers.
//!
//! Today every caller reads the whole box as one slab ([`crate::io::ccp4::read_map`]).

use crate::error::Result;
use crate::grid::{GridGeometry, MapHeader};
use crate::io::ccp4::{DataMode, Endianness};
use crate::io::gz::Digest;
use std::ops::Range;
use std::path::PathBuf;

/// What a map's header says, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct MapFileHeader {
    /// The grid in X, Y, Z order and its placement (see [`crate::grid`]).
    pub geometry: GridGeometry,
    /// The header fields that the outputs keep (axis order, cell, origin...).
    pub header: MapHeader,
    /// Data mode of the values.
    pub mode: DataMode,
    /// Byte order of the values.
    pub endianness: Endianness,
    /// What was odd but not fatal in the header.
    pub warnings: Vec<String>,
}

/// Where a map's bytes came from, and what they were.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceIdentity {
    /// The file (or the name given to bytes in memory).
    pub name: PathBuf,
    /// Size and SHA-256 of the bytes read so far (none for bytes in memory); complete once the
    /// last slab has been read.
    pub digest: Option<Digest>,
}

/// A map whose header is known and whose values are read in Z slabs.
pub trait MapSource {
    /// The header, read and checked when the source was opened.
    fn header(&self) -> &MapFileHeader;

    /// The values of Z sections `z` (X fastest, then Y, then Z), in order from the first
    /// section; an error names the file and the problem (short file, NaN values...).
    fn read_slab(&mut self, z: Range<usize>) -> Result<Vec<f32>>;

    /// What identifies the bytes read so far.
    fn identity(&self) -> SourceIdentity;
}
