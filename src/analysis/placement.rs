//! Does the model sit in the map? A model read in another frame than its map (the classic
//! ORIGIN/NSTART mix-up) gives a difference map that is just the experimental map: worth a loud
//! warning before any computation.

use crate::grid::Map;
use crate::io::model::Model;
use rayon::prelude::*;

/// How a model lies relative to a map.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlacementReport {
    /// Atoms in the model.
    pub atoms: usize,
    /// Atoms inside the box spanned by the map's voxel centres.
    pub atoms_inside: usize,
    /// Mean map value at the atoms inside, in standard deviations above the map mean.
    pub mean_density_at_atoms_sd: f64,
    /// Share of the map's strong density (voxels above the map's mean + 3 sd) that lies within
    /// 3 Å of an atom: well below 1 when the map holds more than the model (other copies of a
    /// symmetric particle, unmodelled subunits).
    #[serde(default)]
    pub strong_density_near_model: Option<f64>,
    /// A warning when the model looks misplaced, else `None`.
    pub warning: Option<String>,
    /// A warning when the model explains a small part of the map's strong density, else `None`.
    #[serde(default)]
    pub coverage_warning: Option<String>,
}

/// The share of strong density near the model below which a run says the map holds more than
/// the model. A complete model explains most of it (measured: spike segment 0.81, mitoribosome
/// 0.87, actin monomer map 0.90, synthetic cases 0.99); one copy of a dimer about 0.5, of the
/// C3 trimer in testdata/symmetric 0.32, of the actin filament map 0.15, of a 60-copy shell
/// 1/60.
pub const SMALL_SHARE_OF_DENSITY: f64 = 0.6;

/// At most this many strong voxels are looked at (every n-th one beyond).
const STRONG_SAMPLES: usize = 200_000;

/// The share of `map`'s voxels above mean + 3 sd that lie within 3 Å of an atom of `model`
/// (`None` when the map has no such voxel).
pub fn strong_density_near_model(model: &Model, map: &Map) -> Option<f64> {
    let stats = map.statistics();
    let level = (stats.mean + 3.0 * stats.sd) as f32;
    let strong = map.data.par_iter().filter(|v| **v > level).count();
    if strong == 0 || model.atoms.is_empty() {
        return None;
    }
    let stride = strong.div_ceil(STRONG_SAMPLES);
    let index = super::peaks::AtomIndex::new(model);
    let geometry = &map.geometry;
    let [nx, ny, _] = geometry.dims;
    let samples: Vec<usize> =
        map.data.iter().enumerate().filter(|(_, v)| **v > level).map(|(i, _)| i).step_by(stride).collect();
    let near = samples
        .par_iter()
        .filter(|&&i| {
            let p = geometry.voxel_centre(i % nx, (i / nx) % ny, i / (nx * ny));
            index.nearest_within(p, 3.0).is_some()
        })
        .count();
    Some(near as f64 / samples.len() as f64)
}

impl PlacementReport {
    /// Fraction of atoms inside the box.
    pub fn fraction_inside(&self) -> f64 {
        if self.atoms == 0 { 0.0 } else { self.atoms_inside as f64 / self.atoms as f64 }
    }
}

/// Measures how much of `model` lies in `map` and how dense the map is at its atoms.
///
/// The warning thresholds are deliberately loose (under half the atoms inside, or a mean density
/// at the atoms below 0.5 sd): a correctly placed model in a real map sits well above both, a
/// model in the wrong frame well below.
pub fn check_placement(model: &Model, map: &Map) -> PlacementReport {
    let stats = map.statistics();
    let mut inside = 0usize;
    let mut sum = 0.0;
    for atom in &model.atoms {
        if let Some(v) = map.interpolate(atom.position) {
            inside += 1;
            sum += v;
        }
    }
    let mean_sd = if inside > 0 && stats.sd > 0.0 { (sum / inside as f64 - stats.mean) / stats.sd } else { 0.0 };
    let mut report = PlacementReport {
        atoms: model.atoms.len(),
        atoms_inside: inside,
        mean_density_at_atoms_sd: mean_sd,
        strong_density_near_model: None,
        warning: None,
        coverage_warning: None,
    };
    let fraction = report.fraction_inside();
    if fraction < 0.5 {
        report.warning = Some(format!(
            "only {:.0}% of the model's atoms lie inside the map box: the model may be in another frame \
             than the map (check ORIGIN/NSTART, or whether the model was moved)",
            100.0 * fraction
        ));
    } else if mean_sd < 0.5 {
        report.warning = Some(format!(
            "the map is weak at the model's atoms (mean {mean_sd:.2} sd above the map mean): the model \
             may be misplaced or belong to another map"
        ));
    }
    if report.warning.is_none() {
        report.strong_density_near_model = strong_density_near_model(model, map);
        report.coverage_warning = report.strong_density_near_model.and_then(|share| coverage_warning(model, share));
    }
    report
}

/// What a run on a model that explains `share` of the map's strong density is told: how many
/// copies would fill it and the option that makes them.
fn coverage_warning(model: &Model, share: f64) -> Option<String> {
    if share >= SMALL_SHARE_OF_DENSITY {
        return None;
    }
    let times = (1.0 / share.max(1e-3)).round();
    let declared = &model.symmetry;
    let option = if model.copies.is_some() {
        "even with the copies made: check the operators, or whether the map holds other molecules".to_string()
    } else if let Some((id, copies)) = declared.largest_assembly() {
        format!("the model file declares assembly {id} of {copies} copies: give assembly={id}")
    } else if declared.ncs_copies_to_generate() > 0 {
        "the model file's NCS copies were not generated: drop ncs=false".to_string()
    } else {
        "if the map holds a symmetric particle, give its point group (symmetry=Cn, Dn, T, O or I, about the map's \
         centre); else the map holds molecules the model lacks"
            .to_string()
    };
    Some(format!(
        "the model explains {:.0}% of the map's strong density (voxels above the map's mean + 3 sd within 3 Å of an \
         atom; about {times:.0} times the model would fill it): {option}. Until then every other copy shows as \
         unmodelled density",
        100.0 * share
    ))
}
