//! The generated benchmark case shared by the benches.

use real_space_diff_map::io::model::{Model, read_model};
use std::path::Path;

/// The testdata model tiled 4 x 4 x 3 through a cubic box of `n` voxels of `voxel` Å
/// (about 77,500 atoms): a large, realistic atom density for speed measurements.
pub fn tiled_model(n: usize, voxel: f64) -> Model {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = read_model(root.join("testdata/6vyb_Ndom.pdb")).expect("testdata model");
    let mut lo = [f64::INFINITY; 3];
    for atom in &unit.atoms {
        for (l, p) in lo.iter_mut().zip(atom.position) {
            *l = l.min(p);
        }
    }
    let box_len = n as f64 * voxel;
    let tiles = [4usize, 4, 3];
    let mut model = unit.clone();
    model.atoms.clear();
    for tz in 0..tiles[2] {
        for ty in 0..tiles[1] {
            for tx in 0..tiles[0] {
                let t = [tx, ty, tz];
                for atom in &unit.atoms {
                    let mut copy = atom.clone();
                    copy.position = std::array::from_fn(|a| {
                        atom.position[a] - lo[a] + 5.0 + t[a] as f64 * box_len / tiles[a] as f64
                    });
                    model.atoms.push(copy);
                }
            }
        }
    }
    model
}
