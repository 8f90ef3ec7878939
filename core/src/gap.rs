//! The quiet gap: how the classic forms find message ends in a stream that has none.

use alloc::collections::VecDeque;
use core::time::Duration;

use crate::Instant;

/// Tracks when bytes arrived and where a quiet gap ended a message.
///
/// The seed's classic client sends a message and then waits, so a message is complete once
/// no byte has arrived for `gap`. Boundaries are recorded as absolute stream positions as soon
/// as the gap is known to have passed (when more input arrives, or when time is handed in),
/// so the result never depends on when the driver polls.
#[derive(Debug)]
pub(crate) struct Gap {
    gap: Duration,
    last_byte: Option<Instant>,
    /// Stream position just past the last byte received.
    received_to: u64,
    /// Positions where a message ended, oldest first.
    boundaries: VecDeque<u64>,
}

impl Gap {
    pub(crate) fn new(gap: Duration) -> Self {
        Gap {
            gap,
            last_byte: None,
            received_to: 0,
            boundaries: VecDeque::new(),
        }
    }

    /// The gap's length.
    pub(crate) fn length(&self) -> Duration {
        self.gap
    }

    /// Records that time `now` has come: a gap that has passed ends the message.
    pub(crate) fn tick(&mut self, now: Instant) {
        if let Some(last) = self.last_byte {
            if now.saturating_since(last) >= self.gap {
                self.boundaries.push_back(self.received_to);
                self.last_byte = None;
            }
        }
    }

    /// Records `n` bytes arriving at `now`.
    pub(crate) fn received(&mut self, now: Instant, n: usize) {
        if n == 0 {
            return;
        }
        self.tick(now);
        self.received_to += n as u64;
        self.last_byte = Some(now);
    }

    /// Ends the current message at once (the stream ended).
    pub(crate) fn flush(&mut self) {
        if self.last_byte.take().is_some() {
            self.boundaries.push_back(self.received_to);
        }
    }

    /// When the pending message will be complete, if one is pending.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.last_byte.map(|t| t + self.gap)
    }

    /// The oldest boundary not yet taken.
    pub(crate) fn first(&self) -> Option<u64> {
        self.boundaries.front().copied()
    }

    /// Takes the oldest boundary.
    pub(crate) fn pop(&mut self) {
        self.boundaries.pop_front();
    }

    /// Forgets boundaries at or before `position` (their bytes were consumed another way).
    pub(crate) fn drop_through(&mut self, position: u64) {
        while self.boundaries.front().is_some_and(|b| *b <= position) {
            self.boundaries.pop_front();
        }
    }
}
