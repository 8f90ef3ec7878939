//! Plain sockets: the seed's clients (nc-style lines, the classic chat client, the classic
//! upload client) and native frames written by hand, for what no client library would send.
//!
//! Every read waits at most [`PATIENCE`] and every buffer is bounded: a server that says too
//! little or too much fails the test instead of hanging it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use super::{PATIENCE, WELCOME};

/// Most bytes any one read helper collects before it gives up.
const READ_BOUND: usize = 1 << 20;

/// A TCP connection with timeouts on both directions and Nagle off, and the bytes read from
/// it that no helper has taken yet.
#[derive(Debug)]
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
    eof: bool,
}

impl Raw {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream =
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        stream.set_write_timeout(Some(PATIENCE)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
            eof: false,
        }
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("writing {} bytes: {e}", bytes.len()));
    }

    /// Writes all of `bytes`, or says why it could not (the server closed).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes `bytes` one byte per write.
    pub fn send_bytewise(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.send(std::slice::from_ref(b));
        }
    }

    /// A second handle on the socket, for writing from another thread while this one reads.
    pub fn writer(&self) -> TcpStream {
        self.stream
            .try_clone()
            .expect("a second handle on the socket")
    }

    /// Ends the sending side (the server reads EOF).
    pub fn shutdown_write(&self) {
        self.stream.shutdown(Shutdown::Write).expect("shutdown");
    }

    /// Reads more into the buffer; false at the end of the stream.
    fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        assert!(
            self.buf.len() < READ_BOUND,
            "the server sent over {READ_BOUND} bytes nobody asked for"
        );
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!(
                    "reading (after {:?}): {e}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill(),
                "the stream ended after {:?}, {n} bytes expected",
                String::from_utf8_lossy(&self.buf)
            );
        }
        self.buf.drain(..n).collect()
    }

    /// Reads up to and including the next `LF`; returns the line without it.
    pub fn read_line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return String::from_utf8(line[..i].to_vec())
                    .unwrap_or_else(|e| panic!("a line that is not UTF-8: {e}"));
            }
            assert!(
                self.fill(),
                "the stream ended before a LF, after {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Reads until the server closes; returns what came.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill() {}
        std::mem::take(&mut self.buf)
    }

    /// Reads and drops everything until the server closes (at most 256 MiB); returns how
    /// many bytes came and the last 256 of them.
    pub fn discard_to_end(&mut self) -> (u64, Vec<u8>) {
        const TAIL: usize = 256;
        let mut dropped = 0u64;
        loop {
            if self.buf.len() > TAIL {
                let cut = self.buf.len() - TAIL;
                self.buf.drain(..cut);
                dropped += cut as u64;
            }
            assert!(dropped < 256 << 20, "the server never closed");
            if !self.fill() {
                return (
                    dropped + self.buf.len() as u64,
                    std::mem::take(&mut self.buf),
                );
            }
        }
    }

    /// Reads until the server closes, which it must do without another byte.
    pub fn expect_closed(&mut self) {
        let rest = self.read_to_end();
        assert!(
            rest.is_empty(),
            "expected a silent close, got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Reads one native frame: (type, payload).
    pub fn read_frame(&mut self) -> (u8, Vec<u8>) {
        let head = self.read_exact(5);
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        assert!(len <= 65_552, "a frame of {len} bytes");
        (head[0], self.read_exact(len))
    }

    /// Reads the server's magic and HELLO; returns the HELLO payload.
    pub fn read_server_hello(&mut self) -> Vec<u8> {
        assert_eq!(self.read_exact(4), native::MAGIC, "the server's magic");
        let (kind, payload) = self.read_frame();
        assert_eq!(kind, native::HELLO, "HELLO, got {payload:?}");
        payload
    }
}

/// A line-form chat client (`nc`): connected, the banner read and checked.
pub fn line_client(chat: SocketAddr) -> Raw {
    let mut s = Raw::connect(chat);
    assert_eq!(s.read_line(), WELCOME);
    s
}

/// The seed's upload client: the size in ASCII digits with no terminator, wait for `1001`,
/// then the raw bytes; the server closes once it has stored the file.
pub fn seed_upload(upload: SocketAddr, data: &[u8]) {
    let mut s = Raw::connect(upload);
    s.send(data.len().to_string().as_bytes());
    assert_eq!(s.read_exact(4), b"1001", "the classic acknowledgement");
    s.send(data);
    s.expect_closed();
}

/// Native framing by hand (spec section 5).
pub mod native {
    /// The magic each side sends first.
    pub const MAGIC: [u8; 4] = [0xFF, b'U', b'S', b'K'];
    /// Frame types used by hand.
    pub const HELLO: u8 = 0x01;
    /// SAY: a chat message.
    pub const SAY: u8 = 0x10;
    /// REPLY: the bot's answer.
    pub const REPLY: u8 = 0x21;
    /// CLOSE: a fatal error, then the server closes.
    pub const CLOSE: u8 = 0x2F;
    /// OFFER: a file to upload.
    pub const OFFER: u8 = 0x30;
    /// DIGEST: the client's digest of the whole file.
    pub const DIGEST: u8 = 0x31;
    /// ACCEPT: where the upload starts.
    pub const ACCEPT: u8 = 0x40;
    /// REJECT: the offer is refused; the connection stays open.
    pub const REJECT: u8 = 0x41;
    /// VERIFIED: the file is stored under its name.
    pub const VERIFIED: u8 = 0x42;
    /// MISMATCH: the digests differ; nothing is stored.
    pub const MISMATCH: u8 = 0x43;
    /// Service number of chat.
    pub const CHAT: u8 = 1;
    /// Service number of upload.
    pub const UPLOAD: u8 = 2;

    /// One frame.
    pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).expect("a payload under 4 GiB");
        let mut f = vec![kind];
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// The magic and a version-1 HELLO for `service`.
    pub fn hello(service: u8) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend(frame(HELLO, &[1, 1, service]));
        b
    }

    /// An OFFER of `size` bytes under `name` (any bytes, valid or not), algorithm `alg`.
    pub fn offer(name: &[u8], size: u64, alg: u8) -> Vec<u8> {
        let mut payload = size.to_be_bytes().to_vec();
        payload.push(alg);
        payload.extend_from_slice(name);
        frame(OFFER, &payload)
    }

    /// The code of an ERROR, CLOSE or REJECT payload.
    pub fn code(payload: &[u8]) -> u16 {
        assert!(
            payload.len() >= 2,
            "a code payload of {} bytes",
            payload.len()
        );
        u16::from_be_bytes([payload[0], payload[1]])
    }
}
