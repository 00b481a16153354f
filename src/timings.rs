//! Wall time per stage of a run: the one clock that the science (its laps), the job (reading
//! the inputs, the peaks, the outputs) and the report (keys in snake case) share.

use std::collections::BTreeMap;
use std::time::Instant;

/// Wall time of each stage, in the order the stages ran, and a lap clock.
#[derive(Debug, Clone)]
pub struct Timings {
    stages: Vec<(String, f64)>,
    clock: Instant,
}

impl Default for Timings {
    fn default() -> Self {
        Timings::new()
    }
}

impl Timings {
    /// No stages yet; the lap clock starts now.
    pub fn new() -> Self {
        Timings { stages: Vec::new(), clock: Instant::now() }
    }

    /// Closes a lap: the stage `name` lasted from the previous lap (or the start) until now.
    pub fn lap(&mut self, name: &str) {
        self.stages.push((name.to_string(), self.clock.elapsed().as_secs_f64()));
        self.clock = Instant::now();
    }

    /// Records the stage `name` as lasting from `since` until now (a stage timed on its own,
    /// outside the laps).
    pub fn add(&mut self, name: &str, since: Instant) {
        self.stages.push((name.to_string(), since.elapsed().as_secs_f64()));
        self.clock = Instant::now();
    }

    /// Appends another record's stages after these.
    pub fn extend(&mut self, other: &Timings) {
        self.stages.extend(other.stages.iter().cloned());
    }

    /// The stages with their seconds, in order.
    pub fn stages(&self) -> &[(String, f64)] {
        &self.stages
    }

    /// The stages as the report keys them ([`stage_key`]).
    pub fn keyed(&self) -> BTreeMap<String, f64> {
        self.stages.iter().map(|(name, seconds)| (stage_key(name), *seconds)).collect()
    }
}

/// The report key of a stage: its name in snake case ("local fit and sigma" -> "local_fit_and_sigma").
pub fn stage_key(name: &str) -> String {
    let mut key = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    key.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_keep_their_order_and_key_in_snake_case() {
        let mut timings = Timings::new();
        timings.lap("model map");
        timings.add("read half maps", Instant::now());
        timings.lap("local fit, subtraction and sigma");
        let names: Vec<&str> = timings.stages().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["model map", "read half maps", "local fit, subtraction and sigma"]);
        assert!(timings.keyed().contains_key("local_fit_subtraction_and_sigma"));
    }
}
