//! Every parameter of a run, in one typed structure that every entry point parses into: the
//! command line (`key=value` or `--key value`), a batch manifest's columns, a batch entry's
//! JSON, and Python's keyword arguments (converted by type, not through text).
//!
//! Each default is written once: the science's option structs own theirs
//! ([`DifferenceOptions::new`], [`LocalScalingOptions::default`],
//! [`crate::density::model_map::ModelMapOptions::new`]), the sections here take theirs from
//! those (the peak and output defaults from [`crate::defaults`]), and the command line's
//! defaults are these sections' `Default` values. Values are checked once, by
//! [`Settings::check`], before any file is read; the pipeline takes only [`Settings`]. Reports
//! and batch stamps record the structure as it is, with the same spellings as the command
//! line (`variant: "complex"`, `edge: "soft"`).

use crate::defaults::*;
use crate::density::filter::ResolutionEdge;
use crate::density::model_map::ModelMapOptions;
use crate::difference::{DifferenceOptions, SigmaScope, Variant};
use crate::error::{Error, Result};
use crate::io::model::copies::CopyRequest;
use crate::io::model::point_group::PointGroup;
#[cfg(doc)]
use crate::scaling::local::LocalScalingOptions;
use crate::scaling::spectral::SpectralWeighting;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};
use std::path::PathBuf;

/// How the resolution limit is applied: the command line's `edge=soft|sharp`, which with
/// `edge_width=` spells a [`ResolutionEdge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Raised cosine over the last `edge_width` of `1/d_min`.
    Soft,
    /// Everything up to `1/d_min`, nothing beyond (as Phenix).
    Sharp,
}

/// The library's defaults, from which every section below takes its own (the resolution does
/// not matter for any of them).
fn science() -> DifferenceOptions {
    DifferenceOptions::new(1.0)
}

/// The model map.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct ModelMapParameters {
    /// Resolution edge: soft (raised cosine inside d_min) or sharp (as Phenix).
    #[arg(long, value_enum, default_value_t = ModelMapParameters::default().edge)]
    pub edge: EdgeKind,
    /// Width of the soft edge as a fraction of 1/d_min.
    #[arg(long = "edge_width", alias = "edge-width", default_value_t = ModelMapParameters::default().edge_width,
          value_name = "FRACTION")]
    pub edge_width: f64,
    /// Include hydrogen atoms in the model map.
    #[arg(long, default_value_t = ModelMapParameters::default().hydrogens, value_parser = BoolishValueParser::new(),
          value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub hydrogens: bool,
}

impl Default for ModelMapParameters {
    fn default() -> Self {
        let model_map = science().model_map;
        let (edge, edge_width) = match model_map.edge {
            ResolutionEdge::Sharp => (EdgeKind::Sharp, DEFAULT_EDGE_WIDTH),
            ResolutionEdge::RaisedCosine { width } => (EdgeKind::Soft, width),
        };
        ModelMapParameters { edge, edge_width, hydrogens: model_map.hydrogens }
    }
}

/// The local fit of the model map to the experimental map.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct ScalingParameters {
    /// Sliding-window edge length in Ångström (default 20; 30 with half maps, whose spectral
    /// weight broadens features).
    #[arg(long, value_name = "ANGSTROM")]
    pub window: Option<f64>,
    /// Fit a local offset as well as a local scale (obs ≈ a + k·calc).
    #[arg(long, default_value_t = ScalingParameters::default().offset, value_parser = BoolishValueParser::new(),
          value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub offset: bool,
    /// Also fit a local relative B (model maps at B -30, 0, +30, +60 Å²; four times the model-map cost).
    #[arg(long = "local_b", alias = "local-b", default_value_t = ScalingParameters::default().local_b,
          value_parser = BoolishValueParser::new(), value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true")]
    pub local_b: bool,
    /// Fit twice, leaving out of the second fit the voxels the model does not explain (a
    /// missing ligand), so that they do not pull the scale and dig false holes beside them.
    #[arg(long = "robust_fit", alias = "robust-fit", default_value_t = ScalingParameters::default().robust_fit,
          value_parser = BoolishValueParser::new(), value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true")]
    pub robust_fit: bool,
}

impl Default for ScalingParameters {
    fn default() -> Self {
        // The window is settled per run: the library's 20 Å, or the half-map default.
        let science = science();
        ScalingParameters {
            window: None,
            offset: science.scaling.offset,
            local_b: science.local_b,
            robust_fit: science.scaling.robust,
        }
    }
}

/// What the output map is and in which units.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct UnitParameters {
    /// complex (experimental minus scaled model), amplitude, or both.
    #[arg(long, value_enum, default_value_t = UnitParameters::default().variant)]
    pub variant: Variant,
    /// Where sigma is measured: envelope (within 3 Å of the model) or box (the whole map).
    #[arg(long = "sigma_scope", alias = "sigma-scope", value_enum, default_value_t = UnitParameters::default().sigma_scope)]
    pub sigma_scope: SigmaScope,
}

impl Default for UnitParameters {
    fn default() -> Self {
        let science = science();
        UnitParameters { variant: science.variant, sigma_scope: science.sigma_scope }
    }
}

/// How half maps are used (ignored without them).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct NoiseParameters {
    /// With half maps: weight of each resolution shell: matched (√S/σ², the most contrast),
    /// servalcat (√S/(S+σ²)) or none.
    #[arg(long = "spectral_weight", alias = "spectral-weight", value_enum,
          default_value_t = NoiseParameters::default().spectral_weight)]
    pub spectral_weight: SpectralWeighting,
    /// With half maps: width of the window in which the local noise sd is measured (Å).
    #[arg(long = "noise_window", alias = "noise-window", default_value_t = NoiseParameters::default().noise_window,
          value_name = "ANGSTROM")]
    pub noise_window: f64,
    /// Without half maps: estimate the noise spectrum from the solvent (farther than 8 Å from
    /// every atom; needs an unmasked map) and weight the difference by resolution shell with it.
    #[arg(long = "solvent_noise", alias = "solvent-noise", default_value_t = NoiseParameters::default().solvent_noise,
          value_parser = BoolishValueParser::new(), value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true")]
    pub solvent_noise: bool,
}

impl Default for NoiseParameters {
    fn default() -> Self {
        let science = science();
        NoiseParameters {
            spectral_weight: science.spectral_weight,
            noise_window: science.noise_window,
            solvent_noise: science.solvent_noise,
        }
    }
}

/// The science's choices, spelled on the command line as in the reports (`variant=both`): the
/// clap side of those enums lives here, with the settings, not in the science modules.
macro_rules! command_line_values {
    ($($type:ty { $($variant:ident => $name:literal),+ $(,)? })*) => {$(
        impl clap::ValueEnum for $type {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(<$type>::$variant),+]
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(clap::builder::PossibleValue::new(match self { $(<$type>::$variant => $name),+ }))
            }
        }
    )*};
}

command_line_values! {
    Variant { Complex => "complex", Amplitude => "amplitude", Both => "both" }
    SigmaScope { Envelope => "envelope", Box => "box" }
    SpectralWeighting { Matched => "matched", Servalcat => "servalcat", None => "none" }
}

/// How far from the model the peak search looks: a distance in Å, or the whole box (`none`).
/// Written as a number, or the word `none`, in reports and stamps alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchRadius(pub Option<f64>);

impl std::str::FromStr for SearchRadius {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" | "box" | "all" => Ok(SearchRadius(None)),
            number => number
                .parse::<f64>()
                .map(|r| SearchRadius(Some(r)))
                .map_err(|_| format!("'{text}' is neither a distance in Å nor 'none'")),
        }
    }
}

impl std::fmt::Display for SearchRadius {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(r) => write!(f, "{r}"),
            None => write!(f, "none"),
        }
    }
}

impl serde::Serialize for SearchRadius {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Some(r) => serializer.serialize_f64(r),
            None => serializer.serialize_str("none"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for SearchRadius {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Form {
            Number(f64),
            Text(String),
        }
        match Form::deserialize(deserializer)? {
            Form::Number(r) => Ok(SearchRadius(Some(r))),
            Form::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The peak search and its listing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct PeakParameters {
    /// Peaks: blobs of the difference map beyond this many sigma (positive and negative).
    #[arg(long = "peak_sigma", alias = "peak-sigma", default_value_t = PeakParameters::default().peak_sigma,
          value_name = "SIGMA")]
    pub peak_sigma: f64,
    /// With half maps: list only the blobs (formed at peak_sigma) whose q-value is at most this
    /// false discovery rate (for example 0.01: at most about 1% of the listed blobs are noise),
    /// and flag residues in negative density at this rate (0.01 when not given).
    #[arg(long, value_name = "RATE")]
    pub fdr: Option<f64>,
    /// List only blobs whose maximum is within this many Å of an atom (`none`: the whole box,
    /// where an unmasked map's noise and unmodelled molecules are).
    #[arg(long = "search_radius", alias = "search-radius", default_value_t = PeakParameters::default().search_radius,
          value_name = "ANGSTROM|none")]
    pub search_radius: SearchRadius,
    /// List only blobs whose maximum lies where this map (on the same grid as the difference
    /// map, for example the deposited EMDB mask) is above 0.5.
    #[arg(long, value_name = "FILE")]
    pub mask: Option<PathBuf>,
    /// List only blobs of at least this volume (Å³).
    #[arg(long = "min_volume", alias = "min-volume", default_value_t = PeakParameters::default().min_volume,
          value_name = "A3")]
    pub min_volume: f64,
    /// How many of the strongest peaks to print.
    #[arg(long = "peaks_shown", alias = "peaks-shown", default_value_t = PeakParameters::default().peaks_shown,
          value_name = "N")]
    pub peaks_shown: usize,
    /// How many peaks the JSON and CSV reports list at most (the totals are always reported).
    #[arg(long = "max_peaks", alias = "max-peaks", default_value_t = PeakParameters::default().max_peaks, value_name = "N")]
    pub max_peaks: usize,
}

impl Default for PeakParameters {
    fn default() -> Self {
        PeakParameters {
            peak_sigma: DEFAULT_PEAK_SIGMA,
            fdr: None,
            search_radius: SearchRadius(Some(DEFAULT_SEARCH_RADIUS)),
            mask: None,
            min_volume: DEFAULT_MIN_VOLUME,
            peaks_shown: DEFAULT_PEAKS_SHOWN,
            max_peaks: DEFAULT_MAX_PEAKS,
        }
    }
}

/// Files written besides the difference map's own.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct OutputParameters {
    /// Output difference map (CCP4/MRC).
    #[arg(long, default_value_os_t = OutputParameters::default().output, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write the fitted local scale k as a map.
    #[arg(long = "scale_map", alias = "scale-map", value_name = "FILE")]
    pub scale_map: Option<PathBuf>,
    /// Write a JSON report (inputs with checksums, parameters, statistics, scales, peaks, residues).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write PREFIX_peaks.csv and PREFIX_residues.csv.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// With half maps: also write the local noise sd (input map units) as a map.
    #[arg(long = "noise_map", alias = "noise-map", value_name = "FILE")]
    pub noise_map: Option<PathBuf>,
    /// Write NAME_chimerax.cxc and NAME_coot.py beside the output (the model, the maps at
    /// +-peak_sigma and a marker on each listed peak).
    #[arg(long, default_value_t = OutputParameters::default().viewer, value_parser = BoolishValueParser::new(),
          value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub viewer: bool,
    /// Draw a PNG of three slices through each of the N strongest peaks, in NAME_pictures/
    /// (0: none).
    #[arg(long, default_value_t = OutputParameters::default().pictures, value_name = "N")]
    pub pictures: usize,
    /// Write a self-contained HTML report of the run (inputs, fit, peaks with their pictures).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write a copy of the model whose B-factors are each residue's mean difference value at
    /// its atoms (.cif: mmCIF with every score as its own category; .pdb: PDB), to colour by.
    #[arg(long = "model_scores", alias = "model-scores", value_name = "FILE")]
    #[serde(default)]
    pub model_scores: Option<PathBuf>,
    /// The experimental map's contour level in the viewer scripts, in the map's own units
    /// (default: half the mean density at the model's atoms; an entry by EMDB id takes the
    /// authors' primary contour level from its header).
    #[arg(long = "map_level", alias = "map-level", value_name = "LEVEL")]
    #[serde(default)]
    pub map_level: Option<f64>,
}

impl Default for OutputParameters {
    fn default() -> Self {
        OutputParameters {
            output: PathBuf::from(DEFAULT_OUTPUT),
            scale_map: None,
            json: None,
            csv: None,
            noise_map: None,
            viewer: true,
            pictures: DEFAULT_PICTURES,
            html: None,
            model_scores: None,
            map_level: None,
        }
    }
}

/// The copies of the model a run makes (see [`crate::io::model::copies`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct CopyParameters {
    /// Generate the NCS copies the model file marks "generate" (MTRIX without iGiven,
    /// _struct_ncs_oper code generate), as gemmi's expand_ncs; false: the atoms as written.
    #[arg(long, default_value_t = CopyParameters::default().ncs, value_parser = BoolishValueParser::new(),
          value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub ncs: bool,
    /// Build this assembly of the model file (REMARK 350 BIOMOLECULE, _pdbx_struct_assembly_gen
    /// assembly_id), as gemmi's make_assembly.
    #[arg(long, value_name = "ID")]
    pub assembly: Option<String>,
    /// Apply this point group about the map box's centre, in RELION's orientations (as
    /// servalcat --pg): Cn, Dn, T, O, I (= I2), I1-I4.
    #[arg(long, value_name = "GROUP")]
    pub symmetry: Option<PointGroup>,
}

impl Default for CopyParameters {
    fn default() -> Self {
        let request = CopyRequest::default();
        CopyParameters { ncs: request.ncs, assembly: request.assembly, symmetry: request.symmetry }
    }
}

impl CopyParameters {
    /// The request these parameters make.
    pub fn request(&self) -> CopyRequest {
        CopyRequest { ncs: self.ncs, assembly: self.assembly.clone(), symmetry: self.symmetry }
    }
}

/// Every parameter of a run.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct Parameters {
    /// Resolution d_min in Ångström; required unless the model file records it.
    #[arg(long, alias = "d_min", value_name = "ANGSTROM")]
    pub resolution: Option<f64>,
    /// The model's copies.
    #[command(flatten)]
    pub copies: CopyParameters,
    /// The model map.
    #[command(flatten)]
    pub model_map: ModelMapParameters,
    /// The local fit.
    #[command(flatten)]
    pub scaling: ScalingParameters,
    /// Output units.
    #[command(flatten)]
    pub units: UnitParameters,
    /// Half maps.
    #[command(flatten)]
    pub noise: NoiseParameters,
    /// Peak search.
    #[command(flatten)]
    pub peaks: PeakParameters,
    /// Output files.
    #[command(flatten)]
    pub outputs: OutputParameters,
}

impl Parameters {
    /// Checks every value that can be checked without the input files; the message names the
    /// key as the command line (and Python) spell it. The values the science computes with
    /// are checked by the science's own [`DifferenceOptions::check`], once, through here.
    fn validate(&self) -> Result<()> {
        // Any resolution stands in when the model file will give it: nothing else depends on it.
        self.difference_options(self.resolution.unwrap_or(1.0)).check()?;
        let positive = |value: f64, key: &str, what: &str| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(Error::Usage(format!("{key} must be a positive number{what}, got {value}")))
            }
        };
        positive(self.peaks.peak_sigma, "peak_sigma", "")?;
        if let Some(radius) = self.peaks.search_radius.0 {
            positive(radius, "search_radius", " of Ångström (or none)")?;
        }
        if !(self.peaks.min_volume.is_finite() && self.peaks.min_volume >= 0.0) {
            return Err(Error::Usage(format!(
                "min_volume must be zero or a positive number of Å³, got {}",
                self.peaks.min_volume
            )));
        }
        if let Some(rate) = self.peaks.fdr
            && !(rate > 0.0 && rate < 1.0)
        {
            return Err(Error::Usage(format!("fdr must be between 0 and 1, got {rate}")));
        }
        if self.copies.assembly.is_some() && self.copies.symmetry.is_some() {
            return Err(Error::Usage(
                "assembly= and symmetry= are two ways to make copies of the model: give one".into(),
            ));
        }
        Ok(())
    }

    /// The resolution edge these parameters describe.
    pub fn resolution_edge(&self) -> ResolutionEdge {
        match self.model_map.edge {
            EdgeKind::Sharp => ResolutionEdge::Sharp,
            EdgeKind::Soft => ResolutionEdge::RaisedCosine { width: self.model_map.edge_width },
        }
    }

    /// The model map's options at resolution `d_min`.
    pub fn model_map_options(&self, d_min: f64) -> ModelMapOptions {
        ModelMapOptions {
            edge: self.resolution_edge(),
            hydrogens: self.model_map.hydrogens,
            ..ModelMapOptions::new(d_min)
        }
    }

    /// The parameters with every value that depends on the inputs settled: the resolution and
    /// the window (which defaults differently with half maps, `shortest_edge` being the map
    /// box's shortest edge in Å). Reports record these.
    pub fn settled(&self, resolution: f64, half_maps: bool, shortest_edge: f64) -> Parameters {
        let mut settled = Parameters { resolution: Some(resolution), ..self.clone() };
        let default = if half_maps { half_map_window(shortest_edge) } else { science().scaling.window };
        settled.scaling.window = Some(self.scaling.window.unwrap_or(default));
        settled
    }

    /// The local-fit window (Å), the single-map default when not settled.
    pub fn window(&self) -> f64 {
        self.scaling.window.unwrap_or(science().scaling.window)
    }

    /// The difference map's options at resolution `d_min` (the resolution the run settled on).
    pub fn difference_options(&self, d_min: f64) -> DifferenceOptions {
        let defaults = DifferenceOptions::new(d_min);
        DifferenceOptions {
            model_map: self.model_map_options(d_min),
            variant: self.units.variant,
            scaling: crate::scaling::local::LocalScalingOptions {
                window: self.window(),
                offset: self.scaling.offset,
                robust: self.scaling.robust_fit,
                ..defaults.scaling
            },
            local_b: self.scaling.local_b,
            sigma_scope: self.units.sigma_scope,
            spectral_weight: self.noise.spectral_weight,
            noise_window: self.noise.noise_window,
            solvent_noise: self.noise.solvent_noise,
            keep_local_fields: self.outputs.scale_map.is_some(),
            keep_noise_map: self.outputs.noise_map.is_some(),
            ..defaults
        }
    }

    /// The parameters as `key=value` words that the command line parses back to the same
    /// values (the batch passes them to each entry's process this way).
    pub fn to_arguments(&self) -> Vec<String> {
        let value = serde_json::to_value(self).expect("parameters serialise");
        let mut words = Vec::new();
        flatten_words(&value, &mut words);
        words
    }
}

pub use crate::difference::half_map_window;

/// Parameters checked once, for a job with or without half maps: the only form the pipeline
/// ([`crate::pipeline`]) takes, so that no later stage checks a value again (ripgrep's
/// `LowArgs` -> `HiArgs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    parameters: Parameters,
    half_maps: bool,
}

impl Settings {
    /// Checks the values, and the combinations that need (or exclude) half maps.
    pub fn check(parameters: Parameters, half_maps: bool) -> Result<Settings> {
        parameters.validate()?;
        if parameters.peaks.fdr.is_some() && !half_maps {
            return Err(Error::Usage(
                "fdr= needs half maps (half_map=H1 half_map=H2): without them the map's units are not calibrated \
                 against noise, so a false discovery rate cannot be computed; use peak_sigma="
                    .into(),
            ));
        }
        let lowest = crate::analysis::significance::LOWEST_BLOB_LEVEL;
        if parameters.peaks.fdr.is_some() && parameters.peaks.peak_sigma < lowest {
            return Err(Error::Usage(format!(
                "fdr= tests the blobs formed at peak_sigma, which must then be at least {lowest} (got {}): below it \
                 noise blobs merge and their count is not known",
                parameters.peaks.peak_sigma
            )));
        }
        if parameters.noise.solvent_noise && half_maps {
            return Err(Error::Usage(
                "solvent_noise= is for a single map: with half maps the noise is measured from their difference".into(),
            ));
        }
        if parameters.outputs.noise_map.is_some() && !half_maps {
            return Err(Error::Usage("noise_map= needs half maps (half_map=H1 half_map=H2)".into()));
        }
        Ok(Settings { parameters, half_maps })
    }

    /// The parameters.
    pub fn parameters(&self) -> &Parameters {
        &self.parameters
    }

    /// Whether they were checked for a job with half maps.
    pub fn half_maps(&self) -> bool {
        self.half_maps
    }
}

impl std::ops::Deref for Settings {
    type Target = Parameters;

    fn deref(&self) -> &Parameters {
        &self.parameters
    }
}

/// The option keys ("resolution", "window", ...), for messages and for Python's keywords.
pub fn parameter_keys() -> Vec<String> {
    use clap::CommandFactory;
    #[derive(clap::Parser)]
    struct Words {
        #[command(flatten)]
        parameters: Parameters,
    }
    Words::command().get_arguments().filter_map(|a| a.get_long().map(str::to_string)).collect()
}

/// Parses `key=value` words (a batch manifest's options, Python's keywords) into
/// [`Parameters`], as the command line would; the error names the offending word.
pub fn parse_parameters(words: &[String]) -> std::result::Result<Parameters, String> {
    use clap::Parser;
    #[derive(clap::Parser)]
    #[command(no_binary_name = true)]
    struct Words {
        #[command(flatten)]
        parameters: Parameters,
    }
    let argv: Vec<String> = words.iter().map(|w| format!("--{}", w.trim_start_matches('-'))).collect();
    Words::try_parse_from(argv).map(|w| w.parameters).map_err(|e| {
        if e.kind() == clap::error::ErrorKind::UnknownArgument {
            let offending = e.get(clap::error::ContextKind::InvalidArg).map(|v| v.to_string()).unwrap_or_default();
            let key = offending.trim_start_matches('-').split('=').next().unwrap_or("").to_string();
            let keys = parameter_keys();
            return format!(
                "unknown option '{key}'{}",
                crate::suggest::did_you_mean(&key, keys.iter().map(String::as_str))
            );
        }
        let text = e.to_string();
        text.lines().next().unwrap_or("invalid options").trim_start_matches("error: ").to_string()
    })
}

fn flatten_words(value: &serde_json::Value, words: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        for (key, v) in map {
            match v {
                serde_json::Value::Object(_) => flatten_words(v, words),
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => words.push(format!("{key}={s}")),
                other => words.push(format!("{key}={other}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_read_from_typed_sections_as_python_and_manifests_give_them() {
        use crate::io::model::point_group::PointGroup;
        let from = |value: serde_json::Value| serde_json::from_value::<Parameters>(value);
        let p = from(serde_json::json!({"copies": {"symmetry": "I1", "ncs": false}})).unwrap();
        assert_eq!(
            (p.copies.symmetry, p.copies.ncs, p.copies.assembly),
            (Some(PointGroup::Icosahedral(1)), false, None)
        );
        let p = from(serde_json::json!({"copies": {"assembly": "2"}})).unwrap();
        assert_eq!(p.copies.request().assembly.as_deref(), Some("2"));
        assert!(p.copies.request().ncs, "ncs stays on by default");
        let bad = from(serde_json::json!({"copies": {"symmetry": "C0"}})).unwrap_err().to_string();
        assert!(bad.contains("C0"), "{bad}");
        // Written back, a report's parameters read again.
        let p = from(serde_json::json!({"copies": {"symmetry": "D7"}})).unwrap();
        let again = from(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(again.copies, p.copies);
    }

    #[test]
    fn defaults_agree_between_serde_and_clap() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            parameters: Parameters,
        }
        use clap::Parser;
        let from_clap = Cli::parse_from(["x"]).parameters;
        assert_eq!(from_clap, Parameters::default());
        let from_json: Parameters = serde_json::from_str("{}").unwrap();
        assert_eq!(from_json, Parameters::default());
        // The library's defaults are the same values.
        assert_eq!(Parameters::default().difference_options(3.2), DifferenceOptions::new(3.2));
    }

    #[test]
    fn arguments_parse_back_to_the_same_parameters() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            parameters: Parameters,
        }
        use clap::Parser;
        let mut p = Parameters { resolution: Some(2.9), ..Parameters::default() };
        p.units.variant = Variant::Both;
        p.model_map.edge = EdgeKind::Sharp;
        p.scaling.offset = false;
        p.outputs.json = Some(PathBuf::from("r.json"));
        let words = p.to_arguments();
        let argv = std::iter::once("x".to_string()).chain(words.iter().map(|w| format!("--{w}")));
        assert_eq!(Cli::parse_from(argv).parameters, p, "{words:?}");
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.contains(r#""variant":"both""#) && text.contains(r#""edge":"sharp""#), "{text}");
    }

    #[test]
    fn bad_values_are_refused_before_any_file_is_read() {
        let refusal = |p: &Parameters| Settings::check(p.clone(), false).unwrap_err().to_string();
        let mut p = Parameters { resolution: Some(-1.0), ..Parameters::default() };
        assert!(refusal(&p).contains("resolution"));
        p.resolution = None;
        p.peaks.peak_sigma = 0.0;
        assert!(refusal(&p).contains("peak_sigma"));
        p.peaks.peak_sigma = 3.0;
        p.model_map.edge_width = 1.5;
        assert!(refusal(&p).contains("edge_width"));
        p.model_map.edge_width = 0.1;
        p.noise.noise_window = -3.0;
        assert!(refusal(&p).contains("noise_window"));
        p.noise.noise_window = 20.0;
        p.peaks.fdr = Some(0.01);
        assert!(refusal(&p).contains("needs half maps"));
        assert!(Settings::check(p.clone(), true).is_ok());
        p.peaks.peak_sigma = 2.0;
        assert!(Settings::check(p.clone(), true).unwrap_err().to_string().contains("at least 2.5"));
        p.peaks.peak_sigma = 3.0;
        assert!(serde_json::from_str::<Parameters>(r#"{"windw": 3}"#).is_err(), "unknown keys are refused");
    }
}
