//! The driver's clock, as seen by the core.

use core::ops::Add;
use core::time::Duration;

/// How long a client that has said its last word still listens for the server's answer
/// (the CLOSE after BYE, an error after a classic upload) before it gives up and ends. A
/// seed-style server may never close, so the wait must be bounded.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// The earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A point in time on the driver's monotonic clock.
///
/// The core never reads a clock: drivers pass the current time into every `handle_*` call.
/// An `Instant` is a duration since an epoch the driver chooses (usually when it started), so
/// it works without `std` and lets simulations run on a virtual clock that jumps from deadline
/// to deadline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `since_epoch` after the driver's epoch.
    pub const fn from_since_epoch(since_epoch: Duration) -> Self {
        Instant(since_epoch)
    }

    /// The time since the driver's epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// How long after `earlier` this instant is, or zero if it is not later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// The instant `d` later, saturating instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}
