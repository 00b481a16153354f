//! Entries by their EMDB ids: the map, half maps and resolution from the EMDB archive, the
//! fitted model from the PDB archive, each a local folder, an HTTP(S) server or S3, read
//! through a local cache ([`fetch`]). [`layout`] knows where the archives keep an entry's files,
//! [`header`] reads the EMDB header that lists them.

pub mod fetch;
pub mod header;
pub mod layout;

use crate::error::{Error, Result};
use fetch::{Fetched, Fetcher, Root};
use header::EmdbHeader;
use layout::EmdbId;
use std::path::Path;

/// The largest EMDB header read (real ones are tens of kB).
pub const HEADER_LIMIT: u64 = 16 << 20;

/// The two archives and the cache their remote files go through.
pub struct Archive {
    emdb: Root,
    pdb: Root,
    fetcher: Fetcher,
}

/// What to take from the archive: everything the user did not give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wanted {
    /// The fitted model (else the user gave one).
    pub model: bool,
    /// The primary map (else the user gave one).
    pub map: bool,
    /// The half maps, when the header lists two (else the user gave them, or wants none).
    pub half_maps: bool,
}

impl Wanted {
    /// Everything.
    pub fn all() -> Wanted {
        Wanted { model: true, map: true, half_maps: true }
    }
}

/// An entry's files on this machine, and what its header said.
#[derive(Debug, Clone)]
pub struct StagedEntry {
    /// `EMD-3488`.
    pub accession: String,
    /// The header.
    pub header: EmdbHeader,
    /// The header file itself.
    pub header_file: Fetched,
    /// The fitted model, when wanted and the header names one.
    pub model: Option<Fetched>,
    /// Which fitted PDB entry the model is (the first the header lists).
    pub pdb_id: Option<String>,
    /// The primary map, when wanted.
    pub map: Option<Fetched>,
    /// The half maps, when wanted and the header lists two.
    pub half_maps: Option<[Fetched; 2]>,
    /// Things a user should know (another fitted model that was not used, say).
    pub notes: Vec<String>,
}

impl StagedEntry {
    /// Every file fetched, the header first.
    pub fn files(&self) -> Vec<&Fetched> {
        let mut files = vec![&self.header_file];
        files.extend(self.model.as_ref());
        files.extend(self.map.as_ref());
        files.extend(self.half_maps.iter().flatten());
        files
    }
}

impl Archive {
    /// The archives at `emdb_root` and `pdb_root` (folders or URLs), remote files cached in
    /// `cache` (default [`Fetcher::default_cache`]).
    pub fn new(emdb_root: &str, pdb_root: &str, cache: Option<&Path>) -> Result<Archive> {
        let cache = cache.map_or_else(Fetcher::default_cache, Path::to_path_buf);
        Ok(Archive { emdb: Root::parse(emdb_root)?, pdb: Root::parse(pdb_root)?, fetcher: Fetcher::new(&cache)? })
    }

    /// Fetches the header of `id` and what `wanted` asks for.
    pub fn stage(&self, id: &str, wanted: Wanted) -> Result<StagedEntry> {
        let id = EmdbId::parse(id)?;
        // A map or model file larger than the memory a run may use could not be read anyway.
        let file_limit = crate::limits::memory_limit();
        let accession = id.accession();
        let header_file = self.fetcher.fetch(&self.emdb, &id.header(), HEADER_LIMIT)?;
        let text = std::fs::read_to_string(&header_file.local).map_err(|e| Error::io(&header_file.local, e))?;
        let header = header::parse_header(&text, &header_file.url)?;
        let mut notes = Vec::new();
        let (model, pdb_id) = if wanted.model {
            let Some(first) = header.pdb_ids.first() else {
                return Err(Error::Invalid(format!(
                    "{accession}: the header lists no fitted model (crossreferences/pdb_list); give one in a `model` column"
                )));
            };
            if header.pdb_ids.len() > 1 {
                notes.push(format!(
                    "{accession} lists {} fitted models ({}); {first} is used (give another in a `model` column)",
                    header.pdb_ids.len(),
                    header.pdb_ids.join(", ")
                ));
            }
            (Some(self.fetcher.fetch(&self.pdb, &layout::pdb_model(first)?, file_limit)?), Some(first.clone()))
        } else {
            (None, None)
        };
        let map = if wanted.map {
            Some(self.fetcher.fetch(&self.emdb, &id.map(header.map_file.as_deref())?, file_limit)?)
        } else {
            None
        };
        let half_maps = match (wanted.half_maps, header.half_map_files.as_slice()) {
            (true, [first, second]) => Some([
                self.fetcher.fetch(&self.emdb, &id.half_map(first)?, file_limit)?,
                self.fetcher.fetch(&self.emdb, &id.half_map(second)?, file_limit)?,
            ]),
            (true, files) if !files.is_empty() => {
                notes.push(format!("{accession} lists {} half maps, not two: none used", files.len()));
                None
            }
            _ => None,
        };
        Ok(StagedEntry { accession, header, header_file, model, pdb_id, map, half_maps, notes })
    }
}
