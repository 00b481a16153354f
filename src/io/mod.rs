//! Reading and writing: CCP4/MRC maps ([`ccp4`]), PDB and mmCIF models ([`model`]), gzip
//! ([`gz`]) and files that appear whole or not at all ([`atomic_file`]).

pub mod atomic_file;
pub mod ccp4;
pub mod gz;
pub mod model;
