//! [`Driver`]: plays a script into one machine like an event loop on a virtual clock.

use core::time::Duration;

use unstuck_core::{Closed, Instant, Stats, Wait};

use super::{Act, Bytes, Machine, Polled, Transcript, Writer, Writes};

/// Polls without progress tolerated before the driver calls the machine stuck.
const MAX_POLLS: usize = 10_000_000;

/// Plays scripts into one machine, like an event loop on a virtual clock.
#[derive(Debug)]
pub struct Driver<M: Machine> {
    machine: M,
    w: Writer,
    events: Vec<M::Event>,
    closed: Option<Closed>,
    wait: Option<Wait>,
    now: Instant,
    in_place: bool,
}

impl<M: Machine> Driver<M> {
    /// Starts driving `machine`, created at `now`: what it queued at once is sent at `now`.
    pub fn new(machine: M, now: Instant, writes: &Writes) -> Self {
        let mut d = Driver {
            machine,
            w: Writer::new(writes, now),
            events: Vec::new(),
            closed: None,
            wait: None,
            now,
            in_place: false,
        };
        d.drain();
        d
    }

    /// From now on, reads go through the machine's own buffer (`recv_buf`, then
    /// `handle_received`) where it has one, as a zero-copy driver does.
    pub fn read_in_place(&mut self) {
        self.in_place = true;
    }

    /// The machine.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The machine's counters.
    pub fn stats(&self) -> Stats {
        self.machine.stats()
    }

    /// Plays `acts` in order.
    pub fn play(&mut self, acts: &[Act]) {
        for (i, act) in acts.iter().enumerate() {
            match act {
                Act::Bytes(t, b) => self.input(*t, &b.0),
                Act::Tick(t) => self.tick(*t),
                Act::EarlyTick(f) => self.early_tick(*f, next_instant(&acts[i + 1..])),
                Act::Eof(t) => self.eof(*t),
            }
        }
    }

    /// Feeds `bytes` arriving at `at`, offering again what was not taken after each drain.
    pub fn input(&mut self, at: Instant, bytes: &[u8]) {
        self.advance(at);
        let mut rest = bytes;
        let mut refused = 0;
        while !rest.is_empty() && self.closed.is_none() {
            let n = if self.in_place {
                self.machine.input_in_place(self.now, rest)
            } else {
                self.machine.input(self.now, rest)
            };
            rest = &rest[n..];
            self.drain();
            refused = if n == 0 { refused + 1 } else { 0 };
            assert!(
                refused < 2,
                "input refused again after a full drain: stuck in {:?}",
                self.wait
            );
        }
    }

    /// Calls `handle_timeout(at)` once the deadlines due by then have fired.
    pub fn tick(&mut self, at: Instant) {
        self.advance(at);
        if self.closed.is_none() {
            self.machine.timeout(self.now);
            self.drain();
        }
    }

    /// Calls `handle_timeout` strictly before the machine's deadline and `until` (see
    /// [`Act::EarlyTick`]); without `until`, at the driver's clock.
    pub fn early_tick(&mut self, f: u16, until: Option<Instant>) {
        if self.closed.is_some() {
            return;
        }
        let mut hi = until.unwrap_or(self.now);
        if let Some(d) = self.wait.and_then(|w| w.deadline) {
            let before = d.since_epoch().saturating_sub(Duration::from_nanos(1));
            hi = hi.min(Instant::from_since_epoch(before));
        }
        let span = hi.saturating_since(self.now);
        let t = self.now + span.mul_f64(f64::from(f) / 65536.0);
        self.set_now(t);
        self.machine.timeout(t);
        self.drain();
    }

    /// The peer ends its stream at `at`.
    pub fn eof(&mut self, at: Instant) {
        self.advance(at);
        if self.closed.is_none() {
            self.machine.eof(self.now);
            self.drain();
        }
    }

    /// What was sent, grouped by the instant it was written, as a script for the peer.
    pub fn output_acts(&self) -> Vec<Act> {
        self.w
            .bursts
            .iter()
            .map(|(t, b)| Act::Bytes(*t, Bytes(b.clone())))
            .collect()
    }

    /// The transcript so far.
    pub fn transcript(&self) -> Transcript<M::Event> {
        Transcript {
            sent: Bytes(self.w.sent.clone()),
            events: self.events.clone(),
            closed: self.closed.clone(),
        }
    }

    fn set_now(&mut self, t: Instant) {
        self.now = self.now.max(t);
        self.w.now = self.now;
    }

    /// Fires every deadline due at or before `at`, in order, then sets the clock to `at`.
    fn advance(&mut self, at: Instant) {
        assert!(
            at >= self.now,
            "script goes back in time: {at:?} < {:?}",
            self.now
        );
        while self.closed.is_none() {
            let Some(d) = self.wait.and_then(|w| w.deadline).filter(|d| *d <= at) else {
                break;
            };
            self.set_now(d);
            self.machine.timeout(self.now);
            self.drain();
            let again = self.wait.and_then(|w| w.deadline);
            assert!(
                self.closed.is_some() || again != Some(d),
                "deadline {d:?} still pending after handle_timeout at it: a driver would spin"
            );
        }
        self.set_now(at);
    }

    /// Polls until the machine waits with nothing to write, or is done.
    fn drain(&mut self) {
        let mut empty_waits = 0;
        for _ in 0..MAX_POLLS {
            if self.closed.is_some() {
                return;
            }
            match self.machine.poll(&mut self.w) {
                Polled::Wrote => empty_waits = 0,
                Polled::Event(e) => {
                    self.machine.react(&e, &mut self.w);
                    let merged = self.events.last_mut().is_some_and(|l| M::merge(l, &e));
                    if !merged {
                        self.events.push(e);
                    }
                }
                Polled::Done(c) => self.closed = Some(c),
                Polled::Wait(wait) => {
                    self.wait = Some(wait);
                    if wait.wants_write {
                        // The socket became writable again: poll for the rest.
                        empty_waits += 1;
                        assert!(empty_waits < 3, "wants_write, but nothing is offered");
                    } else if !self.machine.idle(&mut self.w) {
                        return;
                    }
                }
            }
        }
        panic!("poll_output did not settle after {MAX_POLLS} polls");
    }
}

/// The instant of the first timed act, if any.
fn next_instant(acts: &[Act]) -> Option<Instant> {
    acts.iter().find_map(|a| match a {
        Act::Bytes(t, _) | Act::Tick(t) | Act::Eof(t) => Some(*t),
        Act::EarlyTick(_) => None,
    })
}
