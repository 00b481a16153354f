//! Densities on the map's grid: electron form factors ([`form_factors`]), FFTs ([`fourier`]),
//! the resolution limit both maps share ([`filter`]), the model map ([`model_map`]) and the
//! model envelope ([`mask`]).

pub mod filter;
pub mod form_factors;
pub mod fourier;
pub mod mask;
pub mod model_map;
