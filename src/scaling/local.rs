//! Local scaling of the model map to the experimental map in a sliding window.
//!
//! The model map is fitted to the experimental map by least squares over a box window around
//! every point: `obs ≈ a + k·calc` (with the local offset `a`, the default) or `obs ≈ k·calc`.
//! The windows slide (each point has its own), so there are no seams and the result does not
//! depend on where the box starts: unlike fixed tiles (Phenix cuts the map into 30 Å boxes,
//! whose result moves by several sigma when the box origin moves).
//!
//! Why this is cheap: the fit needs only window means of `1`, `obs`, `calc`, `obs·calc` and
//! `calc·calc`, and a box mean is separable into running sums along X, Y and Z, O(N) whatever
//! the window. `k` and `a` vary over the window's scale (20 Å), not from voxel to voxel, so they
//! are fitted at the centres of blocks of [`FIT_STEP`]³ voxels, anchored to absolute voxel
//! positions ([`crate::scaling::blocks`]), from block sums, and interpolated trilinearly to every
//! voxel: the window sums cost an eighth of a full-grid pass. Windows are whole blocks, clipped
//! at the box faces, and the means use the voxels actually inside.
//!
//! **Robust fit** (the default). Unmodelled density (a missing ligand) is part of every window
//! that holds it, and a least-squares fit explains as much of it as it can with the model
//! density nearby: `k` and `a` rise, the neighbours are over-subtracted, and false holes appear
//! beside exactly what the user is looking for. So the fit runs twice: a first pass (on blocks
//! of [`MARK_STEP`]³ voxels: it only has to find outliers) marks the blocks holding a voxel
//! whose residual is at least [`UNEXPLAINED_THRESHOLD`] robust sds from zero, and the second
//! fits without them (weight [`EXCLUDED_WEIGHT`]); the subtraction covers every voxel. Measured
//! on the synthetic heme entry with half maps: the removed heme 40.8 -> 50 z, the deepest hole
//! within 8 Å of it -8.9 -> -2.8 z, residues flagged beside it 10 -> 0. Negative outliers (model
//! density the map lacks) are left out as well as positive ones: leaving out only the positive
//! tail of the noise would bias the offset (measured: the mean far from the model moved to
//! +0.16 z).
//!
//! Where a window holds little model (solvent far from atoms) the fit is ill-conditioned; a small
//! ridge term pulls `k` towards the global scale there, so the result is then the experimental
//! map minus its local mean, not noise amplified by a wild `k`.
//!
//! Why least squares in real space is right: by Parseval, least squares on resolution-limited
//! maps is least squares on their Fourier coefficients below `d_min`, the same criterion as a
//! reciprocal-space fit, restricted to the window.

use crate::grid::GridGeometry;
use crate::scaling::blocks::{BlockGrid, Interpolator};
use crate::scaling::noise::box_mean_in_place;
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
    /// Fit twice, the second time without the voxels that the first left unexplained (see the
    /// module documentation).
    pub robust: bool,
}

impl Default for LocalScalingOptions {
    fn default() -> Self {
        LocalScalingOptions {
            window: crate::defaults::DEFAULT_WINDOW,
            offset: true,
            ridge: crate::defaults::DEFAULT_RIDGE,
            robust: true,
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
    /// Window size in voxels along X, Y, Z (an odd number of blocks of [`FIT_STEP`] voxels).
    pub window_voxels: [usize; 3],
    /// 1st, 50th and 99th percentile of the local scale k over the voxels where `report_mask`
    /// is true.
    pub scale_percentiles: [f64; 3],
    /// The same percentiles of the local relative B (Å²), when it was fitted.
    pub relative_b_percentiles: Option<[f64; 3]>,
    /// With a robust fit: what its first pass left out.
    pub robust: Option<RobustFitSummary>,
}

/// What the first pass of a robust fit left out of the second.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RobustFitSummary {
    /// Robust sd (1.4826 × the median absolute value) of the first pass's residual over the
    /// voxels summarised (the model envelope), in map units.
    pub residual_sd: f64,
    /// Blocks holding a voxel at or beyond this |residual| (map units) were left out.
    pub threshold: f64,
    /// Share of the box left out.
    pub excluded_fraction: f64,
    /// Share of the voxels summarised (the model envelope) left out.
    pub excluded_in_envelope: f64,
}

/// Fitted local parameters, one value per voxel, when they are kept.
#[derive(Debug, Clone, Default)]
pub struct LocalFields {
    /// Local scale k.
    pub scale: Vec<f32>,
    /// Local offset a (zero when no offset is fitted).
    pub offset: Vec<f32>,
}

/// Voxels per block (along each axis) at whose centres `k` and `a` are fitted.
pub const FIT_STEP: usize = 2;

/// Voxels per block of the robust fit's first pass, which only has to find the outliers.
pub const MARK_STEP: usize = 4;

/// Weight of a block left out of the second pass of the robust fit. Not zero, so that a window
/// where every block is left out (deep inside an unmodelled domain) still has a defined fit:
/// there the tiny weights are all alike and the fit is the ordinary one.
pub const EXCLUDED_WEIGHT: f32 = 1e-3;

/// A block whose first-pass mean residual is this many robust sds from zero is one the model
/// does not explain: the centre of the ramp from weight 1 to [`EXCLUDED_WEIGHT`] in the second
/// pass. (2.5, 3 and 3.5 gave the same contrast on the synthetic entries to within their noise.)
pub const UNEXPLAINED_THRESHOLD: f64 = 3.0;

/// Width of that ramp, in robust sds. A smooth weight, not a cut: with a cut, a block whose
/// residual moved across the threshold by a rounding (the same map cropped) changed the fit
/// around it by up to 0.17 sd.
pub const UNEXPLAINED_RAMP: f64 = 1.0;

/// The second-pass weight of a block whose first-pass residual is `t` robust sds from zero:
/// 1 below the ramp, [`EXCLUDED_WEIGHT`] beyond it, a smoothstep between.
fn robust_weight(t: f64) -> f32 {
    let start = UNEXPLAINED_THRESHOLD - UNEXPLAINED_RAMP / 2.0;
    let u = ((t.abs() - start) / UNEXPLAINED_RAMP).clamp(0.0, 1.0);
    let keep = 1.0 - u * u * (3.0 - 2.0 * u);
    (EXCLUDED_WEIGHT as f64 + (1.0 - EXCLUDED_WEIGHT as f64) * keep) as f32
}

/// Half-width in blocks of `step` voxels of a window of `window` Å: the window is the odd
/// number of blocks `2h + 1` nearest to `window`, at least 3.
fn window_half_blocks(window: f64, voxel_size: [f64; 3], step: usize) -> [usize; 3] {
    std::array::from_fn(|a| {
        let blocks = window / (voxel_size[a] * step as f64);
        let half = ((blocks - 1.0) / 2.0).round();
        if half.is_finite() { half.clamp(1.0, 1e9) as usize } else { 1 }
    })
}

/// Coarse fields of the fit: per block, the sums (or, after [`box_mean_in_place`], the window
/// means) of `w`, `w·o` and per model map `w·c`, `w·o·c`, `w·c·c`, and with a noise map `n`
/// also `w·n` and per model map `w·n·c`; `o`, `c` and `n` centred on their box means (so that
/// `cov = E[oc] - E[o]E[c]` keeps its digits in f32) and `w` the voxel's weight (1, or less in
/// a block the robust fit leaves out).
struct Moments {
    fields: Vec<Vec<f32>>,
    /// Model maps.
    calcs: usize,
    /// Whether the noise fields are there.
    noise: bool,
}

/// The centres (box means) of the maps the moments are taken of.
struct Centres {
    obs: f64,
    calc: Vec<f64>,
    noise: f64,
}

impl Moments {
    const WEIGHT: usize = 0;
    const OBS: usize = 1;

    fn calc(b: usize) -> usize {
        2 + 3 * b
    }

    fn noise_field(&self) -> usize {
        2 + 3 * self.calcs
    }

    fn noise_calc(&self, b: usize) -> usize {
        3 + 3 * self.calcs + b
    }

    /// Block sums of the moments of `obs`, `calcs` and `noise` over `grid`, one parallel task
    /// per plane of blocks.
    fn of(obs: &[f32], calcs: &[&[f32]], noise: Option<&[f32]>, grid: &BlockGrid, centres: &Centres) -> Self {
        let n_b = calcs.len();
        let n_fields = 2 + 3 * n_b + if noise.is_some() { 1 + n_b } else { 0 };
        let moments = Moments { fields: Vec::new(), calcs: n_b, noise: noise.is_some() };
        let [nx, ny, _] = grid.dims;
        let [bx, by, bz] = grid.blocks;
        let plane_blocks = bx * by;
        let mut fields: Vec<Vec<f32>> = (0..n_fields).map(|_| vec![0f32; grid.len()]).collect();
        let mut planes: Vec<Vec<&mut [f32]>> = (0..bz).map(|_| Vec::with_capacity(n_fields)).collect();
        for field in fields.iter_mut() {
            for (plane, chunk) in planes.iter_mut().zip(field.chunks_mut(plane_blocks.max(1))) {
                plane.push(chunk);
            }
        }
        let x_ranges: Vec<std::ops::Range<usize>> = (0..bx).map(|i| grid.fine_range(0, i)).collect();
        let (noise_field, noise_calc) = (moments.noise_field(), moments.noise_calc(0));
        planes.into_par_iter().enumerate().for_each_init(
            || vec![0f64; n_fields * bx],
            |sums, (kz, mut outputs)| {
                for jy in 0..by {
                    sums.fill(0.0);
                    for z in grid.fine_range(2, kz) {
                        for y in grid.fine_range(1, jy) {
                            let row = nx * (y + ny * z);
                            for (i, range) in x_ranges.iter().enumerate() {
                                let s = &mut sums[i * n_fields..][..n_fields];
                                let range = row + range.start..row + range.end;
                                if let [calc] = calcs {
                                    // One model map (the default): sums the compiler keeps in
                                    // registers.
                                    let c0 = centres.calc[0];
                                    let (o, c) = (&obs[range.clone()], &calc[range.clone()]);
                                    s[Self::WEIGHT] += range.len() as f64;
                                    match noise {
                                        None => {
                                            let mut local = [0f64; 4];
                                            for (o, c) in o.iter().zip(c) {
                                                let (o, c) = (*o as f64 - centres.obs, *c as f64 - c0);
                                                local[0] += o;
                                                local[1] += c;
                                                local[2] += o * c;
                                                local[3] += c * c;
                                            }
                                            s[1..5].iter_mut().zip(local).for_each(|(s, l)| *s += l);
                                        }
                                        Some(noise) => {
                                            let mut local = [0f64; 6];
                                            for ((o, c), n) in o.iter().zip(c).zip(&noise[range.clone()]) {
                                                let (o, c) = (*o as f64 - centres.obs, *c as f64 - c0);
                                                let n = *n as f64 - centres.noise;
                                                local[0] += o;
                                                local[1] += c;
                                                local[2] += o * c;
                                                local[3] += c * c;
                                                local[4] += n;
                                                local[5] += n * c;
                                            }
                                            s[1..7].iter_mut().zip(local).for_each(|(s, l)| *s += l);
                                        }
                                    }
                                    continue;
                                }
                                for v in range {
                                    let o = obs[v] as f64 - centres.obs;
                                    let n = noise.map_or(0.0, |n| n[v] as f64 - centres.noise);
                                    s[Self::WEIGHT] += 1.0;
                                    s[Self::OBS] += o;
                                    if noise.is_some() {
                                        s[noise_field] += n;
                                    }
                                    for (b, calc) in calcs.iter().enumerate() {
                                        let c = calc[v] as f64 - centres.calc[b];
                                        let f = Self::calc(b);
                                        s[f] += c;
                                        s[f + 1] += o * c;
                                        s[f + 2] += c * c;
                                        if noise.is_some() {
                                            s[noise_calc + b] += n * c;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    for (f, output) in outputs.iter_mut().enumerate() {
                        for i in 0..bx {
                            output[jy * bx + i] = sums[i * n_fields + f] as f32;
                        }
                    }
                }
            },
        );
        Moments { fields, ..moments }
    }

    /// The variance of model map `b` over the box, from the block sums.
    fn calc_variance(&self, b: usize) -> f64 {
        let f = Self::calc(b);
        let (n, sum, squares) = (0..self.fields[0].len())
            .into_par_iter()
            .with_min_len(4096)
            .map(|i| (self.fields[Self::WEIGHT][i] as f64, self.fields[f][i] as f64, self.fields[f + 2][i] as f64))
            .reduce(|| (0.0, 0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2));
        if n > 0.0 { (squares / n - (sum / n).powi(2)).max(0.0) } else { 0.0 }
    }

    /// The sums of `self` (on the finer grid `fine`) gathered into the blocks of `coarse`, for
    /// the weight, the observed map and model map `b` only. One parallel task per plane of
    /// coarse blocks, reading whole rows of fine blocks.
    fn gathered(&self, fine: &BlockGrid, coarse: &BlockGrid, b: usize) -> Self {
        let picked = [Self::WEIGHT, Self::OBS, Self::calc(b), Self::calc(b) + 1, Self::calc(b) + 2];
        let maps: [Vec<usize>; 3] =
            std::array::from_fn(|a| (0..fine.blocks[a]).map(|i| coarse.block_of_block(a, fine, i)).collect());
        let [cx, cy, _] = coarse.blocks;
        let plane = (cx * cy).max(1);
        let mut fields: Vec<Vec<f32>> = picked.iter().map(|_| vec![0f32; coarse.len()]).collect();
        let mut planes: Vec<Vec<&mut [f32]>> = (0..coarse.blocks[2]).map(|_| Vec::new()).collect();
        for field in fields.iter_mut() {
            for (p, chunk) in planes.iter_mut().zip(field.chunks_mut(plane)) {
                p.push(chunk);
            }
        }
        planes.into_par_iter().enumerate().for_each_init(
            || vec![0f64; plane * picked.len()],
            |sums, (kc, mut outputs)| {
                sums.fill(0.0);
                for k in (0..fine.blocks[2]).filter(|k| maps[2][*k] == kc) {
                    for j in 0..fine.blocks[1] {
                        let start = fine.index(0, j, k);
                        let target_row = cx * maps[1][j];
                        for (p, &f) in picked.iter().enumerate() {
                            let row = &self.fields[f][start..start + fine.blocks[0]];
                            let target = &mut sums[p * plane + target_row..][..cx];
                            for (v, i) in row.iter().zip(&maps[0]) {
                                target[*i] += *v as f64;
                            }
                        }
                    }
                }
                for (p, output) in outputs.iter_mut().enumerate() {
                    for (o, s) in output.iter_mut().zip(&sums[p * plane..(p + 1) * plane]) {
                        *o = *s as f32;
                    }
                }
            },
        );
        Moments { fields, calcs: 1, noise: false }
    }

    /// Turns block sums into window means (boxes of `2h+1` blocks, clipped at the faces). Only
    /// ratios of the fields are used, so the clipped windows' counts cancel.
    fn window_means(&mut self, grid: &BlockGrid, half: [usize; 3]) {
        self.weighted_window_means(None, grid, half);
    }

    /// [`Moments::window_means`] of the block sums times `weights` (one per block), each field
    /// weighted in the same task that box-sums it.
    fn weighted_window_means(&mut self, weights: Option<&[f32]>, grid: &BlockGrid, half: [usize; 3]) {
        self.fields.par_iter_mut().for_each(|field| {
            if let Some(weights) = weights {
                field.iter_mut().zip(weights).for_each(|(v, w)| *v *= w);
            }
            box_mean_in_place(field, grid.blocks, half);
        });
    }
}

/// The least-squares solution of one window from its moments.
struct Solver<'a> {
    offset: bool,
    ridge: f64,
    k_target: f64,
    centres: &'a Centres,
    relative_b: &'a [f64],
}

/// A window's fit: scale, offset (in map units) and, with several model maps, the fractional
/// index of the relative B between them; with a noise map, the same linear fit of the noise
/// (`k_noise`, `a_noise`: what the fit takes out of the noise, see [`subtract_locally_scaled`]).
#[derive(Debug, Clone, Copy, Default)]
struct WindowFit {
    k: f64,
    a: f64,
    t: f64,
    k_noise: f64,
    a_noise: f64,
}

/// Per block, the fitted values ([`WindowFit`]'s fields); `t` is empty with one model map, the
/// noise fields without a noise map.
struct BlockFits {
    k: Vec<f32>,
    a: Vec<f32>,
    t: Vec<f32>,
    k_noise: Vec<f32>,
    a_noise: Vec<f32>,
}

impl Solver<'_> {
    /// The fit of the window whose moments are `m(field)` (window means).
    fn solve(&self, moments: &Moments, m: impl Fn(usize) -> f64) -> WindowFit {
        let n_b = moments.calcs;
        let w = m(Moments::WEIGHT);
        let mo = m(Moments::OBS) / w;
        let o0 = self.centres.obs;
        // Per model map: the normal equations' terms, with the ridge.
        let (mut sxy, mut syy, mut mcs, mut residual) = ([0f64; 8], [0f64; 8], [0f64; 8], [0f64; 8]);
        let mut best = 0usize;
        for b in 0..n_b {
            let f = Moments::calc(b);
            let (mc, moc, mcc) = (m(f) / w, m(f + 1) / w, m(f + 2) / w);
            let c0 = self.centres.calc[b];
            let (xy, yy) = if self.offset {
                (moc - mo * mc, (mcc - mc * mc).max(0.0))
            } else {
                // Without an offset the fit is about zero, not about the box means.
                (moc + o0 * mc + c0 * mo + o0 * c0, mcc + 2.0 * c0 * mc + c0 * c0)
            };
            sxy[b] = xy + self.ridge * self.k_target;
            syy[b] = yy + self.ridge;
            mcs[b] = mc + c0;
            residual[b] = -sxy[b] * sxy[b] / syy[b];
            if residual[b] < residual[best] {
                best = b;
            }
        }
        // Several model maps: a fractional B index from the parabola through the best and its
        // neighbours.
        let mut t = best as f64;
        if n_b >= 3 && best > 0 && best < n_b - 1 {
            let (rm, r0, rp) = (residual[best - 1], residual[best], residual[best + 1]);
            let curvature = rm - 2.0 * r0 + rp;
            if curvature > 0.0 {
                t += (0.5 * (rm - rp) / curvature).clamp(-0.5, 0.5);
            }
        }
        let (lower, upper, f) = fractional_b(t, n_b);
        let lerp = |v: &[f64; 8]| (1.0 - f) * v[lower] + f * v[upper];
        let fitted = lerp(&sxy) / lerp(&syy);
        let k = scale_or_target(fitted, self.k_target);
        let a = if self.offset { mo + o0 - k * lerp(&mcs) } else { 0.0 };
        let mut fit = WindowFit { k, a, t, ..Default::default() };
        if moments.noise {
            // The same fit is linear in the map (for these weights and this B): applied to the
            // noise it takes out exactly what it takes out of the map's noise. Its ridge term is
            // a constant (no noise in it), and where k was held at 0 or the target, nothing of
            // the noise enters k either.
            let mn = m(moments.noise_field()) / w;
            let n0 = self.centres.noise;
            let mut nxy = [0f64; 8];
            for b in [lower, upper] {
                let mc = m(Moments::calc(b)) / w;
                let mnc = m(moments.noise_calc(b)) / w;
                let c0 = self.centres.calc[b];
                nxy[b] = if self.offset { mnc - mn * mc } else { mnc + n0 * mc + c0 * mn + n0 * c0 };
            }
            let k_noise = if fitted.is_finite() && fitted > 0.0 { lerp(&nxy) / lerp(&syy) } else { 0.0 };
            fit.k_noise = if k_noise.is_finite() { k_noise } else { 0.0 };
            fit.a_noise = if self.offset { mn + n0 - fit.k_noise * lerp(&mcs) } else { 0.0 };
        }
        fit
    }

    /// The fit at every block of `grid` from window means.
    fn solve_all(&self, moments: &Moments, grid: &BlockGrid) -> BlockFits {
        let n = grid.len();
        let sized = |keep: bool| if keep { vec![0f32; n] } else { Vec::new() };
        let mut fits = BlockFits {
            k: sized(true),
            a: sized(true),
            t: sized(moments.calcs > 1),
            k_noise: sized(moments.noise),
            a_noise: sized(moments.noise),
        };
        const CHUNK: usize = 4096;
        fn chunks(v: &mut [f32], n: usize) -> Vec<&mut [f32]> {
            if v.is_empty() {
                (0..n.div_ceil(CHUNK)).map(|_| &mut [][..]).collect()
            } else {
                v.chunks_mut(CHUNK).collect()
            }
        }
        let BlockFits { k, a, t, k_noise, a_noise } = &mut fits;
        let outputs: Vec<_> = chunks(k, n)
            .into_iter()
            .zip(chunks(a, n))
            .zip(chunks(t, n))
            .zip(chunks(k_noise, n).into_iter().zip(chunks(a_noise, n)))
            .collect();
        let fields = &moments.fields;
        outputs.into_par_iter().enumerate().for_each(|(c, (((k, a), t), (k_noise, a_noise)))| {
            for i in 0..k.len() {
                let block = c * CHUNK + i;
                let m = |f: usize| fields[f][block] as f64;
                let fit = match (moments.calcs, moments.noise) {
                    (1, false) => self.solve_single(m(0), m(1), m(2), m(3), m(4)),
                    (1, true) => {
                        let mut fit = self.solve_single(m(0), m(1), m(2), m(3), m(4));
                        self.solve_single_noise(&mut fit, [m(0), m(2), m(4), m(5), m(6)]);
                        fit
                    }
                    _ => self.solve(moments, m),
                };
                k[i] = fit.k as f32;
                a[i] = fit.a as f32;
                if !t.is_empty() {
                    t[i] = fit.t as f32;
                }
                if !k_noise.is_empty() {
                    k_noise[i] = fit.k_noise as f32;
                    a_noise[i] = fit.a_noise as f32;
                }
            }
        });
        fits
    }

    /// The noise part of [`Solver::solve`] with one model map, from the window means of `w`,
    /// `w·c`, `w·c·c`, `w·n`, `w·n·c`, for the window whose map fit is `fit`.
    #[inline]
    fn solve_single_noise(&self, fit: &mut WindowFit, [w, sc, scc, sn, snc]: [f64; 5]) {
        let inverse = 1.0 / w;
        let (mc, mcc, mn, mnc) = (sc * inverse, scc * inverse, sn * inverse, snc * inverse);
        let (c0, n0) = (self.centres.calc[0], self.centres.noise);
        let (xy, yy) = if self.offset {
            (mnc - mn * mc, (mcc - mc * mc).max(0.0) + self.ridge)
        } else {
            (mnc + n0 * mc + c0 * mn + n0 * c0, mcc + 2.0 * c0 * mc + c0 * c0 + self.ridge)
        };
        // Where k was held at 0 (or at the target, the fit undefined), no noise entered it.
        let k = if fit.k > 0.0 && fit.k != self.k_target { xy / yy } else { 0.0 };
        fit.k_noise = if k.is_finite() { k } else { 0.0 };
        fit.a_noise = if self.offset { mn + n0 - fit.k_noise * (mc + c0) } else { 0.0 };
    }

    /// [`Solver::solve`] with one model map and no noise, from the window means of `w`, `w·o`,
    /// `w·c`, `w·o·c`, `w·c·c`: the default, on every block.
    #[inline]
    fn solve_single(&self, w: f64, so: f64, sc: f64, soc: f64, scc: f64) -> WindowFit {
        let inverse = 1.0 / w;
        let (mo, mc, moc, mcc) = (so * inverse, sc * inverse, soc * inverse, scc * inverse);
        let (o0, c0) = (self.centres.obs, self.centres.calc[0]);
        let (k, a) = if self.offset {
            let k = scale_or_target(
                (moc - mo * mc + self.ridge * self.k_target) / ((mcc - mc * mc).max(0.0) + self.ridge),
                self.k_target,
            );
            (k, mo + o0 - k * (mc + c0))
        } else {
            let xy = moc + o0 * mc + c0 * mo + o0 * c0;
            let yy = mcc + 2.0 * c0 * mc + c0 * c0;
            (scale_or_target((xy + self.ridge * self.k_target) / (yy + self.ridge), self.k_target), 0.0)
        };
        WindowFit { k, a, ..Default::default() }
    }

    /// The relative B (Å²) at fractional index `t`.
    fn relative_b_at(&self, t: f64) -> f64 {
        let (lower, upper, f) = fractional_b(t, self.relative_b.len());
        (1.0 - f) * self.relative_b[lower] + f * self.relative_b[upper]
    }
}

/// The two model maps around fractional index `t` of `n` and the weight of the upper.
fn fractional_b(t: f64, n: usize) -> (usize, usize, f64) {
    if n <= 1 {
        return (0, 0, 0.0);
    }
    let t = t.clamp(0.0, (n - 1) as f64);
    let lower = (t.floor() as usize).min(n - 2);
    (lower, lower + 1, t - lower as f64)
}

/// A window's scale: the fitted `k` (never negative), or the ridge target where the fit is
/// undefined (a window, or a whole box, where the model map has no variance and the ridge is
/// zero: 0/0 or x/0; found by fuzzing a box smaller than its resolution, where it made NaNs).
#[inline]
fn scale_or_target(k: f64, k_target: f64) -> f64 {
    if k.is_finite() { k.max(0.0) } else { k_target }
}

/// The mean of every 61st value: close enough to centre the moments on (any value near the
/// mean keeps their digits), for a fraction of a pass over the map.
fn sampled_mean(values: &[f32]) -> f64 {
    let sampled: Vec<f64> = values.iter().step_by(61).map(|v| *v as f64).collect();
    let mean = sampled.iter().sum::<f64>() / sampled.len().max(1) as f64;
    if mean.is_finite() { mean } else { 0.0 }
}

use crate::grid::percentiles;

/// 1.4826 × the median absolute value of `samples`: their sd for normal values centred on
/// zero, whatever a minority of outliers does. Reorders `samples`.
fn robust_sd(samples: &mut [f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.par_iter_mut().for_each(|v| *v = v.abs());
    let middle = samples.len() / 2;
    let (_, median, _) = samples.select_nth_unstable_by(middle, |a, b| a.total_cmp(b));
    1.4826 * *median as f64
}

/// Replaces `obs` (the resolution-limited experimental map) by `obs - (a + k·calc)` with `a`
/// and `k` fitted in a sliding window (see the module documentation; robustly when
/// `options.robust`).
///
/// `calcs` holds the model map at one or more relative B values (`relative_b`, Å², same length).
/// With more than one, every window also picks the B whose fit leaves the smallest residual,
/// refined between neighbours by a parabola, with the model map interpolated accordingly: a
/// local relative B, fitted continuously. `global` is the ridge target; `report_mask` selects
/// the voxels summarised (the model envelope), where the robust fit also measures the
/// residual's sd. `anchor` (Å) is where a block starts (the model's centroid: see
/// [`crate::scaling::blocks`]). With `keep_fields`, the fitted k and a are returned (two more
/// maps of memory).
///
/// `noise`, with half maps, is their noise map `(H1 - H2) / 2`: the same fit (for the same
/// weights and B) is linear in the map, so what it takes out of the map's noise is what it
/// takes out of `noise` when applied to it, and `noise` is replaced by that. The z units then
/// measure the noise that is left in the difference: the local offset takes out the noise's
/// longest wavelengths, and without this the z sd far from the model fell to 0.93 where the
/// spectral weight favours them.
#[allow(clippy::too_many_arguments)]
pub fn subtract_locally_scaled(
    obs: &mut [f32],
    noise: Option<&mut [f32]>,
    calcs: &[&[f32]],
    relative_b: &[f64],
    geometry: &GridGeometry,
    anchor: [f64; 3],
    options: &LocalScalingOptions,
    global: &GlobalFit,
    report_mask: Option<&[bool]>,
    keep_fields: bool,
) -> (LocalFitSummary, Option<LocalFields>) {
    assert!(!calcs.is_empty() && calcs.len() == relative_b.len(), "one B per model map");
    assert!(calcs.len() <= 8, "at most 8 relative B values");
    let n_b = calcs.len();
    let reference = relative_b.iter().position(|b| *b == 0.0).unwrap_or(0);
    let centres = Centres {
        obs: sampled_mean(obs),
        calc: calcs.iter().map(|c| sampled_mean(c)).collect(),
        noise: noise.as_deref().map_or(0.0, sampled_mean),
    };
    let solver =
        Solver { offset: options.offset, ridge: 0.0, k_target: global.scale.max(0.0), centres: &centres, relative_b };
    let grid = BlockGrid::new(geometry, FIT_STEP, anchor);
    let half = window_half_blocks(options.window, geometry.voxel_size, FIT_STEP);
    let mut moments = Moments::of(obs, calcs, noise.as_deref(), &grid, &centres);
    // The ridge is relative to the reference model map's variance over the box (from the block
    // sums, before any weighting).
    let solver = Solver { ridge: options.ridge * moments.calc_variance(reference), ..solver };
    let robust = options.robust.then(|| {
        let in_mask = report_mask.map(|m| block_counts(m, &grid));
        unexplained_blocks(&moments, geometry, &grid, reference, &solver, options.window, in_mask.as_deref())
    });
    moments.weighted_window_means(robust.as_ref().map(|m| m.weights.as_slice()), &grid, half);
    let robust = robust.map(|m| m.summary);
    let fits = solver.solve_all(&moments, &grid);
    drop(moments);
    let subtracted = subtract_fit(obs, noise, calcs, &grid, &fits, report_mask, keep_fields);
    let mut b_samples: Vec<f32> = match report_mask {
        Some(_) if n_b > 1 => fits.t.iter().map(|t| solver.relative_b_at(*t as f64) as f32).collect(),
        _ => Vec::new(),
    };
    let (mut k_samples, fields) = subtracted;
    let summary = LocalFitSummary {
        window_voxels: half.map(|h| FIT_STEP * (2 * h + 1)),
        scale_percentiles: percentiles(&mut k_samples),
        relative_b_percentiles: (n_b > 1).then(|| percentiles(&mut b_samples)),
        robust,
    };
    (summary, fields)
}

/// The blocks the robust fit leaves out, and the summary of what they hold.
struct MarkedBlocks {
    /// Second-pass weight of each block.
    weights: Vec<f32>,
    summary: RobustFitSummary,
}

/// The first pass of the robust fit, on blocks: the plain fit of model map `b` on the coarser
/// blocks of [`MARK_STEP`], interpolated to the centres of the blocks of `grid`; each block's
/// mean residual (from its moments, so no voxel is read again); their robust sd over the
/// blocks that hold voxels of `in_mask` (all blocks without a mask); and the blocks whose mean
/// residual is at least [`UNEXPLAINED_THRESHOLD`] of those sds from zero. At 2 × 2 × 2 voxels a
/// block is finer than the resolution, so its mean residual is the residual of its voxels.
fn unexplained_blocks(
    moments: &Moments,
    geometry: &GridGeometry,
    grid: &BlockGrid,
    b: usize,
    solver: &Solver,
    window: f64,
    in_mask: Option<&[u8]>,
) -> MarkedBlocks {
    let coarse = BlockGrid::new(geometry, MARK_STEP, grid.anchor());
    let mut first_pass = moments.gathered(grid, &coarse, b);
    first_pass.window_means(&coarse, window_half_blocks(window, geometry.voxel_size, MARK_STEP));
    let centres = Centres { obs: solver.centres.obs, calc: vec![solver.centres.calc[b]], noise: 0.0 };
    let single = Solver { centres: &centres, relative_b: &solver.relative_b[b..=b], ..*solver };
    let fits = single.solve_all(&first_pass, &coarse);
    drop(first_pass);
    let interpolator = Interpolator::at_blocks_of(&coarse, [&fits.k, &fits.a], grid);
    let [bx, by, _] = grid.blocks;
    let plane = (bx * by).max(1);
    let fields = &moments.fields;
    let (weight, obs, calc) = (&fields[Moments::WEIGHT], &fields[Moments::OBS], &fields[Moments::calc(b)]);
    let (centre_obs, centre_calc) = (solver.centres.obs as f32, solver.centres.calc[b] as f32);
    let mut residual = vec![0f32; grid.len()];
    residual.par_chunks_mut(plane).enumerate().for_each_init(
        <([Vec<f32>; 2], [Vec<f32>; 2])>::default,
        |(scratch, rows), (kz, out)| {
            for jy in 0..by {
                interpolator.row(jy, kz, scratch, rows);
                let [k_row, a_row] = &*rows;
                for i in 0..bx {
                    let block = grid.index(i, jy, kz);
                    let n = weight[block];
                    let (mo, mc) = (obs[block] / n + centre_obs, calc[block] / n + centre_calc);
                    out[jy * bx + i] = mo - a_row[i] - k_row[i] * mc;
                }
            }
        },
    );
    let mut samples: Vec<f32> = match in_mask {
        Some(in_mask) => residual.par_iter().zip(in_mask).filter(|(_, m)| **m > 0).map(|(r, _)| *r).collect(),
        None => residual.clone(),
    };
    let residual_sd = robust_sd(&mut samples);
    drop(samples);
    // The local scale of the residual: its rms over the window, each block's square capped at
    // the threshold's (so that the outliers themselves barely raise it). Where the map is
    // noisier than the model envelope's median (lower local resolution, a noisier region of
    // the box), the threshold follows the local scale, so that such a region does not lose a
    // large share of its voxels to a threshold set elsewhere. (Measured on the synthetic
    // entries, whose noise is uniform: contrast unchanged to +0.26.)
    let cap = (UNEXPLAINED_THRESHOLD * residual_sd).powi(2) as f32;
    let squares: Vec<f32> = residual.par_iter().map(|r| (r * r).min(cap)).collect();
    // On the coarser blocks (an eighth of the work), like the first pass's fit.
    let mut local_scale = mean_over_coarser_blocks(&squares, grid, &coarse);
    drop(squares);
    box_mean_in_place(&mut local_scale, coarse.blocks, window_half_blocks(window, geometry.voxel_size, MARK_STEP));
    let local_scale = Interpolator::at_blocks_of(&coarse, [&local_scale], grid);
    let mut weights = vec![0f32; grid.len()];
    weights.par_chunks_mut(plane).enumerate().for_each_init(
        <([Vec<f32>; 1], [Vec<f32>; 1])>::default,
        |(scratch, rows), (kz, out)| {
            for jy in 0..by {
                local_scale.row(jy, kz, scratch, rows);
                for i in 0..bx {
                    let scale = residual_sd.max((rows[0][i] as f64).sqrt());
                    let r = residual[grid.index(i, jy, kz)] as f64;
                    out[jy * bx + i] = if scale > 0.0 { robust_weight(r / scale) } else { 1.0 };
                }
            }
        },
    );
    // Grown by one block (each takes the lowest weight around it): the edge of a blob is still
    // part of it (measured: the removed heme 49.2 -> 50.8 z, the deepest hole beside it -3.3 ->
    // -2.7 z).
    let weights = lowest_of_neighbours(&weights, grid.blocks);
    // Voxels left out (the block counts before weighting, times how far each was left out),
    // and the same for the voxels of the mask.
    let (excluded_voxels, excluded_in_mask, mask_voxels) = (0..grid.len())
        .into_par_iter()
        .map(|i| {
            let left_out = ((1.0 - weights[i]) / (1.0 - EXCLUDED_WEIGHT)) as f64;
            let masked = in_mask.map_or(weight[i] as f64, |m| m[i] as f64);
            (left_out * weight[i] as f64, left_out * masked, masked)
        })
        .reduce(|| (0.0, 0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2));
    let summary = RobustFitSummary {
        residual_sd,
        threshold: UNEXPLAINED_THRESHOLD * residual_sd,
        excluded_fraction: excluded_voxels / (grid.dims.iter().product::<usize>().max(1)) as f64,
        excluded_in_envelope: if mask_voxels > 0.0 { excluded_in_mask / mask_voxels } else { 0.0 },
    };
    MarkedBlocks { weights, summary }
}

/// Each value replaced by the lowest of it and its 26 neighbours (a grey-scale erosion).
/// Separable: a minimum over three values along X, then Y, then Z.
fn lowest_of_neighbours(values: &[f32], [nx, ny, nz]: [usize; 3]) -> Vec<f32> {
    let plane = (nx * ny).max(1);
    let mut along_x = vec![0f32; values.len()];
    along_x.par_chunks_mut(nx.max(1)).zip(values.par_chunks(nx.max(1))).for_each(|(out, row)| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = row[i.saturating_sub(1)..=(i + 1).min(nx - 1)].iter().copied().fold(f32::INFINITY, f32::min);
        }
    });
    let mut along_y = vec![0f32; values.len()];
    along_y.par_chunks_mut(plane).zip(along_x.par_chunks(plane)).for_each(|(out, p)| {
        for j in 0..ny {
            let out_row = &mut out[j * nx..(j + 1) * nx];
            out_row.fill(f32::INFINITY);
            for jj in j.saturating_sub(1)..=(j + 1).min(ny - 1) {
                for (o, v) in out_row.iter_mut().zip(&p[jj * nx..(jj + 1) * nx]) {
                    *o = o.min(*v);
                }
            }
        }
    });
    along_x.par_chunks_mut(plane).enumerate().for_each(|(k, out)| {
        out.fill(f32::INFINITY);
        for kk in k.saturating_sub(1)..=(k + 1).min(nz - 1) {
            for (o, v) in out.iter_mut().zip(&along_y[kk * plane..(kk + 1) * plane]) {
                *o = o.min(*v);
            }
        }
    });
    along_x
}

/// The mean of `values` (one per block of `fine`) over each block of `coarse`, whose blocks
/// hold whole blocks of `fine`.
fn mean_over_coarser_blocks(values: &[f32], fine: &BlockGrid, coarse: &BlockGrid) -> Vec<f32> {
    let maps: [Vec<usize>; 3] =
        std::array::from_fn(|a| (0..fine.blocks[a]).map(|i| coarse.block_of_block(a, fine, i)).collect());
    let [cx, cy, _] = coarse.blocks;
    let plane = (cx * cy).max(1);
    let mut means = vec![0f32; coarse.len()];
    means.par_chunks_mut(plane).enumerate().for_each(|(kc, out)| {
        let (mut sums, mut counts) = (vec![0f64; plane], vec![0u32; plane]);
        for k in (0..fine.blocks[2]).filter(|k| maps[2][*k] == kc) {
            for j in 0..fine.blocks[1] {
                let row = &values[fine.index(0, j, k)..][..fine.blocks[0]];
                let target = cx * maps[1][j];
                for (v, i) in row.iter().zip(&maps[0]) {
                    sums[target + i] += *v as f64;
                    counts[target + i] += 1;
                }
            }
        }
        for ((o, s), c) in out.iter_mut().zip(&sums).zip(&counts) {
            *o = if *c > 0 { (*s / *c as f64) as f32 } else { 0.0 };
        }
    });
    means
}

/// Per block of `grid`, how many of its voxels `mask` holds.
fn block_counts(mask: &[bool], grid: &BlockGrid) -> Vec<u8> {
    let [nx, ny, _] = grid.dims;
    let [bx, by, _] = grid.blocks;
    let block_x: Vec<usize> = (0..nx).map(|x| grid.block_of(0, x)).collect();
    let mut counts = vec![0u8; grid.len()];
    counts.par_chunks_mut((bx * by).max(1)).enumerate().for_each(|(kz, out)| {
        for z in grid.fine_range(2, kz) {
            for y in 0..ny {
                let row = &mask[nx * (y + ny * z)..][..nx];
                let out_row = &mut out[bx * grid.block_of(1, y)..][..bx];
                for (m, block) in row.iter().zip(&block_x) {
                    out_row[*block] += u8::from(*m);
                }
            }
        }
    });
    counts
}

/// Subtracts `a + k·calc` from every voxel of `obs` (and `a_noise + k_noise·calc` from
/// `noise`), with the fits interpolated from the blocks of `grid` (and with several model maps
/// `calc` interpolated at the fractional B index `t`). Returns the interpolated `k` at the
/// voxels of `report_mask` (one voxel per block) and, with `keep_fields`, `k` and `a` at every
/// voxel.
fn subtract_fit(
    obs: &mut [f32],
    noise: Option<&mut [f32]>,
    calcs: &[&[f32]],
    grid: &BlockGrid,
    fits: &BlockFits,
    report_mask: Option<&[bool]>,
    keep_fields: bool,
) -> (Vec<f32>, Option<LocalFields>) {
    let [nx, ny, nz] = grid.dims;
    let plane = (nx * ny).max(1);
    let n = obs.len();
    let mut fields = keep_fields.then(|| LocalFields { scale: vec![0.0; n], offset: vec![0.0; n] });
    fn planes_of(values: Option<&mut [f32]>, plane: usize, nz: usize) -> Vec<Option<&mut [f32]>> {
        match values {
            Some(v) => v.chunks_mut(plane).map(Some).collect(),
            None => (0..nz).map(|_| None).collect(),
        }
    }
    let (scale_planes, offset_planes) = match fields.as_mut() {
        Some(f) => (planes_of(Some(&mut f.scale), plane, nz), planes_of(Some(&mut f.offset), plane, nz)),
        None => (planes_of(None, plane, nz), planes_of(None, plane, nz)),
    };
    let noise_planes = planes_of(noise, plane, nz);
    // The map's fit alone, or with the noise's (one pass over the interpolation weights).
    let fit = Interpolator::new(grid, [&fits.k, &fits.a]);
    let with_noise =
        (!fits.k_noise.is_empty()).then(|| Interpolator::new(grid, [&fits.k, &fits.a, &fits.k_noise, &fits.a_noise]));
    let index = (!fits.t.is_empty()).then(|| Interpolator::new(grid, [&fits.t]));
    let first_of_block = grid.first_of_block();
    let samples: Vec<Vec<f32>> = obs
        .par_chunks_mut(plane)
        .zip(scale_planes.into_par_iter().zip(offset_planes).zip(noise_planes))
        .enumerate()
        .map(|(z, (values, ((mut scale, mut offset), mut noise)))| {
            let (mut scratch, mut rows): ([Vec<f32>; 4], [Vec<f32>; 4]) = Default::default();
            // Without noise the last two rows stay empty and are not read.
            let (mut t_scratch, mut t_rows): ([Vec<f32>; 1], [Vec<f32>; 1]) = Default::default();
            let mut c_row = vec![0f32; nx];
            let mut samples = Vec::new();
            for y in 0..ny {
                match &with_noise {
                    Some(with_noise) => with_noise.row(y, z, &mut scratch, &mut rows),
                    None => fit.row(y, z, &mut scratch, &mut rows),
                }
                let start = y * nx;
                let row = z * plane + start;
                // The model map along the row, at each voxel's B.
                match &index {
                    None => c_row.copy_from_slice(&calcs[0][row..row + nx]),
                    Some(index) => {
                        index.row(y, z, &mut t_scratch, &mut t_rows);
                        for (x, c) in c_row.iter_mut().enumerate() {
                            let (lower, upper, f) = fractional_b(t_rows[0][x] as f64, calcs.len());
                            let f = f as f32;
                            *c = (1.0 - f) * calcs[lower][row + x] + f * calcs[upper][row + x];
                        }
                    }
                }
                let [k_row, a_row, k_noise, a_noise] = &rows;
                for (x, value) in values[start..start + nx].iter_mut().enumerate() {
                    *value -= a_row[x] + k_row[x] * c_row[x];
                }
                if let Some(noise) = noise.as_mut() {
                    for (x, value) in noise[start..start + nx].iter_mut().enumerate() {
                        *value -= a_noise[x] + k_noise[x] * c_row[x];
                    }
                }
                // Percentiles of a field this smooth need no more than a voxel per block.
                if let (Some(mask), true, true) = (report_mask, first_of_block[2][z], first_of_block[1][y]) {
                    let picked = mask[row..row + nx].iter().zip(k_row).zip(&first_of_block[0]);
                    samples.extend(picked.filter(|((m, _), first)| **m && **first).map(|((_, k), _)| *k));
                }
                if let Some(scale) = scale.as_mut() {
                    scale[start..start + nx].copy_from_slice(k_row);
                }
                if let Some(offset) = offset.as_mut() {
                    offset[start..start + nx].copy_from_slice(a_row);
                }
            }
            samples
        })
        .collect();
    (samples.concat(), fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform noise of sd `sd` from a fixed seed.
    fn noise(n: usize, sd: f32, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 11) as f32 / (1u64 << 53) as f32 - 0.5) * 12f32.sqrt() * sd
            })
            .collect()
    }

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
        let options = LocalScalingOptions { window: 9.0, offset: true, ridge: 1e-6, robust: false };
        let mut difference = obs.clone();
        let (summary, fields) = subtract_locally_scaled(
            &mut difference,
            None,
            &[&calc],
            &[0.0],
            &geometry,
            [0.0; 3],
            &options,
            &global,
            None,
            true,
        );
        assert_eq!(summary.window_voxels, [10, 10, 10]);
        assert!(summary.robust.is_none());
        let worst = difference.iter().fold(0f32, |m, v| m.max(v.abs()));
        // A linear trend in k over a window leaves a second-order residual only.
        assert!(worst < 0.05, "residual {worst}");
        let fields = fields.unwrap();
        let centre = geometry.index(20, 18, 16);
        assert!((fields.scale[centre] - 1.2).abs() < 0.02, "{}", fields.scale[centre]);
        assert!((fields.offset[centre] - 0.28).abs() < 0.03, "{}", fields.offset[centre]);

        // With noise (what the robust fit's sd measures), the robust fit finds the same.
        let noisy: Vec<f32> = obs.iter().zip(noise(n, 0.1, 3)).map(|(o, e)| o + e).collect();
        let mut difference = noisy.clone();
        let options = LocalScalingOptions { robust: true, ..options };
        let (summary, fields) = subtract_locally_scaled(
            &mut difference,
            None,
            &[&calc],
            &[0.0],
            &geometry,
            [0.0; 3],
            &options,
            &global,
            None,
            true,
        );
        let robust = summary.robust.expect("a robust summary");
        // White noise: the mean of a block of 8 voxels has a third of its sd.
        assert!((robust.residual_sd - 0.1 / 8f64.sqrt()).abs() < 0.01, "{robust:?}");
        assert!(robust.excluded_fraction < 0.05, "{robust:?}");
        let fields = fields.unwrap();
        assert!((fields.scale[centre] - 1.2).abs() < 0.03, "{}", fields.scale[centre]);
        assert!((fields.offset[centre] - 0.28).abs() < 0.03, "{}", fields.offset[centre]);
    }

    #[test]
    fn unmodelled_density_does_not_pull_the_robust_fit() {
        // A model of Gaussian atoms on a lattice, an unmodelled blob among them, noise: the
        // plain fit explains part of the blob with the atoms around it (k and a rise, holes at
        // the neighbours); the robust fit leaves the neighbours at noise and keeps the blob.
        let geometry = GridGeometry { dims: [48, 48, 48], voxel_size: [1.0; 3], first_voxel_centre: [3.0, -7.0, 0.0] };
        let n = geometry.len();
        let gaussian = |centre: [f64; 3], width: f64, p: [f64; 3]| {
            let d2: f64 = (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum();
            (-d2 / (2.0 * width * width)).exp() as f32
        };
        let mut atoms = Vec::new();
        for i in 0..8 {
            for j in 0..8 {
                for k in 0..8 {
                    let p = [6.0 + 5.0 * i as f64, -1.0 + 5.0 * j as f64 + 0.7 * i as f64, 5.5 + 5.0 * k as f64];
                    atoms.push(p);
                }
            }
        }
        // A ligand in contact with the model: between atoms, its density overlapping theirs.
        let blob = [28.5, 19.3, 28.0];
        let mut calc = vec![0f32; n];
        let mut truth_blob = vec![0f32; n];
        for k in 0..48 {
            for j in 0..48 {
                for i in 0..48 {
                    let p = geometry.voxel_centre(i, j, k);
                    let idx = geometry.index(i, j, k);
                    calc[idx] = atoms.iter().map(|a| gaussian(*a, 1.0, p)).sum();
                    truth_blob[idx] = 2.0 * gaussian(blob, 2.5, p);
                }
            }
        }
        let noise = noise(n, 0.05, 11);
        let obs: Vec<f32> = (0..n).map(|i| 0.3 + 1.5 * calc[i] + truth_blob[i] + noise[i]).collect();
        let global = global_fit(&obs, &calc, None);
        let run = |robust: bool| {
            let mut difference = obs.clone();
            let options = LocalScalingOptions { window: 12.0, offset: true, ridge: 0.01, robust };
            subtract_locally_scaled(
                &mut difference,
                None,
                &[&calc],
                &[0.0],
                &geometry,
                [20.0, 3.0, 7.0],
                &options,
                &global,
                None,
                false,
            );
            difference
        };
        // Voxels 2.5 to 6 Å from the blob's centre that hold model density: the neighbours.
        let neighbours: Vec<usize> = (0..n)
            .filter(|&i| {
                let p = geometry.voxel_centre(i % 48, (i / 48) % 48, i / 2304);
                let d = (0..3).map(|a| (p[a] - blob[a]).powi(2)).sum::<f64>().sqrt();
                d > 4.0 && d < 7.0 && calc[i] > 0.5
            })
            .collect();
        let centre = geometry.index(25, 26, 28);
        // The error at the neighbours: what is left beyond the noise and the blob's own tail.
        let deepest =
            |d: &[f32]| neighbours.iter().map(|&i| d[i] - noise[i] - truth_blob[i]).fold(f32::INFINITY, f32::min);
        let (plain, robust) = (run(false), run(true));
        let (plain_hole, robust_hole) = (deepest(&plain), deepest(&robust));
        eprintln!(
            "deepest error beside the blob: plain {plain_hole}, robust {robust_hole}; blob {} plain, {} robust, {} true",
            plain[centre], robust[centre], truth_blob[centre]
        );
        assert!(plain_hole < -0.1, "the plain fit digs holes beside the blob: {plain_hole}");
        assert!(robust_hole > -0.05, "the robust fit does not: {robust_hole} (plain {plain_hole})");
        assert!(robust[centre] > plain[centre], "blob {} robust vs {} plain", robust[centre], plain[centre]);
        assert!((robust[centre] - truth_blob[centre]).abs() < 0.2, "{} vs {}", robust[centre], truth_blob[centre]);
    }

    #[test]
    fn robust_weights_fall_smoothly_from_one_to_the_excluded_weight() {
        assert_eq!(robust_weight(0.0), 1.0);
        assert_eq!(robust_weight(-2.4), 1.0);
        assert!((robust_weight(3.0) - (1.0 + EXCLUDED_WEIGHT) / 2.0).abs() < 1e-6);
        assert_eq!(robust_weight(3.6), EXCLUDED_WEIGHT);
        let steps: Vec<f32> = (0..=100).map(|i| robust_weight(2.0 + 0.02 * i as f64)).collect();
        assert!(steps.windows(2).all(|w| w[1] <= w[0] && w[0] - w[1] < 0.04), "smooth and falling");
    }

    #[test]
    fn lowest_of_neighbours_matches_brute_force() {
        let dims = [7, 5, 6];
        let values: Vec<f32> = (0..7 * 5 * 6).map(|i| ((i * 37) % 29) as f32).collect();
        let lowest = lowest_of_neighbours(&values, dims);
        for k in 0..6usize {
            for j in 0..5usize {
                for i in 0..7usize {
                    let mut least = f32::INFINITY;
                    for kk in k.saturating_sub(1)..=(k + 1).min(5) {
                        for jj in j.saturating_sub(1)..=(j + 1).min(4) {
                            for ii in i.saturating_sub(1)..=(i + 1).min(6) {
                                least = least.min(values[ii + 7 * (jj + 5 * kk)]);
                            }
                        }
                    }
                    assert_eq!(lowest[i + 7 * (j + 5 * k)], least, "{i},{j},{k}");
                }
            }
        }
    }
}
