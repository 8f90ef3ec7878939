//! Run one core machine through a script and record what it did.
//!
//! A script is a list of [`Act`]s: bytes arriving at an instant, timer calls, the end of the
//! stream. [`run`] plays it like a real event loop would — fire each due deadline, feed bytes
//! (offering again what the machine did not take), drain `poll_output` after every call, answer
//! what the driver must answer — and returns a [`Transcript`]: the bytes acknowledged as sent,
//! the events (owned copies), and how the connection ended.
//!
//! The helpers below rewrite scripts without changing what the peer sends: [`split`] cuts the
//! byte stream at arbitrary points, [`bytewise`] into single bytes, [`with_early_ticks`] adds
//! `handle_timeout` calls that must not matter. Comparing transcripts of such variants is how
//! the property suites check that the machines do not depend on chunking or on timer calls.
//! [`Writes::Short`] makes the socket take random prefixes of each transmit.
//!
//! The driver panics where a real event loop would hang or spin: input refused again after a
//! full drain, a deadline still pending after `handle_timeout` at it, `wants_write` with nothing
//! offered, or a `poll_output` loop that never waits.

mod driver;
mod machines;
mod script;
pub mod wire;

use core::fmt;
use core::time::Duration;

use unstuck_core::{Closed, Instant, Output, Stats, Wait};

use crate::machine::{Core, Io};

pub use driver::Driver;
pub use machines::{FileToSend, UploadRecord, Uploader};
pub use script::{at_once, bytewise, end_of, split, stream, whole, with_early_ticks};

/// Bytes with a short `Debug` form, so that failing properties print readable transcripts.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        if b.len() <= 256 {
            return write!(f, "b\"{}\"", b.escape_ascii());
        }
        let (head, tail) = (&b[..160], &b[b.len() - 64..]);
        write!(
            f,
            "b\"{}\"..({} bytes)..b\"{}\"",
            head.escape_ascii(),
            b.len(),
            tail.escape_ascii()
        )
    }
}

/// One thing the peer or the clock does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    /// These bytes arrive at this instant (instants never go back within a script).
    Bytes(Instant, Bytes),
    /// `handle_timeout` at this instant, after the deadlines due by then have fired.
    Tick(Instant),
    /// `handle_timeout` at a time that can make no difference: the fraction `f / 65536` of the
    /// way from the driver's clock to just before the earlier of the machine's deadline and
    /// the next act's instant.
    EarlyTick(u16),
    /// The peer ends its side of the stream.
    Eof(Instant),
}

/// `ms` milliseconds after the epoch.
pub fn at_ms(ms: u64) -> Instant {
    Instant::from_since_epoch(Duration::from_millis(ms))
}

/// How the driver's socket takes the bytes of each `Output::Transmit`.
#[derive(Clone, Debug, Default)]
pub enum Writes {
    /// Every transmit is written whole.
    #[default]
    Full,
    /// The i-th transmit writes `acks[i] % (len + 1)` bytes (zero included); whole once the
    /// list is used up, so every run ends.
    Short(Vec<u32>),
}

/// The driver's socket: applies the [`Writes`] policy and keeps what was written.
#[derive(Debug)]
pub struct Writer {
    acks: Vec<u32>,
    next: usize,
    now: Instant,
    sent: Vec<u8>,
    bursts: Vec<(Instant, Vec<u8>)>,
}

impl Writer {
    fn new(writes: &Writes, now: Instant) -> Self {
        let acks = match writes {
            Writes::Full => Vec::new(),
            Writes::Short(acks) => acks.clone(),
        };
        Writer {
            acks,
            next: 0,
            now,
            sent: Vec::new(),
            bursts: Vec::new(),
        }
    }

    /// Writes a prefix of `bytes` as the policy says; returns its length (for `handle_sent`).
    pub fn write(&mut self, bytes: &[u8]) -> usize {
        let n = match self.acks.get(self.next) {
            Some(&a) => {
                self.next += 1;
                a as usize % (bytes.len() + 1)
            }
            None => bytes.len(),
        };
        self.direct(&bytes[..n]);
        n
    }

    /// Writes `bytes` whole, bypassing the machine (an upload body the client hands out).
    pub fn direct(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.sent.extend_from_slice(bytes);
        match self.bursts.last_mut() {
            Some((t, b)) if *t == self.now => b.extend_from_slice(bytes),
            _ => self.bursts.push((self.now, bytes.to_vec())),
        }
    }
}

/// One `poll_output` result once the driver has dealt with its borrowed parts.
#[derive(Debug)]
pub enum Polled<E> {
    /// A transmit was written (perhaps partly) and acknowledged.
    Wrote,
    /// An event, as an owned copy.
    Event(E),
    /// The machine waits.
    Wait(Wait),
    /// The connection is over.
    Done(Closed),
}

/// Turns one borrowed [`Output`] into a [`Polled`]; returns the count to acknowledge, if any.
pub fn polled<E, O>(
    out: Output<'_, E>,
    w: &mut Writer,
    own: impl FnOnce(E) -> O,
) -> (Polled<O>, Option<usize>) {
    match out {
        Output::Transmit(b) => (Polled::Wrote, Some(w.write(b))),
        Output::Event(e) => (Polled::Event(own(e)), None),
        Output::Wait(x) => (Polled::Wait(x), None),
        Output::Done(c) => (Polled::Done(c), None),
    }
}

/// The common shape of the four core machines, plus the driver's side of their protocol.
///
/// The calls into the machine itself default to its [`Core`], so an impl only says where the
/// machine is, how to own its events, and what the driver answers.
pub trait Machine {
    /// An owned copy of the machine's event.
    type Event: Clone + fmt::Debug + PartialEq;
    /// The core machine driven.
    type Core: Core;
    /// The core machine.
    fn core(&self) -> &Self::Core;
    /// The core machine, to drive.
    fn core_mut(&mut self) -> &mut Self::Core;
    /// An owned copy of one of the core machine's events.
    fn own(event: <Self::Core as Core>::Event<'_>) -> Self::Event;
    /// `handle_input`.
    fn input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.core_mut().handle_input(now, data)
    }
    /// `recv_buf` and `handle_received`, the zero-copy read path, where the machine has them;
    /// `input` otherwise.
    fn input_in_place(&mut self, now: Instant, data: &[u8]) -> usize {
        self.input(now, data)
    }
    /// `handle_eof`.
    fn eof(&mut self, now: Instant) {
        self.core_mut().handle_eof(now);
    }
    /// `handle_timeout`.
    fn timeout(&mut self, now: Instant) {
        self.core_mut().handle_timeout(now);
    }
    /// `stats`.
    fn stats(&self) -> Stats {
        self.core().stats()
    }
    /// One `poll_output`; a transmit goes through `w` and is acknowledged.
    fn poll(&mut self, w: &mut Writer) -> Polled<Self::Event> {
        let core = self.core_mut();
        let (p, written) = polled(core.poll_output(), w, Self::own);
        if let Some(n) = written {
            core.handle_sent(n)
                .expect("the driver acknowledges at most what was offered");
        }
        p
    }
    /// The driver's answer to an event it just recorded (accept an offer, confirm storage...).
    fn react(&mut self, _event: &Self::Event, _w: &mut Writer) {}
    /// Work the driver does on its own once nothing is left to write (feed a file body).
    /// Returns true if the machine may have new output.
    fn idle(&mut self, _w: &mut Writer) -> bool {
        false
    }
    /// Appends `next` to `last` if the transcript keeps them as one event (body slices, whose
    /// cutting depends on the chunking by design). Returns whether it did.
    fn merge(_last: &mut Self::Event, _next: &Self::Event) -> bool {
        false
    }
}

/// What a machine did in a run. Two runs of the same peer behaviour must give equal ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript<E> {
    /// Every byte acknowledged as sent, in order.
    pub sent: Bytes,
    /// The events, in order (adjacent body slices merged).
    pub events: Vec<E>,
    /// How it ended; `None` if it had not ended when the script did.
    pub closed: Option<Closed>,
}

impl<E: fmt::Debug + PartialEq> Transcript<E> {
    /// `None` if equal, else where the two first differ, for a readable failure.
    pub fn diff(&self, other: &Self) -> Option<String> {
        if self.sent != other.sent {
            let (a, b) = (&self.sent.0, &other.sent.0);
            let i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            let (ea, eb) = ((i + 40).min(a.len()), (i + 40).min(b.len()));
            return Some(format!(
                "sent bytes differ at {i} (lengths {} and {}): {:?} vs {:?}",
                a.len(),
                b.len(),
                Bytes(a[i..ea].to_vec()),
                Bytes(b[i..eb].to_vec())
            ));
        }
        if self.events != other.events {
            let i = self
                .events
                .iter()
                .zip(&other.events)
                .take_while(|(x, y)| x == y)
                .count();
            return Some(format!(
                "events differ at {i} (counts {} and {}): {:?} vs {:?}",
                self.events.len(),
                other.events.len(),
                self.events.get(i),
                other.events.get(i)
            ));
        }
        (self.closed != other.closed)
            .then(|| format!("closed {:?} vs {:?}", self.closed, other.closed))
    }
}

/// Plays `acts` into a fresh `machine` created at `start` and returns its transcript.
pub fn run<M: Machine>(
    machine: M,
    start: Instant,
    acts: &[Act],
    writes: &Writes,
) -> Transcript<M::Event> {
    let mut d = Driver::new(machine, start, writes);
    d.play(acts);
    d.transcript()
}

/// Like [`run`] with full writes, but reading through the machine's own buffer
/// ([`Driver::read_in_place`]).
pub fn run_in_place<M: Machine>(machine: M, start: Instant, acts: &[Act]) -> Transcript<M::Event> {
    let mut d = Driver::new(machine, start, &Writes::Full);
    d.read_in_place();
    d.play(acts);
    d.transcript()
}

/// What `machine`, created at `start`, sends when `acts` are played into it, as a script for
/// its peer: bursts at the instants they were written, then EOF a second after the last
/// instant of either (so that a peer's quiet gap has passed).
pub fn replies<M: Machine>(machine: M, start: Instant, acts: &[Act]) -> Vec<Act> {
    let mut d = Driver::new(machine, start, &Writes::Full);
    d.play(acts);
    let mut out = d.output_acts();
    let end = end_of(acts, end_of(&out, start));
    out.push(Act::Eof(end + Duration::from_secs(1)));
    out
}

/// Plays `acts` into a fresh `machine` created at `start` and returns its counters.
pub fn run_stats<M: Machine>(machine: M, start: Instant, acts: &[Act]) -> Stats {
    let mut d = Driver::new(machine, start, &Writes::Full);
    d.play(acts);
    d.stats()
}

/// Checks that the parsers did at most `per_byte` steps per byte taken (`Stats::bytes_scanned`
/// against `Stats::bytes_in`); `Err` says by how much they did not.
pub fn check_linear(stats: Stats, per_byte: u64) -> Result<(), String> {
    if stats.bytes_scanned <= per_byte * stats.bytes_in {
        return Ok(());
    }
    Err(format!(
        "scanned {} bytes for {} bytes in: more than {per_byte} per byte",
        stats.bytes_scanned, stats.bytes_in
    ))
}
