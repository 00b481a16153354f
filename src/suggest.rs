//! "Did you mean …?" for a mistyped key, option or manifest column: the closest valid name
//! within a small edit distance, so that `resolutoin` points at `resolution` instead of the
//! user reading a list of every key.

/// The candidate closest to `word` (Damerau-Levenshtein, case-insensitive, `-` read as `_`),
/// when it is within a third of the word's length (at least 1, at most 3 edits) and closer than
/// any other candidate.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let normal = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let word = normal(word);
    let allowed = (word.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = strsim::damerau_levenshtein(&word, &normal(candidate));
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `"; did you mean 'X'?"` when a close candidate exists, else nothing: appended to messages.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key_and_strangers_find_none() {
        let keys = ["resolution", "peak_sigma", "window", "output", "half_map", "fdr"];
        assert_eq!(closest("resolutoin", keys), Some("resolution"));
        assert_eq!(closest("peak_sigm", keys), Some("peak_sigma"));
        assert_eq!(closest("peak-sigma", keys), Some("peak_sigma"));
        assert_eq!(closest("Window", keys), Some("window"));
        assert_eq!(closest("windw", keys), Some("window"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(closest("fd", keys), Some("fdr"));
        assert_eq!(did_you_mean("xyz", keys), "");
    }
}
