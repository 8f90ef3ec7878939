//! Stopping a running server: the [`Stopper`] handle, and the thread that turns SIGINT and
//! SIGTERM into a stop.

use std::fmt;
use std::io;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use signal_hook::iterator::{Handle, Signals};

use crate::hub::lock;

#[derive(Default)]
struct Flag {
    stopped: Mutex<bool>,
    changed: Condvar,
}

/// Stops a [`Server`](super::Server) gracefully, from any thread: [`Server::run`] stops
/// accepting, shuts every live connection down (chat clients get `520 server going down`,
/// uploads keep a resumable checkpoint), and returns once they have ended.
///
/// A stop that comes before `run` makes `run` return at once.
///
/// [`Server::run`]: super::Server::run
#[derive(Clone)]
pub struct Stopper(Arc<Flag>);

impl fmt::Debug for Stopper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stopper")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

impl Stopper {
    /// A stopper for a new server.
    pub(super) fn new() -> Self {
        Stopper(Arc::default())
    }

    /// Starts the graceful stop; does not wait for it. Calling it again does nothing more.
    pub fn stop(&self) {
        *lock(&self.0.stopped) = true;
        self.0.changed.notify_all();
    }

    /// Whether [`Stopper::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        *lock(&self.0.stopped)
    }

    /// Blocks until [`Stopper::stop`] is called.
    pub(super) fn wait(&self) {
        let mut stopped = lock(&self.0.stopped);
        while !*stopped {
            stopped = self
                .0
                .changed
                .wait(stopped)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The thread that waits for SIGINT or SIGTERM; [`SignalWatcher::close`] ends it.
pub(super) struct SignalWatcher {
    handle: Handle,
    thread: JoinHandle<()>,
}

/// Stops the server on the first signal that `signals` catches.
pub(super) fn watch_signals(mut signals: Signals, stopper: Stopper) -> io::Result<SignalWatcher> {
    let handle = signals.handle();
    let thread = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                tracing::info!(signal, "signal received");
                stopper.stop();
            }
        })?;
    Ok(SignalWatcher { handle, thread })
}

impl SignalWatcher {
    /// Stops watching (the server stopped for another reason, or has stopped) and waits
    /// for the thread.
    pub(super) fn close(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}
