//! Electron scattering factors: the 5-Gaussian fit of International Tables Vol. C,
//! Table 4.3.2.2 (Peng et al. 1996), `f(s) = sum_i a_i exp(-b_i s^2)` with `s = sin(theta)/lambda`,
//! for elements H (1) to Cf (98), embedded from `data/electron_form_factors_itc_c_4322.tsv`.
//!
//! Cryo-EM images scatter electrons, whose form factors fall off faster with resolution and
//! weigh light atoms (and hydrogens) differently from X-ray factors: using X-ray factors, as some
//! tools do by default, mis-scales side chains against the backbone.

use std::sync::OnceLock;

const TABLE: &str = include_str!("../../data/electron_form_factors_itc_c_4322.tsv");

/// Five-Gaussian coefficients of one element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FormFactor {
    /// Atomic number.
    pub atomic_number: u8,
    /// Amplitudes a_1..a_5 in Ångström.
    pub a: [f64; 5],
    /// Widths b_1..b_5 in Å².
    pub b: [f64; 5],
}

impl FormFactor {
    /// f(s) at `s = sin(theta)/lambda` (Å⁻¹).
    pub fn at(&self, s: f64) -> f64 {
        (0..5).map(|i| self.a[i] * (-self.b[i] * s * s).exp()).sum()
    }
}

fn table() -> &'static Vec<FormFactor> {
    static PARSED: OnceLock<Vec<FormFactor>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut rows = Vec::new();
        for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split('\t').collect();
            let Ok(z) = fields[0].trim().parse::<u8>() else {
                continue;
            }; // header row
            let num = |i: usize| fields[i].trim().parse::<f64>().expect("embedded table is well formed");
            rows.push(FormFactor {
                atomic_number: z,
                a: std::array::from_fn(|i| num(2 + i)),
                b: std::array::from_fn(|i| num(7 + i)),
            });
        }
        rows
    })
}

/// Form factor of an element by atomic number, or `None` outside H..Cf.
pub fn electron_form_factor(atomic_number: u8) -> Option<&'static FormFactor> {
    table().get((atomic_number as usize).checked_sub(1)?).filter(|f| f.atomic_number == atomic_number)
}

/// Atomic number used for atoms whose element is unknown or outside the table: carbon, the
/// commonest element of a macromolecule, so that an unknown atom still adds density of a
/// plausible size (the reader warns, naming the atoms).
pub const FALLBACK_ATOMIC_NUMBER: u8 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_h_to_cf_in_order() {
        assert_eq!(table().len(), 98);
        for (i, f) in table().iter().enumerate() {
            assert_eq!(f.atomic_number as usize, i + 1);
        }
        assert!(electron_form_factor(0).is_none());
        assert!(electron_form_factor(99).is_none());
    }

    #[test]
    fn known_values() {
        // ITC Vol C Table 4.3.2.2 (0 <= s <= 2), carbon: a1 = 0.0893, b1 = 0.2465; f(0) = sum a_i.
        let c = electron_form_factor(6).unwrap();
        assert!((c.a[0] - 0.0893).abs() < 1e-6 && (c.b[0] - 0.2465).abs() < 1e-6);
        assert!((c.at(0.0) - c.a.iter().sum::<f64>()).abs() < 1e-12);
        // Electron form factors grow with Z at s = 0 and fall with s.
        let o = electron_form_factor(8).unwrap();
        assert!(c.at(0.5) < c.at(0.0) && o.at(0.0) > c.at(0.0) * 0.5);
    }
}
