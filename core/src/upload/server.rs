//! The server side of an upload connection.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use super::{Offer, UploadConfig, validate_name};
use crate::buf::{InBuf, OutBuf};
use crate::digest::{Algorithm, Checkpoint, Digest, Hasher};
use crate::frame::{self, HEADER_LEN, MAGIC, PROTOCOL_VERSION, kind, service};
use crate::gap::Gap;
use crate::time::earliest;
use crate::{Closed, ErrorCode, Instant, Misuse, Output, Stats};

/// The ACK of the classic form: it exists only to keep the size apart from the data.
pub(crate) const CLASSIC_ACK: &[u8; 4] = b"1001";
/// A classic size has at most this many digits (u64::MAX has 20).
const MAX_DIGITS: usize = 20;

/// What the body ended with, once it is all handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Complete {
    /// The verified digest; `None` for a classic upload, which has none.
    pub digest: Option<Digest>,
}

/// Something the driver acts on.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadEvent<'a> {
    /// The client's form is known.
    Detected(super::UploadForm),
    /// The client offers a file whose name, size and algorithm passed the core's checks. The
    /// driver checks its storage and answers with [`UploadServer::accept`] or
    /// [`UploadServer::reject`] before anything else happens on this connection.
    Offer(Offer),
    /// The next bytes of the body, in order: append them to the partial file. They count as
    /// handed out: the next call into the machine forgets them.
    Body(&'a [u8]),
    /// All the body arrived (and, native, matched its digest). Make the file durable under its
    /// final name, then call [`UploadServer::confirm_stored`] (or [`UploadServer::fail_stored`]).
    Complete(Complete),
    /// The body does not match the client's digest: discard the partial copy and its
    /// checkpoint. The client is told; it may offer again.
    Mismatch {
        /// What the client said.
        expected: Digest,
        /// What arrived.
        actual: Digest,
    },
}

#[derive(Debug)]
enum Phase {
    Detecting,
    Magic,
    Hello,
    AwaitOffer,
    ClassicSize {
        digits: usize,
        value: Option<u64>,
    },
    OfferPending {
        classic: bool,
    },
    Body {
        remaining: u64,
        hasher: Option<Box<Hasher>>,
    },
    AwaitDigest {
        hasher: Box<Hasher>,
    },
    StorePending {
        digest: Option<Digest>,
    },
}

/// The server side of an upload connection.
///
/// ```
/// use unstuck_core::{Instant, Output, upload::{UploadConfig, UploadEvent, UploadServer}};
///
/// let now = Instant::ZERO;
/// let mut conn = UploadServer::new(UploadConfig::default(), now);
/// conn.handle_input(now, b"5\nhel"); // a classic client that did not wait for the ack
/// let mut body = Vec::new();
/// loop {
///     match conn.poll_output() {
///         Output::Event(UploadEvent::Offer(offer)) => {
///             assert_eq!(offer.size, 5);
///             conn.accept(None).unwrap();
///         }
///         Output::Event(UploadEvent::Body(b)) => body.extend_from_slice(b),
///         Output::Event(UploadEvent::Detected(_)) => {}
///         Output::Transmit(b) => {
///             assert_eq!(b, b"1001");
///             conn.handle_sent(4).unwrap();
///         }
///         Output::Wait(_) => break,
///         other => panic!("{other:?}"),
///     }
/// }
/// assert_eq!(body, b"hel");
/// ```
#[derive(Debug)]
pub struct UploadServer {
    config: UploadConfig,
    now: Instant,
    phase: Phase,
    /// The form, once detected.
    form: Option<super::UploadForm>,
    /// The offer the driver has not answered yet.
    pending: Option<Offer>,
    input: InBuf,
    out: OutBuf,
    gap: Gap,
    /// Body bytes handed out by the last poll, consumed on the next call.
    handed_out: usize,
    last_activity: Instant,
    eof: bool,
    closing: Option<Closed>,
    stats: Stats,
}

impl UploadServer {
    /// A new connection accepted at `now`. The server speaks only after the client's first byte.
    pub fn new(config: UploadConfig, now: Instant) -> Self {
        UploadServer {
            input: InBuf::new(
                config
                    .recv_buffer
                    .max(frame::MAX_PAYLOAD as usize + HEADER_LEN),
                false,
            ),
            gap: Gap::new(config.quiet_gap.min(crate::chat::ChatConfig::MAX_QUIET_GAP)),
            config,
            now,
            phase: Phase::Detecting,
            form: None,
            pending: None,
            out: OutBuf::default(),
            handed_out: 0,
            last_activity: now,
            eof: false,
            closing: None,
            stats: Stats::default(),
        }
    }

    /// Byte counters for logs.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Forgets the body bytes handed out by the last poll.
    fn settle(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.gap.tick(self.now);
        let n = core::mem::take(&mut self.handed_out);
        self.input.consume(n);
    }

    /// Feeds bytes from the socket; returns how many were taken (fewer when the buffer is full).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.settle(now);
        if self.closing.is_some() {
            return data.len();
        }
        let n = self.input.push(data);
        self.received(n);
        n
    }

    /// Free buffer space to read into directly (no copy); report it with
    /// [`UploadServer::handle_received`].
    pub fn recv_buf(&mut self) -> &mut [u8] {
        self.settle(self.now);
        self.input.spare()
    }

    /// Reports `n` bytes read into [`UploadServer::recv_buf`].
    pub fn handle_received(&mut self, now: Instant, n: usize) {
        self.settle(now);
        let n = n.min(self.input.room());
        self.input.commit(n);
        self.received(n);
    }

    fn received(&mut self, n: usize) {
        if n > 0 {
            self.stats.bytes_in += n as u64;
            self.last_activity = self.now;
            if matches!(self.phase, Phase::ClassicSize { .. } | Phase::Detecting) {
                self.gap.received(self.now, n);
            }
        }
    }

    /// Body bytes the driver may move straight from the socket to the file itself (splice),
    /// bypassing the machine: nonzero only for a body without a digest (classic) and only
    /// while no body bytes are buffered here.
    pub fn direct_body_budget(&self) -> u64 {
        match &self.phase {
            Phase::Body {
                remaining,
                hasher: None,
            } if self.input.len() == self.handed_out && self.closing.is_none() => *remaining,
            _ => 0,
        }
    }

    /// Reports `n` body bytes the driver moved itself, within [`UploadServer::direct_body_budget`].
    pub fn handle_body_direct(&mut self, now: Instant, n: u64) -> Result<(), Misuse> {
        if n > self.direct_body_budget() {
            return Err(Misuse::WrongState(
                "direct body bytes need a classic body and an empty buffer",
            ));
        }
        self.settle(now);
        if let Phase::Body { remaining, .. } = &mut self.phase {
            *remaining -= n;
        }
        if n > 0 {
            self.stats.bytes_in += n;
            self.last_activity = self.now;
        }
        Ok(())
    }

    /// The client closed its side.
    pub fn handle_eof(&mut self, now: Instant) {
        self.settle(now);
        self.eof = true;
        self.gap.flush();
    }

    /// Time has come: stall detection and the classic quiet gap.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.settle(now);
        if self.waits_for_client() && self.now >= self.last_activity + self.config.stall_timeout {
            self.close(ErrorCode::IdleTimeout, false, "no data, closing");
        }
    }

    /// Reports that the first `n` bytes of the last [`Output::Transmit`] were written.
    pub fn handle_sent(&mut self, n: usize) -> Result<(), Misuse> {
        self.settle(self.now);
        self.out.ack(n)?;
        self.stats.bytes_out += n as u64;
        Ok(())
    }

    /// The latest resumable state of the body, for the driver to persist with the partial file:
    /// the file is consistent with it once the first `offset()` bytes are durable.
    /// `None` outside a native body.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        match &self.phase {
            Phase::Body {
                hasher: Some(h), ..
            } => Some(h.checkpoint()),
            Phase::AwaitDigest { hasher } => Some(hasher.checkpoint()),
            _ => None,
        }
    }

    /// Accepts the pending offer, resuming from `resume` (native only; it must match the
    /// offer's algorithm and lie within its size).
    pub fn accept(&mut self, resume: Option<&Checkpoint>) -> Result<(), Misuse> {
        self.settle(self.now);
        let Phase::OfferPending { classic } = self.phase else {
            return Err(Misuse::WrongState("no offer is pending"));
        };
        let offer = self
            .pending
            .take()
            .ok_or(Misuse::WrongState("no offer is pending"))?;
        let (offset, hasher) = match (classic, offer.algorithm, resume) {
            (true, _, Some(_)) => return self.misuse_keep(offer, "a classic upload cannot resume"),
            (true, _, None) => {
                self.out.queue().extend_from_slice(CLASSIC_ACK);
                (0, None)
            }
            (false, Some(alg), cp) => {
                let hasher = match cp {
                    None => Box::new(Hasher::new(alg)),
                    Some(cp) if cp.algorithm() == alg && cp.offset() <= offer.size => {
                        Box::new(Hasher::resume(cp))
                    }
                    Some(_) => {
                        return self.misuse_keep(offer, "the checkpoint does not fit the offer");
                    }
                };
                let offset = hasher.offset();
                frame::write(self.out.queue(), kind::ACCEPT, &[&offset.to_be_bytes()]);
                (offset, Some(hasher))
            }
            (false, None, _) => return self.misuse_keep(offer, "a native offer has an algorithm"),
        };
        self.last_activity = self.now;
        self.phase = Phase::Body {
            remaining: offer.size - offset,
            hasher,
        };
        Ok(())
    }

    fn misuse_keep(&mut self, offer: Offer, why: &'static str) -> Result<(), Misuse> {
        self.pending = Some(offer);
        Err(Misuse::InvalidArgument(why))
    }

    /// Refuses the pending offer. A native client may offer again; a classic one is closed.
    pub fn reject(&mut self, code: ErrorCode, text: &str) -> Result<(), Misuse> {
        self.settle(self.now);
        let Phase::OfferPending { classic } = self.phase else {
            return Err(Misuse::WrongState("no offer is pending"));
        };
        self.pending = None;
        if classic {
            self.close(code, false, text);
        } else {
            frame::write_coded(self.out.queue(), kind::REJECT, code.to_u16(), text);
            self.last_activity = self.now;
            self.phase = Phase::AwaitOffer;
        }
        Ok(())
    }

    /// The completed file is durable under its final name: tell the client.
    pub fn confirm_stored(&mut self) -> Result<(), Misuse> {
        self.settle(self.now);
        let Phase::StorePending { digest } = &self.phase else {
            return Err(Misuse::WrongState("no completed upload is pending"));
        };
        match digest {
            Some(d) => {
                frame::write(
                    self.out.queue(),
                    kind::VERIFIED,
                    &[&[d.algorithm().to_wire()], d.as_bytes()],
                );
                self.last_activity = self.now;
                self.phase = Phase::AwaitOffer;
            }
            None => self.close(ErrorCode::Bye, false, "stored"),
        }
        Ok(())
    }

    /// Storing failed (or the driver refuses for another reason): the client is told, the
    /// connection closes.
    pub fn fail_stored(&mut self, code: ErrorCode, text: &str) {
        self.settle(self.now);
        self.close(code, false, text);
    }

    /// The server is going down: the client is told; a partial upload stays resumable.
    pub fn shutdown(&mut self) {
        self.settle(self.now);
        self.close(ErrorCode::ShuttingDown, false, "server going down");
    }

    fn close(&mut self, code: ErrorCode, by_peer: bool, text: &str) {
        if self.closing.is_some() {
            return;
        }
        let q = self.out.queue();
        match self.phase {
            Phase::Magic | Phase::Hello => {
                q.extend_from_slice(&MAGIC);
                frame::write_coded(q, kind::CLOSE, code.to_u16(), text);
            }
            _ if self.form != Some(super::UploadForm::Native) => {
                if code != ErrorCode::Bye {
                    q.extend_from_slice(format!("! {} {}\n", code.to_u16(), text).as_bytes());
                }
            }
            _ => frame::write_coded(q, kind::CLOSE, code.to_u16(), text),
        }
        self.closing = Some(Closed { code, by_peer });
        self.pending = None;
    }

    /// Ends without a word: the client has gone (EOF), so there is no one to tell.
    fn finish(&mut self, code: ErrorCode) -> Step {
        if self.closing.is_none() {
            self.closing = Some(Closed {
                code,
                by_peer: true,
            });
            self.pending = None;
        }
        Step::Progress
    }

    fn waits_for_client(&self) -> bool {
        self.closing.is_none()
            && !matches!(
                self.phase,
                Phase::OfferPending { .. } | Phase::StorePending { .. }
            )
    }

    /// The next output; drain it until [`Output::Wait`] or [`Output::Done`].
    pub fn poll_output(&mut self) -> Output<'_, UploadEvent<'_>> {
        self.settle(self.now);
        loop {
            match self.step() {
                Step::Progress => {}
                Step::Idle => break,
                Step::Event(e) => return Output::Event(e),
                Step::Body(n) => {
                    self.handed_out = n;
                    return Output::Event(UploadEvent::Body(&self.input.data()[..n]));
                }
            }
        }
        let gap = match self.phase {
            Phase::Detecting | Phase::ClassicSize { .. } => self.gap.deadline(),
            _ => None,
        };
        let stall = self
            .waits_for_client()
            .then(|| self.last_activity + self.config.stall_timeout);
        let reading = !self.eof && self.input.room() > 0;
        self.out
            .finish_poll(self.closing.as_ref(), earliest(gap, stall), reading)
    }

    fn step(&mut self) -> Step {
        if self.closing.is_some() {
            return Step::Idle;
        }
        let step = match self.phase {
            Phase::Detecting => self.step_detect(),
            Phase::Magic => self.step_magic(),
            Phase::Hello => self.step_hello(),
            Phase::AwaitOffer => self.step_offer(),
            Phase::ClassicSize { .. } => self.step_size(),
            Phase::Body { .. } => self.step_body(),
            Phase::AwaitDigest { .. } => self.step_digest(),
            Phase::OfferPending { .. } | Phase::StorePending { .. } => Step::Idle,
        };
        match step {
            // The seed's client closes right after its last byte: EOF must not preempt the
            // driver's answer to an offer or its storing of a complete file.
            Step::Idle if self.eof && self.waits_for_client() => {
                let between = matches!(self.phase, Phase::AwaitOffer | Phase::Detecting);
                let cut = !self.input.is_empty() || !between;
                self.finish(if cut {
                    ErrorCode::Malformed
                } else {
                    ErrorCode::Bye
                })
            }
            s => s,
        }
    }

    fn step_body(&mut self) -> Step {
        let Phase::Body { remaining, hasher } = &mut self.phase else {
            return Step::Idle;
        };
        if *remaining == 0 {
            return self.body_done();
        }
        let n = usize::try_from(*remaining)
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        if n == 0 {
            return Step::Idle;
        }
        if let Some(h) = hasher {
            h.update(&self.input.data()[..n]);
        }
        *remaining -= n as u64;
        Step::Body(n)
    }

    fn body_done(&mut self) -> Step {
        match core::mem::replace(&mut self.phase, Phase::AwaitOffer) {
            Phase::Body {
                hasher: Some(hasher),
                ..
            } => {
                self.phase = Phase::AwaitDigest { hasher };
                Step::Progress
            }
            _ => {
                self.phase = Phase::StorePending { digest: None };
                Step::Event(UploadEvent::Complete(Complete { digest: None }))
            }
        }
    }

    fn step_detect(&mut self) -> Step {
        match self.input.data().first() {
            None => Step::Idle,
            Some(0xFF) => {
                self.form = Some(super::UploadForm::Native);
                self.phase = Phase::Magic;
                Step::Event(UploadEvent::Detected(super::UploadForm::Native))
            }
            Some(b) if b.is_ascii_digit() => {
                self.form = Some(super::UploadForm::Classic);
                self.phase = Phase::ClassicSize {
                    digits: 0,
                    value: Some(0),
                };
                Step::Event(UploadEvent::Detected(super::UploadForm::Classic))
            }
            Some(_) => {
                self.close(
                    ErrorCode::Malformed,
                    true,
                    "expected a size in digits or the native magic",
                );
                Step::Progress
            }
        }
    }

    fn step_magic(&mut self) -> Step {
        match frame::magic(self.input.data()) {
            frame::Magic::Partial => Step::Idle,
            frame::Magic::Bad => self.fatal(ErrorCode::Malformed, "bad magic"),
            frame::Magic::Complete => {
                self.input.consume(MAGIC.len());
                self.phase = Phase::Hello;
                Step::Progress
            }
        }
    }

    fn step_hello(&mut self) -> Step {
        let (k, len, fields) = match frame::next(self.input.data(), frame::MAX_PAYLOAD) {
            frame::Next::NeedMore => return Step::Idle,
            frame::Next::TooLong(_) => return self.fatal(ErrorCode::TooLarge, "frame too long"),
            frame::Next::Frame(h) => {
                let p = &self.input.data()[HEADER_LEN..HEADER_LEN + h.len as usize];
                (
                    h.kind,
                    h.len as usize,
                    p.get(..3).map(|f| [f[0], f[1], f[2]]),
                )
            }
        };
        self.input.consume(HEADER_LEN + len);
        let (min, max, svc) = match (k, fields) {
            (kind::HELLO, Some([min, max, svc])) if min != 0 && min <= max => (min, max, svc),
            _ => return self.fatal(ErrorCode::Malformed, "expected HELLO"),
        };
        if svc != service::UPLOAD {
            return self.fatal(ErrorCode::WrongService, "this port serves uploads");
        }
        if !(min..=max).contains(&PROTOCOL_VERSION) {
            return self.fatal(
                ErrorCode::NoCommonVersion,
                "this server speaks version 1 only",
            );
        }
        let limit = self.config.max_file_size.to_be_bytes();
        let q = self.out.queue();
        q.extend_from_slice(&MAGIC);
        frame::write(
            q,
            kind::HELLO,
            &[&[PROTOCOL_VERSION, service::UPLOAD], &limit],
        );
        self.phase = Phase::AwaitOffer;
        Step::Progress
    }

    fn fatal(&mut self, code: ErrorCode, text: &str) -> Step {
        self.close(code, true, text);
        Step::Progress
    }

    /// The whole frame at the front of the input, as (type, payload length), if it is all there.
    fn frame(&mut self) -> Result<Option<(u8, usize)>, Step> {
        match frame::next(self.input.data(), frame::MAX_PAYLOAD) {
            frame::Next::NeedMore => Ok(None),
            frame::Next::TooLong(_) => Err(self.fatal(ErrorCode::TooLarge, "frame too long")),
            frame::Next::Frame(h) => {
                self.stats.bytes_scanned += u64::from(h.len) + HEADER_LEN as u64;
                Ok(Some((h.kind, h.len as usize)))
            }
        }
    }

    fn step_offer(&mut self) -> Step {
        let (k, len) = match self.frame() {
            Err(step) => return step,
            Ok(None) => return Step::Idle,
            Ok(Some(f)) => f,
        };
        if k != kind::OFFER {
            return self.fatal(ErrorCode::Malformed, "expected OFFER");
        }
        let p = &self.input.data()[HEADER_LEN..HEADER_LEN + len];
        let parsed = match (frame::read_u64(p), p.get(8)) {
            (Some(size), Some(&alg)) => {
                Ok((size, alg, core::str::from_utf8(&p[9..]).map(String::from)))
            }
            _ => Err(()),
        };
        self.input.consume(HEADER_LEN + len);
        let Ok((size, alg, name)) = parsed else {
            return self.fatal(ErrorCode::Malformed, "OFFER too short");
        };
        let checked = match name {
            Err(_) => Err((ErrorCode::BadName, String::from("the name is not UTF-8"))),
            Ok(name) => match validate_name(&name) {
                Err(why) => Err((ErrorCode::BadName, String::from(why))),
                Ok(()) if size > self.config.max_file_size => Err((
                    ErrorCode::TooLarge,
                    format!(
                        "{size} bytes is over the limit of {}",
                        self.config.max_file_size
                    ),
                )),
                Ok(()) => match Algorithm::from_wire(alg) {
                    None => Err((
                        ErrorCode::UnsupportedDigest,
                        format!("unknown digest algorithm {alg}"),
                    )),
                    Some(a) => Ok(Offer {
                        name: Some(name),
                        size,
                        algorithm: Some(a),
                    }),
                },
            },
        };
        match checked {
            Ok(offer) => self.offered(offer, false),
            Err((code, text)) => {
                frame::write_coded(self.out.queue(), kind::REJECT, code.to_u16(), &text);
                Step::Progress
            }
        }
    }

    fn offered(&mut self, offer: Offer, classic: bool) -> Step {
        self.pending = Some(offer.clone());
        self.phase = Phase::OfferPending { classic };
        Step::Event(UploadEvent::Offer(offer))
    }

    fn step_size(&mut self) -> Step {
        // Once silence or the end of the stream has come, no byte will follow a lone CR.
        let settled = self.gap.first().is_some() || self.eof;
        let Phase::ClassicSize { digits, value } = &mut self.phase else {
            return Step::Idle;
        };
        let data = self.input.data();
        let mut used = 0;
        // How many bytes the terminator takes, once it is known (0: it is a body byte).
        let mut terminator = None;
        for (i, &b) in data.iter().enumerate() {
            if !b.is_ascii_digit() {
                terminator = match (b, data.get(i + 1)) {
                    (b'\n', _) => Some(1),
                    (b'\r', Some(b'\n')) => Some(2),
                    (b'\r', None) if !settled => None, // CRLF, or a body CR: wait and see
                    _ => Some(0),
                };
                break;
            }
            if *digits == MAX_DIGITS {
                return self.size_error(ErrorCode::Malformed, "a size has at most 20 digits");
            }
            *digits += 1;
            *value = value.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(b - b'0')));
            used += 1;
        }
        // Digits are counted as they are consumed, so none is counted twice.
        let value = *value;
        self.stats.bytes_scanned += used as u64;
        self.input.consume(used);
        match terminator {
            Some(t) => self.input.consume(t),
            None if self.eof => return self.finish(ErrorCode::Malformed),
            None if settled => {}
            None => return Step::Idle,
        }
        self.gap.pop();
        match value {
            Some(size) if size <= self.config.max_file_size => self.offered(
                Offer {
                    name: None,
                    size,
                    algorithm: None,
                },
                true,
            ),
            _ => self.size_error(ErrorCode::TooLarge, "file too large"),
        }
    }

    fn size_error(&mut self, code: ErrorCode, text: &str) -> Step {
        self.close(code, true, text);
        Step::Progress
    }

    fn step_digest(&mut self) -> Step {
        let (k, len) = match self.frame() {
            Err(step) => return step,
            Ok(None) => return Step::Idle,
            Ok(Some(f)) => f,
        };
        let p = &self.input.data()[HEADER_LEN..HEADER_LEN + len];
        let theirs = match p.split_first() {
            Some((&alg, d)) if k == kind::DIGEST => {
                Algorithm::from_wire(alg).and_then(|a| Digest::new(a, d))
            }
            _ => None,
        };
        self.input.consume(HEADER_LEN + len);
        let Phase::AwaitDigest { hasher } = &self.phase else {
            return Step::Idle;
        };
        let ours = hasher.finish();
        let Some(theirs) = theirs.filter(|t| t.algorithm() == ours.algorithm()) else {
            return self.fatal(
                ErrorCode::Malformed,
                "expected DIGEST of the offered algorithm",
            );
        };
        if theirs == ours {
            self.phase = Phase::StorePending { digest: Some(ours) };
            return Step::Event(UploadEvent::Complete(Complete { digest: Some(ours) }));
        }
        frame::write(
            self.out.queue(),
            kind::MISMATCH,
            &[&[ours.algorithm().to_wire()], ours.as_bytes()],
        );
        self.phase = Phase::AwaitOffer;
        Step::Event(UploadEvent::Mismatch {
            expected: theirs,
            actual: ours,
        })
    }
}

/// What one parsing step did.
enum Step {
    Progress,
    Idle,
    Event(UploadEvent<'static>),
    /// Hand out this many body bytes from the front of the input.
    Body(usize),
}
