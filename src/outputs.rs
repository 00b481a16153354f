//! Every file a run writes, derived in one place from its parameters: which kinds there are
//! ([`OutputKind`]), where each goes ([`OutputLayout`]), and where a batch entry's go
//! ([`entry_parameters`]). The pre-flight check, the writers, the Python package and the batch
//! all take their paths from here, so that a name is spelled once.
//!
//! Naming rules: companions of the difference map `DIR/NAME.ext` sit beside it as
//! `DIR/NAME_chimerax.cxc`, `DIR/NAME_coot.py` and `DIR/NAME_pictures/peak_N.png`; the amplitude
//! map (with `variant=both`) is `DIR/NAME_amplitude.ext`; the CSV tables are `PREFIX_peaks.csv`
//! and `PREFIX_residues.csv`.

use crate::difference::Variant;
use crate::parameters::Parameters;
use std::path::{Path, PathBuf};

/// What a file of a run holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// The (complex) difference map, at `output=`.
    DifferenceMap,
    /// The amplitude difference map: at `output=` with `variant=amplitude`, beside it with
    /// `variant=both`.
    AmplitudeMap,
    /// The fitted local scale, `scale_map=`.
    LocalScaleMap,
    /// The local noise sd, `noise_map=`.
    NoiseMap,
    /// The JSON report, `json=`.
    JsonReport,
    /// The peaks as CSV, from `csv=PREFIX`.
    PeaksTable,
    /// The residues as CSV, from `csv=PREFIX`.
    ResiduesTable,
    /// The HTML page, `html=`.
    HtmlReport,
    /// The ChimeraX script beside the map (`viewer=true`).
    ChimeraxScript,
    /// The Coot script beside the map (`viewer=true`).
    CootScript,
    /// The folder of peak pictures beside the map (`pictures=N`, N > 0).
    PicturesFolder,
    /// The model with each residue's score as its B-factor, `model_scores=`.
    ScoredModel,
    /// With copies made (NCS, `assembly=`, `symmetry=`) and `viewer=true`: the model as run,
    /// every copy, as mmCIF (copied chain names do not fit PDB's two columns) with each
    /// residue's score as B, beside the map; the viewer scripts open it.
    CopiedModel,
}

impl OutputKind {
    /// What messages call it.
    pub fn describe(&self) -> &'static str {
        match self {
            OutputKind::DifferenceMap => "difference map",
            OutputKind::AmplitudeMap => "amplitude map",
            OutputKind::LocalScaleMap => "local scale map",
            OutputKind::NoiseMap => "noise map",
            OutputKind::JsonReport => "JSON report",
            OutputKind::PeaksTable | OutputKind::ResiduesTable => "CSV table",
            OutputKind::HtmlReport => "HTML report",
            OutputKind::ChimeraxScript => "ChimeraX script",
            OutputKind::CootScript => "Coot script",
            OutputKind::PicturesFolder => "pictures folder",
            OutputKind::ScoredModel => "scored model",
            OutputKind::CopiedModel => "model with its copies",
        }
    }

    /// True for the folder of pictures (every other output is a file).
    pub fn is_folder(&self) -> bool {
        *self == OutputKind::PicturesFolder
    }
}

impl From<crate::report::MapKind> for OutputKind {
    fn from(kind: crate::report::MapKind) -> OutputKind {
        use crate::report::MapKind;
        match kind {
            MapKind::Complex => OutputKind::DifferenceMap,
            MapKind::Amplitude => OutputKind::AmplitudeMap,
            MapKind::LocalScale => OutputKind::LocalScaleMap,
            MapKind::NoiseSd => OutputKind::NoiseMap,
        }
    }
}

/// Every output of one run (the maps first).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputLayout {
    planned: Vec<(OutputKind, PathBuf)>,
}

impl OutputLayout {
    /// The outputs `parameters` ask for.
    pub fn of(parameters: &Parameters) -> OutputLayout {
        let outputs = &parameters.outputs;
        let map = &outputs.output;
        let mut planned = match parameters.units.variant {
            Variant::Complex => vec![(OutputKind::DifferenceMap, map.clone())],
            Variant::Amplitude => vec![(OutputKind::AmplitudeMap, map.clone())],
            Variant::Both => {
                vec![(OutputKind::DifferenceMap, map.clone()), (OutputKind::AmplitudeMap, sibling(map, "_amplitude"))]
            }
        };
        planned.extend(outputs.scale_map.clone().map(|p| (OutputKind::LocalScaleMap, p)));
        planned.extend(outputs.noise_map.clone().map(|p| (OutputKind::NoiseMap, p)));
        planned.extend(outputs.json.clone().map(|p| (OutputKind::JsonReport, p)));
        if let Some(prefix) = &outputs.csv {
            planned.push((OutputKind::PeaksTable, suffixed(prefix, "_peaks.csv")));
            planned.push((OutputKind::ResiduesTable, suffixed(prefix, "_residues.csv")));
        }
        planned.extend(outputs.html.clone().map(|p| (OutputKind::HtmlReport, p)));
        planned.extend(outputs.model_scores.clone().map(|p| (OutputKind::ScoredModel, p)));
        if outputs.viewer {
            planned.push((OutputKind::ChimeraxScript, companion_path(map, "_chimerax.cxc")));
            planned.push((OutputKind::CootScript, companion_path(map, "_coot.py")));
            // Written only when the run makes copies of the model.
            planned.push((OutputKind::CopiedModel, companion_path(map, "_copies.cif")));
        }
        if outputs.pictures > 0 {
            planned.push((OutputKind::PicturesFolder, companion_path(map, "_pictures")));
        }
        OutputLayout { planned }
    }

    /// Every planned output with its kind.
    pub fn planned(&self) -> &[(OutputKind, PathBuf)] {
        &self.planned
    }

    /// Where the output of `kind` goes, when the run writes one.
    pub fn path(&self, kind: OutputKind) -> Option<&Path> {
        self.planned.iter().find(|(k, _)| *k == kind).map(|(_, p)| p.as_path())
    }

    /// The picture of the peak ranked `rank` (from 1), when pictures are drawn.
    pub fn picture(&self, rank: usize) -> Option<PathBuf> {
        self.path(OutputKind::PicturesFolder).map(|folder| picture_in(folder, rank))
    }
}

/// The picture of the peak ranked `rank` in the pictures' `folder`: `peak_N.png`.
pub fn picture_in(folder: &Path, rank: usize) -> PathBuf {
    folder.join(format!("peak_{rank}.png"))
}

/// `DIR/STEM{suffix}` beside `output`, where STEM is the output's name without its extension
/// (`diff.ccp4` and `_coot.py` give `diff_coot.py`).
pub fn companion_path(output: &Path, suffix: &str) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    output.with_file_name(format!("{stem}{suffix}"))
}

/// `DIR/STEM{suffix}.ext` beside `path` (the amplitude map beside the difference map).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    path.with_file_name(name)
}

/// `PREFIX{suffix}`: the suffix added to the whole name (a CSV prefix keeps any dot in it).
fn suffixed(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    prefix.with_file_name(name)
}

/// A batch entry's difference map, in its folder.
pub const ENTRY_MAP: &str = "difference.ccp4";
/// A batch entry's JSON report, in its folder.
pub const ENTRY_REPORT: &str = "report.json";
/// A batch entry's HTML page, in its folder, unless the manifest names another.
pub const ENTRY_PAGE: &str = "report.html";

/// A batch entry's parameters with every output inside its folder `dir`: the map, the report
/// and the page under the batch's names, and the files a manifest may name (a plain file name,
/// checked when the manifest was read) placed there.
pub fn entry_parameters(parameters: &Parameters, dir: &Path) -> Parameters {
    let mut parameters = parameters.clone();
    let outputs = &mut parameters.outputs;
    outputs.output = dir.join(ENTRY_MAP);
    outputs.json = Some(dir.join(ENTRY_REPORT));
    outputs.html = Some(dir.join(outputs.html.as_deref().unwrap_or(Path::new(ENTRY_PAGE))));
    for named in [&mut outputs.csv, &mut outputs.scale_map, &mut outputs.noise_map, &mut outputs.model_scores] {
        *named = named.as_ref().map(|name| dir.join(name));
    }
    parameters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_is_named_by_the_rules() {
        let mut p = Parameters::default();
        p.outputs.output = PathBuf::from("out/diff.ccp4");
        p.outputs.csv = Some(PathBuf::from("out/run.v2"));
        p.outputs.json = Some(PathBuf::from("r.json"));
        p.units.variant = Variant::Both;
        let layout = OutputLayout::of(&p);
        let path = |kind| layout.path(kind).map(Path::to_path_buf);
        assert_eq!(path(OutputKind::AmplitudeMap), Some(PathBuf::from("out/diff_amplitude.ccp4")));
        assert_eq!(path(OutputKind::PeaksTable), Some(PathBuf::from("out/run.v2_peaks.csv")));
        assert_eq!(path(OutputKind::CootScript), Some(PathBuf::from("out/diff_coot.py")));
        assert_eq!(path(OutputKind::CopiedModel), Some(PathBuf::from("out/diff_copies.cif")));
        assert_eq!(layout.picture(2), Some(PathBuf::from("out/diff_pictures/peak_2.png")));
        assert_eq!(path(OutputKind::HtmlReport), None);
        p.units.variant = Variant::Amplitude;
        p.outputs.pictures = 0;
        let layout = OutputLayout::of(&p);
        assert_eq!(layout.path(OutputKind::AmplitudeMap), Some(Path::new("out/diff.ccp4")));
        assert!(layout.path(OutputKind::DifferenceMap).is_none() && layout.picture(1).is_none());
        assert_eq!(companion_path(Path::new("diff"), "_pictures"), Path::new("diff_pictures"));
        assert_eq!(sibling(Path::new("diff"), "_amplitude"), Path::new("diff_amplitude"));
    }

    #[test]
    fn a_batch_entry_writes_only_in_its_folder() {
        let mut p = Parameters::default();
        p.outputs.csv = Some(PathBuf::from("tables"));
        let entry = entry_parameters(&p, Path::new("batch/e1"));
        for (_, path) in OutputLayout::of(&entry).planned() {
            assert!(path.starts_with("batch/e1"), "{}", path.display());
        }
    }
}
