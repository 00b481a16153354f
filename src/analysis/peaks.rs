//! What a difference map says, as numbers: blobs of strong positive or negative density (an
//! unmodelled ligand, a misplaced side chain) with the atom nearest to each, and per-residue
//! scores.
//!
//! A blob is a set of voxels beyond the threshold that touch each other (the 26 neighbours of a
//! voxel count), so one ligand is one entry however many local maxima it has. Blobs never wrap
//! around the box faces: a map box is not a crystal cell.

use crate::grid::Map;
use crate::io::model::Model;
use rayon::prelude::*;

/// A number that JSON wrote as null because it was not a number (serde_json writes NaN as
/// null): read back as NaN, so that every report reads back.
pub fn number_or_nan<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// The atom nearest to a point.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NearestAtom {
    /// Chain identifier.
    pub chain: String,
    /// Residue name.
    pub residue_name: String,
    /// Residue number.
    pub residue_number: isize,
    /// Insertion code (empty when none).
    pub insertion_code: String,
    /// Atom name.
    pub atom_name: String,
    /// Distance in Ångström.
    pub distance: f64,
}

impl NearestAtom {
    /// The residue, as "chain/NAMEnumber(icode)" ("A/ASN282"), the same label as
    /// [`crate::io::model::Residue`]'s.
    pub fn residue_label(&self) -> String {
        crate::io::model::residue_label(&self.chain, &self.residue_name, self.residue_number, &self.insertion_code)
    }
}

/// One blob of the difference map.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Peak {
    /// Highest |value| of the blob, with its sign, in sigma.
    pub height: f64,
    /// Position of the maximum, refined between voxels by a parabola along each axis (Å).
    pub position: [f64; 3],
    /// Voxel index (X, Y, Z) of the maximum.
    pub voxel: [usize; 3],
    /// Number of voxels in the blob.
    pub voxels: usize,
    /// Volume of the blob in Å³.
    pub volume: f64,
    /// Sum of the blob's values times the voxel volume (sigma·Å³).
    pub integrated: f64,
    /// Nearest model atom to `position`, if one is within [`NEAREST_ATOM_RADIUS`]; `None` for a
    /// blob away from the model (or when no model was given).
    pub nearest_atom: Option<NearestAtom>,
    /// False-discovery q-value of the blob among the blobs searched, from the height of its
    /// maximum (z maps from half maps only; see [`crate::analysis::significance`]).
    pub q_value: Option<f64>,
    /// With copies of the model made (NCS, assembly, point group): in how many copies this
    /// peak is seen at the same place (1 when it is in one, or no copies were made).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub copies: usize,
    /// With copies: the peak's position in each copy where it is seen, this one first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy_positions: Vec<[f64; 3]>,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// Per-residue summary of the difference map at the residue's atoms (trilinear interpolation).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResidueScore {
    /// Chain identifier.
    pub chain: String,
    /// Residue name.
    pub residue_name: String,
    /// Residue number.
    pub residue_number: isize,
    /// Insertion code (empty when none).
    pub insertion_code: String,
    /// Atoms of the residue inside the map box (the others are not scored).
    pub atoms_scored: usize,
    /// Mean value at the atoms (sigma; NaN, written as null, when no atom is in the box).
    #[serde(deserialize_with = "number_or_nan")]
    pub mean: f64,
    /// Lowest value at an atom (sigma).
    #[serde(deserialize_with = "number_or_nan")]
    pub min: f64,
    /// Highest value at an atom (sigma).
    #[serde(deserialize_with = "number_or_nan")]
    pub max: f64,
    /// With half maps (z units): the false-discovery q-value of the residue's lowest z
    /// (see [`FlagRule::FalseDiscoveryRate`]); `None` in sigma units.
    pub q_value: Option<f64>,
    /// Density the model claims and the map lacks: with half maps, `q_value` at or below the
    /// false discovery rate; in sigma units, some atom at or below minus the threshold.
    pub in_negative_density: bool,
    /// For a residue of the input whose copies were scored (the report's `input_residues`):
    /// how many copies the values are over (`mean` their mean, `min`/`max` the extremes);
    /// absent for a residue of the model as run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<usize>,
}

/// When a residue is flagged as in negative density.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlagRule {
    /// Some atom at or below minus this many sigma: a fixed cut, the same for every residue,
    /// that does not control how many of the flags are chance (a map in sigma units has no
    /// calibrated noise to control it with).
    Sigma(f64),
    /// z units: each residue's lowest z as a p-value ([`crate::analysis::significance::residue_p`]),
    /// Benjamini-Hochberg over the residues scored, flagged at q <= this rate: at most about
    /// that share of the flags are chance.
    FalseDiscoveryRate(f64),
}

/// How far from the model a peak may be and still be attributed to its nearest atom (Å). A
/// ligand's or glycan's blob peaks 1.5-5 Å from the atom it binds to; beyond this a blob is
/// reported as away from the model (with its distance), not as belonging to a far residue.
pub const NEAREST_ATOM_RADIUS: f64 = 6.0;

/// A k-d tree of atom positions for nearest-atom queries within a radius: the search never
/// looks beyond the radius, so a map with 10^5 noise blobs far from the model costs no more per
/// blob than one near it.
pub struct AtomIndex<'a> {
    model: &'a Model,
    tree: Option<kiddo::ImmutableKdTree<f64, 3>>,
}

impl<'a> AtomIndex<'a> {
    /// Indexes the atoms of `model`.
    pub fn new(model: &'a Model) -> Self {
        let points: Vec<[f64; 3]> = model.positions();
        // Construction fails only for more than 2^32 atoms; a linear scan still answers then.
        let tree = if points.is_empty() { None } else { kiddo::ImmutableKdTree::new_from_slice(&points).ok() };
        AtomIndex { model, tree }
    }

    /// Index and distance of the atom nearest to `p` within `radius` Å. The search never looks
    /// beyond the radius, so a query far from the model is as cheap as one beside it.
    pub fn nearest_within(&self, p: [f64; 3], radius: f64) -> Option<(usize, f64)> {
        let squared = |i: usize| (0..3).map(|k| (self.model.atoms[i].position[k] - p[k]).powi(2)).sum::<f64>();
        let found = match &self.tree {
            Some(tree) => tree
                .query(&p)
                .nearest_n::<kiddo::SquaredEuclidean<f64>>(std::num::NonZero::<usize>::MIN)
                .within(radius * radius)
                .execute()
                .first()
                .map(|hit| (hit.item as usize, hit.distance)),
            None => (0..self.model.atoms.len()).map(|i| (i, squared(i))).min_by(|a, b| a.1.total_cmp(&b.1)),
        };
        found.filter(|(_, d2)| *d2 <= radius * radius).map(|(i, d2)| (i, d2.sqrt()))
    }

    /// The nearest atom as a report entry, if it is within `radius` Å.
    pub fn nearest_atom_within(&self, p: [f64; 3], radius: f64) -> Option<NearestAtom> {
        let (i, distance) = self.nearest_within(p, radius)?;
        let atom = &self.model.atoms[i];
        let residue = self.model.residue_of(atom);
        Some(NearestAtom {
            chain: residue.chain.clone(),
            residue_name: residue.name.clone(),
            residue_number: residue.number,
            insertion_code: residue.insertion_code.clone(),
            atom_name: atom.name.clone(),
            distance,
        })
    }
}

/// Blobs beyond `threshold` sigma (positive and negative), sorted by |height|, strongest first.
pub fn find_peaks(map: &Map, threshold: f64, model: Option<&Model>) -> Vec<Peak> {
    blob_search(map, threshold, model, false).0
}

/// Where the peak search looks and what it lists.
#[derive(Debug, Clone, Copy)]
pub struct PeakSearch<'a> {
    /// Blobs beyond this |value|.
    pub threshold: f64,
    /// Listed only when the blob's maximum has an atom within this many Å (`None`: anywhere).
    pub radius: Option<f64>,
    /// Listed only when the blob's maximum voxel is marked here (one flag per voxel).
    pub mask: Option<&'a [bool]>,
    /// Listed only when the blob is at least this big (Å³).
    pub min_volume: f64,
}

/// How many blobs beyond the threshold a search did not list, and why (the first reason that
/// applies, in this order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NotListed {
    /// Maximum outside the mask.
    pub outside_mask: usize,
    /// Maximum farther than the search radius from every atom.
    pub beyond_radius: usize,
    /// Smaller than the minimum volume.
    pub too_small: usize,
    /// With `fdr=`: searched, but its q-value is above the rate.
    #[serde(default)]
    pub not_significant: usize,
}

/// The blobs that `search` lists (sorted by |height|, strongest first), and the counts of those
/// it leaves out.
pub fn find_peaks_searched(map: &Map, search: &PeakSearch, model: Option<&Model>) -> (Vec<Peak>, NotListed) {
    let peaks = blob_search(map, search.threshold, model, false).0;
    let index = model.filter(|_| search.radius.is_some()).map(AtomIndex::new);
    let mut not_listed = NotListed::default();
    let mut listed = Vec::with_capacity(peaks.len());
    for peak in peaks {
        let g = map.geometry;
        let voxel = g.index(peak.voxel[0], peak.voxel[1], peak.voxel[2]);
        if search.mask.is_some_and(|m| !m[voxel]) {
            not_listed.outside_mask += 1;
        } else if let (Some(radius), Some(index)) = (search.radius, &index)
            && index.nearest_within(peak.position, radius).is_none()
        {
            not_listed.beyond_radius += 1;
        } else if peak.volume < search.min_volume {
            not_listed.too_small += 1;
        } else {
            listed.push(peak);
        }
    }
    (listed, not_listed)
}

/// As [`find_peaks`], with a label per voxel: 0 outside every blob, else 1 + the blob's index in
/// the returned (sorted) list. Lets a caller ask which blob covers a ligand site.
pub fn find_blobs(map: &Map, threshold: f64, model: Option<&Model>) -> (Vec<Peak>, Vec<u32>) {
    let (peaks, members) = blob_search(map, threshold, model, true);
    let mut labels = vec![0u32; map.data.len()];
    for (voxel, label) in members {
        labels[voxel] = label;
    }
    (peaks, labels)
}

/// One bit per voxel: the voxels beyond the threshold with one sign that no blob has taken
/// yet. An eighth of a byte a voxel keeps the flood fill's random accesses in cache (the map
/// itself is read only at the voxels of blobs), whatever the number of blobs.
struct StrongVoxels(Vec<u64>);

impl StrongVoxels {
    /// Bits of the voxels at or above `threshold` and of those at or below `-threshold`: one
    /// parallel scan of the map lists them (a small fraction of the voxels), then their bits
    /// are set.
    fn of(data: &[f32], threshold: f32) -> [Self; 2] {
        const CHUNK: usize = 1 << 16;
        let lists: Vec<(Vec<u32>, Vec<u32>)> = data
            .par_chunks(CHUNK)
            .map(|chunk| {
                let (mut positive, mut negative) = (Vec::new(), Vec::new());
                // Strong voxels are rare: test 32 at a time (a vector maximum), then look closer.
                for (block, values) in chunk.chunks(32).enumerate() {
                    if values.iter().fold(0f32, |m, v| m.max(v.abs())) < threshold {
                        continue;
                    }
                    for (i, v) in values.iter().enumerate() {
                        if v.abs() >= threshold {
                            if *v > 0.0 { &mut positive } else { &mut negative }.push((block * 32 + i) as u32);
                        }
                    }
                }
                (positive, negative)
            })
            .collect();
        let words = data.len().div_ceil(64);
        let mut bits = [StrongVoxels(vec![0u64; words]), StrongVoxels(vec![0u64; words])];
        for (c, (positive, negative)) in lists.iter().enumerate() {
            for (set, list) in bits.iter_mut().zip([positive, negative]) {
                for &i in list {
                    let voxel = c * CHUNK + i as usize;
                    set.0[voxel / 64] |= 1u64 << (voxel % 64);
                }
            }
        }
        bits
    }

    /// Takes voxel `i` if it is strong and not taken yet.
    #[inline]
    fn take(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let strong = self.0[word] & bit != 0;
        self.0[word] &= !bit;
        strong
    }

    /// The first strong voxel not taken, at or after word `from_word` (returned updated).
    fn next_from(&self, from_word: &mut usize) -> Option<usize> {
        while *from_word < self.0.len() {
            let w = self.0[*from_word];
            if w != 0 {
                return Some(*from_word * 64 + w.trailing_zeros() as usize);
            }
            *from_word += 1;
        }
        None
    }
}

/// The blobs, and when asked the blob label (1 + index in the sorted list) of every voxel beyond
/// the threshold.
fn blob_search(map: &Map, threshold: f64, model: Option<&Model>, with_members: bool) -> (Vec<Peak>, Vec<(usize, u32)>) {
    let g = &map.geometry;
    let [nx, ny, nz] = g.dims;
    let plane = nx * ny;
    let mut peaks = Vec::new();
    let mut members: Vec<(usize, u32)> = Vec::new();
    let mut stack = Vec::new();
    let threshold32 = threshold as f32;
    for (sign, mut strong) in [1.0f32, -1.0].into_iter().zip(StrongVoxels::of(&map.data, threshold32)) {
        let mut cursor = 0;
        while let Some(start) = strong.next_from(&mut cursor) {
            strong.take(start);
            let blob_id = peaks.len() as u32 + 1;
            stack.clear();
            stack.push(start);
            let (mut count, mut sum, mut best, mut best_value) = (0usize, 0.0f64, start, map.data[start]);
            // Flood fill over the 26 neighbours, within the box.
            while let Some(i) = stack.pop() {
                let v = map.data[i];
                count += 1;
                sum += v as f64;
                if with_members {
                    members.push((i, blob_id));
                }
                if v * sign > best_value * sign {
                    best = i;
                    best_value = v;
                }
                let (x, y, z) = (i % nx, (i / nx) % ny, i / plane);
                for zz in z.saturating_sub(1)..=(z + 1).min(nz - 1) {
                    for yy in y.saturating_sub(1)..=(y + 1).min(ny - 1) {
                        let row = nx * (yy + ny * zz);
                        for xx in x.saturating_sub(1)..=(x + 1).min(nx - 1) {
                            if strong.take(row + xx) {
                                stack.push(row + xx);
                            }
                        }
                    }
                }
            }
            let voxel = [best % nx, (best / nx) % ny, best / plane];
            peaks.push(Peak {
                height: best_value as f64,
                position: refine(map, voxel),
                voxel,
                voxels: count,
                volume: count as f64 * g.voxel_volume(),
                integrated: sum * g.voxel_volume(),
                nearest_atom: None,
                q_value: None,
                copies: 1,
                copy_positions: Vec::new(),
            });
        }
    }
    if let Some(model) = model {
        let index = AtomIndex::new(model);
        peaks.par_iter_mut().for_each(|p| {
            p.nearest_atom = index.nearest_atom_within(p.position, NEAREST_ATOM_RADIUS);
        });
    }
    // Sort strongest first (a stable sort: equal heights keep positive before negative, then
    // voxel order), and renumber the labels to match.
    let mut order: Vec<usize> = (0..peaks.len()).collect();
    order.sort_by(|&a, &b| peaks[b].height.abs().total_cmp(&peaks[a].height.abs()));
    let mut new_id = vec![0u32; peaks.len() + 1];
    for (rank, &old) in order.iter().enumerate() {
        new_id[old + 1] = rank as u32 + 1;
    }
    members.iter_mut().for_each(|(_, l)| *l = new_id[*l as usize]);
    let mut slots: Vec<Option<Peak>> = peaks.into_iter().map(Some).collect();
    let sorted = order.iter().map(|&i| slots[i].take().expect("each blob once")).collect();
    (sorted, members)
}

/// Sub-voxel position of an extremum: the vertex of the parabola through the voxel and its two
/// neighbours along each axis (kept within half a voxel; no refinement at a face).
fn refine(map: &Map, voxel: [usize; 3]) -> [f64; 3] {
    let g = &map.geometry;
    let centre = g.voxel_centre(voxel[0], voxel[1], voxel[2]);
    std::array::from_fn(|a| {
        if voxel[a] == 0 || voxel[a] + 1 >= g.dims[a] {
            return centre[a];
        }
        let mut lower = voxel;
        let mut upper = voxel;
        lower[a] -= 1;
        upper[a] += 1;
        let (m, c, p) = (
            map.at(lower[0], lower[1], lower[2]) as f64,
            map.at(voxel[0], voxel[1], voxel[2]) as f64,
            map.at(upper[0], upper[1], upper[2]) as f64,
        );
        let curvature = m - 2.0 * c + p;
        let offset = if curvature != 0.0 { (0.5 * (m - p) / curvature).clamp(-0.5, 0.5) } else { 0.0 };
        centre[a] + offset * g.voxel_size[a]
    })
}

/// Scores every residue of `model` on the difference map `map` and flags those in negative
/// density by `rule`.
pub fn score_residues(map: &Map, model: &Model, rule: FlagRule) -> Vec<ResidueScore> {
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); model.residues.len()];
    for atom in &model.atoms {
        if let Some(v) = map.interpolate(atom.position) {
            values[atom.residue].push(v);
        }
    }
    let mut scores: Vec<ResidueScore> = model
        .residues
        .iter()
        .zip(values)
        .map(|(residue, v)| {
            let n = v.len();
            let (mean, min, max) = if n == 0 {
                (f64::NAN, f64::NAN, f64::NAN)
            } else {
                (
                    v.iter().sum::<f64>() / n as f64,
                    v.iter().cloned().fold(f64::INFINITY, f64::min),
                    v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                )
            };
            ResidueScore {
                chain: residue.chain.clone(),
                residue_name: residue.name.clone(),
                residue_number: residue.number,
                insertion_code: residue.insertion_code.clone(),
                atoms_scored: n,
                mean,
                min,
                max,
                q_value: None,
                in_negative_density: false,
                copies: None,
            }
        })
        .collect();
    match rule {
        FlagRule::Sigma(threshold) => {
            scores.iter_mut().for_each(|r| r.in_negative_density = r.atoms_scored > 0 && r.min <= -threshold);
        }
        FlagRule::FalseDiscoveryRate(rate) => {
            let scored: Vec<usize> = (0..scores.len()).filter(|&i| scores[i].atoms_scored > 0).collect();
            let p: Vec<f64> = scored
                .iter()
                .map(|&i| crate::analysis::significance::residue_p(scores[i].min, scores[i].atoms_scored))
                .collect();
            for (&i, q) in scored.iter().zip(crate::analysis::significance::benjamini_hochberg(&p)) {
                scores[i].q_value = Some(q);
                scores[i].in_negative_density = q <= rate;
            }
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{GridGeometry, MapHeader};

    fn map_of(dims: [usize; 3], f: impl Fn(usize, usize, usize) -> f32) -> Map {
        let geometry = GridGeometry { dims, voxel_size: [1.0; 3], first_voxel_centre: [0.0; 3] };
        let mut data = vec![0f32; geometry.len()];
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    data[geometry.index(i, j, k)] = f(i, j, k);
                }
            }
        }
        Map { geometry, data, header: MapHeader::for_geometry(&geometry) }
    }

    /// Brute force: a voxel beyond the threshold belongs to the blob of every voxel it reaches
    /// through beyond-threshold neighbours; count blobs by repeated relabelling to a fixed point.
    fn brute_force_blobs(map: &Map, threshold: f64) -> Vec<(usize, f64)> {
        let n = map.data.len();
        let g = map.geometry;
        let mut id: Vec<usize> = (0..n).collect();
        let strong = |i: usize| (map.data[i] as f64).abs() >= threshold;
        loop {
            let mut changed = false;
            for i in 0..n {
                if !strong(i) {
                    continue;
                }
                let (x, y, z) = (i % g.dims[0], (i / g.dims[0]) % g.dims[1], i / (g.dims[0] * g.dims[1]));
                for j in 0..n {
                    let (a, b, c) = (j % g.dims[0], (j / g.dims[0]) % g.dims[1], j / (g.dims[0] * g.dims[1]));
                    let adjacent = x.abs_diff(a) <= 1 && y.abs_diff(b) <= 1 && z.abs_diff(c) <= 1;
                    let same_sign = map.data[i].signum() == map.data[j].signum();
                    if adjacent && strong(j) && same_sign && id[j] < id[i] {
                        id[i] = id[j];
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut blobs: Vec<(usize, f64)> = Vec::new();
        for i in (0..n).filter(|&i| strong(i)) {
            match blobs.iter_mut().find(|b| b.0 == id[i]) {
                Some(b) => {
                    if (map.data[i] as f64).abs() > b.1.abs() {
                        b.1 = map.data[i] as f64;
                    }
                }
                None => blobs.push((id[i], map.data[i] as f64)),
            }
        }
        blobs.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        blobs
    }

    #[test]
    fn blobs_agree_with_brute_force() {
        let map = map_of([9, 8, 7], |i, j, k| {
            (((i * 7 + j * 13 + k * 29) % 17) as f32 - 8.0) * 0.5 + (i as f32 * 0.9).sin() * 2.0
        });
        let ours = find_peaks(&map, 3.0, None);
        let brute = brute_force_blobs(&map, 3.0);
        assert_eq!(ours.len(), brute.len());
        for (p, b) in ours.iter().zip(&brute) {
            assert_eq!(p.height.abs(), b.1.abs());
        }
        assert!(ours.iter().map(|p| p.voxels).sum::<usize>() == map.data.iter().filter(|v| v.abs() >= 3.0).count());
    }

    #[test]
    fn blobs_do_not_wrap_around_the_box() {
        // Strong density on the two opposite X faces: two blobs, not one.
        let map = map_of([10, 6, 6], |i, _, _| if i == 0 || i == 9 { 5.0 } else { 0.0 });
        let peaks = find_peaks(&map, 3.0, None);
        assert_eq!(peaks.len(), 2);
        assert!(peaks.iter().all(|p| p.voxels == 36));
    }

    #[test]
    fn no_peak_above_the_threshold_is_an_empty_list() {
        let map = map_of([5, 5, 5], |i, j, k| ((i + j + k) as f32 * 0.3).sin());
        assert!(find_peaks(&map, 3.0, None).is_empty());
    }

    #[test]
    fn parabolic_refinement_finds_an_off_grid_maximum() {
        // A parabola-shaped peak centred at x = 4.3: refinement recovers it exactly.
        let map = map_of([9, 5, 5], |i, j, k| {
            (10.0 - (i as f32 - 4.3).powi(2) - (j as f32 - 2.0).powi(2) - (k as f32 - 2.0).powi(2)).max(0.0)
        });
        let peaks = find_peaks(&map, 3.0, None);
        assert_eq!(peaks.len(), 1);
        assert!((peaks[0].position[0] - 4.3).abs() < 1e-5, "{:?}", peaks[0].position);
        assert_eq!(peaks[0].voxel, [4, 2, 2]);
    }
}
