//! PDB format: the coordinate records (ATOM, HETATM, ANISOU, MODEL/ENDMDL) and REMARK 2.
//!
//! Columns as in the wwPDB format 3.3, plus what many-chain models written by gemmi, Phenix and
//! ChimeraX need: two-character chain IDs in columns 21-22, and hybrid-36 atom serials (columns
//! 7-11) and residue numbers (23-26). Values are kept exactly as written; lines are handled as
//! bytes, so odd characters can never split a field in the middle of a character.

use super::element::{Element, element_from_padded_name, element_from_symbol};
use super::{AtomRecord, ModelBuilder, hybrid36};
use crate::error::{Error, Result};
use crate::io::model::Model;
use std::ops::Range;
use std::path::Path;

// Column ranges (0-based, end exclusive) of the ATOM/HETATM record.
const SERIAL: Range<usize> = 6..11;
const ATOM_NAME: Range<usize> = 12..16;
const ALT_LOC: usize = 16;
const RESIDUE_NAME: Range<usize> = 17..20;
const CHAIN_ID: Range<usize> = 20..22;
const RESIDUE_NUMBER: Range<usize> = 22..26;
const INSERTION_CODE: usize = 26;
const COORDINATES: [Range<usize>; 3] = [30..38, 38..46, 46..54];
const OCCUPANCY: Range<usize> = 54..60;
const B_FACTOR: Range<usize> = 60..66;
const ELEMENT: Range<usize> = 76..78;
const CHARGE: Range<usize> = 78..80;
/// Columns that identify an atom (serial to insertion code): an ANISOU record repeats them.
const IDENTITY: Range<usize> = 6..27;
/// U11, U22, U33, U12, U13, U23 of an ANISOU record, in units of 1e-4 Å².
const ANISOU_U: [Range<usize>; 6] = [28..35, 35..42, 42..49, 49..56, 56..63, 63..70];

fn field(line: &[u8], range: Range<usize>) -> &[u8] {
    let end = range.end.min(line.len());
    line.get(range.start.min(end)..end).unwrap_or(&[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.trim_ascii()).into_owned()
}

fn number(bytes: &[u8]) -> Option<f64> {
    std::str::from_utf8(bytes.trim_ascii()).ok()?.parse().ok()
}

/// The line for an error message: at most 80 characters.
fn quoted(line: &str) -> String {
    line.chars().take(80).collect()
}

/// Reads the first model of a PDB file.
pub(super) fn parse_pdb(text_all: &str, path: &Path) -> Result<Model> {
    let mut builder = ModelBuilder::default();
    let mut later_model = false;
    let mut models = 0usize;
    let mut last_identity: Option<Vec<u8>> = None;
    let mut unmatched_anisou = 0usize;
    for (line_index, line) in text_all.lines().enumerate() {
        let bytes = line.as_bytes();
        let record = field(bytes, 0..6);
        match record {
            b"MODEL " => {
                models += 1;
                later_model |= models > 1;
            }
            b"ENDMDL" => later_model |= builder.atom_count() > 0,
            b"ATOM  " | b"HETATM" if !later_model => {
                let record = atom_record(bytes).map_err(|problem| {
                    Error::model(path, format!("line {}: {problem}: '{}'", line_index + 1, quoted(line)))
                })?;
                last_identity = Some(field(bytes, IDENTITY).to_vec());
                builder.push(record);
            }
            b"ANISOU" if !later_model => {
                let u = ANISOU_U.map(|r| number(field(bytes, r)));
                let same_atom = last_identity.as_deref() == Some(field(bytes, IDENTITY));
                match (same_atom, u) {
                    (true, [Some(a), Some(b), Some(c), Some(d), Some(e), Some(f)]) => {
                        builder.set_last_anisou([a, b, c, d, e, f].map(|v| v * 1e-4));
                    }
                    _ => unmatched_anisou += 1,
                }
            }
            _ => {}
        }
    }
    if models > 1 {
        builder.warn(format!("the file holds {models} models; only the first is used"));
    }
    if unmatched_anisou > 0 {
        builder.warn(format!(
            "{unmatched_anisou} ANISOU records do not follow their ATOM record or are unreadable; they were ignored"
        ));
    }
    let mut model = builder.finish();
    model.symmetry = super::symmetry::from_pdb(text_all);
    model.method = pdb_method(text_all);
    if let Some(resolution) = pdb_resolution(text_all) {
        if model.method.as_deref().is_some_and(super::is_electron_microscopy) {
            model.resolution = Some(resolution);
        } else {
            model.ignored_resolution =
                Some(super::IgnoredResolution { value: resolution, record: "REMARK 2 RESOLUTION".into() });
        }
    }
    Ok(model)
}

fn atom_record(line: &[u8]) -> std::result::Result<AtomRecord, String> {
    if line.len() < COORDINATES[2].end {
        return Err(format!("an atom record needs at least {} columns", COORDINATES[2].end));
    }
    let coordinate = |a: usize| number(field(line, COORDINATES[a].clone()));
    let (Some(x), Some(y), Some(z)) = (coordinate(0), coordinate(1), coordinate(2)) else {
        return Err("cannot read the coordinates (columns 31-54)".into());
    };
    let optional = |range: Range<usize>, default: f64, what: &str| {
        let raw = field(line, range);
        if raw.trim_ascii().is_empty() { Ok(default) } else { number(raw).ok_or(format!("cannot read the {what}")) }
    };
    let occupancy = optional(OCCUPANCY, 1.0, "occupancy (columns 55-60)")?;
    let b_iso = optional(B_FACTOR, 0.0, "B factor (columns 61-66)")?;
    let residue_number = hybrid36::decode(field(line, RESIDUE_NUMBER), 4)
        .ok_or("cannot read the residue number (columns 23-26)")? as isize;
    let padded_name = String::from_utf8_lossy(field(line, ATOM_NAME)).into_owned();
    let element_column = text(field(line, ELEMENT));
    let element: Option<Element> =
        element_from_symbol(&element_column).or_else(|| element_from_padded_name(&padded_name));
    let alt_loc = line.get(ALT_LOC).filter(|c| !c.is_ascii_whitespace()).map(|&c| (c as char).to_string());
    let insertion_code =
        line.get(INSERTION_CODE).filter(|c| !c.is_ascii_whitespace()).map(|&c| (c as char).to_string());
    Ok(AtomRecord {
        serial: hybrid36::decode(field(line, SERIAL), 5),
        name: padded_name.trim().to_string(),
        alt_loc,
        residue_name: text(field(line, RESIDUE_NAME)),
        chain: text(field(line, CHAIN_ID)),
        subchain: String::new(),
        residue_number,
        insertion_code: insertion_code.unwrap_or_default(),
        position: [x, y, z],
        occupancy,
        b_iso,
        element,
        charge: charge(field(line, CHARGE)),
    })
}

/// "2+" or "1-" in columns 79-80 (also "+2"); anything else is neutral.
fn charge(bytes: &[u8]) -> i8 {
    let t = bytes.trim_ascii();
    match t {
        [d, b'+'] | [b'+', d] if d.is_ascii_digit() => (d - b'0') as i8,
        [d, b'-'] | [b'-', d] if d.is_ascii_digit() => -((d - b'0') as i8),
        _ => 0,
    }
}

/// `EXPDTA    ELECTRON MICROSCOPY` (columns 11-79, continued over lines numbered in 9-10).
pub(super) fn pdb_method(text: &str) -> Option<String> {
    let parts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("EXPDTA"))
        .map(|l| l.get(10..).unwrap_or("").trim())
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `REMARK   2 RESOLUTION. 3.20 ANGSTROMS.`
pub(super) fn pdb_resolution(text: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with("REMARK   2") && l.contains("RESOLUTION."))
        .find_map(|l| {
            let after = l.split("RESOLUTION.").nth(1)?;
            after.split_whitespace().next()?.parse::<f64>().ok()
        })
        .filter(|r| r.is_finite() && *r > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Model {
        parse_pdb(text, Path::new("fixture.pdb")).unwrap()
    }

    #[test]
    fn resolution_from_remark_2() {
        let text = "REMARK   2\nREMARK   2 RESOLUTION.    3.20 ANGSTROMS.\n";
        assert_eq!(pdb_resolution(text), Some(3.2));
        assert_eq!(pdb_resolution("REMARK   2 RESOLUTION. NOT APPLICABLE.\n"), None);
        let atom = "ATOM      1  CA  ALA A   1       1.000   2.000   3.000  1.00 20.00           C\n";
        let remark = "REMARK   2 RESOLUTION.    3.20 ANGSTROMS.\n";
        let em = read(&format!("EXPDTA    ELECTRON MICROSCOPY\n{remark}{atom}"));
        assert_eq!((em.resolution, em.ignored_resolution), (Some(3.2), None));
        let xray = read(&format!("EXPDTA    X-RAY DIFFRACTION\n{remark}{atom}"));
        assert_eq!(xray.resolution, None);
        assert_eq!(xray.method.as_deref(), Some("X-RAY DIFFRACTION"));
        assert_eq!(xray.ignored_resolution.map(|i| i.value), Some(3.2));
        let unknown = read(&format!("{remark}{atom}"));
        assert!(unknown.resolution.is_none() && unknown.ignored_resolution.is_some() && unknown.method.is_none());
    }

    /// An ATOM/HETATM line with every field in its columns.
    #[allow(clippy::too_many_arguments)]
    fn atom_line(
        record: &str,
        serial: &str,
        name: &str,
        alt: char,
        residue: &str,
        chain: &str,
        number: &str,
        xyz: [f64; 3],
        occupancy: f64,
        element: &str,
    ) -> String {
        format!(
            "{record:<6}{serial:>5} {name:<4}{alt}{residue:>3}{chain:>2}{number:>4}    {:8.3}{:8.3}{:8.3}{occupancy:6.2}{:6.2}          {element:>2}\n",
            xyz[0], xyz[1], xyz[2], 30.0
        )
    }

    #[test]
    fn two_character_chains_stay_apart() {
        // Chains "A0" and "B0" share column 22; read by column 22 alone they would merge.
        let text = atom_line("ATOM", "1", " N", ' ', "VAL", "A0", "1", [11.1, 6.1, -6.5], 1.0, "N")
            + &atom_line("ATOM", "2", " N", ' ', "VAL", "B0", "1", [12.1, 6.1, -6.5], 1.0, "N");
        assert_eq!(&text.as_bytes()[20..22], b"A0");
        let model = read(&text);
        assert_eq!(model.residues.len(), 2);
        assert_eq!(model.residues[0].chain, "A0");
        assert_eq!(model.residues[1].chain, "B0");
        assert!(model.atoms.iter().all(|a| a.occupancy == 1.0));
    }

    #[test]
    fn hybrid36_serials_and_residue_numbers() {
        let text = atom_line("ATOM", "A0000", " CA", ' ', "GLY", "A", "A000", [1.0, 2.0, 3.0], 0.5, "C")
            + &atom_line("HETATM", "A0001", "FE", ' ', "HEM", "B", "zzzz", [4.0, 5.0, 6.0], 1.0, "FE")
                .replace("FE\n", "FE3+\n");
        let model = read(&text);
        assert_eq!(model.atoms[0].serial, 100_000);
        assert_eq!(model.residues[0].number, 10_000);
        assert_eq!(model.atoms[0].occupancy, 0.5);
        assert_eq!(model.atoms[1].atomic_number, 26);
        assert_eq!(model.atoms[1].charge, 3);
        assert_eq!(model.residues[1].chain, "B");
        assert_eq!(model.residues[1].number, 36isize.pow(4) - 1 + 16 * 36isize.pow(3) + 10_000);
    }

    #[test]
    fn anisou_follows_its_atom_and_b_stays_as_written() {
        let text = atom_line("ATOM", "1", " N", ' ', "ALA", "A", "1", [11.1, 6.1, -6.5], 1.0, "N")
            + "ANISOU    1  N   ALA A   1     5000   5000   5000      0      0      0       N\n"
            + &atom_line("ATOM", "2", " CA", ' ', "ALA", "A", "1", [11.6, 6.1, -5.1], 1.0, "C");
        let model = read(&text);
        assert_eq!(model.atoms[0].b_iso, 30.0, "B as in the file");
        let expected = 8.0 * std::f64::consts::PI.powi(2) * 0.5;
        assert!((model.atoms[0].b_for_density() - expected).abs() < 1e-9);
        assert_eq!(model.atoms[1].aniso_u, None);
        assert_eq!(model.atoms[1].b_for_density(), 30.0);
    }

    #[test]
    fn alternate_conformers_insertion_codes_and_later_models() {
        let conformer = |serial: &str, alt: char, x: f64, occupancy: f64| {
            let line = atom_line("ATOM", serial, " CB", alt, "SER", "A", "10", [x, 2.0, 3.0], occupancy, "C");
            format!("{}A{}", &line[..26], &line[27..])
        };
        let text = format!(
            "MODEL        1\n{}{}ENDMDL\nMODEL        2\n{}ENDMDL\n",
            conformer("1", 'A', 1.0, 0.4),
            conformer("2", 'B', 1.5, 0.6),
            conformer("1", 'A', 9.0, 0.4)
        );
        let model = read(&text);
        assert_eq!(model.atoms.len(), 2);
        assert_eq!(model.atoms[0].alt_loc.as_deref(), Some("A"));
        assert_eq!(model.atoms[1].occupancy, 0.6);
        assert_eq!(model.residues.len(), 1);
        assert_eq!(model.residues[0].insertion_code, "A");
        assert!(model.warnings.iter().any(|w| w.contains("2 models")));
    }

    #[test]
    fn missing_elements_come_from_the_name_alignment() {
        let text = atom_line("HETATM", "1", "CA", ' ', "CA", "A", "101", [1.0, 2.0, 3.0], 1.0, "")
            + &atom_line("ATOM", "2", " CA", ' ', "GLY", "A", "1", [1.0, 2.0, 3.0], 1.0, "");
        let model = read(&text);
        assert_eq!(model.atoms[0].atomic_number, 20);
        assert_eq!(model.atoms[1].atomic_number, 6);
    }

    #[test]
    fn unreadable_records_name_the_line() {
        let text = atom_line("ATOM", "1", " N", ' ', "ALA", "A", "1", [11.1, 6.1, -6.5], 1.0, "N")
            .replace("   6.100", "   abc  ");
        let error = parse_pdb(&text, Path::new("bad.pdb")).unwrap_err().to_string();
        assert!(error.contains("bad.pdb") && error.contains("line 1") && error.contains("coordinates"), "{error}");
        let short = "ATOM      1  N   ALA A   1      11.104\n";
        assert!(parse_pdb(short, Path::new("bad.pdb")).unwrap_err().to_string().contains("columns"));
    }
}
