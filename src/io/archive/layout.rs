//! Where the archives keep an entry's files, as their public mirrors lay them out:
//!
//! - EMDB: `structures/EMD-NNNN/header/emd-NNNN-v30.xml`, `.../map/emd_NNNN.map.gz`,
//!   `.../other/emd_NNNN_half_map_{1,2}.map.gz` (the names the header gives), `.../masks/`;
//! - PDB: `data/structures/divided/mmCIF/xx/xxxx.cif.gz`, `xx` the middle two characters of the
//!   lower-case id (`5ni1` -> `ni/5ni1.cif.gz`).

use crate::error::{Error, Result};

/// An EMDB accession: the number, as the archive writes it (at least four digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmdbId(String);

impl EmdbId {
    /// Reads `EMD-3488`, `emd-3488`, `EMD_3488` or `3488`.
    pub fn parse(text: &str) -> Result<EmdbId> {
        let t = text.trim();
        let digits = t
            .strip_prefix("EMD-")
            .or_else(|| t.strip_prefix("emd-"))
            .or_else(|| t.strip_prefix("EMD_"))
            .or_else(|| t.strip_prefix("emd_"))
            .unwrap_or(t);
        if digits.len() < 4 || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Usage(format!(
                "'{text}' is not an EMDB id (EMD- and four or more digits, e.g. EMD-3488)"
            )));
        }
        Ok(EmdbId(digits.to_string()))
    }

    /// `EMD-3488`.
    pub fn accession(&self) -> String {
        format!("EMD-{}", self.0)
    }

    /// The entry's folder: `structures/EMD-3488`.
    pub fn folder(&self) -> String {
        format!("structures/EMD-{}", self.0)
    }

    /// The v3 header: `structures/EMD-3488/header/emd-3488-v30.xml`.
    pub fn header(&self) -> String {
        format!("{}/header/emd-{}-v30.xml", self.folder(), self.0)
    }

    /// The primary map, named as the header names it (else `emd_3488.map.gz`).
    pub fn map(&self, file: Option<&str>) -> Result<String> {
        let default = format!("emd_{}.map.gz", self.0);
        Ok(format!("{}/map/{}", self.folder(), plain_name(file.unwrap_or(&default))?))
    }

    /// A half map as the header names it, in `other/`.
    pub fn half_map(&self, file: &str) -> Result<String> {
        Ok(format!("{}/other/{}", self.folder(), plain_name(file)?))
    }
}

/// A PDB entry's mmCIF model: `data/structures/divided/mmCIF/ni/5ni1.cif.gz`.
pub fn pdb_model(id: &str) -> Result<String> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() != 4 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::Usage(format!("'{id}' is not a PDB id (four letters and digits)")));
    }
    Ok(format!("data/structures/divided/mmCIF/{}/{id}.cif.gz", &id[1..3]))
}

/// A file name from a header, used as one part of a path: a name with a folder in it (or `..`)
/// would reach outside the entry's folder, and a header is a stranger's file.
fn plain_name(name: &str) -> Result<&str> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
    if plain {
        Ok(name)
    } else {
        Err(Error::Invalid(format!("the header names a file '{name}' that is not a plain file name")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paths_follow_the_archives() {
        for text in ["EMD-3488", "emd-3488", "EMD_3488", "3488", " EMD-3488 "] {
            assert_eq!(EmdbId::parse(text).unwrap().accession(), "EMD-3488", "{text}");
        }
        for bad in ["EMD-34", "EMD-3488a", "EMD-../1", "", "PDB-1234"] {
            assert!(EmdbId::parse(bad).is_err(), "{bad}");
        }
        let id = EmdbId::parse("EMD-11007").unwrap();
        assert_eq!(id.header(), "structures/EMD-11007/header/emd-11007-v30.xml");
        assert_eq!(id.map(None).unwrap(), "structures/EMD-11007/map/emd_11007.map.gz");
        assert_eq!(
            id.half_map("emd_11007_half_map_2.map.gz").unwrap(),
            "structures/EMD-11007/other/emd_11007_half_map_2.map.gz"
        );
        assert!(id.half_map("../../etc/passwd").is_err() && id.map(Some("a/b.map")).is_err());
        assert_eq!(pdb_model("5NI1").unwrap(), "data/structures/divided/mmCIF/ni/5ni1.cif.gz");
        assert!(pdb_model("5ni").is_err() && pdb_model("5n/1").is_err());
    }
}
