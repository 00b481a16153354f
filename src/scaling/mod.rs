//! Scaling the model map to the experimental map: the sliding-window fit ([`local`]) and the
//! amplitude-difference variant ([`amplitude`]).

pub mod amplitude;
pub mod blocks;
pub mod local;
pub mod noise;
pub mod spectral;
