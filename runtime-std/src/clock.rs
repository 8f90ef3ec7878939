//! The driver's clock: the core never reads one, so the driver hands it [`Instant`]s.

use std::time::Duration;

use unstuck_core::Instant;

/// A monotonic clock whose epoch is its creation, converting to and from the core's [`Instant`].
///
/// One clock per server (or client) is enough; it is `Copy` and cheap to share.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: std::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Clock {
            epoch: std::time::Instant::now(),
        }
    }

    /// The current time, for the core's `handle_*` calls.
    pub fn now(&self) -> Instant {
        Instant::from_since_epoch(self.epoch.elapsed())
    }

    /// The std instant of a core deadline, for runtimes whose timers take one.
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.epoch + at.since_epoch()
    }

    /// How long from now until `deadline`; `None` when there is no deadline, zero when it passed.
    pub fn until(&self, deadline: Option<Instant>) -> Option<Duration> {
        deadline.map(|d| d.saturating_since(self.now()))
    }
}
