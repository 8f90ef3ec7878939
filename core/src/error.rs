//! Error codes on the wire, errors reported by the peer, and caller misuse.

use alloc::string::String;
use core::fmt;

/// A status code carried by ERROR, REJECT and CLOSE frames and by `! CODE text` lines.
///
/// The numbers borrow HTTP's families so that people reading logs guess right: 4xx is the
/// peer's fault, 5xx the server's. `spec/PROTOCOL.md` is the normative list.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 200: a normal end of conversation (the chat message `q`, or BYE).
    Bye,
    /// 400: bytes that do not follow the protocol.
    Malformed,
    /// 403: a file name or nickname that the rules forbid.
    BadName,
    /// 408: nothing arrived for longer than the idle (or upload stall) timeout.
    IdleTimeout,
    /// 409: the file name or nickname is already taken.
    Taken,
    /// 413: a message, frame or file larger than the limit.
    TooLarge,
    /// 415: a digest algorithm the server does not offer.
    UnsupportedDigest,
    /// 421: a client of one service connected to the other service's port.
    WrongService,
    /// 422: a chat message that is not valid UTF-8.
    BadUtf8,
    /// 426: client and server share no protocol version.
    NoCommonVersion,
    /// 429: messages arrive faster than the flood limit allows.
    Flood,
    /// 450: the client reads so slowly that its send queue overflowed.
    SlowReader,
    /// 460: the uploaded bytes do not match the digest the client sent.
    DigestMismatch,
    /// 500: the server failed (for example, its storage did).
    Internal,
    /// 503: the server is at its connection limit.
    Busy,
    /// 507: the server has no room for the file.
    NoSpace,
    /// 520: the server is shutting down.
    ShuttingDown,
}

impl ErrorCode {
    const TABLE: [(ErrorCode, u16, &'static str); 17] = [
        (ErrorCode::Bye, 200, "bye"),
        (ErrorCode::Malformed, 400, "malformed input"),
        (ErrorCode::BadName, 403, "name not allowed"),
        (ErrorCode::IdleTimeout, 408, "idle timeout"),
        (ErrorCode::Taken, 409, "name already taken"),
        (ErrorCode::TooLarge, 413, "too large"),
        (
            ErrorCode::UnsupportedDigest,
            415,
            "unsupported digest algorithm",
        ),
        (ErrorCode::WrongService, 421, "wrong service for this port"),
        (ErrorCode::BadUtf8, 422, "invalid UTF-8"),
        (
            ErrorCode::NoCommonVersion,
            426,
            "no common protocol version",
        ),
        (ErrorCode::Flood, 429, "too many messages, slow down"),
        (
            ErrorCode::SlowReader,
            450,
            "reading too slowly, send queue full",
        ),
        (ErrorCode::DigestMismatch, 460, "digest mismatch"),
        (ErrorCode::Internal, 500, "internal server error"),
        (ErrorCode::Busy, 503, "server busy, too many connections"),
        (ErrorCode::NoSpace, 507, "no space left for the file"),
        (ErrorCode::ShuttingDown, 520, "server going down"),
    ];

    /// The code's number on the wire.
    pub fn to_u16(self) -> u16 {
        Self::TABLE
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or(500, |(_, n, _)| *n)
    }

    /// The code for a number from the wire, if it is one this version knows.
    pub fn from_u16(n: u16) -> Option<ErrorCode> {
        Self::TABLE
            .iter()
            .find(|(_, m, _)| *m == n)
            .map(|(c, _, _)| *c)
    }

    /// The code for a number from the wire, classed by its hundreds when this version does
    /// not know it (spec 10): 2xx is a normal end, 4xx the client's fault, anything else the
    /// server's.
    pub fn from_u16_or_class(n: u16) -> ErrorCode {
        Self::from_u16(n).unwrap_or(match n / 100 {
            2 => ErrorCode::Bye,
            4 => ErrorCode::Malformed,
            _ => ErrorCode::Internal,
        })
    }

    /// A short English description, used when no other text is given.
    pub fn describe(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("error", |(_, _, d)| d)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_u16(), self.describe())
    }
}

/// What a server sends on either port to a connection over its connection limit, before it
/// closes it. No machine is created for such a connection, so this is plain bytes: a text
/// line that `nc` users read as is and that both native clients recognise where they expect
/// the banner or the server's magic.
pub const BUSY_LINE: &[u8] = b"! 503 server busy, too many connections\n";

/// An error that the peer reported to us (an ERROR, REJECT or CLOSE frame, or a `!` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerError {
    /// The code's number as it arrived; [`PeerError::code`] maps it.
    pub number: u16,
    /// The human-readable text that came with it.
    pub text: String,
}

impl PeerError {
    /// The code, if this version knows the number.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::from_u16(self.number)
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number, self.text)
    }
}

/// How and why a connection ended: the last thing a machine's `poll_output` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// Why it ended.
    pub code: ErrorCode,
    /// True when the peer ended it (EOF, CLOSE frame, or a fault of the peer's);
    /// false when this side decided (timeout, shutdown, a local `close`).
    pub by_peer: bool,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.by_peer { "peer" } else { "local" };
        write!(f, "{} ({who})", self.code)
    }
}

/// The caller broke the API contract; the machine's state is unchanged.
///
/// Distinct from peer faults, which never surface as `Err`.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Misuse {
    /// The call is not allowed in the machine's current state; the text says which state.
    WrongState(&'static str),
    /// `handle_sent` acknowledged more bytes than were pending.
    AckBeyondPending {
        /// Bytes acknowledged.
        acked: usize,
        /// Bytes that were pending.
        pending: usize,
    },
    /// An argument is outside what the protocol can carry; the text says which.
    InvalidArgument(&'static str),
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misuse::WrongState(s) => write!(f, "call not allowed now: {s}"),
            Misuse::AckBeyondPending { acked, pending } => {
                write!(
                    f,
                    "acknowledged {acked} bytes but only {pending} were pending"
                )
            }
            Misuse::InvalidArgument(s) => write!(f, "invalid argument: {s}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Misuse {}
#[cfg(feature = "std")]
impl std::error::Error for PeerError {}
