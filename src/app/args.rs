//! The command line: `real_space_diff_map MODEL MAP resolution=R [output=FILE] [key=value ...]`.
//!
//! Phenix-style `key=value` words and ordinary `--key value` / `--key=value` flags are the same
//! options: words of the form `key=value` are rewritten to `--key=value` before clap parses them
//! into [`RunArgs`], whose science part is the crate's one [`Parameters`] type. An unknown key is
//! an error that lists the valid ones.

use crate::parameters::Parameters;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, CommandFactory, Parser};
use std::path::PathBuf;

/// The main job's arguments: inputs, [`Parameters`], and how to run (see `--help`).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "real_space_diff_map",
    version,
    about = "Real-space difference map for cryo-EM: experimental map minus a locally scaled model map, in sigma units \
             (z units with half maps).",
    long_about = None,
    after_help = "Options can be given Phenix-style as key=value (resolution=3.5) or as flags (--resolution 3.5).\n\
                  Batch runs: real_space_diff_map batch MANIFEST --out-dir DIR (see docs/batch.md).\n\
                  By EMDB id: real_space_diff_map emdb EMD-3488 emdb_root=ROOT pdb_root=ROOT [cache=DIR] [key=value ...]."
)]
pub struct RunArgs {
    /// Atomic model: PDB or mmCIF, optionally gzip-compressed.
    #[arg(value_name = "MODEL")]
    pub model_path: Option<PathBuf>,
    /// Experimental map: CCP4/MRC, optionally gzip-compressed.
    #[arg(value_name = "MAP")]
    pub map_path: Option<PathBuf>,
    /// The model, as a key (alternative to the first positional argument).
    #[arg(long = "model", value_name = "FILE")]
    pub model_key: Option<PathBuf>,
    /// The map, as a key (alternative to the second positional argument).
    #[arg(long = "map", value_name = "FILE")]
    pub map_key: Option<PathBuf>,
    /// A half map (give the key twice: half_map=H1 half_map=H2). With half maps the map is
    /// optional (their average is used) and the difference is in z units of the local noise.
    #[arg(long = "half_map", alias = "half-map", value_name = "FILE", action = ArgAction::Append)]
    pub half_map: Vec<PathBuf>,
    /// The two half maps at once: --half-maps H1 H2.
    #[arg(long = "half-maps", alias = "half_maps", value_name = "FILE", num_args = 2)]
    pub half_maps: Vec<PathBuf>,
    /// Everything that decides what is computed and written.
    #[command(flatten)]
    pub parameters: Parameters,
    /// Worker threads (default: all cores; more than the cores only with force_threads=true).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Allow threads= beyond the machine's cores.
    #[arg(long = "force_threads", alias = "force-threads", default_value = "false", value_parser = BoolishValueParser::new(),
          value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub force_threads: bool,
    /// The most memory a run may ask for (8G, 800M; default: 90% of the memory available): maps,
    /// grids and models whose sizes would need more are refused before anything is allocated.
    #[arg(long = "max_memory", alias = "max-memory", value_name = "SIZE", value_parser = crate::limits::parse_memory)]
    pub max_memory: Option<u64>,
    /// Print only errors.
    #[arg(long, default_value = "false", value_parser = BoolishValueParser::new(), value_name = "BOOL",
          action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub quiet: bool,
    /// On failure, also write the error as JSON (kind, file, message) to this file (used by the
    /// batch command).
    #[arg(long = "error_json", alias = "error-json", value_name = "FILE", hide = true)]
    pub error_json: Option<PathBuf>,
}

impl RunArgs {
    /// The model's path, from the first positional argument or `model=`.
    pub fn model(&self) -> Option<PathBuf> {
        self.model_key.clone().or_else(|| self.model_path.clone())
    }

    /// The map's path, from the second positional argument (the first when `model=` is given)
    /// or `map=`.
    pub fn map(&self) -> Option<PathBuf> {
        self.map_key
            .clone()
            .or_else(|| if self.model_key.is_some() { self.model_path.clone() } else { self.map_path.clone() })
    }
}

impl RunArgs {
    /// The half maps, from `half_map=` (twice) or `--half-maps H1 H2`: none or exactly two.
    pub fn half_map_pair(&self) -> crate::error::Result<Option<[PathBuf; 2]>> {
        let all: Vec<PathBuf> = self.half_map.iter().chain(&self.half_maps).cloned().collect();
        match all.as_slice() {
            [] => Ok(None),
            [a, b] => Ok(Some([a.clone(), b.clone()])),
            other => Err(crate::error::Error::Usage(format!(
                "half maps come in pairs: give half_map=H1 half_map=H2 (or --half-maps H1 H2); got {} file{}",
                other.len(),
                if other.len() == 1 { "" } else { "s" }
            ))),
        }
    }
}

/// Rewrites Phenix-style `key=value` words to `--key=value`. After a `--` every word is a file
/// as it is (`real_space_diff_map -- x=1.pdb map.mrc`).
pub fn normalise_arguments<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut files_only = false;
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            if files_only || i == 0 || arg.starts_with('-') {
                files_only |= arg == "--";
                return arg;
            }
            match arg.split_once('=') {
                Some((key, _))
                    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    format!("--{arg}")
                }
                _ => arg,
            }
        })
        .collect()
}

/// Names of the valid keys, for error messages.
pub fn valid_keys() -> Vec<String> {
    RunArgs::command()
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect()
}

/// Parses the main job's arguments (program name first). On `--help`/`--version` the `Err`
/// holds clap's text and exit code 0.
pub fn parse_run_args(args: Vec<String>) -> std::result::Result<RunArgs, (String, i32)> {
    let normalised = normalise_arguments(args);
    RunArgs::try_parse_from(&normalised).map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => (e.to_string(), 0),
            ErrorKind::UnknownArgument => {
                let offending = e.get(clap::error::ContextKind::InvalidArg).map(|v| v.to_string()).unwrap_or_default();
                let key = offending.trim_start_matches('-').split('=').next().unwrap_or("").to_string();
                let keys = valid_keys();
                let hint = crate::suggest::did_you_mean(&key, keys.iter().map(String::as_str));
                (
                    format!(
                        "error: unknown key '{key}'{hint}\nValid keys: {}\n(use --help for descriptions)\n",
                        keys.join(", ")
                    ),
                    2,
                )
            }
            _ => (e.to_string(), 2),
        }
    })
}

pub use crate::parameters::{parameter_keys, parse_parameters};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::difference::SigmaScope;

    fn args(words: &[&str]) -> Vec<String> {
        std::iter::once("real_space_diff_map").chain(words.iter().copied()).map(String::from).collect()
    }

    #[test]
    fn phenix_style_and_flags_are_the_same() {
        let a = parse_run_args(args(&["m.pdb", "x.map", "resolution=3.5", "output=o.ccp4", "window=15"])).unwrap();
        let b = parse_run_args(args(&["m.pdb", "x.map", "--resolution", "3.5", "--output=o.ccp4", "--window", "15"]))
            .unwrap();
        assert_eq!(a.parameters.resolution, Some(3.5));
        assert_eq!(a.parameters.outputs.output, PathBuf::from("o.ccp4"));
        assert_eq!(a.parameters, b.parameters);
        let c =
            parse_run_args(args(&["m.pdb", "x.map", "d_min=2.9", "hydrogens=no", "offset=False", "sigma_scope=box"]))
                .unwrap();
        assert_eq!(c.parameters.resolution, Some(2.9));
        assert!(!c.parameters.model_map.hydrogens && !c.parameters.scaling.offset);
        assert_eq!(c.parameters.units.sigma_scope, SigmaScope::Box);
        let d = parse_run_args(args(&["m.pdb", "x.map", "--quiet", "--sigma-scope", "box", "edge_width=0.2"])).unwrap();
        assert!(d.quiet && d.parameters.units.sigma_scope == SigmaScope::Box);
        assert_eq!(d.parameters.model_map.edge_width, 0.2);
        assert!(parse_run_args(args(&["m.pdb", "x.map", "quiet=true"])).unwrap().quiet);
    }

    #[test]
    fn unknown_keys_list_the_valid_ones() {
        let (text, code) = parse_run_args(args(&["m.pdb", "x.map", "resolutoin=3"])).unwrap_err();
        assert_eq!(code, 2);
        assert!(text.contains("unknown key 'resolutoin'; did you mean 'resolution'?"), "{text}");
        assert!(text.contains("resolution") && text.contains("window"), "{text}");
        assert!(!text.contains("error_json"), "hidden keys are not advertised: {text}");
        let (text, code) = parse_run_args(args(&["m.pdb", "x.map", "resolution=abc"])).unwrap_err();
        assert_eq!(code, 2);
        assert!(text.contains("abc"), "{text}");
    }

    #[test]
    fn paths_that_merely_contain_equals_signs_stay_positional() {
        let a = normalise_arguments(args(&["dir/a=b.pdb", "x.map"]));
        assert_eq!(a[1], "dir/a=b.pdb");
    }

    #[test]
    fn manifest_words_parse_like_the_command_line() {
        let words: Vec<String> = ["resolution=3.1", "variant=both", "window=15"].map(String::from).to_vec();
        let p = parse_parameters(&words).unwrap();
        assert_eq!((p.resolution, p.scaling.window), (Some(3.1), Some(15.0)));
        assert!(parse_parameters(&["windw=3".to_string()]).unwrap_err().contains("windw"));
        assert!(parse_parameters(&["variant=sideways".to_string()]).is_err());
    }
}
