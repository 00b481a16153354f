//! The model map: the model's electron-scattering density, limited to a resolution `d_min`, on
//! exactly the grid of the experimental map.
//!
//! How it is computed, and why:
//! 1. Each atom is `occupancy × Σ_i a_i` Gaussians (electron form factors, [`crate::density::form_factors`])
//!    convolved with its isotropic B. Sampling such narrow Gaussians at cryo-EM voxel sizes
//!    aliases, so every atom is widened by an extra `blur` B, chosen so that the aliased part of
//!    the spectrum that lands inside the resolution sphere is below [`ModelMapOptions::accuracy`]
//!    even after the blur is divided out again (see [`choose_blur`]).
//! 2. The Gaussians are added to a grid with the experimental voxel size, each cut where it falls
//!    below `accuracy` of the atom's peak. Unless [`ModelMapOptions::periodic`] is set, the grid is
//!    the experimental box padded by that cut-off radius: atoms poking out of a tight box add their
//!    tails inside it and do not wrap around to the opposite face. (Phenix and gemmi treat the
//!    box as a periodic cell, which puts density from atoms beyond one face near the other.)
//! 3. Real-to-complex FFT; multiply by `exp(+blur s²/4)` to undo the blur; apply the resolution
//!    edge at `d_min`, sharp or a raised cosine (which limits ringing and makes the result
//!    independent of the box size); inverse FFT; crop the padding.
//!
//! Adding the Gaussians runs in parallel over Z slabs: each thread owns a slab and adds every
//! atom that reaches it, so no two threads write the same voxel and no locks are needed.

use crate::density::filter::{ResolutionEdge, apply_edge, band_for};
use crate::density::form_factors::{FALLBACK_ATOMIC_NUMBER, electron_form_factor};
use crate::density::fourier::{Fft3d, FourierWorkspace, fft_friendly_size};
use crate::error::{Error, Result};
use crate::grid::GridGeometry;
use crate::io::model::Model;
use rayon::prelude::*;
use std::f64::consts::PI;

/// Parameters of the model map.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelMapOptions {
    /// Resolution limit in Ångström.
    pub d_min: f64,
    /// How the limit is applied.
    pub edge: ResolutionEdge,
    /// Include hydrogen atoms (they scatter electrons noticeably; on by default).
    pub hydrogens: bool,
    /// Treat the box as a periodic cell (as Phenix and gemmi do) instead of padding it.
    pub periodic: bool,
    /// Target relative accuracy: the Gaussian cut-off and the aliasing bound (1e-4 by default).
    pub accuracy: f64,
}

impl ModelMapOptions {
    /// Defaults for a resolution: raised-cosine edge over 10% of `1/d_min`, hydrogens included,
    /// padded box, accuracy 1e-4 (errors far below any map's noise; 1e-5 costs about 30% more).
    pub fn new(d_min: f64) -> Self {
        ModelMapOptions {
            d_min,
            edge: ResolutionEdge::RaisedCosine { width: crate::defaults::DEFAULT_EDGE_WIDTH },
            hydrogens: true,
            periodic: false,
            accuracy: 1e-4,
        }
    }

    /// Refuses values that cannot be computed; the message names the key as the command line
    /// and Python spell it (`resolution`, `edge_width`).
    pub fn check(&self) -> Result<()> {
        let d_min = self.d_min;
        if !(d_min.is_finite() && d_min > 0.0) {
            return Err(Error::Usage(format!("resolution must be a positive number of Ångström, got {d_min}")));
        }
        if let ResolutionEdge::RaisedCosine { width } = self.edge
            && !(width > 0.0 && width < 1.0)
        {
            return Err(Error::Usage(format!("edge_width must be between 0 and 1, got {width}")));
        }
        if !(self.accuracy > 0.0 && self.accuracy < 0.1) {
            return Err(Error::Usage(format!("accuracy must be in (0, 0.1), got {}", self.accuracy)));
        }
        Ok(())
    }
}

/// A computed model map and how it was made.
#[derive(Debug, Clone)]
pub struct ModelDensity {
    /// Density on the target grid (X fastest), in the form factors' units per Å³ (Å⁻², as
    /// gemmi's electron density calculator).
    pub data: Vec<f32>,
    /// Blur B (Å²) added for sampling and removed in reciprocal space.
    pub blur: f64,
    /// Size of the grid the FFT ran on (padded unless periodic).
    pub fft_dims: [usize; 3],
    /// Non-fatal remarks (unknown elements, coarse grid...).
    pub warnings: Vec<String>,
}

/// Smallest blur B (Å²) that keeps aliasing inside the resolution sphere below `accuracy`.
///
/// Sampling at spacing `h` folds frequency `s` onto `1/h - s`; the lowest frequency that lands
/// inside the sphere is `s_a = 1/h - 1/d_min`. A Gaussian of total B is down to
/// `exp(-B s_a²/4)` there, and removing the blur afterwards multiplies by up to
/// `exp(blur s_max²/4)`. Requiring the product to be below `accuracy` gives
/// `blur >= (4 ln(1/accuracy) - B_min s_a²) / (s_a² - s_max²)`; it also keeps every B + blur
/// positive.
pub fn choose_blur(b_min: f64, voxel_size: [f64; 3], d_min: f64, accuracy: f64) -> f64 {
    let h = voxel_size.iter().cloned().fold(0.0, f64::max);
    let s_max = 1.0 / d_min;
    let s_alias = 1.0 / h - s_max;
    let need = 4.0 * (1.0 / accuracy).ln();
    let denominator = s_alias * s_alias - s_max * s_max;
    let blur = if denominator > 0.0 { (need - b_min * s_alias * s_alias) / denominator } else { 0.0 };
    blur.max(-b_min + 1.0).max(0.0)
}

/// The coarsest voxel for which [`choose_blur`] stays moderate: d_min / 2.5. Coarser grids
/// (rare: most maps are sampled at d_min/3 or finer) get a lower effective resolution.
pub const MIN_SAMPLING_RATIO: f64 = 2.5;

/// Atoms with a B above this (Å²) add less than 1e-4 of an ordered atom's peak density (the
/// model map's accuracy) and are left out: their Gaussians reach hundreds of Å, and padding the
/// FFT grid for them cost seconds and gigabytes on a small box (B = 10⁶ Å², found by fuzzing).
pub const MAX_B_FOR_DENSITY: f64 = 1.0e4;

/// One atom prepared for adding: centre in grid units and its five Gaussians.
struct Splat {
    grid_position: [f64; 3],
    /// Amplitude and exponent (per Å²) of each Gaussian.
    amplitude: [f64; 5],
    exponent: [f64; 5],
    /// Cut-off radius in Å.
    radius: f64,
}

/// Computes the model map of `model` on `target` (the experimental grid).
pub fn compute_model_map(model: &Model, target: &GridGeometry, options: &ModelMapOptions) -> Result<ModelDensity> {
    compute_model_map_in(model, target, options, &mut FourierWorkspace::new())
}

/// As [`compute_model_map`], with buffers from (and left in) `workspace`.
pub fn compute_model_map_in(
    model: &Model,
    target: &GridGeometry,
    options: &ModelMapOptions,
    workspace: &mut FourierWorkspace,
) -> Result<ModelDensity> {
    options.check()?;
    compute_model_map_checked(model, target, options, workspace)
}

/// [`compute_model_map_in`] with options already checked ([`ModelMapOptions::check`]).
pub(crate) fn compute_model_map_checked(
    model: &Model,
    target: &GridGeometry,
    options: &ModelMapOptions,
    workspace: &mut FourierWorkspace,
) -> Result<ModelDensity> {
    let mut warnings = Vec::new();
    let h_max = target.voxel_size.iter().cloned().fold(0.0, f64::max);
    let mut d_min = options.d_min;
    if d_min < MIN_SAMPLING_RATIO * h_max {
        d_min = MIN_SAMPLING_RATIO * h_max;
        warnings.push(format!(
            "the map's voxel ({h_max:.3} Å) is too coarse for d_min {:.2} Å; the model map is limited to {d_min:.2} Å",
            options.d_min
        ));
    }
    let atoms: Vec<_> = model.atoms.iter().filter(|a| options.hydrogens || !a.is_hydrogen).collect();
    // A negative B has no physical meaning; a hugely negative one (-1e30) made the blur and the
    // Gaussians' reach run away (the run never ended). They are used as 0, with a warning.
    let negative: Vec<f64> = atoms.iter().map(|a| a.b_for_density()).filter(|b| *b < 0.0).collect();
    if !negative.is_empty() {
        warnings.push(format!(
            "{} atoms have a negative B (the lowest {:.3e} Å²); the model map uses B = 0 for them",
            negative.len(),
            negative.iter().cloned().fold(0.0, f64::min)
        ));
    }
    let b_min = atoms.iter().map(|a| density_b(a)).fold(f64::INFINITY, f64::min);
    let b_min = if b_min.is_finite() { b_min } else { 0.0 };
    let blur = choose_blur(b_min, target.voxel_size, d_min, options.accuracy);

    let splats_in_angstrom = atom_splats(model, &atoms, blur, options.accuracy, &mut warnings);
    let (fft_dims, padding, splats) = place_on_fft_grid(splats_in_angstrom, target, options.periodic)?;

    let mut density = workspace.take_real(fft_dims.iter().product());
    add_gaussians(&mut density, fft_dims, target.voxel_size, &splats);

    let fft = Fft3d::new(fft_dims);
    let s_max = 1.0 / d_min;
    let band = band_for(fft_dims, target.voxel_size, s_max);
    let spectrum = fft.forward_in(&mut density, Some(band), workspace);
    let normalisation = 1.0 / density.len() as f64;
    apply_edge(&fft, target.voxel_size, spectrum, d_min, options.edge, normalisation, |s2| (blur * s2 / 4.0).exp());
    fft.inverse_band_limited(spectrum, &mut density, Some(band));
    // The crop below needs a map of memory: the spectrum's goes first.
    workspace.release_spectrum();

    let data = if padding == [0, 0, 0] && fft_dims == target.dims {
        density
    } else {
        let cropped = crate::grid::crop_box(&density, fft_dims, padding, target.dims);
        workspace.give_back_real(density);
        cropped
    };
    Ok(ModelDensity { data, blur, fft_dims, warnings })
}

/// Each atom as five Gaussians (its form factor convolved with its B and the blur), in Å, cut
/// where they fall below `accuracy` of the atom's peak; atoms of occupancy 0 are left out.
/// Elements outside the table are modelled as carbon, and named in a warning.
/// The B an atom's density is computed with: its own, or 0 when that is negative.
fn density_b(atom: &crate::io::model::Atom) -> f64 {
    atom.b_for_density().max(0.0)
}

fn atom_splats(
    model: &Model,
    atoms: &[&crate::io::model::Atom],
    blur: f64,
    accuracy: f64,
    warnings: &mut Vec<String>,
) -> Vec<Splat> {
    let fallback = electron_form_factor(FALLBACK_ATOMIC_NUMBER).expect("carbon is in the table");
    let mut unknown: Vec<String> = Vec::new();
    let log_accuracy = (1.0 / accuracy).ln();
    // Positions stay in Ångström until the FFT grid is known.
    let mut splats = Vec::with_capacity(atoms.len());
    let mut too_diffuse = 0usize;
    for atom in atoms {
        if density_b(atom) > MAX_B_FOR_DENSITY {
            too_diffuse += 1;
            continue;
        }
        let form = electron_form_factor(atom.atomic_number).unwrap_or_else(|| {
            let residue = model.residue_of(atom);
            unknown.push(format!("{residue}/{} ({})", atom.name, atom.element));
            fallback
        });
        let mut amplitude = [0.0; 5];
        let mut exponent = [0.0; 5];
        for i in 0..5 {
            let b_total = form.b[i] + density_b(atom) + blur;
            amplitude[i] = atom.occupancy.max(0.0) * form.a[i] * (4.0 * PI / b_total).powf(1.5);
            exponent[i] = 4.0 * PI * PI / b_total;
        }
        let peak: f64 = amplitude.iter().map(|a| a.abs()).sum();
        if peak == 0.0 {
            continue; // occupancy 0: no density
        }
        // Each Gaussian is cut where it falls below `accuracy` of the atom's peak.
        let radius = (0..5)
            .map(|i| {
                let ratio = amplitude[i].abs() / peak;
                let ln = (ratio.ln() + log_accuracy).max(0.0);
                (ln / exponent[i]).sqrt()
            })
            .fold(0.0, f64::max);
        splats.push(Splat { grid_position: atom.position, amplitude, exponent, radius });
    }
    if too_diffuse > 0 {
        warnings.push(format!(
            "{too_diffuse} atoms with B above {MAX_B_FOR_DENSITY} Å² are left out of the model map (their peak \
             density is below 1e-4 of an ordered atom's; their Gaussians would span far more than the box)"
        ));
    }
    if !unknown.is_empty() {
        warnings.push(format!(
            "{} atoms have an element outside the electron form-factor table (H..Cf) and are modelled as carbon: {}{}",
            unknown.len(),
            unknown.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if unknown.len() > 5 { ", ..." } else { "" }
        ));
    }
    splats
}

/// The FFT grid, its padding below the target box, and the splats that reach it, placed in grid
/// units. The grid is the target box, padded unless periodic, by at least one Gaussian radius
/// so that no atom's Gaussian wraps into the box; the slack up to an FFT-friendly size is shared
/// between both sides. Every atom inside the padded grid counts, so atoms just outside the box
/// add their tails (and the ringing of the resolution edge) to it.
fn place_on_fft_grid(
    splats_in_angstrom: Vec<Splat>,
    target: &GridGeometry,
    periodic: bool,
) -> Result<([usize; 3], [usize; 3], Vec<Splat>)> {
    let max_radius = splats_in_angstrom.iter().map(|s| s.radius).fold(0.0, f64::max);
    let mut padding = [0usize; 3];
    let mut fft_dims = target.dims;
    if !periodic {
        // Checked before anything is sized by it: a voxel of 0.003 Å asked for a grid of
        // terabytes (and the search for an FFT-friendly size would not end).
        let padded = crate::limits::padded_dims(target.dims, target.voxel_size, max_radius).ok_or_else(|| {
            Error::limit(
                None,
                format!(
                    "the model map's grid (the map's {:?} voxels of {:?} Å, padded by {max_radius:.1} Å on each side) \
                     has an edge of more than {} voxels",
                    target.dims,
                    target.voxel_size,
                    crate::limits::MAX_GRID_EDGE
                ),
            )
        })?;
        for a in 0..3 {
            fft_dims[a] = fft_friendly_size(padded[a] as usize);
            padding[a] = (fft_dims[a] - target.dims[a]) / 2;
        }
    }
    // The padded grid and its half spectrum.
    let bytes = crate::limits::voxels(fft_dims.map(|n| n as u64))
        .and_then(|v| v.checked_mul(2 * crate::limits::BYTES_PER_VOXEL));
    crate::limits::ensure_fits(&format!("the model map's {fft_dims:?} grid"), bytes, None)?;
    let fft_origin: [f64; 3] =
        std::array::from_fn(|a| target.first_voxel_centre[a] - padding[a] as f64 * target.voxel_size[a]);
    let splats = splats_in_angstrom
        .into_iter()
        .filter_map(|Splat { grid_position: position, amplitude, exponent, radius }| {
            let grid_position: [f64; 3] = std::array::from_fn(|a| (position[a] - fft_origin[a]) / target.voxel_size[a]);
            // In a padded box, atoms outside the padded grid are left out (their Gaussians
            // cannot reach the box); in a periodic box every atom counts (wrapped).
            let reaches =
                periodic || (0..3).all(|a| grid_position[a] >= -0.5 && grid_position[a] <= fft_dims[a] as f64 - 0.5);
            reaches.then_some(Splat { grid_position, amplitude, exponent, radius })
        })
        .collect();
    Ok((fft_dims, padding, splats))
}

/// Adds the atoms' Gaussians to a periodic grid, in parallel over Z slabs.
fn add_gaussians(density: &mut [f32], dims: [usize; 3], voxel_size: [f64; 3], splats: &[Splat]) {
    let [nx, ny, nz] = dims;
    // Bucket atoms by the Z planes they reach, so each slab visits only its own atoms.
    let threads = rayon::current_num_threads().max(1);
    let slab = nz.div_ceil(threads * 4).max(1);
    let slabs = nz.div_ceil(slab);
    let mut by_slab: Vec<Vec<u32>> = vec![Vec::new(); slabs];
    for (index, s) in splats.iter().enumerate() {
        let r = s.radius / voxel_size[2];
        let lo = (s.grid_position[2] - r).ceil() as i64;
        let hi = (s.grid_position[2] + r).floor() as i64;
        if hi - lo + 1 >= nz as i64 {
            by_slab.iter_mut().for_each(|b| b.push(index as u32));
            continue;
        }
        for z in lo..=hi {
            let b = z.rem_euclid(nz as i64) as usize / slab;
            if by_slab[b].last() != Some(&(index as u32)) {
                by_slab[b].push(index as u32);
            }
        }
    }
    density.par_chunks_mut(nx * ny * slab).zip(by_slab.par_iter()).enumerate().for_each_init(
        || (Vec::<f32>::new(), Vec::<f32>::new(), Vec::<f32>::new()),
        |(ex, ey, ez), (slab_index, (chunk, members))| {
            let z_begin = slab_index * slab;
            let z_end = z_begin + chunk.len() / (nx * ny);
            for &m in members {
                add_one_atom(chunk, dims, voxel_size, &splats[m as usize], z_begin..z_end, (ex, ey, ez));
            }
        },
    );
}

/// Adds one atom to the Z planes `planes` of a periodic grid (`chunk` holds exactly those).
fn add_one_atom(
    chunk: &mut [f32],
    dims: [usize; 3],
    voxel_size: [f64; 3],
    s: &Splat,
    planes: std::ops::Range<usize>,
    (ex, ey, ez): (&mut Vec<f32>, &mut Vec<f32>, &mut Vec<f32>),
) {
    let [nx, ny, nz] = dims;
    // 1-D factors exp(-α d²) per axis, stored Gaussian-major so that the X loop reads five
    // contiguous rows: the 3-D Gaussian is the product of the three factors.
    let ranges: [(i64, i64); 3] = std::array::from_fn(|a| {
        let r = s.radius / voxel_size[a];
        ((s.grid_position[a] - r).ceil() as i64, (s.grid_position[a] + r).floor() as i64)
    });
    let lens: [usize; 3] = std::array::from_fn(|a| (ranges[a].1 - ranges[a].0 + 1).max(0) as usize);
    let fill = |buf: &mut Vec<f32>, a: usize| {
        buf.clear();
        for i in 0..5 {
            for g in 0..lens[a] {
                let d = ((ranges[a].0 + g as i64) as f64 - s.grid_position[a]) * voxel_size[a];
                buf.push((-s.exponent[i] * d * d).exp() as f32);
            }
        }
    };
    fill(ex, 0);
    fill(ey, 1);
    fill(ez, 2);
    let len_x = lens[0];
    let x0 = ranges[0].0;
    let x_wraps = x0 < 0 || x0 + len_x as i64 > nx as i64;
    let row = |i: usize| &ex[i * len_x..(i + 1) * len_x];
    let (e0, e1, e2, e3, e4) = (row(0), row(1), row(2), row(3), row(4));
    let r2 = s.radius * s.radius;
    for iz in 0..lens[2] {
        let gz = ranges[2].0 + iz as i64;
        let z = gz.rem_euclid(nz as i64) as usize;
        if !planes.contains(&z) {
            continue;
        }
        let dz = (gz as f64 - s.grid_position[2]) * voxel_size[2];
        for iy in 0..lens[1] {
            let gy = ranges[1].0 + iy as i64;
            let dy = (gy as f64 - s.grid_position[1]) * voxel_size[1];
            if dy * dy + dz * dz > r2 {
                continue;
            }
            let y = gy.rem_euclid(ny as i64) as usize;
            let w: [f32; 5] = std::array::from_fn(|i| {
                (s.amplitude[i] * ey[i * lens[1] + iy] as f64 * ez[i * lens[2] + iz] as f64) as f32
            });
            let base = (z - planes.start) * nx * ny + y * nx;
            if !x_wraps {
                let start = base + x0 as usize;
                let out = &mut chunk[start..start + len_x];
                for ix in 0..len_x {
                    out[ix] += w[0] * e0[ix] + w[1] * e1[ix] + w[2] * e2[ix] + w[3] * e3[ix] + w[4] * e4[ix];
                }
            } else {
                for ix in 0..len_x {
                    let x = (x0 + ix as i64).rem_euclid(nx as i64) as usize;
                    chunk[base + x] += w[0] * e0[ix] + w[1] * e1[ix] + w[2] * e2[ix] + w[3] * e3[ix] + w[4] * e4[ix];
                }
            }
        }
    }
}
