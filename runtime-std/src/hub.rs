//! Room mode: one [`Room`] for the whole chat service and the connections it delivers to.
//!
//! The core's [`Room`] decides who receives what; the [`Hub`] carries it out. Each member is
//! its connection's machine, shared as `Arc<Mutex<ChatServer>>`, and a [`Wake`] handle for
//! the task or thread that writes that connection's socket. Delivering a message renders it
//! into the recipient's machine ([`ChatServer::send`], which enforces the send queue bound)
//! and wakes its writer; the hub itself never touches a socket.
//!
//! Locking: the hub's lock is taken first, then a member's machine lock, each briefly and
//! never across I/O. So a connection's driver must **not** hold its own machine's lock while
//! it calls [`Hub::join`], [`Hub::say`] or [`Hub::leave`]: take the event out of `poll_output`,
//! release the lock, then call the hub.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use unstuck_core::chat::{ChatServer, Delivery, Room, Target};

/// Wakes the writer of one connection: it has new bytes to send.
///
/// The blocking server implements it with a flag and a `Condvar`; an async one with an
/// event listener. Waking a writer that is not waiting must make its next wait return at once.
pub trait Wake: Send + Sync {
    /// Signals the writer; must not block.
    fn wake(&self);
}

impl<T: Wake + ?Sized> Wake for Arc<T> {
    fn wake(&self) {
        (**self).wake();
    }
}

/// Locks a mutex even if a thread panicked while holding it: a machine left by a panicking
/// driver is still consistent enough to be closed, and the others must go on.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Member<W> {
    server: Arc<Mutex<ChatServer>>,
    waker: W,
}

struct Inner<W> {
    room: Room<u64>,
    members: BTreeMap<u64, Member<W>>,
}

/// The chat room of one server: shared by all its connections (`Arc<Hub<W>>`).
pub struct Hub<W> {
    inner: Mutex<Inner<W>>,
}

impl<W: Wake> Default for Hub<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W> std::fmt::Debug for Hub<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("members", &lock(&self.inner).members.len())
            .finish()
    }
}

impl<W: Wake> Hub<W> {
    /// An empty room.
    pub fn new() -> Self {
        Hub {
            inner: Mutex::new(Inner {
                room: Room::new(),
                members: BTreeMap::new(),
            }),
        }
    }

    /// Adds connection `id` once its form is known (`ServerEvent::Detected`): it gets a
    /// `guest-N` nickname, is told so, and the others are told it joined.
    pub fn join(&self, id: u64, server: Arc<Mutex<ChatServer>>, waker: W) {
        let mut inner = lock(&self.inner);
        inner.members.insert(id, Member { server, waker });
        let out = inner.room.join(id);
        deliver(&inner, out);
    }

    /// Connection `id` said `text` (`ServerEvent::Message`).
    pub fn say(&self, id: u64, text: &str) {
        let mut inner = lock(&self.inner);
        let out = inner.room.say(id, text);
        deliver(&inner, out);
    }

    /// Connection `id` is gone, for whatever reason; the others are told. Leaving twice, or
    /// without having joined, does nothing.
    pub fn leave(&self, id: u64) {
        let mut inner = lock(&self.inner);
        inner.members.remove(&id);
        let out = inner.room.leave(id);
        deliver(&inner, out);
    }

    /// Removes `id` without telling the others: for a server shutdown, where every member is
    /// being closed anyway (spec 6.7 sends no notice then).
    pub fn leave_quietly(&self, id: u64) {
        let mut inner = lock(&self.inner);
        inner.members.remove(&id);
        let _ = inner.room.leave(id);
    }

    /// The nickname of `id`, for logs.
    pub fn nick(&self, id: u64) -> Option<String> {
        lock(&self.inner).room.nick(id).map(String::from)
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        lock(&self.inner).members.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Renders each delivery into its recipients' machines and wakes their writers, under the
/// hub's lock, so every member sees messages in the one order the room handled them.
fn deliver<W: Wake>(inner: &Inner<W>, out: Vec<Delivery<u64>>) {
    for d in out {
        let msg = d.message.as_server_message();
        let recipients = inner.members.iter().filter(|(id, _)| match d.to {
            Target::One(k) => **id == k,
            Target::AllBut(k) => **id != k,
        });
        for (id, member) in recipients {
            if let Err(e) = lock(&member.server).send(&msg) {
                tracing::warn!(id, "room delivery refused: {e}");
            }
            member.waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use unstuck_core::chat::{ChatConfig, Mode};
    use unstuck_core::{Instant, Output};

    use super::*;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A room connection in line form, its banner already sent.
    fn member() -> Arc<Mutex<ChatServer>> {
        let mut s = ChatServer::new(ChatConfig::new(Mode::Room).into(), Instant::ZERO);
        s.handle_input(Instant::ZERO, b"\n");
        drain(&mut s);
        Arc::new(Mutex::new(s))
    }

    fn drain(s: &mut ChatServer) -> String {
        let mut sent = Vec::new();
        loop {
            match s.poll_output() {
                Output::Transmit(b) => {
                    sent.extend_from_slice(b);
                    let n = b.len();
                    s.handle_sent(n).unwrap();
                }
                Output::Event(_) => {}
                Output::Wait(_) | Output::Done(_) => break,
            }
        }
        String::from_utf8(sent).unwrap()
    }

    #[test]
    fn delivers_to_the_others_and_wakes_them() {
        let hub = Hub::new();
        let (a, b) = (member(), member());
        let (wa, wb) = (Arc::new(Count::default()), Arc::new(Count::default()));
        hub.join(1, a.clone(), wa.clone());
        hub.join(2, b.clone(), wb.clone());
        hub.say(1, "hi");
        assert_eq!(
            drain(&mut lock(&a)),
            "* you are guest-1\n* guest-2 joined\n"
        );
        assert_eq!(drain(&mut lock(&b)), "* you are guest-2\nguest-1: hi\n");
        assert!(wb.0.load(Ordering::Relaxed) >= 2);
        hub.leave(1);
        assert_eq!(drain(&mut lock(&b)), "* guest-1 left\n");
        assert_eq!(hub.len(), 1);
    }
}
