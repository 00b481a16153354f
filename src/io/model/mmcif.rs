//! PDBx/mmCIF: the `_atom_site` and `_atom_site_anisotrop` tables of the first data block, and
//! `_em_3d_reconstruction.resolution`.
//!
//! A small CIF 1.1 lexer (quoted strings, semicolon text fields, comments, loops) that returns
//! slices of the input, so a large model is read without copying its values. Chains, residues and
//! atom names come from the `auth_*` items, as PDB files write them, falling back to `label_*`.

use super::element::{element_from_name, element_from_symbol};
use super::symmetry::{
    Assembly, AssemblyPart, DeclaredSymmetry, MAX_COPIES, NcsOperator, Operator, checked, expression_groups,
};
use super::{AtomRecord, IgnoredResolution, ModelBuilder};
use crate::error::{Error, Result};
use crate::io::model::Model;
use std::collections::HashMap;
use std::path::Path;

/// A CIF value: its text (quotes removed) and whether it was quoted (a quoted "?" is text).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Value<'a> {
    text: &'a str,
    quoted: bool,
}

impl<'a> Value<'a> {
    /// `None` for the CIF markers of unknown (`?`) and inapplicable (`.`) values.
    fn present(self) -> Option<&'a str> {
        if !self.quoted && (self.text == "?" || self.text == ".") { None } else { Some(self.text) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token<'a> {
    Tag(&'a str),
    Value(Value<'a>),
    Loop,
    DataBlock,
    /// `save_`, `global_`, `stop_`: nothing this reader needs.
    Reserved,
}

struct Lexer<'a> {
    text: &'a str,
    position: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer { text, position: 0, line: 1 }
    }

    fn slice(&self, start: usize, end: usize) -> std::result::Result<&'a str, String> {
        self.text.get(start..end).ok_or_else(|| format!("line {}: malformed text", self.line))
    }

    fn next_token(&mut self) -> Option<std::result::Result<Token<'a>, String>> {
        let bytes = self.text.as_bytes();
        // Skip blanks and comments; remember whether the token starts a line (text fields do).
        let mut at_line_start = self.position == 0 || bytes.get(self.position - 1) == Some(&b'\n');
        loop {
            match bytes.get(self.position)? {
                b'\n' => {
                    self.line += 1;
                    self.position += 1;
                    at_line_start = true;
                }
                c if c.is_ascii_whitespace() => {
                    self.position += 1;
                    at_line_start = false;
                }
                b'#' => {
                    while bytes.get(self.position).is_some_and(|&c| c != b'\n') {
                        self.position += 1;
                    }
                }
                _ => break,
            }
        }
        let start = self.position;
        let first = bytes[start];
        if first == b';' && at_line_start {
            let body = start + 1;
            let Some(offset) = find(&bytes[body..], b"\n;") else {
                return Some(Err(format!("line {}: text field (;) is never closed", self.line)));
            };
            let end = body + offset;
            self.line += bytes[start..end + 1].iter().filter(|&&c| c == b'\n').count();
            self.position = end + 2;
            return Some(self.slice(body, end).map(|text| Token::Value(Value { text, quoted: true })));
        }
        if first == b'\'' || first == b'"' {
            // A quote closes only when followed by a blank or the end of the text.
            let mut end = start + 1;
            loop {
                match bytes.get(end) {
                    None | Some(b'\n') => {
                        return Some(Err(format!("line {}: quoted value is never closed", self.line)));
                    }
                    Some(&c) if c == first && bytes.get(end + 1).is_none_or(|n| n.is_ascii_whitespace()) => break,
                    _ => end += 1,
                }
            }
            self.position = end + 1;
            return Some(self.slice(start + 1, end).map(|text| Token::Value(Value { text, quoted: true })));
        }
        while bytes.get(self.position).is_some_and(|c| !c.is_ascii_whitespace()) {
            self.position += 1;
        }
        let word = match self.slice(start, self.position) {
            Ok(word) => word,
            Err(e) => return Some(Err(e)),
        };
        let lower_prefix =
            |prefix: &str| word.len() >= prefix.len() && word[..prefix.len()].eq_ignore_ascii_case(prefix);
        Some(Ok(if first == b'_' {
            Token::Tag(word)
        } else if word.eq_ignore_ascii_case("loop_") {
            Token::Loop
        } else if word.is_char_boundary(5) && lower_prefix("data_") {
            Token::DataBlock
        } else if ["save_", "global_", "stop_"].iter().any(|p| word.is_char_boundary(p.len()) && lower_prefix(p)) {
            Token::Reserved
        } else {
            Token::Value(Value { text: word, quoted: false })
        }))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One category's items: a loop, or key-value pairs read as a table of one row.
#[derive(Debug, Default)]
struct Table<'a> {
    /// Item names in lower case, without the category ("cartn_x").
    items: Vec<String>,
    values: Vec<Value<'a>>,
}

impl<'a> Table<'a> {
    fn rows(&self) -> usize {
        if self.items.is_empty() { 0 } else { self.values.len() / self.items.len() }
    }
    /// Column of the first of `names` that the table has.
    fn column(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.items.iter().position(|i| i == n))
    }
    fn get(&self, row: usize, column: usize) -> Value<'a> {
        self.values[row * self.items.len() + column]
    }
}

/// Category and item of a tag, lower case: `_atom_site.Cartn_x` -> ("atom_site", "cartn_x").
fn split_tag(tag: &str) -> (String, String) {
    let tag = tag.trim_start_matches('_').to_ascii_lowercase();
    match tag.split_once('.') {
        Some((category, item)) => (category.to_string(), item.to_string()),
        None => (tag, String::new()),
    }
}

/// The tables of `wanted` categories in the first data block.
fn read_tables<'a>(text: &'a str, wanted: &[&str]) -> std::result::Result<HashMap<String, Table<'a>>, String> {
    let mut lexer = Lexer::new(text);
    let mut tables: HashMap<String, Table<'a>> = HashMap::new();
    let mut blocks = 0;
    let mut pending: Option<Token<'a>> = None;
    loop {
        let token = match pending.take() {
            Some(t) => t,
            None => match lexer.next_token() {
                Some(t) => t?,
                None => break,
            },
        };
        match token {
            Token::DataBlock => {
                blocks += 1;
                if blocks > 1 {
                    break;
                }
            }
            Token::Loop => {
                let mut tags = Vec::new();
                let mut values = Vec::new();
                loop {
                    match lexer.next_token().transpose()? {
                        Some(Token::Tag(tag)) if values.is_empty() => tags.push(split_tag(tag)),
                        Some(Token::Value(v)) => values.push(v),
                        other => {
                            pending = other;
                            break;
                        }
                    }
                }
                if tags.is_empty() {
                    return Err(format!("line {}: loop_ without item names", lexer.line));
                }
                let category = tags[0].0.clone();
                // A damaged table that is not needed here must not stop the read.
                if !wanted.contains(&category.as_str()) {
                    continue;
                }
                if values.len() % tags.len() != 0 {
                    return Err(format!(
                        "the loop of _{} has {} values, not a multiple of its {} items",
                        tags[0].0,
                        values.len(),
                        tags.len()
                    ));
                }
                tables
                    .entry(category)
                    .or_insert_with(|| Table { items: tags.into_iter().map(|t| t.1).collect(), values });
            }
            Token::Tag(tag) => {
                let value = match lexer.next_token().transpose()? {
                    Some(Token::Value(v)) => v,
                    _ => return Err(format!("line {}: item {tag} has no value", lexer.line)),
                };
                let (category, item) = split_tag(tag);
                if wanted.contains(&category.as_str()) {
                    let table = tables.entry(category).or_default();
                    // Pairs make a one-row table; a repeated item is ignored.
                    if table.values.len() == table.items.len() && !table.items.contains(&item) {
                        table.items.push(item);
                        table.values.push(value);
                    }
                }
            }
            Token::Value(v) => return Err(format!("line {}: value '{}' outside any item", lexer.line, v.text)),
            Token::Reserved => {}
        }
    }
    Ok(tables)
}

/// A number, ignoring a standard uncertainty in parentheses ("1.234(5)").
fn number(value: Value) -> Option<f64> {
    let text = value.present()?;
    let text = text.split('(').next().unwrap_or(text);
    text.parse().ok()
}

/// Reads the first model of an mmCIF file.
pub(super) fn parse_mmcif(text: &str, path: &Path) -> Result<Model> {
    let tables = read_tables(
        text,
        &[
            "atom_site",
            "atom_site_anisotrop",
            "em_3d_reconstruction",
            "exptl",
            "refine",
            "reflns",
            "struct_ncs_oper",
            "pdbx_struct_oper_list",
            "pdbx_struct_assembly_gen",
        ],
    )
    .map_err(|problem| Error::model(path, problem))?;
    let missing = |what: &str| Error::model(path, format!("no {what} in the first data block"));
    let atoms = tables.get("atom_site").filter(|t| t.rows() > 0).ok_or_else(|| missing("_atom_site table"))?;
    let column = |names: &[&str]| atoms.column(names);
    let required = |names: &[&str]| column(names).ok_or_else(|| missing(&format!("_atom_site.{}", names[0])));
    let x = required(&["cartn_x"])?;
    let y = required(&["cartn_y"])?;
    let z = required(&["cartn_z"])?;
    let atom_name = required(&["auth_atom_id", "label_atom_id"])?;
    let residue_name = required(&["auth_comp_id", "label_comp_id"])?;
    let chain = required(&["auth_asym_id", "label_asym_id"])?;
    let label_asym = column(&["label_asym_id"]);
    let residue_number = column(&["auth_seq_id"]);
    let label_seq = column(&["label_seq_id"]);
    let (element, alt, icode) = (column(&["type_symbol"]), column(&["label_alt_id"]), column(&["pdbx_pdb_ins_code"]));
    let (occupancy, b_iso) = (column(&["occupancy"]), column(&["b_iso_or_equiv"]));
    let (charge, model_number, id) =
        (column(&["pdbx_formal_charge"]), column(&["pdbx_pdb_model_num"]), column(&["id"]));

    let mut builder = ModelBuilder::default();
    let first_model = model_number.and_then(|c| atoms.get(0, c).present());
    let mut other_models = std::collections::BTreeSet::new();
    let mut serial_of_row = Vec::with_capacity(atoms.rows());
    for row in 0..atoms.rows() {
        let get = |c: usize| atoms.get(row, c);
        let text_of = |c: Option<usize>| c.and_then(|c| get(c).present()).unwrap_or("").to_string();
        if let (Some(c), Some(first)) = (model_number, first_model)
            && get(c).present() != Some(first)
        {
            other_models.insert(get(c).text);
            continue;
        }
        let bad =
            |what: &str| Error::model(path, format!("atom {} (row {}): cannot read {what}", text_of(id), row + 1));
        let coordinate = |c: usize| number(get(c)).ok_or_else(|| bad("the coordinates"));
        let position = [coordinate(x)?, coordinate(y)?, coordinate(z)?];
        let number_or = |c: Option<usize>, default: f64, what: &str| match c.map(get).and_then(Value::present) {
            None => Ok(default),
            Some(_) => number(get(c.expect("present"))).ok_or_else(|| bad(what)),
        };
        let residue_number = residue_number
            .and_then(|c| get(c).present())
            .or_else(|| label_seq.and_then(|c| get(c).present()))
            .and_then(|t| t.parse::<isize>().ok())
            .ok_or_else(|| bad("the residue number (auth_seq_id)"))?;
        let name = text_of(Some(atom_name));
        let residue = text_of(Some(residue_name));
        let element = element
            .and_then(|c| get(c).present())
            .and_then(element_from_symbol)
            .or_else(|| element_from_name(&name, &residue));
        let serial = id.and_then(|c| get(c).present()).and_then(|t| t.parse::<i64>().ok());
        serial_of_row.push(id.map(|c| get(c).text));
        builder.push(AtomRecord {
            serial,
            name,
            alt_loc: alt.and_then(|c| get(c).present()).map(str::to_string),
            residue_name: residue,
            chain: text_of(Some(chain)),
            subchain: text_of(label_asym),
            residue_number,
            insertion_code: text_of(icode),
            position,
            occupancy: number_or(occupancy, 1.0, "the occupancy")?,
            b_iso: number_or(b_iso, 0.0, "B_iso_or_equiv")?,
            element,
            charge: charge
                .and_then(|c| get(c).present())
                .and_then(|t| t.parse::<i64>().ok())
                .map_or(0, |c| c.clamp(-128, 127) as i8),
        });
    }
    if !other_models.is_empty() {
        builder.warn(format!("the file holds {} models; only the first is used", other_models.len() + 1));
    }
    if let Some(aniso) = tables.get("atom_site_anisotrop") {
        apply_anisou(aniso, &serial_of_row, &mut builder);
    }
    let mut model = builder.finish();
    model.symmetry = declared_symmetry(&tables);
    let first = |category: &str, item: &str| {
        tables.get(category).filter(|t| t.rows() > 0).and_then(|t| Some(t.get(0, t.column(&[item])?)))
    };
    let positive = |value: Option<Value>| value.and_then(number).filter(|r| r.is_finite() && *r > 0.0);
    model.method = tables.get("exptl").and_then(|t| {
        let column = t.column(&["method"])?;
        let methods: Vec<&str> = (0..t.rows()).filter_map(|row| t.get(row, column).present()).collect();
        (!methods.is_empty()).then(|| methods.join("; "))
    });
    // An EM reconstruction's resolution is the map's by definition; an X-ray refinement's
    // high-resolution limit is not, and is only named when a run has none.
    model.resolution = positive(first("em_3d_reconstruction", "resolution"));
    if model.resolution.is_none() {
        model.ignored_resolution =
            [("refine", "ls_d_res_high"), ("reflns", "d_resolution_high")].into_iter().find_map(|(category, item)| {
                positive(first(category, item))
                    .map(|value| IgnoredResolution { value, record: format!("_{category}.{item}") })
            });
    }
    Ok(model)
}

/// The operators of `_struct_ncs_oper` and the assemblies of `_pdbx_struct_assembly_gen` (over
/// `_pdbx_struct_oper_list`), each checked; see [`super::symmetry`].
fn declared_symmetry(tables: &HashMap<String, Table>) -> DeclaredSymmetry {
    let mut declared = DeclaredSymmetry::default();
    let id_of = |table: &Table, row: usize| {
        table.column(&["id"]).and_then(|c| table.get(row, c).present()).unwrap_or("?").to_string()
    };
    let operator_of = |category: &str, table: &Table, row: usize| -> std::result::Result<Operator, String> {
        let id = id_of(table, row);
        let cell = |item: &str| table.column(&[item]).map(|c| table.get(row, c)).and_then(number);
        let mut rotation = [[0.0; 3]; 3];
        let mut translation = [0.0; 3];
        for i in 0..3 {
            for (j, value) in rotation[i].iter_mut().enumerate() {
                *value = cell(&format!("matrix[{}][{}]", i + 1, j + 1))
                    .ok_or_else(|| format!("_{category} {id}: cannot read matrix[{}][{}]", i + 1, j + 1))?;
            }
            translation[i] = cell(&format!("vector[{}]", i + 1))
                .ok_or_else(|| format!("_{category} {id}: cannot read vector[{}]", i + 1))?;
        }
        let operator = Operator { id, rotation, translation };
        checked(3, &operator, &format!("_{category}")).map(|()| operator)
    };
    if let Some(table) = tables.get("struct_ncs_oper") {
        let code = table.column(&["code"]);
        for row in 0..table.rows() {
            match operator_of("struct_ncs_oper", table, row) {
                Ok(operator) => {
                    let given =
                        code.and_then(|c| table.get(row, c).present()).is_some_and(|c| c.eq_ignore_ascii_case("given"));
                    declared.ncs.push(NcsOperator { operator, given });
                }
                Err(problem) => declared.ncs_problems.push(problem),
            }
        }
    }
    // Operators by id, or why one cannot be used.
    let mut operators: HashMap<String, std::result::Result<Operator, String>> = HashMap::new();
    if let Some(table) = tables.get("pdbx_struct_oper_list") {
        for row in 0..table.rows() {
            operators.insert(id_of(table, row), operator_of("pdbx_struct_oper_list", table, row));
        }
    }
    let mut used = std::collections::HashSet::new();
    if let Some(table) = tables.get("pdbx_struct_assembly_gen") {
        let (assembly, expression, asyms) =
            (table.column(&["assembly_id"]), table.column(&["oper_expression"]), table.column(&["asym_id_list"]));
        for row in 0..table.rows() {
            let id = assembly.and_then(|c| table.get(row, c).present()).unwrap_or("?").to_string();
            let text = expression.and_then(|c| table.get(row, c).present()).unwrap_or("");
            let subchains: Vec<String> = asyms
                .and_then(|c| table.get(row, c).present())
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            let index = match declared.assemblies.iter().position(|a| a.id == id) {
                Some(index) => index,
                None => {
                    declared.assemblies.push(Assembly { id: id.clone(), parts: Vec::new(), problems: Vec::new() });
                    declared.assemblies.len() - 1
                }
            };
            let target = &mut declared.assemblies[index];
            let what = format!("_pdbx_struct_assembly_gen of assembly {id}");
            let Some(groups) = expression_groups(text) else {
                target.problems.push(format!(
                    "{what}: cannot read the operator expression '{text}' (or it names more than {MAX_COPIES})"
                ));
                continue;
            };
            // Counted before any product is formed: a stranger's (1-9999)(1-9999) is refused here.
            let copies = groups.iter().try_fold(1usize, |n, g| n.checked_mul(g.len()));
            if copies.is_none_or(|n| n.saturating_add(target.copies()) > MAX_COPIES) {
                target.problems.push(format!("{what}: '{text}' makes more than {MAX_COPIES} copies"));
                continue;
            }
            let mut resolved = Vec::new();
            for group in &groups {
                let mut ops = Vec::with_capacity(group.len());
                for name in group {
                    used.insert(name.clone());
                    match operators.get(name) {
                        Some(Ok(operator)) => ops.push(operator.clone()),
                        Some(Err(why)) => {
                            target
                                .problems
                                .push(format!("{what}: '{text}' uses operator {name}, which is unusable: {why}"));
                            break;
                        }
                        None => {
                            target.problems.push(format!(
                                "{what}: '{text}' names operator {name}, which _pdbx_struct_oper_list does not hold"
                            ));
                            break;
                        }
                    }
                }
                if ops.len() < group.len() {
                    break;
                }
                resolved.push(ops);
            }
            if resolved.len() < groups.len() {
                continue;
            }
            // mmCIF's product (A)(B): for each A, each B, the operator A∘B (B applied first).
            let mut products = resolved.pop().expect("at least one group");
            while let Some(left) = resolved.pop() {
                products = left.iter().flat_map(|a| products.iter().map(move |b| a.after(b))).collect();
            }
            target.parts.push(AssemblyPart { chains: Vec::new(), subchains, operators: products });
        }
    }
    let mut unused: Vec<_> = operators.into_iter().filter(|(id, _)| !used.contains(id)).collect();
    unused.sort_by(|a, b| a.0.cmp(&b.0));
    declared.problems.extend(unused.into_iter().filter_map(|(_, op)| op.err()));
    declared
}

/// Attaches `_atom_site_anisotrop` U values to the atoms with the same `id`.
fn apply_anisou(table: &Table, serial_of_row: &[Option<&str>], builder: &mut ModelBuilder) {
    let items = ["u[1][1]", "u[2][2]", "u[3][3]", "u[1][2]", "u[1][3]", "u[2][3]"];
    let (Some(id), Some(columns)) =
        (table.column(&["id"]), items.iter().map(|i| table.column(&[i])).collect::<Option<Vec<_>>>())
    else {
        return;
    };
    let mut by_id = HashMap::new();
    for row in 0..table.rows() {
        let u: Option<Vec<f64>> = columns.iter().map(|&c| number(table.get(row, c))).collect();
        if let Some(u) = u {
            by_id.insert(table.get(row, id).text, [u[0], u[1], u[2], u[3], u[4], u[5]]);
        }
    }
    for (atom, serial) in serial_of_row.iter().enumerate() {
        if let Some(u) = serial.and_then(|s| by_id.get(s)) {
            builder.set_anisou(atom, *u);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Model {
        parse_mmcif(text, Path::new("fixture.cif")).unwrap()
    }

    const HEADER: &str = "data_test\nloop_\n_atom_site.group_PDB\n_atom_site.id\n_atom_site.type_symbol\n\
        _atom_site.label_atom_id\n_atom_site.label_alt_id\n_atom_site.label_comp_id\n_atom_site.label_asym_id\n\
        _atom_site.label_seq_id\n_atom_site.pdbx_PDB_ins_code\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n\
        _atom_site.Cartn_z\n_atom_site.occupancy\n_atom_site.B_iso_or_equiv\n_atom_site.auth_seq_id\n\
        _atom_site.auth_asym_id\n_atom_site.pdbx_PDB_model_num\n";

    #[test]
    fn atoms_with_quotes_alternates_and_models() {
        let text = format!(
            "{HEADER}ATOM 1 C \"C1'\" A NAG B . ? 1.0 2.0 3.0 0.4 30.0 501 Ab 1\n\
             ATOM 2 C \"C1'\" B NAG B . ? 1.5 2.0 3.0 0.6 30.0 501 Ab 1\n\
             HETATM 3 FE FE . HEM C . A 4.0 5.0 6.0 1.0 40.0(2) 10 Ab 1\n\
             ATOM 4 C C . NAG B . ? 9.0 9.0 9.0 1.0 30.0 501 Ab 2\n#\n"
        );
        let model = read(&text);
        assert_eq!(model.atoms.len(), 3);
        assert_eq!(model.atoms[0].name, "C1'");
        assert_eq!(model.atoms[1].alt_loc.as_deref(), Some("B"));
        assert_eq!(model.residues[0].chain, "Ab", "auth_asym_id");
        assert_eq!(model.residues[0].number, 501, "auth_seq_id");
        assert_eq!(model.residues[1].insertion_code, "A");
        assert_eq!(model.atoms[2].atomic_number, 26);
        assert_eq!(model.atoms[2].b_iso, 40.0);
        assert!(model.warnings.iter().any(|w| w.contains("2 models")));
    }

    #[test]
    fn text_fields_comments_and_resolution_pairs() {
        let text = format!(
            "data_x\n_struct.title\n;A title; with a semicolon\nover lines\n;\n\
             # a comment\n_em_3d_reconstruction.id 1\n_em_3d_reconstruction.resolution 2.85\n\
             {}ATOM 1 N N . ALA A 1 ? 1 2 3 1 20 1 A 1\n",
            HEADER.strip_prefix("data_test\n").unwrap()
        );
        let model = read(&text);
        assert_eq!(model.resolution, Some(2.85));
        let atom = "loop_\n_atom_site.group_PDB\n_atom_site.id\n_atom_site.type_symbol\n_atom_site.label_atom_id\n\
                    _atom_site.label_comp_id\n_atom_site.label_asym_id\n_atom_site.label_seq_id\n\
                    _atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.Cartn_z\nATOM 1 C CA ALA A 1 1 2 3\n";
        let xray = read(&format!("data_x\n_exptl.method 'X-RAY DIFFRACTION'\n_refine.ls_d_res_high 1.54\n{atom}"));
        assert_eq!(xray.resolution, None);
        assert_eq!(xray.method.as_deref(), Some("X-RAY DIFFRACTION"));
        let ignored = xray.ignored_resolution.unwrap();
        assert_eq!((ignored.value, ignored.record.as_str()), (1.54, "_refine.ls_d_res_high"));
        assert_eq!(model.atoms.len(), 1);
        let looped = "data_x\nloop_\n_em_3d_reconstruction.id\n_em_3d_reconstruction.method\n\
                      _em_3d_reconstruction.resolution\n1 'FSC 0.143 CUT-OFF' 2.85\n";
        let tables = read_tables(looped, &["em_3d_reconstruction"]).unwrap();
        assert_eq!(number(tables["em_3d_reconstruction"].get(0, 2)), Some(2.85));
    }

    #[test]
    fn anisotropic_u_by_atom_id() {
        let text = format!(
            "{HEADER}ATOM 7 N N . ALA A 1 ? 1 2 3 1 20 1 A 1\nATOM 8 C CA . ALA A 1 ? 2 2 3 1 20 1 A 1\n\
             loop_\n_atom_site_anisotrop.id\n_atom_site_anisotrop.U[1][1]\n_atom_site_anisotrop.U[2][2]\n\
             _atom_site_anisotrop.U[3][3]\n_atom_site_anisotrop.U[1][2]\n_atom_site_anisotrop.U[1][3]\n\
             _atom_site_anisotrop.U[2][3]\n8 0.5 0.5 0.5 0 0 0\n"
        );
        let model = read(&text);
        assert_eq!(model.atoms[0].aniso_u, None);
        assert_eq!(model.atoms[1].aniso_u, Some([0.5, 0.5, 0.5, 0.0, 0.0, 0.0]));
        assert_eq!(model.atoms[1].b_iso, 20.0);
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        let error = |text: &str| parse_mmcif(text, Path::new("bad.cif")).unwrap_err().to_string();
        assert!(error("data_x\n_cell.length_a 10\n").contains("_atom_site"));
        assert!(error(&format!("{HEADER}ATOM 1 N N . ALA A 1 ? 1 2\n")).contains("multiple"));
        assert!(error(&format!("{HEADER}ATOM 1 N N . ALA A 1 ? 1 x 3 1 20 1 A 1\n")).contains("coordinates"));
        assert!(error("data_x\n_a.b 'open\n").contains("never closed"));
        assert!(error("data_x\n_a.b\n;never closed\n").contains("never closed"));
    }
}
