//! What the maps say: whether the model sits in the map ([`placement`]), and the difference
//! map's blobs and per-residue scores ([`peaks`]), their significance ([`significance`]) and the
//! distribution of its values ([`histogram`]).

pub mod copies;
pub mod histogram;
pub mod peaks;
pub mod placement;
pub mod significance;
