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

    /// PDB record names (wwPDB format 3.3) that may start a line of a coordinate file's header
    /// or body. A deposited file can begin with any of them (a model cut from an entry often
    /// starts at HET or REMARK), so the first line alone does not tell.
    const PDB_RECORDS: [&str; 43] = [
        "HEADER", "OBSLTE", "TITLE ", "SPLIT ", "CAVEAT", "COMPND", "SOURCE", "KEYWDS", "EXPDTA", "NUMMDL", "MDLTYP",
        "AUTHOR", "REVDAT", "SPRSDE", "JRNL  ", "REMARK", "DBREF ", "DBREF1", "DBREF2", "SEQADV", "SEQRES", "MODRES",
        "HET   ", "HETNAM", "HETSYN", "FORMUL", "HELIX ", "SHEET ", "SSBOND", "LINK  ", "CISPEP", "SITE  ", "CRYST1",
        "ORIGX1", "SCALE1", "MTRIX1", "MODEL ", "ATOM  ", "ANISOU", "TER   ", "HETATM", "ENDMDL", "CONECT",
    ];

    /// True when `bytes` (the start of a file, at least its first kilobyte when it has one) are
    /// PDB or mmCIF text: text throughout (no NUL or other control bytes, which every binary
    /// map header holds) with a line that is a PDB record or an mmCIF block, loop or item.
    pub fn looks_like_model(bytes: &[u8]) -> bool {
        let bytes = &bytes[..bytes.len().min(4096)];
        if bytes.is_empty() || bytes.iter().any(|&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t')) {
            return false;
        }
        String::from_utf8_lossy(bytes).lines().any(|line| {
            let padded = format!("{line:<6}");
            PDB_RECORDS.iter().any(|r| padded.starts_with(r))
                || line.starts_with("data_")
                || line.starts_with("loop_")
                || line.starts_with("_atom_site.")
        })
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
            // A model cut from an entry may start with any header record.
            assert!(looks_like_model(b"HET    SO4 BM   2       5\nCRYST1  126.000"));
            assert!(looks_like_model(b"REMARK 350 BIOMOLECULE: 1\n"));
            // Text that is neither, and a map header whose labels hold PDB-like words.
            assert!(!looks_like_model(b"hello world\n"));
            let mut labelled = header.clone();
            labelled[224..240].copy_from_slice(b"ATOM  written by");
            assert!(!looks_like_model(&labelled));
        }
    }
}
