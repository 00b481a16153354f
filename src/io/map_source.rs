//! A map as a source of Z slabs: its header first (grid, placement, data mode; every size
//! checked before anything is allocated), its values slab by slab after, and what identifies
//! the bytes read (for reports and batch stamps). The CCP4/MRC reader is one implementation
//! (`Ccp4Source`); a very large map read in slabs, or a map behind a URL,
//! is another implementation of the same three calls, not a change to its callers.
//!
//! Today every caller reads the whole box as one slab (the CCP4 reader's `read_map`).

use crate::error::Result;
use crate::grid::{GridGeometry, MapHeader};
use crate::io::gz::Digest;
use std::ops::Range;
use std::path::PathBuf;

/// Byte order of a map file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Endianness {
    /// Least significant byte first (machine stamp 0x44 0x41 or 0x44 0x44).
    Little,
    /// Most significant byte first (machine stamp 0x11 0x11).
    Big,
}

/// Data modes the reader understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DataMode {
    /// Mode 0: signed 8-bit integers.
    Int8,
    /// Mode 1: signed 16-bit integers.
    Int16,
    /// Mode 2: 32-bit floats.
    Float32,
    /// Mode 6: unsigned 16-bit integers.
    Uint16,
    /// Mode 12: 16-bit IEEE half-precision floats.
    Float16,
}

impl DataMode {
    /// The MRC mode number.
    pub fn number(self) -> i32 {
        match self {
            DataMode::Int8 => 0,
            DataMode::Int16 => 1,
            DataMode::Float32 => 2,
            DataMode::Uint16 => 6,
            DataMode::Float16 => 12,
        }
    }

    /// Bytes per voxel.
    pub fn bytes(self) -> usize {
        match self {
            DataMode::Int8 => 1,
            DataMode::Int16 | DataMode::Uint16 | DataMode::Float16 => 2,
            DataMode::Float32 => 4,
        }
    }

    pub(crate) fn from_number(mode: i32) -> std::result::Result<Self, String> {
        Ok(match mode {
            0 => DataMode::Int8,
            1 => DataMode::Int16,
            2 => DataMode::Float32,
            6 => DataMode::Uint16,
            12 => DataMode::Float16,
            3 => return Err(unsupported_mode(3, "complex 16-bit integers")),
            4 => return Err(unsupported_mode(4, "complex 32-bit floats")),
            101 => return Err(unsupported_mode(101, "4-bit packed integers")),
            other => return Err(unsupported_mode(other, "not an MRC2014 mode")),
        })
    }
}

fn unsupported_mode(mode: i32, what: &str) -> String {
    format!(
        "unsupported data mode {mode} ({what}); supported modes are 0 (int8), 1 (int16), \
         2 (float32), 6 (uint16) and 12 (float16)"
    )
}

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
