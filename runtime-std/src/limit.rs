//! How many connections a service holds at once. The others are told
//! [`unstuck_core::BUSY_LINE`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A connection counter with a ceiling, one per service.
///
/// [`ConnLimit::try_acquire`] hands out a [`Permit`] that frees its slot when dropped, so a
/// connection's slot is returned however its task or thread ends.
#[derive(Clone, Debug)]
pub struct ConnLimit {
    live: Arc<AtomicUsize>,
    max: usize,
}

impl ConnLimit {
    /// A limit of `max` live connections.
    pub fn new(max: usize) -> Self {
        ConnLimit {
            live: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A slot, or `None` when `max` connections are live: answer [`unstuck_core::BUSY_LINE`] and close.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit {
                live: Arc::clone(&self.live),
            })
    }

    /// Connections live now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
}

/// One connection's slot under a [`ConnLimit`]; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    live: Arc<AtomicUsize>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_come_back() {
        let limit = ConnLimit::new(2);
        let a = limit.try_acquire().unwrap();
        let _b = limit.try_acquire().unwrap();
        assert!(limit.try_acquire().is_none());
        drop(a);
        assert!(limit.try_acquire().is_some());
        assert_eq!(limit.live(), 1);
    }
}
