//! Reading and writing: CCP4/MRC maps ([`ccp4`], read through the slab interface of
//! [`map_source`]), PDB and mmCIF models ([`model`]), gzip and the checksums of the bytes read
//! ([`gz`]), and files that appear whole or not at all ([`atomic_file`]).

pub mod atomic_file;
pub mod ccp4;
pub mod gz;
pub mod map_source;
pub mod model;
