//! Python's keyword options into the library's typed [`Parameters`], by type and not through
//! text (polars' `Wrap<T>`): each value becomes the JSON value of its Python type and is read
//! by the same serde form the batch stamps and JSON reports hold, so an error names the Python
//! argument and what it should have been (`window='big': expected a number`), never a
//! command-line flag.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};
use real_space_diff_map::parameters::Parameters;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// A Python value converted into a library type.
pub struct Wrap<T>(pub T);

/// The keys of the parameters, each with the section of [`Parameters`] it belongs to (`None`
/// for a top-level key such as `resolution`), from the serde form itself.
pub fn parameter_sections() -> Vec<(String, Option<String>)> {
    let defaults = serde_json::to_value(Parameters::default()).expect("parameters serialise");
    let mut keys = Vec::new();
    if let Value::Object(top) = defaults {
        for (key, value) in top {
            match value {
                Value::Object(section) => keys.extend(section.keys().map(|k| (k.clone(), Some(key.clone())))),
                _ => keys.push((key, None)),
            }
        }
    }
    keys
}

/// The option names, as Python and the command line spell them.
pub fn option_names() -> Vec<String> {
    parameter_sections().into_iter().map(|(key, _)| key).collect()
}

/// The JSON value of one Python value, by its type: `None` is "not given".
fn json_value(key: &str, value: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(Some(Value::Bool(flag.is_true())));
    }
    let type_name = || value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    let number = |v: f64| {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("{key} must be a finite number, got {v}")))
    };
    // Python ints, and NumPy's integers (which are not ints but have __index__).
    if value.is_instance_of::<PyInt>() || (!value.is_instance_of::<PyFloat>() && value.hasattr("__index__")?) {
        return match value.extract::<i64>() {
            Ok(i) => Ok(Some(Value::from(i))),
            Err(_) => Err(PyValueError::new_err(format!("{key}={}: too large", value.repr()?))),
        };
    }
    if value.is_instance_of::<PyFloat>() || value.hasattr("__float__")? && !value.is_instance_of::<PyString>() {
        return number(value.extract::<f64>()?).map(Some);
    }
    if value.is_instance_of::<PyString>() {
        return Ok(Some(Value::String(value.extract::<String>()?)));
    }
    if value.hasattr("__fspath__")? {
        let path: PathBuf = value.extract()?;
        return match path.to_str() {
            Some(text) => Ok(Some(Value::String(text.to_owned()))),
            None => Err(PyValueError::new_err(format!("{key}: the path {} is not valid UTF-8", path.display()))),
        };
    }
    Err(PyTypeError::new_err(format!("{key} must be a number, a string, a path or a bool, got {}", type_name())))
}

/// serde's words for what a key takes, in Python's.
fn pythonic(message: &str) -> String {
    message
        .replace("expected f64", "expected a number")
        .replace("expected usize", "expected a whole number, 0 or more")
        .replace("expected path string", "expected a path")
        .replace("expected a boolean", "expected True or False")
        .replace("invalid type: ", "")
        .replace("invalid value: ", "")
        .replace("floating point", "float")
}

impl<'a, 'py> FromPyObject<'a, 'py> for Wrap<Parameters> {
    type Error = PyErr;

    /// From the dict of keyword options: every key must be a parameter, every value of its
    /// type; `None` leaves the default.
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let options = obj.cast::<PyDict>()?;
        let sections = parameter_sections();
        let mut whole = Map::new();
        for (key, value) in options.iter() {
            let key: String = key.extract()?;
            let Some((_, section)) = sections.iter().find(|(k, _)| *k == key) else {
                let names: Vec<&str> = sections.iter().map(|(k, _)| k.as_str()).collect();
                return Err(PyTypeError::new_err(format!(
                    "unexpected keyword argument '{key}'{}\nThe options are: {}",
                    real_space_diff_map::suggest::did_you_mean(&key, names.iter().copied()),
                    names.join(", ")
                )));
            };
            let Some(json) = json_value(&key, &value)? else { continue };
            // Read alone first, so that a wrong value is named by its own key.
            let mut alone = Map::new();
            insert(&mut alone, section.as_deref(), &key, json.clone());
            if let Err(e) = serde_json::from_value::<Parameters>(Value::Object(alone)) {
                let message = format!("{key}={}: {}", value.repr()?, pythonic(&e.to_string()));
                return Err(if e.to_string().starts_with("invalid type") {
                    PyTypeError::new_err(message)
                } else {
                    PyValueError::new_err(message)
                });
            }
            insert(&mut whole, section.as_deref(), &key, json);
        }
        serde_json::from_value(Value::Object(whole)).map(Wrap).map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

fn insert(object: &mut Map<String, Value>, section: Option<&str>, key: &str, value: Value) {
    match section {
        None => {
            object.insert(key.to_owned(), value);
        }
        Some(section) => {
            let entry = object.entry(section.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                inner.insert(key.to_owned(), value);
            }
        }
    }
}
