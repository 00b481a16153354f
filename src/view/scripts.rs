//! Scripts that open a run in a molecular viewer: `NAME_chimerax.cxc` for ChimeraX and
//! `NAME_coot.py` for Coot, beside the difference map NAME. Each opens the model, the
//! experimental map and the difference map at minus and plus the peak threshold (red and
//! green), and lists the peaks: ChimeraX gets a labelled marker on each, Coot a list to step
//! through. Paths are relative to the script, so a results folder can move.
//!
//! Both scripts also set each map's origin and voxel size to the values this program used, so
//! the viewer shows the maps where the computation placed them even for a header that viewers
//! read differently (both ORIGIN and NSTART set).

use crate::analysis::peaks::Peak;
use crate::difference::Units;
use crate::error::Result;
use crate::grid::GridGeometry;
use crate::io::atomic_file::Transaction;
use crate::view::{directory_of, relative_path, slash_path};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A map a viewer script opens, with where this program placed it.
#[derive(Debug, Clone)]
pub struct SceneMap {
    /// The file.
    pub path: PathBuf,
    /// Its grid (origin = centre of voxel 0, voxel size), as this program read or wrote it.
    pub geometry: GridGeometry,
    /// The contour level (absolute, in the map's units).
    pub level: f64,
}

/// What a viewer script shows.
#[derive(Debug, Clone)]
pub struct ViewerScene<'a> {
    /// The model file (none for a model that never was a file).
    pub model: Option<PathBuf>,
    /// The experimental map (the full map, else the first half map), when it is a file.
    pub experimental: Option<SceneMap>,
    /// The difference map; its `level` is the peak threshold, shown at plus and minus.
    pub difference: SceneMap,
    /// The difference map's units.
    pub units: Units,
    /// The peaks listed in the report, strongest first.
    pub peaks: &'a [Peak],
    /// The model with each residue's score as its B-factor (`model_scores=`), when written.
    pub scored_model: Option<PathBuf>,
}

/// Writes the ChimeraX script to `chimerax` and the Coot script to `coot` (where the run's
/// [`crate::outputs::OutputLayout`] puts them; atomically, never over an input); returns their
/// paths.
pub fn write_viewer_scripts(
    out: &Transaction,
    scene: &ViewerScene,
    chimerax: &Path,
    coot: &Path,
    protected: &[&Path],
) -> Result<Vec<PathBuf>> {
    let chimerax_text = chimerax_script(scene, chimerax);
    out.write(chimerax, protected, |w| w.write_all(chimerax_text.as_bytes()))?;
    let coot_text = coot_script(scene, coot);
    out.write(coot, protected, |w| w.write_all(coot_text.as_bytes()))?;
    Ok(vec![chimerax.to_path_buf(), coot.to_path_buf()])
}

/// A peak's label: rank, height with its unit, and the nearest residue and atom.
pub fn peak_label(rank: usize, peak: &Peak, units: Units) -> String {
    let near = match &peak.nearest_atom {
        Some(atom) => format!("{} {} {:.1} Å", atom.residue_label(), atom.atom_name, atom.distance),
        None => "away from the model".to_string(),
    };
    format!("{rank}: {:+.1} {} {near}", peak.height, units.symbol())
}

/// A path for a ChimeraX command: relative to the script, quoted, led by `./` (so that a name
/// like `pdb:1abc` is a file, not a fetch); `None` when the path holds a character that a
/// ChimeraX command cannot carry (a quote, a line break, `;`: [`crate::escape::chimerax_text`]).
fn quoted(script_dir: &Path, file: &Path) -> Option<String> {
    let relative = slash_path(&relative_path(script_dir, file));
    let relative =
        if relative.starts_with('/') || relative.starts_with("../") { relative } else { format!("./{relative}") };
    crate::escape::chimerax_safe_path(&relative).then(|| format!("\"{relative}\""))
}

/// The command to open `file` (`open PATH` + `suffix`), or a comment saying why it cannot be.
fn open_command(script_dir: &Path, file: &Path, suffix: &str, what: &str) -> (String, bool) {
    match quoted(script_dir, file) {
        Some(path) => (format!("open {path}{suffix}"), true),
        None => (
            format!(
                "# The {what}'s file name has a character a ChimeraX command cannot carry; open it yourself: {}",
                crate::escape::chimerax_text(&file.display().to_string())
            ),
            false,
        ),
    }
}

fn triple(v: [f64; 3]) -> String {
    format!("{:.4},{:.4},{:.4}", v[0], v[1], v[2])
}

fn placement(geometry: &GridGeometry) -> String {
    format!("origin {} voxelSize {}", triple(geometry.first_voxel_centre), triple(geometry.voxel_size))
}

/// The ChimeraX command script. ChimeraX runs a `.cxc` from the script's own folder, so the
/// relative paths hold wherever the folder is opened from.
pub fn chimerax_script(scene: &ViewerScene, own_path: &Path) -> String {
    let script_dir = &directory_of(own_path);
    let own_name = own_path.file_name().map(|n| crate::escape::chimerax_text(&n.to_string_lossy())).unwrap_or_default();
    let mut lines = vec![
        format!(
            "# ChimeraX commands written by real_space_diff_map {}: `chimerax {own_name}` or, in ChimeraX, `open {own_name}`.",
            env!("CARGO_PKG_VERSION"),
        ),
        "# Paths are relative to this file. Difference map: green at +level, red at -level.".to_string(),
        "close".to_string(),
    ];
    let mut next_id = 1;
    if let Some(model) = &scene.model {
        let (command, opened) = open_command(script_dir, model, "", "model");
        lines.push(command);
        if opened {
            lines.push(format!("style #{next_id} stick"));
            next_id += 1;
        }
    }
    if let Some(map) = &scene.experimental {
        let (command, opened) = open_command(script_dir, &map.path, " format ccp4", "experimental map");
        lines.push(command);
        if opened {
            lines.push(format!(
                "volume #{next_id} style mesh level {:.6} color #a0a0a0 step 1 {}",
                map.level,
                placement(&map.geometry)
            ));
            next_id += 1;
        }
    }
    let difference = &scene.difference;
    let (command, opened) = open_command(script_dir, &difference.path, " format ccp4", "difference map");
    lines.push(command);
    if opened {
        lines.push(format!(
            "volume #{next_id} style mesh level {:.6} color #ff0000 level {:.6} color #00c000 step 1 {}",
            -difference.level,
            difference.level,
            placement(&difference.geometry)
        ));
        next_id += 1;
    }
    if let Some(scored) = &scene.scored_model {
        // A second copy of the model, coloured by each residue's score and hidden until asked
        // for: the markers and maps stay as they are.
        let (command, opened) = open_command(script_dir, scored, "", "scored model");
        lines.push(command);
        if opened {
            lines.push(format!(
                "# #{next_id}: the model coloured by each residue's mean difference value ({}; red below -3, \
                 green above 3): `show #{next_id} models`.",
                scene.units.word()
            ));
            lines
                .push(format!("color byattribute bfactor #{next_id} palette -3,red:0,white:3,green noValueColor gray"));
            lines.push(format!("hide #{next_id} models"));
            next_id += 1;
        }
    }
    let markers = 10.max(next_id + 1);
    for (index, peak) in scene.peaks.iter().enumerate() {
        let color = if peak.height > 0.0 { "#00c000" } else { "#ff0000" };
        lines.push(format!("marker #{markers} position {} color {color} radius 0.4", triple(peak.position)));
        let label = crate::escape::chimerax_text(&peak_label(index + 1, peak, scene.units));
        lines.push(format!("label #{markers}:{} residues text \"{label}\" height 0.7", index + 1));
    }
    if !scene.peaks.is_empty() {
        lines.push(format!("view #{markers}:1"));
        lines.push(format!("# Step through the peaks with `view #{markers}:N` (N = 1..{}).", scene.peaks.len()));
    }
    lines.push(String::new());
    lines.join("\n")
}

/// A Python string literal.
fn python_string(text: &str) -> String {
    crate::escape::python_string(text)
}

/// The Coot script (Python; Coot 0.9 and 1.x). Coot does not always tell a script where it
/// lives, so the script falls back from `__file__` to the current folder.
pub fn coot_script(scene: &ViewerScene, own_path: &Path) -> String {
    let script_dir = &directory_of(own_path);
    let relative = |p: &Path| python_string(&slash_path(&relative_path(script_dir, p)));
    let optional = |p: Option<&Path>| p.map_or("None".to_string(), relative);
    let peaks: Vec<String> = scene
        .peaks
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let label = peak_label(i + 1, p, scene.units);
            format!(
                "    ({}, {:.3}, {:.3}, {:.3}),",
                python_string(&label),
                p.position[0],
                p.position[1],
                p.position[2]
            )
        })
        .collect();
    let experimental_level = scene.experimental.as_ref().map_or("None".to_string(), |m| format!("{:.6}", m.level));
    format!(
        r#"# Coot script written by real_space_diff_map {version}: `coot --script {own_name}`, or
# Calculate > Run Script in Coot. Paths are relative to this file; run it from its folder when
# your Coot does not say where a script lives. go_to_peak(N) centres on peak N.
import os

try:
    import coot as _coot_module  # Coot 1.x keeps its functions in a module
except ImportError:
    _coot_module = None

try:
    HERE = os.path.dirname(os.path.abspath(__file__))
except NameError:
    HERE = os.getcwd()

MODEL = {model}
EXPERIMENTAL_MAP = {experimental}
EXPERIMENTAL_LEVEL = {experimental_level}
DIFFERENCE_MAP = {difference}
DIFFERENCE_LEVEL = {level:.6}
UNITS = {units}
# (label, x, y, z) in Angstrom, strongest first.
PEAKS = [
{peaks}
]


def _coot(name):
    function = getattr(_coot_module, name, None) or globals().get(name)
    if function is None:
        import builtins

        function = getattr(builtins, name, None)
    return function


def _path(relative):
    return os.path.normpath(os.path.join(HERE, relative))


def go_to_peak(number):
    label, x, y, z = PEAKS[number - 1]
    _coot("set_rotation_centre")(x, y, z)
    print(label)


def open_run():
    if MODEL is not None:
        _coot("read_pdb")(_path(MODEL))
    if EXPERIMENTAL_MAP is not None:
        experimental = _coot("handle_read_ccp4_map")(_path(EXPERIMENTAL_MAP), 0)
        _coot("set_contour_level_absolute")(experimental, EXPERIMENTAL_LEVEL)
    difference = _coot("handle_read_ccp4_map")(_path(DIFFERENCE_MAP), 1)
    # A difference map is contoured at +level (green) and -level (red).
    _coot("set_contour_level_absolute")(difference, DIFFERENCE_LEVEL)
    interesting = _coot("interesting_things_gui")
    if interesting is not None and PEAKS:
        interesting("Difference map peaks", [[label, x, y, z] for label, x, y, z in PEAKS])
    for label, _x, _y, _z in PEAKS:
        print(label)
    if PEAKS:
        go_to_peak(1)


open_run()
"#,
        version = env!("CARGO_PKG_VERSION"),
        own_name = own_path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
        model = optional(scene.model.as_deref()),
        experimental = optional(scene.experimental.as_ref().map(|m| m.path.as_path())),
        difference = relative(&scene.difference.path),
        level = scene.difference.level,
        units = python_string(scene.units.label()),
        peaks = peaks.join("\n"),
    )
}
