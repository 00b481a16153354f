//! The compiled core of the Python package `real_space_diff_map` (imported as
//! `real_space_diff_map._core`; the package's `__init__.py` is the public face). Every function
//! here runs the library's own pipeline ([`real_space_diff_map::pipeline`]) with the library's
//! typed parameters, converted from the keyword options by type ([`conversion`]), releases
//! the interpreter while it computes, and turns the library's errors into Python exceptions
//! with the command line's messages.

mod conversion;
mod errors;
mod map;
mod model;
mod result;

use conversion::Wrap;
use errors::{guarded, install_quiet_panic_hook, to_py_err};
use map::{MapOrigin, PyMap};
use model::PyModel;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use real_space_diff_map::density::model_map::compute_model_map;
use real_space_diff_map::io::ccp4::read_map as read_map_file;
use real_space_diff_map::io::model::{Model, read_model as read_model_file};
use real_space_diff_map::parameters::{Parameters, Settings};
use real_space_diff_map::pipeline::{
    ExperimentalInputs, InputSource, JobInputs, LoadedMap, check_output_locations, compute_job, take_output_maps,
    write_outputs,
};
use real_space_diff_map::timings::Timings;
use real_space_diff_map::{Error, Map};
use result::PyDifferenceResult;
use std::path::PathBuf;

/// Options that make `difference_map` write files, as on the command line.
const FILE_OPTIONS: [&str; 6] = ["output", "json", "csv", "scale_map", "noise_map", "html"];

/// A map argument: a file still to read, or a map already in memory. (A handful exist per
/// call: the size difference of the variants does not matter.)
#[allow(clippy::large_enum_variant)]
enum MapArgument {
    File(PathBuf),
    Loaded(LoadedMap),
}

impl MapArgument {
    fn from_python(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok(map) = value.cast::<PyMap>() {
            let map = map.get();
            let source = match map.path() {
                Some(path) => InputSource::File(path.clone()),
                None => InputSource::Memory(format!("in-memory {what}")),
            };
            return Ok(MapArgument::Loaded(LoadedMap {
                map: map.to_map(py)?,
                source,
                warnings: map.warnings().to_vec(),
                digest: None,
            }));
        }
        value.extract::<PathBuf>().map(MapArgument::File).map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be a path or a real_space_diff_map.Map (an array needs its voxel size: Map(array, voxel_size, origin)), got {}",
                value.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })
    }

    fn load(self) -> real_space_diff_map::Result<LoadedMap> {
        match self {
            MapArgument::Loaded(loaded) => Ok(loaded),
            MapArgument::File(path) => {
                let read = read_map_file(&path)?;
                Ok(LoadedMap {
                    map: read.map,
                    source: InputSource::File(path),
                    warnings: read.warnings,
                    digest: read.digest,
                })
            }
        }
    }
}

/// A model argument: a file still to read, or a model in memory.
enum ModelArgument {
    File(PathBuf),
    Loaded(Box<Model>, InputSource),
}

impl ModelArgument {
    fn from_python(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(model) = value.cast::<PyModel>() {
            let (model, source) = model.get().parts();
            return Ok(ModelArgument::Loaded(Box::new(model.clone()), source.clone()));
        }
        value.extract::<PathBuf>().map(ModelArgument::File).map_err(|_| {
            PyTypeError::new_err(format!(
                "model must be a path or a real_space_diff_map.Model, got {}",
                value.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })
    }

    fn load(self) -> real_space_diff_map::Result<(Model, InputSource)> {
        match self {
            ModelArgument::Loaded(model, source) => Ok((*model, source)),
            ModelArgument::File(path) => Ok((read_model_file(&path)?, InputSource::File(path))),
        }
    }
}

/// What a job says, printed (as the command line would) with `verbose=True`, else nothing:
/// warnings reach Python as `RealSpaceDiffMapWarning` from the report.
struct Account {
    verbose: bool,
}

impl real_space_diff_map::pipeline::Observer for Account {
    fn say(&self, text: &str) {
        if self.verbose {
            println!("{}", real_space_diff_map::escape::terminal(text));
        }
    }
    fn warn(&self, text: &str) {
        if self.verbose {
            eprintln!("warning: {}", real_space_diff_map::escape::terminal(text));
        }
    }
}

/// The keyword options as typed parameters, and the keys given (not `None`).
fn parameters_from(options: Option<&Bound<'_, PyDict>>) -> PyResult<(Parameters, Vec<String>)> {
    let Some(options) = options else { return Ok((Parameters::default(), Vec::new())) };
    let Wrap(parameters) = options.as_any().extract::<Wrap<Parameters>>()?;
    let mut given = Vec::new();
    for (key, value) in options.iter() {
        if !value.is_none() {
            given.push(key.extract::<String>()?);
        }
    }
    Ok((parameters, given))
}

/// Runs `work` on `threads` worker threads (all cores when `None`).
fn on_threads<T: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> real_space_diff_map::Result<T> + Send,
) -> real_space_diff_map::Result<T> {
    match threads {
        None => work(),
        Some(0) => Err(Error::Usage("threads must be at least 1".into())),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start {n} worker threads: {e}")))?
            .install(work),
    }
}

/// Reads a CCP4/MRC map (plain or gzip).
#[pyfunction]
fn read_map(py: Python<'_>, path: PathBuf) -> PyResult<PyMap> {
    let read = py.detach(|| guarded(|| read_map_file(&path)))?.map_err(|e| to_py_err(py, e))?;
    let origin = MapOrigin {
        label: "real_space_diff_map".into(),
        path: Some(path),
        protected: Vec::new(),
        warnings: read.warnings,
    };
    PyMap::from_map(py, read.map, origin)
}

/// Reads a PDB or mmCIF model (plain or gzip).
#[pyfunction]
fn read_model(py: Python<'_>, path: PathBuf) -> PyResult<PyModel> {
    let model = py.detach(|| guarded(|| read_model_file(&path)))?.map_err(|e| to_py_err(py, e))?;
    Ok(PyModel::read(model, path))
}

/// The names of the options `difference_map` and `model_map` take (as on the command line).
#[pyfunction]
fn option_names() -> Vec<String> {
    conversion::option_names()
}

/// The model's map from electron form factors on `like_map`'s grid, limited to `resolution`.
#[pyfunction]
#[pyo3(signature = (model, like_map, resolution, options = None, threads = None))]
fn model_map(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    like_map: &Bound<'_, PyAny>,
    resolution: f64,
    options: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
) -> PyResult<PyMap> {
    let (parameters, _) = parameters_from(options)?;
    let model_options = parameters.model_map_options(resolution);
    model_options.check().map_err(|e| to_py_err(py, e))?;
    let model = ModelArgument::from_python(model)?;
    let like = MapArgument::from_python(py, like_map, "like_map")?;
    let work = || {
        on_threads(threads, || {
            let (model, _) = model.load()?;
            let like = like.load()?;
            let density = compute_model_map(&model, &like.map.geometry, &model_options)?;
            let map = Map { geometry: like.map.geometry, data: density.data, header: like.map.header };
            Ok((map, density.warnings))
        })
    };
    let (map, warnings) = py.detach(|| guarded(work))?.map_err(|e| to_py_err(py, e))?;
    let label = format!("real_space_diff_map {} model map d_min={resolution}", env!("CARGO_PKG_VERSION"));
    PyMap::from_map(py, map, MapOrigin { label, path: None, protected: Vec::new(), warnings })
}

/// The difference map of `model` against `map` and/or the two `half_maps`, with the command
/// line's options as a dict of keyword options.
#[pyfunction]
#[pyo3(signature = (model, map = None, half_maps = None, options = None, threads = None, verbose = false, max_memory = None))]
#[allow(clippy::too_many_arguments)]
fn difference_map(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    map: Option<&Bound<'_, PyAny>>,
    half_maps: Option<(Bound<'_, PyAny>, Bound<'_, PyAny>)>,
    options: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
    verbose: bool,
    max_memory: Option<String>,
) -> PyResult<PyDifferenceResult> {
    if let Some(text) = max_memory {
        let bytes = real_space_diff_map::limits::parse_memory(&text).map_err(PyValueError::new_err)?;
        real_space_diff_map::limits::set_memory_limit(bytes);
    }
    let (parameters, given_keys) = parameters_from(options)?;
    let given = |key: &str| given_keys.iter().any(|k| k == key);
    let writes_files = FILE_OPTIONS.iter().any(|k| given(k));
    if writes_files && !given("output") {
        return Err(PyValueError::new_err(
            "json=, csv=, html=, scale_map= and noise_map= write files beside the difference map: give output= too \
             (or call result.write(path) and keep the report from result.report)",
        ));
    }
    let settings = Settings::check(parameters, half_maps.is_some()).map_err(|e| to_py_err(py, e))?;
    if writes_files {
        // (Inputs are checked again when each file is written: none is ever replaced.)
        check_output_locations(&settings, &[]).map_err(|e| to_py_err(py, e))?;
    }
    if map.is_none() && half_maps.is_none() {
        return Err(PyValueError::new_err("no map given: give map= or half_maps=(half1, half2)"));
    }
    let model = ModelArgument::from_python(model)?;
    let full = map.map(|m| MapArgument::from_python(py, m, "map")).transpose()?;
    let halves = half_maps
        .map(|(a, b)| {
            PyResult::Ok([
                MapArgument::from_python(py, &a, "half map 1")?,
                MapArgument::from_python(py, &b, "half map 2")?,
            ])
        })
        .transpose()?;
    let work = || {
        on_threads(threads, || {
            let stages = Timings::new();
            let full = full.map(MapArgument::load).transpose()?;
            let halves = match halves {
                Some([a, b]) => Some([a.load()?, b.load()?]),
                None => None,
            };
            let experimental = ExperimentalInputs::assemble(full, halves)?;
            let (model, model_source) = model.load()?;
            let console = Account { verbose };
            // mask= is a path, read as the command line reads it.
            let search_mask = match &settings.peaks.mask {
                Some(path) => {
                    let read = real_space_diff_map::io::ccp4::read_map(path)?;
                    Some(LoadedMap {
                        map: read.map,
                        source: InputSource::File(path.clone()),
                        warnings: read.warnings,
                        digest: read.digest,
                    })
                }
                None => None,
            };
            let inputs = JobInputs { model, model_source, model_digest: None, experimental, search_mask, stages };
            let mut job = compute_job(inputs, &settings, &console)?;
            let maps = take_output_maps(&mut job);
            let outputs = if writes_files { write_outputs(&mut job, &maps)? } else { Vec::new() };
            Ok((job, maps, outputs))
        })
    };
    let (job, maps, outputs) = py.detach(|| guarded(work))?.map_err(|e| to_py_err(py, e))?;
    PyDifferenceResult::new(py, job, maps, outputs)
}

/// The `real_space_diff_map` command, run inside this interpreter (the wheel's console script
/// and `python -m real_space_diff_map`): `argv` as the program would get it, `program` the
/// words that start this command again (a batch starts its entries with them). Returns the
/// exit code.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>, program: Vec<String>) -> i32 {
    use real_space_diff_map::app::batch::scheduler::{ProgramCommand, set_program_command};
    if let Some((first, leading)) = program.split_first() {
        set_program_command(ProgramCommand { program: first.into(), leading: leading.to_vec() });
    }
    py.detach(|| {
        std::panic::catch_unwind(|| real_space_diff_map::app::main_with_args(argv)).unwrap_or_else(|_| {
            eprintln!("error: internal error; please report it with the input files");
            1
        })
    })
}

/// Real-space difference maps for cryo-EM (compiled core; use the `real_space_diff_map`
/// package).
#[pymodule]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    install_quiet_panic_hook();
    module.add_class::<PyMap>()?;
    module.add_class::<PyModel>()?;
    module.add_class::<PyDifferenceResult>()?;
    module.add_function(wrap_pyfunction!(read_map, module)?)?;
    module.add_function(wrap_pyfunction!(read_model, module)?)?;
    module.add_function(wrap_pyfunction!(model_map, module)?)?;
    module.add_function(wrap_pyfunction!(difference_map, module)?)?;
    module.add_function(wrap_pyfunction!(option_names, module)?)?;
    module.add_function(wrap_pyfunction!(main, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
