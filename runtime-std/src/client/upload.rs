//! Sending files on a blocking socket: offer, resume where the server's copy ends, stream,
//! verify. The core's [`UploadClient`] decides everything; this moves its bytes.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use rustix::net::RecvFlags;
use unstuck_core::upload::{UploadClient, UploadClientEvent, UploadForm};
use unstuck_core::{Closed, ErrorCode, Misuse, Output, Wait};

use super::types::{Progress, SendError, SendOptions, Sent};
use crate::clock::Clock;
use crate::net::{LINGER, connect, is_timeout};

/// A server that says nothing, or takes nothing, for this long is given up on.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// The file is read and sent this much at a time.
const CHUNK: usize = 1 << 20;
/// Bytes read from the socket at once: replies are a few dozen bytes.
const READ_CHUNK: usize = 64 * 1024;

/// Sends one file over a new connection, in the form `options.form` says.
///
/// Resume is automatic: if the server holds a partial copy of the same name, size and
/// algorithm, it answers with where it ends, and only the rest is sent (the whole file is
/// still read, to compute its digest). `progress` is called once the server accepted the
/// offer, then after each chunk.
///
/// ```no_run
/// use unstuck_std::client::{SendOptions, send_file};
///
/// let sent = send_file("127.0.0.1:9998", "photo.jpg".as_ref(), &SendOptions::default(),
///     |p| eprintln!("{} / {}", p.done, p.total))?;
/// println!("stored, {}", sent.digest.unwrap());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn send_file(
    addr: impl ToSocketAddrs,
    path: &Path,
    options: &SendOptions,
    progress: impl FnMut(Progress),
) -> Result<Sent, SendError> {
    let mut session = UploadSession::connect(addr, options.form)?;
    session.send_file(path, options, progress)
}

/// One upload connection; a native one carries any number of files, one after the other.
///
/// After [`SendError::Rejected`] or [`SendError::Mismatch`] the session can send the next
/// file; after any other error the connection is over.
pub struct UploadSession {
    stream: TcpStream,
    client: UploadClient,
    form: UploadForm,
    clock: Clock,
    /// Bytes read but not yet taken by the machine.
    backlog: Vec<u8>,
    buf: Vec<u8>,
}

impl fmt::Debug for UploadSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadSession")
            .field("peer", &self.stream.peer_addr().ok())
            .field("form", &self.form)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// What the machine said, once it has nothing more to send.
enum Step {
    Event(UploadClientEvent),
    Wait(Wait),
    Done(Closed),
}

fn misuse(e: Misuse) -> SendError {
    SendError::Io(io::Error::new(io::ErrorKind::InvalidInput, e))
}

impl UploadSession {
    /// Connects; the native handshake goes out with the first offer.
    pub fn connect(addr: impl ToSocketAddrs, form: UploadForm) -> io::Result<Self> {
        let stream = connect(addr)?;
        stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
        let clock = Clock::new();
        Ok(UploadSession {
            stream,
            client: UploadClient::new(form, clock.now()),
            form,
            clock,
            backlog: Vec::new(),
            buf: vec![0; READ_CHUNK],
        })
    }

    /// Sends the file at `path` (see [`send_file`]); `options.form` is ignored, the
    /// session's form counts. A classic session carries one file only.
    pub fn send_file(
        &mut self,
        path: &Path,
        options: &SendOptions,
        mut progress: impl FnMut(Progress),
    ) -> Result<Sent, SendError> {
        let name = options.name_for(path);
        let (mut file, size) = open(path).map_err(SendError::File)?;
        self.client
            .offer(&name, size, options.algorithm)
            .map_err(misuse)?;
        let offset = match self.next_event()? {
            UploadClientEvent::Accepted { offset } => offset,
            other => return Err(SendError::from_event(other)),
        };
        progress(Progress {
            done: offset,
            total: size,
            resumed_from: offset,
        });
        self.send_body(&mut file, size, offset, &mut progress)?;
        let classic = self.form == UploadForm::Classic;
        let digest = if classic {
            self.classic_end()?;
            None
        } else {
            match self.next_event()? {
                UploadClientEvent::Verified(d) => Some(d),
                other => return Err(SendError::from_event(other)),
            }
        };
        Ok(Sent {
            name: if classic { String::new() } else { name },
            size,
            resumed_from: offset,
            digest,
        })
    }

    /// Writes what the machine transmits and returns what it says next.
    fn pump(&mut self) -> Result<Step, SendError> {
        loop {
            match self.client.poll_output() {
                Output::Transmit(b) => {
                    let n = b.len();
                    (&self.stream).write_all(b)?;
                    self.client.handle_sent(n).map_err(misuse)?;
                }
                Output::Event(UploadClientEvent::Ready { .. }) => {}
                Output::Event(e) => return Ok(Step::Event(e)),
                Output::Wait(w) => return Ok(Step::Wait(w)),
                Output::Done(c) => return Ok(Step::Done(c)),
            }
        }
    }

    /// Drives the connection until the server says something. A CLOSE from the server, or
    /// the end of the connection, is an error.
    fn next_event(&mut self) -> Result<UploadClientEvent, SendError> {
        loop {
            match self.pump()? {
                Step::Event(UploadClientEvent::Error(e)) => return Err(SendError::Closed(Some(e))),
                Step::Event(e) => return Ok(e),
                Step::Wait(w) => self.receive(&w, ANSWER_TIMEOUT)?,
                Step::Done(_) => return Err(SendError::Closed(None)),
            }
        }
    }

    /// Feeds the machine what it waits for: bytes from the server, the end of its stream,
    /// or the time once its deadline passed. A server silent for `patience` is given up on.
    fn receive(&mut self, w: &Wait, patience: Duration) -> Result<(), SendError> {
        if w.wants_read && !self.backlog.is_empty() {
            let took = self.client.handle_input(self.clock.now(), &self.backlog);
            self.backlog.drain(..took);
            return Ok(());
        }
        let to_deadline = self.clock.until(w.deadline);
        if to_deadline.is_some_and(|d| d.is_zero()) || (!w.wants_read && to_deadline.is_some()) {
            if let Some(left) = to_deadline {
                // Nothing to read: only the deadline can change anything.
                std::thread::sleep(left);
            }
            self.client.handle_timeout(self.clock.now());
            return Ok(());
        }
        if !w.wants_read {
            return Err(SendError::Io(io::Error::other(
                "bug: the client machine waits for nothing",
            )));
        }
        let (timeout, for_deadline) = match to_deadline {
            Some(d) if d <= patience => (d.max(Duration::from_millis(1)), true),
            _ => (patience, false),
        };
        self.stream.set_read_timeout(Some(timeout))?;
        let got = (&self.stream).read(&mut self.buf);
        let now = self.clock.now();
        match got {
            Ok(0) => self.client.handle_eof(now),
            Ok(n) => {
                let took = self.client.handle_input(now, &self.buf[..n]);
                self.backlog.extend_from_slice(&self.buf[took..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) && for_deadline => self.client.handle_timeout(now),
            Err(e) if is_timeout(&e) => {
                return Err(SendError::Io(io::Error::new(
                    e.kind(),
                    format!("the server has not answered for {patience:?}"),
                )));
            }
            Err(e) => return Err(SendError::Io(e)),
        }
        Ok(())
    }

    /// Feeds the machine what the server sent so far, without waiting; an event then (a
    /// CLOSE: stall, disk full, shutdown) ends the transfer. True if anything was fed.
    fn poll_incoming(&mut self) -> Result<bool, SendError> {
        let now = self.clock.now();
        if self.backlog.is_empty() {
            let got = rustix::net::recv(&self.stream, &mut self.buf[..], RecvFlags::DONTWAIT)
                .map(|(_, n)| n)
                .map_err(io::Error::from);
            match got {
                Ok(0) => self.client.handle_eof(now),
                Ok(n) => {
                    let took = self.client.handle_input(now, &self.buf[..n]);
                    self.backlog.extend_from_slice(&self.buf[took..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Ok(false),
                Err(e) => return Err(SendError::Io(e)),
            }
        } else {
            let took = self.client.handle_input(now, &self.backlog);
            self.backlog.drain(..took);
            if took == 0 {
                return Ok(false);
            }
        }
        self.expect_no_event()?;
        Ok(true)
    }

    /// The machine must have nothing to say during the body: whatever it says ends it.
    fn expect_no_event(&mut self) -> Result<(), SendError> {
        match self.pump()? {
            Step::Wait(_) => Ok(()),
            Step::Event(e) => Err(SendError::from_event(e)),
            Step::Done(c) if c.code == ErrorCode::Bye && !c.by_peer => Ok(()),
            Step::Done(_) => Err(SendError::Closed(None)),
        }
    }

    /// Feeds the whole file to the machine and sends what it says to send (all of it, or
    /// only what the server lacks when resuming). Between chunks it looks for a CLOSE from
    /// the server, so that it stops early.
    fn send_body(
        &mut self,
        file: &mut File,
        size: u64,
        offset: u64,
        progress: &mut impl FnMut(Progress),
    ) -> Result<(), SendError> {
        self.expect_no_event()?;
        let mut chunk = vec![0u8; CHUNK];
        let mut pos = 0u64;
        while pos < size {
            let n = usize::try_from(size - pos).map_or(CHUNK, |left| left.min(CHUNK));
            read_chunk(file, &mut chunk[..n]).map_err(SendError::File)?;
            let send = self.client.feed(&chunk[..n]).map_err(misuse)?;
            if let Err(e) = (&self.stream).write_all(send) {
                return Err(self.why_failed(e));
            }
            pos += n as u64;
            progress(Progress {
                done: pos.max(offset),
                total: size,
                resumed_from: offset,
            });
            while self.poll_incoming()? {}
        }
        self.expect_no_event()
    }

    /// A write failed: the server may have said why before it closed.
    fn why_failed(&mut self, e: io::Error) -> SendError {
        let wait = Wait {
            deadline: None,
            wants_read: true,
            wants_write: false,
        };
        for _ in 0..16 {
            match self
                .receive(&wait, LINGER)
                .and_then(|()| self.expect_no_event())
            {
                Err(SendError::Closed(Some(reason))) => return SendError::Closed(Some(reason)),
                Ok(()) => {}
                Err(_) => break,
            }
        }
        SendError::Io(e)
    }

    /// Classic form, after the body: the server stores the file, then closes without a
    /// word (or says `! CODE text` first). The machine tells which, and how long to wait.
    fn classic_end(&mut self) -> Result<(), SendError> {
        let _ = self.stream.shutdown(Shutdown::Write);
        loop {
            match self.pump()? {
                Step::Event(e) => return Err(SendError::from_event(e)),
                Step::Wait(w) => self.receive(&w, ANSWER_TIMEOUT)?,
                Step::Done(c) if c.code == ErrorCode::Bye => {
                    if !c.by_peer {
                        tracing::warn!("the server did not close the connection after the file");
                    }
                    return Ok(());
                }
                Step::Done(_) => return Err(SendError::Closed(None)),
            }
        }
    }
}

/// Opens a regular file and tells its size.
fn open(path: &Path) -> io::Result<(File, u64)> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok((file, meta.len()))
}

/// Reads exactly `buf.len()` bytes of the file; a file that shrank is an error.
fn read_chunk(file: &mut File, buf: &mut [u8]) -> io::Result<()> {
    file.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::other("the file shrank while it was being sent")
        } else {
            e
        }
    })
}
