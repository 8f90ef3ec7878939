//! A wake-up flag a thread can wait on: the blocking [`Wake`] of the hub.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::hub::{Wake, lock};

/// Lets one thread sleep until another has news for it, or a timeout passes.
///
/// A wake that comes while nobody waits is kept, so the next wait returns at once: no
/// wake-up is ever lost between deciding to wait and waiting.
#[derive(Debug, Default)]
pub(super) struct Parker {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Parker {
    /// Waits for a wake, at most `timeout` (forever for `None`), and consumes it.
    pub(super) fn park(&self, timeout: Option<Duration>) {
        let mut woken = lock(&self.woken);
        match timeout {
            None => {
                while !*woken {
                    woken = self.cv.wait(woken).unwrap_or_else(PoisonError::into_inner);
                }
            }
            Some(t) => {
                woken = self
                    .cv
                    .wait_timeout_while(woken, t, |w| !*w)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        *woken = false;
    }
}

impl Wake for Parker {
    fn wake(&self) {
        *lock(&self.woken) = true;
        self.cv.notify_one();
    }
}
