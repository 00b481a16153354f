//! The single map's noise from its solvent (`solvent_noise=true`): the difference farther than
//! [`SOLVENT_DISTANCE`] from every atom stands in for the half-map noise, and weights the
//! difference by resolution shell as half maps do; a masked map, whose solvent holds no noise,
//! is left alone with a warning.

use super::DifferenceOptions;
use crate::density::fourier::FourierWorkspace;
use crate::error::Result;
use crate::grid::GridGeometry;
use crate::scaling::noise::{SOLVENT_DISTANCE, solvent_mask};
use crate::scaling::spectral::{ExperimentalPower, NoiseSource, Shell, weight_difference};
use rayon::prelude::*;

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
pub(super) fn weight_by_solvent_noise(
    positions: &[[f64; 3]],
    difference: Vec<f32>,
    flat_share: f64,
    envelope: &[bool],
    power: &ExperimentalPower,
    geometry: &GridGeometry,
    options: &DifferenceOptions,
    workspace: &mut FourierWorkspace,
    warnings: &mut Vec<String>,
) -> Result<(Vec<f32>, SolventNoiseSummary)> {
    let (mask, solvent_fraction) = solvent_mask(geometry, positions, SOLVENT_DISTANCE);
    let (mut solvent_power, mut mask_power) = (0.0f64, 0.0f64);
    for (d, m) in difference.iter().zip(&mask) {
        let (d, m) = (*d as f64, *m as f64);
        solvent_power += d * d * m * m;
        mask_power += m * m;
    }
    let solvent_rms = if mask_power > 0.0 { (solvent_power / mask_power).sqrt() } else { 0.0 };
    let envelope_sd = super::masked_sd(&difference, Some(envelope));
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
        options.d_min(),
        options.model_map.edge,
        options.spectral_weight,
        NoiseSource::Solvent,
        workspace,
    )?;
    summary.applied = true;
    summary.shells = weighted.shells;
    Ok((weighted.difference, summary))
}
