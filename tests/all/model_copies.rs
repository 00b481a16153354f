//! Copies of a model (issue 31): NCS operators, assemblies and point groups made as gemmi makes
//! them (`Structure.expand_ncs`, `make_assembly`), checked atom by atom on files built from the
//! testdata pocket model: a C3 ring (MTRIX with a given identity, REMARK 350 BIOMT), a D5 made
//! by an mmCIF product expression `(1-5)(6-7)` and written out in PDB (MTRIX and BIOMT), a
//! 60-copy icosahedral shell (BIOMT, and gemmi's own mmCIF of it), a D2 whose copies land on
//! the file's own 3-decimal grid (so the one-copy file and gemmi's expanded file must give the
//! same map); then the run on a shell with a ligand removed from every copy, the warnings, the
//! records that must be refused by name, and the worked example of docs/symmetry.md
//! (testdata/symmetric: its output and its glycans).

use crate::common;
use real_space_diff_map::io::model::copies::{CopyRequest, expand};
use real_space_diff_map::io::model::point_group::PointGroup;
use real_space_diff_map::io::model::symmetry::Operator;
use real_space_diff_map::io::model::{Model, read_model};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn gemmi_tool() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/gemmi_model.py")
}

/// The pocket model's ATOM/HETATM lines, moved so that their centroid is at `centroid`.
fn pocket_atoms(centroid: Option<[f64; 3]>) -> String {
    let text = std::fs::read_to_string(common::testdata("ligand_pocket/model.pdb")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("ATOM") || l.starts_with("HETATM")).collect();
    let xyz = |l: &str| -> [f64; 3] { [30..38, 38..46, 46..54].map(|r| l[r].trim().parse::<f64>().unwrap()) };
    let mut mean = [0.0; 3];
    for l in &lines {
        let p = xyz(l);
        (0..3).for_each(|k| mean[k] += p[k] / lines.len() as f64);
    }
    // Whole Å shifts keep the coordinates' three decimals exact.
    let shift = centroid.map_or([0.0; 3], |c| [0, 1, 2].map(|k| (c[k] - mean[k]).round()));
    lines
        .iter()
        .map(|l| {
            let p = xyz(l);
            format!("{}{:8.3}{:8.3}{:8.3}{}\n", &l[..30], p[0] + shift[0], p[1] + shift[1], p[2] + shift[2], &l[54..])
        })
        .collect()
}

/// MTRIX records (`given` marks iGiven) or REMARK 350 BIOMT records of `operators`.
fn records(kind: &str, operators: &[Operator], given: &[bool], chains: &str) -> String {
    let mut text = String::new();
    if kind == "BIOMT" {
        text.push_str(&format!("REMARK 350 BIOMOLECULE: 1\nREMARK 350 APPLY THE FOLLOWING TO CHAINS: {chains}\n"));
    }
    for (n, op) in operators.iter().enumerate() {
        for row in 0..3 {
            let [a, b, c] = op.rotation[row];
            let t = op.translation[row];
            let serial = n + 1;
            if kind == "BIOMT" {
                text.push_str(&format!(
                    "REMARK 350   BIOMT{}{serial:>4}{a:>10.6}{b:>10.6}{c:>10.6}{t:>15.5}\n",
                    row + 1
                ));
            } else {
                let flag = if given.get(n).copied().unwrap_or(false) { "1" } else { " " };
                text.push_str(&format!("MTRIX{}{serial:>4}{a:>10.6}{b:>10.6}{c:>10.6}{t:>15.5}    {flag}\n", row + 1));
            }
        }
    }
    text
}

fn chains_of(atoms: &str) -> String {
    let mut chains: Vec<String> = Vec::new();
    for l in atoms.lines() {
        let c = l[20..22].trim().to_string();
        if !chains.contains(&c) {
            chains.push(c);
        }
    }
    chains.join(", ")
}

fn python_json(python: &Path, args: &[&std::ffi::OsStr]) -> Value {
    let out = Command::new(python).arg(gemmi_tool()).args(args).output().unwrap();
    assert!(out.status.success(), "gemmi_model.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// gemmi's atoms of `file` after `expand_ncs` (`what` = "ncs") or `make_assembly(what)`.
fn gemmi_expanded(python: &Path, file: &Path, what: &str, out: Option<&Path>) -> Vec<Value> {
    let mut args = vec![std::ffi::OsStr::new("expand"), file.as_os_str(), std::ffi::OsStr::new(what)];
    if let Some(out) = out {
        args.push(out.as_os_str());
    }
    python_json(python, &args)["atoms"].as_array().unwrap().clone()
}

fn ours(file: &Path, request: &CopyRequest, centre: [f64; 3]) -> Model {
    let model = read_model(file).unwrap();
    let (copied, _) = expand(&model, request, centre, file).unwrap();
    copied.unwrap_or_else(|| panic!("{}: no copies made", file.display()))
}

/// Every atom of `model` has one of gemmi's at 1e-3 Å with the same input chain, residue and
/// name, and the counts agree.
fn assert_same_atoms(what: &str, model: &Model, gemmi: &[Value]) {
    assert_eq!(model.atoms.len(), gemmi.len(), "{what}: atoms");
    let copies = model.copies.as_ref().unwrap();
    type Key = (String, String, i64, String, String);
    let mut theirs: HashMap<Key, Vec<([f64; 3], bool)>> = HashMap::new();
    for a in gemmi {
        let key = (
            a[0].as_str().unwrap().to_string(),
            a[1].as_str().unwrap().to_string(),
            a[2].as_i64().unwrap(),
            a[4].as_str().unwrap().to_string(),
            a[5].as_str().unwrap().to_string(),
        );
        theirs.entry(key).or_default().push(([7, 8, 9].map(|i| a[i].as_f64().unwrap()), false));
    }
    let mut worst = 0.0f64;
    for atom in &model.atoms {
        let input = &copies.input_residues[copies.residue_input[atom.residue] as usize];
        let key = (
            input.chain.clone(),
            input.name.clone(),
            input.number as i64,
            atom.name.clone(),
            atom.alt_loc.clone().unwrap_or_default(),
        );
        let candidates = theirs.get_mut(&key).unwrap_or_else(|| panic!("{what}: gemmi has no atom {key:?}"));
        let (best, distance) = candidates
            .iter()
            .enumerate()
            .filter(|(_, (_, used))| !used)
            .map(|(i, (p, _))| (i, (0..3).map(|k| (p[k] - atom.position[k]).powi(2)).sum::<f64>().sqrt()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or_else(|| panic!("{what}: more copies of {key:?} than gemmi makes"));
        candidates[best].1 = true;
        worst = worst.max(distance);
    }
    assert!(worst <= 1e-3, "{what}: an atom is {worst:.2e} Å from gemmi's");
    eprintln!(
        "{what}: {} atoms, {} copies, largest distance to gemmi's {worst:.1e} Å",
        model.atoms.len(),
        copies.count()
    );
}

fn about_z(degrees: f64) -> [[f64; 3]; 3] {
    let (s, c) = degrees.to_radians().sin_cos();
    [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
}

fn written(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A hand-written mmCIF of `atoms` (PDB lines) with `_pdbx_struct_oper_list` and one assembly
/// made by `expression`, each residue its own `label_asym_id` per chain.
fn mmcif_with_assembly(atoms: &str, operators: &[Operator], expression: &str) -> String {
    let mut text = String::from(
        "data_copies\n_exptl.method 'ELECTRON MICROSCOPY'\nloop_\n_atom_site.group_PDB\n_atom_site.id\n\
         _atom_site.type_symbol\n_atom_site.label_atom_id\n_atom_site.label_alt_id\n_atom_site.label_comp_id\n\
         _atom_site.label_asym_id\n_atom_site.label_seq_id\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n\
         _atom_site.Cartn_z\n_atom_site.occupancy\n_atom_site.B_iso_or_equiv\n_atom_site.auth_seq_id\n\
         _atom_site.auth_asym_id\n_atom_site.pdbx_PDB_model_num\n",
    );
    let mut asyms: Vec<String> = Vec::new();
    for (i, l) in atoms.lines().enumerate() {
        let chain = l[20..22].trim();
        let asym = format!("{chain}{}", if l.starts_with("HETATM") { "h" } else { "" });
        if !asyms.contains(&asym) {
            asyms.push(asym.clone());
        }
        let element = l.get(76..78).map(str::trim).unwrap_or("C");
        text.push_str(&format!(
            "{} {} {element} {} . {} {asym} . {} {} {} {} {} {} {chain} 1\n",
            l[..6].trim(),
            i + 1,
            l[12..16].trim(),
            l[17..20].trim(),
            l[30..38].trim(),
            l[38..46].trim(),
            l[46..54].trim(),
            l[54..60].trim(),
            l[60..66].trim(),
            l[22..26].trim(),
        ));
    }
    text.push_str("loop_\n_pdbx_struct_oper_list.id\n_pdbx_struct_oper_list.type\n");
    for i in 1..=3 {
        for j in 1..=3 {
            text.push_str(&format!("_pdbx_struct_oper_list.matrix[{i}][{j}]\n"));
        }
    }
    for i in 1..=3 {
        text.push_str(&format!("_pdbx_struct_oper_list.vector[{i}]\n"));
    }
    for op in operators {
        let r = op.rotation;
        let t = op.translation;
        text.push_str(&format!("{} 'point symmetry operation'", op.id));
        for row in r {
            for v in row {
                text.push_str(&format!(" {v:.6}"));
            }
        }
        text.push_str(&format!(" {:.5} {:.5} {:.5}\n", t[0], t[1], t[2]));
    }
    // gemmi reads an assembly only with these five columns, and only with a details value it
    // knows (the archive's `author_defined_assembly` and kin).
    text.push_str(
        "loop_\n_pdbx_struct_assembly.id\n_pdbx_struct_assembly.details\n_pdbx_struct_assembly.method_details\n\
         _pdbx_struct_assembly.oligomeric_details\n_pdbx_struct_assembly.oligomeric_count\n1 author_defined_assembly ? ? ?\n",
    );
    text.push_str(&format!(
        "loop_\n_pdbx_struct_assembly_gen.assembly_id\n_pdbx_struct_assembly_gen.oper_expression\n\
         _pdbx_struct_assembly_gen.asym_id_list\n1 '{expression}' {}\n",
        asyms.join(",")
    ));
    text
}

pub fn ncs_copies_and_assemblies_are_made_as_gemmi_makes_them() {
    let Some(python) = common::python_with_gemmi("ncs_copies_and_assemblies_are_made_as_gemmi_makes_them") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let atoms = pocket_atoms(None);
    let chains = chains_of(&atoms);
    let centre = [60.0, 70.0, 0.0];
    // C3 ring: the identity given, two copies to generate; the same three as assembly 1.
    let ring: Vec<Operator> = [0.0, 120.0, 240.0]
        .iter()
        .enumerate()
        .map(|(i, a)| Operator::about((i + 1).to_string(), about_z(*a), centre))
        .collect();
    let text = format!("{}{}{atoms}END\n", records("MTRIX", &ring, &[true], ""), records("BIOMT", &ring, &[], &chains));
    let ring_pdb = written(d, "ring.pdb", &text);
    let convert = Command::new(&python)
        .arg(gemmi_tool())
        .args([
            "convert".as_ref(),
            ring_pdb.as_os_str(),
            d.join("ring.cif").as_os_str(),
            d.join("again.pdb").as_os_str(),
        ])
        .output()
        .unwrap();
    assert!(convert.status.success(), "{}", String::from_utf8_lossy(&convert.stderr));
    for name in ["ring.pdb", "ring.cif", "again.pdb"] {
        let file = d.join(name);
        let model = ours(&file, &CopyRequest::default(), [0.0; 3]);
        assert_eq!(model.copies.as_ref().unwrap().count(), 3, "{name}");
        assert_same_atoms(&format!("{name} NCS"), &model, &gemmi_expanded(&python, &file, "ncs", None));
        let request = CopyRequest { assembly: Some("1".into()), ..CopyRequest::default() };
        let model = ours(&file, &request, [0.0; 3]);
        assert_same_atoms(&format!("{name} assembly 1"), &model, &gemmi_expanded(&python, &file, "1", None));
        // Copied chains: CHAIN-OPERATOR, unique; the identity copy keeps the input's names.
        let names: std::collections::BTreeSet<&str> = model.residues.iter().map(|r| r.chain.as_str()).collect();
        assert!(names.contains("AN") && names.contains("AN-2") && names.contains("BM-3"), "{name}: {names:?}");
    }

    // D5 from an mmCIF product: (1-5) the C5 about z, (6-7) the identity and a 2-fold about x.
    let mut d5: Vec<Operator> =
        (0..5).map(|i| Operator::about((i + 1).to_string(), about_z(72.0 * i as f64), [60.0, 75.0, 70.0])).collect();
    d5.push(Operator::identity("6"));
    d5.push(Operator::about("7", [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]], [60.0, 75.0, 70.0]));
    let product = written(d, "d5.cif", &mmcif_with_assembly(&atoms, &d5, "(1-5)(6-7)"));
    let request = CopyRequest { assembly: Some("1".into()), ..CopyRequest::default() };
    let model = ours(&product, &request, [0.0; 3]);
    assert_eq!(model.copies.as_ref().unwrap().count(), 10);
    assert!(model.residues.iter().any(|r| r.chain == "AN-3x7"), "product copies are named by both operators");
    assert_same_atoms("d5.cif (1-5)(6-7)", &model, &gemmi_expanded(&python, &product, "1", None));
    // The same D5 in a PDB file, its ten operators written out: as MTRIX (the identity given)
    // and as REMARK 350 BIOMT.
    let d5_all: Vec<Operator> = (0..5)
        .flat_map(|a| [5, 6].map(|b| (a, b)))
        .enumerate()
        .map(|(n, (a, b))| Operator { id: (n + 1).to_string(), ..d5[a].after(&d5[b]) })
        .collect();
    let given: Vec<bool> = d5_all.iter().map(Operator::is_identity).collect();
    let d5_pdb = written(
        d,
        "d5.pdb",
        &format!("{}{}{atoms}END\n", records("MTRIX", &d5_all, &given, ""), records("BIOMT", &d5_all, &[], &chains)),
    );
    let model = ours(&d5_pdb, &CopyRequest::default(), [0.0; 3]);
    assert_eq!(model.copies.as_ref().unwrap().count(), 10);
    assert_same_atoms("d5.pdb NCS", &model, &gemmi_expanded(&python, &d5_pdb, "ncs", None));
    let model = ours(&d5_pdb, &request, [0.0; 3]);
    assert_same_atoms("d5.pdb assembly 1", &model, &gemmi_expanded(&python, &d5_pdb, "1", None));

    // A 60-copy icosahedral shell (I2 about (125, 125, 125), the unit 90 Å from the centre).
    let shell_centre = [125.0, 125.0, 125.0];
    let shell_atoms = pocket_atoms(Some([125.0, 125.0, 215.0]));
    let icosahedral = PointGroup::Icosahedral(2).operators(shell_centre);
    let shell_pdb = written(
        d,
        "shell.pdb",
        &format!("{}{shell_atoms}END\n", records("BIOMT", &icosahedral, &[], &chains_of(&shell_atoms))),
    );
    let convert = Command::new(&python)
        .arg(gemmi_tool())
        .args([
            "convert".as_ref(),
            shell_pdb.as_os_str(),
            d.join("shell.cif").as_os_str(),
            d.join("shell2.pdb").as_os_str(),
        ])
        .output()
        .unwrap();
    assert!(convert.status.success(), "{}", String::from_utf8_lossy(&convert.stderr));
    let mut shells = Vec::new();
    for name in ["shell.pdb", "shell.cif"] {
        let file = d.join(name);
        let model = ours(&file, &request, [0.0; 3]);
        assert_eq!(model.copies.as_ref().unwrap().count(), 60);
        assert_same_atoms(
            &format!("{name} assembly 1 (60 copies)"),
            &model,
            &gemmi_expanded(&python, &file, "1", None),
        );
        shells.push(model);
    }
    // symmetry=I on the file without operators makes the same shell.
    let bare = written(d, "bare.pdb", &format!("{shell_atoms}END\n"));
    let symmetric = ours(
        &bare,
        &CopyRequest { symmetry: Some(PointGroup::Icosahedral(2)), ..CopyRequest::default() },
        shell_centre,
    );
    assert_eq!(symmetric.atoms.len(), shells[0].atoms.len());
    for (a, b) in symmetric.atoms.iter().zip(&shells[0].atoms) {
        let d: f64 = (0..3).map(|k| (a.position[k] - b.position[k]).powi(2)).sum::<f64>().sqrt();
        assert!(d < 1e-3, "symmetry=I and the BIOMT shell differ by {d} Å");
    }
}

/// With servalcat in the reference venv (`../shared/tools/reference/setup.sh`), our point groups
/// are servalcat's (`--pg`, RELION's orientations) as sets of rotations.
pub fn point_groups_are_servalcats() {
    let venv = std::env::var_os("REFERENCE_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/real_space_diff_map-reference")
    });
    let python = venv.join("bin/python");
    let probe = Command::new(&python).args(["-c", "import servalcat.utils.symmetry"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "SKIPPED point_groups_are_servalcats: no servalcat at {} (../shared/tools/reference/setup.sh installs it)",
            venv.display()
        );
        return;
    }
    let groups = ["C1", "C7", "D2", "D6", "T", "O", "I", "I1", "I2", "I3", "I4"];
    let script = format!(
        "import json\nfrom servalcat.utils import symmetry\nout = {{}}\nfor g in {groups:?}:\n    \
         out[g] = [m.tolist() for m in symmetry.operators_from_symbol(g)[2]]\nprint(json.dumps(out))\n"
    );
    let out = Command::new(&python).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in groups {
        let group: PointGroup = name.parse().unwrap();
        let ours = group.operators([0.0; 3]);
        let matrices = theirs[name].as_array().unwrap();
        assert_eq!(ours.len(), matrices.len(), "{name}: group order");
        for m in matrices {
            let r: Vec<Vec<f64>> = serde_json::from_value(m.clone()).unwrap();
            let closest = ours
                .iter()
                .map(|o| {
                    (0..3)
                        .flat_map(|i| (0..3).map(move |j| (i, j)))
                        .map(|(i, j)| (o.rotation[i][j] - r[i][j]).abs())
                        .fold(0.0, f64::max)
                })
                .fold(f64::INFINITY, f64::min);
            // servalcat writes RELION's axes to five decimals.
            assert!(closest < 1e-4, "{name}: servalcat's rotation {r:?} is {closest:.1e} from ours");
        }
    }
}

/// A one-copy file with the MTRIX of a D2, gemmi's expansion of it written as PDB, and a map
/// of the expansion: (one-copy file, expanded file, map).
fn d2_files(dir: &Path, python: &Path) -> (PathBuf, PathBuf, PathBuf) {
    // A D2 about a whole-Å centre: its rotations move 3-decimal coordinates onto 3-decimal
    // coordinates, so gemmi's written expansion holds exactly the atoms we make.
    let centre = [62.0, 76.0, 73.0];
    let flips = [[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]];
    let d2: Vec<Operator> = flips
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Operator::about((i + 1).to_string(), [[f[0], 0.0, 0.0], [0.0, f[1], 0.0], [0.0, 0.0, f[2]]], centre)
        })
        .collect();
    let atoms = pocket_atoms(None);
    let one = written(
        dir,
        "d2.pdb",
        &format!(
            "CRYST1  126.000  126.000  126.000  90.00  90.00  90.00 P 1\n{}{atoms}END\n",
            records("MTRIX", &d2, &[true], "")
        ),
    );
    let expanded = dir.join("d2_expanded.pdb");
    gemmi_expanded(python, &one, "ncs", Some(&expanded));
    let map = dir.join("d2_map.mrc");
    let status = Command::new(python)
        .arg(gemmi_tool())
        .args(["simulate".as_ref(), expanded.as_os_str(), map.as_os_str()])
        .args(["4.0", "126", "1.4", "0.1", "7"])
        .status()
        .unwrap();
    assert!(status.success());
    (one, expanded, map)
}

fn run(dir: &Path, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map")).current_dir(dir).args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

pub fn a_one_copy_file_gives_the_map_of_its_expanded_file() {
    let Some(python) = common::python_with_gemmi("a_one_copy_file_gives_the_map_of_its_expanded_file") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (one, expanded, map) = d2_files(d, &python);
    let (ok, said) = run(
        d,
        &[
            one.as_os_str(),
            map.as_os_str(),
            "resolution=4".as_ref(),
            "output=one.ccp4".as_ref(),
            "json=one.json".as_ref(),
            "pictures=0".as_ref(),
            "viewer=false".as_ref(),
        ],
    );
    assert!(ok, "{said}");
    assert!(said.contains("4 copies of the model made by the 3 NCS operators"), "{said}");
    let (ok, said) = run(
        d,
        &[
            expanded.as_os_str(),
            map.as_os_str(),
            "resolution=4".as_ref(),
            "output=expanded.ccp4".as_ref(),
            "json=expanded.json".as_ref(),
            "pictures=0".as_ref(),
            "viewer=false".as_ref(),
        ],
    );
    assert!(ok, "{said}");
    assert!(!said.contains("copies of the model made"), "gemmi's expanded file declares nothing more: {said}");
    let a = real_space_diff_map::io::ccp4::read_map(d.join("one.ccp4")).unwrap().map;
    let b = real_space_diff_map::io::ccp4::read_map(d.join("expanded.ccp4")).unwrap().map;
    let worst = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    // The maps are in sigma units: the difference is in sd.
    assert!(worst <= 1e-4, "one-copy file vs expanded file: max difference {worst:.2e} sd");
    eprintln!("one-copy file vs gemmi's expanded file: max difference {worst:.1e} sd over {} voxels", a.data.len());
    let report: Value = serde_json::from_slice(&std::fs::read(d.join("one.json")).unwrap()).unwrap();
    assert_eq!(report["model"]["copies"]["count"], 4);
    assert_eq!(report["model"]["copies"]["input_atoms"], 1227);
    assert_eq!(report["input_residues"].as_array().unwrap().len(), read_model(&one).unwrap().residues.len());
}

pub fn a_residue_missing_from_every_copy_is_one_peak_seen_in_all() {
    let Some(python) = common::python_with_gemmi("a_residue_missing_from_every_copy_is_one_peak_seen_in_all") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The shell's map from all 60 copies of the full unit; the model lacks the unit's TYR 24
    // of chain AN in every copy.
    let centre = [120.0, 120.0, 120.0];
    let unit = pocket_atoms(Some([120.0, 120.0, 205.0]));
    let operators = PointGroup::Icosahedral(2).operators(centre);
    let full = written(d, "full.pdb", &format!("{}{unit}END\n", records("BIOMT", &operators, &[], &chains_of(&unit))));
    let full_shell = d.join("full_shell.pdb");
    gemmi_expanded(&python, &full, "1", Some(&full_shell));
    let map = d.join("shell.mrc");
    let status = Command::new(&python)
        .arg(gemmi_tool())
        .args(["simulate".as_ref(), full_shell.as_os_str(), map.as_os_str()])
        .args(["5.0", "240", "2.0", "0.05", "11"])
        .status()
        .unwrap();
    assert!(status.success());
    let removed = |l: &str| &l[17..20] == "TYR" && &l[20..22] == "AN" && l[22..26].trim() == "24";
    let kept: String = unit.lines().filter(|l| !removed(l)).map(|l| format!("{l}\n")).collect();
    let bare = written(d, "unit.pdb", &format!("{kept}END\n"));
    let args = |extra: &[&str]| {
        let mut v: Vec<std::ffi::OsString> =
            vec![bare.clone().into(), map.clone().into(), "resolution=5".into(), "pictures=0".into()];
        v.extend(extra.iter().map(std::ffi::OsString::from));
        v
    };
    // One copy, nothing declared: the run says how much of the map it explains and what to give.
    let plain = args(&["output=plain.ccp4", "viewer=false"]);
    let (ok, said) = run(d, &plain.iter().map(|s| s.as_os_str()).collect::<Vec<_>>());
    assert!(ok, "{said}");
    assert!(said.contains("of the map's strong density") && said.contains("symmetry=Cn"), "{said}");
    // With its point group: 60 copies, and the missing tyrosine one peak seen in (nearly) all.
    let symmetric = args(&["symmetry=I", "output=sym.ccp4", "json=sym.json", "csv=sym", "model_scores=scores.pdb"]);
    let (ok, said) = run(d, &symmetric.iter().map(|s| s.as_os_str()).collect::<Vec<_>>());
    assert!(ok, "{said}");
    assert!(said.contains("60 copies of the model made by the point group I2"), "{said}");
    assert!(!said.contains("of the map's strong density"), "the shell explains the map: {said}");
    let report: Value = serde_json::from_slice(&std::fs::read(d.join("sym.json")).unwrap()).unwrap();
    let top = &report["peaks"][0];
    let copies = top["copies"].as_u64().unwrap_or(1);
    assert!(top["height"].as_f64().unwrap() > 0.0 && copies >= 55, "the top peak is seen in {copies} copies: {top}");
    let positions: Vec<[f64; 3]> =
        top["copy_positions"].as_array().unwrap().iter().map(|x| [0, 1, 2].map(|k| x[k].as_f64().unwrap())).collect();
    assert_eq!(positions.len() as u64, copies);
    // Each listed position lies on a copy of the tyrosine, each on a different one.
    let truth = read_model(&full_shell).unwrap();
    let tyrosines: Vec<&real_space_diff_map::io::model::Atom> = truth
        .atoms
        .iter()
        .filter(|a| {
            let r = truth.residue_of(a);
            r.name == "TYR" && r.number == 24 && r.chain == "AN"
        })
        .collect();
    assert_eq!(tyrosines.len(), 60 * 12);
    let mut copies_hit = std::collections::BTreeSet::new();
    for p in &positions {
        let (nearest, distance) = tyrosines
            .iter()
            .enumerate()
            .map(|(i, a)| (i / 12, (0..3).map(|k| (a.position[k] - p[k]).powi(2)).sum::<f64>().sqrt()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(distance < 2.5, "a listed position is {distance:.1} Å from every tyrosine");
        copies_hit.insert(nearest);
    }
    assert_eq!(copies_hit.len() as u64, copies, "two positions on one copy");
    // Residues: every copy's, and the input's with their mean.
    let input = report["input_residues"].as_array().unwrap();
    let unit_model = read_model(&bare).unwrap();
    assert_eq!(input.len(), unit_model.residues.len());
    assert!(input.iter().all(|r| r["copies"].as_u64() == Some(60)), "every residue is in the box in all 60 copies");
    assert_eq!(report["residues"].as_array().unwrap().len(), 60 * unit_model.residues.len());
    let scored = read_model(d.join("scores.pdb")).unwrap();
    assert_eq!(scored.atoms.len(), unit_model.atoms.len(), "model_scores= writes the input's atoms");
    let csv = std::fs::read_to_string(d.join("sym_peaks.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "copies").expect("a copies column");
    let first: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(first[column], copies.to_string());
    eprintln!("the missing tyrosine: one peak of {:.1} sigma seen in {copies} of 60 copies", top["height"]);
}

pub fn symmetry_records_that_cannot_be_used_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let atoms = pocket_atoms(None);
    let map = common::testdata("ligand_pocket/map.mrc");
    let run_on = |name: &str, text: &str, extra: &[&str]| {
        let file = written(d, name, text);
        let mut args: Vec<std::ffi::OsString> =
            vec![file.into(), map.clone().into(), "resolution=3.2".into(), "output=out.ccp4".into()];
        args.extend(extra.iter().map(std::ffi::OsString::from));
        let out = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map")).current_dir(d).args(&args).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!d.join("out.ccp4").exists(), "{name}: wrote an output");
        (out.status.code(), said)
    };
    let ops = [Operator::identity("1"), Operator::about("2", about_z(90.0), [60.0, 70.0, 70.0])];
    // An MTRIX that is not a rotation: the NCS copies are made by default, so the run stops.
    let scaled = records("MTRIX", &ops, &[true], "").replace("MTRIX1   2  0.000000", "MTRIX1   2  0.500000");
    let (code, said) = run_on("scaled.pdb", &format!("{scaled}{atoms}END\n"), &[]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("scaled.pdb") && said.contains("MTRIX 2 is not a rotation") && said.contains("ncs=false"),
        "{said}"
    );
    // ... and ncs=false runs on the atoms as written.
    let file = written(d, "scaled.pdb", &format!("{scaled}{atoms}END\n"));
    let out = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args([
            file.as_os_str(),
            map.as_os_str(),
            "resolution=3.2".as_ref(),
            "output=ok.ccp4".as_ref(),
            "ncs=false".as_ref(),
            "pictures=0".as_ref(),
            "viewer=false".as_ref(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A mirror in an assembly: refused when that assembly is asked for, by its record.
    let mirror = records("BIOMT", &ops, &[], &chains_of(&atoms))
        .replace("BIOMT3   2  0.000000  0.000000  1.000000", "BIOMT3   2  0.000000  0.000000 -1.000000");
    let (code, said) = run_on("mirror.pdb", &format!("{mirror}{atoms}END\n"), &["assembly=1"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("mirror.pdb") && said.contains("REMARK 350 BIOMT 2 is not a rotation (its determinant is -1"),
        "{said}"
    );
    // An assembly that is not declared names those that are.
    let (code, said) = run_on("mirror2.pdb", &format!("{mirror}{atoms}END\n"), &["assembly=7"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("assembly=7: the model file declares assemblies 1"), "{said}");
    // mmCIF: an expression naming a missing operator, and one of 10^6 copies.
    let missing = mmcif_with_assembly(&atoms, &ops, "(1-3)");
    let (code, said) = run_on("missing.cif", &missing, &["assembly=1"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("'(1-3)' names operator 3, which _pdbx_struct_oper_list does not hold"), "{said}");
    let huge = mmcif_with_assembly(&atoms, &ops, "(1-1000)(1-1000)");
    let clock = std::time::Instant::now();
    let (code, said) = run_on("huge.cif", &huge, &["assembly=1"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("huge.cif") && said.contains("makes more than 10000 copies"), "{said}");
    assert!(clock.elapsed().as_secs() < 30, "refused before anything was made");
    // Two ways at once, and a point group that does not exist.
    let plain = written(d, "plain.pdb", &format!("{atoms}END\n"));
    for (words, expected) in [
        (&["assembly=1", "symmetry=C2"][..], "give one"),
        (&["symmetry=C0"][..], "symmetry=C0 is not a point group"),
        (&["symmetry=I7"][..], "I1, I2, I3 and I4"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
            .current_dir(d)
            .arg(&plain)
            .arg(&map)
            .args(["resolution=3.2", "output=out.ccp4"])
            .args(words)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{words:?}: {said}");
        assert!(said.contains(expected), "{words:?}: {said}");
    }
}

/// The shell commands of docs/symmetry.md with the output block that follows each: (words after
/// the program name, lines the output must hold).
fn documented_runs() -> Vec<(Vec<String>, Vec<String>)> {
    let page = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/symmetry.md")).unwrap();
    let mut runs = Vec::new();
    let mut blocks = page.split("```").skip(1).step_by(2);
    while let Some(block) = blocks.next() {
        let Some(command) = block.strip_prefix("sh\n") else { continue };
        let words: Vec<String> = command.replace("\\\n", " ").split_whitespace().skip(1).map(String::from).collect();
        let shown = blocks.next().and_then(|b| b.strip_prefix("text\n")).unwrap_or_default();
        let lines = shown.lines().filter(|l| l.trim() != "...").map(|l| l.trim_end().to_string()).collect();
        runs.push((words, lines));
    }
    runs
}

pub fn the_symmetric_example_prints_what_docs_symmetry_shows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("testdata")).unwrap();
    std::os::unix::fs::symlink(common::testdata("symmetric"), d.join("testdata/symmetric")).unwrap();
    let runs = documented_runs();
    assert_eq!(runs.len(), 2, "the page's two runs");
    for (words, shown) in &runs {
        let args: Vec<&std::ffi::OsStr> = words.iter().map(std::ffi::OsStr::new).collect();
        let (ok, said) = run(d, &args);
        assert!(ok, "{said}");
        for line in shown {
            assert!(
                said.lines().any(|l| l.trim_end() == line),
                "docs/symmetry.md shows\n{line}\nthe run printed\n{said}"
            );
        }
    }
    // What the page says of the glycans: the top three peaks, each seen in all three copies,
    // every copy's position on that copy's NAG of the same asparagine.
    let truth: Value =
        serde_json::from_slice(&std::fs::read(common::testdata("symmetric/trimer_removed_nag.json")).unwrap()).unwrap();
    let nags: Vec<(String, Vec<[f64; 3]>)> = truth["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let atoms = g["atoms"].as_array().unwrap().iter().map(|a| [0, 1, 2].map(|k| a["xyz"][k].as_f64().unwrap()));
            (g["name"].as_str().unwrap().to_string(), atoms.collect())
        })
        .collect();
    assert_eq!(nags.len(), 9);
    let report: Value = serde_json::from_slice(&std::fs::read(d.join("trimer.json")).unwrap()).unwrap();
    let peaks = report["peaks"].as_array().unwrap();
    let mut found = std::collections::BTreeSet::new();
    for peak in &peaks[..3] {
        assert_eq!(peak["copies"].as_u64(), Some(3), "{peak}");
        for p in peak["copy_positions"].as_array().unwrap() {
            let p = [0, 1, 2].map(|k| p[k].as_f64().unwrap());
            let (name, distance) = nags
                .iter()
                .map(|(name, atoms)| {
                    let d = atoms.iter().map(|a| (0..3).map(|k| (a[k] - p[k]).powi(2)).sum::<f64>().sqrt());
                    (name, d.fold(f64::INFINITY, f64::min))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            assert!(distance < 2.5, "a position of {peak} is {distance:.1} Å from the nearest NAG ({name})");
            found.insert(name.clone());
        }
    }
    assert_eq!(found.len(), 9, "the top three peaks' positions land on all nine NAG: {found:?}");
    assert!(peaks[3..].iter().all(|p| p["height"].as_f64().unwrap().abs() < 4.0), "the rest is noise");
    // The scores: the file's own atoms with the mean over copies; the model as run beside the map.
    let input = read_model(common::testdata("symmetric/model.pdb")).unwrap();
    assert_eq!(read_model(d.join("trimer_scores.pdb")).unwrap().atoms.len(), input.atoms.len());
    assert_eq!(report["input_residues"].as_array().unwrap().len(), input.residues.len());
    let copies = read_model(d.join("trimer_copies.cif")).unwrap();
    assert_eq!(copies.atoms.len(), 3 * input.atoms.len());
    let chains: std::collections::BTreeSet<&str> = copies.residues.iter().map(|r| r.chain.as_str()).collect();
    assert_eq!(chains.into_iter().collect::<Vec<_>>(), ["A", "A-2", "A-3"]);
    let chimerax = std::fs::read_to_string(d.join("trimer_chimerax.cxc")).unwrap();
    assert!(chimerax.contains("open \"./trimer_copies.cif\""), "the viewer opens the copies: {chimerax}");
    let csv = std::fs::read_to_string(d.join("trimer_peaks.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "copies").unwrap();
    assert_eq!(csv.lines().nth(1).unwrap().split(',').nth(column), Some("3"));
}
