//! The experimental data a difference is taken from: one map, or two half maps (with the full
//! map when there is one). The half-map set is a type whose constructor checks that its maps
//! share a frame, so that nothing downstream checks it again.

use crate::grid::Map;

/// The experimental data: one map, or two half maps (with the full map when there is one).
/// (Held once per run, so the size difference of the variants does not matter.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Experimental {
    /// A single map: the difference is in sigma units.
    Map(Map),
    /// Two independent half maps on one grid; the difference is in z units of their local noise.
    HalfMaps(HalfMaps),
}

impl Experimental {
    /// The map whose frame (grid, placement, header) the outputs take: the full map, else the
    /// first half map.
    pub fn frame_map(&self) -> &Map {
        match self {
            Experimental::Map(map) => map,
            Experimental::HalfMaps(halves) => halves.full.as_ref().unwrap_or(&halves.half1),
        }
    }

    /// True for half maps.
    pub fn has_half_maps(&self) -> bool {
        matches!(self, Experimental::HalfMaps(_))
    }

    /// True when there is a full map (a single map, or half maps with their full map).
    pub fn has_full_map(&self) -> bool {
        !matches!(self, Experimental::HalfMaps(HalfMaps { full: None, .. }))
    }
}

/// Which maps of a half-map set do not share a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePair {
    /// The second half map differs from the first.
    Halves,
    /// The full map differs from the first half map.
    FullAndHalf,
}

/// Why a half-map set was refused: which pair differs, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameMismatch {
    /// The pair.
    pub pair: FramePair,
    /// How their grids differ.
    pub why: String,
}

impl std::fmt::Display for FrameMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pair {
            FramePair::Halves => write!(f, "the two half maps do not share a frame: {}", self.why),
            FramePair::FullAndHalf => write!(f, "the full map and the half maps do not share a frame: {}", self.why),
        }
    }
}

impl From<FrameMismatch> for crate::error::Error {
    fn from(mismatch: FrameMismatch) -> Self {
        crate::error::Error::Invalid(mismatch.to_string())
    }
}

/// Two half maps, and the full map when it should be used instead of their average, on one
/// grid with one voxel size and placement (checked when the set is made).
#[derive(Debug, Clone)]
pub struct HalfMaps {
    half1: Map,
    half2: Map,
    full: Option<Map>,
}

impl HalfMaps {
    /// The set, when the maps share a frame.
    pub fn new(half1: Map, half2: Map, full: Option<Map>) -> std::result::Result<Self, FrameMismatch> {
        if let Some(why) = half1.geometry.frame_mismatch(&half2.geometry) {
            return Err(FrameMismatch { pair: FramePair::Halves, why });
        }
        if let Some(why) = full.as_ref().and_then(|f| f.geometry.frame_mismatch(&half1.geometry)) {
            return Err(FrameMismatch { pair: FramePair::FullAndHalf, why });
        }
        Ok(HalfMaps { half1, half2, full })
    }

    /// The first half map.
    pub fn half1(&self) -> &Map {
        &self.half1
    }

    /// The second half map.
    pub fn half2(&self) -> &Map {
        &self.half2
    }

    /// The full map, when given.
    pub fn full(&self) -> Option<&Map> {
        self.full.as_ref()
    }

    /// The maps: first half, second half, full.
    pub fn into_parts(self) -> (Map, Map, Option<Map>) {
        (self.half1, self.half2, self.full)
    }
}
