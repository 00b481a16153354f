//! Local scaling of the model map to the experimental map in a sliding window.
//!
//! For every voxel, the model map is fitted to the experimental map by least squares over a box
//! window centred on that voxel: `obs ≈ a + k·calc` (with the local offset `a`, the default) or
//! `obs ≈ k·calc`. Every voxel has its own window, so the result does not depend on where the
//! box starts and there are no seams: unlike fixed tiles (Phenix cuts the map into 30 Å boxes,
//! whose result moves by several sigma when the box origin moves).
//!
//! Why this is cheap: the fit needs only window means of `obs`, `calc`, `obs·calc` and
//! `calc·calc`, and a box mean is separable into running sums along X, Y and Z, O(N) whatever
//! the window size. The Z direction is streamed: a ring holds the X/Y sums of the last `2h+1`
//! planes, so memory is a few planes, not four extra maps. Windows are clipped at the box faces
//! and the means use the voxels actually inside.
//!
//! Where a window holds little model (solvent far from atoms) the fit is ill-conditioned; a small
//! ridge term pulls `k` towards the global scale there, so the result is then the experimental
//! map minus its local mean, not noise amplified by a wild `k`.
//!
//! Why least squares in real space is right: by Parseval, least squares on resolution-limited
//! maps is least squares on their Fourier coefficients below `d_min`, the same criterion as a
//! reciprocal-space fit, restricted to the window.

use crate::grid::GridGeometry;
use rayon::prelude::*;

/// Parameters of the sliding-window fit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalScalingOptions {
    /// Window edge length in Ångström (15-20 Å works best on real maps; much smaller windows
    /// start to fit the missing feature itself, larger ones lose contrast).
    pub window: f64,
    /// Fit a local offset `a` as well as the scale `k`.
    pub offset: bool,
    /// Ridge weight, as a fraction of the model map's variance, that pulls `k` towards the
    /// global scale where a window holds almost no model.
    pub ridge: f64,
}

impl Default for LocalScalingOptions {
    fn default() -> Self {
        LocalScalingOptions {
            window: crate::defaults::DEFAULT_WINDOW,
            offset: true,
            ridge: crate::defaults::DEFAULT_RIDGE,
        }
    }
}

/// Global least-squares fit, used for reporting and as the ridge target.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GlobalFit {
    /// Scale k of `obs ≈ a + k·calc`.
    pub scale: f64,
    /// Offset a.
    pub offset: f64,
    /// Correlation between obs and calc over the voxels used.
    pub correlation: f64,
}

/// Fits `obs ≈ a + k·calc` over the voxels where `mask` is true (all voxels if `None`).
pub fn global_fit(obs: &[f32], calc: &[f32], mask: Option<&[bool]>) -> GlobalFit {
    let parts = crate::grid::chunk_sums(obs.len(), |range| {
        let mut sums = [0.0f64; 6];
        for i in range {
            if mask.is_some_and(|m| !m[i]) {
                continue;
            }
            let (o, c) = (obs[i] as f64, calc[i] as f64);
            sums[0] += 1.0;
            sums[1] += o;
            sums[2] += c;
            sums[3] += o * o;
            sums[4] += o * c;
            sums[5] += c * c;
        }
        sums
    });
    let mut total = [0.0f64; 6];
    for part in parts {
        total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
    }
    let [n, so, sc, soo, soc, scc] = total;
    if n == 0.0 {
        return GlobalFit { scale: 0.0, offset: 0.0, correlation: 0.0 };
    }
    let (mo, mc) = (so / n, sc / n);
    let var_c = scc / n - mc * mc;
    let var_o = soo / n - mo * mo;
    let cov = soc / n - mo * mc;
    let scale = if var_c > 0.0 { cov / var_c } else { 0.0 };
    let correlation = if var_c > 0.0 && var_o > 0.0 { cov / (var_c * var_o).sqrt() } else { 0.0 };
    GlobalFit { scale, offset: mo - scale * mc, correlation }
}

/// Summary of the local fit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalFitSummary {
    /// Window size in voxels along X, Y, Z (odd).
    pub window_voxels: [usize; 3],
    /// 1st, 50th and 99th percentile of the local scale k over the voxels where `report_mask`
    /// is true.
    pub scale_percentiles: [f64; 3],
    /// The same percentiles of the local relative B (Å²), when it was fitted.
    pub relative_b_percentiles: Option<[f64; 3]>,
}

/// Fitted local parameters, one value per voxel, when they are kept.
#[derive(Debug, Clone, Default)]
pub struct LocalFields {
    /// Local scale k.
    pub scale: Vec<f32>,
    /// Local offset a (zero when no offset is fitted).
    pub offset: Vec<f32>,
}

/// Number of voxels in a window of `window` Å along each axis: odd, at least 3.
pub fn window_voxels(window: f64, voxel_size: [f64; 3]) -> [usize; 3] {
    std::array::from_fn(|a| {
        let n = (window / voxel_size[a]).round().max(3.0) as usize;
        if n.is_multiple_of(2) { n + 1 } else { n }
    })
}

/// Clipped window count along one axis: how many of `i-h..=i+h` lie in `0..n`.
fn counts(n: usize, h: usize) -> Vec<f64> {
    (0..n).map(|i| (i.min(h) + (n - 1 - i).min(h) + 1) as f64).collect()
}

/// Rows of a plane summed together in the X pass of [`plane_box_sum`].
const ROW_LANES: usize = 8;

/// Per-field scratch of the streamed fit: the field's plane, its X sums, a running row, and the
/// interleaved rows of the X pass.
type FieldScratch = (Vec<f32>, Vec<f64>, Vec<f64>, Vec<[f64; ROW_LANES]>);

/// Box sums along X then Y of one plane, into `out`. Running sums in f64 (the values are
/// added and removed once each, so nothing drifts); the Y pass moves whole rows, contiguous in
/// memory. `row_sums`, `running` and `lanes` are scratch (`nx * ny`, `nx` and `nx` long).
fn plane_box_sum(
    plane: &[f32],
    [nx, ny]: [usize; 2],
    [hx, hy]: [usize; 2],
    out: &mut [f32],
    (row_sums, running, lanes): (&mut [f64], &mut [f64], &mut Vec<[f64; ROW_LANES]>),
) {
    // X pass. A running sum is a chain of dependent additions, so one row at a time waits on
    // the adder's latency. `ROW_LANES` rows advance together instead, their values interleaved
    // so that the eight lanes of a column sit side by side and go through vector registers;
    // each row still sees exactly its own sequence of additions.
    let last = nx - 1;
    lanes.clear();
    lanes.resize(nx, [0.0; ROW_LANES]);
    let mut j0 = 0;
    while j0 < ny {
        let count = ROW_LANES.min(ny - j0);
        for (r, row) in plane[j0 * nx..(j0 + count) * nx].chunks_exact(nx).enumerate() {
            for (lane, v) in lanes.iter_mut().zip(row) {
                lane[r] = *v as f64;
            }
        }
        let mut acc = [0.0f64; ROW_LANES];
        for lane in &lanes[..hx.min(last) + 1] {
            for r in 0..ROW_LANES {
                acc[r] += lane[r];
            }
        }
        for i in 0..nx {
            for r in 0..count {
                row_sums[(j0 + r) * nx + i] = acc[r];
            }
            if i + hx + 1 < nx {
                let entering = lanes[i + hx + 1];
                for r in 0..ROW_LANES {
                    acc[r] += entering[r];
                }
            }
            if i >= hx {
                let leaving = lanes[i - hx];
                for r in 0..ROW_LANES {
                    acc[r] -= leaving[r];
                }
            }
        }
        j0 += count;
    }
    running.fill(0.0);
    for j in 0..=hy.min(ny - 1) {
        for (r, v) in running.iter_mut().zip(&row_sums[j * nx..(j + 1) * nx]) {
            *r += *v;
        }
    }
    for j in 0..ny {
        for (o, r) in out[j * nx..(j + 1) * nx].iter_mut().zip(running.iter()) {
            *o = *r as f32;
        }
        if j + hy + 1 < ny {
            let entering = &row_sums[(j + hy + 1) * nx..(j + hy + 2) * nx];
            for (r, v) in running.iter_mut().zip(entering) {
                *r += *v;
            }
        }
        if j >= hy {
            let leaving = &row_sums[(j - hy) * nx..(j - hy + 1) * nx];
            for (r, v) in running.iter_mut().zip(leaving) {
                *r -= *v;
            }
        }
    }
}

/// The rows of a plane, or `ny` empty slices when the plane is not kept.
fn rows_or_empty(plane: &mut [f32], nx: usize, ny: usize) -> Vec<&mut [f32]> {
    if plane.is_empty() { (0..ny).map(|_| &mut [][..]).collect() } else { plane.chunks_mut(nx).collect() }
}

/// Window sums of the fields obs and, per model map, calc, obs·calc and calc·calc, streamed
/// along Z: a ring holds the X/Y box sums of the last 2h+1 planes, and `acc` their sum, the
/// window sums of the current plane, in f64.
struct WindowSums<'a> {
    calcs: &'a [&'a [f32]],
    dims: [usize; 3],
    half: [usize; 3],
    ring: Vec<Vec<f32>>,
    acc: Vec<f64>,
    incoming: Vec<f32>,
    scratch: Vec<FieldScratch>,
    next: usize,
}

impl<'a> WindowSums<'a> {
    fn new(calcs: &'a [&'a [f32]], dims: [usize; 3], half: [usize; 3]) -> Self {
        let plane_len = dims[0] * dims[1];
        let field_count = 1 + 3 * calcs.len();
        let slots = 2 * half[2] + 1;
        WindowSums {
            calcs,
            dims,
            half,
            ring: vec![vec![0f32; plane_len * field_count]; slots],
            acc: vec![0f64; plane_len * field_count],
            incoming: vec![0f32; plane_len * field_count],
            scratch: (0..field_count)
                .map(|_| (vec![0f32; plane_len], vec![0f64; plane_len], vec![0f64; dims[0]], Vec::new()))
                .collect(),
            next: 0,
        }
    }

    /// Brings `acc` to the window of plane `z`. Planes up to `z + h` are read from `obs`, so
    /// plane `z` of `obs` may be overwritten afterwards.
    fn advance_to(&mut self, z: usize, obs: &[f32]) {
        let (nz, hz) = (self.dims[2], self.half[2]);
        let slots = self.ring.len();
        // The window of plane z covers planes z-h..=z+h. A plane entering takes the ring slot of
        // the plane leaving (2h+1 planes earlier): one pass adds the one and removes the other.
        while self.next <= (z + hz).min(nz - 1) {
            let slot = self.next % slots;
            self.sum_plane(self.next, obs, (self.next >= slots).then_some(slot));
            std::mem::swap(&mut self.ring[slot], &mut self.incoming);
            self.next += 1;
        }
        if z > hz && z + hz >= nz {
            // Near the top face no plane enters, but one still leaves.
            let leaving = &self.ring[(z - hz - 1) % slots];
            self.acc.par_chunks_mut(4096).zip(leaving.par_chunks(4096)).for_each(|(a, s)| {
                for (a, s) in a.iter_mut().zip(s) {
                    *a -= *s as f64;
                }
            });
        }
    }

    /// Box-sums plane z of every field into `incoming` and adds it to `acc`, taking out the
    /// plane in ring slot `leaving` (if any): one parallel task per field.
    fn sum_plane(&mut self, z: usize, obs: &[f32], leaving: Option<usize>) {
        let [nx, ny, _] = self.dims;
        let [hx, hy, _] = self.half;
        let plane_len = nx * ny;
        let o = &obs[z * plane_len..(z + 1) * plane_len];
        let calcs = self.calcs;
        let leaving = leaving.map(|slot| self.ring[slot].as_slice());
        self.incoming
            .par_chunks_mut(plane_len)
            .zip(self.scratch.par_iter_mut())
            .zip(self.acc.par_chunks_mut(plane_len))
            .enumerate()
            .for_each(|(f, ((out, (values, row_sums, running, lanes)), acc))| {
                if f == 0 {
                    values.copy_from_slice(o);
                } else {
                    let c = &calcs[(f - 1) / 3][z * plane_len..(z + 1) * plane_len];
                    match (f - 1) % 3 {
                        0 => values.copy_from_slice(c),
                        1 => values.iter_mut().zip(o.iter().zip(c)).for_each(|(v, (o, c))| *v = o * c),
                        _ => values.iter_mut().zip(c).for_each(|(v, c)| *v = c * c),
                    }
                }
                plane_box_sum(values, [nx, ny], [hx, hy], out, (row_sums, running, lanes));
                match leaving {
                    Some(leaving) => {
                        let l = &leaving[f * plane_len..(f + 1) * plane_len];
                        for ((a, e), l) in acc.iter_mut().zip(out.iter()).zip(l) {
                            *a += *e as f64 - *l as f64;
                        }
                    }
                    None => {
                        for (a, e) in acc.iter_mut().zip(out.iter()) {
                            *a += *e as f64;
                        }
                    }
                }
            });
    }
}

/// Everything the fit of one plane needs: its window sums, the clipped window counts and the
/// regularisation.
struct PlaneFit<'a> {
    acc: &'a [f64],
    calcs: &'a [&'a [f32]],
    relative_b: &'a [f64],
    nx: usize,
    plane_len: usize,
    z: usize,
    count_x: &'a [f64],
    count_y: &'a [f64],
    inverse_count_x: &'a [f64],
    inverse_count_y: &'a [f64],
    cz: f64,
    offset: bool,
    ridge: f64,
    k_target: f64,
}

impl PlaneFit<'_> {
    /// Row `j` with one model map (the default): the fit without the B bookkeeping.
    fn row_single(&self, j: usize, row: &mut [f32], k_row: &mut [f32], a_row: &mut [f32]) {
        let (ridge, k_target, plane_len) = (self.ridge, self.k_target, self.plane_len);
        let (so, sc, soc, scc) = (0, plane_len, 2 * plane_len, 3 * plane_len);
        let inverse_cz = 1.0 / self.cz;
        let calc_plane = &self.calcs[0][self.z * plane_len..(self.z + 1) * plane_len];
        let acc = self.acc;
        for i in 0..self.nx {
            let idx = j * self.nx + i;
            let inv_n = self.inverse_count_x[i] * self.inverse_count_y[j] * inverse_cz;
            let mo = acc[so + idx] * inv_n;
            let mc = acc[sc + idx] * inv_n;
            let moc = acc[soc + idx] * inv_n;
            let mcc = acc[scc + idx] * inv_n;
            let (k, a) = if self.offset {
                let k =
                    scale_or_target((moc - mo * mc + ridge * k_target) / ((mcc - mc * mc).max(0.0) + ridge), k_target);
                (k, mo - k * mc)
            } else {
                (scale_or_target((moc + ridge * k_target) / (mcc + ridge), k_target), 0.0)
            };
            row[i] = (row[i] as f64 - a - k * calc_plane[idx] as f64) as f32;
            if !k_row.is_empty() {
                k_row[i] = k as f32;
            }
            if !a_row.is_empty() {
                a_row[i] = a as f32;
            }
        }
    }

    /// Row `j` with model maps at several relative B: each voxel takes the B whose window fit
    /// leaves the smallest residual, refined between neighbours by a parabola.
    fn row_multi_b(&self, j: usize, row: &mut [f32], k_row: &mut [f32], a_row: &mut [f32], b_row: &mut [f32]) {
        let n_b = self.calcs.len();
        let (ridge, k_target, plane_len, offset, acc) =
            (self.ridge, self.k_target, self.plane_len, self.offset, self.acc);
        let (mut sxy, mut syy, mut mcs) = ([0f64; 8], [0f64; 8], [0f64; 8]);
        for i in 0..self.nx {
            let n = self.count_x[i] * self.count_y[j] * self.cz;
            let idx = j * self.nx + i;
            let mo = acc[idx] / n;
            // Window statistics per B: covariance and variance (about the means with an offset).
            let mut best = 0usize;
            let mut residual = [0f64; 8];
            for b in 0..n_b {
                let base = (1 + 3 * b) * plane_len + idx;
                let mc = acc[base] / n;
                let moc = acc[base + plane_len] / n;
                let mcc = acc[base + 2 * plane_len] / n;
                let (xy, yy) = if offset { (moc - mo * mc, (mcc - mc * mc).max(0.0)) } else { (moc, mcc) };
                sxy[b] = xy + ridge * k_target;
                syy[b] = yy + ridge;
                mcs[b] = if offset { mc } else { 0.0 };
                residual[b] = -sxy[b] * sxy[b] / syy[b];
                if residual[b] < residual[best] {
                    best = b;
                }
            }
            // Fractional B index: parabola through the best and its neighbours.
            let mut t = best as f64;
            if n_b >= 3 && best > 0 && best < n_b - 1 {
                let (rm, r0, rp) = (residual[best - 1], residual[best], residual[best + 1]);
                let curvature = rm - 2.0 * r0 + rp;
                if curvature > 0.0 {
                    t += (0.5 * (rm - rp) / curvature).clamp(-0.5, 0.5);
                }
            }
            let lower = (t.floor() as usize).min(n_b.saturating_sub(2));
            let upper = (lower + 1).min(n_b - 1);
            let f = if n_b > 1 { t - lower as f64 } else { 0.0 };
            let lerp = |v: &[f64; 8]| (1.0 - f) * v[lower] + f * v[upper];
            let k = scale_or_target(lerp(&sxy) / lerp(&syy), k_target);
            let a = if offset { mo - k * lerp(&mcs) } else { 0.0 };
            let at = self.z * plane_len + idx;
            let c = (1.0 - f) * self.calcs[lower][at] as f64 + f * self.calcs[upper][at] as f64;
            row[i] = (row[i] as f64 - a - k * c) as f32;
            if !k_row.is_empty() {
                k_row[i] = k as f32;
            }
            if !a_row.is_empty() {
                a_row[i] = a as f32;
            }
            if !b_row.is_empty() {
                b_row[i] = ((1.0 - f) * self.relative_b[lower] + f * self.relative_b[upper]) as f32;
            }
        }
    }
}

/// A window's scale: the fitted `k` (never negative), or the ridge target where the fit is
/// undefined (a window, or a whole box, where the model map has no variance and the ridge is
/// zero: 0/0 or x/0; found by fuzzing a box smaller than its resolution, where it made NaNs).
#[inline]
fn scale_or_target(k: f64, k_target: f64) -> f64 {
    if k.is_finite() { k.max(0.0) } else { k_target }
}

/// The 1st, 50th and 99th percentiles of `samples` (NaN when there are none).
fn percentiles(samples: &mut [f32]) -> [f64; 3] {
    [0.01, 0.5, 0.99].map(|p| {
        if samples.is_empty() {
            return f64::NAN;
        }
        let idx = ((samples.len() - 1) as f64 * p).round() as usize;
        let (_, v, _) = samples.select_nth_unstable_by(idx, |a, b| a.total_cmp(b));
        *v as f64
    })
}

/// Replaces `obs` (the resolution-limited experimental map) by `obs - (a + k·calc)` with `a`
/// and `k` fitted in a sliding window around every voxel.
///
/// `calcs` holds the model map at one or more relative B values (`relative_b`, Å², same length).
/// With more than one, every voxel also picks the B whose window fit leaves the smallest
/// residual, refined between neighbours by a parabola, with the model map interpolated
/// accordingly: a local relative B, fitted continuously. `global` is the ridge target;
/// `report_mask` selects the voxels summarised (the model envelope). With `keep_fields`, the
/// fitted k and a are returned (two more maps of memory).
#[allow(clippy::too_many_arguments)]
pub fn subtract_locally_scaled(
    obs: &mut [f32],
    calcs: &[&[f32]],
    relative_b: &[f64],
    geometry: &GridGeometry,
    options: &LocalScalingOptions,
    global: &GlobalFit,
    report_mask: Option<&[bool]>,
    keep_fields: bool,
) -> (LocalFitSummary, Option<LocalFields>) {
    assert!(!calcs.is_empty() && calcs.len() == relative_b.len(), "one B per model map");
    assert!(calcs.len() <= 8, "at most 8 relative B values");
    let [nx, ny, nz] = geometry.dims;
    let plane_len = nx * ny;
    // A half-width beyond the box gives the same clipped sums as one that just spans it, and
    // would only cost memory (the Z ring holds a window of planes): windows stop there.
    let window = window_voxels(options.window, geometry.voxel_size);
    let window: [usize; 3] = std::array::from_fn(|a| window[a].min(2 * geometry.dims[a] + 1));
    let half = window.map(|w| w / 2);
    let (count_x, count_y, count_z) = (counts(nx, half[0]), counts(ny, half[1]), counts(nz, half[2]));
    let inverse_count_x: Vec<f64> = count_x.iter().map(|c| 1.0 / c).collect();
    let inverse_count_y: Vec<f64> = count_y.iter().map(|c| 1.0 / c).collect();
    let reference = calcs[relative_b.iter().position(|b| *b == 0.0).unwrap_or(0)];
    let calc_stats = crate::grid::MapStatistics::of(reference);
    let n_b = calcs.len();

    let mut sums = WindowSums::new(calcs, geometry.dims, half);
    let mut fields = keep_fields.then(|| LocalFields { scale: vec![0.0; obs.len()], offset: vec![0.0; obs.len()] });
    let (mut k_samples, mut b_samples): (Vec<f32>, Vec<f32>) = (Vec::new(), Vec::new());
    let keep_scale = keep_fields || report_mask.is_some();
    let mut scale_plane = vec![0f32; if keep_scale { plane_len } else { 0 }];
    let mut offset_plane = vec![0f32; if keep_fields { plane_len } else { 0 }];
    let mut b_plane = vec![0f32; if n_b > 1 && report_mask.is_some() { plane_len } else { 0 }];
    for z in 0..nz {
        sums.advance_to(z, obs);
        let fit = PlaneFit {
            acc: &sums.acc,
            calcs,
            relative_b,
            nx,
            plane_len,
            z,
            count_x: &count_x,
            count_y: &count_y,
            inverse_count_x: &inverse_count_x,
            inverse_count_y: &inverse_count_y,
            cz: count_z[z],
            offset: options.offset,
            ridge: options.ridge * calc_stats.sd * calc_stats.sd,
            k_target: global.scale.max(0.0),
        };
        // Rows are independent; optional outputs are empty slices when not kept.
        let rows = obs[z * plane_len..(z + 1) * plane_len].par_chunks_mut(nx).enumerate();
        let (k_rows, a_rows, b_rows) = (
            rows_or_empty(&mut scale_plane, nx, ny),
            rows_or_empty(&mut offset_plane, nx, ny),
            rows_or_empty(&mut b_plane, nx, ny),
        );
        rows.zip(k_rows.into_par_iter().zip(a_rows.into_par_iter().zip(b_rows.into_par_iter()))).for_each(
            |((j, row), (k_row, (a_row, b_row)))| {
                if n_b == 1 {
                    fit.row_single(j, row, k_row, a_row)
                } else {
                    fit.row_multi_b(j, row, k_row, a_row, b_row)
                }
            },
        );
        if let Some(mask) = report_mask {
            let m = &mask[z * plane_len..(z + 1) * plane_len];
            k_samples.par_extend(scale_plane.par_iter().zip(m).filter(|(_, m)| **m).map(|(k, _)| *k));
            b_samples.par_extend(b_plane.par_iter().zip(m).filter(|(_, m)| **m).map(|(b, _)| *b));
        }
        if let Some(f) = fields.as_mut() {
            f.scale[z * plane_len..(z + 1) * plane_len].copy_from_slice(&scale_plane);
            f.offset[z * plane_len..(z + 1) * plane_len].copy_from_slice(&offset_plane);
        }
    }
    let summary = LocalFitSummary {
        window_voxels: window,
        scale_percentiles: percentiles(&mut k_samples),
        relative_b_percentiles: (n_b > 1).then(|| percentiles(&mut b_samples)),
    };
    (summary, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_spatially_varying_scale_and_offset() {
        // obs = a(x) + k(x) calc with slowly varying a and k: the difference must vanish.
        let geometry = GridGeometry { dims: [40, 36, 32], voxel_size: [1.0; 3], first_voxel_centre: [0.0; 3] };
        let n = geometry.len();
        let mut calc = vec![0f32; n];
        let mut obs = vec![0f32; n];
        for k in 0..32 {
            for j in 0..36 {
                for i in 0..40 {
                    let idx = geometry.index(i, j, k);
                    let c = (i as f32 * 0.9).sin() * (j as f32 * 0.7).cos() + (k as f32 * 1.3).sin();
                    let scale = 1.0 + 0.01 * i as f32;
                    let offset = 0.2 + 0.005 * k as f32;
                    calc[idx] = c;
                    obs[idx] = offset + scale * c;
                }
            }
        }
        let global = global_fit(&obs, &calc, None);
        let options = LocalScalingOptions { window: 9.0, offset: true, ridge: 1e-6 };
        let (summary, fields) =
            subtract_locally_scaled(&mut obs, &[&calc], &[0.0], &geometry, &options, &global, None, true);
        assert_eq!(summary.window_voxels, [9, 9, 9]);
        let worst = obs.iter().fold(0f32, |m, v| m.max(v.abs()));
        // A linear trend in k over a window leaves a second-order residual only.
        assert!(worst < 0.05, "residual {worst}");
        let fields = fields.unwrap();
        let centre = geometry.index(20, 18, 16);
        assert!((fields.scale[centre] - 1.2).abs() < 0.02, "{}", fields.scale[centre]);
        assert!((fields.offset[centre] - 0.28).abs() < 0.03, "{}", fields.offset[centre]);
    }

    #[test]
    fn box_sums_match_brute_force() {
        // Row counts below, at and across the lane width; half-windows wider than the plane.
        for (nx, ny, hx, hy) in [(7, 5, 2, 1), (9, 8, 3, 2), (6, 19, 1, 4), (5, 11, 7, 12)] {
            let plane: Vec<f32> = (0..nx * ny).map(|i| (i * 37 % 11) as f32).collect();
            let mut out = vec![0f32; nx * ny];
            let scratch = (&mut vec![0.0; nx * ny][..], &mut vec![0.0; nx][..], &mut Vec::new());
            plane_box_sum(&plane, [nx, ny], [hx, hy], &mut out, scratch);
            for j in 0..ny {
                for i in 0..nx {
                    let mut s = 0.0;
                    for jj in j.saturating_sub(hy)..=(j + hy).min(ny - 1) {
                        for ii in i.saturating_sub(hx)..=(i + hx).min(nx - 1) {
                            s += plane[jj * nx + ii] as f64;
                        }
                    }
                    assert_eq!(out[j * nx + i] as f64, s, "{nx}x{ny} window {hx},{hy} at {i},{j}");
                }
            }
        }
    }
}
