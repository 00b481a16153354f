//! `real_space_diff_map emdb EMD-3488 emdb_root=ROOT pdb_root=ROOT [cache=DIR] [key=value ...]`:
//! one entry by its EMDB id. The map, the half maps (when the header lists two), the resolution
//! the authors give and the first fitted model come from the archives
//! ([`crate::io::archive`]); anything given on the command line (`model=`, `map=`,
//! `half_map=`, `resolution=`) is used instead. Then it is the ordinary run.

use crate::app::args::{RunArgs, parse_run_args};
use crate::error::{Error, Result};
use crate::io::archive::{Archive, StagedEntry, Wanted};
use std::path::PathBuf;

/// The archive options, as `key=value` words or `--flags`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArchiveOptions {
    /// The EMDB archive's root (a folder, `http(s)://...`, `s3://bucket/prefix`).
    pub emdb_root: Option<String>,
    /// The PDB archive's root.
    pub pdb_root: Option<String>,
    /// The local cache of remote files.
    pub cache: Option<PathBuf>,
}

impl ArchiveOptions {
    /// The archives, or a usage error naming what is missing.
    pub fn archive(&self) -> Result<Archive> {
        let (Some(emdb), Some(pdb)) = (&self.emdb_root, &self.pdb_root) else {
            return Err(Error::Usage(
                "entries by EMDB id need both archive roots: emdb_root=ROOT pdb_root=ROOT (folders, http(s):// or s3:// URLs)"
                    .into(),
            ));
        };
        Archive::new(emdb, pdb, self.cache.as_deref())
    }
}

/// Takes the archive options out of `words` (`emdb_root=R`, `--emdb-root R`, `--emdb-root=R`, the
/// same for `pdb_root` and `cache`); returns them and the other words.
pub fn take_archive_options(words: Vec<String>) -> Result<(ArchiveOptions, Vec<String>)> {
    let mut options = ArchiveOptions::default();
    let mut rest = Vec::new();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let trimmed = word.trim_start_matches('-');
        let (key, inline) = match trimmed.split_once('=') {
            Some((k, v)) => (k.replace('-', "_"), Some(v.to_string())),
            None => (trimmed.replace('-', "_"), None),
        };
        if !matches!(key.as_str(), "emdb_root" | "pdb_root" | "cache") || (inline.is_none() && !word.starts_with("--"))
        {
            rest.push(word);
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => words.next().ok_or_else(|| Error::Usage(format!("{word} needs a value")))?,
        };
        match key.as_str() {
            "emdb_root" => options.emdb_root = Some(value),
            "pdb_root" => options.pdb_root = Some(value),
            _ => options.cache = Some(PathBuf::from(value)),
        }
    }
    Ok((options, rest))
}

/// The run's arguments with what the user left out taken from `staged`.
pub fn complete_run_args(mut args: RunArgs, staged: &StagedEntry) -> RunArgs {
    if args.model().is_none() {
        args.model_key = staged.model.as_ref().map(|f| f.local.clone());
    }
    if args.map().is_none() && args.half_map.is_empty() && args.half_maps.is_empty() {
        args.map_key = staged.map.as_ref().map(|f| f.local.clone());
        if let Some([h1, h2]) = &staged.half_maps {
            args.half_map = vec![h1.local.clone(), h2.local.clone()];
        }
    }
    if args.parameters.resolution.is_none() {
        args.parameters.resolution = staged.header.resolution;
    }
    if args.parameters.outputs.map_level.is_none()
        && args.map().is_some_and(|m| staged.map.as_ref().is_some_and(|s| s.local == m))
    {
        args.parameters.outputs.map_level = staged.header.contour_level;
    }
    args
}

/// What to fetch for a run with `args`: what it does not give itself.
pub fn wanted_for(args: &RunArgs) -> Wanted {
    let maps_given = args.map().is_some() || !args.half_map.is_empty() || !args.half_maps.is_empty();
    Wanted { model: args.model().is_none(), map: !maps_given, half_maps: !maps_given }
}

/// The difference map's file name for an entry run without `output=`: `emd_3488_difference.ccp4`
/// for `EMD-3488` (the archive's own spelling of map names); an id that is not an EMDB id keeps
/// only its letters, digits, `-` and `_` (the id check rejects it later with its own message).
pub fn entry_output_name(id: &str) -> String {
    let plain: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
    let lower = plain.to_ascii_lowercase().replace('-', "_");
    format!("{}_difference.ccp4", if lower.is_empty() { "entry".into() } else { lower })
}

/// Parses `emdb ID [words]` (program name first) into the archive options, the id and the
/// run's own arguments.
pub fn parse_emdb_args(args: Vec<String>) -> std::result::Result<(ArchiveOptions, String, RunArgs), (String, i32)> {
    let program = args.first().cloned().unwrap_or_else(|| "real_space_diff_map".into());
    let (options, rest) =
        take_archive_options(args.into_iter().skip(2).collect()).map_err(|e| (format!("error: {e}\n"), 2))?;
    let Some(position) = rest.iter().position(|w| !w.starts_with('-') && !w.contains('=')) else {
        return Err((
            "error: which entry? real_space_diff_map emdb EMD-3488 emdb_root=ROOT pdb_root=ROOT [cache=DIR] [key=value ...]\n"
                .into(),
            2,
        ));
    };
    let mut rest = rest;
    let id = rest.remove(position);
    let output_given = rest.iter().any(|w| {
        let key = w.trim_start_matches('-');
        key == "output" || key.starts_with("output=")
    });
    let mut run = parse_run_args(std::iter::once(program).chain(rest).collect())?;
    if !output_given {
        // Entries run one after another in one folder: each names its map after itself, so
        // the next entry does not replace the last one's.
        run.parameters.outputs.output = PathBuf::from(entry_output_name(&id));
    }
    Ok((options, id, run))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn archive_options_in_both_spellings_are_taken_out() {
        let (options, rest) =
            take_archive_options(words("EMD-1 emdb_root=/e --pdb-root /p --cache=/c window=15 --quiet")).unwrap();
        assert_eq!(options.emdb_root.as_deref(), Some("/e"));
        assert_eq!(options.pdb_root.as_deref(), Some("/p"));
        assert_eq!(options.cache, Some(PathBuf::from("/c")));
        assert_eq!(rest, words("EMD-1 window=15 --quiet"));
        assert!(take_archive_options(words("--cache")).is_err());
        let (_, id, run) =
            parse_emdb_args(words("real_space_diff_map emdb emdb_root=/e EMD-3488 pdb_root=/p resolution=3.1"))
                .unwrap();
        assert_eq!((id.as_str(), run.parameters.resolution), ("EMD-3488", Some(3.1)));
        assert!(run.model().is_none() && run.map().is_none());
        assert!(parse_emdb_args(words("real_space_diff_map emdb emdb_root=/e")).is_err());
        // Outputs are named after the entry unless output= says otherwise.
        assert_eq!(run.parameters.outputs.output, PathBuf::from("emd_3488_difference.ccp4"));
        let (_, _, run) = parse_emdb_args(words("real_space_diff_map emdb EMD-3488 output=x.ccp4")).unwrap();
        assert_eq!(run.parameters.outputs.output, PathBuf::from("x.ccp4"));
        let (_, _, run) = parse_emdb_args(words("real_space_diff_map emdb EMD-3488 --output y.ccp4")).unwrap();
        assert_eq!(run.parameters.outputs.output, PathBuf::from("y.ccp4"));
        assert_eq!(entry_output_name("../EMD-1;rm"), "emd_1rm_difference.ccp4");
    }
}
