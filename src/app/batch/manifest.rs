//! The manifest: one entry per line (TSV or CSV with a header: `id`, `model`, `map`, optional
//! `half_map_1` and `half_map_2` (with half maps the `map` field may be empty), optional
//! `resolution`, an optional `options` column of `key=value` words, and columns named after
//! any option key). Every entry's options parse into the same [`Parameters`] as the command
//! line, so a bad value is reported with its line before anything runs.

use crate::app::args::{parse_parameters, valid_keys};
use crate::error::{Error, Result};
use crate::parameters::Parameters;
use std::path::{Path, PathBuf};

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Entry id (folder name).
    pub id: String,
    /// Model path (resolved against the manifest's folder).
    pub model: PathBuf,
    /// Map path (resolved against the manifest's folder); `None` when the entry has half maps
    /// and no full map.
    pub map: Option<PathBuf>,
    /// Half-map paths (resolved against the manifest's folder), when given.
    pub half_maps: Option<[PathBuf; 2]>,
    /// The entry's parameters (the output paths are the batch's to set).
    pub parameters: Parameters,
    /// The EMDB id (`emdb` column): what the entry does not give (model, map, half maps,
    /// resolution) comes from the archives, fetched when the entry runs.
    #[serde(default)]
    pub emdb: Option<String>,
    /// The archive files the entry was given once fetched (empty until then, and for entries
    /// of local paths): URL, size, ETag, for the stamps.
    #[serde(default)]
    pub sources: Vec<crate::io::archive::fetch::Fetched>,
}

fn split_line(line: &str, separator: char) -> Vec<String> {
    if separator == '\t' {
        return line.split('\t').map(|f| f.trim().to_string()).collect();
    }
    // CSV with double-quoted fields.
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field).trim().to_string()),
            (c, _) => field.push(c),
        }
    }
    fields.push(field.trim().to_string());
    fields
}

impl Entry {
    /// The entry's input files: the model, then the map, then the half maps, then the mask.
    pub fn input_files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> =
            Some(self.model.as_path()).filter(|m| !m.as_os_str().is_empty()).into_iter().collect();
        files.extend(self.map.as_deref());
        files.extend(self.half_maps.iter().flatten().map(PathBuf::as_path));
        files.extend(self.parameters.peaks.mask.as_deref());
        files
    }

    /// The map whose header sizes the job: the full map, else the first half map.
    pub fn sizing_map(&self) -> &Path {
        match (&self.map, &self.half_maps) {
            (Some(map), _) => map,
            (None, Some([first, _])) => first,
            (None, None) => &self.model,
        }
    }
}

/// An entry writes only inside its own folder: the files a manifest may name (`html=`, `csv=`,
/// `scale_map=`, `noise_map=`) must be plain file names, which the batch puts there; the map and
/// the report are the batch's to name. (Before, `html=/elsewhere/x.html` in a manifest wrote
/// wherever it pointed, over existing files.)
fn confine_outputs(parameters: &Parameters) -> std::result::Result<(), String> {
    let defaults = crate::parameters::OutputParameters::default();
    let outputs = &parameters.outputs;
    if outputs.output != defaults.output || outputs.json.is_some() {
        return Err(format!(
            "output= and json= are the batch's to name (DIR/<id>/{} and {})",
            crate::outputs::ENTRY_MAP,
            crate::outputs::ENTRY_REPORT
        ));
    }
    for (key, value) in [
        ("html", &outputs.html),
        ("csv", &outputs.csv),
        ("scale_map", &outputs.scale_map),
        ("noise_map", &outputs.noise_map),
        ("model_scores", &outputs.model_scores),
    ] {
        let Some(value) = value else { continue };
        let mut parts = value.components();
        let plain = matches!((parts.next(), parts.next()), (Some(std::path::Component::Normal(name)), None)
            if !name.to_string_lossy().starts_with('.') && !name.to_string_lossy().contains(['\\', ':']));
        if !plain {
            return Err(format!(
                "{key}={} must be a plain file name: an entry writes only inside its own folder DIR/<id>/",
                value.display()
            ));
        }
    }
    Ok(())
}

/// Reads a manifest. Errors name the file and the line.
pub fn read_manifest(path: &Path) -> Result<Vec<Entry>> {
    crate::limits::ensure_regular_file(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    // Spreadsheet programs save UTF-8 with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let bad = |line: usize, message: String| Error::Invalid(format!("{}:{line}: {message}", path.display()));
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (header_line, header) = lines.next().ok_or_else(|| bad(1, "the manifest is empty".into()))?;
    let separator = if header.contains('\t') { '\t' } else { ',' };
    let columns: Vec<String> = split_line(header, separator).iter().map(|c| c.to_ascii_lowercase()).collect();
    let column = |name: &str| columns.iter().position(|c| c == name);
    let emdb_col = column("emdb");
    let (id_col, model_col, map_col) = (column("id"), column("model"), column("map"));
    let Some(id_col) = id_col.filter(|_| emdb_col.is_some() || (model_col.is_some() && map_col.is_some())) else {
        return Err(bad(
            header_line + 1,
            format!(
                "the header must name the columns id, model and map (or id and emdb, for entries by EMDB id); it has {columns:?}"
            ),
        ));
    };
    let (half1_col, half2_col) = (column("half_map_1"), column("half_map_2"));
    if half1_col.is_some() != half2_col.is_some() {
        return Err(bad(
            header_line + 1,
            "half maps come in pairs: give both columns half_map_1 and half_map_2".into(),
        ));
    }
    let fixed: Vec<usize> =
        [Some(id_col), model_col, map_col, half1_col, half2_col, emdb_col].into_iter().flatten().collect();
    let valid_keys = valid_keys();
    for (i, c) in columns.iter().enumerate() {
        if !fixed.contains(&i) && c != "options" && !valid_keys.contains(c) {
            return Err(bad(
                header_line + 1,
                format!(
                    "unknown column '{c}'{}\nValid columns: id, emdb, model, map, half_map_1, half_map_2, options, and the option keys {}",
                    crate::suggest::did_you_mean(
                        c,
                        ["id", "emdb", "model", "map", "half_map_1", "half_map_2", "options"]
                            .into_iter()
                            .chain(valid_keys.iter().map(String::as_str))
                    ),
                    valid_keys.join(", ")
                ),
            ));
        }
    }
    let mut entries: Vec<Entry> = Vec::new();
    for (n, line) in lines {
        let fields = split_line(line, separator);
        let get = |i: usize| fields.get(i).map(String::as_str).unwrap_or("");
        let id = get(id_col).to_string();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) || id.starts_with('.') {
            return Err(bad(n + 1, format!("entry id '{id}' must be non-empty letters, digits, '.', '_' or '-'")));
        }
        if entries.iter().any(|e| e.id == id) {
            return Err(bad(n + 1, format!("entry id '{id}' appears twice")));
        }
        let halves = (half1_col.map(get).unwrap_or(""), half2_col.map(get).unwrap_or(""));
        let half_maps = match halves {
            ("", "") => None,
            (a, b) if !a.is_empty() && !b.is_empty() => Some([base.join(a), base.join(b)]),
            _ => return Err(bad(n + 1, format!("entry '{id}' has one half map; give both or neither"))),
        };
        let cell = |c: Option<usize>| c.map(get).unwrap_or("");
        let emdb = Some(cell(emdb_col)).filter(|e| !e.is_empty()).map(str::to_string);
        if let Some(emdb) = &emdb {
            crate::io::archive::layout::EmdbId::parse(emdb).map_err(|e| bad(n + 1, format!("entry '{id}': {e}")))?;
        } else if cell(model_col).is_empty() || (cell(map_col).is_empty() && half_maps.is_none()) {
            return Err(bad(n + 1, format!("entry '{id}' needs a model and a map (or two half maps, or an emdb id)")));
        }
        let mut options = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let value = get(i);
            if fixed.contains(&i) || value.is_empty() {
                continue;
            }
            if c == "options" {
                options.extend(value.split_whitespace().map(str::to_string));
            } else {
                options.push(format!("{c}={value}"));
            }
        }
        let mut parameters =
            parse_parameters(&options).map_err(|message| bad(n + 1, format!("entry '{id}': {message}")))?;
        // The mask is an input like the maps: relative to the manifest.
        parameters.peaks.mask = parameters.peaks.mask.map(|m| base.join(m));
        confine_outputs(&parameters).map_err(|message| bad(n + 1, format!("entry '{id}': {message}")))?;
        // An entry by EMDB id may get its half maps from the archive: checked again then.
        crate::parameters::Settings::check(parameters.clone(), half_maps.is_some() || emdb.is_some())
            .map_err(|e| bad(n + 1, format!("entry '{id}': {e}")))?;
        let map = Some(cell(map_col)).filter(|m| !m.is_empty()).map(|m| base.join(m));
        // An entry by EMDB id without a model column gets its model when it is fetched.
        let model = Some(cell(model_col)).filter(|m| !m.is_empty()).map_or_else(PathBuf::new, |m| base.join(m));
        entries.push(Entry { id, model, map, half_maps, parameters, emdb, sources: Vec::new() });
    }
    Ok(entries)
}
