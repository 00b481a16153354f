//! The distribution of a difference map's values: the one figure that shows whether the units
//! are right (a bell around zero of width one) and how much lies beyond the peak threshold.

use rayon::prelude::*;

/// Counts of values in bins of equal width over `[lower, lower + width × counts.len())`, with
/// the values below and above that range counted apart.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    /// Lower edge of the first bin (map units of the histogram's map: sigma or z).
    pub lower: f64,
    /// Width of every bin.
    pub width: f64,
    /// Values in each bin.
    pub counts: Vec<u64>,
    /// Values below `lower`.
    pub below: u64,
    /// Values at or above the last bin's upper edge.
    pub above: u64,
}

/// Bins of a quarter unit from -10 to +10: finer than any threshold one reads, and wide enough
/// that the tails beyond are a count of their own.
const BIN_WIDTH: f64 = 0.25;
const HALF_RANGE: f64 = 10.0;

impl Histogram {
    /// The histogram of `values` (non-finite values are left out).
    pub fn of(values: &[f32]) -> Self {
        let bins = (2.0 * HALF_RANGE / BIN_WIDTH) as usize;
        let lower = -HALF_RANGE;
        let empty = || (vec![0u64; bins], 0u64, 0u64);
        let (counts, below, above) = values
            .par_chunks(1 << 16)
            .fold(empty, |(mut counts, mut below, mut above), chunk| {
                for &v in chunk.iter().filter(|v| v.is_finite()) {
                    let bin = ((f64::from(v) - lower) / BIN_WIDTH).floor();
                    if bin < 0.0 {
                        below += 1;
                    } else if bin >= bins as f64 {
                        above += 1;
                    } else {
                        counts[bin as usize] += 1;
                    }
                }
                (counts, below, above)
            })
            .reduce(empty, |(mut a, b1, a1), (b, b2, a2)| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                (a, b1 + b2, a1 + a2)
            });
        Histogram { lower, width: BIN_WIDTH, counts, below, above }
    }

    /// All values counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.below + self.above
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_one_bin() {
        let values = [-20.0f32, -10.0, -0.1, 0.0, 0.24, 0.25, 9.99, 10.0, f32::NAN];
        let h = Histogram::of(&values);
        assert_eq!((h.below, h.above, h.total()), (1, 1, 8));
        let bin = |v: f64| ((v - h.lower) / h.width) as usize;
        assert_eq!(h.counts[0], 1, "-10 opens the first bin");
        assert_eq!(h.counts[bin(-0.1)], 1);
        assert_eq!(h.counts[bin(0.0)], 2, "0 and 0.24 share a bin");
        assert_eq!(h.counts[bin(0.25)], 1);
        assert_eq!(h.counts[h.counts.len() - 1], 1, "9.99");
    }
}
