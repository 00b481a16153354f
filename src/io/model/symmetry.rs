//! The copies a model file declares but does not hold: NCS operators (PDB `MTRIX`, mmCIF
//! `_struct_ncs_oper`) and assemblies (PDB `REMARK 350 BIOMT`, mmCIF `_pdbx_struct_oper_list`
//! with `_pdbx_struct_assembly_gen`). A file with one copy of a symmetric particle and the
//! operators that make the rest explains only part of its map; the run says so, with the number
//! of copies, instead of listing every other copy as unmodelled density without a word.
//!
//! Read here, applied by [`super::copies`]. Identity operators (every deposited assembly lists
//! one) and NCS copies marked as given are not copies to make. Every operator is checked to be
//! a rotation when it is read; a record that cannot be used is named, and a run that needs it
//! stops with that name before any atom is copied.

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

/// `R x`.
fn multiply(r: &[[f64; 3]; 3], x: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| r[i][0] * x[0] + r[i][1] * x[1] + r[i][2] * x[2])
}

/// How far from exact a rotation may be (header numbers carry six decimals).
pub const ROTATION_TOLERANCE: f64 = 1e-3;

impl Operator {
    /// The operator that moves nothing.
    pub fn identity(id: impl Into<String>) -> Operator {
        Operator { id: id.into(), rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], translation: [0.0; 3] }
    }

    /// The rotation `rotation` about the point `centre`: `x' = R (x - c) + c`.
    pub fn about(id: impl Into<String>, rotation: [[f64; 3]; 3], centre: [f64; 3]) -> Operator {
        let rc = multiply(&rotation, centre);
        Operator { id: id.into(), rotation, translation: [0, 1, 2].map(|i| centre[i] - rc[i]) }
    }

    /// `R x + t`.
    pub fn apply(&self, x: [f64; 3]) -> [f64; 3] {
        let r = multiply(&self.rotation, x);
        [0, 1, 2].map(|i| r[i] + self.translation[i])
    }

    /// The product `self ∘ other` (`other` first), as mmCIF forms `(1-5)(6-10)`: named
    /// `self.id` x `other.id`.
    pub fn after(&self, other: &Operator) -> Operator {
        let mut rotation = [[0.0; 3]; 3];
        for (i, row) in rotation.iter_mut().enumerate() {
            for (j, value) in row.iter_mut().enumerate() {
                *value = (0..3).map(|k| self.rotation[i][k] * other.rotation[k][j]).sum();
            }
        }
        Operator { id: format!("{}x{}", self.id, other.id), rotation, translation: self.apply(other.translation) }
    }

    /// The inverse of a rotation operator (`R^T (x - t)`).
    pub fn inverse(&self) -> Operator {
        let mut rotation = [[0.0; 3]; 3];
        for (i, row) in rotation.iter_mut().enumerate() {
            for (j, value) in row.iter_mut().enumerate() {
                *value = self.rotation[j][i];
            }
        }
        let back = multiply(&rotation, self.translation);
        Operator { id: self.id.clone(), rotation, translation: back.map(|v| -v) }
    }

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

/// One part of an assembly: the operators applied to a set of chains.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AssemblyPart {
    /// Author chain names the operators apply to (PDB `APPLY THE FOLLOWING TO CHAINS:`).
    pub chains: Vec<String>,
    /// mmCIF `label_asym_id`s the operators apply to (`_pdbx_struct_assembly_gen.asym_id_list`);
    /// when given, they choose the residues instead of `chains`.
    pub subchains: Vec<String>,
    /// The operators, products already formed (`(1-5)(6-10)` gives 25), in file order.
    pub operators: Vec<Operator>,
}

/// One assembly: its id and the parts that build it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Assembly {
    /// Assembly id (`REMARK 350 BIOMOLECULE: 1`, `_pdbx_struct_assembly_gen.assembly_id`).
    pub id: String,
    /// Its parts, in file order.
    pub parts: Vec<AssemblyPart>,
    /// Why a part of it could not be read (a missing operator, an expression that cannot be
    /// read, too many copies): building this assembly is refused with these.
    pub problems: Vec<String>,
}

impl Assembly {
    /// Copies the assembly holds: operators applied (identity included), summed over its parts.
    pub fn copies(&self) -> usize {
        self.parts.iter().map(|p| p.operators.len()).sum()
    }

    /// True when every operator is the identity: the file holds the assembly as it is.
    pub fn identity_only(&self) -> bool {
        self.parts.iter().flat_map(|p| &p.operators).all(Operator::is_identity)
    }
}

/// Most copies one assembly or point group may make: the largest deposited assemblies
/// (virus capsids with their crystal packing) stay below a few thousand.
pub const MAX_COPIES: usize = 10_000;

/// What a model file declares about copies it does not hold.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeclaredSymmetry {
    /// NCS operators, in file order.
    pub ncs: Vec<NcsOperator>,
    /// NCS records that could not be used, each naming its record: generating the NCS copies
    /// is refused with these.
    #[serde(default)]
    pub ncs_problems: Vec<String>,
    /// Assemblies, in file order.
    pub assemblies: Vec<Assembly>,
    /// Other records that could not be used (an assembly operator that is not a rotation and
    /// that no assembly uses), each with why.
    pub problems: Vec<String>,
}

impl DeclaredSymmetry {
    /// NCS operators the file asks to be generated (not given, not the identity).
    pub fn ncs_to_generate(&self) -> Vec<&Operator> {
        self.ncs.iter().filter(|o| !o.given && !o.operator.is_identity()).map(|o| &o.operator).collect()
    }

    /// NCS copies the file asks to be generated.
    pub fn ncs_copies_to_generate(&self) -> usize {
        self.ncs_to_generate().len()
    }

    /// The assembly with this id.
    pub fn assembly(&self, id: &str) -> Option<&Assembly> {
        self.assemblies.iter().find(|a| a.id == id)
    }

    /// The largest assembly that is more than the file holds: (id, copies).
    pub fn largest_assembly(&self) -> Option<(&str, usize)> {
        self.assemblies
            .iter()
            .filter(|a| !a.identity_only() && a.copies() > 1)
            .max_by_key(|a| a.copies())
            .map(|a| (a.id.as_str(), a.copies()))
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

/// Reads `MTRIX1-3` and `REMARK 350` (`BIOMOLECULE:`, `APPLY THE FOLLOWING TO CHAINS:`,
/// `AND CHAINS:`, `BIOMT1-3`) records of PDB text.
pub fn from_pdb(text: &str) -> DeclaredSymmetry {
    let mut declared = DeclaredSymmetry::default();
    let mut mtrix: Option<Rows> = None;
    let mut biomt: Option<Rows> = None;
    let mut assembly: Option<Assembly> = None;
    let finish = |assembly: Option<Assembly>, declared: &mut DeclaredSymmetry| {
        if let Some(mut assembly) = assembly {
            assembly.parts.retain(|p| !p.operators.is_empty());
            if !assembly.parts.is_empty() || !assembly.problems.is_empty() {
                declared.assemblies.push(assembly);
            }
        }
    };
    let chain_list = |list: &str| -> Vec<String> {
        list.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect()
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
                declared.ncs_problems.push(format!("MTRIX{} {serial}: cannot read its numbers", row + 1));
                continue;
            };
            let entry = mtrix.get_or_insert_with(|| Rows { id: serial.clone(), ..Rows::default() });
            entry.set(row, [a, b, c, t]);
            entry.given |= given;
            if row == 2 {
                let (operator, rows, given) = mtrix.take().expect("gathered above").operator();
                match checked(rows, &operator, "MTRIX") {
                    Ok(()) => declared.ncs.push(NcsOperator { operator, given }),
                    Err(problem) => declared.ncs_problems.push(problem),
                }
            }
        } else if let Some(rest) = line.strip_prefix("REMARK 350") {
            let rest = rest.trim();
            if let Some(id) = rest.strip_prefix("BIOMOLECULE:") {
                finish(assembly.take(), &mut declared);
                assembly = Some(Assembly { id: id.trim().to_string(), parts: Vec::new(), problems: Vec::new() });
            } else if let Some(list) = rest.strip_prefix("APPLY THE FOLLOWING TO CHAINS:") {
                if let Some(assembly) = assembly.as_mut() {
                    assembly.parts.push(AssemblyPart {
                        chains: chain_list(list),
                        subchains: Vec::new(),
                        operators: Vec::new(),
                    });
                }
            } else if let Some(list) = rest.strip_prefix("AND CHAINS:") {
                if let Some(part) = assembly.as_mut().and_then(|a| a.parts.last_mut()) {
                    part.chains.extend(chain_list(list));
                }
            } else if let Some(biomt_rest) = rest.strip_prefix("BIOMT") {
                let words: Vec<&str> = biomt_rest.split_whitespace().collect();
                let row = words.first().and_then(|w| w.parse::<usize>().ok()).filter(|r| (1..=3).contains(r));
                let numbers: Option<Vec<f64>> =
                    words.get(2..6).and_then(|w| w.iter().map(|v| v.parse().ok()).collect());
                let Some(assembly) = assembly.as_mut() else { continue };
                let (Some(row), Some(numbers)) = (row, numbers) else {
                    assembly.problems.push(format!("REMARK 350 BIOMT{biomt_rest}: cannot read it"));
                    continue;
                };
                let serial = words.get(1).copied().unwrap_or("").to_string();
                let entry = biomt.get_or_insert(Rows { id: serial, ..Rows::default() });
                entry.set(row - 1, [numbers[0], numbers[1], numbers[2], numbers[3]]);
                if row == 3 {
                    let (operator, rows, _) = biomt.take().expect("gathered above").operator();
                    if assembly.parts.is_empty() {
                        // BIOMT records without a chain list: they apply to every chain.
                        assembly.parts.push(AssemblyPart::default());
                    }
                    match checked(rows, &operator, "REMARK 350 BIOMT") {
                        Ok(()) if assembly.copies() >= MAX_COPIES => {
                            assembly.problems.push(format!("REMARK 350 makes more than {MAX_COPIES} copies"));
                        }
                        Ok(()) => assembly.parts.last_mut().expect("pushed above").operators.push(operator),
                        Err(problem) => assembly.problems.push(problem),
                    }
                }
            }
        }
    }
    finish(assembly.take(), &mut declared);
    if mtrix.is_some() {
        declared.ncs_problems.push("MTRIX: an operator without its three rows".into());
    }
    declared
}

/// Whether an operator read from `record` has its three rows and is a rotation; the problem,
/// naming the record, when it is not.
pub(crate) fn checked(rows: usize, operator: &Operator, record: &str) -> std::result::Result<(), String> {
    let what = format!("{record} {}", operator.id);
    if rows != 3 {
        Err(format!("{what}: not three rows"))
    } else if let Some(why) = operator.not_a_rotation() {
        Err(format!("{what} is not a rotation ({why})"))
    } else {
        Ok(())
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
                    // A stranger's expression: refused before a list is made for it.
                    if b < a || b - a >= MAX_COPIES as u64 {
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
        assert_eq!(declared.assemblies[0].parts[0].chains, vec!["A".to_string()]);
        // A deposited file's identity-only assembly is no more than the file holds.
        let identity: String = RING.lines().take(5).map(|l| format!("{l}\n")).collect();
        let declared = from_pdb(&identity);
        assert!(declared.largest_assembly().is_none() && declared.ncs.is_empty());
    }

    #[test]
    fn operators_compose_and_invert() {
        let quarter = Operator {
            id: "q".into(),
            rotation: [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [1.0, 2.0, 3.0],
        };
        let p = [4.0, -5.0, 6.0];
        let back = quarter.inverse().apply(quarter.apply(p));
        assert!((0..3).all(|i| (back[i] - p[i]).abs() < 1e-12));
        let twice = quarter.after(&quarter);
        let expected = quarter.apply(quarter.apply(p));
        assert!((0..3).all(|i| (twice.apply(p)[i] - expected[i]).abs() < 1e-12));
        assert_eq!(twice.id, "qxq");
    }

    #[test]
    fn operators_that_are_not_rotations_are_named() {
        let scaled = RING.replace("MTRIX1   2 -1.000000", "MTRIX1   2 -2.000000");
        let declared = from_pdb(&scaled);
        assert_eq!(declared.ncs.len(), 1);
        assert!(declared.ncs_problems[0].contains("MTRIX 2 is not a rotation"), "{:?}", declared.ncs_problems);
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
        let biomt = RING.replace("BIOMT1   2 -1.000000", "BIOMT1   2 -2.000000");
        let declared = from_pdb(&biomt);
        assert!(declared.assemblies[0].problems[0].contains("REMARK 350 BIOMT 2 is not a rotation"));
    }

    #[test]
    fn operator_expressions() {
        assert_eq!(expression_groups("1").unwrap(), vec![vec!["1".to_string()]]);
        assert_eq!(expression_groups("(1-60)").unwrap()[0].len(), 60);
        let product = expression_groups("(1-5)(6-10)").unwrap();
        assert_eq!((product.len(), product[0].len(), product[1][4].as_str()), (2, 5, "10"));
        assert_eq!(expression_groups("1,2,5").unwrap()[0], vec!["1", "2", "5"]);
        assert_eq!(expression_groups("(X0)(1-20)").unwrap()[0], vec!["X0"]);
        assert!(expression_groups("(1-1000000000)").is_none() && expression_groups("(1-1000000)").is_none());
        assert!(expression_groups("(5-1)").is_none() && expression_groups("").is_none());
    }
}
