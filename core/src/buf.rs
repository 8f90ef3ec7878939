//! Bounded input and output byte buffers shared by all machines.

use alloc::vec::Vec;

use crate::{Closed, Instant, Misuse, Output, Wait};

/// The smallest allocation an input buffer makes.
const MIN_ALLOC: usize = 512;

/// Bytes received but not yet parsed, bounded by `limit`.
///
/// Memory is allocated only when bytes arrive and, with `release_when_empty`, given back once
/// everything is consumed, so that thousands of idle connections cost almost nothing.
#[derive(Debug)]
pub(crate) struct InBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    limit: usize,
    release_when_empty: bool,
    /// Absolute stream position of `buf[start]`.
    consumed: u64,
}

impl InBuf {
    pub(crate) fn new(limit: usize, release_when_empty: bool) -> Self {
        InBuf {
            buf: Vec::new(),
            start: 0,
            end: 0,
            limit,
            release_when_empty,
            consumed: 0,
        }
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// How many more bytes fit.
    pub(crate) fn room(&self) -> usize {
        self.limit - self.len()
    }

    /// Absolute stream position of the first unconsumed byte.
    pub(crate) fn position(&self) -> u64 {
        self.consumed
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Makes room for `want` more bytes after the buffered ones (`want` at most `room()`),
    /// growing geometrically: a byte-at-a-time peer costs amortised O(1) per byte, and a
    /// released buffer comes back small.
    fn reserve(&mut self, want: usize) {
        if self.buf.len() - self.end >= want {
            return;
        }
        self.compact();
        let need = self.end + want;
        if self.buf.len() < need {
            let grown = need.max(self.buf.len() * 2).max(MIN_ALLOC).min(self.limit);
            self.buf.resize(grown, 0);
        }
    }

    /// Copies as much of `data` as fits; returns how much.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.room());
        if n == 0 {
            return 0;
        }
        self.reserve(n);
        self.buf[self.end..self.end + n].copy_from_slice(&data[..n]);
        self.commit(n);
        n
    }

    /// All the free space after the buffered bytes, for a driver that reads straight into it.
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        self.reserve(self.room());
        &mut self.buf[self.end..]
    }

    /// Marks `n` bytes of [`InBuf::spare`] as filled.
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        self.start += n;
        self.consumed += n as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.release_when_empty {
                self.buf = Vec::new();
            }
        }
    }
}

/// Bytes queued for the peer, with the offer/acknowledge bookkeeping of [`crate::Output::Transmit`].
#[derive(Debug, Default)]
pub(crate) struct OutBuf {
    buf: Vec<u8>,
    sent: usize,
    offered: bool,
}

impl OutBuf {
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    pub(crate) fn pending_len(&self) -> usize {
        self.buf.len() - self.sent
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending_len() == 0
    }

    /// The vector to append to.
    pub(crate) fn queue(&mut self) -> &mut Vec<u8> {
        if self.sent > 0 && self.sent >= self.buf.len() / 2 {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
        &mut self.buf
    }

    /// The pending bytes, unless they were offered already in this round.
    pub(crate) fn offer(&mut self) -> Option<&[u8]> {
        if self.offered || self.is_empty() {
            return None;
        }
        self.offered = true;
        Some(self.pending())
    }

    /// Ends a polling round: pending bytes may be offered again.
    pub(crate) fn new_round(&mut self) {
        self.offered = false;
    }

    /// The end of every machine's `poll_output`: the pending bytes (once per round), else
    /// the end once everything is sent, else the round ends and the machine waits for
    /// `deadline`, and for input while `reading` (not at EOF, room in the buffer).
    pub(crate) fn finish_poll<E>(
        &mut self,
        closing: Option<&Closed>,
        deadline: Option<Instant>,
        reading: bool,
    ) -> Output<'_, E> {
        if self.offer().is_some() {
            return Output::Transmit(self.pending());
        }
        if let Some(closed) = closing.filter(|_| self.is_empty()) {
            return Output::Done(closed.clone());
        }
        self.new_round();
        Output::Wait(Wait {
            deadline,
            wants_read: closing.is_none() && reading,
            wants_write: !self.is_empty(),
        })
    }

    pub(crate) fn ack(&mut self, n: usize) -> Result<(), Misuse> {
        let pending = self.pending_len();
        if n > pending {
            return Err(Misuse::AckBeyondPending { acked: n, pending });
        }
        // Nothing written means the socket is full: offering the same bytes again at once would
        // make a driver spin, so they come back only after the next `Wait`.
        if n == 0 {
            return Ok(());
        }
        self.offered = false;
        self.sent += n;
        if self.sent == self.buf.len() {
            self.sent = 0;
            self.buf.clear();
            if self.buf.capacity() > 64 * 1024 {
                self.buf = Vec::new();
            }
        }
        Ok(())
    }
}
