//! The command line: `real_space_diff_map MODEL MAP resolution=R [output=FILE] [key=value ...]`.
//!
//! Phenix-style `key=value` words and ordinary `--key value` / `--key=value` flags are the same
//! options: words of the form `key=value` are rewritten to `--key=value` before clap parses them.
//! An unknown key is an error that lists the valid ones.

use crate::difference::{DifferenceOptions, SigmaScope, Variant, compute_difference_map};
use crate::error::{Error, Result};
use crate::scaling::local::LocalScalingOptions;
use crate::io::ccp4::{read_map, write_map};
use crate::io::model::read_model;
use crate::density::filter::ResolutionEdge;
use crate::analysis::peaks::{find_peaks, score_residues};
use crate::report::{
    FileInfo, MapSummary, ModelSummary, OutputSummary, PeakSummary, REPORT_SCHEMA_VERSION, Report, file_info,
    peak_table, write_csv, write_json,
};
use clap::builder::BoolishValueParser;
use clap::{ArgAction, CommandFactory, Parser};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of the main job (see `--help`).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "real_space_diff_map",
    version,
    about = "Real-space difference map for cryo-EM: experimental map minus a locally scaled model map, in sigma units.",
    long_about = None,
    after_help = "Options can be given Phenix-style as key=value (resolution=3.5) or as flags (--resolution 3.5).\n\
                  Batch runs: real_space_diff_map batch MANIFEST --out-dir DIR (see the README)."
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
    /// Resolution d_min in Ångström; required unless the model file records it.
    #[arg(long, alias = "d_min", value_name = "ANGSTROM")]
    pub resolution: Option<f64>,
    /// Output difference map (CCP4/MRC).
    #[arg(long, default_value = "map_model_difference.ccp4", value_name = "FILE")]
    pub output: PathBuf,
    /// complex (experimental minus scaled model), amplitude, or both.
    #[arg(long, default_value = "complex", value_parser = ["complex", "amplitude", "both"])]
    pub variant: String,
    /// Sliding-window edge length in Ångström.
    #[arg(long, default_value_t = 20.0, value_name = "ANGSTROM")]
    pub window: f64,
    /// Fit a local offset as well as a local scale (obs ≈ a + k·calc).
    #[arg(long, default_value = "true", value_parser = BoolishValueParser::new(), value_name = "BOOL",
          action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub offset: bool,
    /// Also fit a local relative B (model maps at B -30, 0, +30, +60 Å²; four times the model-map cost).
    #[arg(long = "local_b", alias = "local-b", default_value = "false", value_parser = BoolishValueParser::new(), value_name = "BOOL",
          action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub local_b: bool,
    /// Include hydrogen atoms in the model map.
    #[arg(long, default_value = "true", value_parser = BoolishValueParser::new(), value_name = "BOOL",
          action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub hydrogens: bool,
    /// Where sigma is measured: envelope (within 3 Å of the model) or box (the whole map).
    #[arg(long = "sigma_scope", alias = "sigma-scope", default_value = "envelope", value_parser = ["envelope", "box"])]
    pub sigma_scope: String,
    /// Resolution edge: soft (raised cosine inside d_min) or sharp (as Phenix).
    #[arg(long, default_value = "soft", value_parser = ["soft", "sharp"])]
    pub edge: String,
    /// Width of the soft edge as a fraction of 1/d_min.
    #[arg(long = "edge_width", alias = "edge-width", default_value_t = 0.1, value_name = "FRACTION")]
    pub edge_width: f64,
    /// Also write the fitted local scale k as a map.
    #[arg(long = "scale_map", alias = "scale-map", value_name = "FILE")]
    pub scale_map: Option<PathBuf>,
    /// Peaks: blobs of the difference map beyond this many sigma (positive and negative).
    #[arg(long = "peak_sigma", alias = "peak-sigma", default_value_t = 3.0, value_name = "SIGMA")]
    pub peak_sigma: f64,
    /// How many of the strongest peaks to print.
    #[arg(long = "peaks_shown", alias = "peaks-shown", default_value_t = 10, value_name = "N")]
    pub peaks_shown: usize,
    /// How many peaks the JSON and CSV reports list at most (the totals are always reported).
    #[arg(long = "max_peaks", alias = "max-peaks", default_value_t = 1000, value_name = "N")]
    pub max_peaks: usize,
    /// Write a JSON report (inputs with checksums, parameters, statistics, scales, peaks, residues).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write PREFIX_peaks.csv and PREFIX_residues.csv.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print only errors.
    #[arg(long, default_value = "false", value_parser = BoolishValueParser::new(), value_name = "BOOL",
          action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub quiet: bool,
}

/// Rewrites Phenix-style `key=value` words to `--key=value`.
pub fn normalise_arguments<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            if i == 0 || arg.starts_with('-') {
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
    RunArgs::command().get_arguments().filter_map(|a| a.get_long().map(str::to_string)).collect()
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
                (
                    format!(
                        "error: unknown key '{key}'. Valid keys: {}\n(use --help for descriptions)\n",
                        valid_keys().join(", ")
                    ),
                    2,
                )
            }
            _ => (e.to_string(), 2),
        }
    })
}

fn edge_of(args: &RunArgs) -> Result<ResolutionEdge> {
    match args.edge.as_str() {
        "sharp" => Ok(ResolutionEdge::Sharp),
        _ if args.edge_width > 0.0 && args.edge_width < 1.0 => {
            Ok(ResolutionEdge::RaisedCosine { width: args.edge_width })
        }
        _ => Err(Error::Usage(format!("edge_width must be between 0 and 1, got {}", args.edge_width))),
    }
}

/// What a run produced, for callers that want more than the exit code.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Files written.
    pub outputs: Vec<PathBuf>,
    /// Resolution used.
    pub resolution: f64,
    /// The full report (input checksums only when `json=` was given).
    pub report: Report,
}

/// Runs the main job: read, compute, write, report on stderr/stdout.
pub fn run(args: &RunArgs) -> Result<RunSummary> {
    let start = Instant::now();
    let say = |text: String| {
        if !args.quiet {
            println!("{text}");
        }
    };
    let model_path = args
        .model_key
        .clone()
        .or_else(|| args.model_path.clone())
        .ok_or_else(|| Error::Usage("no model given: real_space_diff_map MODEL MAP resolution=R".into()))?;
    let map_path = args
        .map_key
        .clone()
        .or_else(|| if args.model_key.is_some() { args.model_path.clone() } else { args.map_path.clone() })
        .ok_or_else(|| Error::Usage("no map given: real_space_diff_map MODEL MAP resolution=R".into()))?;
    if let Some(r) = args.resolution
        && !(r.is_finite() && r > 0.0)
    {
        return Err(Error::Usage(format!("resolution must be a positive number of Ångström, got {r}")));
    }
    if !(args.window.is_finite() && args.window > 0.0) {
        return Err(Error::Usage(format!("window must be a positive number of Ångström, got {}", args.window)));
    }
    if let Some(threads) = args.threads {
        if threads == 0 {
            return Err(Error::Usage("threads must be at least 1".into()));
        }
        // Fails only if a pool already exists (library use); then the existing pool is used.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }
    let edge = edge_of(args)?;
    let variant = Variant::parse(&args.variant).expect("clap checked the value");

    let progress = progress_bar(args.quiet);
    progress.set_message("reading the map");
    let read_start = Instant::now();
    let map_read = read_map(&map_path)?;
    let map_summary = MapSummary::of(&map_read.map);
    let map_seconds = read_start.elapsed().as_secs_f64();
    let map = map_read.map;
    let g = map.geometry;
    say(format!(
        "map {}: {} x {} x {} voxels of {:.4} x {:.4} x {:.4} Å, mode {}, axis order {:?}",
        map_path.display(),
        g.dims[0],
        g.dims[1],
        g.dims[2],
        g.voxel_size[0],
        g.voxel_size[1],
        g.voxel_size[2],
        map_read.mode.number(),
        map.header.axis_order
    ));
    say(format!(
        "    first voxel at ({:.3}, {:.3}, {:.3}) Å (header ORIGIN ({:.3}, {:.3}, {:.3}) Å, NSTART ({}, {}, {}))",
        g.first_voxel_centre[0],
        g.first_voxel_centre[1],
        g.first_voxel_centre[2],
        map.header.origin[0],
        map.header.origin[1],
        map.header.origin[2],
        map.header.nstart[0],
        map.header.nstart[1],
        map.header.nstart[2]
    ));
    for w in &map_read.warnings {
        eprintln!("warning: {}: {w}", map_path.display());
    }
    progress.set_message("reading the model");
    let read_start = Instant::now();
    let model = read_model(&model_path)?;
    let model_seconds = read_start.elapsed().as_secs_f64();
    for w in &model.warnings {
        eprintln!("warning: {}: {w}", model_path.display());
    }
    let resolution = match (args.resolution, model.resolution) {
        (Some(r), _) => r,
        (None, Some(r)) => {
            say(format!("resolution {r} Å, as recorded in {}", model_path.display()));
            r
        }
        (None, None) => {
            return Err(Error::Usage(format!(
                "resolution is required (resolution=3.5): {} does not record one",
                model_path.display()
            )));
        }
    };
    say(format!(
        "model {}: {} atoms ({} hydrogens), {} residues in {} chain{}",
        model_path.display(),
        model.atoms.len(),
        model.hydrogen_count(),
        model.residues.len(),
        model.chain_count(),
        if model.chain_count() == 1 { "" } else { "s" }
    ));

    let options = DifferenceOptions {
        d_min: resolution,
        variant,
        scaling: LocalScalingOptions { window: args.window, offset: args.offset, ..LocalScalingOptions::default() },
        edge,
        include_hydrogens: args.hydrogens,
        sigma_scope: if args.sigma_scope == "box" { SigmaScope::Box } else { SigmaScope::Envelope },
        keep_local_fields: args.scale_map.is_some(),
        local_b: args.local_b,
        ..DifferenceOptions::new(resolution)
    };
    progress.set_message("computing the model map and the local fit");
    if !(args.peak_sigma.is_finite() && args.peak_sigma > 0.0) {
        return Err(Error::Usage(format!("peak_sigma must be a positive number, got {}", args.peak_sigma)));
    }
    let header = map.header.clone();
    let result = compute_difference_map(&model, map, &options)?;
    let p = &result.placement;
    say(format!(
        "    {} of {} atoms inside the map box ({:.1}%), mean map value at atoms {:.2} sd",
        p.atoms_inside,
        p.atoms,
        100.0 * p.fraction_inside(),
        p.mean_density_at_atoms_sd
    ));
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    let edge_text = match edge {
        ResolutionEdge::Sharp => "sharp cut".to_string(),
        ResolutionEdge::RaisedCosine { width } => format!("soft edge over the last {:.0}%", 100.0 * width),
    };
    say(format!(
        "resolution {resolution} Å ({edge_text}); model map sampled with a {:.1} Å² blur, removed in Fourier space",
        result.model_map_blur
    ));
    say(format!(
        "global fit within {} Å of the model: scale k = {:.4}, offset = {:.4}, correlation {:.3}",
        options.envelope_radius, result.global.scale, result.global.offset, result.global.correlation
    ));
    let [wx, wy, wz] = result.local.window_voxels;
    say(format!(
        "local fit in a {} Å window ({wx} x {wy} x {wz} voxels) around every voxel, {}; scale k at the model \
         (1st / 50th / 99th percentile): {:.3} / {:.3} / {:.3}",
        args.window,
        if args.offset { "scale and offset" } else { "scale only" },
        result.local.scale_percentiles[0],
        result.local.scale_percentiles[1],
        result.local.scale_percentiles[2]
    ));
    if let Some(b) = result.local.relative_b_percentiles {
        say(format!("local relative B percentiles 1/50/99 = {:.1} / {:.1} / {:.1} Å²", b[0], b[1], b[2]));
    }
    say(match options.sigma_scope {
        SigmaScope::Envelope => format!(
            "sigma = {:.5} map units: the sd of the difference within {} Å of the model ({} voxels)",
            result.sigma, options.envelope_radius, result.envelope_voxels
        ),
        SigmaScope::Box => {
            format!("sigma = {:.5} map units: the sd of the difference over the whole box", result.sigma)
        }
    });

    progress.set_message("finding peaks and writing");
    let inputs = [model_path.as_path(), map_path.as_path()];
    let label = format!("real_space_diff_map {} d_min={resolution} window={}", env!("CARGO_PKG_VERSION"), args.window);
    let (peak_map, peak_map_kind) = match (&result.complex, &result.amplitude) {
        (Some(m), _) => (m, "complex"),
        (None, Some(m)) => (m, "amplitude"),
        (None, None) => return Err(Error::Invalid("no difference map was computed".into())),
    };
    let write_maps = || -> Result<(Vec<PathBuf>, Vec<OutputSummary>, f64)> {
        let write_start = Instant::now();
        let mut outputs = Vec::new();
        let mut written = Vec::new();
        if let Some(complex) = &result.complex {
            write_map(&args.output, complex, &label, &inputs)?;
            outputs.push(args.output.clone());
            written.push(OutputSummary {
                kind: "complex".into(),
                path: args.output.clone(),
                statistics: complex.statistics(),
            });
        }
        if let Some(amplitude) = &result.amplitude {
            let path = if result.complex.is_some() { sibling(&args.output, "_amplitude") } else { args.output.clone() };
            write_map(&path, amplitude, &label, &inputs)?;
            written.push(OutputSummary {
                kind: "amplitude".into(),
                path: path.clone(),
                statistics: amplitude.statistics(),
            });
            outputs.push(path);
        }
        if let (Some(path), Some(fields)) = (&args.scale_map, &result.local_fields) {
            let scale = crate::grid::Map { geometry: g, data: fields.scale.clone(), header: header.clone() };
            write_map(path, &scale, "real_space_diff_map local scale k", &inputs)?;
            written.push(OutputSummary {
                kind: "local_scale".into(),
                path: path.clone(),
                statistics: scale.statistics(),
            });
            outputs.push(path.clone());
        }
        Ok((outputs, written, write_start.elapsed().as_secs_f64()))
    };
    // The peak search runs first, on every core; the maps are then written while the reports
    // are assembled. (Run beside the writer, the search took twice as long and saved nothing:
    // the writer waits on the disk either way.)
    let peaks_start = Instant::now();
    let peaks = find_peaks(peak_map, args.peak_sigma, Some(&model));
    let residues = score_residues(peak_map, &model, args.peak_sigma);
    let peaks_seconds = peaks_start.elapsed().as_secs_f64();
    let written_maps = write_maps();
    let (mut outputs, written, write_seconds) = written_maps?;
    let positive = peaks.iter().filter(|p| p.height > 0.0).count();
    let near_model = peaks.iter().filter(|p| p.nearest_atom.is_some()).count();
    let flagged = residues.iter().filter(|r| r.in_negative_density).count();
    say(format!(
        "peaks beyond {} sigma: {positive} positive, {} negative; {near_model} of them within {} Å of an atom, \
         {} farther away; {flagged} residues with an atom at or below -{} sigma",
        args.peak_sigma,
        peaks.len() - positive,
        crate::analysis::peaks::NEAREST_ATOM_RADIUS,
        peaks.len() - near_model,
        args.peak_sigma
    ));
    if !peaks.is_empty() && args.peaks_shown > 0 {
        say(peak_table(&peaks, args.peaks_shown));
    }
    let listed = peaks.len().min(args.max_peaks);
    let input_info = |path: &Path| -> Result<FileInfo> {
        if args.json.is_some() {
            file_info(path)
        } else {
            let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
            Ok(FileInfo { path: path.to_path_buf(), bytes, sha256: None })
        }
    };
    let mut report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        program: "real_space_diff_map".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: vec![input_info(&model_path)?, input_info(&map_path)?],
        parameters: options,
        map: map_summary,
        model: ModelSummary::of(&model),
        placement: result.placement.clone(),
        fit: Report::fit_of(&result),
        outputs: written,
        peak_search: PeakSummary {
            map: peak_map_kind.into(),
            threshold: args.peak_sigma,
            positive,
            negative: peaks.len() - positive,
            listed,
        },
        peaks: peaks[..listed].to_vec(),
        residues,
        warnings: model.warnings.iter().chain(&map_read.warnings).chain(&result.warnings).cloned().collect(),
        timings: Vec::new(),
        peak_memory_mb: None,
    };
    if let Some(prefix) = &args.csv {
        outputs.extend(write_csv(prefix, &report.peaks, &report.residues, &inputs)?);
    }
    progress.finish_and_clear();
    let mut stages = vec![("read map", map_seconds), ("read model", model_seconds)];
    stages.extend(result.timings.iter().copied());
    stages.push(("peaks and residues", peaks_seconds));
    stages.push(("write maps", write_seconds));
    report.timings = stages.iter().map(|(n, s)| (n.to_string(), *s)).collect();
    report.peak_memory_mb = crate::report::peak_memory_mb();
    if let Some(path) = &args.json {
        write_json(path, &report, &inputs)?;
        outputs.push(path.clone());
    }
    say(format!("time: {}", stages.iter().map(|(name, s)| format!("{name} {s:.2} s")).collect::<Vec<_>>().join(", ")));
    for path in &outputs {
        say(format!("wrote {}", path.display()));
    }
    say(format!("done in {:.2} s", start.elapsed().as_secs_f64()));
    Ok(RunSummary { outputs, resolution, report })
}

/// `dir/name_suffix.ext` beside `path`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    path.with_file_name(name)
}

fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    // Draws only on a terminal: logs and pipelines get plain lines.
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Entry point of the binary: returns the process exit code (0 success, 1 failure, 2 usage).
pub fn main_with_args(args: Vec<String>) -> i32 {
    if args.get(1).map(String::as_str) == Some("batch") {
        let rest = std::iter::once("real_space_diff_map batch".to_string()).chain(args.into_iter().skip(2)).collect();
        return crate::app::batch::main_with_args(rest);
    }
    let parsed = match parse_run_args(args) {
        Ok(parsed) => parsed,
        Err((text, code)) => {
            if code == 0 {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            return code;
        }
    };
    match run(&parsed) {
        Ok(_) => 0,
        Err(e @ Error::Usage(_)) => {
            eprintln!("error: {e}");
            2
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        std::iter::once("real_space_diff_map").chain(words.iter().copied()).map(String::from).collect()
    }

    #[test]
    fn phenix_style_and_flags_are_the_same() {
        let a = parse_run_args(args(&["m.pdb", "x.map", "resolution=3.5", "output=o.ccp4", "window=15"])).unwrap();
        let b = parse_run_args(args(&["m.pdb", "x.map", "--resolution", "3.5", "--output=o.ccp4", "--window", "15"]))
            .unwrap();
        assert_eq!(a.resolution, Some(3.5));
        assert_eq!(a.output, PathBuf::from("o.ccp4"));
        assert_eq!((a.resolution, a.window, &a.output), (b.resolution, b.window, &b.output));
        let c =
            parse_run_args(args(&["m.pdb", "x.map", "d_min=2.9", "hydrogens=no", "offset=False", "sigma_scope=box"]))
                .unwrap();
        assert_eq!(c.resolution, Some(2.9));
        assert!(!c.hydrogens && !c.offset);
        assert_eq!(c.sigma_scope, "box");
        let d = parse_run_args(args(&["m.pdb", "x.map", "--quiet", "--sigma-scope", "box", "edge_width=0.2"])).unwrap();
        assert!(d.quiet && d.sigma_scope == "box" && d.edge_width == 0.2);
        assert!(parse_run_args(args(&["m.pdb", "x.map", "quiet=true"])).unwrap().quiet);
    }

    #[test]
    fn unknown_keys_list_the_valid_ones() {
        let (text, code) = parse_run_args(args(&["m.pdb", "x.map", "resolutoin=3"])).unwrap_err();
        assert_eq!(code, 2);
        assert!(text.contains("unknown key 'resolutoin'"), "{text}");
        assert!(text.contains("resolution") && text.contains("window"), "{text}");
        let (text, code) = parse_run_args(args(&["m.pdb", "x.map", "resolution=abc"])).unwrap_err();
        assert_eq!(code, 2);
        assert!(text.contains("abc"), "{text}");
    }

    #[test]
    fn paths_that_merely_contain_equals_signs_stay_positional() {
        let a = normalise_arguments(args(&["dir/a=b.pdb", "x.map"]));
        assert_eq!(a[1], "dir/a=b.pdb");
    }
}
