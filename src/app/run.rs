//! One run of the main job: read, compute, find peaks, write, report. Each step is a function
//! here; the science is in the library modules they call.

use crate::analysis::peaks::{NEAREST_ATOM_RADIUS, Peak, ResidueScore, find_peaks, score_residues};
use crate::app::args::RunArgs;
use crate::app::console::Console;
use crate::difference::{DifferenceMaps, SigmaScope, compute_difference_map};
use crate::error::{Error, Result};
use crate::grid::{Map, MapHeader};
use crate::io::ccp4::{MapRead, read_map, write_map};
use crate::io::model::{Model, read_model};
use crate::parameters::Parameters;
use crate::report::{
    FileInfo, MapSummary, ModelSummary, OutputSummary, PeakSummary, REPORT_SCHEMA_VERSION, Report, file_info,
    peak_table, stage_key, write_csv, write_json,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

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

/// Wall time of each stage, in order.
#[derive(Default)]
struct Stages(Vec<(String, f64)>);

impl Stages {
    fn add(&mut self, name: &str, since: Instant) {
        self.0.push((name.to_string(), since.elapsed().as_secs_f64()));
    }
}

/// Runs the main job: read, compute, write, report on stdout/stderr.
pub fn run(args: &RunArgs) -> Result<RunSummary> {
    let start = Instant::now();
    let parameters = &args.parameters;
    let usage = |what: &str| Error::Usage(format!("no {what} given: real_space_diff_map MODEL MAP resolution=R"));
    let model_path = args.model().ok_or_else(|| usage("model"))?;
    let map_path = args.map().ok_or_else(|| usage("map"))?;
    parameters.validate()?;
    use_threads(args.threads)?;
    let console = Console::new(args.quiet);
    let mut stages = Stages::default();

    let (map_read, map_summary) = read_map_stage(&map_path, &console, &mut stages)?;
    let model = read_model_stage(&model_path, &console, &mut stages)?;
    let resolution = settle_resolution(parameters, &model, &model_path, &console)?;
    let options = parameters.difference_options(resolution);
    console.stage("computing the model map and the local fit");
    let header = map_read.map.header.clone();
    let map_warnings = map_read.warnings;
    // The map moves in: its buffer becomes the difference map.
    let result = compute_difference_map(&model, map_read.map, &options)?;
    stages.0.extend(result.timings.iter().map(|(n, s)| (n.to_string(), *s)));
    describe_fit(&console, parameters, resolution, &result);

    console.stage("finding peaks and writing");
    let (peak_map, peak_map_kind) = match (&result.complex, &result.amplitude) {
        (Some(m), _) => (m, "complex"),
        (None, Some(m)) => (m, "amplitude"),
        (None, None) => return Err(Error::Invalid("no difference map was computed".into())),
    };
    // The peak search runs before the maps are written, on every core: beside the writer it
    // took twice as long and saved nothing.
    let clock = Instant::now();
    let peaks = find_peaks(peak_map, parameters.peaks.peak_sigma, Some(&model));
    let residues = score_residues(peak_map, &model, parameters.peaks.peak_sigma);
    stages.add("peaks and residues", clock);
    describe_peaks(&console, parameters, &peaks, &residues);
    let inputs = [model_path.as_path(), map_path.as_path()];
    let clock = Instant::now();
    let (mut outputs, written) = write_maps(parameters, resolution, &result, &header, &inputs)?;
    stages.add("write maps", clock);

    let mut report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        program: "real_space_diff_map".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: vec![input_info(parameters, &model_path)?, input_info(parameters, &map_path)?],
        parameters: Parameters { resolution: Some(resolution), ..parameters.clone() },
        map: map_summary,
        model: ModelSummary::of(&model),
        placement: result.placement.clone(),
        fit: Report::fit_of(&result),
        outputs: written,
        peak_search: peak_summary(parameters, peak_map_kind, &peaks),
        peaks: peaks[..peaks.len().min(parameters.peaks.max_peaks)].to_vec(),
        residues,
        warnings: model.warnings.iter().chain(&map_warnings).chain(&result.warnings).cloned().collect(),
        timings: Default::default(),
        peak_memory_mb: None,
    };
    if let Some(prefix) = &parameters.outputs.csv {
        outputs.extend(write_csv(prefix, &report.peaks, &report.residues, &inputs)?);
    }
    console.finish();
    report.timings = stages.0.iter().map(|(name, seconds)| (stage_key(name), *seconds)).collect();
    report.peak_memory_mb = crate::report::peak_memory_mb();
    if let Some(path) = &parameters.outputs.json {
        write_json(path, &report, &inputs)?;
        outputs.push(path.clone());
    }
    let times: Vec<String> = stages.0.iter().map(|(name, s)| format!("{name} {s:.2} s")).collect();
    console.say(format!("time: {}", times.join(", ")));
    for path in &outputs {
        console.say(format!("wrote {}", path.display()));
    }
    console.say(format!("done in {:.2} s", start.elapsed().as_secs_f64()));
    Ok(RunSummary { outputs, resolution, report })
}

/// Sets the size of the worker pool.
fn use_threads(threads: Option<usize>) -> Result<()> {
    if let Some(threads) = threads {
        if threads == 0 {
            return Err(Error::Usage("threads must be at least 1".into()));
        }
        // Fails only if a pool already exists (library use); then the existing pool is used.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }
    Ok(())
}

/// Reads the map and says what it is and where it sits.
fn read_map_stage(path: &Path, console: &Console, stages: &mut Stages) -> Result<(MapRead, MapSummary)> {
    console.stage("reading the map");
    let clock = Instant::now();
    let map_read = read_map(path)?;
    let summary = MapSummary::of(&map_read.map);
    stages.add("read map", clock);
    let (g, h) = (&map_read.map.geometry, &map_read.map.header);
    console.say(format!(
        "map {}: {} x {} x {} voxels of {:.4} x {:.4} x {:.4} Å, mode {}, axis order {:?}",
        path.display(),
        g.dims[0],
        g.dims[1],
        g.dims[2],
        g.voxel_size[0],
        g.voxel_size[1],
        g.voxel_size[2],
        map_read.mode.number(),
        h.axis_order
    ));
    let c = g.first_voxel_centre;
    console.say(format!(
        "    first voxel at ({:.3}, {:.3}, {:.3}) Å (header ORIGIN ({:.3}, {:.3}, {:.3}) Å, NSTART ({}, {}, {}))",
        c[0], c[1], c[2], h.origin[0], h.origin[1], h.origin[2], h.nstart[0], h.nstart[1], h.nstart[2]
    ));
    for w in &map_read.warnings {
        console.warn(format!("{}: {w}", path.display()));
    }
    Ok((map_read, summary))
}

/// Reads the model and says what it holds.
fn read_model_stage(path: &Path, console: &Console, stages: &mut Stages) -> Result<Model> {
    console.stage("reading the model");
    let clock = Instant::now();
    let model = read_model(path)?;
    stages.add("read model", clock);
    for w in &model.warnings {
        console.warn(format!("{}: {w}", path.display()));
    }
    let chains = model.chain_count();
    console.say(format!(
        "model {}: {} atoms ({} hydrogens), {} residues in {chains} chain{}",
        path.display(),
        model.atoms.len(),
        model.hydrogen_count(),
        model.residues.len(),
        if chains == 1 { "" } else { "s" }
    ));
    Ok(model)
}

/// The resolution: as given, else as the model file records it.
fn settle_resolution(parameters: &Parameters, model: &Model, model_path: &Path, console: &Console) -> Result<f64> {
    match (parameters.resolution, model.resolution) {
        (Some(r), _) => Ok(r),
        (None, Some(r)) => {
            console.say(format!("resolution {r} Å, as recorded in {}", model_path.display()));
            Ok(r)
        }
        (None, None) => Err(Error::Usage(format!(
            "resolution is required (resolution=3.5): {} does not record one",
            model_path.display()
        ))),
    }
}

/// Says how the model sits in the map and what the fit found, in words.
fn describe_fit(console: &Console, parameters: &Parameters, resolution: f64, result: &DifferenceMaps) {
    let p = &result.placement;
    console.say(format!(
        "    {} of {} atoms inside the map box ({:.1}%), mean map value at atoms {:.2} sd",
        p.atoms_inside,
        p.atoms,
        100.0 * p.fraction_inside(),
        p.mean_density_at_atoms_sd
    ));
    for w in &result.warnings {
        console.warn(w);
    }
    console.say(format!(
        "resolution {resolution} Å ({}); model map sampled with a {:.1} Å² blur, removed in Fourier space",
        parameters.resolution_edge().describe(),
        result.model_map_blur
    ));
    let envelope = crate::defaults::DEFAULT_ENVELOPE_RADIUS;
    let global = &result.global;
    console.say(format!(
        "global fit within {envelope} Å of the model: scale k = {:.4}, offset = {:.4}, correlation {:.3}",
        global.scale, global.offset, global.correlation
    ));
    let [wx, wy, wz] = result.local.window_voxels;
    let k = result.local.scale_percentiles;
    console.say(format!(
        "local fit in a {} Å window ({wx} x {wy} x {wz} voxels) around every voxel, {}; scale k at the model \
         (1st / 50th / 99th percentile): {:.3} / {:.3} / {:.3}",
        parameters.scaling.window,
        if parameters.scaling.offset { "scale and offset" } else { "scale only" },
        k[0],
        k[1],
        k[2]
    ));
    if let Some(b) = result.local.relative_b_percentiles {
        console.say(format!("local relative B percentiles 1/50/99 = {:.1} / {:.1} / {:.1} Å²", b[0], b[1], b[2]));
    }
    console.say(match parameters.units.sigma_scope {
        SigmaScope::Envelope => format!(
            "sigma = {:.5} map units: the sd of the difference within {envelope} Å of the model ({} voxels)",
            result.sigma, result.envelope_voxels
        ),
        SigmaScope::Box => {
            format!("sigma = {:.5} map units: the sd of the difference over the whole box", result.sigma)
        }
    });
}

/// Says how many blobs there are, where, and lists the strongest.
fn describe_peaks(console: &Console, parameters: &Parameters, peaks: &[Peak], residues: &[ResidueScore]) {
    let threshold = parameters.peaks.peak_sigma;
    let positive = peaks.iter().filter(|p| p.height > 0.0).count();
    let near_model = peaks.iter().filter(|p| p.nearest_atom.is_some()).count();
    let flagged = residues.iter().filter(|r| r.in_negative_density).count();
    console.say(format!(
        "peaks beyond {threshold} sigma: {positive} positive, {} negative; {near_model} of them within \
         {NEAREST_ATOM_RADIUS} Å of an atom, {} farther away; {flagged} residues with an atom at or below \
         -{threshold} sigma",
        peaks.len() - positive,
        peaks.len() - near_model,
    ));
    if !peaks.is_empty() && parameters.peaks.peaks_shown > 0 {
        console.say(peak_table(peaks, parameters.peaks.peaks_shown));
    }
}

/// The peak search's totals for the report.
fn peak_summary(parameters: &Parameters, map: &str, peaks: &[Peak]) -> PeakSummary {
    let positive = peaks.iter().filter(|p| p.height > 0.0).count();
    PeakSummary {
        map: map.into(),
        threshold: parameters.peaks.peak_sigma,
        positive,
        negative: peaks.len() - positive,
        listed: peaks.len().min(parameters.peaks.max_peaks),
    }
}

/// An input's size, and its checksum when a JSON report will record it.
fn input_info(parameters: &Parameters, path: &Path) -> Result<FileInfo> {
    if parameters.outputs.json.is_some() {
        file_info(path)
    } else {
        let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
        Ok(FileInfo { path: path.to_path_buf(), bytes, sha256: None })
    }
}

/// Writes the difference map(s) and, when asked, the local scale map.
fn write_maps(
    parameters: &Parameters,
    resolution: f64,
    result: &DifferenceMaps,
    header: &MapHeader,
    inputs: &[&Path],
) -> Result<(Vec<PathBuf>, Vec<OutputSummary>)> {
    let output = &parameters.outputs.output;
    let label = format!(
        "real_space_diff_map {} d_min={resolution} window={}",
        env!("CARGO_PKG_VERSION"),
        parameters.scaling.window
    );
    let mut written = Vec::new();
    let mut write = |kind: &str, path: &Path, map: &Map, label: &str| -> Result<()> {
        write_map(path, map, label, inputs)?;
        written.push(OutputSummary { kind: kind.into(), path: path.to_path_buf(), statistics: map.statistics() });
        Ok(())
    };
    if let Some(complex) = &result.complex {
        write("complex", output, complex, &label)?;
    }
    if let Some(amplitude) = &result.amplitude {
        let path = if result.complex.is_some() { sibling(output, "_amplitude") } else { output.clone() };
        write("amplitude", &path, amplitude, &label)?;
    }
    if let (Some(path), Some(fields), Some(like)) =
        (&parameters.outputs.scale_map, &result.local_fields, result.complex.as_ref().or(result.amplitude.as_ref()))
    {
        let scale = Map { geometry: like.geometry, data: fields.scale.clone(), header: header.clone() };
        write("local_scale", path, &scale, "real_space_diff_map local scale k")?;
    }
    Ok((written.iter().map(|w| w.path.clone()).collect(), written))
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
