//! A self-contained HTML report of one run (`html=FILE`, and `report.html` in every batch
//! entry): inputs, parameters, the fit, the placement check, the peaks with their pictures,
//! the residues in negative density, warnings and timings. Inline CSS and no scripts or
//! network resources; the pictures and maps are linked by paths relative to the page.

use crate::error::Result;
use crate::io::atomic_file::Transaction;
use crate::report::Report;
use crate::view::scripts::peak_label;
use crate::view::{directory_of, escape_html, relative_path, slash_path};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Peaks shown in the page's table; the JSON report and the CSV list more.
pub const HTML_PEAK_ROWS: usize = 100;

/// Files the page links to besides the maps the report lists.
#[derive(Debug, Clone, Default)]
pub struct LinkedFiles {
    /// The peak pictures, by rank (the first is peak 1).
    pub pictures: Vec<PathBuf>,
    /// The viewer scripts.
    pub viewer_scripts: Vec<PathBuf>,
    /// Other files written (JSON report, CSV tables).
    pub other: Vec<PathBuf>,
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:70em;\
color:#1d1d1f;line-height:1.4;padding:0 1em}h1{font-size:1.5em;margin-bottom:0.2em}h2{font-size:1.15em;\
border-bottom:1px solid #ccd;padding-bottom:0.2em;margin-top:1.6em}table{border-collapse:collapse;margin:0.4em 0}\
td,th{border:1px solid #d4d7dd;padding:0.2em 0.55em;text-align:left;font-size:0.92em}th{background:#eef1f6}\
td.num{text-align:right;font-variant-numeric:tabular-nums}.pos{color:#087a08}.neg{color:#c00000}\
.warn{background:#fff4d6;border:1px solid #e8c66a;padding:0.4em 0.7em;margin:0.3em 0}\
.cards{display:flex;flex-wrap:wrap;gap:0.8em}.card{border:1px solid #d4d7dd;border-radius:6px;padding:0.5em 0.9em;\
background:#f7f8fb}.card b{display:block;font-size:1.25em}figure{margin:0.6em 0}figure img{max-width:100%;\
border:1px solid #ccd}figcaption{font-size:0.9em;color:#444}code{font-size:0.92em}.muted{color:#666}\
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f8fb;border:1px solid #d4d7dd;padding:0.5em 0.7em}";

/// The page for `report`, to be written at `html_path` (links are made relative to it).
pub fn run_report_html(report: &Report, html_path: &Path, files: &LinkedFiles) -> String {
    let dir = directory_of(html_path);
    let link = |path: &Path| escape_html(&slash_path(&relative_path(&dir, path)));
    let mut page = String::new();
    let model_name = report.inputs.first().map_or(String::new(), |f| file_name(&f.path));
    let map_name = report.inputs.get(1).map_or(String::new(), |f| file_name(&f.path));
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">\
         <title>Difference map: {} in {}</title><style>{STYLE}</style></head><body>\n",
        escape_html(&model_name),
        escape_html(&map_name)
    );
    let _ = writeln!(
        page,
        "<h1>Difference map: {} in {}</h1><p class=\"muted\">real_space_diff_map {}, report schema {}</p>",
        escape_html(&model_name),
        escape_html(&map_name),
        escape_html(&report.version),
        report.schema_version
    );
    summary_cards(&mut page, report);
    for warning in &report.warnings {
        let _ = writeln!(page, "<div class=\"warn\">{}</div>", escape_html(warning));
    }
    command_section(&mut page, report);
    peak_section(&mut page, report, files, &link);
    histogram_section(&mut page, report);
    residue_section(&mut page, report);
    chain_section(&mut page, report);
    half_map_section(&mut page, report);
    placement_and_fit(&mut page, report);
    file_section(&mut page, report, files, &link);
    parameter_section(&mut page, report);
    page.push_str("</body></html>\n");
    page
}

/// Writes the page atomically, never over an input.
pub fn write_run_report(
    out: &Transaction,
    report: &Report,
    html_path: &Path,
    files: &LinkedFiles,
    protected: &[&Path],
) -> Result<()> {
    let page = run_report_html(report, html_path, files);
    out.write(html_path, protected, |w| w.write_all(page.as_bytes()))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().to_string())
}

fn summary_cards(page: &mut String, report: &Report) {
    let search = &report.peak_search;
    let unit = search.units.symbol();
    let flagged = report.residues.iter().filter(|r| r.in_negative_density).count();
    let strongest = |positive: bool| {
        report
            .peaks
            .iter()
            .find(|p| (p.height > 0.0) == positive)
            .map_or("none".to_string(), |p| format!("{:+.1} {unit}", p.height))
    };
    let cards = [
        ("resolution", format!("{} Å", report.parameters.resolution.map_or("?".into(), |r| r.to_string()))),
        ("units", search.units.label().to_string()),
        ("threshold", format!("±{:.2} {unit}", search.threshold)),
        ("positive peaks", search.positive.to_string()),
        ("negative peaks", search.negative.to_string()),
        ("strongest positive", strongest(true)),
        ("strongest negative", strongest(false)),
        ("residues in negative density", flagged.to_string()),
        ("model atoms inside the map", format!("{:.1}%", 100.0 * report.placement.fraction_inside())),
    ];
    page.push_str("<h2>Summary</h2><div class=\"cards\">");
    for (name, value) in cards {
        let _ = write!(page, "<div class=\"card\">{}<b>{}</b></div>", escape_html(name), escape_html(&value));
    }
    page.push_str("</div>\n");
}

fn peak_section(page: &mut String, report: &Report, files: &LinkedFiles, link: &dyn Fn(&Path) -> String) {
    let unit = report.peak_search.units.symbol();
    let shown = report.peaks.len().min(HTML_PEAK_ROWS);
    let search = &report.peak_search;
    let mut region = Vec::new();
    if let Some(radius) = search.search_radius.0 {
        region.push(format!("within {radius} Å of the model"));
    }
    if let Some(mask) = &search.mask {
        region.push(format!("inside the mask {}", file_name(mask)));
    }
    let region = if region.is_empty() { "anywhere in the box".to_string() } else { region.join(", ") };
    let not_listed = search.not_listed.outside_mask + search.not_listed.beyond_radius + search.not_listed.too_small;
    let _ = writeln!(
        page,
        "<h2 id=\"peaks\">Peaks</h2><p>Blobs beyond ±{:.2} {unit} in the {} difference map with their maximum {}, \
         strongest first: {} of {} listed here{}.{}</p>",
        search.threshold,
        search.map.name(),
        escape_html(&region),
        shown,
        search.positive + search.negative,
        if shown < report.peaks.len() { " (the JSON report and CSV list more)" } else { "" },
        if not_listed > 0 {
            format!(" {not_listed} more blobs beyond the threshold lie outside that region and are not listed.")
        } else {
            String::new()
        }
    );
    // With copies of the model made: in how many copies each peak is seen.
    let with_copies = report.peaks[..shown].iter().any(|p| p.copies > 1);
    if shown > 0 {
        let _ = writeln!(
            page,
            "<table id=\"peak-table\"><thead><tr><th>#</th><th>height</th><th>x</th><th>y</th><th>z</th><th>volume Å³</th>\
             <th>nearest residue</th><th>atom</th><th>distance Å</th><th>q</th>{}<th>picture</th></tr></thead><tbody>",
            if with_copies { "<th>copies</th>" } else { "" }
        );
        for (index, peak) in report.peaks[..shown].iter().enumerate() {
            let class = if peak.height > 0.0 { "pos" } else { "neg" };
            let (residue, atom, distance) = match &peak.nearest_atom {
                Some(a) => (a.residue_label(), a.atom_name.clone(), format!("{:.2}", a.distance)),
                None => ("away from the model".to_string(), String::new(), String::new()),
            };
            let picture = files
                .pictures
                .get(index)
                .map_or(String::new(), |p| format!("<a href=\"{}\">peak {}</a>", link(p), index + 1));
            let _ = writeln!(
                page,
                "<tr><td class=\"num\">{}</td><td class=\"num {class}\">{:+.2}</td><td class=\"num\">{:.2}</td>\
                 <td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.1}</td><td>{}</td><td>{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td>{}<td>{picture}</td></tr>",
                index + 1,
                peak.height,
                peak.position[0],
                peak.position[1],
                peak.position[2],
                peak.volume,
                escape_html(&residue),
                escape_html(&atom),
                distance,
                peak.q_value.map_or(String::new(), |q| format!("{q:.2e}")),
                if with_copies { format!("<td class=\"num\">{}</td>", peak.copies) } else { String::new() },
            );
        }
        page.push_str("</tbody></table>\n");
    }
    if !files.pictures.is_empty() {
        page.push_str("<h2 id=\"pictures\">The strongest peaks</h2>\n");
        for (index, picture) in files.pictures.iter().enumerate() {
            let caption =
                report.peaks.get(index).map_or(String::new(), |p| peak_label(index + 1, p, report.peak_search.units));
            let _ = writeln!(
                page,
                "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"slices through peak {1}\" loading=\"lazy\"></a>\
                 <figcaption>{2}</figcaption></figure>",
                link(picture),
                index + 1,
                escape_html(&caption)
            );
        }
    }
}

fn residue_section(page: &mut String, report: &Report) {
    let flagged: Vec<_> = report.residues.iter().filter(|r| r.in_negative_density).collect();
    let unit = report.peak_search.units.symbol();
    let flags = &report.residue_flags;
    let rule = match (flags.rule.as_str(), flags.fdr, flags.threshold) {
        ("fdr", Some(rate), _) => format!(
            "flagged at a false discovery rate of {rate}: each residue's lowest z at its atoms as a p-value, \
             Benjamini-Hochberg over the {} residues scored",
            flags.scored
        ),
        (_, _, Some(threshold)) => format!(
            "with an atom at or below -{threshold:.2} {unit}: a fixed cut over the {} residues scored, not controlled \
             for how many are chance (half maps give each residue a q-value)",
            flags.scored
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        page,
        "<h2 id=\"residues\">Residues in negative density</h2><p>{} residues {} (density the model claims and the \
         map lacks).</p>",
        flagged.len(),
        escape_html(&rule)
    );
    if flagged.is_empty() {
        return;
    }
    page.push_str(
        "<table id=\"residue-table\"><thead><tr><th>residue</th><th>atoms</th><th>lowest</th><th>mean</th><th>highest</th>\
         <th>q</th></tr></thead><tbody>\n",
    );
    for r in flagged {
        let label = crate::io::model::residue_label(&r.chain, &r.residue_name, r.residue_number, &r.insertion_code);
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num neg\">{:+.2}</td><td class=\"num\">{:+.2}</td>\
             <td class=\"num\">{:+.2}</td><td class=\"num\">{}</td></tr>",
            escape_html(&label),
            r.atoms_scored,
            r.min,
            r.mean,
            r.max,
            r.q_value.map_or(String::new(), |q| format!("{q:.1e}"))
        );
    }
    page.push_str("</tbody></table>\n");
}

fn placement_and_fit(page: &mut String, report: &Report) {
    let placement = &report.placement;
    let fit = &report.fit;
    let _ = writeln!(
        page,
        "<h2 id=\"placement\">Placement check</h2><table><tr><th>atoms</th><td class=\"num\">{}</td></tr>\
         <tr><th>inside the map box</th><td class=\"num\">{} ({:.1}%)</td></tr>\
         <tr><th>mean density at the atoms</th><td class=\"num\">{:.2} sd above the map mean</td></tr></table>{}",
        placement.atoms,
        placement.atoms_inside,
        100.0 * placement.fraction_inside(),
        placement.mean_density_at_atoms_sd,
        placement.warning.as_ref().map_or(String::new(), |w| format!("<div class=\"warn\">{}</div>", escape_html(w)))
    );
    let map = &report.map;
    let _ = writeln!(
        page,
        "<h2 id=\"fit\">Map and fit</h2><table>\
         <tr><th>map</th><td>{} × {} × {} voxels of {:.3} × {:.3} × {:.3} Å; first voxel at ({:.2}, {:.2}, {:.2}) Å</td></tr>\
         <tr><th>model</th><td>{} atoms ({} hydrogens), {} residues, {} chain(s){}</td></tr>\
         <tr><th>global fit</th><td>scale {:.4}, offset {:.4}, correlation {:.3}</td></tr>\
         <tr><th>units</th><td>{} (sigma {:.4} in map units)</td></tr>\
         <tr><th>envelope voxels</th><td class=\"num\">{}</td></tr><tr><th>model map blur</th><td>{:.1} Å²</td></tr></table>",
        map.dims[0],
        map.dims[1],
        map.dims[2],
        map.voxel_size[0],
        map.voxel_size[1],
        map.voxel_size[2],
        map.first_voxel_centre[0],
        map.first_voxel_centre[1],
        map.first_voxel_centre[2],
        report.model.atoms,
        report.model.hydrogens,
        report.model.residues,
        report.model.chains,
        report.model.copies.as_ref().map_or(String::new(), |c| escape_html(&format!(
            ": {} copies of the {} atoms read, made by the {} (copied chains are named CHAIN-OPERATOR)",
            c.count, c.input_atoms, c.made_by
        ))),
        fit.global.scale,
        fit.global.offset,
        fit.global.correlation,
        escape_html(fit.units.label()),
        fit.sigma,
        fit.envelope_voxels,
        fit.model_map_blur
    );
    let local = &fit.local;
    let triple = |v: [f64; 3], digits: usize| format!("{:.digits$} / {:.digits$} / {:.digits$}", v[0], v[1], v[2]);
    let mut rows = vec![
        (
            "window (voxels along X, Y, Z)",
            format!("{} × {} × {}", local.window_voxels[0], local.window_voxels[1], local.window_voxels[2]),
        ),
        ("local scale k at the model (1st / 50th / 99th percentile)", triple(local.scale_percentiles, 3)),
    ];
    if let Some(b) = local.relative_b_percentiles {
        rows.push(("local relative B, Å² (1st / 50th / 99th percentile)", triple(b, 1)));
    }
    if let Some(robust) = &local.robust {
        rows.push((
            "robust fit: left out of the second pass",
            format!(
                "{:.1}% of the box, {:.1}% of the model envelope (residual beyond {:.4} = {:.1} robust sd)",
                100.0 * robust.excluded_fraction,
                100.0 * robust.excluded_in_envelope,
                robust.threshold,
                robust.threshold / robust.residual_sd.max(f64::MIN_POSITIVE)
            ),
        ));
    }
    page.push_str("<table><tr><th colspan=\"2\">local fit</th></tr>");
    for (name, value) in rows {
        let _ = write!(page, "<tr><th>{}</th><td>{}</td></tr>", escape_html(name), escape_html(&value));
    }
    page.push_str("</table>\n");
}

/// The command line that reproduces the run, ready to paste into a shell.
fn command_section(page: &mut String, report: &Report) {
    let Some(words) = &report.command else { return };
    let line: Vec<String> = words.iter().map(|w| crate::escape::shell_word(w)).collect();
    let _ = writeln!(
        page,
        "<h2 id=\"command\">Command</h2><p>This run again, from the folder it was started in:</p>\
         <pre id=\"command-line\"><code>{}</code></pre>",
        escape_html(&line.join(" "))
    );
}

/// The distribution of the values as an inline SVG bar chart (log scale), with the peak
/// threshold marked on both sides.
fn histogram_section(page: &mut String, report: &Report) {
    let Some(h) = &report.histogram else { return };
    let unit = report.peak_search.units.symbol();
    let threshold = report.peak_search.threshold;
    let (width, height, left, bottom) = (640.0, 200.0, 40.0, 24.0);
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - 10.0;
    let upper = h.lower + h.width * h.counts.len() as f64;
    let x_of = |v: f64| left + (v - h.lower) / (upper - h.lower) * plot_w;
    let top = h.counts.iter().map(|&c| ((c + 1) as f64).log10()).fold(0.0, f64::max).max(1.0);
    let y_of = |c: u64| 10.0 + plot_h * (1.0 - ((c + 1) as f64).log10() / top);
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"{height}\" role=\"img\" \
         aria-label=\"histogram of the difference map's values\" id=\"histogram\">"
    );
    for (i, &count) in h.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
        let v = h.lower + h.width * i as f64;
        let class = if v + h.width <= -threshold {
            "#c00000"
        } else if v >= threshold {
            "#087a08"
        } else {
            "#8a94a6"
        };
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{class}\"/>",
            x_of(v),
            y_of(count),
            (x_of(v + h.width) - x_of(v) - 0.5).max(0.5),
            10.0 + plot_h - y_of(count)
        );
    }
    for t in [-threshold, threshold] {
        if t > h.lower && t < upper {
            let _ = write!(
                svg,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"10\" y2=\"{1:.1}\" stroke=\"#1d1d1f\" stroke-dasharray=\"4 3\" class=\"threshold\"/>",
                x_of(t),
                10.0 + plot_h
            );
        }
    }
    let _ = write!(
        svg,
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#1d1d1f\"/>",
        left + plot_w,
        10.0 + plot_h
    );
    let mut tick = (h.lower / 5.0).ceil() * 5.0;
    while tick <= upper + 1e-9 {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{tick}</text>",
            x_of(tick),
            height - 6.0
        );
        tick += 5.0;
    }
    svg.push_str("</svg>");
    let _ = writeln!(
        page,
        "<h2 id=\"distribution\">Distribution of the values</h2><p>Voxels of the difference map by value ({}; counts \
         on a log scale). Dashed: the peak threshold ±{threshold:.2} {unit}; beyond it in green (positive) and red \
         (negative). A bell of width one around zero is noise in these units; {} voxels lie below {:.0} {unit} and {} \
         above {:.0} {unit}.</p>{svg}",
        escape_html(report.peak_search.units.label()),
        h.below,
        h.lower,
        h.above,
        upper
    );
}

/// One row per chain: residues scored and flagged, its most negative residue, and the peaks
/// whose nearest atom is in it.
fn chain_section(page: &mut String, report: &Report) {
    let mut chains: Vec<&str> = Vec::new();
    for r in &report.residues {
        if !chains.contains(&r.chain.as_str()) {
            chains.push(&r.chain);
        }
    }
    if chains.is_empty() {
        return;
    }
    let unit = report.peak_search.units.symbol();
    let _ = writeln!(
        page,
        "<h2 id=\"chains\">Chains</h2><table id=\"chain-table\"><thead><tr><th>chain</th><th>residues scored</th>\
         <th>in negative density</th><th>lowest residue (min {unit})</th><th>positive peaks</th><th>negative peaks</th>\
         </tr></thead><tbody>"
    );
    for chain in chains {
        let residues: Vec<_> = report.residues.iter().filter(|r| r.chain == chain && r.atoms_scored > 0).collect();
        let flagged = residues.iter().filter(|r| r.in_negative_density).count();
        let lowest = residues
            .iter()
            .filter(|r| r.min.is_finite())
            .min_by(|a, b| a.min.total_cmp(&b.min))
            .map_or(String::new(), |r| format!("{}{} {:.2}", r.residue_name, r.residue_number, r.min));
        let near = |positive: bool| {
            report
                .peaks
                .iter()
                .filter(|p| (p.height > 0.0) == positive && p.nearest_atom.as_ref().is_some_and(|a| a.chain == chain))
                .count()
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{flagged}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape_html(chain),
            residues.len(),
            escape_html(&lowest),
            near(true),
            near(false)
        );
    }
    page.push_str("</tbody></table>\n");
}

/// With half maps: how the noise was measured and how well the z units hold far from the model.
fn half_map_section(page: &mut String, report: &Report) {
    let Some(noise) = &report.fit.noise else { return };
    let far = noise.far_from_model.as_ref().map_or("not measured (no voxels far enough from the model)".to_string(), |f| {
        format!("mean {:+.3}, sd {:.3} over {} voxels farther than {:.0} Å from every atom (0 and 1 when the z units are right)", f.mean, f.sd, f.voxels, f.distance)
    });
    let p = noise.local_sd_percentiles;
    let _ = writeln!(
        page,
        "<h2 id=\"half-maps\">Half maps</h2><table>\
         <tr><th>units</th><td>z: each voxel divided by the noise sd of its region, measured from the half maps' difference</td></tr>\
         <tr><th>z far from the model</th><td>{}</td></tr>\
         <tr><th>local noise sd (1st / 50th / 99th percentile, map units)</th><td>{:.4} / {:.4} / {:.4} in a {:.0} Å window</td></tr>\
         <tr><th>experimental map</th><td>{}</td></tr></table>",
        escape_html(&far),
        p[0],
        p[1],
        p[2],
        noise.window,
        if noise.full_map {
            "the full map, its noise carried over from the halves shell by shell"
        } else {
            "the mean of the two half maps"
        }
    );
    page.push_str(
        "<table id=\"shell-table\"><thead><tr><th>shell (Å)</th><th>Fourier terms</th><th>FSC of the halves</th>\
         <th>noise variance per term</th><th>unexplained signal per term</th><th>weight</th></tr></thead><tbody>",
    );
    for shell in &noise.shells {
        let _ = write!(
            page,
            "<tr><td>{} – {:.2}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3e}</td>\
             <td class=\"num\">{:.3e}</td><td class=\"num\">{:.3}</td></tr>",
            shell.d_max.map_or("∞".to_string(), |d| format!("{d:.2}")),
            shell.d_min,
            shell.terms,
            shell.fsc_half,
            shell.noise_variance,
            shell.unexplained_signal,
            shell.weight
        );
    }
    page.push_str("</tbody></table>\n");
}

fn file_section(page: &mut String, report: &Report, files: &LinkedFiles, link: &dyn Fn(&Path) -> String) {
    page.push_str(
        "<h2 id=\"files\">Files</h2><table><thead><tr><th>input</th><th>bytes</th><th>SHA-256</th></tr></thead><tbody>",
    );
    for input in &report.inputs {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            escape_html(&input.path.display().to_string()),
            input.bytes,
            escape_html(input.sha256.as_deref().unwrap_or(""))
        );
    }
    page.push_str("</tbody></table><table><thead><tr><th>output</th><th>what</th></tr></thead><tbody>");
    let mut row = |path: &Path, what: &str| {
        let _ = write!(page, "<tr><td><a href=\"{0}\">{0}</a></td><td>{1}</td></tr>", link(path), escape_html(what));
    };
    for output in &report.outputs {
        row(&output.path, &format!("{} map", output.kind));
    }
    for script in &files.viewer_scripts {
        let what = if script.extension().is_some_and(|e| e == "cxc") { "ChimeraX script" } else { "Coot script" };
        row(script, what);
    }
    for other in &files.other {
        row(other, "report");
    }
    page.push_str("</tbody></table>\n");
    let _ = writeln!(
        page,
        "<p class=\"muted\">Peak memory {}; stages: {}.</p>",
        report.peak_memory_mb.map_or("unknown".into(), |m| format!("{m:.0} MiB")),
        escape_html(&report.timings.iter().map(|(k, s)| format!("{k} {s:.2} s")).collect::<Vec<_>>().join(", "))
    );
}

fn parameter_section(page: &mut String, report: &Report) {
    page.push_str("<h2 id=\"parameters\">Parameters</h2><p><code>");
    let words = report.parameters.to_arguments();
    page.push_str(&escape_html(&words.join(" ")));
    page.push_str("</code></p>\n");
}
