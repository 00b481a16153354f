//! Atomic models from PDB and mmCIF files (plain or gzip), read by this crate's own readers of
//! the coordinate records.
//!
//! Both formats give the same atoms, in the same order, with the values exactly as written:
//! two-character chain IDs and hybrid-36 numbers in PDB files, `auth_*` names in mmCIF files,
//! every alternate conformer with its own occupancy, B as written and ANISOU kept beside it.
//! Header records (SEQRES, LINK, ...) are not needed for a model map and are not read, so the
//! inconsistencies of deposited files cannot stop a run. Only the first MODEL is used.
//!
//! The unit cell in the file is never used: cryo-EM models often carry a dummy `CRYST1 1 1 1`,
//! and the map defines the frame.

pub mod copies;
pub mod element;
pub mod hybrid36;
mod mmcif;
mod pdb;
pub mod point_group;
pub mod symmetry;
pub mod write;

use crate::error::{Error, Result};
use element::Element;
use std::path::Path;

/// One atom, with what the model map and the reports need.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Atom {
    /// Cartesian position in Ångström.
    pub position: [f64; 3],
    /// Element symbol ("C", "Fe", "D"); "X" when unknown.
    pub element: String,
    /// Atomic number; 0 when unknown.
    pub atomic_number: u8,
    /// Occupancy, as in the file (alternate conformations keep their own).
    pub occupancy: f64,
    /// Isotropic B in Å², as in the file.
    pub b_iso: f64,
    /// Anisotropic displacement U11, U22, U33, U12, U13, U23 in Å² (PDB ANISOU, mmCIF
    /// `_atom_site_anisotrop`), when the file gives them.
    pub aniso_u: Option<[f64; 6]>,
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
    /// Serial number in the file (hybrid-36 decoded); the atom's position in the file, from 1,
    /// when the file's is missing or unreadable.
    pub serial: usize,
}

impl Atom {
    /// The B that the model map uses: the isotropic equivalent 8π²·(U11+U22+U33)/3 when the file
    /// gives anisotropic U, else the isotropic B as written.
    pub fn b_for_density(&self) -> f64 {
        match self.aniso_u {
            Some(u) => 8.0 * std::f64::consts::PI.powi(2) * (u[0] + u[1] + u[2]) / 3.0,
            None => self.b_iso,
        }
    }
}

/// Residue identity for reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Residue {
    /// Chain identifier (up to four characters in PDB files written by modern programs).
    pub chain: String,
    /// Residue name ("ASN", "NAG").
    pub name: String,
    /// Residue sequence number.
    pub number: isize,
    /// Insertion code, empty when none.
    pub insertion_code: String,
    /// mmCIF `label_asym_id` (what mmCIF assemblies name); empty for PDB files.
    #[serde(default)]
    pub subchain: String,
}

/// The label of a residue in reports: "chain/NAMEnumber(icode)" ("A/ASN282", "B/SER10A").
pub fn residue_label(chain: &str, name: &str, number: isize, insertion_code: &str) -> String {
    format!("{chain}/{name}{number}{insertion_code}")
}

impl std::fmt::Display for Residue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&residue_label(&self.chain, &self.name, self.number, &self.insertion_code))
    }
}

/// A resolution a model file records for another method than electron microscopy.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IgnoredResolution {
    /// The value, in Ångström.
    pub value: f64,
    /// Where it is recorded (`REMARK 2 RESOLUTION`, `_refine.ls_d_res_high`).
    pub record: String,
}

/// True when an experimental method as a model file writes it (`EXPDTA`, `_exptl.method`) is
/// electron microscopy (single particle, tomography, helical: all "ELECTRON MICROSCOPY").
pub fn is_electron_microscopy(method: &str) -> bool {
    method.to_ascii_uppercase().contains("ELECTRON MICROSCOPY")
}

/// Why the model's file gives no usable resolution, for the message that asks for one.
pub fn why_no_resolution(model: &Model, file: &str) -> String {
    let method = model.method.as_deref().map(str::trim).filter(|m| !m.is_empty());
    match (&model.ignored_resolution, method) {
        (Some(ignored), Some(method)) => format!(
            "{file} records {} Å in {}, but its experimental method is {method}, not electron microscopy: \
             that is not the map's resolution, so it was not used",
            ignored.value, ignored.record
        ),
        (Some(ignored), None) => format!(
            "{file} records {} Å in {}, but does not say the model is from electron microscopy \
             (no EXPDTA / _exptl.method): not used as the map's resolution",
            ignored.value, ignored.record
        ),
        (None, _) => format!("{file} does not record one"),
    }
}

/// A model: atoms of the first MODEL, their residues, and what the reader noticed.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Model {
    /// All atoms, hydrogens included (see [`Atom::is_hydrogen`]).
    pub atoms: Vec<Atom>,
    /// Residues, referenced by [`Atom::residue`].
    pub residues: Vec<Residue>,
    /// Resolution of the reconstruction the model was built into, in Ångström, as the file
    /// records it: mmCIF `_em_3d_reconstruction.resolution`, or PDB `REMARK 2 RESOLUTION.` when
    /// `EXPDTA` says ELECTRON MICROSCOPY. Never an X-ray or NMR entry's resolution, which says
    /// nothing about a map (see [`Model::ignored_resolution`]).
    pub resolution: Option<f64>,
    /// The experimental method the file records (PDB `EXPDTA`, mmCIF `_exptl.method`), as
    /// written.
    #[serde(default)]
    pub method: Option<String>,
    /// A resolution the file records that is not an electron-microscopy reconstruction's: not
    /// used, but named when a run has no resolution.
    #[serde(default)]
    pub ignored_resolution: Option<IgnoredResolution>,
    /// Copies of the model that the file declares and does not hold (NCS operators,
    /// assemblies), as read; [`copies::expand`] applies them.
    #[serde(default)]
    pub symmetry: symmetry::DeclaredSymmetry,
    /// When this model was made from copies of an input ([`copies::expand`]): which copy and
    /// which input residue every residue is.
    #[serde(default)]
    pub copies: Option<Box<copies::ModelCopies>>,
    /// Things that were odd but not fatal.
    pub warnings: Vec<String>,
}

impl Model {
    /// Number of hydrogen atoms.
    pub fn hydrogen_count(&self) -> usize {
        self.atoms.iter().filter(|a| a.is_hydrogen).count()
    }

    /// Number of distinct chain identifiers.
    pub fn chain_count(&self) -> usize {
        self.residues.iter().map(|r| r.chain.as_str()).collect::<std::collections::HashSet<_>>().len()
    }

    /// The atoms' positions (Å), in order: what the distance masks and searches take.
    pub fn positions(&self) -> Vec<[f64; 3]> {
        self.atoms.iter().map(|a| a.position).collect()
    }

    /// Mean position of the atoms (Å); the origin for a model without atoms.
    pub fn centroid(&self) -> [f64; 3] {
        let n = self.atoms.len().max(1) as f64;
        let mut sum = [0.0f64; 3];
        for atom in &self.atoms {
            for (s, p) in sum.iter_mut().zip(atom.position) {
                *s += p;
            }
        }
        let centroid = sum.map(|s| s / n);
        // No atoms, or coordinates that overflow: the frame's origin.
        if centroid.iter().all(|c| c.is_finite()) { centroid } else { [0.0; 3] }
    }

    /// The residue an atom belongs to.
    pub fn residue_of(&self, atom: &Atom) -> &Residue {
        &self.residues[atom.residue]
    }
}

/// One atom as a format reader found it, before residues are grouped.
pub(crate) struct AtomRecord {
    serial: Option<i64>,
    name: String,
    alt_loc: Option<String>,
    residue_name: String,
    chain: String,
    subchain: String,
    residue_number: isize,
    insertion_code: String,
    position: [f64; 3],
    occupancy: f64,
    b_iso: f64,
    element: Option<Element>,
    charge: i8,
}

/// Collects atoms into a [`Model`]: consecutive atoms of one residue share a residue entry
/// (alternate conformers with another residue name get their own), and the odd but readable
/// become warnings.
#[derive(Default)]
pub(crate) struct ModelBuilder {
    model: Model,
    records: usize,
    non_finite: usize,
    warnings: Vec<String>,
}

impl ModelBuilder {
    fn atom_count(&self) -> usize {
        self.model.atoms.len()
    }

    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    fn push(&mut self, record: AtomRecord) {
        self.records += 1;
        let values = [record.position[0], record.position[1], record.position[2], record.occupancy, record.b_iso];
        if !values.iter().all(|v| v.is_finite()) {
            self.non_finite += 1;
            return;
        }
        let same_residue = self.model.residues.last().is_some_and(|r| {
            r.chain == record.chain
                && r.number == record.residue_number
                && r.insertion_code == record.insertion_code
                && r.name == record.residue_name
                && r.subchain == record.subchain
        });
        if !same_residue {
            self.model.residues.push(Residue {
                chain: record.chain,
                name: record.residue_name,
                number: record.residue_number,
                insertion_code: record.insertion_code,
                subchain: record.subchain,
            });
        }
        let residue = self.model.residues.len() - 1;
        // An unrecognised element is kept as "X" (atomic number 0); the model map names such
        // atoms in its warning and models them as carbon.
        let (element, atomic_number) = match record.element {
            Some(e) => (e.symbol.to_string(), e.atomic_number),
            None => ("X".to_string(), 0),
        };
        let serial = record.serial.and_then(|s| usize::try_from(s).ok()).unwrap_or(self.records);
        self.model.atoms.push(Atom {
            position: record.position,
            is_hydrogen: atomic_number == 1,
            element,
            atomic_number,
            occupancy: record.occupancy,
            b_iso: record.b_iso,
            aniso_u: None,
            charge: record.charge,
            name: record.name,
            alt_loc: record.alt_loc,
            residue,
            serial,
        });
    }

    fn set_last_anisou(&mut self, u: [f64; 6]) {
        if let Some(atom) = self.model.atoms.last_mut()
            && u.iter().all(|v| v.is_finite())
        {
            atom.aniso_u = Some(u);
        }
    }

    fn set_anisou(&mut self, atom: usize, u: [f64; 6]) {
        if let Some(atom) = self.model.atoms.get_mut(atom)
            && u.iter().all(|v| v.is_finite())
        {
            atom.aniso_u = Some(u);
        }
    }

    fn finish(mut self) -> Model {
        if self.non_finite > 0 {
            self.warnings.push(format!(
                "{} atoms with a coordinate, occupancy or B that is not a finite number were skipped",
                self.non_finite
            ));
        }
        self.model.warnings = self.warnings;
        self.model
    }
}

/// A model held as columns, one entry per atom, as pipelines that already have one in memory
/// hold it (NumPy arrays in Python). Only positions, elements and B are required; residues
/// group consecutive atoms with the same chain, name and number, as in a file.
#[derive(Debug, Clone, Default)]
pub struct ModelColumns {
    /// Cartesian positions in Ångström.
    pub positions: Vec<[f64; 3]>,
    /// Element symbols ("C", "FE", "Fe"; "D" for deuterium).
    pub elements: Vec<String>,
    /// Isotropic B in Å².
    pub b_iso: Vec<f64>,
    /// Occupancies (1 for every atom when absent).
    pub occupancy: Option<Vec<f64>>,
    /// Chain identifiers ("A" for every atom when absent).
    pub chains: Option<Vec<String>>,
    /// Residue names ("UNK" when absent).
    pub residue_names: Option<Vec<String>>,
    /// Residue numbers (each atom its own residue, numbered from 1, when absent).
    pub residue_numbers: Option<Vec<i64>>,
    /// Atom names (the element symbol when absent).
    pub atom_names: Option<Vec<String>>,
}

impl ModelColumns {
    /// The model these columns describe. Columns of unequal length, unknown element symbols and
    /// values that are not finite are refused with a message naming the column and the atom;
    /// `name` says what the model is in messages.
    pub fn to_model(&self, name: &str) -> Result<Model> {
        let atoms = self.positions.len();
        let length = |column: &str, len: usize| {
            if len == atoms {
                Ok(())
            } else {
                Err(Error::Usage(format!("{name}: {column} has {len} entries for {atoms} positions")))
            }
        };
        length("elements", self.elements.len())?;
        length("b_iso", self.b_iso.len())?;
        let optional = |column: &str, len: Option<usize>| len.map_or(Ok(()), |len| length(column, len));
        optional("occupancy", self.occupancy.as_ref().map(Vec::len))?;
        optional("chains", self.chains.as_ref().map(Vec::len))?;
        optional("residue_names", self.residue_names.as_ref().map(Vec::len))?;
        optional("residue_numbers", self.residue_numbers.as_ref().map(Vec::len))?;
        optional("atom_names", self.atom_names.as_ref().map(Vec::len))?;
        if atoms == 0 {
            return Err(Error::Usage(format!("{name}: the model has no atoms")));
        }
        let mut builder = ModelBuilder::default();
        for i in 0..atoms {
            let element = element::element_from_symbol(&self.elements[i]).ok_or_else(|| {
                Error::Usage(format!("{name}: elements[{i}] = {:?} is not an element symbol", self.elements[i]))
            })?;
            let occupancy = self.occupancy.as_ref().map_or(1.0, |o| o[i]);
            let values = [self.positions[i][0], self.positions[i][1], self.positions[i][2], occupancy, self.b_iso[i]];
            if !values.iter().all(|v| v.is_finite()) {
                return Err(Error::Usage(format!(
                    "{name}: atom {i} has a position, occupancy or B that is not a finite number"
                )));
            }
            let text = |column: &Option<Vec<String>>, default: &str| {
                column.as_ref().map_or_else(|| default.to_string(), |c| c[i].clone())
            };
            builder.push(AtomRecord {
                serial: Some(i as i64 + 1),
                name: text(&self.atom_names, element.symbol),
                alt_loc: None,
                residue_name: text(&self.residue_names, "UNK"),
                chain: text(&self.chains, "A"),
                subchain: String::new(),
                residue_number: self.residue_numbers.as_ref().map_or(i as isize + 1, |n| n[i] as isize),
                insertion_code: String::new(),
                position: self.positions[i],
                occupancy,
                b_iso: self.b_iso[i],
                element: Some(element),
                charge: 0,
            });
        }
        Ok(builder.finish())
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
    read_model_hashed(path.as_ref()).map(|(model, _)| model)
}

/// As [`read_model`], with the size and SHA-256 of the file's bytes as they were read.
pub fn read_model_hashed(path: &Path) -> Result<(Model, crate::io::gz::Digest)> {
    crate::limits::ensure_regular_file(path)?;
    // The text, then the atoms parsed from it (about three times its size), must fit.
    let limit = crate::limits::memory_limit() / 4;
    let (bytes, digest) = crate::io::gz::read_at_most_hashed(path, limit)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput | std::io::ErrorKind::UnexpectedEof => {
                Error::model(path, format!("cannot decompress: {e}"))
            }
            _ => Error::io(path, e),
        })?
        .ok_or_else(|| {
            Error::limit(
                Some(path),
                format!(
                    "the model is more than {} of text (decompressed), more than a quarter of the memory limit of {}; \
                     max_memory=SIZE raises it",
                    crate::limits::describe_bytes(limit),
                    crate::limits::describe_bytes(crate::limits::memory_limit())
                ),
            )
        })?;
    if crate::io::sniff::looks_like_map(&bytes) {
        return Err(Error::model(
            path,
            format!("this is a CCP4/MRC map, not a model (PDB or mmCIF): {}", crate::io::sniff::ORDER),
        ));
    }
    let format = format_from_name(path)
        .unwrap_or_else(|| sniff_format(&String::from_utf8_lossy(&bytes[..bytes.len().min(4096)])));
    // PDB fields are byte columns: a stray non-ASCII byte becomes one '?', so it cannot shift
    // the columns after it (a lossy UTF-8 decode would make it three bytes).
    let text = match format {
        ModelFormat::Pdb => String::from_utf8(bytes.iter().map(|&b| if b.is_ascii() { b } else { b'?' }).collect())
            .expect("ASCII is UTF-8"),
        ModelFormat::Mmcif => String::from_utf8_lossy(&bytes).into_owned(),
    };
    parse_model(&text, format, path).map(|model| (model, digest))
}

/// The format a model file's name says (`.cif`, `.mmcif`, `.pdb`, `.ent`, with or without
/// `.gz`), if it says one.
pub fn format_of(path: &Path) -> Option<ModelFormat> {
    format_from_name(path)
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

/// The format of model text from its content: an mmCIF block, loop or item on any line of the
/// first kilobytes says mmCIF (a file may start with comments or blank lines); else PDB.
fn sniff_format(text: &str) -> ModelFormat {
    let mmcif = text
        .lines()
        .map(str::trim_start)
        .any(|l| l.starts_with("data_") || l.starts_with("loop_") || l.starts_with("_atom_site."));
    if mmcif { ModelFormat::Mmcif } else { ModelFormat::Pdb }
}

/// Parses model text in a known format; `path` names the source in messages.
pub fn parse_model(text: &str, format: ModelFormat, path: &Path) -> Result<Model> {
    let model = match format {
        ModelFormat::Pdb => pdb::parse_pdb(text, path)?,
        ModelFormat::Mmcif => mmcif::parse_mmcif(text, path)?,
    };
    if model.atoms.is_empty() {
        return Err(Error::model(path, "the model has no atoms with finite coordinates"));
    }
    Ok(model)
}
