//! Atomic models from PDB and mmCIF files (plain or gzip), through `pdbtbx`.
//!
//! Deposited files are messy: SEQRES records that disagree with the atoms, LINK records to atoms
//! that are not there, non-standard residue names. The reader therefore uses pdbtbx's loose level
//! and turns its complaints into warnings. When pdbtbx still refuses a file, it is read again with
//! only its coordinate records (ATOM/HETATM/MODEL), which loads every model we have met; the
//! warnings say that ANISOU and header records were ignored then.
//!
//! The unit cell in the file is never used: cryo-EM models often carry a dummy `CRYST1 1 1 1`,
//! and the map defines the frame.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// One atom, with what the model map and the reports need.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Atom {
    /// Cartesian position in Ångström.
    pub position: [f64; 3],
    /// Element symbol as read or inferred ("C", "FE"); "X" when unknown.
    pub element: String,
    /// Atomic number; 0 when unknown.
    pub atomic_number: u8,
    /// Occupancy (alternate conformations keep their own).
    pub occupancy: f64,
    /// Isotropic B in Å² (from ANISOU, when present, as 8π²·trace(U)/3).
    pub b_iso: f64,
    /// Formal charge.
    pub charge: i8,
    /// Hydrogen or deuterium.
    pub is_hydrogen: bool,
    /// Atom name ("CA").
    pub name: String,
    /// Alternate-location identifier, if any.
    pub alt_loc: Option<String>,
    /// Index into [`Model::residues`].
    pub residue: usize,
    /// Serial number in the file.
    pub serial: usize,
}

/// Residue identity for reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Residue {
    /// Chain identifier.
    pub chain: String,
    /// Residue name ("ASN", "NAG").
    pub name: String,
    /// Residue sequence number.
    pub number: isize,
    /// Insertion code, empty when none.
    pub insertion_code: String,
}

impl std::fmt::Display for Residue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}{}{}", self.chain, self.name, self.number, self.insertion_code)
    }
}

/// A model: atoms of the first MODEL, their residues, and what the reader noticed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Model {
    /// All atoms, hydrogens included (see [`Atom::is_hydrogen`]).
    pub atoms: Vec<Atom>,
    /// Residues, referenced by [`Atom::residue`].
    pub residues: Vec<Residue>,
    /// Resolution recorded in the file (mmCIF `_em_3d_reconstruction.resolution`, or PDB
    /// `REMARK 2 RESOLUTION.`), in Ångström.
    pub resolution: Option<f64>,
    /// Things that were odd but not fatal.
    pub warnings: Vec<String>,
}

impl Model {
    /// Number of hydrogen atoms.
    pub fn hydrogen_count(&self) -> usize {
        self.atoms.iter().filter(|a| a.is_hydrogen).count()
    }

    /// The residue an atom belongs to.
    pub fn residue_of(&self, atom: &Atom) -> &Residue {
        &self.residues[atom.residue]
    }
}

/// File formats the reader understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    /// PDB format.
    Pdb,
    /// PDBx/mmCIF.
    Mmcif,
}

/// Reads a PDB or mmCIF model, plain or gzip-compressed (format from the name, else content).
pub fn read_model(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::model(path, format!("cannot decompress: {e}")))?;
        out
    } else {
        raw
    };
    let text = String::from_utf8_lossy(&bytes);
    let format = format_from_name(path).unwrap_or_else(|| sniff_format(&text));
    parse_model(&text, format, path)
}

fn format_from_name(path: &Path) -> Option<ModelFormat> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = name.rsplit('.').next()?;
    match ext {
        "cif" | "mmcif" => Some(ModelFormat::Mmcif),
        "pdb" | "ent" | "pdb1" => Some(ModelFormat::Pdb),
        _ => None,
    }
}

fn sniff_format(text: &str) -> ModelFormat {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    match first {
        Some(l) if l.starts_with("data_") => ModelFormat::Mmcif,
        _ => ModelFormat::Pdb,
    }
}

/// Parses model text in a known format; `path` names the source in messages.
pub fn parse_model(text: &str, format: ModelFormat, path: &Path) -> Result<Model> {
    let read = |only_coordinates: bool| {
        let mut options = pdbtbx::ReadOptions::new();
        options
            .set_level(pdbtbx::StrictnessLevel::Loose)
            .set_only_first_model(true)
            .set_only_atomic_coords(only_coordinates)
            .set_format(match format {
                ModelFormat::Pdb => pdbtbx::Format::Pdb,
                ModelFormat::Mmcif => pdbtbx::Format::Mmcif,
            });
        let reader = std::io::BufReader::new(std::io::Cursor::new(text.as_bytes()));
        // pdbtbx can panic on odd bytes (it slices lines by byte offsets); a bad file must be an
        // error here, never a crash.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| options.read_raw(reader))).unwrap_or_else(|_| {
            Err(vec![pdbtbx::PDBError::new(
                pdbtbx::ErrorLevel::BreakingError,
                "Parser failure",
                "the PDB/mmCIF parser crashed on this input",
                pdbtbx::Context::None,
            )])
        })
    };
    let mut warnings = Vec::new();
    let (pdb, messages) = match read(false) {
        Ok(ok) => ok,
        Err(first_errors) => match read(true) {
            Ok(ok) => {
                warnings.push(format!(
                    "read with coordinate records only (ANISOU and header ignored) because the full \
                     read failed: {}",
                    summarise(&first_errors)
                ));
                ok
            }
            Err(errors) => {
                return Err(Error::model(path, format!("cannot read model: {}", summarise(&errors))));
            }
        },
    };
    let serious: Vec<_> =
        messages.iter().filter(|e| e.level() != pdbtbx::ErrorLevel::GeneralWarning).cloned().collect();
    if !serious.is_empty() {
        warnings.push(format!("{} parser warnings, for example: {}", serious.len(), summarise(&serious)));
    }
    let mut model = convert(&pdb, &mut warnings);
    if model.atoms.is_empty() {
        return Err(Error::model(path, "the model has no atoms"));
    }
    model.resolution = match format {
        ModelFormat::Mmcif => mmcif_resolution(text),
        ModelFormat::Pdb => pdb_resolution(text),
    };
    if format == ModelFormat::Pdb {
        // The coordinate-only fallback ignores ANISOU records: apply them here, by serial number.
        apply_pdb_anisou(text, &mut model);
    }
    model.warnings = warnings;
    Ok(model)
}

fn summarise(errors: &[pdbtbx::PDBError]) -> String {
    let mut parts: Vec<String> = errors
        .iter()
        .take(3)
        .map(|e| format!("{}: {}", e.short_description(), e.long_description()).replace('\n', " "))
        .collect();
    if errors.len() > 3 {
        parts.push(format!("and {} more", errors.len() - 3));
    }
    parts.join("; ")
}

fn convert(pdb: &pdbtbx::PDB, warnings: &mut Vec<String>) -> Model {
    use pdbtbx::{ContainsAtomConformer, ContainsAtomConformerResidue, ContainsAtomConformerResidueChain};
    let mut model = Model::default();
    let mut unknown_elements = Vec::new();
    let mut non_finite = 0usize;
    let Some(first) = pdb.models().next() else {
        return model;
    };
    let mut last_key: Option<(String, isize, String, String)> = None;
    for h in first.atoms_with_hierarchy() {
        let (atom, conformer, residue, chain) = (h.atom(), h.conformer(), h.residue(), h.chain());
        let (number, icode) = residue.id();
        let key = (chain.id().to_string(), number, icode.unwrap_or("").to_string(), conformer.name().to_string());
        // Consecutive atoms of one residue share an entry, alternate conformers included.
        if last_key.as_ref() != Some(&key) {
            model.residues.push(Residue {
                chain: key.0.clone(),
                name: key.3.clone(),
                number,
                insertion_code: key.2.clone(),
            });
            last_key = Some(key);
        }
        let (element, atomic_number) = match atom.element() {
            Some(e) => (e.symbol().to_string(), e.atomic_number() as u8),
            None => match infer_element(atom.name(), conformer.name()) {
                Some(e) => (e.symbol().to_string(), e.atomic_number() as u8),
                None => {
                    unknown_elements.push(format!("{}/{}{}/{}", chain.id(), conformer.name(), number, atom.name()));
                    ("X".to_string(), 0)
                }
            },
        };
        let b_iso = match atom.anisotropic_temperature_factors() {
            Some(u) => 8.0 * std::f64::consts::PI.powi(2) * (u[0][0] + u[1][1] + u[2][2]) / 3.0,
            None => atom.b_factor(),
        };
        let (x, y, z) = atom.pos();
        if ![x, y, z, atom.occupancy(), b_iso].iter().all(|v| v.is_finite()) {
            non_finite += 1;
            continue;
        }
        model.atoms.push(Atom {
            position: [x, y, z],
            is_hydrogen: atomic_number == 1,
            element,
            atomic_number,
            occupancy: atom.occupancy(),
            b_iso,
            charge: atom.charge().clamp(-128, 127) as i8,
            name: atom.name().to_string(),
            alt_loc: conformer.alternative_location().map(str::to_string),
            residue: model.residues.len() - 1,
            serial: atom.serial_number(),
        });
    }
    if non_finite > 0 {
        warnings.push(format!("{non_finite} atoms with non-finite coordinates, occupancy or B were skipped"));
    }
    if !unknown_elements.is_empty() {
        warnings.push(format!(
            "{} atoms have no recognisable element (treated as element X): {}{}",
            unknown_elements.len(),
            unknown_elements.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if unknown_elements.len() > 5 { ", ..." } else { "" }
        ));
    }
    model
}

/// Element from an atom name when the element column is empty: a two-letter element for ions
/// named like their residue ("ZN" in ZN), else the first letter ("CA" in a protein is carbon).
fn infer_element(atom_name: &str, residue_name: &str) -> Option<pdbtbx::Element> {
    let letters: String = atom_name.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    if letters.is_empty() {
        return None;
    }
    if letters.len() <= 2
        && letters.eq_ignore_ascii_case(residue_name.trim())
        && let Some(e) = pdbtbx::Element::from_symbol(&letters)
    {
        return Some(e);
    }
    let first = &letters[..1];
    if first.eq_ignore_ascii_case("D") {
        return pdbtbx::Element::from_symbol("H");
    }
    pdbtbx::Element::from_symbol(first)
}

/// Sets B to the isotropic equivalent 8π²·(U11+U22+U33)/3 for atoms with an ANISOU record
/// (PDB columns 29-49 hold U11, U22, U33 in units of 1e-4 Å²).
fn apply_pdb_anisou(text: &str, model: &mut Model) {
    let mut b_by_serial = std::collections::HashMap::new();
    for line in text.lines().filter(|l| l.starts_with("ANISOU") && l.len() >= 49) {
        let field = |range: std::ops::Range<usize>| line.get(range).and_then(|f| f.trim().parse::<f64>().ok());
        if let (Some(serial), Some(u11), Some(u22), Some(u33)) =
            (line.get(6..11).and_then(|f| f.trim().parse::<usize>().ok()), field(28..35), field(35..42), field(42..49))
        {
            let b = 8.0 * std::f64::consts::PI.powi(2) * (u11 + u22 + u33) / 3.0 * 1e-4;
            if b.is_finite() && b > 0.0 {
                b_by_serial.insert(serial, b);
            }
        }
    }
    if b_by_serial.is_empty() {
        return;
    }
    for atom in &mut model.atoms {
        if let Some(b) = b_by_serial.get(&atom.serial) {
            atom.b_iso = *b;
        }
    }
}

fn pdb_resolution(text: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with("REMARK   2") && l.contains("RESOLUTION."))
        .find_map(|l| {
            let after = l.split("RESOLUTION.").nth(1)?;
            after.split_whitespace().next()?.parse::<f64>().ok()
        })
        .filter(|r| r.is_finite() && *r > 0.0)
}

/// Splits a CIF line into tokens, honouring single and double quotes.
fn cif_tokens(line: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if bytes[i] == b'#' {
            break;
        }
        let quote = bytes[i];
        if quote == b'\'' || quote == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len()
                && !(bytes[j] == quote && (j + 1 == bytes.len() || bytes[j + 1].is_ascii_whitespace()))
            {
                j += 1;
            }
            tokens.push(&line[start..j.min(bytes.len())]);
            i = j + 1;
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            tokens.push(&line[start..i]);
        }
    }
    tokens
}

/// `_em_3d_reconstruction.resolution`, as a key-value pair or the first row of a loop.
fn mmcif_resolution(text: &str) -> Option<f64> {
    const KEY: &str = "_em_3d_reconstruction.resolution";
    let lines: Vec<&str> = text.lines().collect();
    let parse = |t: &str| t.parse::<f64>().ok().filter(|r| r.is_finite() && *r > 0.0);
    for (n, line) in lines.iter().enumerate() {
        let tokens = cif_tokens(line);
        if tokens.first() == Some(&KEY) {
            return tokens.get(1).and_then(|t| parse(t));
        }
        if tokens.first() == Some(&"loop_") {
            let mut columns = Vec::new();
            let mut m = n + 1;
            while m < lines.len() && lines[m].trim_start().starts_with('_') {
                columns.push(lines[m].split_whitespace().next().unwrap_or(""));
                m += 1;
            }
            if let Some(col) = columns.iter().position(|c| *c == KEY) {
                let mut values = Vec::new();
                while m < lines.len() && values.len() < columns.len() {
                    values.extend(cif_tokens(lines[m]));
                    m += 1;
                }
                return values.get(col).and_then(|t| parse(t));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_from_mmcif_key_value_and_loop() {
        let kv = "data_x\n_em_3d_reconstruction.id 1\n_em_3d_reconstruction.resolution 3.2\n";
        assert_eq!(mmcif_resolution(kv), Some(3.2));
        let looped = "data_x\nloop_\n_em_3d_reconstruction.id\n_em_3d_reconstruction.method\n\
                      _em_3d_reconstruction.resolution\n1 'FSC 0.143 CUT-OFF' 2.85\n";
        assert_eq!(mmcif_resolution(looped), Some(2.85));
        assert_eq!(mmcif_resolution("data_x\n_em_3d_reconstruction.resolution ?\n"), None);
    }

    #[test]
    fn resolution_from_pdb_remark_2() {
        let text = "REMARK   2\nREMARK   2 RESOLUTION.    3.20 ANGSTROMS.\n";
        assert_eq!(pdb_resolution(text), Some(3.2));
        assert_eq!(pdb_resolution("REMARK   2 RESOLUTION. NOT APPLICABLE.\n"), None);
    }

    #[test]
    fn anisou_gives_the_isotropic_equivalent_in_both_read_paths() {
        let atoms = "ATOM      1  N   ALA A   1      11.104   6.134  -6.504  1.00 20.00           N\n\
                     ANISOU    1  N   ALA A   1     5000   5000   5000      0      0      0       N\n\
                     ATOM      2  CA  ALA A   1      11.639   6.071  -5.147  1.00 20.00           C\n";
        let expected = 8.0 * std::f64::consts::PI.powi(2) * 0.5;
        // A LINK to an absent atom makes pdbtbx refuse the full read: the fallback path.
        let broken =
            format!("LINK         ND2 ASN A  99                 C1  NAG A 500     1555   1555  1.44\n{atoms}END\n");
        for text in [format!("{atoms}END\n"), broken] {
            let model = parse_model(&text, ModelFormat::Pdb, Path::new("anisou.pdb")).unwrap();
            assert!((model.atoms[0].b_iso - expected).abs() < 1e-6, "{}", model.atoms[0].b_iso);
            assert_eq!(model.atoms[1].b_iso, 20.0);
        }
    }

    #[test]
    fn element_inference_from_names() {
        assert_eq!(infer_element("CA", "ALA").map(|e| e.symbol()), Some("C"));
        assert_eq!(infer_element("ZN", "ZN").map(|e| e.atomic_number()), Some(30));
        assert_eq!(infer_element("1HB", "ALA").map(|e| e.symbol()), Some("H"));
        assert_eq!(infer_element("123", "ALA"), None);
    }
}
