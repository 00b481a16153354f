//! `Model`: an atomic model, read from a file or made from arrays.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use real_space_diff_map::io::model::{Model, ModelColumns};
use real_space_diff_map::pipeline::InputSource;
use std::path::PathBuf;

/// An atomic model: atoms with positions, elements, B and occupancy, grouped into residues and
/// chains (read from a PDB or mmCIF file, or made from arrays).
#[pyclass(name = "Model", module = "real_space_diff_map", frozen)]
pub struct PyModel {
    model: Model,
    source: InputSource,
}

impl PyModel {
    /// A model read from `path`.
    pub fn read(model: Model, path: PathBuf) -> Self {
        PyModel { model, source: InputSource::File(path) }
    }

    /// The library's model and where it came from.
    pub fn parts(&self) -> (&Model, &InputSource) {
        (&self.model, &self.source)
    }
}

/// A column given as anything NumPy turns into a 1-D array of `dtype`.
fn column<'py, T: numpy::Element + Clone>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    dtype: &str,
    name: &str,
) -> PyResult<Vec<T>> {
    let numpy = py.import("numpy")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("dtype", numpy.getattr(dtype)?)?;
    let array = numpy
        .call_method("ascontiguousarray", (values,), Some(&kwargs))
        .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?;
    let array = array
        .cast_into::<PyArray1<T>>()
        .map_err(|_| PyValueError::new_err(format!("{name} must be one-dimensional, one entry per atom")))?;
    Ok(array.readonly().as_slice().map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?.to_vec())
}

fn strings(values: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<Vec<String>>> {
    values
        .map(|v| {
            v.try_iter()?
                .map(|item| item?.str().map(|s| s.to_string()))
                .collect::<PyResult<Vec<String>>>()
                .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
        })
        .transpose()
}

#[pymethods]
impl PyModel {
    /// A model from arrays, one entry per atom: `positions` (n x 3, Å), `elements` (symbols),
    /// `b_iso` (Å²); optionally `occupancy` (default 1), `chains` ("A"), `residue_names`
    /// ("UNK"), `residue_numbers` (each atom its own residue) and `atom_names` (the element).
    /// Give the residue columns for per-residue results.
    #[new]
    #[pyo3(signature = (positions, elements, b_iso, occupancy = None, chains = None, residue_names = None,
                        residue_numbers = None, atom_names = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        positions: &Bound<'_, PyAny>,
        elements: &Bound<'_, PyAny>,
        b_iso: &Bound<'_, PyAny>,
        occupancy: Option<&Bound<'_, PyAny>>,
        chains: Option<&Bound<'_, PyAny>>,
        residue_names: Option<&Bound<'_, PyAny>>,
        residue_numbers: Option<&Bound<'_, PyAny>>,
        atom_names: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let numpy = py.import("numpy")?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("dtype", numpy.getattr("float64")?)?;
        let array = numpy.call_method("ascontiguousarray", (positions,), Some(&kwargs))?;
        let positions = match array.cast_into::<PyArray2<f64>>() {
            Ok(a) if a.shape()[1] == 3 => a,
            _ => return Err(PyValueError::new_err("positions must be an n x 3 array of x, y, z in Å")),
        };
        let flat = positions.readonly().as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?.to_vec();
        let columns = ModelColumns {
            positions: flat.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
            elements: strings(Some(elements), "elements")?.unwrap_or_default(),
            b_iso: column::<f64>(py, b_iso, "float64", "b_iso")?,
            occupancy: occupancy.map(|o| column::<f64>(py, o, "float64", "occupancy")).transpose()?,
            chains: strings(chains, "chains")?,
            residue_names: strings(residue_names, "residue_names")?,
            residue_numbers: residue_numbers.map(|n| column::<i64>(py, n, "int64", "residue_numbers")).transpose()?,
            atom_names: strings(atom_names, "atom_names")?,
        };
        let what = "in-memory model";
        let model = columns.to_model(what).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyModel { model, source: InputSource::Memory(what.into()) })
    }

    /// Number of atoms.
    fn __len__(&self) -> usize {
        self.model.atoms.len()
    }

    /// Atom positions, an n x 3 float64 array (Å; a new array).
    #[getter]
    fn positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let flat: Vec<f64> = self.model.atoms.iter().flat_map(|a| a.position).collect();
        flat.into_pyarray(py).reshape([self.model.atoms.len(), 3])
    }

    /// Element symbols.
    #[getter]
    fn elements(&self) -> Vec<String> {
        self.model.atoms.iter().map(|a| a.element.clone()).collect()
    }

    /// Isotropic B per atom (Å²) as written (the model map uses the isotropic equivalent of
    /// ANISOU where a file gives it).
    #[getter]
    fn b_iso<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.model.atoms.iter().map(|a| a.b_iso).collect::<Vec<f64>>().into_pyarray(py)
    }

    /// Occupancy per atom.
    #[getter]
    fn occupancy<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.model.atoms.iter().map(|a| a.occupancy).collect::<Vec<f64>>().into_pyarray(py)
    }

    /// Chain identifier per atom.
    #[getter]
    fn chains(&self) -> Vec<String> {
        self.model.atoms.iter().map(|a| self.model.residue_of(a).chain.clone()).collect()
    }

    /// Residue name per atom.
    #[getter]
    fn residue_names(&self) -> Vec<String> {
        self.model.atoms.iter().map(|a| self.model.residue_of(a).name.clone()).collect()
    }

    /// Residue number per atom.
    #[getter]
    fn residue_numbers<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let numbers: Vec<i64> = self.model.atoms.iter().map(|a| self.model.residue_of(a).number as i64).collect();
        numbers.into_pyarray(py)
    }

    /// Atom name per atom.
    #[getter]
    fn atom_names(&self) -> Vec<String> {
        self.model.atoms.iter().map(|a| a.name.clone()).collect()
    }

    /// The resolution the file records (Å), if any.
    #[getter]
    fn resolution(&self) -> Option<f64> {
        self.model.resolution
    }

    /// The file the model was read from, if any.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.source.path().map(PathBuf::from)
    }

    /// What the reader noticed.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.model.warnings.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Model {} atoms, {} residues in {} chains from {}>",
            self.model.atoms.len(),
            self.model.residues.len(),
            self.model.chain_count(),
            self.source.describe()
        )
    }
}
