//! The part every difference shares, whatever calibrates its units: the model map(s), the
//! global fit inside the model envelope, the sliding-window fit and its subtraction (and the
//! amplitude difference when asked for).

use super::{DifferenceOptions, LOCAL_B_VALUES, Variant};
use crate::density::fourier::FourierWorkspace;
use crate::density::mask::envelope_mask;
use crate::density::model_map::{ModelDensity, compute_model_map_checked};
use crate::error::Result;
use crate::grid::GridGeometry;
use crate::io::model::Model;
use crate::scaling::local::{GlobalFit, LocalFields, LocalFitSummary, global_fit, subtract_locally_scaled};
use crate::timings::Timings;

/// The model subtracted from a resolution-limited experimental map.
pub(super) struct Subtracted {
    /// `obs - (a + k·calc)`, in the map's units.
    pub difference: Vec<f32>,
    /// The amplitude difference, in the map's units, when asked for.
    pub amplitude: Option<Vec<f32>>,
    /// Voxels within the envelope radius of an atom.
    pub envelope: Vec<bool>,
    pub envelope_voxels: usize,
    pub global: GlobalFit,
    pub local: LocalFitSummary,
    pub local_fields: Option<LocalFields>,
    pub model_map_blur: f64,
    pub warnings: Vec<String>,
}

/// The model maps: at the model's own B and, for the local B fit, at the other relative B
/// values (`relative_b`, in that order, the zero shift included once).
fn model_maps(
    model: &Model,
    geometry: &GridGeometry,
    options: &DifferenceOptions,
    relative_b: &[f64],
    workspace: &mut FourierWorkspace,
) -> Result<(ModelDensity, Vec<Vec<f32>>)> {
    let model_map = compute_model_map_checked(model, geometry, &options.model_map, workspace)?;
    let mut shifted_maps = Vec::new();
    for &delta in relative_b.iter().filter(|b| **b != 0.0) {
        let mut shifted = model.clone();
        shifted.atoms.iter_mut().for_each(|a| {
            a.b_iso = a.b_for_density() + delta;
            a.aniso_u = None;
        });
        shifted_maps.push(compute_model_map_checked(&shifted, geometry, &options.model_map, workspace)?.data);
    }
    Ok((model_map, shifted_maps))
}

/// Computes the model map(s), fits them to `obs` globally and in the sliding window, and
/// subtracts them (and the amplitude difference, when asked for). `noise`, the half maps'
/// noise, goes through the same fit (see [`subtract_locally_scaled`]).
pub(super) fn subtract_model(
    model: &Model,
    obs: Vec<f32>,
    noise: Option<&mut [f32]>,
    geometry: &GridGeometry,
    options: &DifferenceOptions,
    workspace: &mut FourierWorkspace,
    timings: &mut Timings,
) -> Result<Subtracted> {
    let relative_b: Vec<f64> = if options.local_b { LOCAL_B_VALUES.to_vec() } else { vec![0.0] };
    let (model_map, shifted_maps) = model_maps(model, geometry, options, &relative_b, workspace)?;
    timings.lap("model map");
    let warnings = model_map.warnings.clone();
    let calc = model_map.data;

    let envelope = envelope_mask(model, geometry, options.envelope_radius);
    let envelope_voxels = envelope.iter().filter(|v| **v).count();
    let global = global_fit(&obs, &calc, Some(&envelope));
    timings.lap("envelope and global fit");
    let amplitude = matches!(options.variant, Variant::Amplitude | Variant::Both).then(|| {
        let k = global.scale.max(0.0);
        let window = options.scaling.window;
        let values = crate::scaling::amplitude::amplitude_difference(&obs, &calc, geometry, options.d_min(), window, k);
        timings.lap("amplitude difference");
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
