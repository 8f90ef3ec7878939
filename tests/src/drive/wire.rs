//! The wire format of `spec/PROTOCOL.md`, written out independently of the core: encoders
//! for building valid streams, and a frame reader for the suites' reference readers.

use unstuck_core::digest::{Algorithm, Digest, Hasher};

/// Both sides send it before their first frame (5.1).
pub const MAGIC: [u8; 4] = [0xFF, 0x55, 0x53, 0x4B];
/// Bytes in a frame header (5.2).
pub const HEADER_LEN: usize = 5;
/// The largest payload any frame may have (5.3).
pub const MAX_PAYLOAD: usize = 65_552;
/// HELLO service numbers (5.4).
pub const CHAT: u8 = 1;
/// HELLO service numbers (5.4).
pub const UPLOAD: u8 = 2;

/// Frame types (5.5).
pub mod kind {
    /// HELLO, both directions.
    pub const HELLO: u8 = 0x01;
    /// SAY, chat C→S.
    pub const SAY: u8 = 0x10;
    /// BYE, chat C→S.
    pub const BYE: u8 = 0x12;
    /// REPLY, chat S→C.
    pub const REPLY: u8 = 0x21;
    /// MESSAGE, chat S→C.
    pub const MESSAGE: u8 = 0x22;
    /// NOTICE, chat S→C.
    pub const NOTICE: u8 = 0x23;
    /// ERROR, chat S→C.
    pub const ERROR: u8 = 0x2E;
    /// CLOSE, S→C.
    pub const CLOSE: u8 = 0x2F;
    /// OFFER, upload C→S.
    pub const OFFER: u8 = 0x30;
    /// DIGEST, upload C→S.
    pub const DIGEST: u8 = 0x31;
    /// ACCEPT, upload S→C.
    pub const ACCEPT: u8 = 0x40;
    /// REJECT, upload S→C.
    pub const REJECT: u8 = 0x41;
    /// VERIFIED, upload S→C.
    pub const VERIFIED: u8 = 0x42;
    /// MISMATCH, upload S→C.
    pub const MISMATCH: u8 = 0x43;
}

/// One frame: type, big-endian u32 length, payload.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A frame carrying `code u16 | text` (ERROR, REJECT, CLOSE).
pub fn coded(kind: u8, code: u16, text: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(text.as_bytes());
    frame(kind, &p)
}

/// Magic and a version-1 client HELLO for `service`.
pub fn client_hello(service: u8) -> Vec<u8> {
    let mut s = MAGIC.to_vec();
    s.extend(frame(kind::HELLO, &[1, 1, service]));
    s
}

/// Magic and a version-1 server HELLO for `service` with its `limit`.
pub fn server_hello(service: u8, limit: u64) -> Vec<u8> {
    let mut p = vec![1, service];
    p.extend_from_slice(&limit.to_be_bytes());
    let mut s = MAGIC.to_vec();
    s.extend(frame(kind::HELLO, &p));
    s
}

/// An OFFER frame.
pub fn offer(size: u64, algorithm: u8, name: &[u8]) -> Vec<u8> {
    let mut p = size.to_be_bytes().to_vec();
    p.push(algorithm);
    p.extend_from_slice(name);
    frame(kind::OFFER, &p)
}

/// A DIGEST, VERIFIED or MISMATCH frame carrying `d`.
pub fn digest_frame(kind: u8, d: &Digest) -> Vec<u8> {
    let mut p = vec![d.algorithm().to_wire()];
    p.extend_from_slice(d.as_bytes());
    frame(kind, &p)
}

/// The digest of `body`.
pub fn digest_of(algorithm: Algorithm, body: &[u8]) -> Digest {
    let mut h = Hasher::new(algorithm);
    h.update(body);
    h.finish()
}

/// What is at the front of a byte stream that should hold frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A whole frame.
    Frame(u8, &'a [u8]),
    /// The header announces more than the bound.
    TooLong(u8, u32),
    /// The stream ends inside a frame (or is empty: see [`Reader::is_empty`]).
    Short,
}

/// Reads frames, raw byte runs and fixed prefixes off a stream, for reference readers.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// Takes `n` bytes if there are that many.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.data.split_at_checked(n)?;
        self.data = rest;
        Some(head)
    }

    /// Takes the next frame if it is whole and its payload is at most `bound` bytes; a
    /// `TooLong` header is left in place, a `Short` frame too.
    pub fn frame(&mut self, bound: usize) -> Next<'a> {
        let Some((&k, rest)) = self.data.split_first() else {
            return Next::Short;
        };
        let Some(len) = rest.first_chunk::<4>().map(|l| u32::from_be_bytes(*l)) else {
            return Next::Short;
        };
        if len as usize > bound {
            return Next::TooLong(k, len);
        }
        match self.data.get(HEADER_LEN..HEADER_LEN + len as usize) {
            Some(p) => {
                self.data = &self.data[HEADER_LEN + p.len()..];
                Next::Frame(k, p)
            }
            None => Next::Short,
        }
    }
}

/// `code u16 | UTF-8 text`, as ERROR, REJECT and CLOSE carry it.
pub fn read_coded(p: &[u8]) -> Option<(u16, &str)> {
    let (code, text) = p.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*code), std::str::from_utf8(text).ok()?))
}
