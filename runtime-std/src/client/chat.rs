//! A chat connection for programs, on a blocking socket: say things, read what the server
//! says.
//!
//! A reader thread moves what the socket receives into an inbox; the thread that owns the
//! [`ChatSession`] drives the core's [`ChatClient`] and writes. So a session can wait for
//! the server and be woken by another thread ([`ChatWaker`]) at the same time.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use unstuck_core::chat::{ChatClient, ChatClientConfig, ClientEvent};
use unstuck_core::{Closed, Misuse, Output, Wait};

use crate::clock::Clock;
use crate::hub::lock;
use crate::net::connect;

/// Bytes read from the socket at once.
const READ_CHUNK: usize = 16 * 1024;
/// The reader stops reading while this much waits in the inbox: the server then waits too.
const INBOX_LIMIT: usize = 64 * 1024;
/// A server that takes nothing for this long is given up on.
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);

/// What the reader thread hands over, and the wake-ups.
#[derive(Default)]
struct InboxState {
    data: Vec<u8>,
    /// The server's stream ended (or failed).
    eof: bool,
    /// A [`ChatWaker`] called.
    woken: bool,
    /// The session is gone: the reader stops.
    closed: bool,
}

#[derive(Default)]
struct Inbox {
    state: Mutex<InboxState>,
    changed: Condvar,
}

impl Inbox {
    fn update(&self, f: impl FnOnce(&mut InboxState)) {
        f(&mut lock(&self.state));
        self.changed.notify_all();
    }
}

/// One chat connection, native by default (or classic, for a seed-style server).
///
/// ```no_run
/// use unstuck_core::chat::ClientEvent;
/// use unstuck_std::client::ChatSession;
///
/// let mut chat = ChatSession::connect("127.0.0.1:8888")?;
/// chat.say("hi")?;
/// while let Some(event) = chat.next_event(None)? {
///     if let ClientEvent::Reply(text) = event {
///         assert_eq!(text, "hi,你好");
///         break;
///     }
/// }
/// chat.quit()?;
/// # std::io::Result::Ok(())
/// ```
pub struct ChatSession {
    stream: TcpStream,
    m: ChatClient,
    clock: Clock,
    inbox: Arc<Inbox>,
    reader: Option<JoinHandle<()>>,
    /// Bytes taken from the inbox that the machine has not taken yet.
    backlog: Vec<u8>,
    /// The inbox's end of stream was taken (after its last bytes).
    eof: bool,
    eof_fed: bool,
    events: VecDeque<ClientEvent>,
    closed: Option<Closed>,
}

impl fmt::Debug for ChatSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatSession")
            .field("peer", &self.stream.peer_addr().ok())
            .field("client", &self.m)
            .field("events", &self.events)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// Wakes a thread waiting in [`ChatSession::next_event`], from any thread: that call (or the
/// next one, if none is waiting) returns `Err` of kind [`io::ErrorKind::Interrupted`].
///
/// For programs that wait on the server and on something else at once, like a terminal
/// client reading lines on another thread: it queues the line, wakes the session, and the
/// session's thread says it.
#[derive(Clone)]
pub struct ChatWaker(Arc<Inbox>);

impl fmt::Debug for ChatWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChatWaker")
    }
}

impl ChatWaker {
    /// Wakes the session; wakes that come before it waits are kept (as one).
    pub fn wake(&self) {
        self.0.update(|s| s.woken = true);
    }
}

fn misuse(e: Misuse) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

impl ChatSession {
    /// Connects in the native form; the handshake runs as events are read.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::connect_with(addr, ChatClientConfig::default())
    }

    /// Connects with the given settings (e.g. the classic form).
    pub fn connect_with(addr: impl ToSocketAddrs, config: ChatClientConfig) -> io::Result<Self> {
        let stream = connect(addr)?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let inbox = Arc::new(Inbox::default());
        let reader = {
            let (stream, inbox) = (stream.try_clone()?, Arc::clone(&inbox));
            thread::Builder::new()
                .name("chat-client-read".into())
                .spawn(move || read_loop(stream, &inbox))?
        };
        let clock = Clock::new();
        Ok(ChatSession {
            m: ChatClient::new(config, clock.now()),
            stream,
            clock,
            inbox,
            reader: Some(reader),
            backlog: Vec::new(),
            eof: false,
            eof_fed: false,
            events: VecDeque::new(),
            closed: None,
        })
    }

    /// A handle that interrupts [`ChatSession::next_event`] from another thread.
    pub fn waker(&self) -> ChatWaker {
        ChatWaker(Arc::clone(&self.inbox))
    }

    /// Sends a message; returns once it is handed to the socket. A message the machine
    /// refuses (too long for any frame, empty in classic form, the conversation ending) is
    /// an error of kind [`io::ErrorKind::InvalidInput`], and nothing is sent.
    pub fn say(&mut self, text: &str) -> io::Result<()> {
        self.m.say(text).map_err(misuse)?;
        match self.pump()? {
            Some(_) => Ok(()),
            None => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the connection is closed",
            )),
        }
    }

    /// The next thing the server said, or `None` once the connection is over (see
    /// [`ChatSession::closed`] for how it ended).
    ///
    /// Waits at most `timeout` (`None`: as long as it takes); past it, an error of kind
    /// [`io::ErrorKind::TimedOut`]. A [`ChatWaker`] makes it return an error of kind
    /// [`io::ErrorKind::Interrupted`]. Both leave the session as it was: call again.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> io::Result<Option<ClientEvent>> {
        let until = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(Some(e));
            }
            if self.closed.is_some() {
                return Ok(None);
            }
            if let Some(w) = self.pump()? {
                if self.events.is_empty() {
                    self.wait(w, until)?;
                }
            }
        }
    }

    /// Says goodbye (BYE, or `q` in classic form) and waits until the connection is over:
    /// the server closes, or the core's grace period passes. Answers that arrive meanwhile
    /// stay queued: [`ChatSession::next_event`] returns them, then `None`.
    pub fn quit(&mut self) -> io::Result<Closed> {
        self.m.quit().map_err(misuse)?;
        loop {
            match self.pump()? {
                Some(w) => match self.wait(w, None) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => other?,
                },
                None => {
                    return self
                        .closed
                        .clone()
                        .ok_or_else(|| io::Error::other("bug: no Done after the end"));
                }
            }
        }
    }

    /// How the connection ended, once it has.
    pub fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    /// Feeds what was read, writes what the machine transmits, queues its events; returns
    /// what it waits for, or `None` once it is done.
    fn pump(&mut self) -> io::Result<Option<Wait>> {
        if self.closed.is_some() {
            return Ok(None);
        }
        loop {
            let now = self.clock.now();
            if !self.backlog.is_empty() {
                let took = self.m.handle_input(now, &self.backlog);
                self.backlog.drain(..took);
            } else if self.eof && !self.eof_fed {
                self.eof_fed = true;
                self.m.handle_eof(now);
            }
            match self.m.poll_output() {
                Output::Transmit(b) => {
                    let n = b.len();
                    (&self.stream).write_all(b)?;
                    self.m.handle_sent(n).map_err(misuse)?;
                }
                Output::Event(e) => self.events.push_back(e),
                Output::Wait(w) if w.wants_read && !self.backlog.is_empty() => {}
                Output::Wait(w) => return Ok(Some(w)),
                Output::Done(c) => {
                    self.closed = Some(c);
                    return Ok(None);
                }
            }
        }
    }

    /// Waits for what the machine wants (bytes or the end of the stream, when it reads; its
    /// deadline), a wake-up, or the caller's `until`.
    fn wait(&mut self, w: Wait, until: Option<Instant>) -> io::Result<()> {
        let deadline = w.deadline.map(|d| self.clock.to_std(d));
        let mut state = lock(&self.inbox.state);
        loop {
            if state.woken {
                state.woken = false;
                return Err(io::ErrorKind::Interrupted.into());
            }
            if w.wants_read && (!state.data.is_empty() || (state.eof && !self.eof)) {
                if self.backlog.is_empty() {
                    std::mem::swap(&mut self.backlog, &mut state.data);
                } else {
                    self.backlog.append(&mut state.data);
                }
                self.eof = state.eof;
                drop(state);
                self.inbox.changed.notify_all();
                return Ok(());
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                drop(state);
                self.m.handle_timeout(self.clock.now());
                return Ok(());
            }
            if until.is_some_and(|u| now >= u) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "nothing from the server in time",
                ));
            }
            let wake_at = match (deadline, until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            state = match wake_at {
                Some(t) => {
                    self.inbox
                        .changed
                        .wait_timeout(state, t - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .inbox
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

impl Drop for ChatSession {
    fn drop(&mut self) {
        self.inbox.update(|s| s.closed = true);
        // Wakes the reader if it is blocked in `read`.
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Moves what the socket receives into the inbox until the stream ends or the session is
/// gone; waits while the inbox is full.
fn read_loop(mut stream: TcpStream, inbox: &Inbox) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A reset: nothing more will arrive.
            Err(_) => 0,
        };
        let mut state = lock(&inbox.state);
        if n == 0 {
            state.eof = true;
            drop(state);
            inbox.changed.notify_all();
            return;
        }
        while state.data.len() >= INBOX_LIMIT && !state.closed {
            state = inbox
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.closed {
            return;
        }
        state.data.extend_from_slice(&buf[..n]);
        drop(state);
        inbox.changed.notify_all();
    }
}
