//! [`Io`] and [`Core`]: the calls the four core machines share, named once.
//!
//! `ChatServer`, `ChatClient`, `UploadServer` and `UploadClient` have the same sans-IO surface,
//! but as inherent methods. These traits let the drivers (`drive`, `sim`, `vectors`) forward to
//! any of them with one generic helper instead of one hand-copied block per machine.

use unstuck_core::chat::{ChatClient, ChatServer, ClientEvent, ServerEvent};
use unstuck_core::upload::{UploadClient, UploadClientEvent, UploadEvent, UploadServer};
use unstuck_core::{Instant, Misuse, Output, Stats};

/// The calls that take no event type, so a `dyn` host or subject can hand out its machine.
pub trait Io {
    /// `handle_input`.
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize;
    /// `handle_eof`.
    fn handle_eof(&mut self, now: Instant);
    /// `handle_timeout`.
    fn handle_timeout(&mut self, now: Instant);
    /// `handle_sent`.
    fn handle_sent(&mut self, n: usize) -> Result<(), Misuse>;
    /// `stats`.
    fn stats(&self) -> Stats;
}

/// [`Io`] plus `poll_output`, whose event type differs per machine.
pub trait Core: Io {
    /// What `poll_output` hands out as an event (it may borrow the machine).
    type Event<'a>
    where
        Self: 'a;
    /// `poll_output`.
    fn poll_output(&mut self) -> Output<'_, Self::Event<'_>>;
}

/// A driver around one core machine that passes the network and the clock straight through:
/// the simulation's hosts and the vector runner's subjects differ only in their output loops.
pub trait HoldsIo {
    /// The core machine.
    fn io(&mut self) -> &mut dyn Io;
    /// Feeds bytes from the network; returns how many the machine took.
    fn input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.io().handle_input(now, data)
    }
    /// The peer closed its sending side.
    fn eof(&mut self, now: Instant) {
        self.io().handle_eof(now);
    }
    /// A deadline has come.
    fn timeout(&mut self, now: Instant) {
        self.io().handle_timeout(now);
    }
}

/// Implements [`HoldsIo`] for drivers whose core machine is their `conn` field.
macro_rules! holds_conn {
    ($($driver:ty),+ $(,)?) => {
        $(
            impl $crate::machine::HoldsIo for $driver {
                fn io(&mut self) -> &mut dyn $crate::machine::Io {
                    &mut self.conn
                }
            }
        )+
    };
}
pub(crate) use holds_conn;

/// The zero-copy read path the two servers have.
pub trait InPlace {
    /// `recv_buf`.
    fn recv_buf(&mut self) -> &mut [u8];
    /// `handle_received`.
    fn handle_received(&mut self, now: Instant, n: usize);
}

/// Copies what fits of `data` into the machine's `recv_buf` and reports it received; returns
/// how much it took.
pub fn input_in_place(m: &mut impl InPlace, now: Instant, data: &[u8]) -> usize {
    let buf = m.recv_buf();
    let n = buf.len().min(data.len());
    buf[..n].copy_from_slice(&data[..n]);
    m.handle_received(now, n);
    n
}

macro_rules! core_machine {
    ($machine:ty, $event:ty) => {
        impl Io for $machine {
            fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
                <$machine>::handle_input(self, now, data)
            }
            fn handle_eof(&mut self, now: Instant) {
                <$machine>::handle_eof(self, now)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$machine>::handle_timeout(self, now)
            }
            fn handle_sent(&mut self, n: usize) -> Result<(), Misuse> {
                <$machine>::handle_sent(self, n)
            }
            fn stats(&self) -> Stats {
                <$machine>::stats(self)
            }
        }
        impl Core for $machine {
            type Event<'a> = $event;
            fn poll_output(&mut self) -> Output<'_, Self::Event<'_>> {
                <$machine>::poll_output(self)
            }
        }
    };
}

core_machine!(ChatServer, ServerEvent);
core_machine!(ChatClient, ClientEvent);
core_machine!(UploadServer, UploadEvent<'a>);
core_machine!(UploadClient, UploadClientEvent);

macro_rules! in_place {
    ($machine:ty) => {
        impl InPlace for $machine {
            fn recv_buf(&mut self) -> &mut [u8] {
                <$machine>::recv_buf(self)
            }
            fn handle_received(&mut self, now: Instant, n: usize) {
                <$machine>::handle_received(self, now, n)
            }
        }
    };
}

in_place!(ChatServer);
in_place!(UploadServer);
