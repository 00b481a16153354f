//! `DifferenceResult`: the maps, peaks, residues and report of one difference-map job.

use crate::map::{MapOrigin, PyMap};
use numpy::PyArray3;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use real_space_diff_map::pipeline::{Job, OutputMap};
use std::path::PathBuf;

/// What `difference_map` returns: the difference map (`map`, a float32 array `[z, y, x]`, and
/// its placement), the units, the peaks and residues, the report (the same dict as `json=`
/// writes) and `write(path)`.
#[pyclass(name = "DifferenceResult", module = "real_space_diff_map", frozen)]
pub struct PyDifferenceResult {
    /// Kind ("complex", "amplitude", "local_scale", "noise_sd") and map; the first is the
    /// difference map the peaks come from.
    maps: Vec<(String, Py<PyMap>)>,
    report: Py<PyAny>,
    units: String,
    outputs: Vec<PathBuf>,
}

impl PyDifferenceResult {
    /// Hands a computed job to Python; the maps' values move into NumPy without a copy.
    pub fn new(py: Python<'_>, job: Job, maps: Vec<OutputMap>, outputs: Vec<PathBuf>) -> PyResult<Self> {
        let text = serde_json::to_string(&job.report)
            .map_err(|e| PyValueError::new_err(format!("cannot encode the report: {e}")))?;
        let report = py.import("json")?.call_method1("loads", (text,))?.unbind();
        let units = serde_json::to_value(job.report.peak_search.units)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut handed = Vec::new();
        for output in maps {
            let origin =
                MapOrigin { label: output.label, path: None, protected: job.input_paths.clone(), warnings: Vec::new() };
            handed.push((output.kind.to_string(), Py::new(py, PyMap::from_map(py, output.map, origin)?)?));
        }
        if handed.is_empty() {
            return Err(PyValueError::new_err("no difference map was computed"));
        }
        Ok(PyDifferenceResult { maps: handed, report, units, outputs })
    }

    fn primary(&self) -> &Py<PyMap> {
        &self.maps[0].1
    }

    fn report_item<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.report.bind(py).get_item(key)
    }
}

#[pymethods]
impl PyDifferenceResult {
    /// The difference map's values: float32, indexed `[z, y, x]`, in `units` (no copy).
    #[getter]
    fn map(&self, py: Python<'_>) -> PyResult<Py<PyArray3<f32>>> {
        Ok(self.primary().bind(py).getattr("array")?.cast_into::<PyArray3<f32>>()?.unbind())
    }

    /// The difference map as a `Map` (values, placement, `write`).
    #[getter]
    fn difference(&self, py: Python<'_>) -> Py<PyMap> {
        self.primary().clone_ref(py)
    }

    /// Every map the job produced, by kind: "complex" and/or "amplitude" (`variant=`), and
    /// "local_scale" / "noise_sd" when `scale_map=` / `noise_map=` asked for them.
    #[getter]
    fn maps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (kind, map) in &self.maps {
            dict.set_item(kind, map.clone_ref(py))?;
        }
        Ok(dict)
    }

    /// Centre of voxel `[0, 0, 0]` (x, y, z) in Å: the input map's placement.
    #[getter]
    fn origin<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.primary().bind(py).getattr("origin")
    }

    /// Voxel size (x, y, z) in Å.
    #[getter]
    fn voxel_size<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.primary().bind(py).getattr("voxel_size")
    }

    /// Unit-cell lengths (a, b, c) in Å, as in the input map's header.
    #[getter]
    fn cell<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.primary().bind(py).getattr("cell")
    }

    /// Units of `map`: "envelope_sigma", "box_sigma" or "half_map_z" (z of the local half-map
    /// noise), as in the report.
    #[getter]
    fn units(&self) -> String {
        self.units.clone()
    }

    /// The peaks (blobs beyond the threshold), strongest first, as dicts (the report's list).
    #[getter]
    fn peaks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.report_item(py, "peaks")
    }

    /// Per-residue scores in model order, as dicts (the report's list).
    #[getter]
    fn residues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.report_item(py, "residues")
    }

    /// The report: the same dict as the JSON report (`json=`) holds.
    #[getter]
    fn report(&self, py: Python<'_>) -> Py<PyAny> {
        self.report.clone_ref(py)
    }

    /// Files written because `output=` (and `json=`, `csv=`, ...) were given.
    #[getter]
    fn outputs(&self) -> Vec<PathBuf> {
        self.outputs.clone()
    }

    /// Writes the difference map as the command line does (same header, labels and frame),
    /// atomically, never over an input of the job.
    fn write(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        self.primary().bind(py).call_method1("write", (path,)).map(|_| ())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let map = self.primary().bind(py).repr().map(|r| r.to_string()).unwrap_or_default();
        format!("<DifferenceResult {} in {}: {map}>", self.maps[0].0, self.units)
    }
}
