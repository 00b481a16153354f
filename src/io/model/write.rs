//! A copy of a model whose B-factor column holds a per-residue score, for the viewers that
//! colour by B (ChimeraX `color byattribute bfactor`, Coot, PyMOL `spectrum b`): PDB or mmCIF,
//! written from the model as read (coordinates, names, occupancies, charges; header records
//! are not carried over). The mmCIF copy also holds every score as a category of its own,
//! `_rsdm_residue_score`.

use crate::analysis::peaks::ResidueScore;
use crate::error::{Error, Result};
use crate::io::model::{Model, ModelFormat, hybrid36};
use std::fmt::Write as _;

/// Residue names written as `ATOM` records (everything else is `HETATM`).
const POLYMER: [&str; 28] = [
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET", "PHE", "PRO", "SER",
    "THR", "TRP", "TYR", "VAL", "MSE", "SEC", "PYL", "A", "C", "G", "U", "DT",
];

/// The B value an atom gets: its residue's mean difference value at its atoms (0 for a
/// residue with no atom inside the map), kept within what a PDB B field can hold.
fn score_of(scores: &[ResidueScore], residue: usize) -> f64 {
    scores.get(residue).map(|s| s.mean).filter(|m| m.is_finite()).unwrap_or(0.0).clamp(-99.99, 999.99)
}

/// The model as text in `format`, B = each residue's score (`units` names them in a remark).
pub fn scored_model_text(model: &Model, scores: &[ResidueScore], units: &str, format: ModelFormat) -> Result<String> {
    match format {
        ModelFormat::Pdb => scored_pdb(model, scores, units),
        ModelFormat::Mmcif => Ok(scored_mmcif(model, scores, units)),
    }
}

fn scored_pdb(model: &Model, scores: &[ResidueScore], units: &str) -> Result<String> {
    let mut text = format!(
        "REMARK   0 real_space_diff_map {}: B-FACTOR = EACH RESIDUE'S MEAN DIFFERENCE VALUE\nREMARK   0 AT ITS ATOMS, IN {} (0 FOR RESIDUES OUTSIDE THE MAP)\n",
        env!("CARGO_PKG_VERSION"),
        units.to_ascii_uppercase()
    );
    for (i, atom) in model.atoms.iter().enumerate() {
        let residue = &model.residues[atom.residue];
        if residue.chain.len() > 2 {
            return Err(Error::Invalid(format!(
                "chain '{}' does not fit a PDB file's two columns: write the scores as mmCIF (model_scores=NAME.cif)",
                residue.chain
            )));
        }
        let serial = hybrid36::encode(i as i64 + 1, 5).unwrap_or_else(|| "*****".into());
        let number = hybrid36::encode(residue.number as i64, 4).unwrap_or_else(|| "****".into());
        // Atom names of fewer than four characters start in column 14 when the element has one
        // letter (" CA "), in column 13 otherwise ("FE  ").
        let name = if atom.name.len() < 4 && atom.element.len() == 1 {
            format!(" {:<3}", atom.name)
        } else {
            format!("{:<4}", atom.name)
        };
        let record = if POLYMER.contains(&residue.name.as_str()) { "ATOM  " } else { "HETATM" };
        let charge = match atom.charge {
            0 => "  ".to_string(),
            c => format!("{}{}", c.unsigned_abs(), if c > 0 { '+' } else { '-' }),
        };
        let _ = writeln!(
            text,
            "{record}{serial:>5} {name:.4}{alt:1}{res:>3}{chain:>2}{number:>4}{icode:1}   {x:>8.3}{y:>8.3}{z:>8.3}{occ:>6.2}{b:>6.2}          {el:>2}{charge}",
            alt = atom.alt_loc.as_deref().unwrap_or(" "),
            res = residue.name,
            chain = residue.chain,
            icode = if residue.insertion_code.is_empty() { " " } else { &residue.insertion_code },
            x = atom.position[0],
            y = atom.position[1],
            z = atom.position[2],
            occ = atom.occupancy,
            b = score_of(scores, atom.residue),
            el = atom.element.to_ascii_uppercase(),
        );
    }
    text.push_str("END\n");
    Ok(text)
}

/// A CIF value: bare when it can be, else quoted (`.` for an empty one).
fn cif_value(text: &str) -> String {
    if text.is_empty() {
        return ".".into();
    }
    let bare = !text.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"')
        && !text.starts_with(['_', '#', '$', '[', ']', ';'])
        && text != "."
        && text != "?"
        && !text.to_ascii_lowercase().starts_with("data_")
        && !text.to_ascii_lowercase().starts_with("loop_");
    if bare {
        text.to_string()
    } else if !text.contains('\'') {
        format!("'{text}'")
    } else {
        format!("\"{text}\"")
    }
}

fn scored_mmcif(model: &Model, scores: &[ResidueScore], units: &str) -> String {
    let mut text = format!(
        "data_scored_model\n# written by real_space_diff_map {}: B_iso_or_equiv = each residue's mean difference\n\
         # value at its atoms, in {units} (0 for residues outside the map); every score in _rsdm_residue_score.\n\
         loop_\n",
        env!("CARGO_PKG_VERSION")
    );
    for item in [
        "group_PDB",
        "id",
        "type_symbol",
        "label_atom_id",
        "label_alt_id",
        "label_comp_id",
        "label_asym_id",
        "label_seq_id",
        "pdbx_PDB_ins_code",
        "Cartn_x",
        "Cartn_y",
        "Cartn_z",
        "occupancy",
        "B_iso_or_equiv",
        "pdbx_formal_charge",
        "auth_seq_id",
        "auth_comp_id",
        "auth_asym_id",
        "auth_atom_id",
        "pdbx_PDB_model_num",
    ] {
        let _ = writeln!(text, "_atom_site.{item}");
    }
    for (i, atom) in model.atoms.iter().enumerate() {
        let residue = &model.residues[atom.residue];
        let record = if POLYMER.contains(&residue.name.as_str()) { "ATOM" } else { "HETATM" };
        let (name, comp, chain) = (cif_value(&atom.name), cif_value(&residue.name), cif_value(&residue.chain));
        let _ = writeln!(
            text,
            "{record} {} {} {name} {} {comp} {chain} {} {} {:.3} {:.3} {:.3} {:.2} {:.3} {} {} {comp} {chain} {name} 1",
            i + 1,
            cif_value(&atom.element),
            atom.alt_loc.as_deref().map_or(".".into(), cif_value),
            residue.number,
            if residue.insertion_code.is_empty() { "?".into() } else { cif_value(&residue.insertion_code) },
            atom.position[0],
            atom.position[1],
            atom.position[2],
            atom.occupancy,
            score_of(scores, atom.residue),
            atom.charge,
            residue.number,
        );
    }
    text.push_str("#\nloop_\n");
    for item in [
        "chain",
        "residue_name",
        "residue_number",
        "insertion_code",
        "atoms_scored",
        "mean",
        "min",
        "max",
        "q_value",
        "in_negative_density",
        "units",
    ] {
        let _ = writeln!(text, "_rsdm_residue_score.{item}");
    }
    let number = |v: f64| if v.is_finite() { format!("{v:.3}") } else { "?".into() };
    for s in scores {
        let _ = writeln!(
            text,
            "{} {} {} {} {} {} {} {} {} {} {}",
            cif_value(&s.chain),
            cif_value(&s.residue_name),
            s.residue_number,
            if s.insertion_code.is_empty() { "?".into() } else { cif_value(&s.insertion_code) },
            s.atoms_scored,
            number(s.mean),
            number(s.min),
            number(s.max),
            s.q_value.map_or("?".into(), |q| format!("{q:.3e}")),
            if s.in_negative_density { "yes" } else { "no" },
            units
        );
    }
    text.push_str("#\n");
    text
}

/// The format to write `path` in: mmCIF for `.cif`/`.mmcif`, PDB for `.pdb`/`.ent`, else
/// `fallback` (the input model's).
pub fn format_for(path: &std::path::Path, fallback: ModelFormat) -> ModelFormat {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("cif" | "mmcif") => ModelFormat::Mmcif,
        Some("pdb" | "ent") => ModelFormat::Pdb,
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::model::{Residue, parse_model};
    use std::path::Path;

    #[test]
    fn scores_read_back_as_b_in_both_formats() {
        let model = crate::io::model::read_model("testdata/6vyb_Ndom_noNAG.pdb").unwrap();
        let scores: Vec<ResidueScore> = model
            .residues
            .iter()
            .enumerate()
            .map(|(i, r)| ResidueScore {
                chain: r.chain.clone(),
                residue_name: r.name.clone(),
                residue_number: r.number,
                insertion_code: r.insertion_code.clone(),
                atoms_scored: 1,
                mean: (i as f64 * 0.37) % 7.0 - 3.0,
                min: -1.0,
                max: 1.0,
                q_value: None,
                in_negative_density: false,
                copies: None,
            })
            .collect();
        for format in [ModelFormat::Pdb, ModelFormat::Mmcif] {
            let text = scored_model_text(&model, &scores, "sigma", format).unwrap();
            let back = parse_model(&text, format, Path::new("scored")).unwrap();
            assert_eq!(back.atoms.len(), model.atoms.len(), "{format:?}");
            for (a, b) in model.atoms.iter().zip(&back.atoms) {
                assert_eq!(a.name, b.name);
                assert!((0..3).all(|k| (a.position[k] - b.position[k]).abs() < 1e-3));
                assert!(
                    (b.b_iso - scores[a.residue].mean).abs() < 0.006,
                    "{format:?}: {} vs {}",
                    b.b_iso,
                    scores[a.residue].mean
                );
                // The mmCIF written carries a label_asym_id the PDB input has not.
                let read_back = Residue { subchain: String::new(), ..back.residues[b.residue].clone() };
                assert_eq!(model.residues[a.residue], read_back);
            }
        }
        assert_eq!(cif_value("O5'"), "\"O5'\"");
        assert_eq!(cif_value("CA"), "CA");
        assert_eq!(cif_value(""), ".");
        assert_eq!(format_for(Path::new("x.cif"), ModelFormat::Pdb), ModelFormat::Mmcif);
    }
}
