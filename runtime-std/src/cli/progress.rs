//! Upload progress: a bar on a terminal, a line every 10 % otherwise (logs, CI, pipes).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// Progress of one file.
pub(crate) struct Bar {
    bar: Option<ProgressBar>,
    name: String,
    size: u64,
    /// Plain mode: the last tenth reported.
    tenth: u64,
}

impl Bar {
    /// Starts reporting on `name`, `size` bytes long.
    pub(crate) fn start(name: &str, size: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(size);
            let style = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(name.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if bar.is_none() {
            eprintln!("{name}: sending {}", HumanBytes(size));
        }
        Bar {
            bar,
            name: name.to_owned(),
            size,
            tenth: 0,
        }
    }

    /// A line that must not be overwritten by the bar.
    pub(crate) fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("{}: {text}", self.name)),
            None => eprintln!("{}: {text}", self.name),
        }
    }

    /// The first `pos` bytes are done.
    pub(crate) fn set(&mut self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
            return;
        }
        let tenth = pos.saturating_mul(10).checked_div(self.size).unwrap_or(10);
        if tenth > self.tenth {
            self.tenth = tenth;
            eprintln!(
                "{}: {}% ({} of {})",
                self.name,
                tenth * 10,
                HumanBytes(pos),
                HumanBytes(self.size)
            );
        }
    }

    /// The transfer is over (well or not): the bar goes away.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
