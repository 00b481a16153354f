//! The local noise level of the difference map, from the half-map noise that went through the
//! same filters ([`crate::scaling::spectral`]): a windowed rms, so that dividing by it gives z
//! units that follow the noise of each region of the map, not one number for the whole box.
//!
//! The window is a box applied twice, a triangle (tent) of twice the box width at the base:
//! the estimate varies smoothly from voxel to voxel, with no tile edges, and every voxel has its
//! own window. Windows are clipped at the box faces (the means use the voxels inside).

use crate::grid::GridGeometry;
use rayon::prelude::*;

/// Box mean of `data` over `2h+1` voxels along each axis (clipped at the faces), in place.
/// Running sums in f64, so the cost does not depend on the window.
pub fn box_mean_in_place(data: &mut [f32], dims: [usize; 3], half: [usize; 3]) {
    let [nx, ny, nz] = dims;
    assert_eq!(data.len(), nx * ny * nz);
    if data.is_empty() {
        return;
    }
    // A half-width beyond the grid means the same as one that spans it (the windows are
    // clipped at the faces); capping it keeps the Z ring as small as the grid.
    let half = [half[0].min(nx), half[1].min(ny), half[2].min(nz)];
    // X: rows are contiguous.
    data.par_chunks_mut(nx).for_each_init(
        || vec![0f32; nx],
        |copy, row| {
            copy.copy_from_slice(row);
            running_mean(copy, half[0], |i, v| row[i] = v);
        },
    );
    // Y: within each plane, whole rows at a time.
    data.par_chunks_mut(nx * ny).for_each_init(
        || (vec![0f32; nx * ny], vec![0f64; nx]),
        |(copy, sums), plane| {
            copy.copy_from_slice(plane);
            lines_mean(copy, plane, nx, ny, half[1], sums);
        },
    );
    // Z: planes are the lines' elements; a ring keeps the original planes that the window
    // still needs after they have been overwritten.
    let plane_len = nx * ny;
    let h = half[2];
    let mut sums = vec![0f64; plane_len];
    let mut ring: Vec<Vec<f32>> = vec![vec![0f32; plane_len]; h + 2];
    for z in 0..=h.min(nz - 1) {
        add_plane(&mut sums, &data[z * plane_len..(z + 1) * plane_len], 1.0);
    }
    for z in 0..nz {
        let count = (z.min(h) + (nz - 1 - z).min(h) + 1) as f64;
        let plane = &mut data[z * plane_len..(z + 1) * plane_len];
        ring[z % (h + 2)].copy_from_slice(plane);
        plane.par_iter_mut().zip(sums.par_iter()).for_each(|(v, s)| *v = (*s / count) as f32);
        if z + h + 1 < nz {
            let entering = &data[(z + h + 1) * plane_len..(z + h + 2) * plane_len];
            add_plane(&mut sums, entering, 1.0);
        }
        if z >= h {
            add_plane(&mut sums, &ring[(z - h) % (h + 2)], -1.0);
        }
    }
}

fn add_plane(sums: &mut [f64], plane: &[f32], sign: f64) {
    sums.par_chunks_mut(4096).zip(plane.par_chunks(4096)).for_each(|(s, p)| {
        for (s, p) in s.iter_mut().zip(p) {
            *s += sign * *p as f64;
        }
    });
}

/// Running mean over `2h+1` values of `values`, clipped at the ends; `put(i, mean)`.
fn running_mean(values: &[f32], h: usize, mut put: impl FnMut(usize, f32)) {
    let n = values.len();
    let mut sum: f64 = values[..=h.min(n - 1)].iter().map(|v| *v as f64).sum();
    for i in 0..n {
        let count = (i.min(h) + (n - 1 - i).min(h) + 1) as f64;
        put(i, (sum / count) as f32);
        if i + h + 1 < n {
            sum += values[i + h + 1] as f64;
        }
        if i >= h {
            sum -= values[i - h] as f64;
        }
    }
}

/// Running mean along Y of a plane (`ny` rows of `nx`), whole rows at a time.
fn lines_mean(copy: &[f32], plane: &mut [f32], nx: usize, ny: usize, h: usize, sums: &mut [f64]) {
    sums.fill(0.0);
    for j in 0..=h.min(ny - 1) {
        sums.iter_mut().zip(&copy[j * nx..(j + 1) * nx]).for_each(|(s, v)| *s += *v as f64);
    }
    for j in 0..ny {
        let count = (j.min(h) + (ny - 1 - j).min(h) + 1) as f64;
        plane[j * nx..(j + 1) * nx].iter_mut().zip(sums.iter()).for_each(|(p, s)| *p = (*s / count) as f32);
        if j + h + 1 < ny {
            sums.iter_mut().zip(&copy[(j + h + 1) * nx..(j + h + 2) * nx]).for_each(|(s, v)| *s += *v as f64);
        }
        if j >= h {
            sums.iter_mut().zip(&copy[(j - h) * nx..(j - h + 1) * nx]).for_each(|(s, v)| *s -= *v as f64);
        }
    }
}

/// Coarsening of the grid on which the local noise level is estimated: the level is a mean
/// over a 20 Å (or wider) tent, smooth on the scale of two voxels, so it is computed on every
/// second voxel along each axis (an eighth of the work) and interpolated back.
pub const NOISE_GRID_STEP: usize = 2;

/// The local noise level: the variance on a grid coarser by [`NOISE_GRID_STEP`], interpolated
/// on demand.
#[derive(Debug, Clone)]
pub struct LocalNoise {
    variance: Vec<f32>,
    coarse: [usize; 3],
    dims: [usize; 3],
}

impl LocalNoise {
    /// Percentiles (1st, 50th, 99th) of the local noise sd, from the coarse grid.
    pub fn sd_percentiles(&self) -> [f64; 3] {
        let mut sd: Vec<f32> = self.variance.iter().map(|v| v.max(0.0).sqrt()).collect();
        crate::grid::percentiles(&mut sd)
    }

    /// The local noise sd on the full grid, times `scale`.
    pub fn sd_map(&self, scale: f32) -> Vec<f32> {
        let mut sd = crate::grid::filled(self.dims.iter().product(), 0f32);
        self.for_each_voxel(&mut sd, |value, s| *value = s * scale);
        sd
    }

    /// Calls `f(value, sd)` for every voxel of `values` (full grid), planes in parallel.
    fn for_each_voxel<F: Fn(&mut f32, f32) + Sync>(&self, values: &mut [f32], f: F) {
        for_each_voxel_of_coarse(values, &self.variance, self.coarse, self.dims, |value, variance| {
            f(value, variance.max(0.0).sqrt())
        });
    }
}

/// Calls `f(voxel value, trilinear interpolation of `coarse` at the voxel)` for every voxel of
/// a grid of `dims`, `coarse` being sampled every [`NOISE_GRID_STEP`] voxels (block centres).
fn for_each_voxel_of_coarse<F: Fn(&mut f32, f32) + Sync>(
    values: &mut [f32],
    coarse_values: &[f32],
    coarse: [usize; 3],
    dims: [usize; 3],
    f: F,
) {
    let [nx, ny, _] = dims;
    let [cx, cy, cz] = coarse;
    let step = NOISE_GRID_STEP;
    let offset = (step as f64 - 1.0) / 2.0;
    let position = |i: usize, n: usize| {
        let t = ((i as f64 - offset) / step as f64).clamp(0.0, (n - 1) as f64);
        let lower = (t.floor() as usize).min(n.saturating_sub(2));
        (lower, (lower + 1).min(n - 1), t - lower as f64)
    };
    let xs: Vec<(usize, usize, f64)> = (0..nx).map(|i| position(i, cx)).collect();
    let lerp = |a: f32, b: f32, f: f32| a + (b - a) * f;
    values.par_chunks_mut(nx * ny).enumerate().for_each_init(
        || vec![0f32; cx],
        |coarse_row, (z, plane)| {
            let (z0, z1, fz) = position(z, cz);
            let at = |j: usize, k: usize| &coarse_values[cx * (j + cy * k)..][..cx];
            for y in 0..ny {
                // Trilinear = bilinear in Y and Z once per coarse row, then linear in X per
                // voxel: a quarter of the lookups of the direct form.
                let (y0, y1, fy) = position(y, cy);
                let (fy, fz) = (fy as f32, fz as f32);
                let rows = [at(y0, z0), at(y1, z0), at(y0, z1), at(y1, z1)];
                for (i, value) in coarse_row.iter_mut().enumerate() {
                    *value = lerp(lerp(rows[0][i], rows[1][i], fy), lerp(rows[2][i], rows[3][i], fy), fz);
                }
                for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
                    f(&mut plane[x + nx * y], lerp(coarse_row[x0], coarse_row[x1], fx as f32));
                }
            }
        },
    );
}

/// Replaces `difference` by `difference / local noise sd` (z units) and returns the local noise
/// level. The sd is the square root of the tent-window mean of `noise²`, the
/// tent being a box of `window` Å applied twice (so its half-height width is `window`),
/// computed on a grid coarser by [`NOISE_GRID_STEP`] and interpolated trilinearly. Where the
/// noise level is zero (a flattened region of a masked map) z is set to zero.
pub fn divide_by_local_noise(
    difference: &mut [f32],
    noise: Vec<f32>,
    geometry: &GridGeometry,
    window: f64,
) -> LocalNoise {
    let [nx, ny, nz] = geometry.dims;
    let step = NOISE_GRID_STEP;
    let coarse = geometry.dims.map(|n| n.div_ceil(step));
    let [cx, cy, cz] = coarse;
    // Mean of noise² over each step³ block (clipped at the far faces).
    let mut variance = vec![0f32; cx * cy * cz];
    variance.par_chunks_mut(cx * cy).enumerate().for_each_init(
        || vec![0f64; cx],
        |sums, (k, plane)| {
            // Whole fine rows at a time (contiguous reads), folded into the coarse row.
            let z_range = k * step..((k + 1) * step).min(nz);
            let z_count = z_range.len();
            for j in 0..cy {
                sums.fill(0.0);
                let y_range = j * step..((j + 1) * step).min(ny);
                let y_count = y_range.len();
                for z in z_range.clone() {
                    for y in y_range.clone() {
                        let row = &noise[nx * (y + ny * z)..][..nx];
                        for (sum, block) in sums.iter_mut().zip(row.chunks(step)) {
                            *sum += block.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>();
                        }
                    }
                }
                for (i, (value, sum)) in plane[cx * j..][..cx].iter_mut().zip(sums.iter()).enumerate() {
                    let x_count = ((i + 1) * step).min(nx) - i * step;
                    *value = (sum / (x_count * y_count * z_count) as f64) as f32;
                }
            }
        },
    );
    drop(noise);
    let coarse_voxel = geometry.voxel_size.map(|v| v * step as f64);
    let half: [usize; 3] = std::array::from_fn(|a| ((window / coarse_voxel[a] / 2.0).round() as usize).max(1));
    box_mean_in_place(&mut variance, coarse, half);
    box_mean_in_place(&mut variance, coarse, half);
    let noise = LocalNoise { variance, coarse, dims: geometry.dims };
    noise.for_each_voxel(difference, |d, s| *d = if s > 0.0 { *d / s } else { 0.0 });
    noise
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_mean_matches_brute_force() {
        let dims = [7, 5, 6];
        let original: Vec<f32> = (0..7 * 5 * 6).map(|i| ((i * 37) % 23) as f32).collect();
        for half in [[1, 1, 1], [2, 0, 3], [4, 3, 7]] {
            let mut data = original.clone();
            box_mean_in_place(&mut data, dims, half);
            for k in 0..dims[2] {
                for j in 0..dims[1] {
                    for i in 0..dims[0] {
                        let (mut sum, mut count) = (0.0f64, 0.0);
                        for kk in k.saturating_sub(half[2])..=(k + half[2]).min(dims[2] - 1) {
                            for jj in j.saturating_sub(half[1])..=(j + half[1]).min(dims[1] - 1) {
                                for ii in i.saturating_sub(half[0])..=(i + half[0]).min(dims[0] - 1) {
                                    sum += original[ii + dims[0] * (jj + dims[1] * kk)] as f64;
                                    count += 1.0;
                                }
                            }
                        }
                        let got = data[i + dims[0] * (j + dims[1] * k)] as f64;
                        assert!((got - sum / count).abs() < 1e-4, "{half:?} at {i},{j},{k}: {got} vs {}", sum / count);
                    }
                }
            }
        }
    }

    #[test]
    fn local_sd_follows_a_step_in_the_noise_level() {
        // Noise of sd 1 in the lower half of Z and 3 in the upper: the estimate follows, with a
        // smooth transition about one window wide, and z comes out with sd 1 on both sides.
        let geometry = GridGeometry { dims: [32, 30, 64], voxel_size: [1.0; 3], first_voxel_centre: [0.0; 3] };
        let mut state = 12345u64;
        let mut uniform = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) as f32
        };
        let level = |i: usize| if i / (32 * 30) < 32 { 1.0 } else { 3.0 };
        let noise: Vec<f32> = (0..geometry.len()).map(|i| level(i) * (uniform() - 0.5) * 12f32.sqrt()).collect();
        let mut z: Vec<f32> = (0..geometry.len()).map(|i| level(i) * (uniform() - 0.5) * 12f32.sqrt()).collect();
        let sd = divide_by_local_noise(&mut z, noise, &geometry, 8.0).sd_map(1.0);
        let at = |z: usize| sd[geometry.index(16, 15, z)];
        assert!((at(8) - 1.0).abs() < 0.1, "{}", at(8));
        assert!((at(56) - 3.0).abs() < 0.3, "{}", at(56));
        assert!(at(30) > at(8) && at(30) < at(40) && at(40) < at(56) + 0.3);
        let sd_of = |planes: std::ops::Range<usize>| {
            let values: Vec<f64> =
                planes.flat_map(|k| (0..32 * 30).map(move |i| k * 32 * 30 + i)).map(|i| z[i] as f64).collect();
            (values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64).sqrt()
        };
        assert!(
            (sd_of(0..20) - 1.0).abs() < 0.1 && (sd_of(44..64) - 1.0).abs() < 0.1,
            "{} {}",
            sd_of(0..20),
            sd_of(44..64)
        );
    }
}

/// Statistics of a map over voxels far from every atom, where a difference map in z units holds
/// only noise.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FarFromModel {
    /// Minimum distance from every atom, Å.
    pub distance: f64,
    /// Voxels sampled (every third voxel along each axis).
    pub voxels: usize,
    /// Mean value there.
    pub mean: f64,
    /// Standard deviation there.
    pub sd: f64,
}

/// Mean and sd of `values` over voxels farther than `distance` from every atom, sampling every
/// third voxel along each axis (the statistics need thousands of voxels, not all of them, and
/// marking the neighbourhood of every atom at full resolution would cost more than the map).
/// `None` when no sampled voxel is that far.
pub fn far_from_model_statistics(
    values: &[f32],
    geometry: &GridGeometry,
    positions: &[[f64; 3]],
    distance: f64,
) -> Option<FarFromModel> {
    const STEP: usize = 3;
    let (coarse, near) = mark_near_atoms(geometry, STEP, positions, distance);
    let (mut n, mut sum, mut sum_sq) = (0usize, 0.0f64, 0.0f64);
    for k in 0..coarse[2] {
        for j in 0..coarse[1] {
            for i in 0..coarse[0] {
                if near[i + coarse[0] * (j + coarse[1] * k)] {
                    continue;
                }
                let v = values[geometry.index(i * STEP, j * STEP, k * STEP)] as f64;
                n += 1;
                sum += v;
                sum_sq += v * v;
            }
        }
    }
    (n > 0).then(|| {
        let mean = sum / n as f64;
        FarFromModel { distance, voxels: n, mean, sd: (sum_sq / n as f64 - mean * mean).max(0.0).sqrt() }
    })
}

/// Marks the voxels of a grid `step` times coarser than `geometry` (voxel (i, j, k) of it is
/// voxel (step·i, step·j, step·k) of the map) whose centre lies within `distance` of an atom;
/// `step` 1 marks the map's own voxels. Returns the coarse grid's dims and the marks (the
/// one near-atom kernel, [`crate::density::mask::near_points`], on the coarse grid).
pub fn mark_near_atoms(
    geometry: &GridGeometry,
    step: usize,
    positions: &[[f64; 3]],
    distance: f64,
) -> ([usize; 3], Vec<bool>) {
    let coarse = GridGeometry {
        dims: geometry.dims.map(|n| n.div_ceil(step)),
        voxel_size: geometry.voxel_size.map(|v| v * step as f64),
        first_voxel_centre: geometry.first_voxel_centre,
    };
    (coarse.dims, crate::density::mask::near_points(&coarse, positions, distance))
}

/// Voxels farther than this from every atom are solvent for the single-map noise estimate.
pub const SOLVENT_DISTANCE: f64 = crate::defaults::DEFAULT_FAR_FROM_MODEL;

/// A smooth solvent indicator for `solvent_noise=true` ([`crate::difference::DifferenceOptions::solvent_noise`]): 1 farther than `distance` from every atom,
/// 0 near the model, with a soft edge a few Å wide (a hard edge would put the mask's own
/// high-frequency power into the noise spectrum). Returns the mask and its mean.
pub fn solvent_mask(geometry: &GridGeometry, positions: &[[f64; 3]], distance: f64) -> (Vec<f32>, f64) {
    let step = NOISE_GRID_STEP;
    let (coarse, near) = mark_near_atoms(geometry, step, positions, distance);
    let mut coarse_mask: Vec<f32> = near.iter().map(|n| if *n { 0.0 } else { 1.0 }).collect();
    // Softened by a box of 3 coarse voxels applied twice, then interpolated: the edge rises
    // over about 2 coarse voxels either side of `distance`.
    box_mean_in_place(&mut coarse_mask, coarse, [1; 3]);
    box_mean_in_place(&mut coarse_mask, coarse, [1; 3]);
    let mut mask = crate::grid::filled(geometry.len(), 0f32);
    for_each_voxel_of_coarse(&mut mask, &coarse_mask, coarse, geometry.dims, |value, m| *value = m);
    let mean = mask.par_iter().map(|m| *m as f64).sum::<f64>() / geometry.len().max(1) as f64;
    (mask, mean)
}

/// The share of the voxels farther than `distance` from every atom (sampled every third voxel)
/// that hold one and the same value: about 0 for a map with noise in its solvent, most of them
/// for a masked map (flattened to a constant, usually 0).
pub fn flat_solvent_share(values: &[f32], geometry: &GridGeometry, positions: &[[f64; 3]], distance: f64) -> f64 {
    const STEP: usize = 3;
    let (coarse, near) = mark_near_atoms(geometry, STEP, positions, distance);
    let mut samples: Vec<u32> = Vec::new();
    for k in 0..coarse[2] {
        for j in 0..coarse[1] {
            for i in 0..coarse[0] {
                if !near[i + coarse[0] * (j + coarse[1] * k)] {
                    // -0.0 and 0.0 are the same flat value.
                    samples.push((values[geometry.index(i * STEP, j * STEP, k * STEP)] + 0.0).to_bits());
                }
            }
        }
    }
    if samples.is_empty() {
        return 0.0;
    }
    samples.par_sort_unstable();
    let longest = samples.chunk_by(|a, b| a == b).map(<[u32]>::len).max().unwrap_or(0);
    longest as f64 / samples.len() as f64
}
