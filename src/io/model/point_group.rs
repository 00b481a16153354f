//! Point groups for models that carry no operators: `symmetry=Cn|Dn|T|O|I` (and the
//! icosahedral settings `I1`-`I4`) about a centre, in the orientations RELION defines and
//! servalcat (`--pg`) uses, so that a map reconstructed with RELION's symmetry is matched:
//!
//! - `Cn`: the n-fold axis along z. `Dn`: the n-fold along z and a 2-fold along x.
//! - `T`: 3-folds along z and along (0, 0.9428, -1/3). `O`: 4-folds along z and y.
//! - `I` = `I2` (Crowther's 222 setting: 2-folds along x, y, z; 5-folds in the yz and xz
//!   planes), `I1` (the other 222 setting: 5-folds in the xz and xy planes), `I3` and `I4`
//!   (5-fold settings as RELION's `I3`, `I4`).
//!
//! Each group is generated from two rotations (RELION's pair of axes) and closed under
//! products; the order is checked against the group's (n, 2n, 12, 24, 60).

use super::symmetry::{MAX_COPIES, Operator};

/// A point group as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointGroup {
    /// Cyclic, n-fold about z.
    Cyclic(usize),
    /// Dihedral: n-fold about z, 2-fold about x.
    Dihedral(usize),
    /// Tetrahedral (12).
    Tetrahedral,
    /// Octahedral (24).
    Octahedral,
    /// Icosahedral (60) in setting 1-4 (RELION's I1-I4; `I` is I2).
    Icosahedral(u8),
}

/// The names `symmetry=` takes, for messages.
pub const POINT_GROUP_NAMES: &str = "Cn, Dn, T, O, I (= I2), I1, I2, I3, I4";

impl std::str::FromStr for PointGroup {
    type Err = String;

    fn from_str(text: &str) -> Result<PointGroup, String> {
        let upper = text.trim().to_ascii_uppercase();
        let bad = || format!("symmetry={text} is not a point group this program knows ({POINT_GROUP_NAMES})");
        let (letter, digits) = upper.split_at(upper.chars().next().map_or(0, char::len_utf8));
        let n: Option<usize> = if digits.is_empty() { None } else { Some(digits.parse().map_err(|_| bad())?) };
        let too_many = |copies: usize| {
            if copies > MAX_COPIES {
                Err(format!("symmetry={text} makes {copies} copies; at most {MAX_COPIES} are made"))
            } else {
                Ok(())
            }
        };
        match (letter, n) {
            ("C", Some(n)) if n >= 1 => too_many(n).map(|()| PointGroup::Cyclic(n)),
            ("D", Some(n)) if n >= 2 => too_many(2 * n).map(|()| PointGroup::Dihedral(n)),
            ("T", None) => Ok(PointGroup::Tetrahedral),
            ("O", None) => Ok(PointGroup::Octahedral),
            ("I", None) => Ok(PointGroup::Icosahedral(2)),
            ("I", Some(n @ 1..=4)) => Ok(PointGroup::Icosahedral(n as u8)),
            ("I", Some(_)) => Err(format!("symmetry={text}: the icosahedral settings are I1, I2, I3 and I4")),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for PointGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PointGroup::Cyclic(n) => write!(f, "C{n}"),
            PointGroup::Dihedral(n) => write!(f, "D{n}"),
            PointGroup::Tetrahedral => f.write_str("T"),
            PointGroup::Octahedral => f.write_str("O"),
            PointGroup::Icosahedral(n) => write!(f, "I{n}"),
        }
    }
}

impl serde::Serialize for PointGroup {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PointGroup {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<PointGroup, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl PointGroup {
    /// How many rotations the group holds.
    pub fn order(&self) -> usize {
        match self {
            PointGroup::Cyclic(n) => *n,
            PointGroup::Dihedral(n) => 2 * n,
            PointGroup::Tetrahedral => 12,
            PointGroup::Octahedral => 24,
            PointGroup::Icosahedral(_) => 60,
        }
    }

    /// The two generating rotations: (axis, fold) pairs, in RELION's orientation.
    fn generators(&self) -> Vec<([f64; 3], usize)> {
        // RELION's axes (servalcat writes them to five decimals) in exact form: a = φ/√(1+φ²)
        // = 0.85065, b = 1/√(1+φ²) = 0.52573, s5 = 1/√5, p and m = (5 ± √5)/10.
        let phi = (1.0 + 5f64.sqrt()) / 2.0;
        let (a, b) = (phi / (1.0 + phi * phi).sqrt(), 1.0 / (1.0 + phi * phi).sqrt());
        let s5 = 1.0 / 5f64.sqrt();
        let (p, m) = ((5.0 + 5f64.sqrt()) / 10.0, (5.0 - 5f64.sqrt()) / 10.0);
        match *self {
            PointGroup::Cyclic(n) => vec![([0.0, 0.0, 1.0], n)],
            PointGroup::Dihedral(n) => vec![([0.0, 0.0, 1.0], n), ([1.0, 0.0, 0.0], 2)],
            PointGroup::Tetrahedral => vec![([0.0, 0.0, 1.0], 3), ([0.0, 8f64.sqrt() / 3.0, -1.0 / 3.0], 3)],
            PointGroup::Octahedral => vec![([0.0, 0.0, 1.0], 4), ([0.0, 1.0, 0.0], 4)],
            PointGroup::Icosahedral(1) => vec![([a, 0.0, b], 5), ([b, a, 0.0], 5)],
            PointGroup::Icosahedral(3) => vec![([p, b, s5], 5), ([-m, -a, s5], 5)],
            PointGroup::Icosahedral(4) => vec![([-p, -b, s5], 5), ([0.0, 0.0, 1.0], 5)],
            PointGroup::Icosahedral(_) => vec![([0.0, a, b], 5), ([b, 0.0, a], 5)],
        }
    }

    /// The group's rotations as operators about `centre`, the identity first, named 1, 2, ...
    pub fn operators(&self, centre: [f64; 3]) -> Vec<Operator> {
        let generators: Vec<[[f64; 3]; 3]> =
            self.generators().into_iter().map(|(axis, fold)| rotation_about(axis, fold)).collect();
        let identity = Operator::identity("1").rotation;
        let mut elements = vec![identity];
        let mut next = 0;
        // Breadth first over products with the generators: every element of a finite group
        // generated by them is reached.
        while next < elements.len() && elements.len() <= self.order() {
            let element = elements[next];
            next += 1;
            for g in &generators {
                let product = multiply(g, &element);
                if !elements.iter().any(|e| same(e, &product)) {
                    elements.push(product);
                }
            }
        }
        debug_assert_eq!(elements.len(), self.order(), "{self}");
        elements.into_iter().enumerate().map(|(i, r)| Operator::about((i + 1).to_string(), r, centre)).collect()
    }
}

/// The rotation by 360°/fold about `axis` (Rodrigues).
fn rotation_about(axis: [f64; 3], fold: usize) -> [[f64; 3]; 3] {
    let norm = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let [x, y, z] = axis.map(|v| v / norm);
    let angle = 2.0 * std::f64::consts::PI / fold as f64;
    let (s, c) = angle.sin_cos();
    let t = 1.0 - c;
    [
        [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
        [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
        [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
    ]
}

fn multiply(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, value) in row.iter_mut().enumerate() {
            *value = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

fn same(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> bool {
    (0..3).all(|i| (0..3).all(|j| (a[i][j] - b[i][j]).abs() < 1e-6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_closes_with_its_order_and_the_222_setting_has_its_two_folds() {
        for name in ["C1", "C7", "D2", "D5", "T", "O", "I", "I1", "I2", "I3", "I4"] {
            let group: PointGroup = name.parse().unwrap();
            let operators = group.operators([10.0, 20.0, 30.0]);
            assert_eq!(operators.len(), group.order(), "{name}");
            assert!(operators[0].is_identity(), "{name}");
            for op in &operators {
                assert!(op.not_a_rotation().is_none(), "{name}");
                // The centre stays put.
                let c = op.apply([10.0, 20.0, 30.0]);
                assert!((c[0] - 10.0).abs() + (c[1] - 20.0).abs() + (c[2] - 30.0).abs() < 1e-9, "{name}");
            }
            // Closed: every product is in the group.
            for a in &operators {
                for b in operators.iter().step_by(7) {
                    let ab = a.after(b).rotation;
                    assert!(operators.iter().any(|o| same(&o.rotation, &ab)), "{name} not closed");
                }
            }
        }
        // I2 (Crowther): the 2-folds along x, y and z are in the group; I1 has them too.
        for name in ["I", "I1"] {
            let operators = name.parse::<PointGroup>().unwrap().operators([0.0; 3]);
            for axis in 0..3 {
                let mut two_fold = [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]];
                two_fold[axis][axis] = 1.0;
                assert!(operators.iter().any(|o| same(&o.rotation, &two_fold)), "{name}: 2-fold {axis}");
            }
        }
        assert!("C0".parse::<PointGroup>().is_err() && "I5".parse::<PointGroup>().is_err());
        assert!("Q".parse::<PointGroup>().unwrap_err().contains("Cn, Dn"));
        assert!("C1000000".parse::<PointGroup>().unwrap_err().contains("copies"));
    }
}
