//! The difference map: experimental map minus the locally scaled model map, in units that say
//! how far each value is from noise.
//!
//! One pipeline, in these rooms:
//! - [`experimental`]: the data (one map, or a half-map set whose frames are checked once);
//! - the resolution limit of the experimental map ([`crate::density::filter`]), with the shell
//!   power measured on the way when the noise model needs it;
//! - [`subtract`]: the model map ([`crate::density::model_map`]), the global and the
//!   sliding-window fit ([`crate::scaling::local`]) and the subtraction, shared by every noise
//!   model;
//! - [`noise_model`]: what calibrates the units: the sd inside the model envelope (or the box),
//!   the solvent's noise spectrum ([`solvent`]), or the half maps' local noise (z units);
//! - one finish that assembles [`DifferenceMaps`].
//!
//! The sd inside the model envelope, unlike the whole-box sd, does not change with how much
//! solvent the box holds.

pub mod experimental;
mod noise_model;
pub mod solvent;
mod subtract;

pub use experimental::{Experimental, FrameMismatch, FramePair, HalfMaps};
pub use solvent::SolventNoiseSummary;

use crate::analysis::placement::{PlacementReport, check_placement};
use crate::density::filter::ResolutionEdge;
use crate::density::model_map::ModelMapOptions;
use crate::error::{Error, Result};
use crate::grid::{GridGeometry, Map, fmt_xyz};
use crate::io::model::Model;
use crate::scaling::local::{GlobalFit, LocalFields, LocalFitSummary, LocalScalingOptions};
use crate::scaling::spectral::{Shell, SpectralWeighting};
use crate::timings::Timings;
use noise_model::NoiseModel;
use rayon::prelude::*;

/// Which difference to compute (spelled as on the command line: `complex`, `amplitude`, `both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Experimental minus scaled model map (the complex difference `F_obs - k F_calc`).
    #[default]
    Complex,
    /// Scaled amplitude difference on the experimental phases, per window, blended.
    Amplitude,
    /// Both.
    Both,
}

/// Over which voxels the sigma of the output is measured (`envelope` or `box`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigmaScope {
    /// Voxels within the envelope radius of the model (independent of the box size).
    #[default]
    Envelope,
    /// The whole box (as Phenix does; changes with the amount of solvent in the box).
    Box,
}

/// What one unit of a difference map means. Every place that shows a value says its unit
/// through these methods.
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

    /// The unit in one ASCII word, for terminals, tables and column names: `z` or `sigma`.
    pub fn word(&self) -> &'static str {
        match self {
            Units::HalfMapZ => "z",
            Units::EnvelopeSigma | Units::BoxSigma => "sigma",
        }
    }

    /// The unit's symbol in pictures and pages: `z` or `σ`.
    pub fn symbol(&self) -> &'static str {
        match self {
            Units::HalfMapZ => "z",
            Units::EnvelopeSigma | Units::BoxSigma => "σ",
        }
    }

    /// True when the values are calibrated against measured noise (a false discovery rate
    /// means something in them).
    pub fn is_calibrated(&self) -> bool {
        *self == Units::HalfMapZ
    }

    /// The sigma units of a scope.
    pub fn of_scope(scope: SigmaScope) -> Units {
        match scope {
            SigmaScope::Envelope => Units::EnvelopeSigma,
            SigmaScope::Box => Units::BoxSigma,
        }
    }
}

/// Parameters of the difference map. The library's defaults ([`DifferenceOptions::new`]) are
/// the command line's: [`crate::parameters::Parameters`] takes its defaults from here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DifferenceOptions {
    /// The model map: resolution limit `d_min` (the difference map's), edge, hydrogens.
    pub model_map: ModelMapOptions,
    /// Which difference(s) to compute.
    pub variant: Variant,
    /// Sliding-window fit.
    pub scaling: LocalScalingOptions,
    /// Also fit a local relative B (from model maps at [`LOCAL_B_VALUES`]; each costs one more
    /// model map of time and memory).
    pub local_b: bool,
    /// Where sigma is measured.
    pub sigma_scope: SigmaScope,
    /// Envelope radius around atoms, Ångström.
    pub envelope_radius: f64,
    /// With half maps (or the solvent noise): how resolution shells are weighted.
    pub spectral_weight: SpectralWeighting,
    /// With half maps: width (Å) of the window in which the local noise sd is measured.
    pub noise_window: f64,
    /// With a single map: estimate the noise spectrum from the solvent (farther than
    /// [`crate::scaling::noise::SOLVENT_DISTANCE`] from every atom) and weight the difference
    /// by resolution shell with it, as half maps do; skipped, with a warning, when the solvent
    /// is too small or flat (a masked map).
    pub solvent_noise: bool,
    /// Return the fitted local scale and offset maps (costs two maps of memory).
    pub keep_local_fields: bool,
    /// With half maps: also return the local noise sd as a map (in the input map's units).
    pub keep_noise_map: bool,
}

/// Relative B values (Å²) of the model maps between which a local B is fitted.
pub const LOCAL_B_VALUES: [f64; 4] = [-30.0, 0.0, 30.0, 60.0];

impl DifferenceOptions {
    /// Defaults for a resolution: complex difference, 20 Å window with a local offset and the
    /// robust second fit, raised cosine edge over the last 10% of `1/d_min`, hydrogens included,
    /// sigma in a 3 Å envelope.
    pub fn new(d_min: f64) -> Self {
        DifferenceOptions {
            model_map: ModelMapOptions::new(d_min),
            variant: Variant::default(),
            scaling: LocalScalingOptions::default(),
            local_b: false,
            sigma_scope: SigmaScope::default(),
            envelope_radius: crate::defaults::DEFAULT_ENVELOPE_RADIUS,
            spectral_weight: SpectralWeighting::default(),
            noise_window: crate::defaults::DEFAULT_NOISE_WINDOW,
            solvent_noise: false,
            keep_local_fields: false,
            keep_noise_map: false,
        }
    }

    /// Defaults for half maps on `geometry`: as [`DifferenceOptions::new`] with the wider
    /// half-map window ([`half_map_window`]).
    pub fn with_half_maps(d_min: f64, geometry: &GridGeometry) -> Self {
        let mut options = DifferenceOptions::new(d_min);
        options.scaling.window = half_map_window(geometry.shortest_edge());
        options
    }

    /// The resolution limit, Å.
    pub fn d_min(&self) -> f64 {
        self.model_map.d_min
    }

    /// The resolution edge of both maps.
    pub fn edge(&self) -> ResolutionEdge {
        self.model_map.edge
    }

    /// Refuses values that cannot be computed; the message names the key as the command line
    /// and Python spell it. The one check of these values: the settings check them through
    /// here before any file is read.
    pub fn check(&self) -> Result<()> {
        self.model_map.check()?;
        let window = self.scaling.window;
        if !(window.is_finite() && window > 0.0) {
            return Err(Error::Usage(format!("window must be a positive number of Ångström, got {window}")));
        }
        let noise_window = self.noise_window;
        if !(noise_window.is_finite() && noise_window > 0.0) {
            return Err(Error::Usage(format!(
                "noise_window must be a positive number of Ångström, got {noise_window}"
            )));
        }
        Ok(())
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

/// What the half maps said about the noise.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NoiseSummary {
    /// How the shells were weighted (the report keeps its published key).
    #[serde(rename = "spectral_weighting")]
    pub spectral_weight: SpectralWeighting,
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
    /// Wall time of each stage, in order.
    pub timings: Timings,
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

/// Divides `values` by their sd over `mask` (all voxels when `None`); returns the sd.
fn normalise(values: &mut [f32], mask: Option<&[bool]>, what: &str) -> Result<f64> {
    let sd = masked_sd(values, mask);
    // An sd so small that its inverse overflows f32 (a map of denormal values, or one that
    // the resolution limit flattened) is as flat as zero: dividing would give infinities.
    let factor = (1.0 / sd) as f32;
    if sd.is_nan() || sd <= 0.0 || !factor.is_finite() {
        return Err(Error::Invalid(format!("the {what} map is flat (sd {sd:e}): nothing to normalise")));
    }
    values.par_iter_mut().for_each(|v| *v *= factor);
    Ok(sd)
}

/// The corners of the box around the model's atoms, in Å.
fn model_extent(model: &Model) -> ([f64; 3], [f64; 3]) {
    let mut low = [f64::INFINITY; 3];
    let mut high = [f64::NEG_INFINITY; 3];
    for atom in &model.atoms {
        for axis in 0..3 {
            low[axis] = low[axis].min(atom.position[axis]);
            high[axis] = high[axis].max(atom.position[axis]);
        }
    }
    (low, high)
}

/// Where the model sits in `map`; refuses a model that lies outside the map entirely.
fn place_model(model: &Model, map: &Map) -> Result<PlacementReport> {
    let placement = check_placement(model, map);
    if placement.atoms_inside == 0 {
        let (low, high) = model_extent(model);
        return Err(Error::Invalid(format!(
            "the model and the map do not overlap: the model's {} atoms span {} .. {} Å, the map's \
             box spans {} .. {} Å. They are in different frames: check the map header's origin \
             (ORIGIN or NSTART) and that this is the model built into this map",
            placement.atoms,
            fmt_xyz(low),
            fmt_xyz(high),
            fmt_xyz(map.geometry.first_voxel_centre),
            fmt_xyz(map.geometry.last_voxel_centre())
        )));
    }
    Ok(placement)
}

/// Computes the difference map(s) of `model` against the experimental data: one map (sigma
/// units, or with `solvent_noise` weighted by the solvent's noise spectrum) or half maps (z
/// units of the local half-map noise).
///
/// The data are taken by value because their buffers become the outputs: a validation
/// pipeline holding the maps elsewhere passes clones. Peak memory with one map is about three
/// maps (the experimental map, the model map on a slightly padded grid and its half spectrum).
///
/// With half maps the experimental map is the full map when given (its noise is the half-map
/// noise carried over shell by shell by the amplitude ratio, see [`crate::scaling::spectral`]),
/// else the halves' average. The model is subtracted as with one map; the difference is then
/// weighted by resolution shell from its own power and the noise's, the half-map noise goes
/// through the same resolution limit and weight, and the result is divided, voxel by voxel, by
/// the local rms of that noise ([`crate::scaling::noise`]). The amplitude variant, when asked
/// for, stays in sigma units.
pub fn compute_difference(model: &Model, data: Experimental, options: &DifferenceOptions) -> Result<DifferenceMaps> {
    options.check()?;
    let mut timings = Timings::new();
    let positions = model.positions();
    let prepared = noise_model::prepare(model, &positions, data, options, &mut timings)?;
    let noise_model::Prepared { placement, geometry, header, obs, mut model_noise } = prepared;
    let mut warnings: Vec<String> = placement.warning.iter().chain(&placement.coverage_warning).cloned().collect();

    let mut workspace = crate::density::fourier::FourierWorkspace::new();
    let (obs, power) = model_noise.limit(obs, &geometry, options, &mut workspace);
    timings.lap("resolution limit of the map");
    let raw_noise = model_noise.raw_power(power.as_ref(), &geometry, options, &mut workspace);
    let subtracted = subtract::subtract_model(
        model,
        obs,
        model_noise.noise_mut(),
        &geometry,
        options,
        &mut workspace,
        &mut timings,
    )?;
    warnings.extend(subtracted.warnings.iter().cloned());
    if !matches!(model_noise, NoiseModel::Sigma) {
        timings.lap("local fit and subtraction");
    }
    let subtract::Subtracted {
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
    // The amplitude difference's noise is not linear in the maps': it stays in sigma units.
    let scope_mask = match options.sigma_scope {
        SigmaScope::Envelope if envelope_voxels > 0 => Some(envelope.as_slice()),
        _ => None,
    };
    let amplitude = match amplitude {
        Some(mut values) => {
            normalise(&mut values, scope_mask, "amplitude difference")?;
            Some(Map { geometry, data: values, header: header.clone() })
        }
        None => None,
    };
    let residual = noise_model::Residual { difference, envelope, envelope_voxels, power, raw_noise };
    let calibrated = noise_model::calibrate(
        model_noise,
        residual,
        &positions,
        &geometry,
        options,
        workspace,
        &mut warnings,
        &mut timings,
    )?;

    // The one finish.
    let noise_map = calibrated.noise_map.map(|data| Map { geometry, data, header: header.clone() });
    let complex =
        (options.variant != Variant::Amplitude).then_some(Map { geometry, data: calibrated.difference, header });
    Ok(DifferenceMaps {
        complex,
        amplitude,
        sigma: calibrated.sigma,
        units: calibrated.units,
        amplitude_units: Units::of_scope(options.sigma_scope),
        noise: calibrated.noise,
        solvent_noise: calibrated.solvent_noise,
        noise_map,
        global,
        local,
        local_fields,
        placement,
        model_map_blur,
        envelope_voxels,
        warnings,
        timings,
    })
}

/// [`compute_difference`] of one map.
pub fn compute_difference_map(model: &Model, map: Map, options: &DifferenceOptions) -> Result<DifferenceMaps> {
    compute_difference(model, Experimental::Map(map), options)
}

/// [`compute_difference`] of two half maps (and the full map, when it should be used instead
/// of their average); refuses maps that do not share a frame.
pub fn compute_half_map_difference(
    model: &Model,
    half1: Map,
    half2: Map,
    full: Option<Map>,
    options: &DifferenceOptions,
) -> Result<DifferenceMaps> {
    compute_difference(model, Experimental::HalfMaps(HalfMaps::new(half1, half2, full)?), options)
}
