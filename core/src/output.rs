//! The one output loop every machine shares.

use crate::{Closed, Instant};

/// What a machine's `poll_output` hands out. Drain it until [`Output::Wait`] or [`Output::Done`].
///
/// The loop is the whole contract: a driver that calls `poll_output` until it says `Wait`
/// after every `handle_*` call cannot forget a transmit, an event or a timer.
#[derive(Debug)]
pub enum Output<'a, E> {
    /// Bytes to write to the peer. Write what you can, then report it with `handle_sent(n)`
    /// (any `n` up to the length, zero included); the rest is offered again. If the socket
    /// cannot take any bytes now, just poll on: the bytes are offered again after the next
    /// [`Output::Wait`], and the `Wait` says `wants_write`.
    Transmit(&'a [u8]),
    /// Something happened that the driver acts on.
    Event(E),
    /// Nothing more to do until more input arrives, the socket becomes writable, or the deadline.
    Wait(Wait),
    /// The connection is over and everything queued for the peer was acknowledged as sent:
    /// close the socket. Further polls keep returning `Done`.
    Done(Closed),
}

/// What the driver should wait for before feeding the machine again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// Call `handle_timeout` at this instant (or later) if nothing else happens before.
    pub deadline: Option<Instant>,
    /// The machine has room for input: read from the socket. False means back-pressure:
    /// stop reading until the machine has handed out what it holds.
    pub wants_read: bool,
    /// Bytes are pending: wait for the socket to become writable and poll again.
    pub wants_write: bool,
}

/// Counters a machine keeps about its connection, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes accepted from the peer.
    pub bytes_in: u64,
    /// Bytes acknowledged as sent to the peer (upload bodies sent directly included).
    pub bytes_out: u64,
    /// Bytes the parsers examined. Linear-time parsing keeps this a small multiple of
    /// `bytes_in`, however the input was chunked; the tests check that.
    pub bytes_scanned: u64,
}
