//! Reading and writing: CCP4/MRC maps ([`ccp4`], read through the slab interface of
//! [`map_source`]), PDB and mmCIF models ([`model`]), gzip and the checksums of the bytes read
//! ([`gz`]), and files that appear whole or not at all ([`atomic_file`]).

pub mod archive;
pub mod atomic_file;
pub mod ccp4;
pub mod gz;
pub mod map_source;
pub mod model;

/// The order of the two files on the command line is MODEL MAP; these tell a file that was
/// given in the other's place from its first bytes, so the message names the real mistake
/// instead of a bad map mode or a model without atoms.
pub(crate) mod sniff {
    /// What to tell the user when the files were swapped.
    pub const ORDER: &str = "the order is MODEL MAP, e.g. `real_space_diff_map model.pdb map.mrc resolution=3.5`";

    /// True when `bytes` (the start of a file) are PDB or mmCIF text.
    pub fn looks_like_model(bytes: &[u8]) -> bool {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
        let Some(first) = text.lines().map(str::trim_end).find(|l| !l.trim().is_empty() && !l.starts_with('#')) else {
            return false;
        };
        const RECORDS: [&str; 12] = [
            "HEADER", "TITLE ", "COMPND", "REMARK", "CRYST1", "ATOM  ", "HETATM", "MODEL ", "EXPDTA", "SEQRES",
            "AUTHOR", "SOURCE",
        ];
        first.starts_with("data_") || RECORDS.iter().any(|r| first.starts_with(r))
    }

    /// True when `bytes` (the start of a file) are a CCP4/MRC header: 'MAP ' at byte 208.
    pub fn looks_like_map(bytes: &[u8]) -> bool {
        bytes.get(208..212) == Some(b"MAP ")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn models_and_maps_are_told_apart() {
            assert!(looks_like_model(b"HEADER    VIRAL PROTEIN\nATOM      1  N   ALA A   1"));
            assert!(looks_like_model(b"# written by gemmi\ndata_6VYB\n_entry.id 6VYB\n"));
            assert!(looks_like_model(b"CRYST1    1.000    1.000"));
            let mut header = vec![0u8; 1024];
            header[208..212].copy_from_slice(b"MAP ");
            assert!(looks_like_map(&header) && !looks_like_model(&header));
            assert!(!looks_like_map(b"ATOM  ") && !looks_like_model(b"\x00\x01\x02"));
        }
    }
}
