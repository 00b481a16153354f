//! `Map`: a density map as a NumPy array in `[z, y, x]` order plus where it sits in space.

use crate::errors::{guarded, to_py_err};
use numpy::ndarray::Array3;
use numpy::{IntoPyArray, PyArray3, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use real_space_diff_map::grid::{GridGeometry, Map, MapHeader};
use real_space_diff_map::io::ccp4;
use std::path::PathBuf;

/// A density map: values as a NumPy float32 array indexed `[z, y, x]` (X fastest in memory, as
/// in a CCP4/MRC file with the standard axis order), its voxel size and the position of voxel
/// `[0, 0, 0]`'s centre, in Ångström and in x, y, z order.
#[pyclass(name = "Map", module = "real_space_diff_map", frozen)]
pub struct PyMap {
    array: Py<PyArray3<f32>>,
    geometry: GridGeometry,
    header: MapHeader,
    label: String,
    path: Option<PathBuf>,
    /// Files this map must never be written over (the inputs of the job that made it).
    protected: Vec<PathBuf>,
    warnings: Vec<String>,
}

/// Where a map came from and how to write it, besides its values.
#[derive(Default)]
pub struct MapOrigin {
    /// First header label when written.
    pub label: String,
    /// The file it was read from.
    pub path: Option<PathBuf>,
    /// Files it must not be written over.
    pub protected: Vec<PathBuf>,
    /// The reader's warnings.
    pub warnings: Vec<String>,
}

impl PyMap {
    /// Hands a map to Python: its values move into the NumPy array without a copy.
    pub fn from_map(py: Python<'_>, map: Map, origin: MapOrigin) -> PyResult<PyMap> {
        let [nx, ny, nz] = map.geometry.dims;
        let array = Array3::from_shape_vec((nz, ny, nx), map.data)
            .map_err(|e| PyValueError::new_err(format!("map values do not fill the grid: {e}")))?
            .into_pyarray(py)
            .unbind();
        Ok(PyMap {
            array,
            geometry: map.geometry,
            header: map.header,
            label: origin.label,
            path: origin.path,
            protected: origin.protected,
            warnings: origin.warnings,
        })
    }

    /// A copy of the map for the library (which takes ownership of its buffer).
    pub fn to_map(&self, py: Python<'_>) -> PyResult<Map> {
        let array = self.array.bind(py).readonly();
        let data = array.as_slice().map_err(|e| PyValueError::new_err(format!("map values: {e}")))?.to_vec();
        Ok(Map { geometry: self.geometry, data, header: self.header.clone() })
    }

    /// The file the map was read from.
    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// The reader's warnings.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The grid and placement.
    pub fn geometry(&self) -> GridGeometry {
        self.geometry
    }

    /// The header the map is written with.
    pub fn header(&self) -> &MapHeader {
        &self.header
    }
}

/// A voxel size given as one number (cubic voxels) or three (x, y, z).
#[derive(FromPyObject)]
enum VoxelSize {
    Cubic(f64),
    PerAxis([f64; 3]),
}

#[pymethods]
impl PyMap {
    /// A map from values in memory: `array` is indexed `[z, y, x]` (convert a gemmi grid with
    /// `numpy.asarray(grid).T`), `voxel_size` is in Å (one number or x, y, z), and `origin` is
    /// the centre of voxel `[0, 0, 0]` in Å (x, y, z). The array is shared, not copied, when it
    /// is already C-contiguous float32.
    #[new]
    #[pyo3(signature = (array, voxel_size, origin = (0.0, 0.0, 0.0)))]
    fn new(py: Python<'_>, array: &Bound<'_, PyAny>, voxel_size: VoxelSize, origin: (f64, f64, f64)) -> PyResult<Self> {
        let numpy = py.import("numpy")?;
        let float32 = numpy.getattr("float32")?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("dtype", float32)?;
        let contiguous = numpy.call_method("ascontiguousarray", (array,), Some(&kwargs))?;
        let Ok(array) = contiguous.cast_into::<PyArray3<f32>>() else {
            return Err(PyValueError::new_err("a map array must have three dimensions, indexed [z, y, x]"));
        };
        let shape = array.shape();
        let dims = [shape[2], shape[1], shape[0]];
        if dims.contains(&0) {
            return Err(PyValueError::new_err(format!("a map array must not be empty (shape {shape:?})")));
        }
        let voxel_size = match voxel_size {
            VoxelSize::Cubic(v) => [v; 3],
            VoxelSize::PerAxis(v) => v,
        };
        if !voxel_size.iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err(PyValueError::new_err(format!("voxel_size must be positive numbers of Å, got {voxel_size:?}")));
        }
        let origin = [origin.0, origin.1, origin.2];
        if !origin.iter().all(|v| v.is_finite()) {
            return Err(PyValueError::new_err(format!("origin must be finite numbers of Å, got {origin:?}")));
        }
        {
            let values = array.readonly();
            let slice = values.as_slice().map_err(|e| PyValueError::new_err(format!("map values: {e}")))?;
            if let Some(i) = slice.iter().position(|v| !v.is_finite()) {
                let (x, y, z) = (i % dims[0], (i / dims[0]) % dims[1], i / (dims[0] * dims[1]));
                return Err(PyValueError::new_err(format!(
                    "the map array holds a value that is not a finite number at [{z}, {y}, {x}]"
                )));
            }
        }
        let geometry = GridGeometry { dims, voxel_size, first_voxel_centre: origin };
        Ok(PyMap {
            array: array.unbind(),
            geometry,
            header: MapHeader::for_geometry(&geometry),
            label: "real_space_diff_map".into(),
            path: None,
            protected: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// The values, a float32 NumPy array indexed `[z, y, x]` (the map's own buffer: no copy).
    #[getter]
    fn array(&self, py: Python<'_>) -> Py<PyArray3<f32>> {
        self.array.clone_ref(py)
    }

    /// Voxel edge lengths (x, y, z) in Å.
    #[getter]
    fn voxel_size(&self) -> (f64, f64, f64) {
        let v = self.geometry.voxel_size;
        (v[0], v[1], v[2])
    }

    /// Centre of voxel `[0, 0, 0]` (x, y, z) in Å: the header's ORIGIN plus NSTART voxels.
    #[getter]
    fn origin(&self) -> (f64, f64, f64) {
        let o = self.geometry.first_voxel_centre;
        (o[0], o[1], o[2])
    }

    /// Unit-cell lengths (a, b, c) in Å from the header (the box, for an in-memory map).
    #[getter]
    fn cell(&self) -> (f64, f64, f64) {
        let c = self.header.cell_lengths;
        (c[0], c[1], c[2])
    }

    /// Shape of the array, `(nz, ny, nx)`.
    #[getter]
    fn shape(&self) -> (usize, usize, usize) {
        let d = self.geometry.dims;
        (d[2], d[1], d[0])
    }

    /// The file the map was read from, if any.
    #[getter(path)]
    fn py_path(&self) -> Option<PathBuf> {
        self.path.clone()
    }

    /// What the reader noticed (odd but readable headers).
    #[getter(warnings)]
    fn py_warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Writes the map as a mode-2 MRC2014 file in its own frame (axis order, NSTART and ORIGIN
    /// kept from the file it came from), through a temporary file renamed into place.
    #[pyo3(signature = (path, label = None))]
    fn write(&self, py: Python<'_>, path: PathBuf, label: Option<String>) -> PyResult<()> {
        let map = self.to_map(py)?;
        let label = label.unwrap_or_else(|| self.label.clone());
        let protected: Vec<&std::path::Path> = self.protected.iter().map(PathBuf::as_path).collect();
        py.detach(|| guarded(|| ccp4::write_map(&path, &map, &label, &protected)))?.map_err(|e| to_py_err(py, e))
    }

    fn __repr__(&self) -> String {
        let (d, v, o) = (self.geometry.dims, self.geometry.voxel_size, self.geometry.first_voxel_centre);
        format!(
            "<Map {} x {} x {} voxels (x, y, z) of {:.4} x {:.4} x {:.4} Å, voxel [0, 0, 0] at ({:.3}, {:.3}, {:.3}) Å>",
            d[0], d[1], d[2], v[0], v[1], v[2], o[0], o[1], o[2]
        )
    }
}
