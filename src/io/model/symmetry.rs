//! The copies a model file declares but does not hold: NCS operators (PDB `MTRIX`, mmCIF
//! `_struct_ncs_oper`) and assemblies (PDB `REMARK 350 BIOMT`, mmCIF `_pdbx_struct_oper_list`
//! with `_pdbx_struct_assembly_gen`). A file with one copy of a symmetric particle and the
//! operators that make the rest explains only part of its map; the run says so, with the number
//! of copies, instead of listing every other copy as unmodelled density without a word.
//!
//! Read here; not applied yet (issue 31: expansion, `assembly=`, `symmetry=`). Identity
//! operators (every deposited assembly lists one) and NCS copies marked as given are not
//! copies to make.

/// A rotation and translation `x' = R x + t` (Å), with the record it came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Operator {
    /// The operator's id as the file writes it (MTRIX serial, BIOMT serial, oper_list id).
    pub id: String,
    /// Rows of the rotation matrix.
    pub rotation: [[f64; 3]; 3],
    /// Translation, Å.
    pub translation: [f64; 3],
}

/// How far from exact a rotation may be (header numbers carry six decimals).
pub const ROTATION_TOLERANCE: f64 = 1e-3;

impl Operator {
    /// True when the operator moves nothing (to 1e-4 in the matrix, 1e-3 Å).
    pub fn is_identity(&self) -> bool {
        (0..3).all(|i| (0..3).all(|j| (self.rotation[i][j] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-4))
            && self.translation.iter().all(|t| t.abs() < 1e-3)
    }

    /// Why the matrix is not a proper rotation (determinant 1 and orthonormal rows, to
    /// [`ROTATION_TOLERANCE`]), if it is not.
    pub fn not_a_rotation(&self) -> Option<String> {
        let r = &self.rotation;
        let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
            + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
        if !det.is_finite() || (det - 1.0).abs() > ROTATION_TOLERANCE {
            return Some(format!("its determinant is {det:.4}, not 1"));
        }
        for i in 0..3 {
            for j in 0..3 {
                let dot: f64 = (0..3).map(|k| r[i][k] * r[j][k]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                if (dot - want).abs() > ROTATION_TOLERANCE {
                    return Some(format!("rows {} and {} are not orthonormal (dot product {dot:.4})", i + 1, j + 1));
                }
            }
        }
        None
    }
}

/// One NCS operator and whether the file already holds the copy it makes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NcsOperator {
    /// The operator.
    pub operator: Operator,
    /// PDB `iGiven` = 1, mmCIF code `given`: the copy is in the file already.
    pub given: bool,
}

/// One assembly: its id and how many copies of its chains its operators make.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Assembly {
    /// Assembly id (`REMARK 350 BIOMOLECULE: 1`, `_pdbx_struct_assembly_gen.assembly_id`).
    pub id: String,
    /// Copies the assembly holds: operators applied (identity included), summed over its
    /// parts; a product expression such as `(1-5)(6-10)` counts 25.
    pub copies: usize,
    /// True when every operator is the identity: the file holds the assembly as it is.
    pub identity_only: bool,
}

/// What a model file declares about copies it does not hold.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeclaredSymmetry {
    /// NCS operators, in file order.
    pub ncs: Vec<NcsOperator>,
    /// Assemblies, in file order.
    pub assemblies: Vec<Assembly>,
    /// Records that could not be used, each with why (a matrix that is not a rotation, an
    /// expression that names a missing operator).
    pub problems: Vec<String>,
}

impl DeclaredSymmetry {
    /// NCS copies the file asks to be generated (not given, not the identity).
    pub fn ncs_copies_to_generate(&self) -> usize {
        self.ncs.iter().filter(|o| !o.given && !o.operator.is_identity()).count()
    }

    /// The largest assembly that is more than the file holds: (id, copies).
    pub fn largest_assembly(&self) -> Option<(&str, usize)> {
        self.assemblies
            .iter()
            .filter(|a| !a.identity_only && a.copies > 1)
            .max_by_key(|a| a.copies)
            .map(|a| (a.id.as_str(), a.copies))
    }

    /// What a run on this file should be told: copies declared and not in the model, and
    /// records that could not be used.
    pub fn warnings(&self) -> Vec<String> {
        let mut said = Vec::new();
        let ncs = self.ncs_copies_to_generate();
        if ncs > 0 {
            said.push(format!(
                "the model file declares {ncs} NCS cop{} to generate (MTRIX / _struct_ncs_oper) that the model does \
                 not hold and this version does not make: the map's other {} will show as unmodelled density; run on \
                 the expanded model (gemmi's Structure.expand_ncs writes it)",
                if ncs == 1 { "y" } else { "ies" },
                if ncs == 1 { "copy" } else { "copies" }
            ));
        }
        if let Some((id, copies)) = self.largest_assembly() {
            said.push(format!(
                "the model file declares assembly {id} of {copies} copies (BIOMT / _pdbx_struct_assembly_gen); the run \
                 uses the atoms as written: if the map holds the whole assembly, run on the assembly's model \
                 (gemmi's make_assembly writes it)"
            ));
        }
        said.extend(self.problems.iter().cloned());
        said
    }
}

/// The rows of one operator while its three records are read.
#[derive(Default)]
struct Rows {
    id: String,
    seen: usize,
    rotation: [[f64; 3]; 3],
    translation: [f64; 3],
    given: bool,
}

impl Rows {
    fn set(&mut self, row: usize, values: [f64; 4]) {
        self.rotation[row] = [values[0], values[1], values[2]];
        self.translation[row] = values[3];
        self.seen += 1;
    }

    fn operator(self) -> (Operator, usize, bool) {
        (Operator { id: self.id, rotation: self.rotation, translation: self.translation }, self.seen, self.given)
    }
}

/// Reads `MTRIX1-3` and `REMARK 350` (`BIOMOLECULE:`, `BIOMT1-3`) records of PDB text.
pub fn from_pdb(text: &str) -> DeclaredSymmetry {
    let mut declared = DeclaredSymmetry::default();
    let mut mtrix: Option<Rows> = None;
    let mut biomt: Option<Rows> = None;
    let mut assembly: Option<(String, Vec<Operator>)> = None;
    let finish_assembly = |assembly: Option<(String, Vec<Operator>)>, declared: &mut DeclaredSymmetry| {
        if let Some((id, operators)) = assembly
            && !operators.is_empty()
        {
            declared.assemblies.push(Assembly {
                id,
                copies: operators.len(),
                identity_only: operators.iter().all(Operator::is_identity),
            });
        }
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("MTRIX") {
            let Some(row) = rest.chars().next().and_then(|c| c.to_digit(10)).filter(|r| (1..=3).contains(r)) else {
                continue;
            };
            let row = row as usize - 1;
            let column = |range: std::ops::Range<usize>| line.get(range).map(str::trim).unwrap_or("");
            let serial = column(7..10).to_string();
            let values: Vec<Option<f64>> =
                [10..20, 20..30, 30..40, 45..55].into_iter().map(|r| column(r).parse().ok()).collect();
            let given = column(59..60) == "1";
            let Some([a, b, c, t]) =
                values.iter().copied().collect::<Option<Vec<f64>>>().and_then(|v| <[f64; 4]>::try_from(v).ok())
            else {
                declared
                    .problems
                    .push(format!("MTRIX{} {serial}: cannot read its numbers; the record is ignored", row + 1));
                continue;
            };
            let entry = mtrix.get_or_insert_with(|| Rows { id: serial.clone(), ..Rows::default() });
            entry.set(row, [a, b, c, t]);
            entry.given |= given;
            if row == 2 {
                let (operator, rows, given) = mtrix.take().expect("gathered above").operator();
                if let Some(operator) = checked(&mut declared, rows, operator, "MTRIX") {
                    declared.ncs.push(NcsOperator { operator, given });
                }
            }
        } else if let Some(rest) = line.strip_prefix("REMARK 350") {
            let rest = rest.trim();
            if let Some(id) = rest.strip_prefix("BIOMOLECULE:") {
                finish_assembly(assembly.take(), &mut declared);
                assembly = Some((id.trim().to_string(), Vec::new()));
            } else if let Some(biomt_rest) = rest.strip_prefix("BIOMT") {
                let words: Vec<&str> = biomt_rest.split_whitespace().collect();
                let row = words.first().and_then(|w| w.parse::<usize>().ok()).filter(|r| (1..=3).contains(r));
                let numbers: Option<Vec<f64>> =
                    words.get(2..6).and_then(|w| w.iter().map(|v| v.parse().ok()).collect());
                let (Some(row), Some(numbers)) = (row, numbers) else {
                    declared
                        .problems
                        .push(format!("REMARK 350 BIOMT{biomt_rest}: cannot read it; the record is ignored"));
                    continue;
                };
                let serial = words.get(1).copied().unwrap_or("").to_string();
                let entry = biomt.get_or_insert(Rows { id: serial, ..Rows::default() });
                entry.set(row - 1, [numbers[0], numbers[1], numbers[2], numbers[3]]);
                if row == 3 {
                    let (operator, rows, _) = biomt.take().expect("gathered above").operator();
                    let operator = checked(&mut declared, rows, operator, "REMARK 350 BIOMT");
                    if let (Some(operator), Some((_, operators))) = (operator, assembly.as_mut()) {
                        operators.push(operator);
                    }
                }
            }
        }
    }
    finish_assembly(assembly.take(), &mut declared);
    declared
}

/// `operator` when it has its three rows and is a rotation; else the problem is recorded,
/// naming the record, and the operator is not used.
fn checked(declared: &mut DeclaredSymmetry, rows: usize, operator: Operator, record: &str) -> Option<Operator> {
    let what = format!("{record} {}", operator.id);
    if rows != 3 {
        declared.problems.push(format!("{what}: not three rows; the operator is ignored"));
        None
    } else if let Some(why) = operator.not_a_rotation() {
        declared.problems.push(format!("{what} is not a rotation ({why}); the operator is ignored"));
        None
    } else {
        Some(operator)
    }
}

/// The operator ids an mmCIF operator expression names, as groups whose product is applied:
/// `1`, `1,2,5`, `(1-60)`, `(1-5)(6-10)`, `(X0)(1-20)`. `None` when it cannot be read.
pub fn expression_groups(expression: &str) -> Option<Vec<Vec<String>>> {
    let expression = expression.trim();
    let parts: Vec<&str> = if expression.starts_with('(') {
        expression.split(['(', ')']).map(str::trim).filter(|p| !p.is_empty()).collect()
    } else {
        vec![expression]
    };
    let mut groups = Vec::new();
    for part in parts {
        let mut ids = Vec::new();
        for item in part.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                    // A stranger's expression: 10^6 operators is far beyond any particle.
                    if b < a || b - a >= 1_000_000 {
                        return None;
                    }
                    ids.extend((a..=b).map(|i| i.to_string()));
                }
                None => ids.push(item.to_string()),
            }
        }
        if ids.is_empty() {
            return None;
        }
        groups.push(ids);
    }
    (!groups.is_empty()).then_some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: &str = "\
REMARK 350 BIOMOLECULE: 1
REMARK 350 APPLY THE FOLLOWING TO CHAINS: A
REMARK 350   BIOMT1   1  1.000000  0.000000  0.000000        0.00000
REMARK 350   BIOMT2   1  0.000000  1.000000  0.000000        0.00000
REMARK 350   BIOMT3   1  0.000000  0.000000  1.000000        0.00000
REMARK 350   BIOMT1   2 -1.000000  0.000000  0.000000      100.00000
REMARK 350   BIOMT2   2  0.000000 -1.000000  0.000000      100.00000
REMARK 350   BIOMT3   2  0.000000  0.000000  1.000000        0.00000
MTRIX1   1  1.000000  0.000000  0.000000        0.00000    1
MTRIX2   1  0.000000  1.000000  0.000000        0.00000    1
MTRIX3   1  0.000000  0.000000  1.000000        0.00000    1
MTRIX1   2 -1.000000  0.000000  0.000000      100.00000
MTRIX2   2  0.000000 -1.000000  0.000000      100.00000
MTRIX3   2  0.000000  0.000000  1.000000        0.00000
";

    #[test]
    fn pdb_operators_and_assemblies_are_read_and_counted() {
        let declared = from_pdb(RING);
        assert_eq!(declared.ncs.len(), 2);
        assert!(declared.ncs[0].given && !declared.ncs[1].given);
        assert_eq!(declared.ncs[1].operator.translation, [100.0, 100.0, 0.0]);
        assert_eq!(declared.ncs_copies_to_generate(), 1);
        assert_eq!(declared.largest_assembly(), Some(("1", 2)));
        let warnings = declared.warnings();
        assert!(warnings[0].contains("1 NCS copy to generate") && warnings[1].contains("assembly 1 of 2 copies"));
        // A deposited file's identity-only assembly says nothing.
        let identity: String = RING.lines().take(5).map(|l| format!("{l}\n")).collect();
        assert!(from_pdb(&identity).warnings().is_empty());
    }

    #[test]
    fn operators_that_are_not_rotations_are_named() {
        let scaled = RING.replace("MTRIX1   2 -1.000000", "MTRIX1   2 -2.000000");
        let declared = from_pdb(&scaled);
        assert_eq!(declared.ncs.len(), 1);
        assert!(declared.problems[0].contains("MTRIX 2 is not a rotation"), "{:?}", declared.problems);
        let mirror = Operator {
            id: "m".into(),
            rotation: [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
        };
        assert!(mirror.not_a_rotation().unwrap().contains("determinant"));
        let sheared = Operator {
            id: "s".into(),
            rotation: [[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
        };
        assert!(sheared.not_a_rotation().unwrap().contains("orthonormal"));
    }

    #[test]
    fn operator_expressions() {
        assert_eq!(expression_groups("1").unwrap(), vec![vec!["1".to_string()]]);
        assert_eq!(expression_groups("(1-60)").unwrap()[0].len(), 60);
        let product = expression_groups("(1-5)(6-10)").unwrap();
        assert_eq!((product.len(), product[0].len(), product[1][4].as_str()), (2, 5, "10"));
        assert_eq!(expression_groups("1,2,5").unwrap()[0], vec!["1", "2", "5"]);
        assert_eq!(expression_groups("(X0)(1-20)").unwrap()[0], vec!["X0"]);
        assert!(expression_groups("(1-1000000000)").is_none());
        assert!(expression_groups("(5-1)").is_none() && expression_groups("").is_none());
    }
}
