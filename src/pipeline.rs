//! One job from inputs in memory to results in memory, and the files it writes: the part of a
//! run that the command line and the Python package share, so that both compute, check and
//! report exactly the same way. Reading the inputs (files, or a caller's arrays) is the
//! caller's; what is said on the way goes to an [`Observer`]: the command line's console
//! prints it, a library caller may keep quiet ([`Silent`]).

pub mod describe;

/// Hears what a job says as it goes: the stage it is in, lines of its account, warnings.
pub trait Observer: Sync {
    /// What the job is doing now (a spinner's text).
    fn stage(&self, _what: &str) {}
    /// A line of the run's account.
    fn say(&self, _text: &str) {}
    /// A warning.
    fn warn(&self, _text: &str) {}
}

/// An observer that hears nothing.
pub struct Silent;

impl Observer for Silent {}

use crate::analysis::copies::{SamePlace, input_residue_scores, same_place_tolerance};
use crate::analysis::peaks::{FlagRule, NotListed, Peak, PeakSearch, find_peaks_searched, score_residues};
use crate::analysis::significance::blob_q_values;
use crate::difference::{DifferenceMaps, Experimental, FramePair, HalfMaps, Units, compute_difference};
use crate::error::{Error, Result};
use crate::grid::{Map, MapHeader};
use crate::io::atomic_file::Transaction;
use crate::io::ccp4::write_map_in;
use crate::io::gz::Digest;
use crate::io::model::{Model, ModelFormat};
use crate::outputs::{OutputKind, OutputLayout};
use crate::parameters::{Parameters, Settings};
use crate::report::{
    FileInfo, MapKind, MapSummary, ModelSummary, OutputSummary, PeakSummary, REPORT_SCHEMA_VERSION, Report,
    ResidueFlags, file_info, write_csv, write_json,
};
use crate::timings::Timings;
use crate::view::html::{LinkedFiles, write_run_report};
use crate::view::pictures::{PictureScene, write_peak_pictures};
use crate::view::scripts::{SceneMap, ViewerScene, write_viewer_scripts};
use describe::{describe_fit, describe_peaks};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where an input came from: a file, or the caller's memory (arrays handed over by Python).
#[derive(Debug, Clone, PartialEq)]
pub enum InputSource {
    /// A file, as its path was given.
    File(PathBuf),
    /// Data that never was a file; the text says what it is ("in-memory map").
    Memory(String),
}

impl InputSource {
    /// The path, for a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            InputSource::File(path) => Some(path),
            InputSource::Memory(_) => None,
        }
    }

    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            InputSource::File(path) => path.display().to_string(),
            InputSource::Memory(what) => format!("<{what}>"),
        }
    }
}

/// The experimental data of a job as read: a map, half maps, or both.
#[derive(Debug, Clone)]
pub struct ExperimentalInputs {
    /// The data the difference is computed from.
    pub data: Experimental,
    /// The map whose frame the output takes (the full map, else the first half map).
    pub summary: MapSummary,
    /// That map's header, which the outputs are written with.
    pub header: MapHeader,
    /// What the readers noticed.
    pub warnings: Vec<String>,
    /// Where each map came from: the full map first when there is one, then the half maps.
    pub sources: Vec<InputSource>,
    /// What was read of each (aligned with `sources`; none for maps in memory).
    pub digests: Vec<Option<Digest>>,
}

impl ExperimentalInputs {
    /// A single map that needs no reading (an in-memory map, or one the caller read).
    pub fn single(map: Map, source: InputSource, warnings: Vec<String>) -> Self {
        Self::single_read(LoadedMap { map, source, warnings, digest: None })
    }

    /// A single map as read.
    pub fn single_read(loaded: LoadedMap) -> Self {
        let LoadedMap { map, source, warnings, digest } = loaded;
        ExperimentalInputs {
            summary: MapSummary::of(&map),
            header: map.header.clone(),
            data: Experimental::Map(map),
            warnings,
            sources: vec![source],
            digests: vec![digest],
        }
    }

    /// The experimental data from a map, half maps, or both, after checking that they share a
    /// frame (grid, voxel size, placement). The outputs take the full map's frame, else the
    /// first half map's.
    pub fn assemble(full: Option<LoadedMap>, halves: Option<[LoadedMap; 2]>) -> Result<Self> {
        let Some([half1, half2]) = halves else {
            let full = full.ok_or_else(|| {
                Error::Usage(
                    "no map given: real_space_diff_map MODEL MAP resolution=R (or half_map=H1 half_map=H2)".into(),
                )
            })?;
            return Ok(ExperimentalInputs::single_read(full));
        };
        let mut warnings: Vec<String> = half1.warnings.iter().chain(&half2.warnings).cloned().collect();
        let (mut sources, mut digests) = (Vec::new(), Vec::new());
        let (full, summary, header) = match full {
            Some(full) => {
                warnings.extend(full.warnings);
                sources.push(full.source);
                digests.push(full.digest);
                let (summary, header) = (MapSummary::of(&full.map), full.map.header.clone());
                (Some(full.map), summary, header)
            }
            None => (None, MapSummary::of(&half1.map), half1.map.header.clone()),
        };
        // The set checks its frames; the message names the file that differs.
        let halves = HalfMaps::new(half1.map, half2.map, full).map_err(|mismatch| {
            let (map, other, what) = match mismatch.pair {
                FramePair::Halves => (&half2.source, &half1.source, "other half map"),
                FramePair::FullAndHalf => (&sources[0], &half1.source, "half map"),
            };
            let message = format!("does not share a frame with the {what} {}: {}", other.describe(), mismatch.why);
            match map.path() {
                Some(path) => Error::map(path, message),
                None => Error::Invalid(format!("{} {message}", map.describe())),
            }
        })?;
        sources.extend([half1.source, half2.source]);
        digests.extend([half1.digest, half2.digest]);
        let data = Experimental::HalfMaps(halves);
        Ok(ExperimentalInputs { data, summary, header, warnings, sources, digests })
    }

    /// True when the data include half maps.
    pub fn has_half_maps(&self) -> bool {
        self.data.has_half_maps()
    }
}

/// One map as read, with where it came from and what its reader noticed.
#[derive(Debug, Clone)]
pub struct LoadedMap {
    /// The map.
    pub map: Map,
    /// Its file, or a description of the memory it came from.
    pub source: InputSource,
    /// The reader's warnings.
    pub warnings: Vec<String>,
    /// What was read of its file (none for a map in memory).
    pub digest: Option<Digest>,
}

/// Everything a job needs, read.
#[derive(Debug, Clone)]
pub struct JobInputs {
    /// The atomic model.
    pub model: Model,
    /// Where the model came from.
    pub model_source: InputSource,
    /// What was read of the model's file (none for a model in memory).
    pub model_digest: Option<Digest>,
    /// The experimental map(s).
    pub experimental: ExperimentalInputs,
    /// The map that limits the peak search (`mask=`), when given.
    pub search_mask: Option<LoadedMap>,
    /// Time spent reading, per stage.
    pub stages: Timings,
}

/// A computed job: the maps, the peaks, and the report (without outputs until they are written).
#[derive(Debug)]
pub struct Job {
    /// The difference maps and everything the computation measured.
    pub result: DifferenceMaps,
    /// The header the outputs are written with (the input map's frame).
    pub header: MapHeader,
    /// The parameters with the resolution and window settled.
    pub parameters: Parameters,
    /// The report: `outputs` fills in as files are written, `timings` covers the computation.
    pub report: Report,
    /// Input files, which no output may overwrite.
    pub input_paths: Vec<PathBuf>,
    /// The model as run, copies included (the pictures draw its atoms).
    pub model: Model,
    /// The model as read, when copies of it were made (`model_scores=` writes it, scored by
    /// the mean over its copies).
    pub input_model: Option<Model>,
    /// Where the model came from (the viewer scripts open it).
    pub model_source: InputSource,
    /// Where the experimental maps came from: the full map first when there is one, then the
    /// half maps (the viewer scripts and the pictures show the experimental map).
    pub map_sources: Vec<InputSource>,
    /// Whether a full map was given (else only half maps).
    pub has_full_map: bool,
    /// The experimental map for the pictures' grey (see [`picture_background`]).
    pub picture_background: Option<Map>,
    /// Wall time of each stage so far, in order.
    pub stages: Timings,
}

/// Checks, before any work, that every file the parameters ask for can be written: its folder
/// exists or can be created under a folder that exists, it is none of the `inputs`, no two outputs (the companions beside the map included:
/// viewer scripts, pictures, the amplitude map) fall on the same file, and the peak pictures'
/// folder is not a file. A run that would fail only at the end fails here instead, before it
/// has written anything.
pub fn check_output_locations(parameters: &Parameters, inputs: &[&Path]) -> Result<()> {
    let layout = OutputLayout::of(parameters);
    let planned = layout.planned();
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    for (i, (kind, file)) in planned.iter().enumerate() {
        let what = kind.describe();
        if let Some((other, _)) = planned[..i].iter().find(|(_, earlier)| absolute(earlier) == absolute(file)) {
            return Err(Error::Usage(format!(
                "the {what} and the {} would both be written to {}: give them different names",
                other.describe(),
                file.display()
            )));
        }
        if let Some(input) = inputs.iter().find(|input| crate::io::atomic_file::same_file(file, input)) {
            return Err(Error::Invalid(format!(
                "refusing to write the {what} {}: it is the input file {}",
                file.display(),
                input.display()
            )));
        }
        if kind.is_folder() {
            if file.exists() && !file.is_dir() {
                return Err(Error::Invalid(format!(
                    "cannot write the peak pictures into {}: it exists and is not a folder (or give pictures=0)",
                    file.display()
                )));
            }
            continue;
        }
        // A missing folder is created when the file is written; the nearest folder that
        // exists must be a folder.
        let folder = crate::view::directory_of(file);
        let existing = folder.ancestors().find(|f| f.as_os_str().is_empty() || std::fs::metadata(f).is_ok());
        match existing.map(|f| (f, f.as_os_str().is_empty() || f.is_dir())) {
            Some((_, true)) => {}
            Some((f, false)) => {
                return Err(Error::Invalid(format!(
                    "cannot write the {what} {}: {} is not a folder",
                    file.display(),
                    f.display()
                )));
            }
            None => {
                return Err(Error::Invalid(format!(
                    "cannot write the {what} {}: no part of {} exists",
                    file.display(),
                    folder.display()
                )));
            }
        }
        if let Ok(meta) = std::fs::symlink_metadata(file)
            && !meta.is_file()
            && !meta.file_type().is_symlink()
        {
            return Err(Error::Invalid(format!(
                "cannot write the {what} {}: it exists and is not a regular file (outputs are files)",
                file.display()
            )));
        }
    }
    Ok(())
}

/// Computes the difference map, finds the peaks and scores the residues, and builds the report.
/// Nothing is written; see [`write_outputs`].
pub fn compute_job(inputs: JobInputs, settings: &Settings, observer: &dyn Observer) -> Result<Job> {
    let JobInputs { model, model_source, model_digest, experimental, search_mask, mut stages } = inputs;
    if settings.half_maps() != experimental.has_half_maps() {
        return Err(Error::Usage(format!(
            "the settings were checked for a job {} half maps, and the inputs {} them",
            if settings.half_maps() { "with" } else { "without" },
            if experimental.has_half_maps() { "have" } else { "lack" }
        )));
    }
    let clock = Instant::now();
    let (model, input_model, copy_warnings) =
        make_copies(model, settings, experimental.data.frame_map().geometry.box_centre(), &model_source, observer)?;
    if input_model.is_some() {
        stages.add("copies of the model", clock);
    }
    let resolution = settle_resolution(settings, &model, &model_source, observer)?;
    let shortest_edge = experimental.data.frame_map().geometry.shortest_edge();
    let parameters = settings.settled(resolution, experimental.has_half_maps(), shortest_edge);
    let options = parameters.difference_options(resolution);
    observer.stage("computing the model map and the local fit");
    let has_full_map = experimental.data.has_full_map();
    let background = (parameters.outputs.pictures > 0).then(|| picture_background(&experimental.data));
    let ExperimentalInputs { data, summary: map_summary, header, warnings: map_warnings, sources, digests } =
        experimental;
    // The map moves in: its buffer becomes the difference map.
    let result = compute_difference(&model, data, &options)?;
    stages.extend(&result.timings);
    describe_fit(observer, &parameters, resolution, &result);

    observer.stage("finding peaks");
    let (peak_map, peak_map_kind, units) = match (&result.complex, &result.amplitude) {
        (Some(m), _) => (m, MapKind::Complex, result.units),
        (None, Some(m)) => (m, MapKind::Amplitude, result.amplitude_units),
        (None, None) => return Err(Error::Invalid("no difference map was computed".into())),
    };
    let clock = Instant::now();
    let mask = search_mask.as_ref().map(|m| mask_voxels(m, peak_map)).transpose()?;
    let radius = parameters.peaks.search_radius.0;
    // The voxels searched (counted in the report; the blobs whose maximum lies there are the
    // family the false discovery rate is controlled over).
    let searched = searched_voxels(mask.as_deref(), radius, &model, &peak_map.geometry);
    let threshold = parameters.peaks.peak_sigma;
    let search = PeakSearch { threshold, radius, mask: mask.as_deref(), min_volume: parameters.peaks.min_volume };
    let (mut peaks, mut not_listed) = find_peaks_searched(peak_map, &search, Some(&model));
    if units.is_calibrated() {
        let heights: Vec<f64> = peaks.iter().map(|p| p.height).collect();
        if let Some(q) = blob_q_values(&heights, threshold) {
            peaks.iter_mut().zip(q).for_each(|(p, q)| p.q_value = Some(q));
        }
        if let Some(rate) = parameters.peaks.fdr {
            let tested = peaks.len();
            peaks.retain(|p| p.q_value.is_some_and(|q| q <= rate));
            not_listed.not_significant = tested - peaks.len();
            observer.say(&format!(
                "false discovery rate {rate} over the {tested} blobs beyond {threshold:.2} z searched \
                 (each blob's maximum against random-field noise, Benjamini-Hochberg): {} significant",
                peaks.len()
            ));
        }
    }
    if model.copies.is_some() {
        let before = peaks.len();
        let rule = SamePlace {
            tolerance: same_place_tolerance(resolution, peak_map.geometry.voxel_size),
            map: Some((peak_map, threshold)),
        };
        peaks = crate::analysis::copies::gather_peaks_over_copies(peaks, &model, &rule);
        observer.say(&format!(
            "{before} peaks over the model's copies: {} places (a peak seen in several copies is listed once, with \
             its copy count)",
            peaks.len()
        ));
    }
    let rule = match units {
        Units::HalfMapZ => {
            FlagRule::FalseDiscoveryRate(parameters.peaks.fdr.unwrap_or(crate::defaults::DEFAULT_RESIDUE_FDR))
        }
        _ => FlagRule::Sigma(threshold),
    };
    let residues = score_residues(peak_map, &model, rule);
    let input_residues = model.copies.as_ref().map(|c| input_residue_scores(&residues, c)).unwrap_or_default();
    stages.add("peaks and residues", clock);
    let searched_count = searched.as_ref().map_or(peak_map.data.len(), |s| s.iter().filter(|v| **v).count());
    let peak_search = PeakSummary {
        searched_voxels: searched_count,
        search_radius: parameters.peaks.search_radius,
        mask: search_mask.as_ref().and_then(|m| m.source.path().map(Path::to_path_buf)),
        min_volume: parameters.peaks.min_volume,
        not_listed,
        ..peak_summary(&parameters, peak_map_kind, units, threshold, &peaks)
    };
    let residue_flags = ResidueFlags::of(rule, &residues);
    describe_peaks(observer, &parameters, &peak_search, &residue_flags, &peaks);

    let mut report_inputs = vec![input_info(&parameters, &model_source, model_digest.as_ref(), None)?];
    for (source, digest) in sources.iter().zip(&digests) {
        report_inputs.push(input_info(&parameters, source, digest.as_ref(), Some(map_summary.dims))?);
    }
    if let Some(mask) = &search_mask {
        report_inputs.push(input_info(&parameters, &mask.source, mask.digest.as_ref(), Some(map_summary.dims))?);
    }
    let report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        program: "real_space_diff_map".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: report_inputs,
        parameters: parameters.clone(),
        map: map_summary,
        model: ModelSummary::of(&model),
        placement: result.placement.clone(),
        fit: Report::fit_of(&result),
        outputs: Vec::new(),
        peak_search,
        residue_flags,
        peaks: peaks[..peaks.len().min(parameters.peaks.max_peaks)].to_vec(),
        residues,
        input_residues,
        warnings: model
            .warnings
            .iter()
            .chain(&copy_warnings)
            .chain(&map_warnings)
            .chain(&result.warnings)
            .cloned()
            .collect(),
        timings: stages.keyed(),
        peak_memory_mb: crate::report::peak_memory_mb(),
        histogram: Some(crate::analysis::histogram::Histogram::of(&peak_map.data)),
        command: reproducing_command(&parameters, &model_source, &sources, has_full_map),
    };
    let input_paths = std::iter::once(&model_source)
        .chain(&sources)
        .chain(search_mask.as_ref().map(|m| &m.source))
        .filter_map(|s| s.path().map(Path::to_path_buf))
        .collect();
    Ok(Job {
        result,
        header,
        parameters,
        report,
        input_paths,
        stages,
        model,
        input_model,
        model_source,
        map_sources: sources,
        has_full_map,
        picture_background: background,
    })
}

/// The words of a command line that reproduces the run (see [`Report::command`]); `None` when
/// an input came from memory.
fn reproducing_command(
    parameters: &Parameters,
    model: &InputSource,
    maps: &[InputSource],
    has_full_map: bool,
) -> Option<Vec<String>> {
    let path = |source: &InputSource| source.path().map(|p| p.display().to_string());
    let mut words = vec!["real_space_diff_map".to_string(), path(model)?];
    let (full, halves) = if has_full_map { (maps.first(), &maps[1.min(maps.len())..]) } else { (None, maps) };
    if let Some(full) = full {
        words.push(path(full)?);
    }
    for half in halves {
        words.push(format!("half_map={}", path(half)?));
    }
    let defaults = Parameters::default().to_arguments();
    let mut changed: Vec<String> = parameters.to_arguments().into_iter().filter(|w| !defaults.contains(w)).collect();
    // The resolution first, as users write it.
    changed.sort_by_key(|w| !w.starts_with("resolution="));
    words.extend(changed);
    Some(words)
}

/// The first header label of a difference map written by this program, and its units.
pub fn map_label(parameters: &Parameters, units: Units) -> String {
    format!(
        "real_space_diff_map {} d_min={} window={}\nunits: {}",
        env!("CARGO_PKG_VERSION"),
        parameters.resolution.unwrap_or(f64::NAN),
        parameters.window(),
        units.label()
    )
}

/// One map a job produced, with where the parameters say it goes and its header label.
#[derive(Debug, Clone)]
pub struct OutputMap {
    /// What it holds.
    pub kind: MapKind,
    /// Where `output=` (or `scale_map=`, `noise_map=`) puts it.
    pub path: PathBuf,
    /// The map, in the input map's frame.
    pub map: Map,
    /// The first header label (program, resolution, window and units).
    pub label: String,
}

/// Moves the maps out of a computed job: the difference map(s), and the local scale and noise
/// maps when the parameters ask for them.
pub fn take_output_maps(job: &mut Job) -> Vec<OutputMap> {
    let parameters = &job.parameters;
    let layout = OutputLayout::of(parameters);
    let place = |kind: MapKind| layout.path(kind.into()).map(Path::to_path_buf);
    let result = &mut job.result;
    let mut maps = Vec::new();
    let like = result.complex.as_ref().or(result.amplitude.as_ref()).map(|m| m.geometry);
    if let (Some(path), Some(map)) = (place(MapKind::Complex), result.complex.take()) {
        let label = map_label(parameters, result.units);
        maps.push(OutputMap { kind: MapKind::Complex, path, map, label });
    }
    if let (Some(path), Some(map)) = (place(MapKind::Amplitude), result.amplitude.take()) {
        let label = map_label(parameters, result.amplitude_units);
        maps.push(OutputMap { kind: MapKind::Amplitude, path, map, label });
    }
    if let (Some(path), Some(fields), Some(geometry)) = (place(MapKind::LocalScale), &mut result.local_fields, like) {
        let map = Map { geometry, data: std::mem::take(&mut fields.scale), header: job.header.clone() };
        let label = "real_space_diff_map local scale k".into();
        maps.push(OutputMap { kind: MapKind::LocalScale, path, map, label });
    }
    if let (Some(path), Some(map)) = (place(MapKind::NoiseSd), result.noise_map.take()) {
        let label = "real_space_diff_map local noise sd\nunits: input map units (resolution-limited half-map noise)";
        maps.push(OutputMap { kind: MapKind::NoiseSd, path, map, label: label.into() });
    }
    maps
}

/// Writes `maps` (from [`take_output_maps`]), then the CSV tables and the JSON report when
/// the parameters ask for them, each through a temporary file renamed into place, never over
/// an input. Records them in the report; returns their paths.
pub fn write_outputs(job: &mut Job, maps: &[OutputMap]) -> Result<Vec<PathBuf>> {
    let layout = OutputLayout::of(&job.parameters);
    let input_paths = job.input_paths.clone();
    let inputs: Vec<&Path> = input_paths.iter().map(PathBuf::as_path).collect();
    // Every file of the run is staged and renamed into place at the end, together: a run that
    // fails half-way (a full disk, a name taken) leaves none of them.
    let out = Transaction::new();
    let clock = Instant::now();
    let mut written = Vec::new();
    for output in maps {
        write_map_in(&out, &output.path, &output.map, &output.label, &inputs)?;
        written.push(OutputSummary {
            kind: output.kind,
            path: output.path.clone(),
            statistics: output.map.statistics(),
        });
    }
    job.stages.add("write maps", clock);
    let mut outputs: Vec<PathBuf> = written.iter().map(|w| w.path.clone()).collect();
    job.report.outputs = written;
    if let (Some(peaks), Some(residues)) = (layout.path(OutputKind::PeaksTable), layout.path(OutputKind::ResiduesTable))
    {
        let (listed, scored) = (&job.report.peaks, &job.report.residues);
        write_csv(&out, [peaks, residues], listed, scored, job.report.peak_search.units, &inputs)?;
        outputs.extend([peaks.to_path_buf(), residues.to_path_buf()]);
    }
    if let Some(path) = layout.path(OutputKind::ScoredModel) {
        // As given: the input's format, unless the name says the other.
        let given = job.model_source.path().and_then(crate::io::model::format_of).unwrap_or(ModelFormat::Pdb);
        let format = crate::io::model::write::format_for(path, given);
        let units = job.report.peak_search.units.word();
        let (model, scores) = match &job.input_model {
            Some(input) => (input, &job.report.input_residues),
            None => (&job.model, &job.report.residues),
        };
        let text = crate::io::model::write::scored_model_text(model, scores, units, format)?;
        out.write(path, &inputs, |w| std::io::Write::write_all(w, text.as_bytes()))?;
        outputs.push(path.to_path_buf());
    }
    // The model as run, copies included, for the viewers (its chains as the peak and residue
    // tables name them).
    let copied_model = layout.path(OutputKind::CopiedModel).filter(|_| job.model.copies.is_some());
    if let Some(path) = copied_model {
        let units = job.report.peak_search.units.word();
        let text =
            crate::io::model::write::scored_model_text(&job.model, &job.report.residues, units, ModelFormat::Mmcif)?;
        out.write(path, &inputs, |w| std::io::Write::write_all(w, text.as_bytes()))?;
        outputs.push(path.to_path_buf());
    }
    let mut linked = LinkedFiles::default();
    if let Some(primary) = maps.iter().find(|m| m.kind.is_difference()) {
        let clock = Instant::now();
        linked = write_views(&out, job, &layout, primary, &inputs)?;
        job.stages.add("pictures and viewer scripts", clock);
        outputs.extend(linked.viewer_scripts.iter().chain(&linked.pictures).cloned());
    }
    job.report.timings = job.stages.keyed();
    job.report.peak_memory_mb = crate::report::peak_memory_mb();
    if let Some(path) = layout.path(OutputKind::JsonReport) {
        write_json(&out, path, &job.report, &inputs)?;
        outputs.push(path.to_path_buf());
        linked.other.push(path.to_path_buf());
    }
    if let Some(path) = layout.path(OutputKind::HtmlReport) {
        write_run_report(&out, &job.report, path, &linked, &inputs)?;
        outputs.push(path.to_path_buf());
    }
    out.commit()?;
    Ok(outputs)
}

/// The viewer scripts and the peak pictures for the difference map `primary`, as the
/// parameters ask.
fn write_views(
    out: &Transaction,
    job: &mut Job,
    layout: &OutputLayout,
    primary: &OutputMap,
    inputs: &[&Path],
) -> Result<LinkedFiles> {
    let mut linked = LinkedFiles::default();
    let units = job.report.peak_search.units;
    let threshold = job.report.peak_search.threshold;
    let experimental_path = job.map_sources.first().and_then(|s| s.path()).map(Path::to_path_buf);
    if let (Some(chimerax), Some(coot)) = (layout.path(OutputKind::ChimeraxScript), layout.path(OutputKind::CootScript))
    {
        let statistics = &job.report.map.statistics;
        let at_atoms = job.report.placement.mean_density_at_atoms_sd;
        // Half the typical density at the model's atoms shows the model's envelope; a model
        // that sits in no density gets the usual 1.5 sd.
        let level_sd = if at_atoms > 0.5 { 0.5 * at_atoms } else { 1.5 };
        let scene = ViewerScene {
            model: match layout.path(OutputKind::CopiedModel).filter(|_| job.model.copies.is_some()) {
                Some(copies) => Some(copies.to_path_buf()),
                None => job.model_source.path().map(Path::to_path_buf),
            },
            experimental: experimental_path.clone().map(|path| SceneMap {
                path,
                geometry: primary.map.geometry,
                // The level asked for (for an entry by EMDB id, the authors' primary contour).
                level: job.parameters.outputs.map_level.unwrap_or(statistics.mean + level_sd * statistics.sd),
            }),
            difference: SceneMap { path: primary.path.clone(), geometry: primary.map.geometry, level: threshold },
            units,
            peaks: &job.report.peaks,
            scored_model: layout.path(OutputKind::ScoredModel).map(Path::to_path_buf),
        };
        linked.viewer_scripts = write_viewer_scripts(out, &scene, chimerax, coot, inputs)?;
    }
    let count = job.parameters.outputs.pictures.min(job.report.peaks.len());
    if let Some(folder) = layout.path(OutputKind::PicturesFolder)
        && count > 0
    {
        let experimental = job.picture_background.take();
        let scene = PictureScene {
            experimental: experimental.as_ref(),
            difference: &primary.map,
            model: &job.model,
            contour: threshold,
            units,
        };
        linked.pictures = write_peak_pictures(out, &scene, &job.report.peaks, count, folder, inputs)?;
    }
    Ok(linked)
}

/// The experimental map for the pictures' grey, from the data the job computed with (never
/// the file again: it may have changed since): the full map, else the mean of the half maps,
/// averaged over blocks of 2 x 2 x 2 voxels, an eighth of a map of memory. The job's own buffer
/// becomes the difference map, so this copy is made before the computation.
fn picture_background(data: &Experimental) -> Map {
    let (map, other) = match data {
        Experimental::Map(map) => (map, None),
        Experimental::HalfMaps(halves) => match halves.full() {
            Some(full) => (full, None),
            None => (halves.half1(), Some(halves.half2())),
        },
    };
    let g = map.geometry;
    let dims = g.dims.map(|n| n.div_ceil(2));
    let geometry = crate::grid::GridGeometry {
        dims,
        voxel_size: g.voxel_size.map(|v| 2.0 * v),
        first_voxel_centre: std::array::from_fn(|a| g.first_voxel_centre[a] + 0.5 * g.voxel_size[a]),
    };
    let mut data = vec![0f32; geometry.len()];
    data.par_chunks_mut((dims[0] * dims[1]).max(1)).enumerate().for_each(|(kz, plane)| {
        let mut counts = vec![0u32; plane.len()];
        for z in 2 * kz..(2 * kz + 2).min(g.dims[2]) {
            for y in 0..g.dims[1] {
                for x in 0..g.dims[0] {
                    let i = g.index(x, y, z);
                    let value = other.map_or(map.data[i], |o| 0.5 * (map.data[i] + o.data[i]));
                    let c = x / 2 + dims[0] * (y / 2);
                    plane[c] += value;
                    counts[c] += 1;
                }
            }
        }
        plane.iter_mut().zip(&counts).for_each(|(v, c)| *v /= (*c).max(1) as f32);
    });
    Map { geometry, data, header: crate::grid::MapHeader::for_geometry(&geometry) }
}

/// The resolution: as given, else as the model file records it.
/// The model the run computes with: the copies the parameters ask for (see
/// [`crate::io::model::copies`]), said on the console, and the model as read when copies were
/// made (`model_scores=` writes it); with what the run should be warned of.
fn make_copies(
    model: Model,
    settings: &Settings,
    centre: [f64; 3],
    source: &InputSource,
    observer: &dyn Observer,
) -> Result<(Model, Option<Model>, Vec<String>)> {
    let file = source.path().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(source.describe()));
    let (copied, warnings) = crate::io::model::copies::expand(&model, &settings.copies.request(), centre, &file)?;
    for warning in &warnings {
        observer.warn(warning);
    }
    Ok(match copied {
        Some(copied) => {
            if let Some(copies) = &copied.copies {
                observer.say(&format!(
                    "{} copies of the model made by the {}: {} atoms in {} chains (copied chains are named \
                     CHAIN-OPERATOR)",
                    copies.count(),
                    copies.made_by,
                    copied.atoms.len(),
                    copied.chain_count()
                ));
            }
            (copied, Some(model), warnings)
        }
        None => (model, None, warnings),
    })
}

fn settle_resolution(
    parameters: &Parameters,
    model: &Model,
    source: &InputSource,
    observer: &dyn Observer,
) -> Result<f64> {
    match (parameters.resolution, model.resolution) {
        (Some(r), _) => Ok(r),
        (None, Some(r)) => {
            observer.say(&format!("resolution {r} Å, as recorded in {}", source.describe()));
            Ok(r)
        }
        (None, None) => Err(Error::NoResolution(crate::io::model::why_no_resolution(model, &source.describe()))),
    }
}

/// The peak search's totals for the report.
fn peak_summary(parameters: &Parameters, map: MapKind, units: Units, threshold: f64, peaks: &[Peak]) -> PeakSummary {
    let positive = peaks.iter().filter(|p| p.height > 0.0).count();
    PeakSummary {
        map,
        units,
        threshold,
        fdr: parameters.peaks.fdr,
        positive,
        negative: peaks.len() - positive,
        listed: peaks.len().min(parameters.peaks.max_peaks),
        search_radius: parameters.peaks.search_radius,
        mask: None,
        min_volume: parameters.peaks.min_volume,
        searched_voxels: 0,
        not_listed: NotListed::default(),
    }
}

/// The voxels of `map` where `mask` is above 0.5, after checking that the mask shares the
/// map's grid and placement (a mask of another entry, or cropped differently, is refused).
fn mask_voxels(mask: &LoadedMap, map: &Map) -> Result<Vec<bool>> {
    if let Some(why) = mask.map.geometry.frame_mismatch(&map.geometry) {
        let message = format!("the mask (mask=) does not share the difference map's frame: {why}");
        return Err(match mask.source.path() {
            Some(path) => Error::map(path, message),
            None => Error::Invalid(message),
        });
    }
    Ok(mask.map.data.iter().map(|v| *v > 0.5).collect())
}

/// The voxels the peak search covers: inside the mask and within `radius` of an atom; `None`
/// for the whole box.
fn searched_voxels(
    mask: Option<&[bool]>,
    radius: Option<f64>,
    model: &Model,
    geometry: &crate::grid::GridGeometry,
) -> Option<Vec<bool>> {
    let near = radius.map(|r| crate::density::mask::envelope_mask(model, geometry, r));
    match (mask, near) {
        (None, None) => None,
        (Some(mask), None) => Some(mask.to_vec()),
        (None, Some(near)) => Some(near),
        (Some(mask), Some(mut near)) => {
            near.iter_mut().zip(mask).for_each(|(n, m)| *n &= *m);
            Some(near)
        }
    }
}

/// An input's size, and its checksum when a JSON report will record it: of the bytes read
/// (`digest`), else of the file as it is now. An in-memory map counts its values' bytes
/// (`dims`); an in-memory model counts none.
fn input_info(
    parameters: &Parameters,
    source: &InputSource,
    digest: Option<&Digest>,
    dims: Option<[usize; 3]>,
) -> Result<FileInfo> {
    match (source, digest) {
        (InputSource::File(path), Some(d)) => {
            Ok(FileInfo { path: path.clone(), bytes: d.bytes, sha256: Some(d.sha256.clone()) })
        }
        (InputSource::File(path), None) if parameters.outputs.json.is_some() => file_info(path),
        (InputSource::File(path), None) => {
            let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
            Ok(FileInfo { path: path.clone(), bytes, sha256: None })
        }
        (InputSource::Memory(_), _) => Ok(FileInfo {
            path: PathBuf::from(source.describe()),
            bytes: dims.map_or(0, |d| (d.iter().product::<usize>() * std::mem::size_of::<f32>()) as u64),
            sha256: None,
        }),
    }
}
