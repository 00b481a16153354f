//! One run of the main job: read, compute, find peaks, write, report. Each step is a function
//! here; the science is in the library modules they call.

use crate::analysis::peaks::{NEAREST_ATOM_RADIUS, Peak, ResidueScore, find_peaks, score_residues};
use crate::analysis::significance::Significance;
use crate::app::args::RunArgs;
use crate::app::console::Console;
use crate::difference::{DifferenceMaps, Experimental, SigmaScope, Units, compute_difference, frame_mismatch};
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

/// The experimental inputs as read: a map, half maps, or both.
struct ExperimentalRead {
    data: Experimental,
    /// The map whose frame the output takes (the full map, else the first half map).
    summary: MapSummary,
    header: MapHeader,
    warnings: Vec<String>,
    paths: Vec<PathBuf>,
}

/// Reads the map and/or the half maps and checks that they share a frame.
fn read_experimental(args: &RunArgs, console: &Console, stages: &mut Stages) -> Result<ExperimentalRead> {
    let halves = args.half_map_pair()?;
    let map_path = args.map();
    if map_path.is_none() && halves.is_none() {
        return Err(Error::Usage(
            "no map given: real_space_diff_map MODEL MAP resolution=R (or half_map=H1 half_map=H2)".into(),
        ));
    }
    let full = map_path.as_deref().map(|p| read_map_stage(p, "map", console, stages)).transpose()?;
    let mut paths: Vec<PathBuf> = map_path.iter().cloned().collect();
    let Some([path1, path2]) = halves else {
        let (read, summary) = full.expect("a map when there are no half maps");
        let header = read.map.header.clone();
        return Ok(ExperimentalRead {
            data: Experimental::Map(read.map),
            summary,
            header,
            warnings: read.warnings,
            paths,
        });
    };
    // The two halves are independent files: reading them side by side halves the wait on a
    // large entry (decoding is CPU-bound once the file is cached).
    console.stage("reading the half maps");
    let clock = Instant::now();
    let (read1, read2) = rayon::join(|| read_map(&path1), || read_map(&path2));
    stages.add("read half maps", clock);
    let (half1, summary1) = describe_map(read1?, &path1, "half map 1", console);
    let (half2, _) = describe_map(read2?, &path2, "half map 2", console);
    if let Some(why) = frame_mismatch(&half2.map, &half1.map) {
        return Err(Error::map(
            &path2,
            format!("does not share a frame with the other half map {}: {why}", path1.display()),
        ));
    }
    if let (Some((f, _)), Some(path)) = (&full, &map_path)
        && let Some(why) = frame_mismatch(&f.map, &half1.map)
    {
        return Err(Error::map(path, format!("does not share a frame with the half map {}: {why}", path1.display())));
    }
    paths.extend([path1, path2]);
    let mut warnings: Vec<String> = half1.warnings.iter().chain(&half2.warnings).cloned().collect();
    let (full, summary, header) = match full {
        Some((read, summary)) => {
            warnings.extend(read.warnings.iter().cloned());
            let header = read.map.header.clone();
            (Some(read.map), summary, header)
        }
        None => {
            let header = half1.map.header.clone();
            (None, summary1, header)
        }
    };
    let data = Experimental::HalfMaps { half1: half1.map, half2: half2.map, full };
    Ok(ExperimentalRead { data, summary, header, warnings, paths })
}

/// Runs the main job: read, compute, write, report on stdout/stderr.
pub fn run(args: &RunArgs) -> Result<RunSummary> {
    let start = Instant::now();
    let parameters = &args.parameters;
    let model_path = args
        .model()
        .ok_or_else(|| Error::Usage("no model given: real_space_diff_map MODEL MAP resolution=R".into()))?;
    parameters.validate()?;
    if parameters.peaks.fdr.is_some() && args.half_map_pair()?.is_none() {
        return Err(Error::Usage(
            "fdr= needs half maps (half_map=H1 half_map=H2): without them the map's units are not calibrated \
             against noise, so a false discovery rate cannot be computed; use peak_sigma="
                .into(),
        ));
    }
    if parameters.noise.solvent_noise && args.half_map_pair()?.is_some() {
        return Err(Error::Usage(
            "solvent_noise= is for a single map: with half maps the noise is measured from their difference".into(),
        ));
    }
    if parameters.outputs.noise_map.is_some() && args.half_map_pair()?.is_none() {
        return Err(Error::Usage("noise_map= needs half maps (half_map=H1 half_map=H2)".into()));
    }
    use_threads(args.threads)?;
    let console = Console::new(args.quiet);
    let mut stages = Stages::default();

    let experimental = read_experimental(args, &console, &mut stages)?;
    let model = read_model_stage(&model_path, &console, &mut stages)?;
    let resolution = settle_resolution(parameters, &model, &model_path, &console)?;
    let half_maps = matches!(experimental.data, Experimental::HalfMaps { .. });
    let shortest_edge = (0..3)
        .map(|a| experimental.summary.dims[a] as f64 * experimental.summary.voxel_size[a])
        .fold(f64::INFINITY, f64::min);
    let settled = parameters.settled(resolution, half_maps, shortest_edge);
    let parameters = &settled;
    let options = parameters.difference_options(resolution);
    console.stage("computing the model map and the local fit");
    let ExperimentalRead { data, summary: map_summary, header, warnings: map_warnings, paths: map_paths } =
        experimental;
    // The map moves in: its buffer becomes the difference map.
    let result = compute_difference(&model, data, &options)?;
    stages.0.extend(result.timings.iter().map(|(n, s)| (n.to_string(), *s)));
    describe_fit(&console, parameters, resolution, &result);

    console.stage("finding peaks and writing");
    let (peak_map, peak_map_kind, units) = match (&result.complex, &result.amplitude) {
        (Some(m), _) => (m, "complex", result.units),
        (None, Some(m)) => (m, "amplitude", result.amplitude_units),
        (None, None) => return Err(Error::Invalid("no difference map was computed".into())),
    };
    // The peak search runs before the maps are written, on every core: beside the writer it
    // took twice as long and saved nothing.
    let clock = Instant::now();
    let significance = (units == Units::HalfMapZ).then(|| Significance::of(&peak_map.data));
    let threshold = peak_threshold(parameters, significance.as_ref(), &console);
    let mut peaks = find_peaks(peak_map, threshold, Some(&model));
    if let Some(significance) = &significance {
        peaks.iter_mut().for_each(|p| p.q_value = Some(significance.q_value(p.height)));
    }
    let residues = score_residues(peak_map, &model, threshold);
    stages.add("peaks and residues", clock);
    describe_peaks(&console, parameters, threshold, units, &peaks, &residues);
    let mut inputs: Vec<&Path> = vec![model_path.as_path()];
    inputs.extend(map_paths.iter().map(|p| p.as_path()));
    let clock = Instant::now();
    let (mut outputs, written) = write_maps(parameters, resolution, &result, &header, &inputs)?;
    stages.add("write maps", clock);

    let mut report_inputs = vec![input_info(parameters, &model_path)?];
    for path in &map_paths {
        report_inputs.push(input_info(parameters, path)?);
    }
    let mut report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        program: "real_space_diff_map".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: report_inputs,
        parameters: parameters.clone(),
        map: map_summary,
        model: ModelSummary::of(&model),
        placement: result.placement.clone(),
        fit: Report::fit_of(&result),
        outputs: written,
        peak_search: peak_summary(parameters, peak_map_kind, units, threshold, &peaks),
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

/// The peak threshold: `peak_sigma`, or with `fdr=` the |z| at which the false discovery rate
/// is reached (beyond every voxel when nothing is that significant).
fn peak_threshold(parameters: &Parameters, significance: Option<&Significance>, console: &Console) -> f64 {
    match (parameters.peaks.fdr, significance) {
        (Some(rate), Some(significance)) => match significance.threshold(rate) {
            Some(z) => {
                console.say(format!(
                    "false discovery rate {rate} over {} voxels: threshold |z| >= {z:.2}",
                    significance.voxels()
                ));
                z
            }
            None => {
                console.say(format!("false discovery rate {rate}: no voxel is that significant"));
                significance.beyond_all()
            }
        },
        _ => parameters.peaks.peak_sigma,
    }
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
fn read_map_stage(path: &Path, what: &str, console: &Console, stages: &mut Stages) -> Result<(MapRead, MapSummary)> {
    console.stage(format!("reading the {what}"));
    let clock = Instant::now();
    let map_read = read_map(path)?;
    stages.add(&format!("read {what}"), clock);
    Ok(describe_map(map_read, path, what, console))
}

/// Says on the console what a map read holds and where it sits, with its warnings.
fn describe_map(map_read: MapRead, path: &Path, what: &str, console: &Console) -> (MapRead, MapSummary) {
    let summary = MapSummary::of(&map_read.map);
    let (g, h) = (&map_read.map.geometry, &map_read.map.header);
    console.say(format!(
        "{what} {}: {} x {} x {} voxels of {:.4} x {:.4} x {:.4} Å, mode {}, axis order {:?}",
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
    (map_read, summary)
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
        parameters.window(),
        if parameters.scaling.offset { "scale and offset" } else { "scale only" },
        k[0],
        k[1],
        k[2]
    ));
    if let Some(b) = result.local.relative_b_percentiles {
        console.say(format!("local relative B percentiles 1/50/99 = {:.1} / {:.1} / {:.1} Å²", b[0], b[1], b[2]));
    }
    if let Some(solvent) = result.solvent_noise.as_ref().filter(|s| s.applied) {
        let best = solvent.shells.iter().max_by(|a, b| a.weight.total_cmp(&b.weight));
        console.say(format!(
            "solvent noise: {:.0}% of the box is solvent (rms {:.2} of the envelope sd); the difference is weighted \
             by resolution shell with its noise spectrum ({:?} weight, largest at {:.1} Å)",
            100.0 * solvent.solvent_fraction,
            solvent.solvent_to_envelope,
            parameters.noise.spectral_weight,
            best.map_or(f64::NAN, |s| s.d_min)
        ));
    }
    match &result.noise {
        Some(noise) => describe_noise(console, result, noise),
        None => console.say(match parameters.units.sigma_scope {
            SigmaScope::Envelope => format!(
                "units: sigma in the model envelope, sigma = {:.5} map units: the sd of the difference within \
                 {envelope} Å of the model ({} voxels)",
                result.sigma, result.envelope_voxels
            ),
            SigmaScope::Box => {
                format!("units: sigma over the box, sigma = {:.5} map units: the sd of the difference", result.sigma)
            }
        }),
    }
}

/// Says what the half maps measured: resolution shells, weights, local noise, calibration.
fn describe_noise(console: &Console, result: &DifferenceMaps, noise: &crate::difference::NoiseSummary) {
    let weighted: Vec<String> = noise
        .shells
        .iter()
        .filter(|s| s.terms > 0)
        .step_by((noise.shells.len() / 6).max(1))
        .map(|s| format!("{:.1} Å: FSC {:.2}, weight {:.2}", s.d_min, s.fsc_half, s.weight))
        .collect();
    console.say(format!(
        "half maps: {} shells, {:?} spectral weight ({})",
        noise.shells.len(),
        noise.spectral_weighting,
        weighted.join("; ")
    ));
    if noise.full_map {
        console.say(
            "    the full map's noise is the half-map noise scaled shell by shell by the full map's amplitude ratio",
        );
    }
    let [low, median, high] = noise.local_sd_percentiles;
    console.say(format!(
        "units: z from half-map noise, the difference over its local noise sd ({} Å window); local noise sd \
         1st / 50th / 99th percentile: {low:.4} / {median:.4} / {high:.4} map units",
        noise.window
    ));
    if let Some(far) = noise.far_from_model {
        console.say(format!(
            "    farther than {} Å from every atom ({} voxels sampled): z mean {:.3}, sd {:.3}",
            far.distance, far.voxels, far.mean, far.sd
        ));
    }
    let _ = result;
}

/// Says how many blobs there are, where, and lists the strongest.
fn describe_peaks(
    console: &Console,
    parameters: &Parameters,
    threshold: f64,
    units: Units,
    peaks: &[Peak],
    residues: &[ResidueScore],
) {
    let positive = peaks.iter().filter(|p| p.height > 0.0).count();
    let near_model = peaks.iter().filter(|p| p.nearest_atom.is_some()).count();
    let flagged = residues.iter().filter(|r| r.in_negative_density).count();
    let unit = if units == Units::HalfMapZ { "z" } else { "sigma" };
    console.say(format!(
        "peaks beyond {threshold:.2} {unit}: {positive} positive, {} negative; {near_model} of them within \
         {NEAREST_ATOM_RADIUS} Å of an atom, {} farther away; {flagged} residues with an atom at or below \
         -{threshold:.2} {unit}",
        peaks.len() - positive,
        peaks.len() - near_model,
    ));
    if !peaks.is_empty() && parameters.peaks.peaks_shown > 0 {
        console.say(peak_table(peaks, parameters.peaks.peaks_shown, units));
    }
}

/// The peak search's totals for the report.
fn peak_summary(parameters: &Parameters, map: &str, units: Units, threshold: f64, peaks: &[Peak]) -> PeakSummary {
    let positive = peaks.iter().filter(|p| p.height > 0.0).count();
    PeakSummary {
        map: map.into(),
        units,
        threshold,
        fdr: parameters.peaks.fdr,
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
    let label = |units: Units| {
        format!(
            "real_space_diff_map {} d_min={resolution} window={}\nunits: {}",
            env!("CARGO_PKG_VERSION"),
            parameters.window(),
            units.label()
        )
    };
    let mut written = Vec::new();
    let mut write = |kind: &str, path: &Path, map: &Map, label: &str| -> Result<()> {
        write_map(path, map, label, inputs)?;
        written.push(OutputSummary { kind: kind.into(), path: path.to_path_buf(), statistics: map.statistics() });
        Ok(())
    };
    if let Some(complex) = &result.complex {
        write("complex", output, complex, &label(result.units))?;
    }
    if let Some(amplitude) = &result.amplitude {
        let path = if result.complex.is_some() { sibling(output, "_amplitude") } else { output.clone() };
        write("amplitude", &path, amplitude, &label(result.amplitude_units))?;
    }
    if let (Some(path), Some(fields), Some(like)) =
        (&parameters.outputs.scale_map, &result.local_fields, result.complex.as_ref().or(result.amplitude.as_ref()))
    {
        let scale = Map { geometry: like.geometry, data: fields.scale.clone(), header: header.clone() };
        write("local_scale", path, &scale, "real_space_diff_map local scale k")?;
    }
    if let (Some(path), Some(noise)) = (&parameters.outputs.noise_map, &result.noise_map) {
        let text = "real_space_diff_map local noise sd\nunits: input map units (resolution-limited half-map noise)";
        write("noise_sd", path, noise, text)?;
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
