//! The run report for validation pipelines: a JSON document (schema in docs/report.md) and two CSV
//! tables, written atomically like the maps, plus the peak table printed at the end of a run.

use crate::analysis::peaks::{NEAREST_ATOM_RADIUS, Peak, ResidueScore};
use crate::analysis::placement::PlacementReport;
use crate::difference::{DifferenceMaps, NoiseSummary, Units};
use crate::error::{Error, Result};
use crate::grid::{Map, MapStatistics};
use crate::io::atomic_file::Transaction;
use crate::io::model::Model;
use crate::scaling::local::{GlobalFit, LocalFitSummary};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Version of the report layout; bumped when a field changes meaning or disappears.
pub const REPORT_SCHEMA_VERSION: u32 = 6;

/// An input file, identified by content.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    /// Path as given.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, hex (computed when a report is written).
    pub sha256: Option<String>,
}

/// Size and SHA-256 of a file.
pub fn file_info(path: &Path) -> Result<FileInfo> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(FileInfo { path: path.to_path_buf(), bytes, sha256: Some(sha256) })
}

/// Where the input map sits and what it holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MapSummary {
    /// Voxels along X, Y, Z.
    pub dims: [usize; 3],
    /// Voxel size along X, Y, Z (Å).
    pub voxel_size: [f64; 3],
    /// Centre of voxel (0, 0, 0) (Å).
    pub first_voxel_centre: [f64; 3],
    /// MAPC/MAPR/MAPS of the file.
    pub axis_order: [u8; 3],
    /// NSTART in X, Y, Z order.
    pub nstart: [i64; 3],
    /// ORIGIN header words.
    pub origin: [f64; 3],
    /// Statistics of the input values.
    pub statistics: MapStatistics,
}

impl MapSummary {
    /// Summary of a map.
    pub fn of(map: &Map) -> Self {
        MapSummary {
            dims: map.geometry.dims,
            voxel_size: map.geometry.voxel_size,
            first_voxel_centre: map.geometry.first_voxel_centre,
            axis_order: map.header.axis_order,
            nstart: map.header.nstart,
            origin: map.header.origin,
            statistics: map.statistics(),
        }
    }
}

/// Counts from the model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelSummary {
    /// Atoms read.
    pub atoms: usize,
    /// Hydrogen atoms among them.
    pub hydrogens: usize,
    /// Residues.
    pub residues: usize,
    /// Distinct chain identifiers.
    pub chains: usize,
    /// Resolution recorded in the file, if any.
    pub recorded_resolution: Option<f64>,
    /// The copies made of the model read (NCS, assembly, point group); the counts above are
    /// of the model as run, copies included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<CopySummary>,
}

/// The copies of the model a run made.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CopySummary {
    /// What made them ("operators of assembly 1", "point group I2 about the map's centre (...)").
    pub made_by: String,
    /// Copies, the input's included.
    pub count: usize,
    /// Atoms of the model read.
    pub input_atoms: usize,
    /// Each copy's operator id, in copy order (chains of copy N are named CHAIN-ID).
    pub operators: Vec<String>,
}

impl ModelSummary {
    /// Summary of a model.
    pub fn of(model: &Model) -> Self {
        ModelSummary {
            atoms: model.atoms.len(),
            hydrogens: model.hydrogen_count(),
            residues: model.residues.len(),
            chains: model.chain_count(),
            recorded_resolution: model.resolution,
            copies: model.copies.as_ref().map(|c| CopySummary {
                made_by: c.made_by.clone(),
                count: c.count(),
                input_atoms: c.input_atoms,
                operators: c.operators.iter().map(|o| o.id.clone()).collect(),
            }),
        }
    }
}

/// The fitted scales.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitSummary {
    /// Global fit inside the envelope.
    pub global: GlobalFit,
    /// Sliding-window fit.
    pub local: LocalFitSummary,
    /// Units of the complex difference map.
    pub units: Units,
    /// The sd the complex difference was divided by (input map units); with half maps, the
    /// median local noise sd (input map units).
    pub sigma: f64,
    /// Voxels in the model envelope.
    pub envelope_voxels: usize,
    /// Blur B used by the model map (Å²).
    pub model_map_blur: f64,
    /// With half maps: the noise per resolution shell, the spectral weights, the local noise
    /// level and the z map's calibration far from the model; `null` without half maps.
    pub noise: Option<NoiseSummary>,
    /// With a single map and `solvent_noise=true`: the solvent's share of the box, whether the
    /// weight was applied, and the shells; `null` otherwise.
    pub solvent_noise: Option<crate::difference::SolventNoiseSummary>,
}

/// An output map and its statistics (sigma units).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputSummary {
    /// What it holds.
    pub kind: MapKind,
    /// Path written.
    pub path: PathBuf,
    /// Statistics of the values.
    pub statistics: MapStatistics,
}

/// Peak-search parameters and totals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PeakSummary {
    /// Which map the peaks come from (the complex or the amplitude difference).
    pub map: MapKind,
    /// Units of the threshold and of the peak heights.
    pub units: Units,
    /// Threshold on |value|, in those units.
    pub threshold: f64,
    /// The false discovery rate the threshold was chosen for (`fdr=`), if it was.
    pub fdr: Option<f64>,
    /// Positive blobs found.
    pub positive: usize,
    /// Negative blobs found.
    pub negative: usize,
    /// How many are listed (the strongest first).
    pub listed: usize,
    /// Blobs are listed when their maximum has an atom within this many Å (`none`: anywhere).
    pub search_radius: crate::parameters::SearchRadius,
    /// The mask (`mask=`) the search was limited to, if any.
    pub mask: Option<PathBuf>,
    /// Smallest blob listed, Å³.
    pub min_volume: f64,
    /// Voxels searched (inside the mask and within the radius of an atom): the family of the
    /// false discovery rate.
    pub searched_voxels: usize,
    /// Blobs beyond the threshold that were not listed, by reason.
    pub not_listed: crate::analysis::peaks::NotListed,
}

/// The maps a run writes, as reports name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapKind {
    /// The difference map (experimental minus the locally scaled model map).
    Complex,
    /// The amplitude difference.
    Amplitude,
    /// The fitted local scale k (`scale_map=`).
    LocalScale,
    /// The local noise sd (`noise_map=`).
    NoiseSd,
}

impl MapKind {
    /// The kind as the report spells it.
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Complex => "complex",
            MapKind::Amplitude => "amplitude",
            MapKind::LocalScale => "local_scale",
            MapKind::NoiseSd => "noise_sd",
        }
    }

    /// Whether it is a difference map (peaks, pictures and viewer scripts are of one).
    pub fn is_difference(self) -> bool {
        matches!(self, MapKind::Complex | MapKind::Amplitude)
    }
}

impl std::fmt::Display for MapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How residues were flagged as in negative density, and how many.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResidueFlags {
    /// `fdr` (half maps: q-value of each residue's lowest z, Benjamini-Hochberg over the residues
    /// scored) or `sigma` (a fixed cut at minus the peak threshold).
    pub rule: String,
    /// The false discovery rate of the flags (`fdr` rule).
    pub fdr: Option<f64>,
    /// The cut, in sigma (`sigma` rule).
    pub threshold: Option<f64>,
    /// Whether the flags control how many of them are chance (only with half maps).
    pub significance_controlled: bool,
    /// Residues with at least one atom in the map box.
    pub scored: usize,
    /// Residues flagged.
    pub flagged: usize,
}

impl ResidueFlags {
    /// The summary of `residues` flagged by `rule`.
    pub fn of(rule: crate::analysis::peaks::FlagRule, residues: &[ResidueScore]) -> Self {
        use crate::analysis::peaks::FlagRule;
        let scored = residues.iter().filter(|r| r.atoms_scored > 0).count();
        let flagged = residues.iter().filter(|r| r.in_negative_density).count();
        match rule {
            FlagRule::FalseDiscoveryRate(rate) => ResidueFlags {
                rule: "fdr".into(),
                fdr: Some(rate),
                threshold: None,
                significance_controlled: true,
                scored,
                flagged,
            },
            FlagRule::Sigma(threshold) => ResidueFlags {
                rule: "sigma".into(),
                fdr: None,
                threshold: Some(threshold),
                significance_controlled: false,
                scored,
                flagged,
            },
        }
    }
}

/// Everything a run produced, as written to `json=`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// Layout version, [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// "real_space_diff_map".
    pub program: String,
    /// Program version.
    pub version: String,
    /// Input files.
    pub inputs: Vec<FileInfo>,
    /// Parameters of the difference map.
    pub parameters: crate::parameters::Parameters,
    /// Input map.
    pub map: MapSummary,
    /// Input model.
    pub model: ModelSummary,
    /// How the model sits in the map.
    pub placement: PlacementReport,
    /// Fitted scales.
    pub fit: FitSummary,
    /// Maps written.
    pub outputs: Vec<OutputSummary>,
    /// Peak search.
    pub peak_search: PeakSummary,
    /// Blobs, strongest first.
    pub peaks: Vec<Peak>,
    /// How residues were flagged as in negative density.
    pub residue_flags: ResidueFlags,
    /// Per-residue scores, in model order (with copies made: every copy's residues).
    pub residues: Vec<ResidueScore>,
    /// With copies of the model made: each residue of the input, its copies' scores gathered
    /// (mean of their means; see [`crate::analysis::copies::input_residue_scores`]); empty
    /// otherwise.
    #[serde(default)]
    pub input_residues: Vec<ResidueScore>,
    /// Warnings raised on the way.
    pub warnings: Vec<String>,
    /// Wall time per stage (s), keyed by [`crate::timings::stage_key`] of the stage's name.
    pub timings: std::collections::BTreeMap<String, f64>,
    /// Peak resident memory of the process so far, MiB (Linux; `None` elsewhere).
    pub peak_memory_mb: Option<f64>,
    /// The distribution of the values of the map the peaks come from (units of
    /// `peak_search.units`).
    #[serde(default)]
    pub histogram: Option<crate::analysis::histogram::Histogram>,
    /// A command line that reproduces the run: the program, the input files as given, the
    /// resolution and every parameter that differs from its default; `null` when an input
    /// came from memory (Python).
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

/// Peak resident memory of this process in MiB, from /proc/self/status (VmHWM).
pub fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

impl Report {
    /// The fit part of a difference-map result.
    pub fn fit_of(result: &DifferenceMaps) -> FitSummary {
        FitSummary {
            global: result.global,
            local: result.local,
            units: result.units,
            sigma: result.sigma,
            envelope_voxels: result.envelope_voxels,
            model_map_blur: result.model_map_blur,
            noise: result.noise.clone(),
            solvent_noise: result.solvent_noise.clone(),
        }
    }
}

/// Writes the report as pretty JSON, atomically.
pub fn write_json(out: &Transaction, path: &Path, report: &Report, inputs: &[&Path]) -> Result<()> {
    let text =
        serde_json::to_string_pretty(report).map_err(|e| Error::Invalid(format!("cannot encode the report: {e}")))?;
    out.write(path, inputs, |w| w.write_all(text.as_bytes()))
}

fn csv_field(text: &str) -> String {
    crate::escape::csv_cell(text)
}

fn number(v: f64) -> String {
    if v.is_finite() { format!("{v:.4}") } else { String::new() }
}

/// Writes the peaks and the residues as CSV to `peaks_path` and `residues_path`, atomically.
/// Heights and scores are in `units`, which the last column of every row says (`z` or
/// `sigma`), so that one reader takes tables of both kinds of run.
pub fn write_csv(
    out: &Transaction,
    [peaks_path, residues_path]: [&Path; 2],
    peaks: &[Peak],
    residues: &[ResidueScore],
    units: Units,
    inputs: &[&Path],
) -> Result<()> {
    let unit = units.word();
    out.write(peaks_path, inputs, |w| {
        writeln!(
            w,
            "rank,height,x,y,z,voxels,volume_A3,integrated_A3,chain,residue_name,residue_number,insertion_code,atom_name,distance_A,q_value,copies,units"
        )?;
        for (rank, p) in peaks.iter().enumerate() {
            let near = p.nearest_atom.as_ref();
            writeln!(
                w,
                "{},{},{:.3},{:.3},{:.3},{},{},{},{},{},{},{},{},{},{},{},{unit}",
                rank + 1,
                number(p.height),
                p.position[0],
                p.position[1],
                p.position[2],
                p.voxels,
                number(p.volume),
                number(p.integrated),
                near.map_or(String::new(), |a| csv_field(&a.chain)),
                near.map_or(String::new(), |a| csv_field(&a.residue_name)),
                near.map_or(String::new(), |a| a.residue_number.to_string()),
                near.map_or(String::new(), |a| csv_field(&a.insertion_code)),
                near.map_or(String::new(), |a| csv_field(&a.atom_name)),
                near.map_or(String::new(), |a| number(a.distance)),
                p.q_value.map_or(String::new(), |q| format!("{q:.3e}")),
                p.copies,
            )?;
        }
        Ok(())
    })?;
    out.write(residues_path, inputs, |w| {
        writeln!(
            w,
            "chain,residue_name,residue_number,insertion_code,atoms_scored,mean,min,max,q_value,in_negative_density,units"
        )?;
        for r in residues {
            writeln!(
                w,
                "{},{},{},{},{},{},{},{},{},{},{unit}",
                csv_field(&r.chain),
                csv_field(&r.residue_name),
                r.residue_number,
                csv_field(&r.insertion_code),
                r.atoms_scored,
                number(r.mean),
                number(r.min),
                number(r.max),
                r.q_value.map_or(String::new(), |q| format!("{q:.3e}")),
                r.in_negative_density
            )?;
        }
        Ok(())
    })
}

/// A q-value as tables and pictures show it: two digits, and `<1e-300` for what underflows.
pub fn format_q(q: f64) -> String {
    if q < 1e-300 { "<1e-300".into() } else { format!("{q:.1e}") }
}

/// The strongest `count` peaks as a text table; heights in `units` (a q-value column when the
/// peaks have them).
pub fn peak_table(peaks: &[Peak], count: usize, units: Units) -> String {
    // The height's column carries its unit, and the coordinates theirs: with half maps the
    // unit is z, which must not read as a fourth coordinate.
    let heading = format!("{:>9}", format!("height({})", units.word()));
    let with_q = peaks.iter().any(|p| p.q_value.is_some());
    let with_copies = peaks.iter().any(|p| p.copies > 1);
    let mut out = format!(
        "  rank {heading}     x(A)     y(A)     z(A)   vol(A^3)  nearest atom                 dist(A){}{}\n",
        if with_q { "   q-value" } else { "" },
        if with_copies { "  copies" } else { "" }
    );
    for (rank, p) in peaks.iter().take(count).enumerate() {
        let near = p.nearest_atom.as_ref().map_or(format!("(no atom within {NEAREST_ATOM_RADIUS} Å)"), |a| {
            format!("{}/{}", a.residue_label(), a.atom_name)
        });
        let distance = p.nearest_atom.as_ref().map_or(String::new(), |a| format!("{:.2}", a.distance));
        let q = p.q_value.map_or(String::new(), |q| format!("  {:>8}", format_q(q)));
        let copies = if with_copies { format!("  {:>6}", p.copies) } else { String::new() };
        out.push_str(&format!(
            "  {:>4} {:>9.2} {:>8.2} {:>8.2} {:>8.2} {:>10.1}  {:<28} {:>6}{q}{copies}\n",
            rank + 1,
            p.height,
            p.position[0],
            p.position[1],
            p.position[2],
            p.volume,
            near,
            distance
        ));
    }
    out
}
