//! The native framing shared by both services: magic, `type u8 | len u32 BE | payload`.

use alloc::vec::Vec;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// Sent by both sides before their HELLO. 0xFF never occurs in UTF-8 text and is no ASCII
/// digit, so one byte tells a native peer from a text or classic one.
pub(crate) const MAGIC: [u8; 4] = [0xFF, b'U', b'S', b'K'];

/// How far the magic at the start of some input has arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Magic {
    /// All four bytes are there and right: consume them.
    Complete,
    /// The bytes so far are right; more must come.
    Partial,
    /// A byte is wrong: not a native peer.
    Bad,
}

/// Checks the magic at the start of `data`.
pub(crate) fn magic(data: &[u8]) -> Magic {
    let n = data.len().min(MAGIC.len());
    if data[..n] != MAGIC[..n] {
        Magic::Bad
    } else if n < MAGIC.len() {
        Magic::Partial
    } else {
        Magic::Complete
    }
}

/// Bytes in a frame header.
pub(crate) const HEADER_LEN: usize = 5;

/// No frame payload may be longer than this (the chat message limit applies on top).
pub(crate) const MAX_PAYLOAD: u32 = 64 * 1024 + 16;

/// Frame types (spec/PROTOCOL.md, "Frames").
pub(crate) mod kind {
    pub(crate) const HELLO: u8 = 0x01;
    pub(crate) const SAY: u8 = 0x10;
    pub(crate) const BYE: u8 = 0x12;
    pub(crate) const REPLY: u8 = 0x21;
    pub(crate) const MESSAGE: u8 = 0x22;
    pub(crate) const NOTICE: u8 = 0x23;
    pub(crate) const ERROR: u8 = 0x2E;
    pub(crate) const CLOSE: u8 = 0x2F;
    pub(crate) const OFFER: u8 = 0x30;
    pub(crate) const DIGEST: u8 = 0x31;
    pub(crate) const ACCEPT: u8 = 0x40;
    pub(crate) const REJECT: u8 = 0x41;
    pub(crate) const VERIFIED: u8 = 0x42;
    pub(crate) const MISMATCH: u8 = 0x43;
}

/// Service numbers carried in HELLO.
pub(crate) mod service {
    pub(crate) const CHAT: u8 = 1;
    pub(crate) const UPLOAD: u8 = 2;
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: u8,
    pub(crate) len: u32,
}

/// Reads a header from the start of `data`, if five bytes are there.
pub(crate) fn header(data: &[u8]) -> Option<Header> {
    match data {
        [kind, a, b, c, d, ..] => Some(Header {
            kind: *kind,
            len: u32::from_be_bytes([*a, *b, *c, *d]),
        }),
        _ => None,
    }
}

/// Appends one frame whose payload is the concatenation of `parts`.
pub(crate) fn write(out: &mut Vec<u8>, kind: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.push(kind);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// Appends a frame carrying `code u16 | text` (ERROR, REJECT, CLOSE).
pub(crate) fn write_coded(out: &mut Vec<u8>, kind: u8, code: u16, text: &str) {
    write(out, kind, &[&code.to_be_bytes(), text.as_bytes()]);
}

/// Splits a `code u16 | text` payload; `None` if it is too short or the text is not UTF-8.
pub(crate) fn read_coded(payload: &[u8]) -> Option<(u16, &str)> {
    match payload {
        [a, b, rest @ ..] => Some((
            u16::from_be_bytes([*a, *b]),
            core::str::from_utf8(rest).ok()?,
        )),
        _ => None,
    }
}

/// Reads a big-endian u64 from the start of `data`.
pub(crate) fn read_u64(data: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = data.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Where a frame stands in a buffer that may not hold all of it yet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Not enough bytes yet.
    NeedMore,
    /// A whole frame: its header; the payload is `data[HEADER_LEN..HEADER_LEN + len]`.
    Frame(Header),
    /// The header announces more than `bound` bytes of payload.
    TooLong(Header),
}

/// Looks at the frame at the start of `data`, allowing payloads up to `bound` bytes.
pub(crate) fn next(data: &[u8], bound: u32) -> Next {
    let Some(h) = header(data) else {
        return Next::NeedMore;
    };
    if h.len > bound {
        return Next::TooLong(h);
    }
    if data.len() < HEADER_LEN + h.len as usize {
        return Next::NeedMore;
    }
    Next::Frame(h)
}
