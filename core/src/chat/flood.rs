//! A token bucket that bounds how fast one client may send messages.

use crate::Instant;

const MILLI: u64 = 1000;

/// `burst` messages at once, then `rate` per second; integer arithmetic in thousandths of a token.
#[derive(Debug)]
pub(crate) struct Flood {
    tokens: u64,
    capacity: u64,
    rate: u64,
    last: Instant,
}

impl Flood {
    pub(crate) fn new(burst: u32, rate: u32, now: Instant) -> Self {
        let capacity = u64::from(burst.max(1)) * MILLI;
        Flood {
            tokens: capacity,
            capacity,
            rate: u64::from(rate),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed_ms = now.saturating_since(self.last).as_millis();
        let refill = u64::try_from(elapsed_ms)
            .unwrap_or(u64::MAX)
            .saturating_mul(self.rate);
        self.tokens = self.tokens.saturating_add(refill).min(self.capacity);
        if refill > 0 || now < self.last {
            self.last = now;
        }
        if self.tokens >= MILLI {
            self.tokens -= MILLI;
            true
        } else {
            false
        }
    }
}
