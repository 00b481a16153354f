//! What a run prints: plain lines on stdout, warnings and errors on stderr, a spinner only on a
//! terminal. `quiet=true` leaves errors only, as `--help` promises. Everything printed goes
//! through [`printable`]: names from files (chain IDs, residue names, paths) cannot send escape
//! sequences to a terminal or a log.

/// `text` with control characters shown escaped, except the newlines and tabs of the program's
/// own layout ([`crate::escape::terminal`]).
pub fn printable(text: &str) -> String {
    crate::escape::terminal(text)
}

/// The run's voice.
pub struct Console {
    quiet: bool,
    progress: indicatif::ProgressBar,
}

impl Console {
    /// A console; `quiet` silences everything but errors.
    pub fn new(quiet: bool) -> Self {
        let progress = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            // Draws only on a terminal: logs and pipelines get plain lines.
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        };
        Console { quiet, progress }
    }

    /// A line of the run's account.
    pub fn say(&self, text: impl AsRef<str>) {
        if !self.quiet {
            self.progress.suspend(|| println!("{}", printable(text.as_ref())));
        }
    }

    /// A warning, on stderr.
    pub fn warn(&self, text: impl AsRef<str>) {
        if !self.quiet {
            self.progress.suspend(|| eprintln!("warning: {}", printable(text.as_ref())));
        }
    }

    /// What the spinner says the run is doing.
    pub fn stage(&self, text: impl Into<std::borrow::Cow<'static, str>>) {
        self.progress.set_message(text);
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.progress.finish_and_clear();
    }
}

impl crate::pipeline::Observer for Console {
    fn stage(&self, what: &str) {
        Console::stage(self, what.to_string());
    }
    fn say(&self, text: &str) {
        Console::say(self, text);
    }
    fn warn(&self, text: &str) {
        Console::warn(self, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(printable("A/ASN14\tok\n"), "A/ASN14\tok\n");
        assert_eq!(printable("\x1b[2Jchain\rX\u{7}"), "\\x1b[2Jchain\\rX\\x07");
    }
}
