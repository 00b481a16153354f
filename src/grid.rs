//! The in-memory map: a regular orthogonal grid, stored X fastest, then Y, then Z, whatever the
//! axis order of the file it came from, together with the header fields needed to write it back
//! in the same frame.
//!
//! # Placement rule
//! Voxel `(i, j, k)` (X, Y, Z indices) has its centre at
//! `ORIGIN + (NSTART_xyz + (i, j, k)) * voxel_size`, where `voxel_size = CELLA / (MX, MY, MZ)`,
//! `ORIGIN` is header words 50-52 and `NSTART_xyz` is NCSTART/NRSTART/NSSTART permuted from file
//! order to X, Y, Z by MAPC/MAPR/MAPS. Both terms are added, so a map that encodes its position in
//! ORIGIN and a copy that encodes it in NSTART land on the same coordinates; files that set both
//! (rare, and ambiguous between programs) get a warning when read.

/// Geometry of a regular grid in Cartesian Ångström space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridGeometry {
    /// Number of voxels along X, Y and Z.
    pub dims: [usize; 3],
    /// Voxel edge lengths along X, Y and Z, in Ångström.
    pub voxel_size: [f64; 3],
    /// Cartesian centre of voxel (0, 0, 0), in Ångström.
    pub first_voxel_centre: [f64; 3],
}

impl GridGeometry {
    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// True when the grid has no voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Linear index of voxel (i, j, k) in X-fastest storage.
    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// Cartesian centre of voxel (i, j, k).
    pub fn voxel_centre(&self, i: usize, j: usize, k: usize) -> [f64; 3] {
        let ijk = [i as f64, j as f64, k as f64];
        std::array::from_fn(|a| self.first_voxel_centre[a] + ijk[a] * self.voxel_size[a])
    }

    /// Cartesian centre of the last voxel.
    pub fn last_voxel_centre(&self) -> [f64; 3] {
        self.voxel_centre(self.dims[0] - 1, self.dims[1] - 1, self.dims[2] - 1)
    }

    /// The box's centre as RELION and servalcat place a point group: the centre of voxel
    /// (NX/2, NY/2, NZ/2), integer halves (for an even edge, the cell's centre).
    pub fn box_centre(&self) -> [f64; 3] {
        self.voxel_centre(self.dims[0] / 2, self.dims[1] / 2, self.dims[2] / 2)
    }

    /// The box's shortest edge, Å (the half-map window default depends on it).
    pub fn shortest_edge(&self) -> f64 {
        (0..3).map(|a| self.dims[a] as f64 * self.voxel_size[a]).fold(f64::INFINITY, f64::min)
    }

    /// Why two grids cannot be combined voxel by voxel, or `None` when they share dimensions,
    /// voxel size and placement.
    pub fn frame_mismatch(&self, other: &GridGeometry) -> Option<String> {
        if self.dims != other.dims {
            return Some(format!("grids differ: {:?} and {:?} voxels", self.dims, other.dims));
        }
        let close = |x: [f64; 3], y: [f64; 3], tolerance: f64| (0..3).all(|i| (x[i] - y[i]).abs() <= tolerance);
        if !close(self.voxel_size, other.voxel_size, 1e-4 * self.voxel_size[0]) {
            return Some(format!("voxel sizes differ: {:?} and {:?} Å", self.voxel_size, other.voxel_size));
        }
        if !close(self.first_voxel_centre, other.first_voxel_centre, 1e-3 * self.voxel_size[0]) {
            return Some(format!(
                "placements differ: first voxel at {} and {} Å",
                fmt_xyz(self.first_voxel_centre),
                fmt_xyz(other.first_voxel_centre)
            ));
        }
        None
    }

    /// Position in voxel units (fractional grid index) of a Cartesian point.
    #[inline]
    pub fn grid_coordinates(&self, xyz: [f64; 3]) -> [f64; 3] {
        std::array::from_fn(|a| (xyz[a] - self.first_voxel_centre[a]) / self.voxel_size[a])
    }

    /// True when the point lies within the box spanned by the voxel centres, where trilinear
    /// interpolation is defined.
    pub fn contains(&self, xyz: [f64; 3]) -> bool {
        let g = self.grid_coordinates(xyz);
        (0..3).all(|a| g[a] >= 0.0 && g[a] <= (self.dims[a] - 1) as f64)
    }

    /// Volume of one voxel in Å³.
    pub fn voxel_volume(&self) -> f64 {
        self.voxel_size.iter().product()
    }

    /// Trilinear interpolation of `data` (stored on this grid) at a Cartesian point, or `None`
    /// outside the box spanned by the voxel centres.
    pub fn interpolate(&self, data: &[f32], xyz: [f64; 3]) -> Option<f64> {
        let g = self.grid_coordinates(xyz);
        let mut base = [0usize; 3];
        let mut frac = [0f64; 3];
        for a in 0..3 {
            let n = self.dims[a];
            if !(g[a] >= 0.0 && g[a] <= (n - 1) as f64) {
                return None;
            }
            if n == 1 {
                continue;
            }
            let b = (g[a].floor() as usize).min(n - 2);
            base[a] = b;
            frac[a] = g[a] - b as f64;
        }
        let step = |a: usize| usize::from(self.dims[a] > 1);
        let mut value = 0.0;
        for corner in 0..8 {
            let offs = [corner & 1, (corner >> 1) & 1, (corner >> 2) & 1];
            let mut weight = 1.0;
            for a in 0..3 {
                weight *= if offs[a] == 1 { frac[a] } else { 1.0 - frac[a] };
            }
            if weight == 0.0 {
                continue;
            }
            let idx = self.index(base[0] + offs[0] * step(0), base[1] + offs[1] * step(1), base[2] + offs[2] * step(2));
            value += weight * data[idx] as f64;
        }
        Some(value)
    }
}

/// Header fields that place a map in space and must survive a read-write round trip.
///
/// All vectors are in X, Y, Z order; `axis_order` records how the file stored them.
#[derive(Debug, Clone, PartialEq)]
pub struct MapHeader {
    /// MAPC, MAPR, MAPS: which Cartesian axis (1 = X, 2 = Y, 3 = Z) runs along the file's
    /// columns, rows and sections.
    pub axis_order: [u8; 3],
    /// NCSTART/NRSTART/NSSTART permuted to X, Y, Z.
    pub nstart: [i64; 3],
    /// ORIGIN, header words 50-52, in Ångström.
    pub origin: [f64; 3],
    /// MX, MY, MZ: grid sampling of the unit cell.
    pub sampling: [i64; 3],
    /// CELLA: unit-cell lengths in Ångström.
    pub cell_lengths: [f64; 3],
    /// CELLB: unit-cell angles in degrees.
    pub cell_angles: [f64; 3],
    /// ISPG, the space-group number.
    pub space_group: i32,
}

impl MapHeader {
    /// A header for a plain X, Y, Z map whose voxel (0, 0, 0) is at `first_voxel_centre`,
    /// with the position encoded in ORIGIN and NSTART zero.
    pub fn for_geometry(geometry: &GridGeometry) -> Self {
        MapHeader {
            axis_order: [1, 2, 3],
            nstart: [0; 3],
            origin: geometry.first_voxel_centre,
            sampling: geometry.dims.map(|n| n as i64),
            cell_lengths: std::array::from_fn(|a| geometry.voxel_size[a] * geometry.dims[a] as f64),
            cell_angles: [90.0; 3],
            space_group: 1,
        }
    }
}

/// A density map: grid geometry, values (X fastest) and the header that places it.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    /// Where the voxels are.
    pub geometry: GridGeometry,
    /// Voxel values, X fastest, then Y, then Z.
    pub data: Vec<f32>,
    /// Header fields to write the map back in its own frame.
    pub header: MapHeader,
}

impl Map {
    /// A map with the same frame as `self` and other values (for example a difference map).
    ///
    /// # Panics
    /// If `data` does not have one value per voxel: that is a programming error, not bad input.
    pub fn with_data(&self, data: Vec<f32>) -> Map {
        assert_eq!(data.len(), self.geometry.len(), "data length must match the grid");
        Map { geometry: self.geometry, data, header: self.header.clone() }
    }

    /// Value at voxel (i, j, k).
    #[inline]
    pub fn at(&self, i: usize, j: usize, k: usize) -> f32 {
        self.data[self.geometry.index(i, j, k)]
    }

    /// Trilinear interpolation at a Cartesian point; `None` outside the box.
    pub fn interpolate(&self, xyz: [f64; 3]) -> Option<f64> {
        self.geometry.interpolate(&self.data, xyz)
    }

    /// A sub-box starting at voxel `start` with `dims` voxels, placed where it was in the
    /// parent map (its offset goes into NSTART, so ORIGIN-based files stay ORIGIN-based).
    pub fn crop(&self, start: [usize; 3], dims: [usize; 3]) -> Option<Map> {
        if (0..3).any(|a| dims[a] == 0 || start[a] + dims[a] > self.geometry.dims[a]) {
            return None;
        }
        let data = crop_box(&self.data, self.geometry.dims, start, dims);
        let geometry = GridGeometry {
            dims,
            voxel_size: self.geometry.voxel_size,
            first_voxel_centre: self.geometry.voxel_centre(start[0], start[1], start[2]),
        };
        let mut header = self.header.clone();
        for a in 0..3 {
            header.nstart[a] += start[a] as i64;
        }
        Some(Map { geometry, data, header })
    }

    /// Mean, population standard deviation, minimum and maximum of the values.
    pub fn statistics(&self) -> MapStatistics {
        MapStatistics::of(&self.data)
    }
}

/// A vector of `len` copies of `value`, written in parallel. Large buffers from `vec![0; n]` are
/// mapped lazily to the shared zero page; the FFT then reads a page before writing it, and each
/// such write costs a page copy plus a TLB flush on every core. Writing the buffer once, in
/// parallel, maps every page directly (measured: about a quarter of a whole job's CPU time went
/// to those faults on a 384³ map).
pub fn filled<T: Copy + Send + Sync>(len: usize, value: T) -> Vec<T> {
    use rayon::prelude::*;
    let mut out = Vec::with_capacity(len);
    (0..len).into_par_iter().map(|_| value).collect_into_vec(&mut out);
    out
}

/// The `dims` box at offset `start` of an X-fastest grid of `from_dims`, copied in parallel over
/// Z planes (the one crop routine: maps, padded FFT grids).
pub fn crop_box(data: &[f32], from_dims: [usize; 3], start: [usize; 3], dims: [usize; 3]) -> Vec<f32> {
    use rayon::prelude::*;
    let mut out = filled(dims.iter().product(), 0f32);
    out.par_chunks_mut((dims[0] * dims[1]).max(1)).enumerate().for_each(|(k, plane)| {
        for (j, row) in plane.chunks_mut(dims[0].max(1)).enumerate() {
            let from = start[0] + from_dims[0] * ((j + start[1]) + from_dims[1] * (k + start[2]));
            row.copy_from_slice(&data[from..from + dims[0]]);
        }
    });
    out
}

/// Summary statistics of a set of values (accumulated in f64).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MapStatistics {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
    /// Population standard deviation, sqrt(mean((x - mean)^2)).
    pub sd: f64,
    /// Root mean square, sqrt(mean(x^2)).
    pub rms: f64,
}

impl MapStatistics {
    /// Statistics of `values`; all zero for an empty slice.
    pub fn of(values: &[f32]) -> Self {
        if values.is_empty() {
            return MapStatistics { min: 0.0, max: 0.0, mean: 0.0, sd: 0.0, rms: 0.0 };
        }
        let parts = chunk_sums(values.len(), |range| {
            let (mut min, mut max, mut sum, mut sum_sq) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0);
            for &v in &values[range] {
                let v = v as f64;
                min = min.min(v);
                max = max.max(v);
                sum += v;
                sum_sq += v * v;
            }
            [min, max, sum, sum_sq]
        });
        let (mut min, mut max, mut sum, mut sum_sq) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0);
        for [lo, hi, s, ss] in parts {
            min = min.min(lo);
            max = max.max(hi);
            sum += s;
            sum_sq += ss;
        }
        let n = values.len() as f64;
        let mean = sum / n;
        let var = (sum_sq / n - mean * mean).max(0.0);
        MapStatistics { min, max, mean, sd: var.sqrt(), rms: (sum_sq / n).sqrt() }
    }
}

/// Values per chunk of [`chunk_sums`]: fixed, so that results never depend on the thread count.
pub const SUM_CHUNK: usize = 1 << 16;

/// The 1st, 50th and 99th percentiles of `samples` (NaN when there are none; the nearest rank,
/// found by selection, not a sort). Reorders `samples`.
pub fn percentiles(samples: &mut [f32]) -> [f64; 3] {
    [0.01, 0.5, 0.99].map(|p| {
        if samples.is_empty() {
            return f64::NAN;
        }
        let idx = ((samples.len() - 1) as f64 * p).round() as usize;
        let (_, v, _) = samples.select_nth_unstable_by(idx, |a, b| a.total_cmp(b));
        *v as f64
    })
}

/// Per-chunk partial results of `f` over `0..len` in chunks of [`SUM_CHUNK`], computed in
/// parallel and returned in order: a caller that combines them in order gets the same bits on
/// any number of threads.
pub fn chunk_sums<R: Send, F: Fn(std::ops::Range<usize>) -> R + Sync>(len: usize, f: F) -> Vec<R> {
    use rayon::prelude::*;
    (0..len.div_ceil(SUM_CHUNK)).into_par_iter().map(|c| f(c * SUM_CHUNK..((c + 1) * SUM_CHUNK).min(len))).collect()
}

/// A position as messages print it: `(x, y, z)` to 0.1 Å.
pub fn fmt_xyz(v: [f64; 3]) -> String {
    format!("({:.1}, {:.1}, {:.1})", v[0], v[1], v[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> Map {
        let geometry =
            GridGeometry { dims: [4, 3, 2], voxel_size: [1.0, 2.0, 0.5], first_voxel_centre: [10.0, 20.0, 30.0] };
        let mut data = Vec::new();
        for k in 0..2 {
            for j in 0..3 {
                for i in 0..4 {
                    data.push((i + 10 * j + 100 * k) as f32);
                }
            }
        }
        Map { geometry, data, header: MapHeader::for_geometry(&geometry) }
    }

    #[test]
    fn interpolation_is_exact_on_a_linear_field() {
        let map = ramp();
        // value = i + 10 j + 100 k with i = x - 10, j = (y - 20) / 2, k = (z - 30) / 0.5
        let v = map.interpolate([11.25, 23.0, 30.25]).unwrap();
        assert!((v - (1.25 + 15.0 + 50.0)).abs() < 1e-9, "{v}");
        // the last voxel centre is inside
        assert_eq!(map.interpolate(map.geometry.last_voxel_centre()), Some(3.0 + 20.0 + 100.0));
        assert_eq!(map.interpolate([9.99, 20.0, 30.0]), None);
    }

    #[test]
    fn crop_keeps_placement() {
        let map = ramp();
        let sub = map.crop([1, 1, 1], [2, 2, 1]).unwrap();
        assert_eq!(sub.geometry.first_voxel_centre, map.geometry.voxel_centre(1, 1, 1));
        assert_eq!(sub.at(0, 0, 0), map.at(1, 1, 1));
        assert_eq!(sub.at(1, 1, 0), map.at(2, 2, 1));
        assert_eq!(sub.header.nstart, [1, 1, 1]);
        assert!(map.crop([3, 0, 0], [2, 1, 1]).is_none());
    }
}
