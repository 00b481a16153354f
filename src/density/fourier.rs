//! Three-dimensional real-to-complex FFTs of X-fastest f32 grids, parallel with rayon.
//!
//! The half spectrum has `nx/2 + 1` complex values along X (the fastest axis), all of Y and Z:
//! index `h + hx * (k + ny * l)`. Transforms are unnormalised: `inverse(forward(x)) = N x`.
//! Plans are made once per [`Fft3d`]; every hot loop works in per-thread scratch buffers made
//! once per rayon job, so no loop allocates per line.

use crate::grid::filled;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Plans for one grid size.
pub struct Fft3d {
    dims: [usize; 3],
    r2c: Arc<dyn RealToComplex<f32>>,
    c2r: Arc<dyn ComplexToReal<f32>>,
    y_forward: Arc<dyn Fft<f32>>,
    y_inverse: Arc<dyn Fft<f32>>,
    z_forward: Arc<dyn Fft<f32>>,
    z_inverse: Arc<dyn Fft<f32>>,
}

/// A raw pointer that may be shared between threads that write disjoint elements.
#[derive(Clone, Copy)]
struct SharedMut(*mut Complex32);
// SAFETY: used only where each thread touches a disjoint set of indices (one Y row of every
// Z plane per task), documented at the use.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the whole Send wrapper, not the raw field).
    fn get(self) -> *mut Complex32 {
        self.0
    }
}

/// Smallest even n' >= n whose only prime factors are 2, 3, 5 and 7 (fast for the FFT; odd
/// sizes measured slower with realfft).
pub fn fft_friendly_size(n: usize) -> usize {
    let mut m = n.max(2);
    loop {
        if !m.is_multiple_of(2) {
            m += 1;
            continue;
        }
        let mut r = m;
        for p in [2, 3, 5, 7] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// Buffers that successive transforms reuse: a padded real grid and a half spectrum. The
/// experimental map's filter and the model map run one after the other on grids of about the
/// same size, and reusing the pages of the first for the second saves mapping and clearing
/// about two maps of fresh memory.
#[derive(Default)]
pub struct FourierWorkspace {
    real: Vec<f32>,
    spectrum: Vec<Complex32>,
}

impl FourierWorkspace {
    /// An empty workspace; buffers grow on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// A real buffer of `len` values (zeros), reusing the workspace's memory when it is large
    /// enough. Give it back with [`FourierWorkspace::give_back_real`].
    pub fn take_real(&mut self, len: usize) -> Vec<f32> {
        let mut buffer = std::mem::take(&mut self.real);
        if buffer.capacity() < len {
            return filled(len, 0f32);
        }
        buffer.truncate(len);
        buffer.par_iter_mut().for_each(|v| *v = 0.0);
        buffer.resize(len, 0.0);
        buffer
    }

    /// Keeps `buffer` for the next [`FourierWorkspace::take_real`].
    pub fn give_back_real(&mut self, buffer: Vec<f32>) {
        if buffer.capacity() > self.real.capacity() {
            self.real = buffer;
        }
    }

    /// Takes the spectrum out of the workspace (the next transform makes a new one): for a
    /// caller that needs several spectra at once.
    pub fn take_spectrum(&mut self) -> Vec<Complex32> {
        std::mem::take(&mut self.spectrum)
    }

    /// Lends `spectrum` to the workspace, so that the next forward transform writes into it.
    pub fn lend_spectrum(&mut self, spectrum: Vec<Complex32>) {
        if spectrum.capacity() > self.spectrum.capacity() {
            self.spectrum = spectrum;
        }
    }

    /// Frees the spectrum (the caller needs its memory for something else).
    pub fn release_spectrum(&mut self) {
        self.spectrum = Vec::new();
    }

    /// Frees both buffers: the next transform maps fresh memory (a step between transforms
    /// that needs the memory more than the next transform needs the speed).
    pub fn release(&mut self) {
        self.real = Vec::new();
        self.spectrum = Vec::new();
    }

    fn spectrum_of_len(&mut self, len: usize) -> &mut Vec<Complex32> {
        if self.spectrum.capacity() < len {
            self.spectrum = filled(len, Complex32::new(0.0, 0.0));
        } else {
            self.spectrum.resize(len, Complex32::new(0.0, 0.0));
        }
        &mut self.spectrum
    }
}

impl Fft3d {
    /// Plans the transforms of an `nx × ny × nz` grid.
    pub fn new(dims: [usize; 3]) -> Self {
        let mut real_planner = RealFftPlanner::<f32>::new();
        let mut planner = FftPlanner::<f32>::new();
        Fft3d {
            dims,
            r2c: real_planner.plan_fft_forward(dims[0]),
            c2r: real_planner.plan_fft_inverse(dims[0]),
            y_forward: planner.plan_fft_forward(dims[1]),
            y_inverse: planner.plan_fft_inverse(dims[1]),
            z_forward: planner.plan_fft_forward(dims[2]),
            z_inverse: planner.plan_fft_inverse(dims[2]),
        }
    }

    /// Grid size.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Number of complex values along X in the half spectrum.
    pub fn half_x(&self) -> usize {
        self.dims[0] / 2 + 1
    }

    /// Length of the half spectrum.
    pub fn spectrum_len(&self) -> usize {
        self.half_x() * self.dims[1] * self.dims[2]
    }

    /// Forward transform of `real` (which is used as scratch and left unspecified) into a new
    /// half spectrum.
    pub fn forward(&self, real: &mut [f32]) -> Vec<Complex32> {
        self.forward_band_limited(real, None)
    }

    /// Forward transform that computes exactly only the terms with `|frequency index| <= band`
    /// on every axis; the others hold partial transforms and must be discarded (multiplied by
    /// zero) by the caller. A resolution-limited map needs only the band around the sphere: the
    /// Y and Z passes then skip most lines.
    pub fn forward_band_limited(&self, real: &mut [f32], band: Option<[usize; 3]>) -> Vec<Complex32> {
        let mut workspace = FourierWorkspace::new();
        self.forward_in(real, band, &mut workspace);
        std::mem::take(&mut workspace.spectrum)
    }

    /// As [`Fft3d::forward_band_limited`], into the workspace's spectrum, which it returns.
    pub fn forward_in<'w>(
        &self,
        real: &mut [f32],
        band: Option<[usize; 3]>,
        workspace: &'w mut FourierWorkspace,
    ) -> &'w mut Vec<Complex32> {
        let [nx, ny, nz] = self.dims;
        assert_eq!(real.len(), nx * ny * nz);
        let hx = self.half_x();
        let spectrum = workspace.spectrum_of_len(self.spectrum_len());
        spectrum.par_chunks_mut(hx).zip(real.par_chunks_mut(nx)).for_each_init(
            || self.r2c.make_scratch_vec(),
            |scratch, (out, row)| {
                self.r2c.process_with_scratch(row, out, scratch).expect("lengths match the plan");
            },
        );
        self.columns(spectrum, &self.y_forward, &self.z_forward, band, true);
        spectrum
    }

    /// Inverse transform of a half spectrum (used as scratch) into `real`, unnormalised.
    pub fn inverse(&self, spectrum: &mut [Complex32], real: &mut [f32]) {
        self.inverse_band_limited(spectrum, real, None)
    }

    /// Inverse transform of a spectrum that is zero outside `|frequency index| <= band` on
    /// every axis (the caller guarantees it); lines that hold only zeros are skipped.
    pub fn inverse_band_limited(&self, spectrum: &mut [Complex32], real: &mut [f32], band: Option<[usize; 3]>) {
        let [nx, ny, nz] = self.dims;
        assert_eq!(real.len(), nx * ny * nz);
        assert_eq!(spectrum.len(), self.spectrum_len());
        let hx = self.half_x();
        self.columns(spectrum, &self.y_inverse, &self.z_inverse, band, false);
        real.par_chunks_mut(nx).zip(spectrum.par_chunks_mut(hx)).for_each_init(
            || self.c2r.make_scratch_vec(),
            |scratch, (row, input)| {
                // The imaginary parts of the zero and Nyquist terms must be zero for a real
                // signal; rounding leaves them tiny, and realfft rejects non-zero ones.
                input[0].im = 0.0;
                if nx % 2 == 0 {
                    input[hx - 1].im = 0.0;
                }
                self.c2r.process_with_scratch(input, row, scratch).expect("lengths match the plan");
            },
        );
    }

    /// Complex transforms along Y and Z of a half spectrum: Y first when going forward, Z
    /// first when going back, so that with a band limit each pass skips the lines that are
    /// outside the band (forward: not needed; inverse: all zero).
    fn columns(
        &self,
        spectrum: &mut [Complex32],
        along_y: &Arc<dyn Fft<f32>>,
        along_z: &Arc<dyn Fft<f32>>,
        band: Option<[usize; 3]>,
        forward: bool,
    ) {
        let [_, ny, _] = self.dims;
        let hx = self.half_x();
        let x_lines = band.map_or(hx, |b| (b[0] + 1).min(hx));
        let y_rows: Vec<usize> =
            (0..ny).filter(|&y| band.is_none_or(|b| Self::frequency(y, ny).unsigned_abs() <= b[1])).collect();
        if forward {
            self.pass_y(spectrum, along_y, x_lines);
            self.pass_z(spectrum, along_z, x_lines, &y_rows);
        } else {
            self.pass_z(spectrum, along_z, x_lines, &y_rows);
            self.pass_y(spectrum, along_y, x_lines);
        }
    }

    /// Transforms along Y of the first `x_lines` columns of every Z plane (each plane is
    /// contiguous; it is transposed so the Y lines are contiguous).
    fn pass_y(&self, spectrum: &mut [Complex32], along_y: &Arc<dyn Fft<f32>>, x_lines: usize) {
        let [_, ny, _] = self.dims;
        let hx = self.half_x();
        spectrum.par_chunks_mut(hx * ny).for_each_init(
            || {
                (
                    vec![Complex32::new(0.0, 0.0); x_lines * ny],
                    vec![Complex32::new(0.0, 0.0); along_y.get_inplace_scratch_len()],
                )
            },
            |(lines, scratch), plane| {
                for y in 0..ny {
                    for x in 0..x_lines {
                        lines[x * ny + y] = plane[y * hx + x];
                    }
                }
                along_y.process_with_scratch(lines, scratch);
                for y in 0..ny {
                    for x in 0..x_lines {
                        plane[y * hx + x] = lines[x * ny + y];
                    }
                }
            },
        );
    }

    /// Transforms along Z of the first `x_lines` values of the given Y rows: one task per Y
    /// row gathers that row from every Z plane.
    fn pass_z(&self, spectrum: &mut [Complex32], along_z: &Arc<dyn Fft<f32>>, x_lines: usize, y_rows: &[usize]) {
        let [_, ny, nz] = self.dims;
        let hx = self.half_x();
        let base = SharedMut(spectrum.as_mut_ptr());
        let plane_len = hx * ny;
        y_rows.par_iter().for_each_init(
            || {
                (
                    vec![Complex32::new(0.0, 0.0); x_lines * nz],
                    vec![Complex32::new(0.0, 0.0); along_z.get_inplace_scratch_len()],
                )
            },
            |(lines, scratch), &y| {
                // SAFETY: the rows are distinct; task `y` reads and writes only indices
                // y*hx + z*plane_len + x (x < hx), which no other task touches, and `spectrum`
                // outlives the parallel loop.
                unsafe {
                    for z in 0..nz {
                        let row = base.get().add(z * plane_len + y * hx);
                        for x in 0..x_lines {
                            lines[x * nz + z] = *row.add(x);
                        }
                    }
                    along_z.process_with_scratch(lines, scratch);
                    for z in 0..nz {
                        let row = base.get().add(z * plane_len + y * hx);
                        for x in 0..x_lines {
                            *row.add(x) = lines[x * nz + z];
                        }
                    }
                }
            },
        );
    }

    /// Frequency index (signed) of position `i` along an axis of length `n`.
    #[inline]
    pub fn frequency(i: usize, n: usize) -> isize {
        if i <= n / 2 { i as isize } else { i as isize - n as isize }
    }

    /// Multiplies every term of the half spectrum with `s² <= s2_max` by `weight(s²)` and sets
    /// the others to zero, in parallel over Z planes. Lines that miss the sphere are cleared
    /// without evaluating the weight, which most of a band-limited spectrum's lines do.
    pub fn weight_within_sphere<F>(&self, voxel_size: [f64; 3], spectrum: &mut [Complex32], s2_max: f64, weight: F)
    where
        F: Fn(f64) -> f32 + Sync,
    {
        let [_, ny, nz] = self.dims;
        let hx = self.half_x();
        let zero = Complex32::new(0.0, 0.0);
        let inv_len: [f64; 3] = std::array::from_fn(|a| 1.0 / (self.dims[a] as f64 * voxel_size[a]));
        spectrum.par_chunks_mut(hx * ny).enumerate().for_each(|(z, plane)| {
            let sz = Self::frequency(z, nz) as f64 * inv_len[2];
            for y in 0..ny {
                let sy = Self::frequency(y, ny) as f64 * inv_len[1];
                let row = &mut plane[y * hx..(y + 1) * hx];
                let rest = s2_max - sy * sy - sz * sz;
                // Terms x < inside have s² <= s2_max (up to rounding, checked per term).
                let inside = if rest < 0.0 { 0 } else { ((rest.sqrt() / inv_len[0]).floor() as usize + 1).min(hx) };
                for (x, value) in row[..inside].iter_mut().enumerate() {
                    let sx = x as f64 * inv_len[0];
                    let s2 = sx * sx + sy * sy + sz * sz;
                    *value = if s2 <= s2_max { *value * weight(s2) } else { zero };
                }
                row[inside..].fill(zero);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive 3-D DFT of a real grid at one frequency.
    fn dft(real: &[f32], dims: [usize; 3], h: usize, k: usize, l: usize) -> (f64, f64) {
        let (mut re, mut im) = (0.0, 0.0);
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                for x in 0..dims[0] {
                    let phase = -2.0
                        * std::f64::consts::PI
                        * ((h * x) as f64 / dims[0] as f64
                            + (k * y) as f64 / dims[1] as f64
                            + (l * z) as f64 / dims[2] as f64);
                    let v = real[x + dims[0] * (y + dims[1] * z)] as f64;
                    re += v * phase.cos();
                    im += v * phase.sin();
                }
            }
        }
        (re, im)
    }

    #[test]
    fn forward_matches_a_naive_dft_and_inverse_restores() {
        for dims in [[6, 5, 4], [8, 6, 10], [7, 3, 5]] {
            let n: usize = dims.iter().product();
            let original: Vec<f32> = (0..n).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
            let fft = Fft3d::new(dims);
            let mut scratch = original.clone();
            let mut spectrum = fft.forward(&mut scratch);
            let hx = fft.half_x();
            for (h, k, l) in [(0, 0, 0), (1, 2, 3), (hx - 1, dims[1] - 1, 1), (2, 0, dims[2] - 1)] {
                let (re, im) = dft(&original, dims, h, k, l);
                let got = spectrum[h + hx * (k + dims[1] * l)];
                assert!((got.re as f64 - re).abs() < 1e-3 && (got.im as f64 - im).abs() < 1e-3, "{dims:?} {h} {k} {l}");
            }
            let mut back = vec![0f32; n];
            fft.inverse(&mut spectrum, &mut back);
            for (b, o) in back.iter().zip(&original) {
                assert!((b / n as f32 - o).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn band_limited_transforms_agree_with_full_ones_inside_the_band() {
        let dims = [12, 10, 14];
        let n: usize = dims.iter().product();
        let original: Vec<f32> = (0..n).map(|i| ((i * 104729) % 97) as f32 / 40.0 - 1.0).collect();
        let fft = Fft3d::new(dims);
        let band = [3, 2, 4];
        let full = fft.forward(&mut original.clone());
        let mut limited = fft.forward_band_limited(&mut original.clone(), Some(band));
        let hx = fft.half_x();
        let inside = |i: usize| {
            let (x, y, z) = (i % hx, (i / hx) % dims[1], i / (hx * dims[1]));
            x <= band[0]
                && Fft3d::frequency(y, dims[1]).unsigned_abs() <= band[1]
                && Fft3d::frequency(z, dims[2]).unsigned_abs() <= band[2]
        };
        for i in 0..full.len() {
            if inside(i) {
                assert!((full[i] - limited[i]).norm() < 1e-4, "{i}");
            } else {
                limited[i] = Complex32::new(0.0, 0.0);
            }
        }
        let mut a = full.clone();
        for (i, v) in a.iter_mut().enumerate() {
            if !inside(i) {
                *v = Complex32::new(0.0, 0.0);
            }
        }
        let (mut back_full, mut back_limited) = (vec![0f32; n], vec![0f32; n]);
        fft.inverse(&mut a, &mut back_full);
        fft.inverse_band_limited(&mut limited, &mut back_limited, Some(band));
        for (p, q) in back_full.iter().zip(&back_limited) {
            assert!((p - q).abs() < 1e-3);
        }
    }

    #[test]
    fn friendly_sizes() {
        assert_eq!(fft_friendly_size(97), 98);
        assert_eq!(fft_friendly_size(121), 126);
        assert_eq!(fft_friendly_size(404), 420);
        assert_eq!(fft_friendly_size(384), 384);
        assert_eq!(fft_friendly_size(1), 2);
    }
}
