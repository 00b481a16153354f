//! The difference map: experimental map minus the locally scaled model map, in sigma units.
//!
//! Steps, each in its own module: limit the experimental map to `d_min` with the same edge as
//! the model map ([`crate::density::filter`]); compute the model map
//! ([`crate::density::model_map`]); fit it globally and then in a sliding window
//! ([`crate::scaling::local`]); subtract; divide by the standard deviation inside the model
//! envelope, which unlike the whole-box sd does not change with how much solvent the box holds.

use crate::analysis::placement::{PlacementReport, check_placement};
use crate::density::filter::{ResolutionEdge, resolution_limited_in, resolution_limited_inspect};
use crate::density::fourier::FourierWorkspace;
use crate::density::mask::envelope_mask;
use crate::density::model_map::{ModelMapOptions, compute_model_map_in};
use crate::error::{Error, Result};
use crate::grid::{GridGeometry, Map};
use crate::io::model::Model;
use crate::scaling::local::{
    GlobalFit, LocalFields, LocalFitSummary, LocalScalingOptions, global_fit, subtract_locally_scaled,
};
use crate::scaling::noise::{
    SOLVENT_DISTANCE, divide_by_local_noise, far_from_model_statistics, flat_solvent_share, solvent_mask,
};
use crate::scaling::spectral::{
    ExperimentalPower, NoiseSource, RawNoisePower, Shell, Shells, SpectralWeighting, WeightedDifference,
    weight_difference,
};
use rayon::prelude::*;

/// Which difference to compute (spelled as on the command line: `complex`, `amplitude`, `both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Experimental minus scaled model map (the complex difference `F_obs - k F_calc`).
    Complex,
    /// Scaled amplitude difference on the experimental phases, per window, blended.
    Amplitude,
    /// Both.
    Both,
}

/// Over which voxels the sigma of the output is measured (`envelope` or `box`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigmaScope {
    /// Voxels within the envelope radius of the model (independent of the box size).
    Envelope,
    /// The whole box (as Phenix does; changes with the amount of solvent in the box).
    Box,
}

/// What one unit of a difference map means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// The difference over the local noise sd that the half maps measure: about N(0, 1)
    /// wherever the map holds only noise.
    HalfMapZ,
    /// The difference over its sd within the model envelope (mixes noise and model errors).
    EnvelopeSigma,
    /// The difference over its sd over the whole box.
    BoxSigma,
}

impl Units {
    /// The units in words, as the map header's label and the report say them.
    pub fn label(&self) -> &'static str {
        match self {
            Units::HalfMapZ => "z from half-map noise",
            Units::EnvelopeSigma => "sigma in the model envelope",
            Units::BoxSigma => "sigma over the box",
        }
    }

    fn of_scope(scope: SigmaScope) -> Units {
        match scope {
            SigmaScope::Envelope => Units::EnvelopeSigma,
            SigmaScope::Box => Units::BoxSigma,
        }
    }
}

/// The experimental data: one map, or two half maps (with the full map when there is one).
/// (Held once per run, so the size difference of the variants does not matter.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Experimental {
    /// A single map: the difference is in sigma units.
    Map(Map),
    /// Two independent half maps on the same grid; the experimental map is `full` when given,
    /// else their average. The difference is in z units of the local half-map noise.
    HalfMaps {
        /// First half map.
        half1: Map,
        /// Second half map.
        half2: Map,
        /// The full map (often sharpened), when it should be used instead of the average.
        full: Option<Map>,
    },
}

/// Why two maps cannot be combined voxel by voxel, or `None` when they share grid, voxel size
/// and placement.
pub fn frame_mismatch(a: &Map, b: &Map) -> Option<String> {
    let (ga, gb) = (&a.geometry, &b.geometry);
    if ga.dims != gb.dims {
        return Some(format!("grids differ: {:?} and {:?} voxels", ga.dims, gb.dims));
    }
    let close = |x: [f64; 3], y: [f64; 3], tolerance: f64| (0..3).all(|i| (x[i] - y[i]).abs() <= tolerance);
    if !close(ga.voxel_size, gb.voxel_size, 1e-4 * ga.voxel_size[0]) {
        return Some(format!("voxel sizes differ: {:?} and {:?} Å", ga.voxel_size, gb.voxel_size));
    }
    if !close(ga.first_voxel_centre, gb.first_voxel_centre, 1e-3 * ga.voxel_size[0]) {
        return Some(format!(
            "placements differ: first voxel at {} and {} Å",
            fmt_xyz(ga.first_voxel_centre),
            fmt_xyz(gb.first_voxel_centre)
        ));
    }
    None
}

/// Parameters of the difference map.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DifferenceOptions {
    /// Resolution limit in Ångström.
    pub d_min: f64,
    /// Which difference(s) to compute.
    pub variant: Variant,
    /// Sliding-window fit.
    pub scaling: LocalScalingOptions,
    /// Resolution edge applied to both maps.
    pub edge: ResolutionEdge,
    /// Include hydrogens in the model map.
    pub include_hydrogens: bool,
    /// Where sigma is measured.
    pub sigma_scope: SigmaScope,
    /// Envelope radius around atoms, Ångström.
    pub envelope_radius: f64,
    /// Return the fitted local scale and offset maps (costs two maps of memory).
    pub keep_local_fields: bool,
    /// Also fit a local relative B (from model maps at [`LOCAL_B_VALUES`]; each costs one more
    /// model map of time and memory).
    pub local_b: bool,
    /// With half maps: how resolution shells are weighted.
    pub spectral_weighting: SpectralWeighting,
    /// With half maps: width (Å) of the window in which the local noise sd is measured.
    pub noise_window: f64,
    /// With half maps: also return the local noise sd as a map (in the input map's units).
    pub keep_noise_map: bool,
    /// With a single map: estimate the noise spectrum from the solvent (farther than
    /// [`crate::scaling::noise::SOLVENT_DISTANCE`] from every atom) and weight the difference
    /// by resolution shell with it, as half maps do; skipped, with a warning, when the solvent
    /// is too small or flat (a masked map).
    pub solvent_noise: bool,
}

/// Relative B values (Å²) of the model maps between which a local B is fitted.
pub const LOCAL_B_VALUES: [f64; 4] = [-30.0, 0.0, 30.0, 60.0];

impl DifferenceOptions {
    /// Defaults for a resolution: complex difference, 20 Å window with a local offset, raised
    /// cosine edge over the last 10% of `1/d_min`, hydrogens included, sigma in a 3 Å envelope.
    pub fn new(d_min: f64) -> Self {
        DifferenceOptions {
            d_min,
            variant: Variant::Complex,
            scaling: LocalScalingOptions::default(),
            edge: ResolutionEdge::RaisedCosine { width: crate::defaults::DEFAULT_EDGE_WIDTH },
            include_hydrogens: true,
            sigma_scope: SigmaScope::Envelope,
            envelope_radius: crate::defaults::DEFAULT_ENVELOPE_RADIUS,
            keep_local_fields: false,
            local_b: false,
            spectral_weighting: SpectralWeighting::Matched,
            noise_window: crate::defaults::DEFAULT_NOISE_WINDOW,
            keep_noise_map: false,
            solvent_noise: false,
        }
    }
}

impl DifferenceOptions {
    /// Defaults for half maps on `geometry`: as [`DifferenceOptions::new`] with the wider
    /// half-map window ([`half_map_window`]).
    pub fn with_half_maps(d_min: f64, geometry: &GridGeometry) -> Self {
        let mut options = DifferenceOptions::new(d_min);
        let shortest = (0..3).map(|a| geometry.dims[a] as f64 * geometry.voxel_size[a]).fold(f64::INFINITY, f64::min);
        options.scaling.window = half_map_window(shortest);
        options
    }
}

/// The default window with half maps: [`crate::defaults::DEFAULT_HALF_MAP_WINDOW`], but in a
/// small box no more than [`crate::defaults::HALF_MAP_WINDOW_BOX_FRACTION`] of its shortest edge
/// (and not below [`crate::defaults::DEFAULT_WINDOW`]): a window that spans most of the box turns
/// the missing feature's share of every window mean into a negative halo over the whole box
/// (measured on a 52 Å box: z far from the model averaged -0.096 with 30 Å, -0.041 with 20 Å).
pub fn half_map_window(shortest_edge: f64) -> f64 {
    use crate::defaults::*;
    (HALF_MAP_WINDOW_BOX_FRACTION * shortest_edge).clamp(DEFAULT_WINDOW, DEFAULT_HALF_MAP_WINDOW)
}

/// What the single map's solvent said about the noise (`solvent_noise`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SolventNoiseSummary {
    /// Share of the box farther than [`crate::scaling::noise::SOLVENT_DISTANCE`] from every atom
    /// (the soft mask's mean).
    pub solvent_fraction: f64,
    /// rms of the difference in the solvent over its sd in the model envelope (about 0 for a
    /// masked map, whose solvent holds no noise).
    pub solvent_to_envelope: f64,
    /// Share of the input map's solvent voxels that hold one and the same value (a masked map).
    pub flat_solvent_share: f64,
    /// Whether the spectral weight was applied (else a warning says why not).
    pub applied: bool,
    /// Per-shell statistics and weights, as with half maps (empty when not applied; the FSC
    /// column is the one the solvent noise implies).
    pub shells: Vec<Shell>,
}

/// Below this share of solvent in the box, the solvent noise estimate is not attempted.
const MIN_SOLVENT_FRACTION: f64 = 0.1;

/// A solvent where more than this share of the input map's voxels hold one value is masked.
const MAX_FLAT_SOLVENT_SHARE: f64 = 0.5;

/// A solvent whose difference rms is below this share of the envelope's sd holds no noise to
/// speak of (a masked or flattened map): the solvent noise estimate is not attempted.
const MIN_SOLVENT_TO_ENVELOPE: f64 = 0.1;

/// Weights the single-map `difference` (map units) by resolution shell with a noise spectrum
/// measured in the solvent: the solvent part of the difference itself (soft mask, rescaled to
/// the whole box) stands in for the half-map noise.
#[allow(clippy::too_many_arguments)]
fn weight_by_solvent_noise(
    model: &Model,
    difference: Vec<f32>,
    flat_share: f64,
    envelope: &[bool],
    power: &ExperimentalPower,
    geometry: &GridGeometry,
    options: &DifferenceOptions,
    workspace: &mut FourierWorkspace,
    warnings: &mut Vec<String>,
) -> Result<(Vec<f32>, SolventNoiseSummary)> {
    let positions: Vec<[f64; 3]> = model.atoms.iter().map(|a| a.position).collect();
    let (mask, solvent_fraction) = solvent_mask(geometry, &positions, SOLVENT_DISTANCE);
    let (mut solvent_power, mut mask_power) = (0.0f64, 0.0f64);
    for (d, m) in difference.iter().zip(&mask) {
        let (d, m) = (*d as f64, *m as f64);
        solvent_power += d * d * m * m;
        mask_power += m * m;
    }
    let solvent_rms = if mask_power > 0.0 { (solvent_power / mask_power).sqrt() } else { 0.0 };
    let envelope_sd = masked_sd(&difference, Some(envelope));
    let solvent_to_envelope = if envelope_sd > 0.0 { solvent_rms / envelope_sd } else { 0.0 };
    let mut summary = SolventNoiseSummary {
        solvent_fraction,
        solvent_to_envelope,
        flat_solvent_share: flat_share,
        applied: false,
        shells: Vec::new(),
    };
    if solvent_fraction < MIN_SOLVENT_FRACTION {
        warnings.push(format!(
            "solvent_noise: only {:.0}% of the box is farther than {SOLVENT_DISTANCE} Å from the model, too little \
             to measure the noise: the difference is not weighted",
            100.0 * solvent_fraction
        ));
        return Ok((difference, summary));
    }
    if flat_share > MAX_FLAT_SOLVENT_SHARE || solvent_to_envelope < MIN_SOLVENT_TO_ENVELOPE {
        warnings.push(format!(
            "solvent_noise: the solvent is flat ({:.0}% of it holds one value, and the difference's rms there is \
             {solvent_to_envelope:.3} of its sd in the model envelope: a masked map?), so it holds no noise to \
             measure: the difference is not weighted",
            100.0 * flat_share
        ));
        return Ok((difference, summary));
    }
    // The masked difference, scaled so that its power stands for noise over the whole box.
    let scale = (geometry.len() as f64 / mask_power).sqrt() as f32;
    let mut noise = mask;
    noise.par_iter_mut().zip(difference.par_iter()).for_each(|(m, d)| *m *= d * scale);
    let weighted = weight_difference(
        difference,
        noise,
        None,
        power,
        geometry,
        options.d_min,
        options.edge,
        options.spectral_weighting,
        NoiseSource::Solvent,
        workspace,
    )?;
    summary.applied = true;
    summary.shells = weighted.shells;
    Ok((weighted.difference, summary))
}

/// What the half maps said about the noise.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NoiseSummary {
    /// How the shells were weighted.
    pub spectral_weighting: SpectralWeighting,
    /// Per-shell statistics and weights, low resolution first.
    pub shells: Vec<Shell>,
    /// Width (Å) of the window in which the local noise sd was measured.
    pub window: f64,
    /// 1st, 50th and 99th percentile of the local noise sd, in the input map's units (the
    /// resolution-limited map's noise, without the spectral weight).
    pub local_sd_percentiles: [f64; 3],
    /// Whether a full map was used (the noise carried over to it shell by shell).
    pub full_map: bool,
    /// The z map far from the model: its mean and sd there (0 and 1 when the units are right).
    pub far_from_model: Option<crate::scaling::noise::FarFromModel>,
}

/// Everything the difference-map job produces.
#[derive(Debug, Clone)]
pub struct DifferenceMaps {
    /// Complex difference in sigma units, in the input map's frame (when computed).
    pub complex: Option<Map>,
    /// Amplitude difference in sigma units (when computed).
    pub amplitude: Option<Map>,
    /// The sd (input map units) that the complex difference was divided by; with half maps,
    /// the median local noise sd in the input map's units.
    pub sigma: f64,
    /// Units of the complex difference.
    pub units: Units,
    /// Units of the amplitude difference (always a sigma: its noise is not linear in the maps').
    pub amplitude_units: Units,
    /// With half maps: the noise statistics.
    pub noise: Option<NoiseSummary>,
    /// With a single map and [`DifferenceOptions::solvent_noise`]: what the solvent said.
    pub solvent_noise: Option<SolventNoiseSummary>,
    /// With half maps and [`DifferenceOptions::keep_noise_map`]: the local noise sd, in the input
    /// map's units.
    pub noise_map: Option<Map>,
    /// Global fit of the model map to the experimental map inside the envelope.
    pub global: GlobalFit,
    /// Summary of the local fit.
    pub local: LocalFitSummary,
    /// Fitted local scale and offset, when requested.
    pub local_fields: Option<LocalFields>,
    /// How the model sits in the map.
    pub placement: PlacementReport,
    /// Blur B used by the model map (Å²).
    pub model_map_blur: f64,
    /// Voxels in the envelope.
    pub envelope_voxels: usize,
    /// Non-fatal remarks.
    pub warnings: Vec<String>,
    /// Wall time of each stage, in seconds, in order.
    pub timings: Vec<(&'static str, f64)>,
}

/// Population sd of `values` over `mask` (all when `None`).
fn masked_sd(values: &[f32], mask: Option<&[bool]>) -> f64 {
    let parts = crate::grid::chunk_sums(values.len(), |range| {
        let (mut n, mut s, mut ss) = (0.0f64, 0.0f64, 0.0f64);
        for i in range {
            if mask.is_some_and(|m| !m[i]) {
                continue;
            }
            let v = values[i] as f64;
            n += 1.0;
            s += v;
            ss += v * v;
        }
        [n, s, ss]
    });
    let (mut n, mut s, mut ss) = (0.0f64, 0.0f64, 0.0f64);
    for [pn, ps, pss] in parts {
        n += pn;
        s += ps;
        ss += pss;
    }
    if n == 0.0 { 0.0 } else { (ss / n - (s / n).powi(2)).max(0.0).sqrt() }
}

/// Multiplies every value by `factor`, in parallel.
fn scale_in_place(values: &mut [f32], factor: f32) {
    values.par_iter_mut().for_each(|v| *v *= factor);
}

/// Refuses options that cannot be computed, and a model that lies outside the map entirely.
fn check_inputs(model: &Model, map: &Map, options: &DifferenceOptions) -> Result<PlacementReport> {
    if !(options.d_min.is_finite() && options.d_min > 0.0) {
        return Err(Error::Usage(format!("resolution must be a positive number of Ångström, got {}", options.d_min)));
    }
    if !(options.scaling.window.is_finite() && options.scaling.window > 0.0) {
        return Err(Error::Usage(format!(
            "window must be a positive number of Ångström, got {}",
            options.scaling.window
        )));
    }
    let placement = check_placement(model, map);
    if placement.atoms_inside == 0 {
        return Err(Error::Invalid(format!(
            "none of the model's {} atoms lies inside the map box ({:.1} .. {:.1} Å): the model and the \
             map are in different frames",
            placement.atoms,
            fmt_xyz(map.geometry.first_voxel_centre),
            fmt_xyz(map.geometry.last_voxel_centre())
        )));
    }
    Ok(placement)
}

/// The model maps: at the model's own B and, for the local B fit, at the other relative B
/// values (`relative_b`, in that order, the zero shift included once).
fn model_maps(
    model: &Model,
    geometry: &GridGeometry,
    options: &DifferenceOptions,
    relative_b: &[f64],
    workspace: &mut FourierWorkspace,
) -> Result<(crate::density::model_map::ModelDensity, Vec<Vec<f32>>)> {
    let model_options = ModelMapOptions {
        d_min: options.d_min,
        edge: options.edge,
        include_hydrogens: options.include_hydrogens,
        ..ModelMapOptions::new(options.d_min)
    };
    let model_map = compute_model_map_in(model, geometry, &model_options, workspace)?;
    let mut shifted_maps = Vec::new();
    for &delta in relative_b.iter().filter(|b| **b != 0.0) {
        let mut shifted = model.clone();
        shifted.atoms.iter_mut().for_each(|a| {
            a.b_iso = a.b_for_density() + delta;
            a.aniso_u = None;
        });
        shifted_maps.push(compute_model_map_in(&shifted, geometry, &model_options, workspace)?.data);
    }
    Ok((model_map, shifted_maps))
}

/// Divides `values` by their sd over `mask` (all voxels when `None`); returns the sd.
fn normalise(values: &mut [f32], mask: Option<&[bool]>, what: &str) -> Result<f64> {
    let sd = masked_sd(values, mask);
    // An sd so small that its inverse overflows f32 (a map of denormal values, or one that
    // the resolution limit flattened) is as flat as zero: dividing would give infinities.
    let factor = (1.0 / sd) as f32;
    if sd.is_nan() || sd <= 0.0 || !factor.is_finite() {
        return Err(Error::Invalid(format!("the {what} map is flat (sd {sd:e}): nothing to normalise")));
    }
    scale_in_place(values, factor);
    Ok(sd)
}

/// The model subtracted from a resolution-limited experimental map: the part of the job that
/// the single-map and half-map paths share.
struct Subtracted {
    /// `obs - (a + k·calc)`, in the map's units.
    difference: Vec<f32>,
    /// The amplitude difference, in the map's units, when asked for.
    amplitude: Option<Vec<f32>>,
    envelope: Vec<bool>,
    envelope_voxels: usize,
    global: GlobalFit,
    local: LocalFitSummary,
    local_fields: Option<LocalFields>,
    model_map_blur: f64,
    warnings: Vec<String>,
}

/// Stage clock: each lap's wall time under a name.
struct Laps {
    timings: Vec<(&'static str, f64)>,
    clock: std::time::Instant,
}

impl Laps {
    fn new() -> Self {
        Laps { timings: Vec::new(), clock: std::time::Instant::now() }
    }

    fn lap(&mut self, name: &'static str) {
        self.timings.push((name, self.clock.elapsed().as_secs_f64()));
        self.clock = std::time::Instant::now();
    }
}

/// Computes the model map(s), fits them to `obs` globally and in the sliding window, and
/// subtracts them (and the amplitude difference, when asked for).
fn subtract_model(
    model: &Model,
    obs: Vec<f32>,
    noise: Option<&mut [f32]>,
    geometry: &GridGeometry,
    options: &DifferenceOptions,
    workspace: &mut FourierWorkspace,
    laps: &mut Laps,
) -> Result<Subtracted> {
    let relative_b: Vec<f64> = if options.local_b { LOCAL_B_VALUES.to_vec() } else { vec![0.0] };
    let (model_map, shifted_maps) = model_maps(model, geometry, options, &relative_b, workspace)?;
    laps.lap("model map");
    let warnings = model_map.warnings.clone();
    let calc = model_map.data;

    let envelope = envelope_mask(model, geometry, options.envelope_radius);
    let envelope_voxels = envelope.iter().filter(|v| **v).count();
    let global = global_fit(&obs, &calc, Some(&envelope));
    laps.lap("envelope and global fit");
    let amplitude = matches!(options.variant, Variant::Amplitude | Variant::Both).then(|| {
        let k = global.scale.max(0.0);
        let window = options.scaling.window;
        let values = crate::scaling::amplitude::amplitude_difference(&obs, &calc, geometry, options.d_min, window, k);
        laps.lap("amplitude difference");
        values
    });

    // The local fit needs the maps and its block sums, not the transforms' buffers: freed, they
    // do not add to its memory (measured on the 384³ case: peak 989 -> 745 MiB single map,
    // 1260 -> 1016 MiB half maps; no slower, the next transforms map fresh memory anyway).
    workspace.release();
    let mut difference = obs;
    let mut shifted = shifted_maps.iter();
    let calcs: Vec<&[f32]> = relative_b
        .iter()
        .map(|b| if *b == 0.0 { calc.as_slice() } else { shifted.next().expect("one map per B").as_slice() })
        .collect();
    let (local, local_fields) = subtract_locally_scaled(
        &mut difference,
        noise,
        &calcs,
        &relative_b,
        geometry,
        model.centroid(),
        &options.scaling,
        &global,
        Some(&envelope),
        options.keep_local_fields,
    );
    Ok(Subtracted {
        difference,
        amplitude,
        envelope,
        envelope_voxels,
        global,
        local,
        local_fields,
        model_map_blur: model_map.blur,
        warnings,
    })
}

/// Computes the difference map(s) of `model` against `map`.
///
/// The map is taken by value because its buffer becomes the output: a validation pipeline
/// holding the map elsewhere passes a clone. Peak memory is about three maps (the experimental
/// map, the model map on a slightly padded grid and its half spectrum).
pub fn compute_difference_map(model: &Model, map: Map, options: &DifferenceOptions) -> Result<DifferenceMaps> {
    let placement = check_inputs(model, &map, options)?;
    let mut warnings: Vec<String> = placement.warning.iter().cloned().collect();
    let Map { geometry, data, header } = map;
    let mut laps = Laps::new();
    let mut workspace = FourierWorkspace::new();
    // The solvent noise weighting needs the map's shell power, measured from the filter's spectrum.
    let (obs, power) = if options.solvent_noise {
        let positions: Vec<[f64; 3]> = model.atoms.iter().map(|a| a.position).collect();
        let flat_share = flat_solvent_share(&data, &geometry, &positions, SOLVENT_DISTANCE);
        let (obs, power) = limit_and_measure(data, None, &geometry, options, &mut workspace);
        (obs, Some((power, flat_share)))
    } else {
        (resolution_limited_in(data, &geometry, options.d_min, options.edge, &mut workspace), None)
    };
    laps.lap("resolution limit of the map");
    let subtracted = subtract_model(model, obs, None, &geometry, options, &mut workspace, &mut laps)?;
    warnings.extend(subtracted.warnings.iter().cloned());
    let sigma_mask = match options.sigma_scope {
        SigmaScope::Envelope if subtracted.envelope_voxels > 0 => Some(subtracted.envelope.as_slice()),
        _ => None,
    };
    let amplitude = match subtracted.amplitude {
        Some(mut values) => {
            normalise(&mut values, sigma_mask, "amplitude difference")?;
            Some(Map { geometry, data: values, header: header.clone() })
        }
        None => None,
    };
    let mut difference = subtracted.difference;
    let mut solvent_noise = None;
    if let Some((power, flat_share)) = power {
        laps.lap("local fit and subtraction");
        let (weighted, summary) = weight_by_solvent_noise(
            model,
            difference,
            flat_share,
            &subtracted.envelope,
            &power,
            &geometry,
            options,
            &mut workspace,
            &mut warnings,
        )?;
        difference = weighted;
        solvent_noise = Some(summary);
    }
    drop(workspace);
    let sigma = normalise(&mut difference, sigma_mask, "difference")?;
    laps.lap(if solvent_noise.is_some() {
        "solvent noise weighting and sigma"
    } else {
        "local fit, subtraction and sigma"
    });
    let complex = (options.variant != Variant::Amplitude).then_some(Map { geometry, data: difference, header });
    Ok(DifferenceMaps {
        complex,
        amplitude,
        sigma,
        units: Units::of_scope(options.sigma_scope),
        amplitude_units: Units::of_scope(options.sigma_scope),
        noise: None,
        solvent_noise,
        noise_map: None,
        global: subtracted.global,
        local: subtracted.local,
        local_fields: subtracted.local_fields,
        placement,
        model_map_blur: subtracted.model_map_blur,
        envelope_voxels: subtracted.envelope_voxels,
        warnings,
        timings: laps.timings,
    })
}

/// Computes the difference map(s) from whichever experimental data there is: one map (sigma
/// units, [`compute_difference_map`]) or half maps (z units, [`compute_half_map_difference`]).
pub fn compute_difference(model: &Model, data: Experimental, options: &DifferenceOptions) -> Result<DifferenceMaps> {
    match data {
        Experimental::Map(map) => compute_difference_map(model, map, options),
        Experimental::HalfMaps { half1, half2, full } => {
            compute_half_map_difference(model, half1, half2, full, options)
        }
    }
}

/// Average and half difference of two half maps, in place: `half1` becomes `(H1 + H2)/2` and
/// `half2` becomes `(H1 - H2)/2`, which has the average's noise and none of its signal.
fn average_and_noise(half1: &mut [f32], half2: &mut [f32]) {
    half1.par_iter_mut().zip(half2.par_iter_mut()).for_each(|(a, b)| {
        let (h1, h2) = (*a, *b);
        *a = 0.5 * (h1 + h2);
        *b = 0.5 * (h1 - h2);
    });
}

/// Limits the experimental map to `d_min` and measures, from the same spectrum, the shell power
/// of the half-map average (and of the full map against it, when one is used).
fn limit_and_measure(
    obs: Vec<f32>,
    half_average: Option<&[f32]>,
    geometry: &GridGeometry,
    options: &DifferenceOptions,
    workspace: &mut FourierWorkspace,
) -> (Vec<f32>, ExperimentalPower) {
    let shells = Shells::new(geometry, options.d_min);
    let padding = crate::density::filter::MirrorPadding::new(geometry, options.d_min);
    // With a full map, the average's spectrum is needed beside the full map's.
    let average_spectrum = half_average.map(|m| {
        let fft = crate::density::fourier::Fft3d::new(padding.padded_dims);
        let mut padded = workspace.take_real(padding.padded_len());
        padding.pad(m, &mut padded);
        fft.forward_in(&mut padded, Some(padding.band(options.d_min)), workspace);
        workspace.give_back_real(padded);
        workspace.take_spectrum()
    });
    let mut power = None;
    let obs = resolution_limited_inspect(obs, geometry, options.d_min, options.edge, workspace, |fft, spectrum| {
        power = Some(match &average_spectrum {
            Some(average) => {
                ExperimentalPower::measure(fft, geometry.voxel_size, shells, options.d_min, average, Some(spectrum))
            }
            None => ExperimentalPower::measure(fft, geometry.voxel_size, shells, options.d_min, spectrum, None),
        });
    });
    (obs, power.expect("the filter shows its spectrum"))
}

/// Computes the difference map from two half maps, in z units of the local noise.
///
/// The experimental map is `full` when given (its noise is the half-map noise carried over
/// shell by shell by the amplitude ratio, see [`crate::scaling::spectral`]), else the halves'
/// average. The model is subtracted as in the single-map path (sliding-window scale and
/// offset); the difference is then weighted by resolution shell from its own power and the
/// noise's, and the half-map noise goes through the same resolution limit and weight; the
/// result is divided, voxel by voxel, by the local rms of that noise ([`crate::scaling::noise`]).
/// The amplitude variant, when asked for, is computed as in the single-map path and stays in
/// sigma units.
pub fn compute_half_map_difference(
    model: &Model,
    mut half1: Map,
    mut half2: Map,
    full: Option<Map>,
    options: &DifferenceOptions,
) -> Result<DifferenceMaps> {
    if let Some(why) = frame_mismatch(&half1, &half2) {
        return Err(Error::Invalid(format!("the two half maps do not share a frame: {why}")));
    }
    if let Some(why) = full.as_ref().and_then(|f| frame_mismatch(f, &half1)) {
        return Err(Error::Invalid(format!("the full map and the half maps do not share a frame: {why}")));
    }
    if !(options.noise_window.is_finite() && options.noise_window > 0.0) {
        return Err(Error::Usage(format!(
            "noise_window must be a positive number of Ångström, got {}",
            options.noise_window
        )));
    }
    let mut laps = Laps::new();
    average_and_noise(&mut half1.data, &mut half2.data);
    // The output is in the frame of the map the difference is taken from.
    let (placement, geometry, header, obs, average) = match full {
        Some(full) => (check_inputs(model, &full, options)?, full.geometry, full.header, full.data, Some(half1.data)),
        None => (check_inputs(model, &half1, options)?, half1.geometry, half1.header, half1.data, None),
    };
    let mut noise = half2.data;
    let mut warnings: Vec<String> = placement.warning.iter().cloned().collect();
    laps.lap("half-map average and noise");
    let mut workspace = FourierWorkspace::new();
    let (obs, power) = limit_and_measure(obs, average.as_deref(), &geometry, options, &mut workspace);
    drop(average);
    laps.lap("resolution limit of the map");
    let raw_noise = RawNoisePower::measure(&noise, &power, &geometry, options.d_min, options.edge, &mut workspace);
    let subtracted = subtract_model(model, obs, Some(&mut noise), &geometry, options, &mut workspace, &mut laps)?;
    warnings.extend(subtracted.warnings.iter().cloned());
    laps.lap("local fit and subtraction");
    let Subtracted {
        difference,
        amplitude,
        envelope,
        envelope_voxels,
        global,
        local,
        local_fields,
        model_map_blur,
        ..
    } = subtracted;
    let amplitude_mask = match options.sigma_scope {
        SigmaScope::Envelope if envelope_voxels > 0 => Some(envelope.as_slice()),
        _ => None,
    };
    let amplitude = match amplitude {
        Some(mut values) => {
            normalise(&mut values, amplitude_mask, "amplitude difference")?;
            Some(Map { geometry, data: values, header: header.clone() })
        }
        None => None,
    };
    drop(envelope);
    let weighted = weight_difference(
        difference,
        noise,
        Some(&raw_noise),
        &power,
        &geometry,
        options.d_min,
        options.edge,
        options.spectral_weighting,
        NoiseSource::HalfMaps,
        &mut workspace,
    )?;
    drop(workspace);
    warnings.extend(weighted.warnings.iter().cloned());
    laps.lap("spectral weighting");
    let WeightedDifference { difference: mut z, noise, shells, unweighted_noise_ratio, .. } = weighted;
    let local_noise = divide_by_local_noise(&mut z, noise, &geometry, options.noise_window);
    let positions: Vec<[f64; 3]> = model.atoms.iter().map(|a| a.position).collect();
    let far = far_from_model_statistics(&z, &geometry, &positions, crate::defaults::DEFAULT_FAR_FROM_MODEL);
    let local_sd_percentiles = local_noise.sd_percentiles().map(|v| v * unweighted_noise_ratio);
    let noise_map = options.keep_noise_map.then(|| Map {
        geometry,
        data: local_noise.sd_map(unweighted_noise_ratio as f32),
        header: header.clone(),
    });
    laps.lap("local noise and z");

    let complex = (options.variant != Variant::Amplitude).then_some(Map { geometry, data: z, header });
    Ok(DifferenceMaps {
        complex,
        amplitude,
        sigma: local_sd_percentiles[1],
        units: Units::HalfMapZ,
        amplitude_units: Units::of_scope(options.sigma_scope),
        noise: Some(NoiseSummary {
            spectral_weighting: options.spectral_weighting,
            shells,
            window: options.noise_window,
            local_sd_percentiles,
            full_map: power.is_full_map(),
            far_from_model: far,
        }),
        solvent_noise: None,
        noise_map,
        global,
        local,
        local_fields,
        placement,
        model_map_blur,
        envelope_voxels,
        warnings,
        timings: laps.timings,
    })
}

fn fmt_xyz(v: [f64; 3]) -> String {
    format!("({:.1}, {:.1}, {:.1})", v[0], v[1], v[2])
}
