//! The live connections, so that a shutdown can reach every one of them.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::hub::lock;

#[derive(Default)]
struct Inner {
    live: HashMap<u64, Arc<TcpStream>>,
    stopping: bool,
}

/// Every live connection's socket, and whether the server is stopping.
///
/// Stopping does not touch any connection's machine: it shuts the read side of each socket,
/// which wakes a reader blocked in `read` with an end of stream; a reader that is not
/// blocked (the client keeps sending) sees [`Registry::is_stopping`] after its next read.
/// Either way the reader tells its machine `shutdown()` instead of feeding it. So the
/// thread that owns a machine stays the only one that drives it.
#[derive(Default)]
pub(super) struct Registry {
    inner: Mutex<Inner>,
    changed: Condvar,
    /// `inner.stopping`, readable without the lock: readers check it after every read.
    stopping: AtomicBool,
}

/// A connection's place in the registry; dropping it removes the connection.
pub(super) struct Entry {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Entry {
    fn drop(&mut self) {
        lock(&self.registry.inner).live.remove(&self.id);
        self.registry.changed.notify_all();
    }
}

impl Registry {
    /// Registers a new connection; `None` if the server is stopping (close it at once).
    pub(super) fn add(self: &Arc<Self>, id: u64, stream: &Arc<TcpStream>) -> Option<Entry> {
        let clone = Arc::clone(stream);
        let mut inner = lock(&self.inner);
        if inner.stopping {
            return None;
        }
        inner.live.insert(id, clone);
        Some(Entry {
            registry: Arc::clone(self),
            id,
        })
    }

    /// Whether the server is stopping.
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Starts the shutdown: no more registrations; every reader wakes up, and writes that
    /// block longer than `grace` fail, so a client that does not read cannot hold the exit.
    pub(super) fn stop_all(&self, grace: Duration) {
        let mut inner = lock(&self.inner);
        inner.stopping = true;
        self.stopping.store(true, Ordering::Release);
        for stream in inner.live.values() {
            let _ = stream.set_write_timeout(Some(grace));
            let _ = stream.shutdown(Shutdown::Read);
        }
    }

    /// Waits until every connection has ended, at most `timeout`; returns how many remain.
    pub(super) fn wait_empty(&self, timeout: Duration) -> usize {
        let until = Instant::now() + timeout;
        let mut inner = lock(&self.inner);
        while !inner.live.is_empty() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inner = self
                .changed
                .wait_timeout(inner, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        inner.live.len()
    }
}
