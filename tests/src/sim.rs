//! A seeded simulation of client and server cores joined by an unreliable-timing network.
//!
//! In the manner of quinn-proto's test `Pair`: each connection is a client machine and a server
//! machine, one [`Link`] per direction that cuts, merges, delays and back-pressures bytes at
//! random, and a virtual clock that jumps straight to the next thing that can happen (a
//! machine's deadline or a segment's delivery). Everything is drawn from one seed, so a failing
//! seed replays exactly. Every loop is bounded and fails loudly with the state it was stuck in.

mod chat;
mod link;
mod upload;

use std::time::Duration;

use unstuck_core::{Closed, Instant, Output, Wait};

use crate::machine::{Core, HoldsIo};

pub use chat::{ChatClientHost, ChatServerHost, Hub, Script};
pub use link::{Link, Profile, Traffic};
pub use upload::{FileJob, Outcome, Partial, Storage, UploadClientHost, UploadServerHost};

/// Most rounds any `run_until` may take.
pub const STEP_CAP: usize = 2_000_000;
/// Most virtual time any `run_until` may take.
pub const TIME_CAP: Duration = Duration::from_secs(3600);

/// SplitMix64: small, fast and the same on every platform, so seeds replay everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5EED_5EED_5EED_5EED)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi` (`lo` if `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len() as u64 - 1) as usize]
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// One side of a connection: a core machine with the driver logic a scenario gives it.
///
/// Input, EOF and timeouts go straight to the machine ([`HoldsIo`]).
pub trait Host: HoldsIo {
    /// Drains the machine: writes transmits to `out` as far as it takes them and acts on
    /// events. Returns whether anything happened.
    fn poll(&mut self, now: Instant, out: &mut Link, rng: &mut Rng) -> bool;
    /// The machine's last [`Wait`], or `None` once it is done.
    fn wait(&self) -> Option<Wait>;
    /// How the connection ended on this side, once it did.
    fn closed(&self) -> Option<&Closed>;
    /// A short account of the host's state, for failure messages.
    fn summary(&self) -> String;
}

/// Bound on `poll_output` calls in one drain, and on drains in one [`Host::poll`].
const DRAIN_CAP: usize = 100_000;

/// Where a [`drain`] stopped.
enum Drained {
    /// The machine waits.
    Wait(Wait),
    /// The machine is done.
    Done(Closed),
    /// [`DRAIN_CAP`] calls and neither.
    Capped,
}

/// One drain of `conn`, the loop every host runs: each transmit is offered to `out` and what it
/// took acknowledged, each event handed to `event`. With `hold`, transmits stay in the machine
/// (bytes the host handed out itself go first; the frame is offered again later). Returns
/// where it stopped and whether anything was sent or happened.
fn drain<C: Core>(
    conn: &mut C,
    now: Instant,
    out: &mut Link,
    rng: &mut Rng,
    hold: bool,
    mut event: impl FnMut(C::Event<'_>),
) -> (Drained, bool) {
    let mut progressed = false;
    for _ in 0..DRAIN_CAP {
        // The output (and its event) may borrow `conn`: the acknowledgement waits until the
        // match has let it go.
        let sent = match conn.poll_output() {
            Output::Transmit(_) if hold => 0,
            Output::Transmit(b) => out.send(now, rng, b),
            Output::Event(e) => {
                event(e);
                progressed = true;
                0
            }
            Output::Wait(w) => return (Drained::Wait(w), progressed),
            Output::Done(c) => return (Drained::Done(c), progressed),
        };
        if sent > 0 {
            conn.handle_sent(sent).expect("ack");
            progressed = true;
        }
    }
    (Drained::Capped, progressed)
}

/// Runs `round` (a drain plus the host's own work) until one makes no progress, as every
/// [`Host::poll`] does; returns whether any did. Panics with the host's summary if it never
/// settles.
fn settle<H: Host>(host: &mut H, mut round: impl FnMut(&mut H) -> bool) -> bool {
    let mut changed = false;
    for _ in 0..DRAIN_CAP {
        if !round(host) {
            return changed;
        }
        changed = true;
    }
    panic!("{}: the driver never settles", host.summary());
}

/// One connection: a client, a server and the two directions between them.
pub struct Pair<C, S> {
    /// The client side.
    pub client: C,
    /// The server side.
    pub server: S,
    /// Client to server.
    pub c2s: Link,
    /// Server to client.
    pub s2c: Link,
}

impl<C: Host, S: Host> Pair<C, S> {
    /// A connection with a random link profile per direction.
    pub fn new(client: C, server: S, rng: &mut Rng, traffic: Traffic, max_delay: Duration) -> Self {
        Pair {
            client,
            server,
            c2s: Link::new(Profile::random(rng, traffic, max_delay)),
            s2c: Link::new(Profile::random(rng, traffic, max_delay)),
        }
    }

    /// Both sides are done.
    pub fn is_done(&self) -> bool {
        self.client.closed().is_some() && self.server.closed().is_some()
    }

    /// The connection breaks: bytes in flight are lost, both sides see EOF.
    pub fn cut(&mut self, now: Instant) {
        self.c2s.cut(now);
        self.s2c.cut(now);
    }

    fn step(&mut self, now: Instant, rng: &mut Rng) -> bool {
        let mut changed = deliver(&mut self.c2s, &mut self.server, now, rng);
        changed |= deliver(&mut self.s2c, &mut self.client, now, rng);
        // A connection breaks in both directions at once.
        if self.c2s.is_broken() != self.s2c.is_broken() {
            self.cut(now);
            changed = true;
        }
        changed |= turn(&mut self.client, &mut self.c2s, now, rng);
        changed |= turn(&mut self.server, &mut self.s2c, now, rng);
        changed
    }

    fn next_time(&self, now: Instant) -> Option<Instant> {
        let deadline = |h: &dyn Host| h.wait().and_then(|w| w.deadline);
        [
            deadline(&self.client),
            deadline(&self.server),
            self.c2s.next_due(),
            self.s2c.next_due(),
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .min()
    }
}

/// Moves due bytes (or the EOF) from `link` into `host`.
fn deliver(link: &mut Link, host: &mut dyn Host, now: Instant, rng: &mut Rng) -> bool {
    let Some(wait) = host.wait() else {
        // The receiver has closed its socket: whatever arrives is lost.
        let lost = link.read(now, rng);
        return !lost.is_empty() | link.take_eof(now);
    };
    if !wait.wants_read {
        return false;
    }
    let data = link.read(now, rng);
    if data.is_empty() {
        if link.take_eof(now) {
            host.eof(now);
            return true;
        }
        return false;
    }
    let n = host.input(now, &data);
    link.unread(now, &data[n.min(data.len())..]);
    n > 0
}

/// Fires a due deadline, drains the host, and closes its sending side once it is done.
fn turn(host: &mut dyn Host, out: &mut Link, now: Instant, rng: &mut Rng) -> bool {
    if host
        .wait()
        .and_then(|w| w.deadline)
        .is_some_and(|d| d <= now)
    {
        host.timeout(now);
    }
    let mut changed = host.poll(now, out, rng);
    if host.closed().is_some() && !out.is_closed() {
        out.close();
        changed = true;
    }
    changed
}

/// Connections under one virtual clock.
pub struct Sim<C, S> {
    /// The virtual clock.
    pub now: Instant,
    /// The seeded source of every random choice.
    pub rng: Rng,
    /// The connections.
    pub pairs: Vec<Pair<C, S>>,
}

impl<C: Host, S: Host> Sim<C, S> {
    /// An empty simulation for `seed`.
    pub fn new(seed: u64) -> Self {
        Sim {
            now: Instant::ZERO,
            rng: Rng::new(seed),
            pairs: Vec::new(),
        }
    }

    /// Adds a connection made now (build its hosts with `self.now`).
    pub fn connect(
        &mut self,
        client: C,
        server: S,
        traffic: Traffic,
        max_delay: Duration,
    ) -> usize {
        let pair = Pair::new(client, server, &mut self.rng, traffic, max_delay);
        self.pairs.push(pair);
        self.pairs.len() - 1
    }

    /// Runs until `done` holds; panics with the state if it cannot get there within the caps.
    pub fn run_until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let start = self.now;
        for _ in 0..STEP_CAP {
            if done(self) {
                return;
            }
            let mut changed = false;
            for pair in &mut self.pairs {
                changed |= pair.step(self.now, &mut self.rng);
            }
            if changed {
                continue;
            }
            let next = self
                .pairs
                .iter()
                .filter_map(|p| p.next_time(self.now))
                .min();
            match next {
                Some(t) if t.saturating_since(start) <= TIME_CAP => self.now = t,
                Some(t) => panic!(
                    "{what}: over {TIME_CAP:?} of virtual time (next {t:?})\n{}",
                    self.summary()
                ),
                None => panic!("{what}: stuck, nothing left to happen\n{}", self.summary()),
            }
        }
        panic!("{what}: more than {STEP_CAP} rounds\n{}", self.summary());
    }

    /// The state of every connection, for failure messages.
    pub fn summary(&self) -> String {
        let mut out = format!("at {:?}:", self.now);
        for (i, p) in self.pairs.iter().enumerate() {
            out.push_str(&format!(
                "\n  #{i} client {}\n     c2s {}\n     server {}\n     s2c {}",
                p.client.summary(),
                p.c2s.summary(),
                p.server.summary(),
                p.s2c.summary()
            ));
        }
        out
    }

    /// Runs until every connection is over on both sides.
    pub fn run_to_end(&mut self, what: &str) {
        self.run_until(what, |s| s.pairs.iter().all(Pair::is_done));
    }
}
