//! What calibrates the difference's units, as one enum with a step for each stage of the
//! pipeline that differs between them: the sd in the model envelope (or the box), the
//! solvent's noise spectrum (one map, `solvent_noise`), or the half maps' local noise.

use super::solvent::{SolventNoiseSummary, weight_by_solvent_noise};
use super::{DifferenceOptions, Experimental, NoiseSummary, SigmaScope, Units, normalise, place_model};
use crate::analysis::placement::PlacementReport;
use crate::density::filter::{resolution_limited_in, resolution_limited_inspect};
use crate::density::fourier::FourierWorkspace;
use crate::error::Result;
use crate::grid::{GridGeometry, Map, MapHeader};
use crate::scaling::noise::{SOLVENT_DISTANCE, divide_by_local_noise, far_from_model_statistics, flat_solvent_share};
use crate::scaling::spectral::{
    ExperimentalPower, NoiseSource, RawNoisePower, Shells, WeightedDifference, weight_difference,
};
use crate::timings::Timings;
use rayon::prelude::*;

/// The noise model of a run, with the data it carries between the stages.
pub(super) enum NoiseModel {
    /// One map: the difference over its sd in the sigma scope.
    Sigma,
    /// One map, weighted by the noise spectrum of its solvent; `flat_share` is the share of
    /// the input map's solvent that holds one value (measured before the resolution limit).
    Solvent { flat_share: f64 },
    /// Half maps: `noise` is `(H1 - H2)/2`; `average` the halves' average when a full map is
    /// the experimental map (its spectrum carries the noise over to the full map).
    HalfMaps { noise: Vec<f32>, average: Option<Vec<f32>> },
}

/// The experimental map ready for the pipeline, in the frame of the output.
pub(super) struct Prepared {
    pub placement: PlacementReport,
    pub geometry: GridGeometry,
    pub header: MapHeader,
    pub obs: Vec<f32>,
    pub model_noise: NoiseModel,
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

/// Places the model in the experimental map and chooses the noise model. The output is in the
/// frame of the map the difference is taken from (the full map, else the halves' average).
pub(super) fn prepare(
    model: &crate::io::model::Model,
    positions: &[[f64; 3]],
    data: Experimental,
    options: &DifferenceOptions,
    timings: &mut Timings,
) -> Result<Prepared> {
    match data {
        Experimental::Map(map) => {
            let placement = place_model(model, &map)?;
            let Map { geometry, data, header } = map;
            let model_noise = if options.solvent_noise {
                NoiseModel::Solvent { flat_share: flat_solvent_share(&data, &geometry, positions, SOLVENT_DISTANCE) }
            } else {
                NoiseModel::Sigma
            };
            Ok(Prepared { placement, geometry, header, obs: data, model_noise })
        }
        Experimental::HalfMaps(halves) => {
            let (mut half1, mut half2, full) = halves.into_parts();
            average_and_noise(&mut half1.data, &mut half2.data);
            let (placement, geometry, header, obs, average) = match full {
                Some(full) => (place_model(model, &full)?, full.geometry, full.header, full.data, Some(half1.data)),
                None => (place_model(model, &half1)?, half1.geometry, half1.header, half1.data, None),
            };
            timings.lap("half-map average and noise");
            Ok(Prepared {
                placement,
                geometry,
                header,
                obs,
                model_noise: NoiseModel::HalfMaps { noise: half2.data, average },
            })
        }
    }
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
    let (d_min, edge) = (options.d_min(), options.edge());
    let shells = Shells::new(geometry, d_min);
    let padding = crate::density::filter::MirrorPadding::new(geometry, d_min);
    // With a full map, the average's spectrum is needed beside the full map's.
    let average_spectrum = half_average.map(|m| {
        let fft = crate::density::fourier::Fft3d::new(padding.padded_dims);
        let mut padded = workspace.take_real(padding.padded_len());
        padding.pad(m, &mut padded);
        fft.forward_in(&mut padded, Some(padding.band(d_min)), workspace);
        workspace.give_back_real(padded);
        workspace.take_spectrum()
    });
    let mut power = None;
    let obs = resolution_limited_inspect(obs, geometry, d_min, edge, workspace, |fft, spectrum| {
        power = Some(match &average_spectrum {
            Some(average) => {
                ExperimentalPower::measure(fft, geometry.voxel_size, shells, d_min, average, Some(spectrum))
            }
            None => ExperimentalPower::measure(fft, geometry.voxel_size, shells, d_min, spectrum, None),
        });
    });
    (obs, power.expect("the filter shows its spectrum"))
}

impl NoiseModel {
    /// Limits the experimental map to `d_min`, and measures its shell power when the noise
    /// model weights by shell (the average's spectrum is freed here: no later stage needs it).
    pub fn limit(
        &mut self,
        obs: Vec<f32>,
        geometry: &GridGeometry,
        options: &DifferenceOptions,
        workspace: &mut FourierWorkspace,
    ) -> (Vec<f32>, Option<ExperimentalPower>) {
        match self {
            NoiseModel::Sigma => {
                (resolution_limited_in(obs, geometry, options.d_min(), options.edge(), workspace), None)
            }
            NoiseModel::Solvent { .. } => {
                let (obs, power) = limit_and_measure(obs, None, geometry, options, workspace);
                (obs, Some(power))
            }
            NoiseModel::HalfMaps { average, .. } => {
                let average = average.take();
                let (obs, power) = limit_and_measure(obs, average.as_deref(), geometry, options, workspace);
                (obs, Some(power))
            }
        }
    }

    /// With half maps: the noise's shell power before the local fit (the spectral weight's
    /// noise term; see [`RawNoisePower`]).
    pub fn raw_power(
        &self,
        power: Option<&ExperimentalPower>,
        geometry: &GridGeometry,
        options: &DifferenceOptions,
        workspace: &mut FourierWorkspace,
    ) -> Option<RawNoisePower> {
        match (self, power) {
            (NoiseModel::HalfMaps { noise, .. }, Some(power)) => {
                Some(RawNoisePower::measure(noise, power, geometry, options.d_min(), options.edge(), workspace))
            }
            _ => None,
        }
    }

    /// The half maps' noise, which goes through the local fit with the difference.
    pub fn noise_mut(&mut self) -> Option<&mut [f32]> {
        match self {
            NoiseModel::HalfMaps { noise, .. } => Some(noise.as_mut_slice()),
            _ => None,
        }
    }
}

/// The difference in calibrated units.
pub(super) struct Calibrated {
    pub difference: Vec<f32>,
    pub sigma: f64,
    pub units: Units,
    pub noise: Option<NoiseSummary>,
    pub solvent_noise: Option<SolventNoiseSummary>,
    pub noise_map: Option<Vec<f32>>,
}

/// What the model subtraction left, as calibration needs it.
pub(super) struct Residual {
    /// `obs - (a + k·calc)`, in the map's units.
    pub difference: Vec<f32>,
    /// Voxels within the envelope radius of an atom.
    pub envelope: Vec<bool>,
    pub envelope_voxels: usize,
    /// The experimental map's shell power (when the noise model measured it).
    pub power: Option<ExperimentalPower>,
    /// The half maps' noise power before the fit.
    pub raw_noise: Option<RawNoisePower>,
}

/// Puts the difference into the noise model's units. The transforms' `workspace` is freed as
/// soon as no transform is left, before the last map-sized stage.
#[allow(clippy::too_many_arguments)]
pub(super) fn calibrate(
    model_noise: NoiseModel,
    residual: Residual,
    positions: &[[f64; 3]],
    geometry: &GridGeometry,
    options: &DifferenceOptions,
    mut workspace: FourierWorkspace,
    warnings: &mut Vec<String>,
    timings: &mut Timings,
) -> Result<Calibrated> {
    let Residual { mut difference, envelope, envelope_voxels, power, raw_noise } = residual;
    let scope_mask = match options.sigma_scope {
        SigmaScope::Envelope if envelope_voxels > 0 => Some(envelope.as_slice()),
        _ => None,
    };
    let sigma_units = Units::of_scope(options.sigma_scope);
    let plain = |difference, sigma, units| Calibrated {
        difference,
        sigma,
        units,
        noise: None,
        solvent_noise: None,
        noise_map: None,
    };
    match model_noise {
        NoiseModel::Sigma => {
            drop(workspace);
            let sigma = normalise(&mut difference, scope_mask, "difference")?;
            timings.lap("local fit, subtraction and sigma");
            Ok(plain(difference, sigma, sigma_units))
        }
        NoiseModel::Solvent { flat_share } => {
            let power = power.expect("the solvent noise model measures the map's power");
            let (mut weighted, summary) = weight_by_solvent_noise(
                positions,
                difference,
                flat_share,
                &envelope,
                &power,
                geometry,
                options,
                &mut workspace,
                warnings,
            )?;
            drop(workspace);
            let sigma = normalise(&mut weighted, scope_mask, "difference")?;
            timings.lap("solvent noise weighting and sigma");
            Ok(Calibrated { solvent_noise: Some(summary), ..plain(weighted, sigma, sigma_units) })
        }
        NoiseModel::HalfMaps { noise, .. } => {
            let power = power.expect("the half-map noise model measures the map's power");
            drop(envelope);
            let weighted = weight_difference(
                difference,
                noise,
                raw_noise.as_ref(),
                &power,
                geometry,
                options.d_min(),
                options.edge(),
                options.spectral_weight,
                NoiseSource::HalfMaps,
                &mut workspace,
            )?;
            drop(workspace);
            warnings.extend(weighted.warnings.iter().cloned());
            timings.lap("spectral weighting");
            let WeightedDifference { difference: mut z, noise, shells, unweighted_noise_ratio, .. } = weighted;
            let local_noise = divide_by_local_noise(&mut z, noise, geometry, options.noise_window);
            let far = far_from_model_statistics(&z, geometry, positions, crate::defaults::DEFAULT_FAR_FROM_MODEL);
            let local_sd_percentiles = local_noise.sd_percentiles().map(|v| v * unweighted_noise_ratio);
            let noise_map = options.keep_noise_map.then(|| local_noise.sd_map(unweighted_noise_ratio as f32));
            timings.lap("local noise and z");
            Ok(Calibrated {
                difference: z,
                sigma: local_sd_percentiles[1],
                units: Units::HalfMapZ,
                noise: Some(NoiseSummary {
                    spectral_weight: options.spectral_weight,
                    shells,
                    window: options.noise_window,
                    local_sd_percentiles,
                    full_map: power.is_full_map(),
                    far_from_model: far,
                }),
                solvent_noise: None,
                noise_map,
            })
        }
    }
}
