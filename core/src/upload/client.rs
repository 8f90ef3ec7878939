//! The client side of an upload connection.

use alloc::boxed::Box;
use alloc::string::String;

use super::server::CLASSIC_ACK;
use super::validate_name;
use crate::buf::{InBuf, OutBuf};
use crate::digest::{Algorithm, BLOCK, Digest, Hasher};
use crate::frame::{self, HEADER_LEN, MAGIC, MAX_PAYLOAD, PROTOCOL_VERSION, kind, service};
use crate::{Closed, ErrorCode, Instant, Misuse, Output, PeerError, Stats};

/// Which form an upload client speaks (and which form a server detected).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UploadForm {
    /// Named, sized, digest-checked, resumable uploads; several per connection.
    #[default]
    Native,
    /// The seed's form: ASCII size, the ack `1001`, raw bytes. No name, no digest.
    Classic,
}

impl UploadForm {
    /// A short lowercase name for logs.
    pub fn name(self) -> &'static str {
        match self {
            UploadForm::Native => "native",
            UploadForm::Classic => "classic",
        }
    }
}

/// What the server said.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadClientEvent {
    /// Native handshake done: the server takes files up to `max_file_size` bytes.
    Ready {
        /// The server's size limit.
        max_file_size: u64,
    },
    /// The offer is accepted. Feed the file from its first byte with
    /// [`UploadClient::feed`]; the first `offset` bytes are only hashed, not sent (resume).
    Accepted {
        /// Where the server resumes (a multiple of [`BLOCK`]; 0 for a fresh upload).
        offset: u64,
    },
    /// The offer is refused; the connection stays open for another (native).
    Rejected(PeerError),
    /// The server holds the file, durable, with this digest (the client's own matched it).
    Verified(Digest),
    /// The bytes the server received do not hash to the client's digest.
    Mismatch {
        /// The client's digest of its file.
        local: Digest,
        /// The server's digest of what it received.
        remote: Digest,
    },
    /// The server closed the connection with this error.
    Error(PeerError),
}

#[derive(Debug)]
enum Transfer {
    /// Nothing offered (native: another offer may follow).
    Idle,
    /// Waiting for ACCEPT/REJECT (classic: for `1001`).
    Offered {
        size: u64,
        algorithm: Option<Algorithm>,
    },
    /// The driver feeds the file.
    Feeding {
        fed: u64,
        offset: u64,
        size: u64,
        hasher: Option<Box<Hasher>>,
    },
    /// DIGEST sent; waiting for VERIFIED/MISMATCH.
    AwaitResult { local: Digest },
    /// Classic: the body is out. The form has no confirmation, but a server may still send a
    /// `! CODE text` line (storage failed) or close; a seed server does neither, so the wait
    /// ends at `until`, counted from the first time the client is told after the body (`feed`
    /// takes no time).
    Ending { until: Option<Instant> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    Magic,
    Hello,
    Frames,
    Classic,
}

/// The client side of an upload connection.
///
/// ```
/// use unstuck_core::{Instant, Output, digest::Algorithm, upload::{UploadClient, UploadForm}};
///
/// let mut client = UploadClient::new(UploadForm::Classic, Instant::ZERO);
/// client.offer("", 3, Algorithm::DEFAULT).unwrap(); // classic: the name is not sent
/// let Output::Transmit(size) = client.poll_output() else { panic!() };
/// assert_eq!(size, b"3");
/// client.handle_sent(1).unwrap();
/// client.handle_input(Instant::ZERO, b"1001");
/// assert!(matches!(client.poll_output(), Output::Event(_))); // Accepted { offset: 0 }
/// assert_eq!(client.feed(b"abc").unwrap(), b"abc"); // send these bytes as they are
/// ```
#[derive(Debug)]
pub struct UploadClient {
    form: UploadForm,
    now: Instant,
    read: Read,
    transfer: Transfer,
    input: InBuf,
    out: OutBuf,
    eof: bool,
    closing: Option<Closed>,
    stats: Stats,
}

impl UploadClient {
    /// A new client connected at `now`; a native one queues its HELLO at once.
    pub fn new(form: UploadForm, now: Instant) -> Self {
        let mut out = OutBuf::default();
        let read = match form {
            UploadForm::Native => {
                let q = out.queue();
                q.extend_from_slice(&MAGIC);
                let hello = [PROTOCOL_VERSION, PROTOCOL_VERSION, service::UPLOAD];
                frame::write(q, kind::HELLO, &[&hello]);
                Read::Magic
            }
            UploadForm::Classic => Read::Classic,
        };
        UploadClient {
            form,
            now,
            read,
            transfer: Transfer::Idle,
            input: InBuf::new(MAX_PAYLOAD as usize + HEADER_LEN, true),
            out,
            eof: false,
            closing: None,
            stats: Stats::default(),
        }
    }

    /// Byte counters (body bytes count as sent once [`UploadClient::feed`] hands them out).
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Offers a file. Native: `name` must pass [`validate_name`]. Classic: only the size is sent.
    /// Allowed when no transfer is under way (native: also before the handshake completes).
    pub fn offer(&mut self, name: &str, size: u64, algorithm: Algorithm) -> Result<(), Misuse> {
        if self.closing.is_some() || !matches!(self.transfer, Transfer::Idle) {
            return Err(Misuse::WrongState("a transfer is under way"));
        }
        let algorithm = match self.form {
            UploadForm::Native => {
                validate_name(name).map_err(Misuse::InvalidArgument)?;
                frame::write(
                    self.out.queue(),
                    kind::OFFER,
                    &[&size.to_be_bytes(), &[algorithm.to_wire()], name.as_bytes()],
                );
                Some(algorithm)
            }
            UploadForm::Classic if self.stats.bytes_out > 0 || !self.out.is_empty() => {
                return Err(Misuse::WrongState("a classic connection carries one file"));
            }
            UploadForm::Classic => {
                let digits = alloc::format!("{size}");
                self.out.queue().extend_from_slice(digits.as_bytes());
                None
            }
        };
        self.transfer = Transfer::Offered { size, algorithm };
        Ok(())
    }

    /// Bytes of the file still to feed.
    pub fn remaining(&self) -> u64 {
        match &self.transfer {
            Transfer::Feeding { fed, size, .. } => size - fed,
            _ => 0,
        }
    }

    /// Feeds the next bytes of the file (from byte 0, even when resuming: the digest covers the
    /// whole file). Returns the part of `chunk` to write to the socket now, directly: it skips
    /// what the server already holds. Send any pending [`Output::Transmit`] first.
    pub fn feed<'c>(&mut self, chunk: &'c [u8]) -> Result<&'c [u8], Misuse> {
        if !self.out.is_empty() {
            return Err(Misuse::WrongState("send the pending transmit first"));
        }
        let Transfer::Feeding {
            fed,
            offset,
            size,
            hasher,
        } = &mut self.transfer
        else {
            return Err(Misuse::WrongState("no accepted transfer"));
        };
        if chunk.len() as u64 > *size - *fed {
            return Err(Misuse::InvalidArgument("more bytes than the offered size"));
        }
        if let Some(h) = hasher {
            h.update(chunk);
        }
        let skip = usize::try_from(offset.saturating_sub(*fed))
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        *fed += chunk.len() as u64;
        let send = &chunk[skip..];
        self.stats.bytes_out += send.len() as u64;
        if *fed == *size {
            self.body_fed();
        }
        Ok(send)
    }

    fn body_fed(&mut self) {
        match core::mem::replace(&mut self.transfer, Transfer::Idle) {
            Transfer::Feeding {
                hasher: Some(h), ..
            } => {
                let local = h.finish();
                frame::write(
                    self.out.queue(),
                    kind::DIGEST,
                    &[&[local.algorithm().to_wire()], local.as_bytes()],
                );
                self.transfer = Transfer::AwaitResult { local };
            }
            _ => self.transfer = Transfer::Ending { until: None },
        }
    }

    /// Feeds bytes from the server; returns how many were taken.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.now = self.now.max(now);
        if self.closing.is_some() {
            return data.len();
        }
        let n = self.input.push(data);
        self.stats.bytes_in += n as u64;
        n
    }

    /// The server closed its side.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.eof = true;
    }

    /// Time has come: a classic client stops waiting for the server after its body.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if let Transfer::Ending { until } = &mut self.transfer {
            let until = *until.get_or_insert(self.now + crate::time::LINGER);
            if self.now >= until && self.closing.is_none() {
                self.closing = Some(Closed {
                    code: ErrorCode::Bye,
                    by_peer: false,
                });
            }
        }
    }

    /// Reports that the first `n` bytes of the last [`Output::Transmit`] were written.
    pub fn handle_sent(&mut self, n: usize) -> Result<(), Misuse> {
        self.out.ack(n)?;
        self.stats.bytes_out += n as u64;
        Ok(())
    }

    /// The next output; drain it until [`Output::Wait`] or [`Output::Done`].
    pub fn poll_output(&mut self) -> Output<'_, UploadClientEvent> {
        loop {
            match self.step() {
                Some(Some(e)) => return Output::Event(e),
                Some(None) => {}
                None => break,
            }
        }
        let deadline = match self.transfer {
            // Not started yet: ask for the time at once.
            Transfer::Ending { until } => Some(until.unwrap_or(self.now)),
            _ => None,
        };
        let reading = !self.eof && self.input.room() > 0;
        self.out
            .finish_poll(self.closing.as_ref(), deadline, reading)
    }

    fn close(&mut self, code: ErrorCode) -> Option<Option<UploadClientEvent>> {
        if self.closing.is_none() {
            self.closing = Some(Closed {
                code,
                by_peer: true,
            });
        }
        Some(None)
    }

    fn step(&mut self) -> Option<Option<UploadClientEvent>> {
        if self.closing.is_some() {
            return None;
        }
        let step = match self.read {
            // A server at its connection limit answers `! 503 ...` instead of its magic.
            Read::Magic if self.input.data().first() == Some(&b'!') => self.step_refusal(),
            Read::Magic => self.step_magic(),
            Read::Hello | Read::Frames => self.step_frame(),
            Read::Classic => self.step_classic(),
        };
        if step.is_none() && self.eof {
            let code = match (&self.transfer, self.input.is_empty()) {
                (Transfer::Idle | Transfer::Ending { .. }, true) => ErrorCode::Bye,
                _ => ErrorCode::Malformed,
            };
            return self.close(code);
        }
        step
    }

    fn step_magic(&mut self) -> Option<Option<UploadClientEvent>> {
        match frame::magic(self.input.data()) {
            frame::Magic::Partial => None,
            frame::Magic::Bad => self.close(ErrorCode::Malformed),
            frame::Magic::Complete => {
                self.input.consume(MAGIC.len());
                self.read = Read::Hello;
                Some(None)
            }
        }
    }

    fn step_frame(&mut self) -> Option<Option<UploadClientEvent>> {
        let h = match frame::next(self.input.data(), MAX_PAYLOAD) {
            frame::Next::NeedMore => return None,
            frame::Next::TooLong(_) => return self.close(ErrorCode::Malformed),
            frame::Next::Frame(h) => h,
        };
        let len = HEADER_LEN + h.len as usize;
        self.stats.bytes_scanned += len as u64;
        let p = &self.input.data()[HEADER_LEN..len];
        let event = match (self.read, h.kind) {
            (Read::Hello, kind::HELLO) => {
                match (p.get(..2), frame::read_u64(p.get(2..).unwrap_or(&[]))) {
                    (Some([PROTOCOL_VERSION, service::UPLOAD]), Some(max_file_size)) => {
                        self.read = Read::Frames;
                        Some(UploadClientEvent::Ready { max_file_size })
                    }
                    _ => None,
                }
            }
            (_, kind::CLOSE) => frame::read_coded(p).map(|(number, t)| {
                UploadClientEvent::Error(PeerError {
                    number,
                    text: t.into(),
                })
            }),
            (Read::Frames, _) => {
                // Replies are a few dozen bytes, a few per file: copying frees `self`.
                let p = p.to_vec();
                self.decode_reply(h.kind, &p)
            }
            _ => None,
        };
        self.input.consume(len);
        let Some(event) = event else {
            return self.close(ErrorCode::Malformed);
        };
        if let UploadClientEvent::Error(e) = &event {
            self.close(ErrorCode::from_u16_or_class(e.number));
        }
        Some(Some(event))
    }

    /// Decodes ACCEPT, REJECT, VERIFIED or MISMATCH against the transfer it answers.
    fn decode_reply(&mut self, k: u8, p: &[u8]) -> Option<UploadClientEvent> {
        let transfer = core::mem::replace(&mut self.transfer, Transfer::Idle);
        match (k, transfer) {
            (
                kind::ACCEPT,
                Transfer::Offered {
                    size,
                    algorithm: Some(alg),
                },
            ) => {
                let offset =
                    frame::read_u64(p).filter(|o| p.len() == 8 && *o <= size && o % BLOCK == 0)?;
                self.start_feeding(offset, size, Some(Box::new(Hasher::new(alg))))
            }
            (kind::REJECT, Transfer::Offered { .. }) => {
                let (number, t) = frame::read_coded(p)?;
                Some(UploadClientEvent::Rejected(PeerError {
                    number,
                    text: t.into(),
                }))
            }
            (kind::VERIFIED | kind::MISMATCH, Transfer::AwaitResult { local }) => {
                let (&alg, d) = p.split_first()?;
                let remote = Digest::new(Algorithm::from_wire(alg)?, d)?;
                Some(match k {
                    kind::VERIFIED if remote == local => UploadClientEvent::Verified(remote),
                    // VERIFIED must repeat our digest; MISMATCH must be of the same algorithm.
                    kind::VERIFIED => return None,
                    _ if remote.algorithm() != local.algorithm() => return None,
                    _ => UploadClientEvent::Mismatch { local, remote },
                })
            }
            _ => None,
        }
    }

    fn start_feeding(
        &mut self,
        offset: u64,
        size: u64,
        hasher: Option<Box<Hasher>>,
    ) -> Option<UploadClientEvent> {
        self.transfer = Transfer::Feeding {
            fed: 0,
            offset,
            size,
            hasher,
        };
        if size == 0 {
            self.body_fed();
        }
        Some(UploadClientEvent::Accepted { offset })
    }

    fn step_classic(&mut self) -> Option<Option<UploadClientEvent>> {
        if self.input.data().first() == Some(&b'!') {
            return self.step_refusal();
        }
        let Transfer::Offered { size, .. } = self.transfer else {
            return (!self.input.is_empty())
                .then(|| self.close(ErrorCode::Malformed))
                .flatten();
        };
        let data = self.input.data();
        let n = data.len().min(CLASSIC_ACK.len());
        if data[..n] != CLASSIC_ACK[..n] {
            return self.close(ErrorCode::Malformed);
        }
        if n < CLASSIC_ACK.len() {
            return None;
        }
        self.input.consume(n);
        Some(self.start_feeding(0, size, None))
    }

    /// A `! CODE text` line, complete once its LF (or the end of the stream) arrived.
    fn step_refusal(&mut self) -> Option<Option<UploadClientEvent>> {
        let data = self.input.data();
        match data.iter().position(|&b| b == b'\n') {
            Some(end) => self.classic_refusal(end),
            None if self.eof => self.classic_refusal(data.len()),
            None => None,
        }
    }

    fn classic_refusal(&mut self, end: usize) -> Option<Option<UploadClientEvent>> {
        let line = String::from_utf8_lossy(&self.input.data()[..end]).into_owned();
        let mut words = line.trim_start_matches('!').trim().splitn(2, ' ');
        let number = words.next().and_then(|w| w.parse().ok()).unwrap_or(400);
        let text = words.next().unwrap_or("").into();
        self.input.consume(end);
        self.close(ErrorCode::from_u16_or_class(number));
        let e = PeerError { number, text };
        // Before the ack it refuses the offer; after the body it reports a failure to store.
        Some(Some(match self.transfer {
            Transfer::Offered { .. } => UploadClientEvent::Rejected(e),
            _ => UploadClientEvent::Error(e),
        }))
    }
}
