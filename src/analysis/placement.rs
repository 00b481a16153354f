//! Does the model sit in the map? A model read in another frame than its map (the classic
//! ORIGIN/NSTART mix-up) gives a difference map that is just the experimental map: worth a loud
//! warning before any computation.

use crate::grid::Map;
use crate::io::model::Model;

/// How a model lies relative to a map.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlacementReport {
    /// Atoms in the model.
    pub atoms: usize,
    /// Atoms inside the box spanned by the map's voxel centres.
    pub atoms_inside: usize,
    /// Mean map value at the atoms inside, in standard deviations above the map mean.
    pub mean_density_at_atoms_sd: f64,
    /// A warning when the model looks misplaced, else `None`.
    pub warning: Option<String>,
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
        warning: None,
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
    report
}
