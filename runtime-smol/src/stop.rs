//! The server's stop signal and its count of live connections, so shutdown can tell every
//! connection at once and then wait for the last one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use event_listener::{Event, EventListener};

/// Set once when the server stops; every connection listens for it.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    stopped: AtomicBool,
    event: Event,
    live: AtomicUsize,
    idle: Event,
}

impl Stop {
    /// Stops the server: accept loops end, connections shut down.
    pub(crate) fn trigger(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    /// Whether [`Stop::trigger`] was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// A listener for the stop. Check [`Stop::is_stopped`] after creating it: a stop that
    /// came before is not replayed.
    pub(crate) fn listen(&self) -> EventListener {
        self.event.listen()
    }

    /// Counts one more connection as live; [`Stop::leave`] when it ends.
    pub(crate) fn enter(&self) {
        self.live.fetch_add(1, Ordering::SeqCst);
    }

    /// One connection ended.
    pub(crate) fn leave(&self) {
        if self.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify(usize::MAX);
        }
    }

    /// Waits until no connection is live.
    pub(crate) async fn drained(&self) {
        loop {
            let l = self.idle.listen();
            if self.live.load(Ordering::SeqCst) == 0 {
                return;
            }
            l.await;
        }
    }
}
