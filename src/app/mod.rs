//! The program around the science: command-line arguments and the run ([`run`]), and many
//! entries at once ([`batch`]).

pub mod batch;
pub mod run;
