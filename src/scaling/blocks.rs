//! A grid coarser by an integer step, for quantities that vary slowly from voxel to voxel (the
//! local fit's scale and offset, over a 20 Å window): block sums of fine fields, work on the
//! blocks (an eighth of the voxels at step 2), and trilinear interpolation back to every voxel.
//!
//! Blocks are anchored to a point of the data (the model's centroid), not to the first voxel of
//! the box: a map and a crop of it have the same blocks wherever both have voxels, and so do
//! the same map and model in another frame (translated together), so the result depends
//! neither on where the box starts nor on the frame. (Anchored to the frame's origin instead,
//! a frame moved by an odd number of voxels changed the local fit by up to 0.08 sd.) The first
//! and last block along an axis may be partial.

use crate::grid::GridGeometry;
use std::ops::Range;

/// Blocks of `step` voxels along each axis, anchored to absolute voxel positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockGrid {
    /// Voxels per block along each axis.
    pub step: usize,
    /// Fine grid dimensions (X, Y, Z).
    pub dims: [usize; 3],
    /// Number of blocks along X, Y, Z.
    pub blocks: [usize; 3],
    /// Index of the fine grid's voxel 0 along each axis, counted from the voxel nearest the
    /// anchor (whose block starts there).
    first: [i64; 3],
    /// The point (Å) the blocks are anchored to.
    anchor: [f64; 3],
}

/// Along one axis, for a fine voxel: the lower and upper block of its interpolation and the
/// weight of the upper one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AxisWeight {
    /// Lower block.
    pub lower: usize,
    /// Upper block (equal to `lower` at the ends, where the value is held).
    pub upper: usize,
    /// Weight of `upper`.
    pub weight: f32,
}

impl BlockGrid {
    /// Blocks of `step` voxels over `geometry`, one of them starting at the voxel nearest to
    /// `anchor` (Å).
    pub fn new(geometry: &GridGeometry, step: usize, anchor: [f64; 3]) -> Self {
        assert!(step >= 1, "a block holds at least one voxel");
        let first: [i64; 3] = std::array::from_fn(|a| {
            let index = (geometry.first_voxel_centre[a] - anchor[a]) / geometry.voxel_size[a];
            // Placements far beyond any real map would overflow; anchor those at the box start.
            if index.is_finite() && index.abs() < 1e15 { index.round() as i64 } else { 0 }
        });
        let mut grid = BlockGrid { step, dims: geometry.dims, blocks: [0; 3], first, anchor };
        grid.blocks =
            std::array::from_fn(|a| if geometry.dims[a] == 0 { 0 } else { grid.block_of(a, geometry.dims[a] - 1) + 1 });
        grid
    }

    /// A point (Å) where one of the blocks starts: blocks of another step made with it as the
    /// anchor line up with these (the one step dividing the other).
    pub fn anchor(&self) -> [f64; 3] {
        self.anchor
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.iter().product()
    }

    /// True when the grid has no blocks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index of a block in a coarse field (X fastest).
    #[inline]
    pub fn index(&self, bx: usize, by: usize, bz: usize) -> usize {
        bx + self.blocks[0] * (by + self.blocks[1] * bz)
    }

    /// The block that fine voxel `i` along `axis` falls in.
    #[inline]
    pub fn block_of(&self, axis: usize, i: usize) -> usize {
        let step = self.step as i64;
        ((self.first[axis] + i as i64).div_euclid(step) - self.first[axis].div_euclid(step)) as usize
    }

    /// The fine voxels of block `b` along `axis`.
    pub fn fine_range(&self, axis: usize, b: usize) -> Range<usize> {
        let step = self.step as i64;
        let start = (self.first[axis].div_euclid(step) + b as i64) * step - self.first[axis];
        let end = start + step;
        (start.max(0) as usize)..(end.min(self.dims[axis] as i64).max(0) as usize)
    }

    /// Per axis, whether each fine voxel is the first of its block.
    pub fn first_of_block(&self) -> [Vec<bool>; 3] {
        std::array::from_fn(|axis| {
            (0..self.dims[axis]).map(|i| self.fine_range(axis, self.block_of(axis, i)).start == i).collect()
        })
    }

    /// The block of this grid that a block `b` of the finer grid `fine` falls in, along `axis`
    /// (`fine` has the same anchor and a step that divides this one's).
    pub fn block_of_block(&self, axis: usize, fine: &BlockGrid, b: usize) -> usize {
        self.block_of(axis, fine.fine_range(axis, b).start)
    }

    /// Interpolation weights of every fine voxel along `axis` between the centres of the blocks
    /// (nominal centres: a partial block keeps the centre of the whole block it is part of).
    /// Beyond the first and last centre the value is held.
    pub fn axis_weights(&self, axis: usize) -> Vec<AxisWeight> {
        (0..self.dims[axis]).map(|i| self.weight_at(axis, (self.first[axis] + i as i64) as f64)).collect()
    }

    /// Interpolation weights, along `axis`, at the (nominal) centres of the blocks of `finer`,
    /// a grid with the same anchor and a step that divides this one's.
    pub fn axis_weights_at_blocks(&self, axis: usize, finer: &BlockGrid) -> Vec<AxisWeight> {
        let base = finer.first[axis].div_euclid(finer.step as i64);
        (0..finer.blocks[axis])
            .map(|b| {
                let centre = ((base + b as i64) * finer.step as i64) as f64 + (finer.step as f64 - 1.0) / 2.0;
                self.weight_at(axis, centre)
            })
            .collect()
    }

    /// Interpolation weight along `axis` at voxel coordinate `absolute` (counted from the anchor).
    fn weight_at(&self, axis: usize, absolute: f64) -> AxisWeight {
        let step = self.step as f64;
        let n = self.blocks[axis];
        // Position in block units, 0 at the centre of block 0.
        let t = (absolute - (step - 1.0) / 2.0) / step - self.first[axis].div_euclid(self.step as i64) as f64;
        if t <= 0.0 || n == 1 {
            return AxisWeight { lower: 0, upper: 0, weight: 0.0 };
        }
        if t >= (n - 1) as f64 {
            return AxisWeight { lower: n - 1, upper: n - 1, weight: 0.0 };
        }
        let lower = t.floor() as usize;
        AxisWeight { lower, upper: lower + 1, weight: (t - lower as f64) as f32 }
    }
}

/// Trilinear interpolation of `M` coarse fields of a [`BlockGrid`] at the voxels of the fine
/// grid (or at the block centres of a finer block grid), one row at a time.
pub struct Interpolator<'a, const M: usize> {
    grid: &'a BlockGrid,
    fields: [&'a [f32]; M],
    weights: [Vec<AxisWeight>; 3],
}

impl<'a, const M: usize> Interpolator<'a, M> {
    /// Interpolates `fields` (each one value per block of `grid`) at the voxels of its grid.
    pub fn new(grid: &'a BlockGrid, fields: [&'a [f32]; M]) -> Self {
        assert!(fields.iter().all(|f| f.len() == grid.len()), "one value per block");
        Interpolator { grid, fields, weights: std::array::from_fn(|a| grid.axis_weights(a)) }
    }

    /// Interpolates `fields` (each one value per block of `grid`) at the block centres of
    /// `finer`: rows and indices are then those of `finer`'s blocks.
    pub fn at_blocks_of(grid: &'a BlockGrid, fields: [&'a [f32]; M], finer: &BlockGrid) -> Self {
        assert!(fields.iter().all(|f| f.len() == grid.len()), "one value per block");
        Interpolator { grid, fields, weights: std::array::from_fn(|a| grid.axis_weights_at_blocks(a, finer)) }
    }

    /// The `M` fields interpolated along row (y, z), into the first `M` of `rows`. `scratch`
    /// holds `M` coarse rows between calls.
    pub fn row(&self, y: usize, z: usize, scratch: &mut [Vec<f32>], rows: &mut [Vec<f32>]) {
        let [bx, by, _] = self.grid.blocks;
        let (wy, wz) = (self.weights[1][y], self.weights[2][z]);
        let lerp = |a: f32, b: f32, f: f32| a + (b - a) * f;
        // Bilinear in Y and Z once per coarse row, then linear in X per voxel: a quarter of the
        // lookups of the direct form.
        for m in 0..M {
            let field = self.fields[m];
            let at = |j: usize, k: usize| &field[bx * (j + by * k)..][..bx];
            let (r00, r10, r01, r11) =
                (at(wy.lower, wz.lower), at(wy.upper, wz.lower), at(wy.lower, wz.upper), at(wy.upper, wz.upper));
            let coarse = &mut scratch[m];
            coarse.resize(bx, 0.0);
            for i in 0..bx {
                coarse[i] = lerp(lerp(r00[i], r10[i], wy.weight), lerp(r01[i], r11[i], wy.weight), wz.weight);
            }
            let row = &mut rows[m];
            row.resize(self.weights[0].len(), 0.0);
            for (value, w) in row.iter_mut().zip(&self.weights[0]) {
                *value = lerp(coarse[w.lower], coarse[w.upper], w.weight);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(dims: [usize; 3], first: [f64; 3]) -> GridGeometry {
        GridGeometry { dims, voxel_size: [1.5; 3], first_voxel_centre: first.map(|f| f * 1.5) }
    }

    #[test]
    fn blocks_are_anchored_to_absolute_positions() {
        // A box starting at absolute voxel -3 (odd): its first block of 2 holds one voxel.
        let grid = BlockGrid::new(&geometry([7, 4, 4], [-3.0, 0.0, 5.0]), 2, [0.0; 3]);
        assert_eq!(grid.blocks, [4, 2, 3]);
        assert_eq!(grid.fine_range(0, 0), 0..1);
        assert_eq!(grid.fine_range(0, 1), 1..3);
        assert_eq!(grid.fine_range(0, 3), 5..7);
        assert_eq!((0..7).map(|i| grid.block_of(0, i)).collect::<Vec<_>>(), [0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(grid.fine_range(2, 2), 3..4);
        // The same voxels in a box cropped by one voxel fall in the same blocks.
        let crop = BlockGrid::new(&geometry([6, 4, 4], [-2.0, 0.0, 5.0]), 2, [0.0; 3]);
        assert_eq!((0..6).map(|i| crop.block_of(0, i)).collect::<Vec<_>>(), [0, 0, 1, 1, 2, 2]);
        // And so do they in a frame moved by 5 voxels, the anchor moved with the data.
        let moved = BlockGrid::new(&geometry([6, 4, 4], [3.0, 0.0, 5.0]), 2, [7.5, 0.0, 0.0]);
        assert_eq!((0..6).map(|i| moved.block_of(0, i)).collect::<Vec<_>>(), [0, 0, 1, 1, 2, 2]);
        assert_eq!(moved.axis_weights(0), crop.axis_weights(0));
        let (full, cropped) = (grid.axis_weights(0), crop.axis_weights(0));
        for i in 2..6 {
            assert_eq!(full[i + 1].weight, cropped[i].weight, "voxel {i}");
        }
    }

    #[test]
    fn coarser_blocks_hold_whole_finer_blocks() {
        let g = geometry([13, 3, 3], [-5.0, 2.0, 1.0]);
        let (fine, coarse) = (BlockGrid::new(&g, 2, [0.7; 3]), BlockGrid::new(&g, 4, [0.7; 3]));
        for b in 0..fine.blocks[0] {
            let parent = coarse.block_of_block(0, &fine, b);
            for i in fine.fine_range(0, b) {
                assert_eq!(coarse.block_of(0, i), parent);
            }
        }
    }

    #[test]
    fn interpolation_at_finer_blocks_matches_interpolation_at_their_voxels() {
        // A linear field on blocks of 4, interpolated at the centres of blocks of 2: the mean of
        // the values interpolated at each finer block's two voxels per axis.
        let g = geometry([14, 9, 10], [-3.0, 4.0, 1.0]);
        let (fine, coarse) = (BlockGrid::new(&g, 2, [0.7; 3]), BlockGrid::new(&g, 4, [0.7; 3]));
        let field: Vec<f32> = (0..coarse.len()).map(|i| (i % 7) as f32 + 0.5 * (i / 7) as f32).collect();
        let at_blocks = Interpolator::at_blocks_of(&coarse, [field.as_slice()], &fine);
        let at_voxels = Interpolator::new(&coarse, [field.as_slice()]);
        let (mut scratch, mut rows, mut voxel_rows) = ([Vec::new()], [Vec::new()], [Vec::new()]);
        let (by, bz) = (fine.blocks[1] - 2, fine.blocks[2] - 2);
        for (jb, kb) in [(1, 1), (by, bz), (2, 3)] {
            at_blocks.row(jb, kb, &mut scratch, &mut rows);
            assert_eq!(rows[0].len(), fine.blocks[0]);
            let ys = fine.fine_range(1, jb);
            let zs = fine.fine_range(2, kb);
            for ib in 1..fine.blocks[0] - 1 {
                let mut sum = 0.0;
                for z in zs.clone() {
                    for y in ys.clone() {
                        at_voxels.row(y, z, &mut scratch, &mut voxel_rows);
                        sum += fine.fine_range(0, ib).map(|x| voxel_rows[0][x]).sum::<f32>();
                    }
                }
                assert!((rows[0][ib] - sum / 8.0).abs() < 1e-4, "block {ib},{jb},{kb}");
            }
        }
    }

    #[test]
    fn interpolation_reproduces_a_linear_field() {
        // A field linear in the absolute position, sampled at the block centres, comes back
        // exactly at every voxel between the first and last centre.
        let g = geometry([11, 9, 8], [3.0, -4.0, 0.0]);
        let grid = BlockGrid::new(&g, 2, [0.0; 3]);
        let centre = |a: usize, b: usize| {
            let r = grid.fine_range(a, b);
            // Nominal centre (a partial block keeps its whole block's centre), fine index units.
            if r.len() == 2 || r.start > 0 { r.start as f32 + 0.5 } else { r.start as f32 - 0.5 }
        };
        let f = |x: f32, y: f32, z: f32| 1.0 + 0.5 * x - 0.25 * y + 2.0 * z;
        let mut field = vec![0f32; grid.len()];
        for bz in 0..grid.blocks[2] {
            for by in 0..grid.blocks[1] {
                for bx in 0..grid.blocks[0] {
                    field[grid.index(bx, by, bz)] = f(centre(0, bx), centre(1, by), centre(2, bz));
                }
            }
        }
        let interpolator = Interpolator::new(&grid, [field.as_slice()]);
        let (mut scratch, mut rows) = ([Vec::new()], [Vec::new()]);
        for z in 1..7 {
            for y in 1..8 {
                interpolator.row(y, z, &mut scratch, &mut rows);
                for x in 1..10 {
                    let expected = f(x as f32, y as f32, z as f32);
                    assert!((rows[0][x] - expected).abs() < 1e-4, "{x},{y},{z}: {} vs {expected}", rows[0][x]);
                }
            }
        }
    }
}
