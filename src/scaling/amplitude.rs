//! The amplitude difference: `(|F_obs| - k |F_calc|) exp(i φ_obs)`, computed window by window
//! and blended, so that `k` is local like the sliding-window fit of the complex difference.
//!
//! An amplitude needs a Fourier transform of a region, so this variant cannot use the O(N) box
//! sums of [`crate::scaling::local`]. Instead the map is covered by cubic tiles of edge `T`
//! overlapping by half; each tile is multiplied by `sin²(π (x + ½) / T)` along every axis. At a
//! stride of `T/2` these windows add up to exactly one everywhere, so the per-tile results,
//! added up, blend smoothly with no seams. Per tile: Fourier transform of the windowed
//! experimental and model maps; `k` by least squares on the amplitudes below `d_min`; the
//! difference on the experimental phases; back to real space. F(000) is left out of the fit and
//! of the difference, the counterpart of the local offset of the complex variant.

use crate::density::fourier::{Fft3d, fft_friendly_size};
use crate::grid::GridGeometry;
use rayon::prelude::*;
use rustfft::num_complex::Complex32;

/// Tile edge in voxels for a window of `window` Å: twice the window (the sin² window's
/// half-width matches the box window), FFT-friendly, at least 8.
pub fn tile_voxels(window: f64, voxel_size: [f64; 3]) -> usize {
    let h = voxel_size.iter().cloned().fold(f64::INFINITY, f64::min);
    fft_friendly_size(((2.0 * window / h).round() as usize).max(8))
}

/// Computes the amplitude difference of resolution-limited maps `obs` and `calc` (same grid),
/// in map units. `fallback_scale` is used in tiles that hold (almost) no model.
pub fn amplitude_difference(
    obs: &[f32],
    calc: &[f32],
    geometry: &GridGeometry,
    d_min: f64,
    window: f64,
    fallback_scale: f64,
) -> Vec<f32> {
    let dims = geometry.dims;
    // A window wider than the box holds nothing more than the box: tiles stop growing there
    // (an unbounded tile is an unbounded FFT).
    let longest_edge = (0..3).map(|a| dims[a] as f64 * geometry.voxel_size[a]).fold(0.0, f64::max);
    let tile = tile_voxels(window.min(longest_edge), geometry.voxel_size);
    let half = tile / 2;
    let taper: Vec<f32> =
        (0..tile).map(|x| (std::f64::consts::PI * (x as f64 + 0.5) / tile as f64).sin().powi(2) as f32).collect();
    // Tile origins per axis lie on a lattice anchored to absolute voxel positions (the map's
    // origin in voxel units), not to the box start: a box cut at another voxel gets the same tiles
    // where it overlaps, so the result does not depend on where the box starts. Tiles start from
    // below the box so every voxel is covered by two tiles along each axis.
    let starts: Vec<Vec<isize>> = (0..3)
        .map(|a| {
            let absolute_start = (geometry.first_voxel_centre[a] / geometry.voxel_size[a]).round() as isize;
            let mut first = (-absolute_start).rem_euclid(half as isize);
            while first > -(tile as isize) + half as isize {
                first -= half as isize;
            }
            (0..).map(|t| first + t as isize * half as isize).take_while(|&s| s < dims[a] as isize).collect()
        })
        .collect();
    let fft = Fft3d::new([tile; 3]);
    let s_max = 1.0 / d_min;
    let calc_variance = {
        let stats = crate::grid::MapStatistics::of(calc);
        stats.sd * stats.sd
    };
    let mut out = vec![0f32; obs.len()];
    // Tiles whose indices have the same parity along every axis do not overlap: each class runs
    // in parallel, and the classes one after the other.
    for parity in 0..8usize {
        let mut class: Vec<[isize; 3]> = Vec::new();
        for (_, &z) in starts[2].iter().enumerate().filter(|(t, _)| t % 2 == (parity >> 2) & 1) {
            for (_, &y) in starts[1].iter().enumerate().filter(|(t, _)| t % 2 == (parity >> 1) & 1) {
                for (_, &x) in starts[0].iter().enumerate().filter(|(t, _)| t % 2 == parity & 1) {
                    class.push([x, y, z]);
                }
            }
        }
        let results: Vec<([isize; 3], Vec<f32>)> = class
            .par_iter()
            .map(|&origin| {
                (
                    origin,
                    process_tile(obs, calc, geometry, origin, tile, &taper, &fft, s_max, calc_variance, fallback_scale),
                )
            })
            .collect();
        for (origin, values) in results {
            for_each_voxel_in_box(geometry, origin, tile, |tile_index, grid_index, _| {
                out[grid_index] += values[tile_index]
            });
        }
    }
    out
}

/// Calls `f(tile index, grid index, [x, y, z] within the tile)` for the voxels of the cubic tile
/// at `origin` (edge `tile`) that lie inside the grid.
fn for_each_voxel_in_box(
    geometry: &GridGeometry,
    origin: [isize; 3],
    tile: usize,
    mut f: impl FnMut(usize, usize, [usize; 3]),
) {
    let inside = |a: usize, t: usize| {
        let g = origin[a] + t as isize;
        (g >= 0 && g < geometry.dims[a] as isize).then_some(g as usize)
    };
    for z in 0..tile {
        let Some(gz) = inside(2, z) else { continue };
        for y in 0..tile {
            let Some(gy) = inside(1, y) else { continue };
            for x in 0..tile {
                let Some(gx) = inside(0, x) else { continue };
                f(x + tile * (y + tile * z), geometry.index(gx, gy, gz), [x, y, z]);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn process_tile(
    obs: &[f32],
    calc: &[f32],
    geometry: &GridGeometry,
    origin: [isize; 3],
    tile: usize,
    taper: &[f32],
    fft: &Fft3d,
    s_max: f64,
    calc_variance: f64,
    fallback_scale: f64,
) -> Vec<f32> {
    let n = tile * tile * tile;
    let mut wo = vec![0f32; n];
    let mut wc = vec![0f32; n];
    for_each_voxel_in_box(geometry, origin, tile, |tile_index, grid_index, [x, y, z]| {
        let w = taper[x] * taper[y] * taper[z];
        wo[tile_index] = w * obs[grid_index];
        wc[tile_index] = w * calc[grid_index];
    });
    let mut fo = fft.forward(&mut wo);
    let fc = fft.forward(&mut wc);
    // Least squares on amplitudes below d_min; terms of the half spectrum with 0 < h < T/2
    // stand for two (Friedel mates), F(000) is left out.
    let half_x = fft.half_x();
    let (mut sxy, mut syy) = (0.0f64, 0.0f64);
    let inv_len = 1.0 / (tile as f64);
    let s2_of = |index: usize| -> f64 {
        let h = index % half_x;
        let k = (index / half_x) % tile;
        let l = index / (half_x * tile);
        let s: [f64; 3] = [
            h as f64 * inv_len / geometry.voxel_size[0],
            Fft3d::frequency(k, tile) as f64 * inv_len / geometry.voxel_size[1],
            Fft3d::frequency(l, tile) as f64 * inv_len / geometry.voxel_size[2],
        ];
        s[0] * s[0] + s[1] * s[1] + s[2] * s[2]
    };
    let s_max2 = s_max * s_max;
    for (index, (o, c)) in fo.iter().zip(&fc).enumerate() {
        if index == 0 || s2_of(index) > s_max2 {
            continue;
        }
        let h = index % half_x;
        let weight = if h == 0 || 2 * h == tile { 1.0 } else { 2.0 };
        let (ao, ac) = (o.norm() as f64, c.norm() as f64);
        sxy += weight * ao * ac;
        syy += weight * ac * ac;
    }
    // Tiles with almost no model power keep the global scale.
    let negligible = syy < 1e-6 * calc_variance * (n * n) as f64;
    let k = if negligible { fallback_scale } else { sxy / syy };
    for (index, (o, c)) in fo.iter_mut().zip(&fc).enumerate() {
        if index == 0 || s2_of(index) > s_max2 {
            *o = Complex32::new(0.0, 0.0);
            continue;
        }
        let ao = o.norm();
        if ao > 0.0 {
            let difference = ao - (k as f32) * c.norm();
            *o *= difference / ao / n as f32;
        }
    }
    let mut result = vec![0f32; n];
    fft.inverse(&mut fo, &mut result);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_squared_tiles_sum_to_one() {
        let tile = 12;
        let half = tile / 2;
        let taper: Vec<f64> =
            (0..tile).map(|x| (std::f64::consts::PI * (x as f64 + 0.5) / tile as f64).sin().powi(2)).collect();
        for p in 0..half {
            assert!((taper[p] + taper[p + half] - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn a_scaled_copy_leaves_no_difference() {
        // obs = 2 calc everywhere: every tile fits k = 2 and the difference vanishes.
        let geometry = GridGeometry { dims: [30, 28, 26], voxel_size: [1.0; 3], first_voxel_centre: [0.0; 3] };
        let calc: Vec<f32> = (0..geometry.len())
            .map(|i| {
                let (x, y, z) = (i % 30, (i / 30) % 28, i / 840);
                ((x as f32 * 0.6).sin() + (y as f32 * 0.45).cos() * (z as f32 * 0.5).sin()) * 0.5
            })
            .collect();
        let obs: Vec<f32> = calc.iter().map(|c| 2.0 * c).collect();
        let d = amplitude_difference(&obs, &calc, &geometry, 3.0, 8.0, 2.0);
        let peak = obs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = d.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(worst < 1e-3 * peak, "{worst} vs {peak}");
    }
}
