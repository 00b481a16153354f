//! The resolution limit that both maps get: a sharp or soft edge at `d_min` applied in
//! reciprocal space ([`ResolutionEdge`]), only on the band of frequencies that can lie inside the
//! sphere ([`band_for`]), and for the experimental map on a mirror-padded box so that the
//! result does not depend on where the box was cut ([`resolution_limited`]).

use crate::density::fourier::{Fft3d, FourierWorkspace};
use crate::grid::GridGeometry;
use rayon::prelude::*;
use std::f64::consts::PI;

/// How the resolution limit is applied in reciprocal space.
/// In reports: `{"kind": "sharp"}` or `{"kind": "soft", "width": 0.1}`, the command line's words.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolutionEdge {
    /// Keep every term with `s <= 1/d_min`, drop the rest (as Phenix does).
    Sharp,
    /// Full weight up to `(1 - width) / d_min`, then a raised cosine down to zero at `1/d_min`:
    /// uses no data beyond `d_min`, limits ringing, and removes the dependence of a sharp cut on
    /// which lattice points of the box fall inside the sphere.
    #[serde(rename = "soft")]
    RaisedCosine {
        /// Width of the roll-off as a fraction of `1/d_min` (0.1 is a good default).
        width: f64,
    },
}

impl ResolutionEdge {
    /// The edge in words, for people: "sharp cut" or "soft edge over the last 10%".
    pub fn describe(&self) -> String {
        match self {
            ResolutionEdge::Sharp => "sharp cut".to_string(),
            ResolutionEdge::RaisedCosine { width } => format!("soft edge over the last {:.0}%", 100.0 * width),
        }
    }

    /// Weight of a term at `s` (Å⁻¹) for a limit `s_max = 1/d_min`.
    #[inline]
    pub fn weight(&self, s: f64, s_max: f64) -> f64 {
        match *self {
            ResolutionEdge::Sharp => f64::from(u8::from(s <= s_max)),
            ResolutionEdge::RaisedCosine { width } => {
                let start = s_max * (1.0 - width);
                if s <= start {
                    1.0
                } else if s >= s_max {
                    0.0
                } else {
                    0.5 + 0.5 * (PI * (s - start) / (s_max - start)).cos()
                }
            }
        }
    }
}

/// Largest frequency index per axis that can lie inside the sphere `s <= s_max`.
pub fn band_for(dims: [usize; 3], voxel_size: [f64; 3], s_max: f64) -> [usize; 3] {
    std::array::from_fn(|a| ((s_max * dims[a] as f64 * voxel_size[a]).floor() as usize).min(dims[a] / 2))
}

/// The map limited to `d_min` with `edge`.
///
/// A Fourier filter treats the box as periodic: where density runs through a face (a filament, a
/// map boxed tightly around a larger complex), the wrap joins unrelated faces and the resulting
/// step rings through the box, so the result would depend on where the box was cut. The map is
/// therefore filtered on a box padded by `padding` voxels per side, filled by mirror reflection
/// (continuous across the faces), and cropped back. F(000) is kept: the mean survives, and the
/// local offset, not a global mean, absorbs the background.
pub fn resolution_limited(data: Vec<f32>, geometry: &GridGeometry, d_min: f64, edge: ResolutionEdge) -> Vec<f32> {
    resolution_limited_in(data, geometry, d_min, edge, &mut FourierWorkspace::new())
}

/// As [`resolution_limited`], with buffers from (and left in) `workspace` for a next transform.
pub fn resolution_limited_in(
    data: Vec<f32>,
    geometry: &GridGeometry,
    d_min: f64,
    edge: ResolutionEdge,
    workspace: &mut FourierWorkspace,
) -> Vec<f32> {
    resolution_limited_inspect(data, geometry, d_min, edge, workspace, |_, _| ())
}

/// As [`resolution_limited_in`], showing `inspect` the map's half spectrum on the padded grid
/// (unnormalised, before the edge is applied): the half-map statistics read the spectrum that
/// the filter computes anyway instead of transforming the map a second time.
pub fn resolution_limited_inspect<F>(
    data: Vec<f32>,
    geometry: &GridGeometry,
    d_min: f64,
    edge: ResolutionEdge,
    workspace: &mut FourierWorkspace,
    inspect: F,
) -> Vec<f32>
where
    F: FnOnce(&Fft3d, &[rustfft::num_complex::Complex32]),
{
    let padding = MirrorPadding::new(geometry, d_min);
    let mut padded = workspace.take_real(padding.padded_len());
    padding.pad(&data, &mut padded);
    drop(data);
    let fft = Fft3d::new(padding.padded_dims);
    let band = padding.band(d_min);
    let spectrum = fft.forward_in(&mut padded, Some(band), workspace);
    inspect(&fft, spectrum);
    let normalisation = 1.0 / padded.len() as f64;
    apply_edge(&fft, geometry.voxel_size, spectrum, d_min, edge, normalisation, |_| 1.0);
    fft.inverse_band_limited(spectrum, &mut padded, Some(band));
    let filtered = padding.crop(&padded);
    workspace.give_back_real(padded);
    filtered
}

/// A map's box embedded in a larger FFT grid, the margin filled by mirror reflection (see
/// [`resolution_limited`]): every Fourier operation on the experimental maps goes through it,
/// so all of them see the same continuous, box-start independent extension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MirrorPadding {
    /// The map's grid.
    pub dims: [usize; 3],
    /// Voxels added before the map along each axis.
    pub padding: [usize; 3],
    /// The padded grid (FFT-friendly).
    pub padded_dims: [usize; 3],
    /// Voxel size (Å).
    pub voxel_size: [f64; 3],
}

impl MirrorPadding {
    /// The padding for filtering at `d_min`: [`MIRROR_PADDING_RESOLUTIONS`] × `d_min` per side.
    pub fn new(geometry: &GridGeometry, d_min: f64) -> Self {
        let padding: [usize; 3] = std::array::from_fn(|a| {
            let wanted = (MIRROR_PADDING_RESOLUTIONS * d_min / geometry.voxel_size[a]).ceil() as usize;
            wanted.min(geometry.dims[a].saturating_sub(1))
        });
        let padded_dims: [usize; 3] =
            std::array::from_fn(|a| crate::density::fourier::fft_friendly_size(geometry.dims[a] + 2 * padding[a]));
        MirrorPadding { dims: geometry.dims, padding, padded_dims, voxel_size: geometry.voxel_size }
    }

    /// No padding at all: the box itself, treated as periodic (any size; FFTs of awkward sizes
    /// are slower but exact).
    pub fn periodic(geometry: &GridGeometry) -> Self {
        MirrorPadding {
            dims: geometry.dims,
            padding: [0; 3],
            padded_dims: geometry.dims,
            voxel_size: geometry.voxel_size,
        }
    }

    /// Number of values of the padded grid.
    pub fn padded_len(&self) -> usize {
        self.padded_dims.iter().product()
    }

    /// Frequency band that a map limited to `d_min` occupies on the padded grid.
    pub fn band(&self, d_min: f64) -> [usize; 3] {
        band_for(self.padded_dims, self.voxel_size, 1.0 / d_min)
    }

    /// Fills `out` (the padded grid) with `data` (the map's grid) and its mirror images.
    pub fn pad(&self, data: &[f32], out: &mut [f32]) {
        mirror_pad(data, self.dims, self.padded_dims, self.padding, out);
    }

    /// The map's box cut back out of the padded grid.
    pub fn crop(&self, padded: &[f32]) -> Vec<f32> {
        crate::grid::crop_box(padded, self.padded_dims, self.padding, self.dims)
    }
}

/// Multiplies a half spectrum (unnormalised, of `fft`'s grid) by the resolution edge at `d_min`
/// times `extra(s²)` times `normalisation`, and sets every term beyond `1/d_min` to zero.
#[allow(clippy::too_many_arguments)]
pub fn apply_edge<F>(
    fft: &Fft3d,
    voxel_size: [f64; 3],
    spectrum: &mut [rustfft::num_complex::Complex32],
    d_min: f64,
    edge: ResolutionEdge,
    normalisation: f64,
    extra: F,
) where
    F: Fn(f64) -> f64 + Sync,
{
    let s_max = 1.0 / d_min;
    fft.weight_within_sphere(voxel_size, spectrum, s_max * s_max, |s2| {
        (edge.weight(s2.sqrt(), s_max) * extra(s2) * normalisation) as f32
    });
}

/// Padding of the experimental map before filtering, in multiples of d_min: long enough for
/// the ringing of the resolution edge from the (mirrored, hence gentle) box faces to fade.
pub const MIRROR_PADDING_RESOLUTIONS: f64 = 2.0;

/// Index into `0..n` of position `p` (may be negative or >= n) reflected at the faces
/// (whole-sample symmetric: -1 -> 0, n -> n - 1).
fn reflect(p: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let q = p.rem_euclid(period);
    (if q < n { q } else { period - 1 - q }) as usize
}

/// Embeds `data` (dims) at offset `padding` in a grid of `padded_dims`, filling the rest by
/// mirror reflection.
fn mirror_pad(data: &[f32], dims: [usize; 3], padded_dims: [usize; 3], padding: [usize; 3], out: &mut [f32]) {
    let [px, py, _] = padded_dims;
    let source = |p: usize, a: usize| reflect(p as isize - padding[a] as isize, dims[a]);
    let xs: Vec<usize> = (0..px).map(|x| source(x, 0)).collect();
    out.par_chunks_mut(px * py).enumerate().for_each(|(z, plane)| {
        let sz = source(z, 2);
        for y in 0..py {
            let sy = source(y, 1);
            let row = &data[dims[0] * (sy + dims[1] * sz)..][..dims[0]];
            for (x, v) in plane[y * px..(y + 1) * px].iter_mut().enumerate() {
                *v = row[xs[x]];
            }
        }
    });
}
