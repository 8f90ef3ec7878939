//! One TCP connection as a driver sees it: non-blocking reads and writes, and one wait that
//! races readiness, the core's deadline, and wake-ups, in a single small future.
//!
//! Why not `AsyncRead`/`AsyncWrite` and `futures_lite::future::or` of several futures: every
//! connection spends nearly all its life in [`Link::wait`], so that future's size is the
//! per-connection cost. A single `poll_fn` over `Async::poll_readable`, `poll_writable`, one
//! reusable [`Timer`] and at most two listeners keeps it to a few dozen bytes, and reading
//! straight into the core's `recv_buf()` only after readiness means an idle connection owns no
//! read buffer at all.

use std::future::Future;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, Timer};
use event_listener::EventListener;
use futures_lite::future;
use unstuck_core::{Instant, Wait};

use unstuck_std::clock::Clock;

/// How long [`Link::linger`] waits for more bytes from a peer that has gone quiet.
const LINGER_QUIET: Duration = Duration::from_millis(250);

/// What ended a [`Link::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// The socket has bytes (or EOF) to read.
    Read,
    /// The socket takes bytes again.
    Write,
    /// The core's deadline has come.
    Timer,
    /// The listener at this index fired (a room delivery or the server's stop). It is spent:
    /// drop it, and listen again if needed.
    Wake(usize),
}

/// A connected socket, its timer, and the clock that converts the core's deadlines.
#[derive(Debug)]
pub(crate) struct Link {
    sock: Async<TcpStream>,
    timer: Timer,
    /// The deadline the timer is set to, so an unchanged deadline costs nothing.
    armed: Option<Instant>,
    clock: Clock,
    /// The peer's EOF has been read.
    eof: AtomicBool,
}

impl Link {
    /// Wraps an accepted or connected socket (made non-blocking and registered).
    pub(crate) fn new(sock: Async<TcpStream>, clock: Clock) -> Self {
        Link {
            sock,
            timer: Timer::never(),
            armed: None,
            clock,
            eof: AtomicBool::new(false),
        }
    }

    /// Connects to `addr`.
    pub(crate) async fn connect(addr: SocketAddr, clock: Clock) -> io::Result<Self> {
        let sock = Async::<TcpStream>::connect(addr).await?;
        sock.get_ref().set_nodelay(true)?;
        Ok(Link::new(sock, clock))
    }

    /// The clock's current time, for the core's `handle_*` calls.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The socket, for addresses and options.
    pub(crate) fn socket(&self) -> &TcpStream {
        self.sock.get_ref()
    }

    /// The peer's address, or the unspecified address if the socket no longer knows it.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.socket()
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Reads what the socket holds now into `buf`. `Ok(None)`: nothing yet; `Ok(Some(0))`: EOF.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            match self.socket().read(buf) {
                Ok(0) if !buf.is_empty() => {
                    self.eof.store(true, Ordering::Relaxed);
                    return Ok(Some(0));
                }
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes as much of `bytes` as the socket takes now, in one call: the core hands out all
    /// its pending bytes as one slice, so writes are coalesced. `Ok(0)`: the socket is full.
    pub(crate) fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        loop {
            match self.socket().write(bytes) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the connection without losing our last bytes: a socket closed while the peer's
    /// bytes are still unread makes the kernel send a reset, and the peer may then never read
    /// what we sent last (a CLOSE, say). So: send our FIN, then read and drop what still comes
    /// until the peer's EOF, a quiet spell of [`LINGER_QUIET`], or `grace` in all. The buffer
    /// exists only meanwhile.
    pub(crate) async fn linger(mut self, grace: Duration) {
        if self.eof.load(Ordering::Relaxed) {
            return;
        }
        self.shutdown_write();
        let give_up = self.now() + grace;
        let mut sink = vec![0u8; 16 * 1024];
        loop {
            match self.try_read(&mut sink) {
                Ok(Some(0)) | Err(_) => return,
                Ok(Some(_)) => continue,
                Ok(None) => {}
            }
            let wait = Wait {
                deadline: Some(give_up.min(self.now() + LINGER_QUIET)),
                wants_read: true,
                wants_write: false,
            };
            match self.wait(wait, [None, None]).await {
                Ok(Ready::Read) => {}
                _ => return,
            }
        }
    }

    /// Ends our sending side (the peer reads EOF); reading goes on.
    pub(crate) fn shutdown_write(&self) {
        let _ = self.socket().shutdown(Shutdown::Write);
    }

    fn arm(&mut self, deadline: Option<Instant>) {
        if deadline == self.armed {
            return;
        }
        self.armed = deadline;
        match deadline {
            Some(at) => self.timer.set_at(self.clock.to_std(at)),
            None => self.timer.clear(),
        }
    }

    /// Polls for what `wait` asks for, or for one of `listeners` to fire: the one wait of a
    /// hand-written connection future.
    ///
    /// Readiness is reported, not consumed: the caller then reads into the core's buffer, so
    /// a spurious wake-up costs a `WouldBlock`, never a buffer.
    pub(crate) fn poll_wait(
        &mut self,
        cx: &mut Context<'_>,
        wait: Wait,
        listeners: [Option<&mut EventListener>; 2],
    ) -> Poll<io::Result<Ready>> {
        self.arm(wait.deadline);
        for (i, l) in listeners.into_iter().enumerate() {
            if let Some(l) = l {
                if Pin::new(l).poll(cx).is_ready() {
                    return Poll::Ready(Ok(Ready::Wake(i)));
                }
            }
        }
        if wait.wants_write {
            if let Poll::Ready(r) = self.sock.poll_writable(cx) {
                return Poll::Ready(r.map(|()| Ready::Write));
            }
        }
        if wait.wants_read {
            if let Poll::Ready(r) = self.sock.poll_readable(cx) {
                return Poll::Ready(r.map(|()| Ready::Read));
            }
        }
        if wait.deadline.is_some() && Pin::new(&mut self.timer).poll(cx).is_ready() {
            // A fired timer is spent: the next deadline, even an equal one, re-arms it.
            self.armed = None;
            return Poll::Ready(Ok(Ready::Timer));
        }
        Poll::Pending
    }

    /// [`Link::poll_wait`] as a future, for async code.
    pub(crate) async fn wait(
        &mut self,
        wait: Wait,
        listeners: [Option<&mut EventListener>; 2],
    ) -> io::Result<Ready> {
        let [mut a, mut b] = listeners;
        future::poll_fn(|cx| self.poll_wait(cx, wait, [a.as_deref_mut(), b.as_deref_mut()])).await
    }
}
