//! Masks derived from the model: the voxels near atoms.

use crate::grid::GridGeometry;
use crate::io::model::Model;

/// Voxels whose centre lies within `radius` Å of any atom of `model` (hydrogens included).
///
/// This is the model envelope: statistics over it do not change with how much solvent the box
/// holds, which is why difference maps are normalised by the sd inside it.
pub fn envelope_mask(model: &Model, geometry: &GridGeometry, radius: f64) -> Vec<bool> {
    let mut mask = vec![false; geometry.len()];
    let r2 = radius * radius;
    for atom in &model.atoms {
        let g = geometry.grid_coordinates(atom.position);
        let mut range = [(0usize, 0usize); 3];
        let mut outside = false;
        for a in 0..3 {
            let r = radius / geometry.voxel_size[a];
            let lo = (g[a] - r).ceil().max(0.0);
            let hi = (g[a] + r).floor().min(geometry.dims[a] as f64 - 1.0);
            if lo > hi {
                outside = true;
                break;
            }
            range[a] = (lo as usize, hi as usize);
        }
        if outside {
            continue;
        }
        for k in range[2].0..=range[2].1 {
            let dz = (k as f64 - g[2]) * geometry.voxel_size[2];
            for j in range[1].0..=range[1].1 {
                let dy = (j as f64 - g[1]) * geometry.voxel_size[1];
                let rest = r2 - dy * dy - dz * dz;
                if rest < 0.0 {
                    continue;
                }
                for i in range[0].0..=range[0].1 {
                    let dx = (i as f64 - g[0]) * geometry.voxel_size[0];
                    if dx * dx <= rest {
                        mask[geometry.index(i, j, k)] = true;
                    }
                }
            }
        }
    }
    mask
}
