//! How surprising a blob of a z map is: a p-value for each blob from the height of its
//! maximum, and false-discovery-rate q-values over the blobs searched (Benjamini and Hochberg
//! 1995). Residues get theirs from their lowest z ([`residue_p`]).
//!
//! The unit a user reads is the blob, not the voxel. Counting voxels (as this program did
//! before) lets one large true blob (a heme of 2,900 Å³) lower the threshold for every noise
//! voxel, so that noise blobs of a voxel or two pass a 1% rate. Here each blob is one test:
//!
//! 1. Blobs are formed at the peak threshold `u` (`peak_sigma`, 3 z by default): the sets of
//!    26-connected voxels beyond `+u` or below `-u` that the peak table lists.
//! 2. A blob whose highest `|z|` is `h` gets `p = ρ(h) / ρ(u)` with `ρ(t) = (t² - 1) e^(-t²/2)`:
//!    for a smooth, stationary, unit-variance Gaussian field in three dimensions the expected
//!    number of blobs beyond a level `t` is proportional to `ρ(t)` (the leading term of the
//!    expected Euler characteristic; Worsley et al. 1996), whatever the field's smoothness, so
//!    `ρ(h) / ρ(u)` is the chance that a noise blob found at `u` reaches `h`. This is the
//!    topological, peak-level FDR of Chumbley and Friston (2009). The ratio overstates the
//!    chance when a blob at `u` splits into several at `h`, and the sampled maximum is below
//!    the continuous one: both make the test conservative, not liberal.
//! 3. Benjamini-Hochberg over the blobs searched (both signs, two-sided), in [`blob_q_values`].
//!
//! It needs the z map to be N(0, 1) where it holds noise, which the half-map noise model
//! measures (see `difference::noise_model`); maps in sigma units get no q-values. Calibration
//! is measured on simulated Gaussian fields in this module's tests and end to end on null half
//! maps in `tests/all/half_maps.rs`.

/// Two-sided tail probability of the standard normal distribution beyond `|z|`.
pub fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Lower tail probability of the standard normal distribution, `P(Z <= z)`.
pub fn lower_tail_p(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// How surprising a residue's lowest z is, as a p-value: the chance that the lowest of its
/// `atoms` values is at or below `lowest_z` when all of them are noise, counting the atoms as
/// independent (Šidák: `1 - (1 - P(Z <= z))^n`). Neighbouring atoms' values are positively
/// correlated, so this overstates the chance and the test is conservative; taking the lowest
/// z against the normal tail alone would understate it by up to the atom count.
pub fn residue_p(lowest_z: f64, atoms: usize) -> f64 {
    let p = lower_tail_p(lowest_z);
    // 1 - (1 - p)^n, without losing the digits of a tiny p.
    (-(atoms.max(1) as f64 * (-p).ln_1p()).exp_m1()).clamp(0.0, 1.0)
}

/// Benjamini-Hochberg q-values of `p_values` (each the smallest false discovery rate at which
/// it would be called), in the same order.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for rank in (1..=m).rev() {
        let i = order[rank - 1];
        running = running.min(m as f64 * p_values[i] / rank as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// The lowest peak threshold (`peak_sigma`, in z) at which blobs get p-values: below it the
/// Euler characteristic counts holes as well as blobs and `ρ` is no longer a blob count.
pub const LOWEST_BLOB_LEVEL: f64 = 2.5;

/// The three-dimensional Euler-characteristic density of a unit Gaussian field at level `t`,
/// up to the constant that cancels in [`blob_p`]'s ratio: `(t² - 1) exp(-t²/2)`.
fn ec_density(t: f64) -> f64 {
    (t * t - 1.0) * (-0.5 * t * t).exp()
}

/// The p-value of a blob formed at level `level` whose highest `|z|` is `height`: the chance
/// that a noise blob found at `level` reaches `height` (see the module's text). `None` when
/// `level` is below [`LOWEST_BLOB_LEVEL`].
pub fn blob_p(height: f64, level: f64) -> Option<f64> {
    if level.is_nan() || level < LOWEST_BLOB_LEVEL {
        return None;
    }
    let h = height.abs().max(level);
    Some((ec_density(h) / ec_density(level)).clamp(0.0, 1.0))
}

/// False-discovery q-values of blobs formed at `level` with these signed heights (in the same
/// order): [`blob_p`], then Benjamini-Hochberg over all of them. `None` when `level` is below
/// [`LOWEST_BLOB_LEVEL`].
pub fn blob_q_values(heights: &[f64], level: f64) -> Option<Vec<f64>> {
    let p: Option<Vec<f64>> = heights.iter().map(|h| blob_p(*h, level)).collect();
    Some(benjamini_hochberg(&p?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail_probabilities() {
        assert!((two_sided_p(0.0) - 1.0).abs() < 1e-15);
        assert!((two_sided_p(1.959963984540054) - 0.05).abs() < 1e-12);
        assert!((two_sided_p(-3.0) - 0.002699796063260207).abs() < 1e-15);
        assert!(two_sided_p(10.0) < 1.6e-23 && two_sided_p(10.0) > 1.5e-23);
    }

    #[test]
    fn residue_p_values_and_their_q_values() {
        assert!((lower_tail_p(-1.959963984540054) - 0.025).abs() < 1e-12);
        // One atom: the normal tail; several: about n times it while small.
        assert!((residue_p(-4.0, 1) - lower_tail_p(-4.0)).abs() < 1e-18);
        let p8 = residue_p(-5.0, 8);
        assert!((p8 / (8.0 * lower_tail_p(-5.0)) - 1.0).abs() < 1e-5, "{p8}");
        assert!(residue_p(3.0, 10) > 0.999 && residue_p(-40.0, 5) >= 0.0);
        // Benjamini-Hochberg against the textbook example's step-up by hand.
        let p = [0.01, 0.04, 0.03, 0.005, 0.5];
        let q = benjamini_hochberg(&p);
        let expected = [0.025, 0.05, 0.05, 0.025, 0.5];
        for (got, want) in q.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn blob_p_values_follow_the_euler_characteristic() {
        // At the level itself: 1; beyond: the ratio of the densities, falling fast.
        assert_eq!(blob_p(3.0, 3.0), Some(1.0));
        let p4 = blob_p(-4.0, 3.0).unwrap();
        let expected = (15.0 * (-8.0f64).exp()) / (8.0 * (-4.5f64).exp());
        assert!((p4 - expected).abs() < 1e-15, "{p4} vs {expected}");
        assert!(blob_p(46.0, 3.0).unwrap() < 1e-300 && blob_p(46.0, 3.0).unwrap() >= 0.0);
        assert_eq!(blob_p(5.0, 2.0), None);
        assert_eq!(blob_q_values(&[5.0, -3.2], 1.0), None);
    }

    /// Gaussian noise smoothed to a resolution-limited field (separable Gaussian blur with
    /// periodic edges), rescaled to unit sd.
    fn smooth_field(n: usize, seed: u64, sigma_voxels: f64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(1);
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut field: Vec<f64> =
            (0..n * n * n).map(|_| (-2.0 * next().ln()).sqrt() * (2.0 * std::f64::consts::PI * next()).cos()).collect();
        let reach = (4.0 * sigma_voxels).ceil() as isize;
        let kernel: Vec<f64> = (-reach..=reach).map(|d| (-0.5 * (d as f64 / sigma_voxels).powi(2)).exp()).collect();
        let stride = [1, n, n * n];
        for axis in 0..3 {
            let mut out = vec![0.0; field.len()];
            for (i, o) in out.iter_mut().enumerate() {
                let coord = (i / stride[axis]) % n;
                let base = i - coord * stride[axis];
                *o = kernel
                    .iter()
                    .enumerate()
                    .map(|(k, w)| {
                        let c = (coord as isize + k as isize - reach).rem_euclid(n as isize) as usize;
                        w * field[base + c * stride[axis]]
                    })
                    .sum();
            }
            field = out;
        }
        let sd = (field.iter().map(|v| v * v).sum::<f64>() / field.len() as f64).sqrt();
        field.iter().map(|v| (v / sd) as f32).collect()
    }

    /// The calibration the method promises, on pure noise: at q <= 0.01 at most about 1% of
    /// noise fields have any blob called (with no true blob, every call is false, so the false
    /// discovery rate is the share of fields with a call). 200 fields of 32³ voxels at a
    /// smoothness like a map at 2-3 voxels per resolution element, blobs at 3 z.
    #[test]
    fn on_noise_fields_at_most_about_one_percent_have_a_blob_called() {
        use crate::grid::{GridGeometry, Map, MapHeader};
        let n = 32;
        let fields = 200;
        let (mut with_call, mut blobs, mut p_below_tenth) = (0, 0usize, 0usize);
        for seed in 0..fields {
            let data = smooth_field(n, seed, 1.2);
            let geometry = GridGeometry { dims: [n, n, n], voxel_size: [1.0; 3], first_voxel_centre: [0.0; 3] };
            let map = Map { geometry, data, header: MapHeader::for_geometry(&geometry) };
            let peaks = crate::analysis::peaks::find_peaks(&map, 3.0, None);
            let heights: Vec<f64> = peaks.iter().map(|p| p.height).collect();
            blobs += heights.len();
            p_below_tenth += heights.iter().filter(|h| blob_p(**h, 3.0).unwrap() <= 0.1).count();
            let q = blob_q_values(&heights, 3.0).unwrap();
            if q.iter().any(|q| *q <= 0.01) {
                with_call += 1;
            }
        }
        // p-values at or below 0.1 in at most about 10% of noise blobs (not liberal)...
        assert!(blobs > 2000, "{blobs} blobs: too few to measure");
        let share = p_below_tenth as f64 / blobs as f64;
        assert!(share <= 0.12, "{p_below_tenth} of {blobs} noise blobs at p <= 0.1");
        // ...and fields with a call at q <= 0.01: expected at most 2 of 200; 6 or more has a
        // chance below 2% if the rate is 1%.
        assert!(with_call <= 5, "{with_call} of {fields} noise fields had a blob at q <= 0.01");
        eprintln!(
            "blob calibration: {with_call} of {fields} noise fields with a call at q <= 0.01; \
             {p_below_tenth} of {blobs} noise blobs at p <= 0.1 ({share:.3})"
        );
    }
}
