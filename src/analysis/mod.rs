//! What the maps say: whether the model sits in the map ([`placement`]), and the difference
//! map's blobs and per-residue scores ([`peaks`]).

pub mod peaks;
pub mod placement;
pub mod significance;
