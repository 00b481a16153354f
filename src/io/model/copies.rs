//! Copies of a model: the NCS copies its file asks to be generated (by default, as gemmi's
//! `Structure.expand_ncs`), an assembly (`assembly=ID`, as gemmi's `make_assembly`), or a point
//! group about the map's centre (`symmetry=I`, as servalcat's `--pg`).
//!
//! The expanded model holds the input's atoms first (when the input copy is part of what is
//! made), then each copy in turn. Copied chains are named `CHAIN-OPERATOR` ("A-2", "B-17"; a
//! product of two mmCIF operators "A-1x61"), unique among the model's chains; the copy under
//! the identity keeps the input's names, so its residues read as in the file. [`ModelCopies`]
//! records which copy and which input residue every residue is, so that reports can gather
//! what the copies share.

use super::point_group::PointGroup;
use super::symmetry::{MAX_COPIES, Operator};
use super::{Atom, Model, Residue};
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Which copies to make.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyRequest {
    /// Generate the NCS copies the file marks "generate" (the default).
    pub ncs: bool,
    /// Build this assembly of the file instead.
    pub assembly: Option<String>,
    /// Apply this point group about `centre` instead.
    pub symmetry: Option<PointGroup>,
}

impl Default for CopyRequest {
    fn default() -> Self {
        CopyRequest { ncs: true, assembly: None, symmetry: None }
    }
}

/// What the copies of an expanded model are.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelCopies {
    /// What made them, in words ("2 NCS operators (MTRIX)", "operators of assembly 1", "point group I2
    /// about (100.0, 100.0, 100.0)").
    pub made_by: String,
    /// The operator of each copy (index = copy number); the input's copy is the identity.
    pub operators: Vec<Operator>,
    /// For each residue of the expanded model: its copy.
    pub residue_copy: Vec<u32>,
    /// For each residue of the expanded model: the residue of the input it copies.
    pub residue_input: Vec<u32>,
    /// The input model's residues.
    pub input_residues: Vec<Residue>,
    /// Atoms of the input model.
    pub input_atoms: usize,
}

impl ModelCopies {
    /// Number of copies.
    pub fn count(&self) -> usize {
        self.operators.len()
    }

    /// The position `position` of copy `copy` carried back onto the input copy.
    pub fn to_input_frame(&self, copy: usize, position: [f64; 3]) -> [f64; 3] {
        self.operators[copy].inverse().apply(position)
    }
}

/// The copies `request` asks of `model` (read from `file`, named in messages), and what a run
/// should be told about them: the copies made, or those declared and not made with the option
/// that makes them. `centre` is the map box's centre (Å), about which a point group turns.
/// `Ok((None, ..))` when nothing is copied. Refused, naming the record, before any atom is
/// copied: an operator the request needs that is not a rotation or is missing, an assembly the
/// file does not declare, more than [`MAX_COPIES`] copies, or more atoms than memory holds.
pub fn expand(
    model: &Model,
    request: &CopyRequest,
    centre: [f64; 3],
    file: &Path,
) -> Result<(Option<Model>, Vec<String>)> {
    let declared = &model.symmetry;
    let mut said = Vec::new();
    // A record of the file that cannot be used, or a request the file cannot meet.
    let refuse = |message: String| Error::model(file, message);
    if request.assembly.is_some() && request.symmetry.is_some() {
        return Err(Error::Usage("assembly= and symmetry= are two ways to make copies: give one".into()));
    }
    let ncs_generate = declared.ncs_to_generate();
    // Parts: (residue filter, operators).
    let (parts, made_by): (Vec<(Selection, Vec<Operator>)>, String) = if let Some(group) = request.symmetry {
        if !ncs_generate.is_empty() {
            said.push(format!(
                "symmetry={group} replaces the {} NCS operators the model file declares",
                ncs_generate.len()
            ));
        }
        let operators = group.operators(centre);
        let made_by = format!(
            "point group {group} about the map's centre ({:.1}, {:.1}, {:.1})",
            centre[0], centre[1], centre[2]
        );
        (vec![(Selection::All, operators)], made_by)
    } else if let Some(id) = &request.assembly {
        let Some(assembly) = declared.assembly(id) else {
            let known: Vec<&str> = declared.assemblies.iter().map(|a| a.id.as_str()).collect();
            return Err(refuse(if known.is_empty() {
                format!("assembly={id}: the model file declares no assembly (REMARK 350 / _pdbx_struct_assembly_gen)")
            } else {
                format!("assembly={id}: the model file declares assemblies {}", known.join(", "))
            }));
        };
        if let Some(problem) = assembly.problems.first() {
            return Err(refuse(format!("assembly={id} cannot be built: {problem}")));
        }
        if !ncs_generate.is_empty() {
            said.push(format!(
                "assembly={id} is built from the atoms as written; the {} NCS copies the file also declares are \
                 not generated",
                ncs_generate.len()
            ));
        }
        let parts = assembly
            .parts
            .iter()
            .map(|p| {
                let selection = if !p.subchains.is_empty() && model.residues.iter().any(|r| !r.subchain.is_empty()) {
                    Selection::Subchains(p.subchains.iter().cloned().collect())
                } else if !p.chains.is_empty() {
                    Selection::Chains(p.chains.iter().cloned().collect())
                } else {
                    Selection::All
                };
                (selection, p.operators.clone())
            })
            .collect();
        (parts, format!("operators of assembly {id}"))
    } else if request.ncs && (!ncs_generate.is_empty() || !declared.ncs_problems.is_empty()) {
        if let Some(problem) = declared.ncs_problems.first() {
            return Err(refuse(format!(
                "{problem}: the NCS copies cannot be generated (ncs=false runs on the atoms as written)"
            )));
        }
        if let Some((id, copies)) = declared.largest_assembly() {
            said.push(format!(
                "the model file also declares assembly {id} of {copies} copies (BIOMT / _pdbx_struct_assembly_gen): \
                 to build it from the atoms as written instead of the NCS copies, give assembly={id}"
            ));
        }
        let mut operators = vec![Operator::identity("1")];
        operators.extend(ncs_generate.iter().map(|o| (*o).clone()));
        let made_by = format!("{} NCS operators of the model file (MTRIX / _struct_ncs_oper)", ncs_generate.len());
        (vec![(Selection::All, operators)], made_by)
    } else {
        said.extend(not_made(model, request));
        return Ok((None, said));
    };

    // Count before copying anything.
    let copies: usize = parts.iter().map(|(_, ops)| ops.len()).sum();
    if copies > MAX_COPIES {
        return Err(refuse(format!("{made_by} makes {copies} copies; at most {MAX_COPIES} are made")));
    }
    let atoms_per_part: Vec<usize> =
        parts.iter().map(|(s, _)| model.atoms.iter().filter(|a| s.holds(&model.residues[a.residue])).count()).collect();
    let atoms = parts
        .iter()
        .zip(&atoms_per_part)
        .try_fold(0u64, |n, ((_, ops), &a)| n.checked_add((ops.len() as u64).checked_mul(a as u64)?));
    // An atom holds its struct and two short strings on the heap.
    let bytes = atoms.and_then(|n| n.checked_mul(std::mem::size_of::<Atom>() as u64 + 32));
    crate::limits::ensure_fits(&format!("the copies made by the {made_by}"), bytes, Some(file))?;
    if atoms == Some(0) {
        return Err(refuse(format!("{made_by} applies to no chain of the model")));
    }

    let mut expanded = Model { atoms: Vec::with_capacity(atoms.unwrap_or(0) as usize), ..Model::default() };
    let mut record = ModelCopies {
        made_by: made_by.clone(),
        operators: Vec::new(),
        residue_copy: Vec::new(),
        residue_input: Vec::new(),
        input_residues: model.residues.clone(),
        input_atoms: model.atoms.len(),
    };
    let input_chains: HashSet<&str> = model.residues.iter().map(|r| r.chain.as_str()).collect();
    let mut taken: HashSet<String> = input_chains.iter().map(|c| c.to_string()).collect();
    let mut next_serial = model.atoms.iter().map(|a| a.serial).max().unwrap_or(0) + 1;
    for (selection, operators) in &parts {
        for operator in operators {
            let copy = match record.operators.iter().position(|o| o == operator) {
                Some(copy) => copy,
                None => {
                    record.operators.push(operator.clone());
                    record.operators.len() - 1
                }
            };
            let identity = operator.is_identity();
            let mut chain_names: HashMap<&str, String> = HashMap::new();
            let mut residue_map: Vec<Option<u32>> = vec![None; model.residues.len()];
            for atom in &model.atoms {
                let residue = &model.residues[atom.residue];
                if !selection.holds(residue) {
                    continue;
                }
                let new_residue = match residue_map[atom.residue] {
                    Some(r) => r as usize,
                    None => {
                        let chain = if identity {
                            residue.chain.clone()
                        } else {
                            chain_names
                                .entry(residue.chain.as_str())
                                .or_insert_with(|| copy_chain_name(&residue.chain, &operator.id, &mut taken))
                                .clone()
                        };
                        expanded.residues.push(Residue { chain, ..residue.clone() });
                        record.residue_copy.push(copy as u32);
                        record.residue_input.push(atom.residue as u32);
                        residue_map[atom.residue] = Some((expanded.residues.len() - 1) as u32);
                        expanded.residues.len() - 1
                    }
                };
                let serial = if identity {
                    atom.serial
                } else {
                    next_serial += 1;
                    next_serial - 1
                };
                expanded.atoms.push(Atom {
                    position: operator.apply(atom.position),
                    aniso_u: atom.aniso_u.map(|u| rotate_u(&operator.rotation, u)),
                    residue: new_residue,
                    serial,
                    ..atom.clone()
                });
            }
        }
    }
    expanded.resolution = model.resolution;
    expanded.method = model.method.clone();
    expanded.ignored_resolution = model.ignored_resolution.clone();
    expanded.symmetry = model.symmetry.clone();
    expanded.warnings = model.warnings.clone();
    expanded.copies = Some(Box::new(record));
    Ok((Some(expanded), said))
}

/// What was declared and not made, with the option that makes it.
fn not_made(model: &Model, request: &CopyRequest) -> Vec<String> {
    let declared = &model.symmetry;
    let mut said = Vec::new();
    let ncs = declared.ncs_copies_to_generate();
    if ncs > 0 && !request.ncs {
        said.push(format!(
            "the model file declares {ncs} NCS cop{} to generate (MTRIX / _struct_ncs_oper), not made because \
             ncs=false: the map's other copies will show as unmodelled density",
            if ncs == 1 { "y" } else { "ies" }
        ));
    }
    if let Some((id, copies)) = declared.largest_assembly() {
        said.push(format!(
            "the model file declares assembly {id} of {copies} copies (BIOMT / _pdbx_struct_assembly_gen); the run \
             uses the atoms as written: if the map holds the whole assembly, give assembly={id}"
        ));
    }
    said.extend(declared.problems.iter().map(|p| format!("{p}; the operator is not used")));
    said
}

/// Which residues an assembly part copies.
enum Selection {
    All,
    Chains(HashSet<String>),
    Subchains(HashSet<String>),
}

impl Selection {
    fn holds(&self, residue: &Residue) -> bool {
        match self {
            Selection::All => true,
            Selection::Chains(chains) => chains.contains(&residue.chain),
            Selection::Subchains(subchains) => subchains.contains(&residue.subchain),
        }
    }
}

/// `CHAIN-OPERATOR`, made unique against every name given so far (the input's chains
/// included): a clash gets primes ("A-2'").
fn copy_chain_name(chain: &str, operator: &str, taken: &mut HashSet<String>) -> String {
    let mut name = format!("{chain}-{operator}");
    while taken.contains(&name) {
        name.push('\'');
    }
    taken.insert(name.clone());
    name
}

/// U (U11, U22, U33, U12, U13, U23) rotated: R U Rᵀ.
fn rotate_u(r: &[[f64; 3]; 3], u: [f64; 6]) -> [f64; 6] {
    let m = [[u[0], u[3], u[4]], [u[3], u[1], u[5]], [u[4], u[5], u[2]]];
    let mut out = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            out[i][j] = (0..3).map(|k| (0..3).map(|l| r[i][k] * m[k][l] * r[j][l]).sum::<f64>()).sum();
        }
    }
    [out[0][0], out[1][1], out[2][2], out[0][1], out[0][2], out[1][2]]
}
