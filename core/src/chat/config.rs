//! Chat server settings and the forms a client can speak.

use alloc::string::String;
use core::time::Duration;

use crate::Misuse;

/// What the server does with messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The seed's behaviour: answer each message with `<message>,你好`.
    #[default]
    Bot,
    /// Broadcast each message to the other clients as `<nick>: <text>`.
    Room,
}

/// How a client frames its messages, detected from its first bytes.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// unstuck's framed protocol (the first byte is 0xFF).
    Native,
    /// Text lines ending in LF (or CRLF): `nc`, `telnet`.
    Line,
    /// The seed's form: text with no terminator, ended by a quiet gap.
    Classic,
}

impl Form {
    /// A short lowercase name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Form::Native => "native",
            Form::Line => "line",
            Form::Classic => "classic",
        }
    }
}

/// Limits and behaviour of a chat server. The defaults are those of `spec/PROTOCOL.md`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatConfig {
    /// Bot or room.
    pub mode: Mode,
    /// Sent as one line to every client on connect, before anything else.
    pub banner: String,
    /// Longest message in bytes; longer ones get ERROR 413 and are dropped.
    pub max_message: usize,
    /// Silence that ends a classic message (the spec caps it at 200 ms).
    pub quiet_gap: Duration,
    /// A client that sends nothing and reads nothing for this long is closed (408).
    pub idle_timeout: Duration,
    /// Messages a client may send at once before the rate applies.
    pub flood_burst: u32,
    /// Messages per second a client may send in the long run.
    pub flood_rate: u32,
    /// Bytes that may wait to be sent to one client; a room client past it is closed (450).
    pub send_queue: usize,
}

impl ChatConfig {
    /// The seed's welcome text.
    pub const SEED_BANNER: &'static str = "欢迎来到简单的聊天室..";
    /// The most the spec allows for the quiet gap.
    pub const MAX_QUIET_GAP: Duration = Duration::from_millis(200);

    /// Longest banner text, in bytes: with its LF the line fits the 1024 bytes a native
    /// client reads before the magic.
    pub const MAX_BANNER: usize = 1023;

    /// Checks what the spec constrains: the banner is one line (no CR or LF) of at most
    /// [`ChatConfig::MAX_BANNER`] bytes that does not start with `!` (which would read as an
    /// error line), and the quiet gap is at most [`ChatConfig::MAX_QUIET_GAP`].
    pub fn validate(&self) -> Result<(), Misuse> {
        if self.banner.len() > Self::MAX_BANNER
            || self.banner.contains(['\n', '\r'])
            || self.banner.starts_with('!')
        {
            return Err(Misuse::InvalidArgument(
                "the banner is one line of at most 1023 bytes, not starting with '!'",
            ));
        }
        if self.quiet_gap > Self::MAX_QUIET_GAP {
            return Err(Misuse::InvalidArgument("the quiet gap is at most 200 ms"));
        }
        Ok(())
    }

    /// The banner as sent: what [`ChatConfig::validate`] allows of it. A server never sends
    /// a banner that would break the wire, whatever it was given.
    pub(crate) fn banner_line(&self) -> &str {
        let line = self.banner.split(['\n', '\r']).next().unwrap_or("");
        let line = line.trim_start_matches('!');
        let mut end = line.len().min(Self::MAX_BANNER);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        &line[..end]
    }

    /// The default settings in the given mode.
    pub fn new(mode: Mode) -> Self {
        ChatConfig {
            mode,
            banner: String::from(Self::SEED_BANNER),
            max_message: 4096,
            quiet_gap: Duration::from_millis(150),
            idle_timeout: Duration::from_secs(300),
            flood_burst: 20,
            flood_rate: 10,
            send_queue: 64 * 1024,
        }
    }
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig::new(Mode::Bot)
    }
}
