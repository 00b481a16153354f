//! What a run prints: plain lines on stdout, warnings and errors on stderr, a spinner only on a
//! terminal. `quiet=true` leaves errors only, as `--help` promises.

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
            self.progress.suspend(|| println!("{}", text.as_ref()));
        }
    }

    /// A warning, on stderr.
    pub fn warn(&self, text: impl AsRef<str>) {
        if !self.quiet {
            self.progress.suspend(|| eprintln!("warning: {}", text.as_ref()));
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
