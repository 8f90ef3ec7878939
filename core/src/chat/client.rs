//! The client side of a chat connection.

use alloc::string::String;
use core::time::Duration;

use crate::buf::{InBuf, OutBuf};
use crate::frame::{self, HEADER_LEN, MAGIC, MAX_PAYLOAD, PROTOCOL_VERSION, kind, service};
use crate::gap::Gap;
use crate::time::earliest;
use crate::{Closed, ErrorCode, Instant, Misuse, Output, PeerError, Stats};

/// Longest banner line a native client accepts before the server's HELLO.
const MAX_BANNER: usize = 1024;

/// Which form the client speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientForm {
    /// unstuck's framed protocol: messages keep their boundaries under any chunking.
    #[default]
    Native,
    /// The seed's form, for seed-style servers: no framing, bursts ended by a quiet gap.
    Classic,
}

/// Client settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatClientConfig {
    /// The form to speak.
    pub form: ClientForm,
    /// Silence that ends a burst from a classic server.
    pub quiet_gap: Duration,
}

impl Default for ChatClientConfig {
    fn default() -> Self {
        ChatClientConfig {
            form: ClientForm::Native,
            quiet_gap: Duration::from_millis(150),
        }
    }
}

/// What the server said.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The banner (classic: the first burst).
    Welcome(String),
    /// Native: the handshake is done; the server accepts messages up to `max_message` bytes.
    Ready {
        /// The server's message limit.
        max_message: u64,
    },
    /// A bot answer (classic: every burst after the first).
    Reply(String),
    /// A room message.
    Message {
        /// The sender's nickname.
        from: String,
        /// What they said.
        text: String,
    },
    /// A room notice.
    Notice(String),
    /// An error from the server (ERROR, or CLOSE with a code other than 200).
    Error(PeerError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Banner,
    Magic,
    Hello,
    Frames,
    Classic { welcomed: bool },
}

/// The client side of a chat connection.
///
/// ```
/// use unstuck_core::{Instant, Output, chat::{ChatClient, ChatClientConfig, ClientEvent}};
///
/// let now = Instant::ZERO;
/// let mut client = ChatClient::new(ChatClientConfig::default(), now);
/// client.say("hello").unwrap();
/// // The server's banner, handshake and REPLY frame, as one read.
/// let mut from_server = "欢迎来到简单的聊天室..\n".as_bytes().to_vec();
/// from_server.extend_from_slice(&[0xFF, b'U', b'S', b'K', 1, 0, 0, 0, 10, 1, 1, 0, 0, 0, 0, 0, 0, 16, 0]);
/// let reply = "hello,你好".as_bytes();
/// from_server.push(0x21); // REPLY
/// from_server.extend_from_slice(&(reply.len() as u32).to_be_bytes());
/// from_server.extend_from_slice(reply);
/// client.handle_input(now, &from_server);
/// let mut events = Vec::new();
/// loop {
///     match client.poll_output() {
///         Output::Event(e) => events.push(e),
///         Output::Transmit(bytes) => {
///             let n = bytes.len(); // a real driver writes them to its socket
///             client.handle_sent(n).unwrap();
///         }
///         Output::Wait(_) | Output::Done(_) => break,
///     }
/// }
/// assert_eq!(events.last(), Some(&ClientEvent::Reply("hello,你好".into())));
/// ```
#[derive(Debug)]
pub struct ChatClient {
    form: ClientForm,
    now: Instant,
    phase: Phase,
    input: InBuf,
    out: OutBuf,
    gap: Gap,
    scanned: usize,
    eof: bool,
    /// After `quit`: until when the client still reads what the server says.
    quit_until: Option<Instant>,
    closing: Option<Closed>,
    stats: Stats,
}

impl ChatClient {
    /// A new client connected at `now`. A native client queues its HELLO at once.
    pub fn new(config: ChatClientConfig, now: Instant) -> Self {
        let mut out = OutBuf::default();
        let phase = match config.form {
            ClientForm::Native => {
                let q = out.queue();
                q.extend_from_slice(&MAGIC);
                let hello = [PROTOCOL_VERSION, PROTOCOL_VERSION, service::CHAT];
                frame::write(q, kind::HELLO, &[&hello]);
                Phase::Banner
            }
            ClientForm::Classic => Phase::Classic { welcomed: false },
        };
        ChatClient {
            form: config.form,
            now,
            phase,
            input: InBuf::new(MAX_PAYLOAD as usize + HEADER_LEN + MAX_BANNER, true),
            out,
            gap: Gap::new(config.quiet_gap),
            scanned: 0,
            eof: false,
            quit_until: None,
            closing: None,
            stats: Stats::default(),
        }
    }

    /// Byte counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Queues a message.
    pub fn say(&mut self, text: &str) -> Result<(), Misuse> {
        self.check_open()?;
        if text.len() > MAX_PAYLOAD as usize {
            return Err(Misuse::InvalidArgument("message longer than any frame"));
        }
        match self.form {
            ClientForm::Native => frame::write(self.out.queue(), kind::SAY, &[text.as_bytes()]),
            ClientForm::Classic if text.is_empty() => {
                return Err(Misuse::InvalidArgument("a classic message cannot be empty"));
            }
            ClientForm::Classic => self.out.queue().extend_from_slice(text.as_bytes()),
        }
        Ok(())
    }

    /// Ends the conversation: BYE (classic: the message `q`). Answers to messages sent before
    /// still arrive as events, until the server closes, or for at most two seconds.
    pub fn quit(&mut self) -> Result<(), Misuse> {
        self.check_open()?;
        match self.form {
            ClientForm::Native => frame::write(self.out.queue(), kind::BYE, &[]),
            ClientForm::Classic => self.out.queue().push(b'q'),
        }
        self.quit_until = Some(self.now + crate::time::LINGER);
        Ok(())
    }

    fn check_open(&self) -> Result<(), Misuse> {
        match (&self.closing, self.quit_until) {
            (None, None) => Ok(()),
            _ => Err(Misuse::WrongState("the conversation is ending")),
        }
    }

    /// Feeds bytes from the server; returns how many were taken.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.now = self.now.max(now);
        self.gap.tick(self.now);
        if self.closing.is_some() {
            return data.len();
        }
        let n = self.input.push(data);
        self.stats.bytes_in += n as u64;
        if matches!(self.phase, Phase::Classic { .. }) {
            self.gap.received(self.now, n);
        }
        n
    }

    /// The server closed its side.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.eof = true;
        self.gap.flush();
    }

    /// Time has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.gap.tick(self.now);
        if self.quit_until.is_some_and(|t| self.now >= t) {
            self.close(ErrorCode::Bye, false);
        }
    }

    /// Reports that the first `n` bytes of the last [`Output::Transmit`] were written.
    pub fn handle_sent(&mut self, n: usize) -> Result<(), Misuse> {
        self.out.ack(n)?;
        self.stats.bytes_out += n as u64;
        Ok(())
    }

    /// The next output; drain it until [`Output::Wait`] or [`Output::Done`].
    pub fn poll_output(&mut self) -> Output<'_, ClientEvent> {
        loop {
            match self.step() {
                Some(Some(e)) => return Output::Event(e),
                Some(None) => {}
                None => break,
            }
        }
        let deadline = earliest(self.gap.deadline(), self.quit_until);
        let reading = !self.eof && self.input.room() > 0;
        self.out
            .finish_poll(self.closing.as_ref(), deadline, reading)
    }

    fn close(&mut self, code: ErrorCode, by_peer: bool) {
        if self.closing.is_none() {
            self.closing = Some(Closed { code, by_peer });
        }
    }

    /// One parsing step: `None` when idle, `Some(None)` after internal progress.
    fn step(&mut self) -> Option<Option<ClientEvent>> {
        if self.closing.is_some() {
            return None;
        }
        let step = match self.phase {
            Phase::Banner => self.step_banner(),
            Phase::Magic => self.step_magic(),
            Phase::Hello => self.step_hello(),
            Phase::Frames => self.step_frame(),
            Phase::Classic { welcomed } => self.step_classic(welcomed),
        };
        if step.is_none() && self.eof {
            let by_peer = true;
            let code = if self.input.is_empty() {
                ErrorCode::Bye
            } else {
                ErrorCode::Malformed
            };
            self.close(code, by_peer);
            return Some(None);
        }
        step
    }

    fn malformed(&mut self) -> Option<Option<ClientEvent>> {
        self.close(ErrorCode::Malformed, true);
        Some(None)
    }

    fn step_banner(&mut self) -> Option<Option<ClientEvent>> {
        let data = self.input.data();
        let from = self.scanned.min(data.len());
        let Some(i) = data[from..].iter().position(|&b| b == b'\n') else {
            self.stats.bytes_scanned += (data.len() - from) as u64;
            self.scanned = data.len();
            // The bound counts the LF: 1024 bytes with no LF cannot become a banner.
            return if data.len() >= MAX_BANNER {
                self.malformed()
            } else {
                None
            };
        };
        self.stats.bytes_scanned += (i + 1) as u64;
        let end = from + i;
        if end + 1 > MAX_BANNER {
            return self.malformed();
        }
        let text: String = String::from_utf8_lossy(&data[..end])
            .trim_end_matches('\r')
            .into();
        self.input.consume(end + 1);
        self.scanned = 0;
        // A server at its connection limit answers `! 503 ...` instead of the banner.
        if let Some(e) = parse_error_line(&text) {
            self.close(ErrorCode::from_u16_or_class(e.number), true);
            return Some(Some(ClientEvent::Error(e)));
        }
        self.phase = Phase::Magic;
        Some(Some(ClientEvent::Welcome(text)))
    }

    fn step_magic(&mut self) -> Option<Option<ClientEvent>> {
        if self.input.data().first() == Some(&b'!') {
            // A `! CODE text` line instead of the magic: read it as the banner is read.
            self.phase = Phase::Banner;
            return Some(None);
        }
        match frame::magic(self.input.data()) {
            frame::Magic::Partial => None,
            frame::Magic::Bad => self.malformed(),
            frame::Magic::Complete => {
                self.input.consume(MAGIC.len());
                self.phase = Phase::Hello;
                Some(None)
            }
        }
    }

    /// The payload of the whole frame at the front of the input, if it is all there.
    fn frame(&mut self) -> Result<Option<(u8, &[u8])>, ()> {
        match frame::next(self.input.data(), MAX_PAYLOAD) {
            frame::Next::NeedMore => Ok(None),
            frame::Next::TooLong(_) => Err(()),
            frame::Next::Frame(h) => {
                let len = HEADER_LEN + h.len as usize;
                self.stats.bytes_scanned += len as u64;
                Ok(Some((h.kind, &self.input.data()[HEADER_LEN..len])))
            }
        }
    }

    fn step_hello(&mut self) -> Option<Option<ClientEvent>> {
        let parsed = match self.frame() {
            Err(()) => return self.malformed(),
            Ok(None) => return None,
            Ok(Some((k, p))) => (
                k,
                p.len(),
                p.get(..2).map(|v| [v[0], v[1]]),
                frame::read_u64(p.get(2..).unwrap_or(&[])),
            ),
        };
        let (k, len, head, limit) = parsed;
        if k == kind::CLOSE {
            return self.step_frame();
        }
        self.input.consume(HEADER_LEN + len);
        match (k, head, limit) {
            (kind::HELLO, Some([PROTOCOL_VERSION, service::CHAT]), Some(max_message)) => {
                self.phase = Phase::Frames;
                Some(Some(ClientEvent::Ready { max_message }))
            }
            _ => self.malformed(),
        }
    }

    fn step_frame(&mut self) -> Option<Option<ClientEvent>> {
        let (k, len, event) = match self.frame() {
            Err(()) => return self.malformed(),
            Ok(None) => return None,
            Ok(Some((k, p))) => (k, p.len(), decode_frame(k, p)),
        };
        self.input.consume(HEADER_LEN + len);
        let Some(event) = event else {
            return self.malformed();
        };
        if k == kind::CLOSE {
            let ClientEvent::Error(e) = &event else {
                return self.malformed();
            };
            let code = ErrorCode::from_u16_or_class(e.number);
            self.close(code, true);
            if code == ErrorCode::Bye {
                return Some(None);
            }
        }
        Some(Some(event))
    }

    fn step_classic(&mut self, welcomed: bool) -> Option<Option<ClientEvent>> {
        let boundary = self.gap.first();
        let n = match boundary {
            Some(b) => {
                self.gap.pop();
                usize::try_from(b.saturating_sub(self.input.position())).unwrap_or(usize::MAX)
            }
            // A burst that fills the buffer is handed out as it is.
            None if self.input.room() == 0 => self.input.len(),
            None => return None,
        };
        let n = n.min(self.input.len());
        if n == 0 {
            return Some(None);
        }
        self.stats.bytes_scanned += n as u64;
        let text = String::from_utf8_lossy(&self.input.data()[..n]).into_owned();
        self.input.consume(n);
        self.phase = Phase::Classic { welcomed: true };
        if !welcomed {
            return Some(Some(ClientEvent::Welcome(
                text.trim_end_matches(['\r', '\n']).into(),
            )));
        }
        Some(Some(match parse_error_line(&text) {
            Some(e) => ClientEvent::Error(e),
            None => ClientEvent::Reply(text),
        }))
    }
}

/// Reads `! NNN text` (how text forms carry errors).
fn parse_error_line(text: &str) -> Option<PeerError> {
    let rest = text.strip_prefix("! ")?;
    let (digits, msg) = rest.split_at_checked(3)?;
    let number = digits
        .parse()
        .ok()
        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))?;
    Some(PeerError {
        number,
        text: msg.trim().into(),
    })
}

fn text(p: &[u8]) -> Option<String> {
    core::str::from_utf8(p).ok().map(String::from)
}

/// Decodes a server frame after the handshake into an event.
fn decode_frame(k: u8, p: &[u8]) -> Option<ClientEvent> {
    Some(match k {
        kind::REPLY => ClientEvent::Reply(text(p)?),
        kind::NOTICE => ClientEvent::Notice(text(p)?),
        kind::MESSAGE => {
            let (&n, rest) = p.split_first()?;
            let (from, body) = rest.split_at_checked(n as usize)?;
            ClientEvent::Message {
                from: text(from)?,
                text: text(body)?,
            }
        }
        kind::ERROR | kind::CLOSE => {
            let (number, t) = frame::read_coded(p)?;
            ClientEvent::Error(PeerError {
                number,
                text: t.into(),
            })
        }
        _ => return None,
    })
}
