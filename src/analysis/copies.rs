//! What the copies of a symmetric model share. A ligand missing from one copy of a 60-copy
//! shell is missing from all 60: the peak list shows it once, with the number of copies it is
//! seen in, instead of 60 rows that push everything else off the first screen; residue scores
//! are kept per copy and gathered per residue of the input (their mean), which is what a
//! model-builder fixes.

use super::peaks::{AtomIndex, NEAREST_ATOM_RADIUS, Peak, ResidueScore};
use crate::grid::Map;
use crate::io::model::Model;
use crate::io::model::copies::ModelCopies;

/// How close (Å) two peaks of different copies must fall, carried onto the input copy, to be
/// the same peak: 0.8 of the resolution within 1.5-4 Å, and at least 1.5 voxels (a blob's
/// maximum wanders across an elongated blob between copies of a noisy map: a glycan's by 3 Å
/// at 4.5 Å on 2 Å voxels). Peaks of one copy are never merged, so a wide tolerance only joins
/// what the map cannot tell apart anyway.
pub fn same_place_tolerance(d_min: f64, voxel: [f64; 3]) -> f64 {
    let longest = voxel.iter().copied().fold(0.0, f64::max);
    (0.8 * d_min).clamp(1.5, 4.0).max(1.5 * longest)
}

/// When two peaks of different copies are the same peak.
pub struct SamePlace<'a> {
    /// Closer than this (Å), carried onto the input copy, they are the same.
    pub tolerance: f64,
    /// The map the peaks were found in and its threshold (in its units): farther apart, up to
    /// twice the radius of a sphere of the blob's volume, they are the same when the line from
    /// one to the other, carried into the first's copy, stays beyond the threshold: the maxima
    /// of one elongated blob (a missing tail) that land at its two ends in different copies.
    pub map: Option<(&'a Map, f64)>,
}

/// The longest reach (Å) of the blob test: farther apart, two maxima are never one blob.
const MAX_BLOB_REACH: f64 = 15.0;

impl SamePlace<'_> {
    /// How far from a blob of `volume` Å³ another copy's peak may lie and still join it.
    fn reach(&self, volume: f64) -> f64 {
        if self.map.is_none() {
            return self.tolerance;
        }
        let radius = (3.0 * volume.max(0.0) / (4.0 * std::f64::consts::PI)).cbrt();
        self.tolerance.max(2.0 * radius).min(MAX_BLOB_REACH.max(self.tolerance))
    }

    /// True when the straight line from `from` to `to` (Å, one copy's frame) stays beyond the
    /// threshold, with the sign of `positive`, sampled every half voxel.
    fn one_blob(&self, from: [f64; 3], to: [f64; 3], positive: bool) -> bool {
        let Some((map, threshold)) = self.map else { return false };
        let length = (0..3).map(|k| (to[k] - from[k]).powi(2)).sum::<f64>().sqrt();
        let step = 0.5 * map.geometry.voxel_size.iter().copied().fold(f64::INFINITY, f64::min);
        let samples = (length / step.max(1e-3)).ceil().max(1.0) as usize;
        (0..=samples).all(|i| {
            let t = i as f64 / samples as f64;
            let p = [0, 1, 2].map(|k| from[k] + t * (to[k] - from[k]));
            map.interpolate(p).is_some_and(|v| if positive { v > threshold } else { v < -threshold })
        })
    }
}

/// The peaks with those seen at the same place in several copies listed once: the strongest
/// stands for them, with `copies` and every copy's position. Two peaks of different copies, of
/// one sign, are at the same place by the rule of [`SamePlace`]; each copy joins a place once.
/// A peak's copy is that of its nearest atom; a peak away from the model (no atom within
/// [`NEAREST_ATOM_RADIUS`]) stays on its own. Order (strongest first) is kept.
pub fn gather_peaks_over_copies(peaks: Vec<Peak>, model: &Model, rule: &SamePlace) -> Vec<Peak> {
    let Some(copies) = &model.copies else { return peaks };
    let index = AtomIndex::new(model);
    let inverses: Vec<_> = copies.operators.iter().map(|o| o.inverse()).collect();
    // A place: its first (strongest) peak in the input frame and in its own copy, its sign,
    // the copies seen, its row in `kept`, and how far it reaches.
    struct Group {
        at: [f64; 3],
        copy: usize,
        positive: bool,
        seen: Vec<u32>,
        kept: usize,
        reach: f64,
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut kept: Vec<Peak> = Vec::with_capacity(peaks.len());
    // Places on a coarse grid of the input frame, so that each peak looks at a few only.
    let cell = rule.tolerance.max(1e-6);
    let key = |p: [f64; 3]| p.map(|v| (v / cell).floor() as i64);
    let mut cells: std::collections::HashMap<[i64; 3], Vec<usize>> = std::collections::HashMap::new();
    let mut farthest = rule.tolerance;
    for mut peak in peaks {
        let copy = index
            .nearest_within(peak.position, NEAREST_ATOM_RADIUS)
            .map(|(atom, _)| copies.residue_copy[model.atoms[atom].residue] as usize);
        let Some(copy) = copy else {
            kept.push(peak);
            continue;
        };
        let at = inverses[copy].apply(peak.position);
        let positive = peak.height > 0.0;
        let [x, y, z] = key(at);
        let own_reach = rule.reach(peak.volume);
        let around = (farthest.max(own_reach) / cell).ceil() as i64;
        let mut best: Option<(usize, f64)> = None;
        for dx in -around..=around {
            for dy in -around..=around {
                for dz in -around..=around {
                    for &g in cells.get(&[x + dx, y + dy, z + dz]).into_iter().flatten() {
                        let group = &groups[g];
                        if group.positive != positive || group.seen.contains(&(copy as u32)) {
                            continue;
                        }
                        let d = (0..3).map(|k| (group.at[k] - at[k]).powi(2)).sum::<f64>().sqrt();
                        let joins = d <= rule.tolerance
                            || (d <= group.reach.max(own_reach) && {
                                let first = copies.operators[group.copy].apply(group.at);
                                rule.one_blob(first, copies.operators[group.copy].apply(at), positive)
                            });
                        if joins && best.is_none_or(|(_, b)| d < b) {
                            best = Some((g, d));
                        }
                    }
                }
            }
        }
        match best {
            Some((g, _)) => {
                groups[g].seen.push(copy as u32);
                let first = &mut kept[groups[g].kept];
                first.copies += 1;
                first.copy_positions.push(peak.position);
            }
            None => {
                peak.copy_positions = vec![peak.position];
                farthest = farthest.max(own_reach);
                kept.push(peak);
                groups.push(Group {
                    at,
                    copy,
                    positive,
                    seen: vec![copy as u32],
                    kept: kept.len() - 1,
                    reach: own_reach,
                });
                cells.entry([x, y, z]).or_default().push(groups.len() - 1);
            }
        }
    }
    // A peak seen in one copy only keeps no list of positions.
    for peak in &mut kept {
        if peak.copies == 1 {
            peak.copy_positions.clear();
        }
    }
    kept
}

/// Each residue of the input with its copies' scores gathered: `mean` the mean of the copies'
/// means, `min`/`max` the extremes over them, `atoms_scored` their sum, `q_value` the lowest,
/// in negative density when any copy is, `copies` the number of copies with atoms in the box.
/// In the order of the input's residues (what `model_scores=` writes).
pub fn input_residue_scores(scores: &[ResidueScore], copies: &ModelCopies) -> Vec<ResidueScore> {
    let mut gathered: Vec<ResidueScore> = copies
        .input_residues
        .iter()
        .map(|r| ResidueScore {
            chain: r.chain.clone(),
            residue_name: r.name.clone(),
            residue_number: r.number,
            insertion_code: r.insertion_code.clone(),
            atoms_scored: 0,
            mean: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            q_value: None,
            in_negative_density: false,
            copies: Some(0),
        })
        .collect();
    for (score, &input) in scores.iter().zip(&copies.residue_input) {
        if score.atoms_scored == 0 {
            continue;
        }
        let g = &mut gathered[input as usize];
        g.atoms_scored += score.atoms_scored;
        g.mean += score.mean;
        g.min = g.min.min(score.min);
        g.max = g.max.max(score.max);
        g.q_value = match (g.q_value, score.q_value) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        g.in_negative_density |= score.in_negative_density;
        *g.copies.as_mut().expect("set above") += 1;
    }
    for g in &mut gathered {
        let n = g.copies.unwrap_or(0);
        if n == 0 {
            (g.mean, g.min, g.max) = (f64::NAN, f64::NAN, f64::NAN);
        } else {
            g.mean /= n as f64;
        }
    }
    gathered
}
