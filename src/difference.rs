//! The difference map: experimental map minus the locally scaled model map, in sigma units.
//!
//! Steps, each in its own module: limit the experimental map to `d_min` with the same edge as
//! the model map ([`crate::density::filter`]); compute the model map
//! ([`crate::density::model_map`]); fit it globally and then in a sliding window
//! ([`crate::scaling::local`]); subtract; divide by the standard deviation inside the model
//! envelope, which unlike the whole-box sd does not change with how much solvent the box holds.

use crate::analysis::placement::{PlacementReport, check_placement};
use crate::density::filter::{ResolutionEdge, resolution_limited_in};
use crate::density::fourier::FourierWorkspace;
use crate::density::mask::envelope_mask;
use crate::density::model_map::{ModelMapOptions, compute_model_map_in};
use crate::error::{Error, Result};
use crate::grid::{GridGeometry, Map};
use crate::io::model::Model;
use crate::scaling::local::{
    GlobalFit, LocalFields, LocalFitSummary, LocalScalingOptions, global_fit, subtract_locally_scaled,
};
use rayon::prelude::*;

/// Which difference to compute (spelled as on the command line: `complex`, `amplitude`, `both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Experimental minus scaled model map (the complex difference `F_obs - k F_calc`).
    Complex,
    /// Scaled amplitude difference on the experimental phases, per window, blended.
    Amplitude,
    /// Both.
    Both,
}

impl Variant {
    /// Parses `complex`, `amplitude` or `both`.
    pub fn parse(text: &str) -> Option<Variant> {
        match text.to_ascii_lowercase().as_str() {
            "complex" => Some(Variant::Complex),
            "amplitude" => Some(Variant::Amplitude),
            "both" => Some(Variant::Both),
            _ => None,
        }
    }
}

/// Over which voxels the sigma of the output is measured (`envelope` or `box`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SigmaScope {
    /// Voxels within the envelope radius of the model (independent of the box size).
    Envelope,
    /// The whole box (as Phenix does; changes with the amount of solvent in the box).
    Box,
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
        }
    }
}

/// Everything the difference-map job produces.
#[derive(Debug, Clone)]
pub struct DifferenceMaps {
    /// Complex difference in sigma units, in the input map's frame (when computed).
    pub complex: Option<Map>,
    /// Amplitude difference in sigma units (when computed).
    pub amplitude: Option<Map>,
    /// The sd (input map units) that the complex difference was divided by.
    pub sigma: f64,
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
    if sd.is_nan() || sd <= 0.0 {
        return Err(Error::Invalid(format!("the {what} map is flat (zero sd): nothing to normalise")));
    }
    scale_in_place(values, (1.0 / sd) as f32);
    Ok(sd)
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
    let mut timings = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, f64)>| {
        timings.push((name, clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };
    let mut workspace = FourierWorkspace::new();
    let obs = resolution_limited_in(data, &geometry, options.d_min, options.edge, &mut workspace);
    lap("resolution limit of the map", &mut timings);
    let relative_b: Vec<f64> = if options.local_b { LOCAL_B_VALUES.to_vec() } else { vec![0.0] };
    let (model_map, shifted_maps) = model_maps(model, &geometry, options, &relative_b, &mut workspace)?;
    drop(workspace);
    lap("model map", &mut timings);
    warnings.extend(model_map.warnings.iter().cloned());
    let calc = model_map.data;

    let envelope = envelope_mask(model, &geometry, options.envelope_radius);
    let envelope_voxels = envelope.iter().filter(|v| **v).count();
    let global = global_fit(&obs, &calc, Some(&envelope));
    lap("envelope and global fit", &mut timings);
    let sigma_mask = match options.sigma_scope {
        SigmaScope::Envelope if envelope_voxels > 0 => Some(envelope.as_slice()),
        _ => None,
    };
    let amplitude = if matches!(options.variant, Variant::Amplitude | Variant::Both) {
        let window = options.scaling.window;
        let k = global.scale.max(0.0);
        let mut values =
            crate::scaling::amplitude::amplitude_difference(&obs, &calc, &geometry, options.d_min, window, k);
        normalise(&mut values, sigma_mask, "amplitude difference")?;
        lap("amplitude difference", &mut timings);
        Some(Map { geometry, data: values, header: header.clone() })
    } else {
        None
    };

    let mut difference = obs;
    let mut shifted = shifted_maps.iter();
    let calcs: Vec<&[f32]> = relative_b
        .iter()
        .map(|b| if *b == 0.0 { calc.as_slice() } else { shifted.next().expect("one map per B").as_slice() })
        .collect();
    let scaling = &options.scaling;
    let keep = options.keep_local_fields;
    let (local, local_fields) = subtract_locally_scaled(
        &mut difference,
        &calcs,
        &relative_b,
        &geometry,
        scaling,
        &global,
        Some(&envelope),
        keep,
    );
    drop(calcs);
    drop(shifted_maps);
    drop(calc);
    let sigma = normalise(&mut difference, sigma_mask, "difference")?;
    lap("local fit, subtraction and sigma", &mut timings);
    let complex = (options.variant != Variant::Amplitude).then_some(Map { geometry, data: difference, header });
    Ok(DifferenceMaps {
        complex,
        amplitude,
        sigma,
        global,
        local,
        local_fields,
        placement,
        model_map_blur: model_map.blur,
        envelope_voxels,
        warnings,
        timings,
    })
}

fn fmt_xyz(v: [f64; 3]) -> String {
    format!("({:.1}, {:.1}, {:.1})", v[0], v[1], v[2])
}
