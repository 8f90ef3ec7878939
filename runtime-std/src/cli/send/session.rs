//! One upload connection, client side: the socket and the core's client machine.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use rustix::net::RecvFlags;
use unstuck_core::digest::Algorithm;
use unstuck_core::upload::{UploadClient, UploadClientEvent, UploadForm};
use unstuck_core::{Closed, ErrorCode, Misuse, Output, PeerError};
use unstuck_std::clock::Clock;

use super::{Exit, Progress, read_chunk};
use crate::cli::net::{connect, is_timeout};

/// A server that says nothing, or takes nothing, for this long is given up on.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// The file is read and sent this much at a time.
const CHUNK: usize = 1 << 20;
/// Longest text a classic server may send after the body (an error line).
const MAX_CLASSIC_REPLY: u64 = 1024;

/// Why a connection ended before its work was done.
#[derive(Debug)]
pub(super) enum End {
    /// The network failed.
    Io(io::Error),
    /// A file could not be read.
    File(io::Error),
    /// The server closed the connection with this error.
    Server(PeerError),
    /// The connection ended without a reason.
    Closed(Closed),
    /// The server answered something that does not fit, or this program has a bug.
    Unexpected(String),
}

impl End {
    /// Prints why, and returns the exit status it deserves.
    pub(super) fn report(&self, what: &str) -> Exit {
        let (text, status) = match self {
            End::Io(e) => (format!("network failure: {e}"), Exit::Failure),
            End::File(e) => (format!("cannot read the file: {e}"), Exit::Failure),
            End::Server(e) => (format!("the server closed: {e}"), Exit::for_code(e.number)),
            End::Closed(c) => (format!("connection closed: {c}"), Exit::Failure),
            End::Unexpected(s) => (format!("unexpected: {s}"), Exit::Failure),
        };
        eprintln!("unstuck send: {what}: {text}");
        status
    }
}

impl From<UploadClientEvent> for End {
    fn from(e: UploadClientEvent) -> End {
        End::Unexpected(format!("{e:?}"))
    }
}

impl From<Misuse> for End {
    fn from(e: Misuse) -> End {
        End::Unexpected(format!("bug: {e}"))
    }
}

/// A connection to an upload server.
pub(super) struct Session {
    stream: TcpStream,
    client: UploadClient,
    clock: Clock,
    /// Bytes read but not yet taken by the machine.
    backlog: Vec<u8>,
    buf: Vec<u8>,
}

impl Session {
    pub(super) fn connect(addr: &str, form: UploadForm) -> Result<Session, End> {
        let stream = connect(addr).map_err(End::Io)?;
        stream
            .set_read_timeout(Some(ANSWER_TIMEOUT))
            .map_err(End::Io)?;
        stream
            .set_write_timeout(Some(ANSWER_TIMEOUT))
            .map_err(End::Io)?;
        let clock = Clock::new();
        Ok(Session {
            stream,
            client: UploadClient::new(form, clock.now()),
            clock,
            backlog: Vec::new(),
            buf: vec![0; 64 * 1024],
        })
    }

    pub(super) fn offer(&mut self, name: &str, size: u64, alg: Algorithm) -> Result<(), End> {
        Ok(self.client.offer(name, size, alg)?)
    }

    /// Sends what is pending and reads until the server says something.
    pub(super) fn next_event(&mut self) -> Result<UploadClientEvent, End> {
        loop {
            if let Some(e) = self.pump()? {
                return Ok(e);
            }
            self.receive(true)?;
        }
    }

    /// Sends what is pending; returns the first event, or `None` once the machine waits.
    /// A server error or an unexpected end is an `Err`; the end a classic client reaches
    /// after its body is not.
    fn pump(&mut self) -> Result<Option<UploadClientEvent>, End> {
        loop {
            match self.client.poll_output() {
                Output::Transmit(b) => {
                    let n = b.len();
                    (&self.stream).write_all(b).map_err(End::Io)?;
                    self.client.handle_sent(n)?;
                }
                Output::Event(UploadClientEvent::Error(e)) => return Err(End::Server(e)),
                Output::Event(UploadClientEvent::Ready { .. }) => {}
                Output::Event(e) => return Ok(Some(e)),
                Output::Wait(_) => return Ok(None),
                Output::Done(c) if c.code == ErrorCode::Bye && !c.by_peer => return Ok(None),
                Output::Done(c) => return Err(End::Closed(c)),
            }
        }
    }

    /// Feeds the machine what the server sent: waits for it when `block`, else takes only
    /// what is already there. Returns whether anything was fed.
    fn receive(&mut self, block: bool) -> Result<bool, End> {
        let now = self.clock.now();
        if !self.backlog.is_empty() {
            let took = self.client.handle_input(now, &self.backlog);
            self.backlog.drain(..took);
            return Ok(took > 0);
        }
        let got = if block {
            (&self.stream).read(&mut self.buf)
        } else {
            rustix::net::recv(&self.stream, &mut self.buf[..], RecvFlags::DONTWAIT)
                .map(|(_, n)| n)
                .map_err(io::Error::from)
        };
        match got {
            Ok(0) => self.client.handle_eof(now),
            Ok(n) => {
                let took = self.client.handle_input(now, &self.buf[..n]);
                self.backlog.extend_from_slice(&self.buf[took..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if !block && is_timeout(&e) => return Ok(false),
            Err(e) if is_timeout(&e) => {
                return Err(End::Io(io::Error::new(
                    e.kind(),
                    "the server has not answered for 2 minutes",
                )));
            }
            Err(e) => return Err(End::Io(e)),
        }
        Ok(true)
    }

    /// Feeds the whole file to the machine and sends what it says to send (all of it, or
    /// only what the server lacks when resuming). Between chunks it looks for a CLOSE from
    /// the server (stall, disk full, shutdown) so that it stops early.
    pub(super) fn send_body(
        &mut self,
        file: &mut File,
        size: u64,
        progress: &mut Progress,
    ) -> Result<(), End> {
        self.expect_no_event()?;
        let mut chunk = vec![0u8; CHUNK];
        let mut pos = 0u64;
        while pos < size {
            let n = usize::try_from(size - pos).map_or(CHUNK, |left| left.min(CHUNK));
            read_chunk(file, &mut chunk[..n]).map_err(End::File)?;
            let send = self.client.feed(&chunk[..n])?;
            if let Err(e) = (&self.stream).write_all(send) {
                return Err(self.why_failed(e));
            }
            pos += n as u64;
            progress.set(pos);
            while self.receive(false)? {
                self.expect_no_event()?;
            }
        }
        self.expect_no_event()
    }

    fn expect_no_event(&mut self) -> Result<(), End> {
        match self.pump()? {
            None => Ok(()),
            Some(e) => Err(e.into()),
        }
    }

    /// A write failed: the server may have said why before it closed.
    fn why_failed(&mut self, e: io::Error) -> End {
        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(2)));
        for _ in 0..16 {
            match self.receive(true).and_then(|_| self.pump()) {
                Err(End::Server(reason)) => return End::Server(reason),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        End::Io(e)
    }

    /// Classic form, after the body: the server stores the file, then closes without a
    /// word; anything it says instead is an error line.
    pub(super) fn await_close(&mut self) -> Result<Exit, End> {
        let _ = self.stream.shutdown(Shutdown::Write);
        let mut said = Vec::new();
        let read = (&self.stream)
            .take(MAX_CLASSIC_REPLY)
            .read_to_end(&mut said);
        match read {
            Ok(_) if said.is_empty() => Ok(Exit::Ok),
            Ok(_) => {
                let text = String::from_utf8_lossy(&said);
                eprintln!("unstuck send: the server answered: {}", text.trim_end());
                Ok(Exit::Failure)
            }
            Err(e) if is_timeout(&e) => {
                eprintln!("unstuck send: the server did not close the connection");
                Ok(Exit::Ok)
            }
            Err(e) => Err(End::Io(e)),
        }
    }
}
