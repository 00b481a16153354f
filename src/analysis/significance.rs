//! How surprising a value of a z map is: two-sided p-values on the normal tail and
//! false-discovery-rate q-values over all the voxels searched (Benjamini and Hochberg 1995).
//!
//! A z map from half maps is N(0, 1) where it holds only noise, so each voxel's
//! `p = P(|Z| >= |z|)` is meaningful; with millions of voxels, thousands reach 4 by chance, and a
//! fixed threshold says nothing about how many of the blobs beyond it are noise. The q-value of
//! a voxel is the smallest false discovery rate at which it would be called significant: all
//! voxels with `q <= 0.01` hold at most about 1% noise voxels. Neighbouring voxels of a
//! resolution-limited map are positively correlated, a dependence under which the procedure
//! keeps its guarantee for one-sided tests (Benjamini and Yekutieli 2001) and is the usual
//! practice for two-sided ones.
//!
//! The ranks come from a histogram of `|z|` in bins of [`BIN_WIDTH`] (one pass over the map, no
//! sort of millions of values); q-values are exact to within one bin.

use rayon::prelude::*;

/// Width of the `|z|` histogram's bins.
pub const BIN_WIDTH: f64 = 1e-3;
/// `|z|` beyond which every value shares the last bin (its p-value is below 1e-300 anyway).
const LARGEST_Z: f64 = 40.0;

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

/// False-discovery q-values of the voxels of a z map.
#[derive(Debug, Clone)]
pub struct Significance {
    /// q at the lower edge of each histogram bin (non-increasing).
    q_at_bin: Vec<f64>,
    /// Voxels searched.
    voxels: usize,
    /// Upper edge of the highest occupied bin: no voxel reaches it.
    beyond_all: f64,
}

impl Significance {
    /// The q-values of `values` (a z map; non-finite values are not counted).
    pub fn of(values: &[f32]) -> Self {
        Self::of_searched(values, None)
    }

    /// The q-values of the voxels of `values` that `searched` marks (all without it): the
    /// family the false discovery rate is controlled over is the voxels searched.
    pub fn of_searched(values: &[f32], searched: Option<&[bool]>) -> Self {
        let bins = (LARGEST_Z / BIN_WIDTH) as usize + 1;
        let counts = values
            .par_chunks(crate::grid::SUM_CHUNK)
            .enumerate()
            .fold(
                || vec![0u64; bins],
                |mut counts, (c, chunk)| {
                    let start = c * crate::grid::SUM_CHUNK;
                    for (i, v) in chunk.iter().enumerate() {
                        if v.is_finite() && searched.is_none_or(|s| s[start + i]) {
                            counts[((v.abs() as f64 / BIN_WIDTH) as usize).min(bins - 1)] += 1;
                        }
                    }
                    counts
                },
            )
            .reduce(
                || vec![0u64; bins],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    a
                },
            );
        let voxels: u64 = counts.iter().sum();
        let highest = counts.iter().rposition(|c| *c > 0).unwrap_or(0);
        let beyond_all = (highest + 1) as f64 * BIN_WIDTH;
        // Rank of the bin's lower edge = voxels at or beyond it; q is the running minimum of
        // m p / rank from the low end (Benjamini-Hochberg step-up).
        let mut at_or_beyond = voxels;
        let mut q_at_bin = Vec::with_capacity(bins);
        let mut running = 1.0f64;
        for (b, count) in counts.iter().enumerate() {
            if at_or_beyond > 0 {
                let p = two_sided_p(b as f64 * BIN_WIDTH);
                running = running.min(voxels as f64 * p / at_or_beyond as f64);
            }
            q_at_bin.push(running);
            at_or_beyond -= count;
        }
        Significance { q_at_bin, voxels: voxels as usize, beyond_all }
    }

    /// Number of voxels the q-values are over.
    pub fn voxels(&self) -> usize {
        self.voxels
    }

    /// A |z| that no voxel reaches (a finite threshold that selects nothing).
    pub fn beyond_all(&self) -> f64 {
        self.beyond_all
    }

    /// q-value of a voxel whose value is `z`.
    pub fn q_value(&self, z: f64) -> f64 {
        let b = ((z.abs() / BIN_WIDTH) as usize).min(self.q_at_bin.len() - 1);
        self.q_at_bin[b]
    }

    /// The smallest `|z|` whose q-value is at most `rate`: thresholding the map there controls
    /// the false discovery rate at `rate`. `None` when no voxel is that significant.
    pub fn threshold(&self, rate: f64) -> Option<f64> {
        let b = self.q_at_bin.iter().position(|q| *q <= rate)?;
        // Beyond the largest value present the q-value stays where it was: nothing is there.
        (b + 1 < self.q_at_bin.len()).then_some(b as f64 * BIN_WIDTH)
    }
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

    /// Benjamini-Hochberg by sorting, for comparison.
    fn brute_force_q(values: &[f32]) -> Vec<f64> {
        let m = values.len();
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()));
        let mut q = vec![0.0; m];
        let mut running = 1.0f64;
        for rank in (1..=m).rev() {
            let i = order[rank - 1];
            running = running.min(m as f64 * two_sided_p(values[i] as f64) / rank as f64);
            q[i] = running;
        }
        q
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
    fn q_values_agree_with_sorting() {
        // Noise plus a few strong values.
        let mut state = 7u64;
        let mut values: Vec<f32> = (0..20000)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u1 = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u2 = ((state >> 11) as f64) / (1u64 << 53) as f64;
                ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
            })
            .collect();
        for (i, v) in [6.0f32, -5.5, 5.0, 4.8, 4.6].iter().enumerate() {
            values[i * 1000] = *v;
        }
        let exact = brute_force_q(&values);
        let significance = Significance::of(&values);
        assert_eq!(significance.voxels(), values.len());
        for (v, q) in values.iter().zip(&exact) {
            let got = significance.q_value(*v as f64);
            assert!((got - q).abs() <= 0.01 * q + 1e-9, "z {v}: q {got} vs {q}");
        }
        let threshold = significance.threshold(0.05).expect("the strong values are significant");
        let called: Vec<f32> = values.iter().filter(|v| v.abs() as f64 >= threshold).copied().collect();
        assert!(called.len() >= 5 && called.len() < 10, "{called:?} beyond {threshold}");
        // Pure noise: nothing at 1% (with high probability for this seed).
        let noise: Vec<f32> = values.iter().map(|v| v.clamp(-4.0, 4.0)).collect();
        assert!(Significance::of(&noise).threshold(0.01).is_none());
    }
}
