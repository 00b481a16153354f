//! Default values of the parameters, in one place: the command line, the batch manifest, the
//! library's option constructors and the reports all take them from here. (A module of its own,
//! with no imports, so that both the science and [`crate::parameters`] can use it.)

/// Sliding-window edge, Å.
pub const DEFAULT_WINDOW: f64 = 20.0;
/// Sliding-window edge with half maps, Å: the spectral weight turns a missing ligand into a
/// broader blob, of which a 20 Å window's offset absorbs about a quarter (measured on a 256³
/// synthetic entry: a removed heme at 35 z with 20 Å, 45 z with 30 Å, 46 z with 40 Å).
pub const DEFAULT_HALF_MAP_WINDOW: f64 = 30.0;
/// With half maps, the default window is at most this fraction of the box's shortest edge.
pub const HALF_MAP_WINDOW_BOX_FRACTION: f64 = 0.4;
/// Width of the soft resolution edge, as a fraction of `1/d_min`.
pub const DEFAULT_EDGE_WIDTH: f64 = 0.1;
/// Radius of the model envelope in which sigma is measured, Å.
pub const DEFAULT_ENVELOPE_RADIUS: f64 = 3.0;
/// Peak threshold, in the output's units.
pub const DEFAULT_PEAK_SIGMA: f64 = 3.0;
/// Peaks printed at the end of a run.
pub const DEFAULT_PEAKS_SHOWN: usize = 10;
/// Peaks listed in the JSON and CSV reports.
pub const DEFAULT_MAX_PEAKS: usize = 1000;
/// Ridge towards the global scale, as a fraction of the model map's variance.
pub const DEFAULT_RIDGE: f64 = 0.01;
/// The difference map's file when none is named.
pub const DEFAULT_OUTPUT: &str = "map_model_difference.ccp4";
/// With half maps: width of the window in which the local noise sd is measured, Å (the
/// half-height width of a tent window).
pub const DEFAULT_NOISE_WINDOW: f64 = 20.0;
/// Voxels farther than this from every atom calibrate the z units, Å.
pub const DEFAULT_FAR_FROM_MODEL: f64 = 8.0;
/// Peaks drawn as PNG slices at the end of a run.
pub const DEFAULT_PICTURES: usize = 6;
/// The peak search lists blobs whose maximum is within this many Å of an atom: every removed
/// ligand, glycan and side chain of the shared cases peaks within 4.4 Å of the model, while an
/// unmasked map's noise (and unmodelled neighbours, in a filament) fills the rest of the box
/// (measured: the 384³ large case, 47,649 blobs beyond 3 z, 3,387 within 6 Å; the actin filament,
/// 171 blobs, 17 within 6 Å).
pub const DEFAULT_SEARCH_RADIUS: f64 = 6.0;
/// Smallest blob listed, Å³ (0: all; a weak ligand's blob just over the threshold is small,
/// the spike's NAG 1305 3.5 Å³).
pub const DEFAULT_MIN_VOLUME: f64 = 0.0;
/// With half maps, residues are flagged in negative density at this false discovery rate when
/// `fdr=` does not give one.
pub const DEFAULT_RESIDUE_FDR: f64 = 0.01;
