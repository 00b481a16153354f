//! The JSON report table of docs/report.md is the schema: a real report has exactly the keys the table
//! lists (names outside parentheses, per row), and reads back into the typed `Report`.

use crate::common;
use real_space_diff_map::report::{REPORT_SCHEMA_VERSION, Report};
use serde_json::Value;
use std::collections::BTreeSet;

/// Backticked names outside parentheses in a table cell.
fn top_level_names(cell: &str) -> BTreeSet<String> {
    let (mut depth, mut names, mut inside, mut current) = (0i32, BTreeSet::new(), false, String::new());
    for c in cell.chars() {
        match c {
            '(' if !inside => depth += 1,
            ')' if !inside => depth -= 1,
            '`' => {
                if inside && depth == 0 {
                    names.insert(current.trim_end_matches("[]").to_string());
                }
                inside = !inside;
                current.clear();
            }
            c if inside => current.push(c),
            _ => {}
        }
    }
    names
}

/// The table's rows: (field names, content cell).
fn readme_rows() -> Vec<(BTreeSet<String>, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.md")).unwrap();
    let table = readme.split("## JSON report").nth(1).expect("the JSON report section");
    table
        .lines()
        .skip_while(|l| !l.starts_with("| field"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').collect();
            (top_level_names(cells[1]), cells[2].to_string())
        })
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// Runs the testdata model with `args` in `dir` and returns its JSON report.
fn report_of(dir: &std::path::Path, args: &[&str]) -> Value {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(dir)
        .arg(common::testdata("6vyb_Ndom_noNAG.pdb"))
        .args(args)
        .args(["quiet=true", "json=report.json"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

pub fn a_real_report_has_exactly_the_fields_the_readme_lists() {
    let dir = tempfile::tempdir().unwrap();
    let map = common::testdata("emd_21457_seg.mrc");
    let report = report_of(dir.path(), &[map.to_str().unwrap(), "resolution=3.2", "output=d.ccp4"]);
    let rows = readme_rows();
    assert!(rows.len() >= 10, "found {} rows", rows.len());

    let listed: BTreeSet<String> = rows.iter().flat_map(|(names, _)| names.iter().cloned()).collect();
    assert_eq!(listed, keys(&report), "top-level fields: docs/report.md vs report");
    for (names, content) in &rows {
        let expected = top_level_names(content);
        for name in names {
            let value = &report[name.as_str()];
            let object = match value {
                Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
                other => other.clone(),
            };
            if object.is_object() {
                assert_eq!(expected, keys(&object), "fields of `{name}`: docs/report.md vs report");
            }
        }
    }
    // The values use the command line's spellings, and the report reads back typed.
    assert_eq!(report["schema_version"], REPORT_SCHEMA_VERSION);
    assert_eq!(report["parameters"]["units"]["variant"], "complex");
    assert_eq!(report["parameters"]["model_map"]["edge"], "soft");
    let typed: Report = serde_json::from_value(report.clone()).unwrap();
    assert_eq!(typed.parameters.resolution, Some(3.2));
    assert!(typed.timings.contains_key("model_map"));
}

/// Every backticked name in a table cell, inside parentheses or not.
fn all_names(cell: &str) -> BTreeSet<String> {
    cell.split('`').skip(1).step_by(2).map(|n| n.trim_end_matches("[]").to_string()).collect()
}

/// Every key of `value`'s objects, at every depth (the first element of each array).
fn nested_keys(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o {
                into.insert(k.clone());
                nested_keys(v, into);
            }
        }
        Value::Array(items) => items.iter().take(1).for_each(|v| nested_keys(v, into)),
        _ => {}
    }
}

pub fn a_half_map_report_reads_back_and_the_readme_names_all_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let map = real_space_diff_map::io::ccp4::read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map;
    let (h1, h2) = common::halves(&map, |_| 0.5);
    for (name, half) in [("h1.mrc", &h1), ("h2.mrc", &h2)] {
        real_space_diff_map::io::ccp4::write_map(dir.path().join(name), half, "half", &[]).unwrap();
    }
    let report =
        report_of(dir.path(), &["half_map=h1.mrc", "half_map=h2.mrc", "resolution=3.2", "output=d.ccp4", "fdr=0.05"]);
    // Some keys exist only in this mode (docs/report.md lists them in parentheses): each object's
    // keys must be named in its row, at any depth.
    for (names, content) in readme_rows() {
        for name in &names {
            let mut found = BTreeSet::new();
            nested_keys(&report[name.as_str()], &mut found);
            let listed = all_names(&content);
            let missing: Vec<&String> = found.difference(&listed).collect();
            assert!(
                missing.is_empty(),
                "`{name}` in a half-map report has keys docs/report.md does not name: {missing:?}"
            );
        }
    }
    let typed: Report = serde_json::from_value(report.clone()).unwrap();
    assert!(typed.timings.contains_key("spectral_weighting") && typed.timings.contains_key("read_half_maps"));
    assert!(typed.fit.noise.is_some(), "the noise summary reads back");
}
