//! Masks derived from the model: the voxels near atoms.

use crate::grid::GridGeometry;
use crate::io::model::Model;
use rayon::prelude::*;

/// Voxels whose centre lies within `radius` Å of any atom of `model` (hydrogens included).
///
/// This is the model envelope: statistics over it do not change with how much solvent the box
/// holds, which is why difference maps are normalised by the sd inside it.
pub fn envelope_mask(model: &Model, geometry: &GridGeometry, radius: f64) -> Vec<bool> {
    let positions: Vec<[f64; 3]> = model.positions();
    near_points(geometry, &positions, radius)
}

/// Voxels whose centre lies within `radius` Å of any of `points`. One parallel task per plane
/// of voxels, each marking the discs of the points whose spheres cross it (the points sorted by
/// Z once, so a plane looks only at its own).
pub fn near_points(geometry: &GridGeometry, points: &[[f64; 3]], radius: f64) -> Vec<bool> {
    let [nx, ny, _] = geometry.dims;
    let plane = (nx * ny).max(1);
    let mut mask = vec![false; geometry.len()];
    if radius.is_nan() || radius < 0.0 || points.is_empty() {
        return mask;
    }
    let r2 = radius * radius;
    // Grid coordinates of the points inside the reach of the box, sorted by Z.
    let mut grid: Vec<[f64; 3]> =
        points.iter().map(|p| geometry.grid_coordinates(*p)).filter(|g| g.iter().all(|c| c.is_finite())).collect();
    grid.sort_by(|a, b| a[2].total_cmp(&b[2]));
    let reach: [f64; 3] = std::array::from_fn(|a| radius / geometry.voxel_size[a]);
    mask.par_chunks_mut(plane).enumerate().for_each(|(k, out)| {
        let kz = k as f64;
        let first = grid.partition_point(|g| g[2] < kz - reach[2]);
        for g in grid[first..].iter().take_while(|g| g[2] <= kz + reach[2]) {
            let dz = (kz - g[2]) * geometry.voxel_size[2];
            let rest_z = r2 - dz * dz;
            if rest_z < 0.0 {
                continue;
            }
            let lo_y = (g[1] - reach[1]).ceil().max(0.0);
            let hi_y = (g[1] + reach[1]).floor().min(ny as f64 - 1.0);
            let lo_x = (g[0] - reach[0]).ceil().max(0.0);
            let hi_x = (g[0] + reach[0]).floor().min(nx as f64 - 1.0);
            if lo_y > hi_y || lo_x > hi_x {
                continue;
            }
            for j in lo_y as usize..=hi_y as usize {
                let dy = (j as f64 - g[1]) * geometry.voxel_size[1];
                let rest = rest_z - dy * dy;
                if rest < 0.0 {
                    continue;
                }
                let row = &mut out[j * nx..(j + 1) * nx];
                for (i, m) in row.iter_mut().enumerate().take(hi_x as usize + 1).skip(lo_x as usize) {
                    let dx = (i as f64 - g[0]) * geometry.voxel_size[0];
                    if dx * dx <= rest {
                        *m = true;
                    }
                }
            }
        }
    });
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_points_matches_brute_force() {
        let geometry =
            GridGeometry { dims: [13, 11, 9], voxel_size: [1.1, 0.9, 1.3], first_voxel_centre: [-2.0, 3.0, 1.0] };
        let points = [[0.0, 5.0, 4.0], [9.5, 12.0, 2.0], [30.0, 4.0, 3.0], [4.0, 7.7, 13.5], [3.0, 3.0, -2.5]];
        for radius in [0.5, 2.0, 3.7] {
            let mask = near_points(&geometry, &points, radius);
            for k in 0..9 {
                for j in 0..11 {
                    for i in 0..13 {
                        let c = geometry.voxel_centre(i, j, k);
                        let near = points
                            .iter()
                            .any(|p| (0..3).map(|a| (c[a] - p[a]).powi(2)).sum::<f64>() <= radius * radius);
                        assert_eq!(mask[geometry.index(i, j, k)], near, "{i},{j},{k} radius {radius}");
                    }
                }
            }
        }
        assert!(near_points(&geometry, &points, f64::NAN).iter().all(|m| !m));
    }
}
