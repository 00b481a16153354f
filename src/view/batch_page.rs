//! A batch's page, `DIR/index.html`: one row per entry (status, map size, time, memory, the
//! strongest positive and negative peak with its residue, residues in negative density, the
//! error), sortable by clicking a header and filterable by the boxes under the headers, each
//! entry linking to its own report.
//!
//! The page is a fixed file; its rows come from the summary. Served over HTTP it reads
//! `summary.json` itself; opened from disk (where browsers refuse to let a page read a file
//! beside it) it reads `summary.js`, the same rows as a script, written with every
//! `summary.json`. The batch rewrites both while it runs, and the page reloads itself every
//! few seconds while an entry is pending or running, so it can be watched.

use crate::error::{Error, Result};
use crate::io::atomic_file::write_atomically;
use std::io::Write;
use std::path::Path;

/// Writes `summary.js` (the rows of `summary.json`, as a script) and `index.html` in `out_dir`.
/// `summary_json` is the text of `summary.json`.
pub fn write_batch_page(out_dir: &Path, summary_json: &str) -> Result<()> {
    // A JSON text is a JavaScript expression; "</" is escaped so that no value can close a tag.
    let script = format!("window.RSDM_SUMMARY = {};\n", summary_json.replace("</", "<\\/"));
    write_atomically(&out_dir.join("summary.js"), &[], |w| w.write_all(script.as_bytes()))?;
    let index = out_dir.join("index.html");
    let page = BATCH_PAGE.replace(STATIC_ROWS, &static_table(summary_json));
    let unchanged = std::fs::read(&index).is_ok_and(|old| old == page.as_bytes());
    if !unchanged {
        write_atomically(&index, &[], |w| w.write_all(page.as_bytes()))
            .map_err(|e| Error::Invalid(format!("writing the batch page: {e}")))?;
    }
    Ok(())
}

/// Where the page holds its rows as plain HTML, for a browser without JavaScript (or a
/// mail client, or a text browser on a cluster's login node): the same entries, not sortable.
const STATIC_ROWS: &str = "<!--static rows-->";

/// The summary's rows as a plain table (inside `<noscript>`): entry (linked to its report),
/// status, time, strongest positive and negative peak with their residues, error.
fn static_table(summary_json: &str) -> String {
    use super::escape_html as e;
    let rows: Vec<serde_json::Value> = serde_json::from_str(summary_json).unwrap_or_default();
    let mut out = String::from(
        "<noscript><p>Without JavaScript: the entries as written, not sortable.</p>\n<table><thead><tr><th>entry</th>\
         <th>status</th><th>time s</th><th>strongest +</th><th>strongest &minus;</th><th>error</th></tr></thead><tbody>\n",
    );
    let text = |v: &serde_json::Value| v.as_str().map(e).unwrap_or_default();
    let peak = |v: &serde_json::Value| match (v.get(0).and_then(|h| h.as_f64()), v.get(1).and_then(|r| r.as_str())) {
        (Some(h), Some(r)) => format!("{h:.2} {}", e(r)),
        _ => String::new(),
    };
    for row in &rows {
        let id = text(&row["id"]);
        let entry = match row["report_html"].as_str() {
            Some(link) => format!("<a href=\"{}\">{id}</a>", e(link)),
            None => id,
        };
        let error = row["error"]["message"].as_str().map(e).unwrap_or_default();
        out.push_str(&format!(
            "<tr><td>{entry}</td><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{error}</td></tr>\n",
            text(&row["status"]),
            row["wall_seconds"].as_f64().unwrap_or(f64::NAN),
            peak(&row["top_positive"]),
            peak(&row["top_negative"]),
        ));
    }
    out.push_str("</tbody></table></noscript>");
    out
}

/// The page. Plain JavaScript, no libraries, nothing fetched from the network.
pub const BATCH_PAGE: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>real_space_diff_map batch</title>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.2em;color:#1d1d1f}
h1{font-size:1.4em;margin:0 0 0.3em}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #d4d7dd;padding:0.25em 0.5em;text-align:left;font-size:0.9em}
th{background:#eef1f6;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
tr.filters th{background:#f7f8fb;cursor:default}
tr.filters input{width:100%;box-sizing:border-box;font-size:0.85em}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.status-failed,.status-failed-earlier{background:#fde2e2}.status-running{background:#e2ecfd}
.status-pending{color:#777}.pos{color:#087a08}.neg{color:#c00000}.muted{color:#666}
#counts span{margin-right:1.2em}
</style></head><body>
<h1>real_space_diff_map batch</h1>
<p id="counts" class="muted">loading the summary&hellip; (this table needs JavaScript; without it, the plain
table below, or <code>summary.tsv</code> beside this page)</p>
<!--static rows-->
<p class="muted">Click a header to sort; type in the boxes under the headers to filter (a number box takes
<code>&gt;5</code>, <code>&lt;-3</code> or a value). The page reads <code>summary.json</code> (or, opened from disk,
<code>summary.js</code>) each time it is opened, and every few seconds while entries are still running.</p>
<table id="entries"><thead>
<tr id="headers"></tr><tr class="filters" id="filters"></tr>
</thead><tbody id="rows"></tbody></table>
<script>
"use strict";
const COLUMNS = [
  {key: "id", title: "entry", type: "text"},
  {key: "status", title: "status", type: "text"},
  {key: "map_size", title: "map size", type: "number"},
  {key: "wall_seconds", title: "time s", type: "number"},
  {key: "peak_memory_mb", title: "memory MiB", type: "number"},
  {key: "positive", title: "strongest +", type: "number"},
  {key: "positive_residue", title: "residue +", type: "text"},
  {key: "negative", title: "strongest \u2212", type: "number"},
  {key: "negative_residue", title: "residue \u2212", type: "text"},
  {key: "units", title: "units", type: "text"},
  {key: "flagged_residues", title: "residues in negative density", type: "number"},
  {key: "error", title: "error", type: "text"},
];
let rows = [];
let sortKey = null, sortDescending = false;
const filters = {};

function flatten(row) {
  const dims = row.map_dims;
  return {
    id: row.id, status: row.status, report: row.report_html || null,
    map_size: row.map_voxels == null ? null : row.map_voxels,
    map_dims: dims ? dims.join(" \u00d7 ") : (row.map_voxels == null ? "" : String(row.map_voxels)),
    wall_seconds: row.status === "pending" ? null : row.wall_seconds,
    peak_memory_mb: row.peak_memory_mb,
    positive: row.top_positive ? row.top_positive[0] : null,
    positive_residue: row.top_positive ? row.top_positive[1] : "",
    negative: row.top_negative ? row.top_negative[0] : null,
    negative_residue: row.top_negative ? row.top_negative[1] : "",
    units: row.units || "",
    flagged_residues: row.flagged_residues,
    error: row.error ? (row.error.file ? row.error.file + ": " : "") + row.error.message : "",
  };
}

function matches(value, type, wanted) {
  wanted = wanted.trim();
  if (!wanted) return true;
  if (type === "number") {
    const m = wanted.match(/^([<>]=?)?\s*(-?[\d.]+(?:e-?\d+)?)$/i);
    if (m && value != null) {
      const x = parseFloat(m[2]);
      switch (m[1]) {
        case ">": return value > x; case ">=": return value >= x;
        case "<": return value < x; case "<=": return value <= x;
        default: return Math.abs(value - x) < 1e-9 || String(value).startsWith(m[2]);
      }
    }
    if (m) return false;
  }
  return String(value == null ? "" : value).toLowerCase().includes(wanted.toLowerCase());
}

function compare(a, b, type) {
  if (type === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, {numeric: true});
}

function cell(tr, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  tr.appendChild(td);
  return td;
}

function number(value, digits) {
  return value == null ? "" : Number(value).toFixed(digits);
}

function render() {
  const body = document.getElementById("rows");
  let shown = rows.filter(r => COLUMNS.every(c => matches(r[c.key], c.type, filters[c.key] || "")));
  if (sortKey) {
    const column = COLUMNS.find(c => c.key === sortKey);
    shown = shown.slice().sort((a, b) => {
      const [x, y] = [a[sortKey], b[sortKey]];
      // Empty cells (a failed entry's peak) stay last in either direction.
      if (x == null || y == null) return (x == null) - (y == null);
      const order = compare(x, y, column.type);
      return sortDescending ? -order : order;
    });
  }
  body.replaceChildren();
  for (const r of shown) {
    const tr = document.createElement("tr");
    tr.className = "status-" + r.status;
    tr.dataset.id = r.id;
    const idCell = cell(tr, "");
    // Links only to pages inside this folder: a relative path of plain names, no scheme, no
    // way up (a summary edited by hand cannot make a click run a script).
    if (r.report && /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(r.report) && !r.report.split("/").includes("..")) {
      const a = document.createElement("a");
      a.href = r.report;
      a.textContent = r.id;
      idCell.appendChild(a);
    } else {
      idCell.textContent = r.id;
    }
    cell(tr, r.status);
    cell(tr, r.map_dims, "num");
    cell(tr, number(r.wall_seconds, 1), "num");
    cell(tr, number(r.peak_memory_mb, 0), "num");
    cell(tr, number(r.positive, 2), "num pos");
    cell(tr, r.positive_residue);
    cell(tr, number(r.negative, 2), "num neg");
    cell(tr, r.negative_residue);
    cell(tr, r.units);
    cell(tr, r.flagged_residues == null ? "" : String(r.flagged_residues), "num");
    cell(tr, r.error);
    body.appendChild(tr);
  }
  for (const th of document.querySelectorAll("#headers th")) {
    th.setAttribute("aria-sort", th.dataset.key === sortKey ? (sortDescending ? "descending" : "ascending") : "none");
  }
  const count = s => rows.filter(r => r.status === s).length;
  document.getElementById("counts").innerHTML =
    `<span>${rows.length} entries</span><span>${count("done") + count("skipped")} with results</span>` +
    `<span>${count("failed") + count("failed-earlier")} failed</span>` +
    `<span>${count("running")} running</span><span>${count("pending")} pending</span>` +
    `<span>${shown.length} shown</span>`;
}

function buildHeaders() {
  const headers = document.getElementById("headers"), filterRow = document.getElementById("filters");
  for (const c of COLUMNS) {
    const th = document.createElement("th");
    th.textContent = c.title;
    th.dataset.key = c.key;
    th.addEventListener("click", () => {
      if (sortKey === c.key) sortDescending = !sortDescending;
      else { sortKey = c.key; sortDescending = c.type === "number"; }
      render();
    });
    headers.appendChild(th);
    const f = document.createElement("th");
    const input = document.createElement("input");
    input.type = "search";
    input.placeholder = "filter";
    input.dataset.key = c.key;
    input.addEventListener("input", () => { filters[c.key] = input.value; render(); });
    f.appendChild(input);
    filterRow.appendChild(f);
  }
}

function show(summary) {
  rows = summary.map(flatten);
  render();
  if (rows.some(r => r.status === "pending" || r.status === "running")) {
    setTimeout(() => location.reload(), 5000);
  }
}

function fromScript() {
  const script = document.createElement("script");
  script.src = "summary.js?" + Date.now();
  script.onload = () => show(window.RSDM_SUMMARY || []);
  script.onerror = () => { document.getElementById("counts").textContent = "no summary yet (summary.json)"; };
  document.head.appendChild(script);
}

buildHeaders();
if (location.protocol === "http:" || location.protocol === "https:") {
  fetch("summary.json", {cache: "no-store"}).then(r => r.ok ? r.json() : Promise.reject(r.status)).then(show, fromScript);
} else {
  fromScript();
}
</script>
</body></html>
"##;
