//! One direction of a simulated TCP connection: ordered bytes, cut and merged at random.

use std::collections::VecDeque;
use std::time::Duration;

use unstuck_core::Instant;

use super::Rng;

/// How a link misbehaves; drawn once per connection from the seed.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Largest segment a write is cut into.
    pub max_segment: usize,
    /// Largest single read handed to the receiver (reads merge segments).
    pub max_read: usize,
    /// Bytes in flight before writes are refused (back-pressure on the sender).
    pub window: usize,
    /// Largest delivery delay of a segment.
    pub max_delay: Duration,
}

/// How much traffic a connection carries, which bounds how finely it may be cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traffic {
    /// Chat: any cut, down to single bytes and a one-byte window.
    Chat,
    /// Uploads of up to a few hundred KiB.
    Files,
    /// Multi-MiB bodies.
    Bulk,
}

impl Profile {
    /// A random profile for `traffic`; `max_delay` bounds the delay (classic forms need it
    /// well below the quiet gap).
    pub fn random(rng: &mut Rng, traffic: Traffic, max_delay: Duration) -> Self {
        let (segments, reads, windows): (&[usize], &[usize], &[usize]) = match traffic {
            Traffic::Chat => (
                &[1, 2, 7, 64, 1500, 65_536],
                &[1, 3, 100, 65_536],
                &[1, 16, 4096, 1 << 20],
            ),
            Traffic::Files => (
                &[7, 1500, 65_536],
                &[5, 100, 4096, 65_536],
                &[64, 4096, 1 << 20],
            ),
            Traffic::Bulk => (
                &[1500, 9000, 65_536],
                &[4096, 65_536, 1 << 20],
                &[65_536, 1 << 20],
            ),
        };
        let delay_ms = u64::try_from(max_delay.as_millis()).unwrap_or(u64::MAX);
        Profile {
            max_segment: rng.pick(segments),
            max_read: rng.pick(reads),
            window: rng.pick(windows),
            max_delay: Duration::from_millis(rng.range(0, delay_ms)),
        }
    }
}

/// Bytes from one sender to one receiver, in order, each segment due at its delivery time.
pub struct Link {
    profile: Profile,
    segments: VecDeque<(Instant, Vec<u8>)>,
    in_flight: usize,
    last_due: Instant,
    /// The sender closed its side: EOF follows the last segment.
    closed: bool,
    /// The receiver has been told about the EOF.
    eof_delivered: bool,
    /// Bytes the receiver has taken.
    pub delivered: u64,
    /// The connection breaks once this many bytes were delivered.
    break_at: Option<u64>,
    broken: bool,
}

impl Link {
    /// An empty link.
    pub fn new(profile: Profile) -> Self {
        Link {
            profile,
            segments: VecDeque::new(),
            in_flight: 0,
            last_due: Instant::ZERO,
            closed: false,
            eof_delivered: false,
            delivered: 0,
            break_at: None,
            broken: false,
        }
    }

    /// Breaks the connection right after the receiver has taken `n` bytes in all.
    pub fn break_after(&mut self, n: u64) {
        self.break_at = Some(n);
    }

    /// Whether the connection broke (by [`Link::cut`] or [`Link::break_after`]).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The sender writes `data`; returns how much the link took (short writes included).
    pub fn send(&mut self, now: Instant, rng: &mut Rng, data: &[u8]) -> usize {
        if self.closed {
            return data.len();
        }
        let room = self.profile.window.saturating_sub(self.in_flight);
        let mut n = data.len().min(room);
        if n > 1 && rng.chance(1, 4) {
            n = rng.range(1, n as u64) as usize;
        }
        for piece in data[..n].chunks(self.profile.max_segment) {
            let cut = rng.range(1, piece.len() as u64) as usize;
            for part in [&piece[..cut], &piece[cut..]] {
                if part.is_empty() {
                    continue;
                }
                let delay_ms = rng.range(0, self.profile.max_delay.as_millis() as u64);
                let due = (now + Duration::from_millis(delay_ms)).max(self.last_due);
                self.last_due = due;
                self.segments.push_back((due, part.to_vec()));
            }
        }
        self.in_flight += n;
        n
    }

    /// The sender closes its side; the receiver sees EOF after the bytes in flight.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Whether the sender has closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The connection breaks at `now`: bytes in flight are lost and EOF is due at once.
    pub fn cut(&mut self, now: Instant) {
        self.broken = true;
        self.segments.clear();
        self.in_flight = 0;
        self.closed = true;
        self.last_due = now;
    }

    /// When the next segment (or the EOF) becomes due.
    pub fn next_due(&self) -> Option<Instant> {
        match self.segments.front() {
            Some((due, _)) => Some(*due),
            None if self.closed && !self.eof_delivered => Some(self.last_due),
            None => None,
        }
    }

    /// Takes up to one random read's worth of due bytes, merging segments.
    pub fn read(&mut self, now: Instant, rng: &mut Rng) -> Vec<u8> {
        let mut want = rng.range(1, self.profile.max_read as u64) as usize;
        if let Some(at) = self.break_at {
            want =
                want.min(usize::try_from(at.saturating_sub(self.delivered)).unwrap_or(usize::MAX));
        }
        let mut out = Vec::new();
        while out.len() < want {
            let Some((due, seg)) = self.segments.front_mut() else {
                break;
            };
            if *due > now {
                break;
            }
            let take = seg.len().min(want - out.len());
            if take == seg.len() && out.is_empty() {
                out = std::mem::take(seg);
            } else {
                out.extend_from_slice(&seg[..take]);
                seg.drain(..take);
            }
            if seg.is_empty() {
                self.segments.pop_front();
            }
        }
        self.in_flight -= out.len();
        self.delivered += out.len() as u64;
        out
    }

    /// Puts back what the receiver did not take, at the front; breaks the connection if the
    /// receiver has now taken the bytes it may.
    pub fn unread(&mut self, now: Instant, rest: &[u8]) {
        if !rest.is_empty() {
            self.in_flight += rest.len();
            self.delivered -= rest.len() as u64;
            self.segments.push_front((now, rest.to_vec()));
        }
        if self.break_at.is_some_and(|at| self.delivered >= at) && !self.broken {
            self.cut(now);
        }
    }

    /// A short account for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "{:?}; {} segments, {} bytes in flight, next due {:?}, closed {}, eof delivered {}, {} delivered",
            self.profile,
            self.segments.len(),
            self.in_flight,
            self.next_due(),
            self.closed,
            self.eof_delivered,
            self.delivered
        )
    }

    /// Whether the EOF is due now and not yet delivered; marks it delivered.
    pub fn take_eof(&mut self, now: Instant) -> bool {
        let due = self.closed && !self.eof_delivered && self.segments.is_empty();
        if due && self.last_due <= now {
            self.eof_delivered = true;
            return true;
        }
        false
    }
}
