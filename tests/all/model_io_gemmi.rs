#![allow(clippy::needless_range_loop)]
//! The model reader against an independent one (gemmi), atom by atom: every shared model, the
//! repository's own, and a generated many-chain model with two-character chain IDs, hybrid-36
//! serials and residue numbers, insertion codes and more than 62 chains, read as we wrote it
//! and as gemmi rewrites it in PDB and mmCIF. The PDB and mmCIF reads of one model must agree
//! exactly, and so must the difference maps computed from them.

use crate::common;
use real_space_diff_map::io::model::{Model, hybrid36, read_model};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One atom in comparable form: (chain, residue name, number, icode, atom, altloc, element,
/// position, occupancy, B, aniso U).
#[derive(Debug, Clone)]
struct Row {
    key: (String, String, i64, String, String, String),
    element: String,
    position: [f64; 3],
    occupancy: f64,
    b_iso: f64,
    aniso_u: Option<[f64; 6]>,
}

fn rows_of_model(model: &Model) -> Vec<Row> {
    model
        .atoms
        .iter()
        .map(|a| {
            let r = model.residue_of(a);
            Row {
                key: (
                    r.chain.clone(),
                    r.name.clone(),
                    r.number as i64,
                    r.insertion_code.clone(),
                    a.name.clone(),
                    a.alt_loc.clone().unwrap_or_default(),
                ),
                element: a.element.to_ascii_uppercase(),
                position: a.position,
                occupancy: a.occupancy,
                b_iso: a.b_iso,
                aniso_u: a.aniso_u,
            }
        })
        .collect()
}

fn rows_of_gemmi(atoms: &Value) -> Vec<Row> {
    let s = |v: &Value| v.as_str().unwrap().to_string();
    let f = |v: &Value| v.as_f64().unwrap();
    atoms
        .as_array()
        .unwrap()
        .iter()
        .map(|a| Row {
            key: (s(&a[0]), s(&a[1]), a[2].as_i64().unwrap(), s(&a[3]), s(&a[4]), s(&a[5])),
            element: s(&a[6]).to_ascii_uppercase(),
            position: [f(&a[7]), f(&a[8]), f(&a[9])],
            occupancy: f(&a[10]),
            b_iso: f(&a[11]),
            aniso_u: a[12].as_array().map(|u| std::array::from_fn(|i| f(&u[i]))),
        })
        .collect()
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| {
        a.key.cmp(&b.key).then(
            a.position.iter().zip(&b.position).fold(std::cmp::Ordering::Equal, |o, (x, y)| o.then(x.total_cmp(y))),
        )
    });
    rows
}

/// Asserts two atom lists are the same model. gemmi keeps occupancy and B as float32 and may
/// regroup chain parts, so both lists are compared sorted, with float32 tolerances.
fn assert_same_atoms(what: &str, ours: Vec<Row>, theirs: Vec<Row>) {
    assert_eq!(ours.len(), theirs.len(), "{what}: atom count");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * a.abs().max(1.0);
    for (a, b) in sorted(ours).iter().zip(&sorted(theirs)) {
        assert_eq!(a.key, b.key, "{what}");
        assert_eq!(a.element, b.element, "{what}: {:?}", a.key);
        for k in 0..3 {
            assert!((a.position[k] - b.position[k]).abs() < 1e-6, "{what}: {:?} position", a.key);
        }
        assert!(close(a.occupancy, b.occupancy), "{what}: {:?} occupancy {} vs {}", a.key, a.occupancy, b.occupancy);
        assert!(close(a.b_iso, b.b_iso), "{what}: {:?} B {} vs {}", a.key, a.b_iso, b.b_iso);
        match (a.aniso_u, b.aniso_u) {
            (None, None) => {}
            (Some(u), Some(v)) => assert!((0..6).all(|i| (u[i] - v[i]).abs() < 1e-6), "{what}: {:?} U", a.key),
            other => panic!("{what}: {:?} anisotropic U {other:?}", a.key),
        }
    }
}

fn gemmi_dump(python: &Path, paths: &[PathBuf]) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/gemmi_model.py");
    let out = Command::new(python).arg(&script).arg("dump").args(paths).output().unwrap();
    assert!(out.status.success(), "gemmi: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn shared_models(shared: &Path) -> Vec<PathBuf> {
    let mut models = Vec::new();
    for top in ["data", "synthetic"] {
        for case in std::fs::read_dir(shared.join(top)).unwrap() {
            let case = case.unwrap().path();
            for dir in [case.clone(), case.join("nzorigin")] {
                for f in std::fs::read_dir(&dir).into_iter().flatten() {
                    let f = f.unwrap().path();
                    let name = f.to_string_lossy().to_string();
                    if name.ends_with(".pdb") || name.ends_with(".cif") {
                        models.push(f);
                    }
                }
            }
        }
    }
    models.sort();
    models
}

pub fn every_model_reads_as_gemmi_reads_it() {
    let Some(python) = common::python_with_gemmi("every_model_reads_as_gemmi_reads_it") else {
        return;
    };
    let mut paths: Vec<PathBuf> =
        ["6vyb_Ndom.pdb", "6vyb_Ndom_noNAG.pdb", "6vyb_Ndom_noNAG.cif"].iter().map(|n| common::testdata(n)).collect();
    if let Some(shared) = common::shared_dir("every_model_reads_as_gemmi_reads_it (shared models)") {
        paths.extend(shared_models(&shared));
    }
    for dump in gemmi_dump(&python, &paths) {
        let path = dump["path"].as_str().unwrap();
        let model = read_model(path).unwrap();
        assert_same_atoms(path, rows_of_model(&model), rows_of_gemmi(&dump["atoms"]));
    }
    eprintln!("{} models read atom for atom as gemmi reads them", paths.len());
}

/// A PDB line with every field in its column, hybrid-36 numbers and a two-character chain ID.
#[allow(clippy::too_many_arguments)]
fn pdb_line(
    serial: i64,
    name: &str,
    residue: &str,
    chain: &str,
    number: i64,
    icode: char,
    xyz: [f64; 3],
    occupancy: f64,
    b: f64,
    element: &str,
) -> String {
    // Names of one- and two-letter elements are aligned as the format says: " CA " is carbon.
    let name = if name.len() < 4 && element.len() == 1 { format!(" {name}") } else { name.to_string() };
    format!(
        "{:<6}{:>5} {name:<4} {residue:>3}{chain:>2}{:>4}{icode}   {:8.3}{:8.3}{:8.3}{occupancy:6.2}{b:6.2}          {element:>2}\n",
        "ATOM",
        hybrid36::encode(serial, 5).unwrap(),
        hybrid36::encode(number, 4).unwrap(),
        xyz[0],
        xyz[1],
        xyz[2]
    )
}

/// 70 copies of the spike segment's model, each its own two-character chain, shifted by a few
/// hundredths of an Ångström so that all stay in the testdata map: 113,050 atoms (hybrid-36
/// serials), residue numbers past 9,999 in every other copy, insertion codes in every third.
fn many_chain_pdb() -> String {
    let model = read_model(common::testdata("6vyb_Ndom.pdb")).unwrap();
    let ids: Vec<char> = ('A'..='Z').chain('a'..='z').chain('0'..='9').collect();
    let mut text = String::new();
    let mut serial = 1;
    for copy in 0..70i64 {
        let chain = format!("{}{}", ids[copy as usize % ids.len()], ids[(copy as usize / ids.len() + 7) % ids.len()]);
        let offset = if copy % 2 == 1 { 9_990 } else { 0 };
        let icode = if copy % 3 == 2 { 'B' } else { ' ' };
        let shift = copy as f64 * 0.013;
        for atom in &model.atoms {
            let residue = model.residue_of(atom);
            let p = atom.position;
            text.push_str(&pdb_line(
                serial,
                &atom.name,
                &residue.name,
                &chain,
                residue.number as i64 + offset,
                icode,
                [p[0] + shift, p[1] - shift, p[2] + 0.5 * shift],
                atom.occupancy,
                atom.b_iso,
                &atom.element.to_ascii_uppercase(),
            ));
            serial += 1;
        }
        text.push_str("TER\n");
    }
    text.push_str("END\n");
    text
}

pub fn a_many_chain_model_reads_the_same_from_pdb_and_mmcif() {
    let Some(python) = common::python_with_gemmi("a_many_chain_model_reads_the_same_from_pdb_and_mmcif") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ours_pdb = dir.path().join("many.pdb");
    std::fs::write(&ours_pdb, many_chain_pdb()).unwrap();
    let (gemmi_cif, gemmi_pdb) = (dir.path().join("gemmi.cif"), dir.path().join("gemmi.pdb"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/gemmi_model.py");
    let status = Command::new(&python).arg(&script).arg("convert").args([&ours_pdb, &gemmi_cif, &gemmi_pdb]).status();
    assert!(status.unwrap().success());

    let from_pdb = read_model(&ours_pdb).unwrap();
    let from_cif = read_model(&gemmi_cif).unwrap();
    let from_gemmi_pdb = read_model(&gemmi_pdb).unwrap();
    assert_eq!(from_pdb.atoms.len(), 70 * 1615);
    assert_eq!(from_pdb.chain_count(), 70);
    assert!(from_pdb.atoms.last().unwrap().serial > 99_999);
    assert!(from_pdb.residues.iter().any(|r| r.number > 9_999));
    assert!(from_pdb.atoms.iter().all(|a| a.occupancy == 1.0), "no occupancy is changed by the reader");
    assert!(from_pdb.warnings.is_empty() && from_cif.warnings.is_empty(), "{:?}", from_pdb.warnings);

    // Atom by atom, in file order: the two formats give the same model.
    for other in [&from_cif, &from_gemmi_pdb] {
        assert_eq!(other.atoms.len(), from_pdb.atoms.len());
        // mmCIF residues also carry their label_asym_id (which PDB files do not have).
        assert_eq!(without_subchains(&other.residues), without_subchains(&from_pdb.residues));
        for (a, b) in from_pdb.atoms.iter().zip(&other.atoms) {
            assert_eq!((&a.name, &a.element, a.residue, &a.alt_loc), (&b.name, &b.element, b.residue, &b.alt_loc));
            assert_eq!((a.position, a.occupancy, a.b_iso), (b.position, b.occupancy, b.b_iso));
        }
    }
    // And gemmi agrees with every read.
    let dumps = gemmi_dump(&python, std::slice::from_ref(&ours_pdb));
    let theirs = rows_of_gemmi(&dumps[0]["atoms"]);
    for (what, model) in [("ours", &from_pdb), ("gemmi cif", &from_cif), ("gemmi pdb", &from_gemmi_pdb)] {
        assert_same_atoms(what, rows_of_model(model), theirs.clone());
    }

    // Through the command line, the difference maps from the two files are identical.
    let map = common::testdata("emd_21457_seg.mrc");
    let mut outputs = Vec::new();
    for (model, name) in [(&ours_pdb, "from_pdb.ccp4"), (&gemmi_cif, "from_cif.ccp4")] {
        let output = dir.path().join(name);
        let run = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
            .arg(model)
            .arg(&map)
            .args(["resolution=3.2", "quiet=true", &format!("output={}", output.display())])
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        outputs.push(std::fs::read(&output).unwrap());
    }
    assert_eq!(outputs[0].len(), outputs[1].len());
    assert!(outputs[0][1024..] == outputs[1][1024..], "difference maps from PDB and mmCIF differ");
}

/// Every shared model that comes as both PDB and mmCIF reads the same, atom by atom, in file
/// order (positions to the PDB format's 1 mÅ, everything else exactly).
pub fn shared_pdb_and_mmcif_copies_read_the_same() {
    let Some(shared) = common::shared_dir("shared_pdb_and_mmcif_copies_read_the_same") else {
        return;
    };
    let mut pairs = 0;
    for path in shared_models(&shared).into_iter().filter(|p| p.extension().is_some_and(|e| e == "cif")) {
        let pdb_path = path.with_extension("pdb");
        if !pdb_path.exists() {
            continue;
        }
        let (pdb, cif) = (read_model(&pdb_path).unwrap(), read_model(&path).unwrap());
        assert_eq!(without_subchains(&pdb.residues), without_subchains(&cif.residues), "{}", path.display());
        assert_eq!(pdb.atoms.len(), cif.atoms.len(), "{}", path.display());
        for (a, b) in pdb.atoms.iter().zip(&cif.atoms) {
            assert_eq!((&a.name, &a.element, a.residue, &a.alt_loc), (&b.name, &b.element, b.residue, &b.alt_loc));
            assert_eq!((a.occupancy, a.b_iso, a.aniso_u), (b.occupancy, b.b_iso, b.aniso_u), "{}", path.display());
            for k in 0..3 {
                assert!((a.position[k] - b.position[k]).abs() <= 5e-4, "{}: {:?}", path.display(), a.position);
            }
        }
        pairs += 1;
    }
    assert!(pairs >= 3, "found {pairs} PDB/mmCIF pairs");
}

/// `model_scores=`: the scored copies (PDB and mmCIF) read by gemmi give every atom of the
/// model, in place, with its residue's mean difference value (the report's) as B; the
/// ChimeraX script colours that copy by it.
pub fn scored_models_read_in_gemmi_with_the_residue_scores_as_b() {
    let Some(python) = common::python_with_gemmi("scored_models_read_in_gemmi_with_the_residue_scores_as_b") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/gemmi_model.py");
    for name in ["scores.pdb", "scores.cif"] {
        let out = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
            .current_dir(d)
            .arg(common::testdata("ligand_pocket/model.cif"))
            .arg(common::testdata("ligand_pocket/map.mrc"))
            .args(["resolution=3.2", "output=diff.ccp4", "json=report.json", "pictures=0", "--quiet"])
            .arg(format!("model_scores={name}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
        let mean_of = |chain: &str, number: i64| -> f64 {
            let r = report["residues"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["chain"] == chain && r["residue_number"] == number)
                .unwrap();
            r["mean"].as_f64().unwrap_or(0.0)
        };
        let dump = Command::new(&python).arg(&script).arg("dump").arg(d.join(name)).output().unwrap();
        assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
        let line: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&dump.stdout).lines().next().unwrap()).unwrap();
        let atoms = line["atoms"].as_array().unwrap();
        let original = real_space_diff_map::io::model::read_model(common::testdata("ligand_pocket/model.cif")).unwrap();
        assert_eq!(atoms.len(), original.atoms.len(), "{name}: every atom");
        let mut different = 0;
        for (row, atom) in atoms.iter().zip(&original.atoms) {
            let chain = row[0].as_str().unwrap();
            let number = row[2].as_i64().unwrap();
            assert_eq!(original.residues[atom.residue].chain, chain, "{name}");
            for k in 0..3 {
                assert!((row[7 + k].as_f64().unwrap() - atom.position[k]).abs() < 1e-3, "{name}: coordinates kept");
            }
            let b = row[11].as_f64().unwrap();
            assert!(
                (b - mean_of(chain, number)).abs() < 0.006,
                "{name}: B {b} vs the residue's mean {}",
                mean_of(chain, number)
            );
            different += usize::from((b - atom.b_iso).abs() > 1.0);
        }
        assert!(different > atoms.len() / 2, "{name}: the B column was replaced");
        let cxc = std::fs::read_to_string(d.join("diff_chimerax.cxc")).unwrap();
        assert!(cxc.contains(&format!("{name}\"")) && cxc.contains("color byattribute bfactor #4"), "{cxc}");
        if name.ends_with(".cif") {
            let text = std::fs::read_to_string(d.join(name)).unwrap();
            assert!(text.contains("_rsdm_residue_score.q_value") && text.contains("_rsdm_residue_score.mean"));
        }
    }
}

/// NCS operators and assemblies read as gemmi reads them, from a PDB file made from a testdata
/// model (a C3 ring about z: MTRIX with the identity given and two copies to generate, and a
/// BIOMT assembly of the three) and from gemmi's own mmCIF writing of it (_struct_ncs_oper,
/// _pdbx_struct_oper_list, _pdbx_struct_assembly_gen). A run on the one-copy file says how many
/// copies it lacks.
pub fn declared_symmetry_reads_as_gemmi_reads_it() {
    let Some(python) = common::python_with_gemmi("declared_symmetry_reads_as_gemmi_reads_it") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (c, s) = (-0.5f64, 3f64.sqrt() / 2.0);
    let centre = [60.0, 70.0, 0.0];
    let mut header = String::new();
    for (serial, (cos, sin), given) in [(1, (1.0, 0.0), true), (2, (c, s), false), (3, (c, -s), false)] {
        let rotation = [[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]];
        // About the centre: t = c - R c.
        let t: Vec<f64> = (0..3).map(|i| centre[i] - (0..3).map(|j| rotation[i][j] * centre[j]).sum::<f64>()).collect();
        for row in 0..3 {
            let [a, b, cc] = rotation[row];
            header.push_str(&format!(
                "MTRIX{}{serial:>4}{a:>10.6}{b:>10.6}{cc:>10.6}{:>15.5}    {}\n",
                row + 1,
                t[row],
                if given { "1" } else { " " }
            ));
        }
    }
    header.push_str("REMARK 350 BIOMOLECULE: 1\nREMARK 350 APPLY THE FOLLOWING TO CHAINS: A\n");
    for (serial, (cos, sin)) in [(1, (1.0, 0.0)), (2, (c, s)), (3, (c, -s))] {
        let rotation = [[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]];
        let t: Vec<f64> = (0..3).map(|i| centre[i] - (0..3).map(|j| rotation[i][j] * centre[j]).sum::<f64>()).collect();
        for row in 0..3 {
            let [a, b, cc] = rotation[row];
            header.push_str(&format!(
                "REMARK 350   BIOMT{}{serial:>4}{a:>10.6}{b:>10.6}{cc:>10.6}{:>15.5}\n",
                row + 1,
                t[row]
            ));
        }
    }
    let atoms: String = std::fs::read_to_string(common::testdata("ligand_pocket/model.pdb"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("ATOM") || l.starts_with("CRYST1"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("ring.pdb"), format!("{header}{atoms}END\n")).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/gemmi_model.py");
    let convert = Command::new(&python)
        .arg(&script)
        .arg("convert")
        .arg(d.join("ring.pdb"))
        .arg(d.join("ring.cif"))
        .arg(d.join("again.pdb"))
        .output()
        .unwrap();
    assert!(convert.status.success(), "{}", String::from_utf8_lossy(&convert.stderr));
    for name in ["ring.pdb", "ring.cif", "again.pdb"] {
        let out = Command::new(&python).arg(&script).arg("symmetry").arg(d.join(name)).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let gemmi: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
        let ours = real_space_diff_map::io::model::read_model(d.join(name)).unwrap().symmetry;
        let theirs = gemmi["ncs"].as_array().unwrap();
        // gemmi keeps no identity operator (the copy in the file); we read it and skip it.
        let moving: Vec<_> = ours.ncs.iter().filter(|o| !o.operator.is_identity()).collect();
        assert_eq!(moving.len(), theirs.len(), "{name}: NCS operators {:?} vs gemmi {theirs:?}", ours.ncs);
        for (op, g) in moving.into_iter().zip(theirs) {
            assert_eq!(op.given, g["given"].as_bool().unwrap(), "{name}: operator {}", op.operator.id);
            for i in 0..3 {
                assert!((op.operator.translation[i] - g["translation"][i].as_f64().unwrap()).abs() < 1e-4, "{name}");
                for j in 0..3 {
                    assert!(
                        (op.operator.rotation[i][j] - g["rotation"][i][j].as_f64().unwrap()).abs() < 1e-6,
                        "{name}"
                    );
                }
            }
        }
        let copies: Vec<(String, usize)> = ours.assemblies.iter().map(|a| (a.id.clone(), a.copies())).collect();
        let gemmi_copies: Vec<(String, usize)> = gemmi["assemblies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["id"].as_str().unwrap().to_string(), a["copies"].as_u64().unwrap() as usize))
            .collect();
        assert_eq!(copies, gemmi_copies, "{name}: assemblies");
        assert_eq!(ours.ncs_copies_to_generate(), 2, "{name}");
        assert!(ours.problems.is_empty() && ours.ncs_problems.is_empty(), "{name}: {:?}", ours.problems);
    }
    // The run says what the file lacks.
    let out = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .arg("ring.cif")
        .arg(common::testdata("ligand_pocket/map.mrc"))
        .args(["resolution=3.2", "output=diff.ccp4", "pictures=0", "viewer=false"])
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    // NCS copies are made by default; the assembly is named with the option that builds it.
    assert!(said.contains("3 copies of the model made by the 2 NCS operators"), "{said}");
    assert!(said.contains("assembly 1 of 3 copies") && said.contains("give assembly=1"), "{said}");
}

/// Residues without the mmCIF-only label_asym_id, for comparing PDB and mmCIF reads.
fn without_subchains(
    residues: &[real_space_diff_map::io::model::Residue],
) -> Vec<real_space_diff_map::io::model::Residue> {
    residues.iter().map(|r| real_space_diff_map::io::model::Residue { subchain: String::new(), ..r.clone() }).collect()
}
