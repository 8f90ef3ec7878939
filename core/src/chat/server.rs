//! One server-side chat connection.

use alloc::string::String;
use alloc::sync::Arc;

use super::flood::Flood;
use super::render::{render, render_close};
use super::{ChatConfig, Form, Mode, ServerMessage};
use crate::buf::{InBuf, OutBuf};
use crate::frame::{self, HEADER_LEN, MAGIC, PROTOCOL_VERSION, kind, service};
use crate::gap::Gap;
use crate::time::earliest;
use crate::{Closed, ErrorCode, Instant, Misuse, Output, Stats};

/// Something the driver acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// The client's form is now known. In room mode, join the client to the room now:
    /// before this, nothing can be rendered for it.
    Detected(Form),
    /// Room mode only: a message to pass to [`super::Room::say`]. (Bot mode answers by itself.)
    Message(String),
}

/// Where the connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No byte seen that tells the form yet.
    Detecting,
    /// A 0xFF arrived: the rest of the magic must follow.
    NativeMagic,
    /// Magic seen; the HELLO frame must follow.
    NativeHello,
    /// A known form.
    Known(Form),
}

/// What one parsing step did.
enum Step {
    /// Something changed inside; step again.
    Progress,
    /// An event for the driver.
    Event(ServerEvent),
    /// Nothing more can be done without input, time, or room to send.
    Idle,
}

/// One server-side chat connection: bytes and time in; bytes, events and a deadline out.
///
/// ```
/// use unstuck_core::{Instant, Output, chat::{ChatConfig, ChatServer}};
///
/// let now = Instant::ZERO;
/// let mut conn = ChatServer::new(ChatConfig::default().into(), now);
/// conn.handle_input(now, b"q\n");
/// let mut sent = Vec::new();
/// let closed = loop {
///     match conn.poll_output() {
///         Output::Transmit(b) => {
///             sent.extend_from_slice(b);
///             let n = b.len();
///             conn.handle_sent(n).unwrap();
///         }
///         Output::Done(closed) => break closed,
///         _ => {}
///     }
/// };
/// assert_eq!(sent, "欢迎来到简单的聊天室..\n".as_bytes());
/// assert_eq!(closed.code, unstuck_core::ErrorCode::Bye);
/// ```
#[derive(Debug)]
pub struct ChatServer {
    config: Arc<ChatConfig>,
    now: Instant,
    phase: Phase,
    input: InBuf,
    out: OutBuf,
    gap: Gap,
    flood: Flood,
    last_activity: Instant,
    /// Bytes at the front of the input already searched for LF.
    scanned: usize,
    /// An over-long message is being thrown away up to its end.
    discarding: bool,
    /// Native: payload bytes of an over-long SAY still to skip.
    skip: u64,
    eof: bool,
    closing: Option<Closed>,
    stats: Stats,
}

impl ChatServer {
    /// A new connection accepted at `now`; the banner is queued at once.
    pub fn new(config: Arc<ChatConfig>, now: Instant) -> Self {
        let limit = config.max_message + HEADER_LEN + 8;
        let mut conn = ChatServer {
            now,
            phase: Phase::Detecting,
            input: InBuf::new(limit, true),
            out: OutBuf::default(),
            gap: Gap::new(config.quiet_gap.min(ChatConfig::MAX_QUIET_GAP)),
            flood: Flood::new(config.flood_burst, config.flood_rate, now),
            last_activity: now,
            scanned: 0,
            discarding: false,
            skip: 0,
            eof: false,
            closing: None,
            stats: Stats::default(),
            config,
        };
        let q = conn.out.queue();
        q.extend_from_slice(conn.config.banner_line().as_bytes());
        q.push(b'\n');
        conn
    }

    /// The form, once known.
    pub fn form(&self) -> Option<Form> {
        match self.phase {
            Phase::Known(f) => Some(f),
            _ => None,
        }
    }

    /// Byte counters for logs.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether the connection is ending (only the last bytes remain to be sent).
    pub fn is_closing(&self) -> bool {
        self.closing.is_some()
    }

    /// Why the connection is ending, once that is decided (before [`Output::Done`] says it,
    /// which waits for the last bytes to be sent): for a driver that gives up on a client
    /// that does not read them.
    pub fn closing_reason(&self) -> Option<&Closed> {
        self.closing.as_ref()
    }

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.gap.tick(self.now);
    }

    /// Feeds bytes read from the socket; returns how many were taken. Fewer than offered means
    /// the buffer is full: drain `poll_output`, then offer the rest again.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.advance(now);
        if self.closing.is_some() || self.eof {
            return data.len();
        }
        let n = self.input.push(data);
        self.received(n);
        n
    }

    /// The buffer's free space, for a driver that reads straight into it; report with
    /// [`ChatServer::handle_received`]. Empty while the buffer is full.
    pub fn recv_buf(&mut self) -> &mut [u8] {
        self.input.spare()
    }

    /// Reports `n` bytes read into [`ChatServer::recv_buf`].
    pub fn handle_received(&mut self, now: Instant, n: usize) {
        self.advance(now);
        let n = n.min(self.input.room());
        self.input.commit(n);
        self.received(n);
    }

    fn received(&mut self, n: usize) {
        if n > 0 {
            self.stats.bytes_in += n as u64;
            self.last_activity = self.now;
            if self.uses_gap() {
                self.gap.received(self.now, n);
            }
        }
    }

    /// Forgets the quiet gap's state: past detection only classic clients use it.
    fn stop_gap(&mut self) {
        self.gap = Gap::new(self.gap.length());
    }

    /// Only a client whose form is open or classic has its messages ended by silence.
    fn uses_gap(&self) -> bool {
        matches!(self.phase, Phase::Detecting | Phase::Known(Form::Classic))
    }

    /// The client closed its side of the stream: what it sent last still counts.
    pub fn handle_eof(&mut self, now: Instant) {
        self.advance(now);
        self.eof = true;
        // An open form at EOF is taken as line form (`printf hello | nc`), so only a classic
        // client's last burst is ended by the gap tracker.
        if self.phase == Phase::Known(Form::Classic) {
            self.gap.flush();
        }
    }

    /// Time has come (call it at or after [`Wait::deadline`]; early calls do no harm).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        let idle_at = self.last_activity + self.config.idle_timeout;
        if self.now >= idle_at {
            if self.closing.is_some() {
                // The client does not even read its last bytes: give up on them.
                let pending = self.out.pending_len();
                let _ = self.out.ack(pending);
            } else {
                self.close(ErrorCode::IdleTimeout, false, "no activity, closing");
            }
        }
    }

    /// Reports that the first `n` bytes of the last [`Output::Transmit`] were written.
    pub fn handle_sent(&mut self, n: usize) -> Result<(), Misuse> {
        self.out.ack(n)?;
        // Only bytes from the client count as activity (spec 11): a client that only listens
        // is still idle.
        self.stats.bytes_out += n as u64;
        Ok(())
    }

    /// Queues a message for this client (room deliveries).
    ///
    /// A client whose queue would pass [`ChatConfig::send_queue`] reads too slowly: it is
    /// closed with 450 instead, so that it cannot hold the room back. Messages to a closing
    /// connection are dropped.
    pub fn send(&mut self, msg: &ServerMessage<'_>) -> Result<(), Misuse> {
        let Phase::Known(form) = self.phase else {
            return Err(Misuse::WrongState("the client's form is not known yet"));
        };
        if self.closing.is_some() {
            return Ok(());
        }
        let before = self.out.pending_len();
        render(self.out.queue(), form, msg);
        if self.out.pending_len() > self.config.send_queue {
            let added = self.out.pending_len() - before;
            let q = self.out.queue();
            q.truncate(q.len() - added);
            self.close(
                ErrorCode::SlowReader,
                true,
                "send queue full, reading too slowly",
            );
        }
        Ok(())
    }

    /// Tells the client the server is going down, then closes.
    pub fn shutdown(&mut self) {
        self.close(ErrorCode::ShuttingDown, false, "server going down");
    }

    fn render_form(&self) -> Form {
        match self.phase {
            Phase::Known(f) => f,
            Phase::NativeMagic | Phase::NativeHello => Form::Native,
            _ => Form::Line,
        }
    }

    fn close(&mut self, code: ErrorCode, by_peer: bool, text: &str) {
        if self.closing.is_some() {
            return;
        }
        let form = self.render_form();
        if matches!(self.phase, Phase::NativeMagic | Phase::NativeHello) {
            // The client waits for the server's magic: a CLOSE takes the place of HELLO.
            self.out.queue().extend_from_slice(&MAGIC);
        }
        render_close(self.out.queue(), form, code, text);
        self.closing = Some(Closed { code, by_peer });
        let all = self.input.len();
        self.input.consume(all);
    }

    /// Closes for a fault of the client's; the step made progress.
    fn fatal(&mut self, code: ErrorCode, text: &str) -> Step {
        self.close(code, true, text);
        Step::Progress
    }

    fn error(&mut self, code: ErrorCode, text: &str) {
        let form = self.render_form();
        render(self.out.queue(), form, &ServerMessage::Error { code, text });
    }

    /// The next output. Drain it until it returns [`Output::Wait`] or [`Output::Done`].
    pub fn poll_output(&mut self) -> Output<'_, ServerEvent> {
        loop {
            match self.step() {
                Step::Progress => {}
                Step::Event(e) => return Output::Event(e),
                Step::Idle => break,
            }
        }
        let reading = !self.eof && self.input.room() > 0;
        self.out
            .finish_poll(self.closing.as_ref(), self.deadline(), reading)
    }

    fn deadline(&self) -> Option<Instant> {
        let idle = Some(self.last_activity + self.config.idle_timeout);
        let gap = match self.phase {
            Phase::Detecting | Phase::Known(Form::Classic) if self.closing.is_none() => {
                self.gap.deadline()
            }
            _ => None,
        };
        earliest(idle, gap)
    }

    fn step(&mut self) -> Step {
        if self.closing.is_some() || self.out.pending_len() >= self.config.send_queue {
            return Step::Idle;
        }
        let step = match self.phase {
            Phase::Detecting => self.step_detecting(),
            Phase::NativeMagic => self.step_magic(),
            Phase::NativeHello => self.step_hello(),
            Phase::Known(Form::Native) => self.step_native(),
            Phase::Known(Form::Line) => self.step_line(),
            Phase::Known(_) => self.step_classic(),
        };
        match step {
            Step::Idle if self.eof => self.step_eof(),
            s => s,
        }
    }

    /// The stream ended: a last unterminated text message still counts.
    fn step_eof(&mut self) -> Step {
        let text_phase = matches!(self.phase, Phase::Detecting | Phase::Known(Form::Line));
        if text_phase && !self.input.is_empty() && !self.discarding {
            if self.phase == Phase::Detecting {
                return self.detected(Form::Line);
            }
            let n = self.input.len();
            return self.take_message(n, n);
        }
        // The client has gone: finish what is queued for it, but add no last word.
        let cut = !self.input.is_empty()
            || self.skip > 0
            || matches!(self.phase, Phase::NativeMagic | Phase::NativeHello);
        self.closing = Some(Closed {
            code: if cut {
                ErrorCode::Malformed
            } else {
                ErrorCode::Bye
            },
            by_peer: true,
        });
        let all = self.input.len();
        self.input.consume(all);
        Step::Progress
    }

    fn detected(&mut self, form: Form) -> Step {
        self.phase = Phase::Known(form);
        if form != Form::Classic {
            self.stop_gap();
        }
        Step::Event(ServerEvent::Detected(form))
    }

    /// Until a message ends, the form is open. Whatever ends the first message decides it,
    /// an LF (line) or a quiet gap (classic), even when that message was too long and is
    /// being discarded: so the decision never depends on how the bytes were split into reads.
    fn step_detecting(&mut self) -> Step {
        match self.input.data().first().copied() {
            Some(0xFF) if !self.discarding => {
                self.phase = Phase::NativeMagic;
                self.stop_gap();
                Step::Progress
            }
            _ if self.find_lf().is_some() => self.detected(Form::Line),
            _ if self.gap.first().is_some() => self.detected(Form::Classic),
            _ => self.check_overflow(),
        }
    }

    fn step_magic(&mut self) -> Step {
        match frame::magic(self.input.data()) {
            frame::Magic::Partial => Step::Idle,
            frame::Magic::Bad => self.fatal(ErrorCode::Malformed, "bad magic"),
            frame::Magic::Complete => {
                self.input.consume(MAGIC.len());
                self.phase = Phase::NativeHello;
                Step::Progress
            }
        }
    }

    fn step_hello(&mut self) -> Step {
        let Some(h) = frame::header(self.input.data()) else {
            return Step::Idle;
        };
        if h.len > frame::MAX_PAYLOAD {
            return self.fatal(ErrorCode::TooLarge, "frame too long");
        }
        // Only the three fields are read; extension bytes (room for later versions) are
        // skipped as they arrive, so a long HELLO never has to fit in the buffer.
        let fields = (h.len as usize).min(3);
        let Some(p) = self.input.data().get(HEADER_LEN..HEADER_LEN + fields) else {
            return Step::Idle;
        };
        let payload = [p.first().copied(), p.get(1).copied(), p.get(2).copied()];
        self.input.consume(HEADER_LEN + fields);
        self.skip = u64::from(h.len) - fields as u64;
        let [Some(min), Some(max), Some(svc)] = payload else {
            return self.fatal(ErrorCode::Malformed, "expected HELLO");
        };
        if h.kind != kind::HELLO || min == 0 || min > max {
            self.close(
                ErrorCode::Malformed,
                true,
                "expected HELLO with a valid version range",
            );
        } else if svc != service::CHAT {
            self.close(ErrorCode::WrongService, true, "this port serves chat");
        } else if !(min..=max).contains(&PROTOCOL_VERSION) {
            self.close(
                ErrorCode::NoCommonVersion,
                true,
                "this server speaks version 1",
            );
        } else {
            let limit = (self.config.max_message as u64).to_be_bytes();
            let q = self.out.queue();
            q.extend_from_slice(&MAGIC);
            frame::write(
                q,
                kind::HELLO,
                &[&[PROTOCOL_VERSION, service::CHAT], &limit],
            );
            return self.detected(Form::Native);
        }
        Step::Progress
    }

    fn step_native(&mut self) -> Step {
        if self.skip > 0 {
            let n = self
                .input
                .len()
                .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
            self.input.consume(n);
            self.skip -= n as u64;
            return if n > 0 { Step::Progress } else { Step::Idle };
        }
        let Some(h) = frame::header(self.input.data()) else {
            return Step::Idle;
        };
        let len = h.len as usize;
        match h.kind {
            _ if h.len > frame::MAX_PAYLOAD => self.fatal(ErrorCode::TooLarge, "frame too long"),
            kind::SAY if len > self.config.max_message => {
                self.input.consume(HEADER_LEN);
                self.skip = u64::from(h.len);
                self.error(ErrorCode::TooLarge, "message too long");
                Step::Progress
            }
            kind::SAY | kind::BYE if h.kind == kind::SAY || len == 0 => {
                if self.input.len() < HEADER_LEN + len {
                    return Step::Idle;
                }
                self.stats.bytes_scanned += (HEADER_LEN + len) as u64;
                if h.kind == kind::BYE {
                    self.input.consume(HEADER_LEN + len);
                    return self.fatal(ErrorCode::Bye, "bye");
                }
                self.input.consume(HEADER_LEN);
                self.take_message(len, len)
            }
            _ => self.fatal(ErrorCode::Malformed, "unexpected frame"),
        }
    }

    /// Searches the unscanned input for LF; returns its index. Never scans a byte twice.
    fn find_lf(&mut self) -> Option<usize> {
        let data = self.input.data();
        let from = self.scanned.min(data.len());
        match data[from..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.stats.bytes_scanned += (i + 1) as u64;
                self.scanned = 0;
                Some(from + i)
            }
            None => {
                self.stats.bytes_scanned += (data.len() - from) as u64;
                self.scanned = data.len();
                None
            }
        }
    }

    /// No end in sight: a message longer than the limit is refused and thrown away.
    fn check_overflow(&mut self) -> Step {
        let n = self.input.len();
        if self.discarding && n > 0 {
            self.consume(n);
            return Step::Progress;
        }
        // Room for a CR before the LF of a line of exactly the maximum length.
        if n > self.config.max_message + 1 {
            self.consume(n);
            self.discarding = true;
            self.error(ErrorCode::TooLarge, "message too long");
            return Step::Progress;
        }
        Step::Idle
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.scanned = 0;
        self.gap
            .drop_through(self.input.position().saturating_sub(1));
    }

    fn step_line(&mut self) -> Step {
        if self.input.is_empty() {
            return Step::Idle;
        }
        match self.find_lf() {
            Some(end) => {
                let text_end = if end > 0 && self.input.data()[end - 1] == b'\r' {
                    end - 1
                } else {
                    end
                };
                self.take_message(text_end, end + 1)
            }
            None => self.check_overflow(),
        }
    }

    fn step_classic(&mut self) -> Step {
        let Some(boundary) = self.gap.first() else {
            return self.check_overflow();
        };
        self.gap.pop();
        let Some(n) = boundary.checked_sub(self.input.position()) else {
            return Step::Progress;
        };
        let n = usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        self.stats.bytes_scanned += n as u64;
        self.take_message(n, n)
    }

    /// The first `text_len` bytes of the input are a message; `consumed` bytes end it.
    fn take_message(&mut self, text_len: usize, consumed: usize) -> Step {
        let discarding = core::mem::replace(&mut self.discarding, false);
        let too_long = text_len > self.config.max_message;
        // Empty messages are keep-alives (and empty lines are how people press Enter).
        let text = (!discarding && !too_long && text_len > 0)
            .then(|| core::str::from_utf8(&self.input.data()[..text_len]).map(String::from));
        self.consume(consumed);
        let Some(text) = text else {
            if too_long && !discarding {
                self.error(ErrorCode::TooLarge, "message too long");
            }
            return Step::Progress;
        };
        if !self.flood.take(self.now) {
            self.error(ErrorCode::Flood, "too many messages, slow down");
            return Step::Progress;
        }
        let Ok(text) = text else {
            self.error(ErrorCode::BadUtf8, "message is not valid UTF-8");
            return Step::Progress;
        };
        if text == "q" {
            return self.fatal(ErrorCode::Bye, "bye");
        }
        match self.config.mode {
            // Escape sequences could repaint other members' terminals or fake a notice line.
            Mode::Room if text.chars().any(|c| c.is_control() && c != '\t') => {
                self.error(
                    ErrorCode::Malformed,
                    "control characters are not allowed in a room",
                );
                Step::Progress
            }
            Mode::Room => Step::Event(ServerEvent::Message(text)),
            Mode::Bot => {
                let form = self.render_form();
                let mut reply = text;
                reply.push_str(",你好");
                render(self.out.queue(), form, &ServerMessage::Reply(&reply));
                Step::Progress
            }
        }
    }
}
