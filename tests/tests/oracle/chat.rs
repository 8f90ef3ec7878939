//! Reference readers for native chat streams: how a connection must end, computed from the
//! whole input with no chunking, no buffers and no state machine, written from
//! `spec/PROTOCOL.md`. Where the core knowingly differs from the spec, they follow the core
//! and say so (`CODE:`); those points are listed in the suite's report.

use unstuck_core::ErrorCode;
use unstuck_tests::drive::wire::{self, CHAT, MAGIC, MAX_PAYLOAD, Next, Reader, kind};

/// How a chat server ends when a client sends `input` (first byte `0xFF`) at one instant and
/// then EOF; `burst` is the flood bucket (no token comes back within one instant).
///
/// - A frame header announcing more than 65 552 bytes (HELLO included): 413.
/// - Bad or cut magic, a HELLO that is cut, shorter than its three fields, of another type,
///   or with `min_version` 0 or above `max_version`: 400; then, in this order, HELLO for
///   another service: 421; no common version: 426. Bytes after the three fields are ignored.
/// - After HELLO: a cut frame, any frame but SAY or an empty BYE: 400. BYE, or a `q` that gets
///   a token: 200, and the rest is ignored; EOF between frames: 200.
/// - A SAY over `max_message` is skipped whole (ERROR 413); one cut inside: 400. An empty SAY
///   is a keep-alive and takes no token.
///   EOF right after the magic is a cut handshake: 400.
pub(crate) fn server_outcome(input: &[u8], max_message: usize, burst: u32) -> ErrorCode {
    let mut r = Reader::new(input);
    if r.take(4) != Some(&MAGIC[..]) {
        return ErrorCode::Malformed;
    }
    let (k, len) = match next_header(&mut r) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let Some(fields) = r.take(len.min(3)) else {
        return ErrorCode::Malformed;
    };
    match *fields {
        [min, max, _] if k != kind::HELLO || min == 0 || min > max => return ErrorCode::Malformed,
        [_, _, service] if service != CHAT => return ErrorCode::WrongService,
        [min, max, _] if !(min..=max).contains(&1) => return ErrorCode::NoCommonVersion,
        [_, _, _] => {}
        _ => return ErrorCode::Malformed,
    }
    if r.take(len - 3).is_none() {
        return ErrorCode::Malformed;
    }
    let mut tokens = burst;
    loop {
        if r.is_empty() {
            return ErrorCode::Bye;
        }
        let (k, len) = match next_header(&mut r) {
            Ok(h) => h,
            Err(code) => return code,
        };
        let Some(payload) = r.take(len) else {
            return ErrorCode::Malformed;
        };
        match k {
            kind::BYE if len == 0 => return ErrorCode::Bye,
            kind::SAY if len > max_message || len == 0 => {}
            kind::SAY if tokens == 0 => {}
            kind::SAY => {
                tokens -= 1;
                if payload == b"q" {
                    return ErrorCode::Bye;
                }
            }
            _ => return ErrorCode::Malformed,
        }
    }
}

/// Takes a frame header: its type and length, or the code a server ends with on it.
fn next_header(r: &mut Reader<'_>) -> Result<(u8, usize), ErrorCode> {
    let h = r.take(wire::HEADER_LEN).ok_or(ErrorCode::Malformed)?;
    let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(ErrorCode::TooLarge);
    }
    Ok((h[0], len))
}

/// How a native chat client ends when the server sends `input` and then EOF.
///
/// - The banner line, LF included, has at most 1024 bytes. A `! CODE text` line in its place,
///   or where the magic is expected, ends it with that code (an unknown number counts by its class;
///   another line starting with `!` where the magic is expected is read as a banner again).
/// - Then magic and HELLO (version 1, chat, an 8-byte limit, maybe more bytes), or a CLOSE.
/// - Then REPLY/NOTICE (UTF-8), MESSAGE (nick length, nick, text, UTF-8), ERROR (code, UTF-8).
/// - CLOSE ends it with its code (an unknown code number counts by its class).
/// - Anything else, a frame over the bound, or EOF inside a frame: 400. EOF between two
///   frames, or before any byte of the banner, magic or HELLO: 200.
pub(crate) fn client_outcome(input: &[u8]) -> ErrorCode {
    let mut rest = input;
    let mut banner = true;
    while banner || rest.first() == Some(&b'!') {
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return if rest.is_empty() {
                ErrorCode::Bye
            } else {
                ErrorCode::Malformed
            };
        };
        if lf + 1 > 1024 {
            return ErrorCode::Malformed;
        }
        let line = rest[..lf].strip_suffix(b"\r").unwrap_or(&rest[..lf]);
        if let Some(n) = error_line(line) {
            return ErrorCode::from_u16_or_class(n);
        }
        rest = &rest[lf + 1..];
        banner = false;
    }
    if rest.is_empty() {
        return ErrorCode::Bye;
    }
    if rest.get(..4) != Some(&MAGIC[..]) {
        return ErrorCode::Malformed;
    }
    let mut r = Reader::new(&rest[4..]);
    let mut hello = true;
    loop {
        let (k, p) = match r.frame(MAX_PAYLOAD) {
            Next::Frame(k, p) => (k, p),
            Next::Short if r.is_empty() => return ErrorCode::Bye,
            _ => return ErrorCode::Malformed,
        };
        let ok = match k {
            kind::CLOSE => {
                return match wire::read_coded(p) {
                    Some((n, _)) => ErrorCode::from_u16_or_class(n),
                    None => ErrorCode::Malformed,
                };
            }
            kind::HELLO if hello => p.len() >= 10 && p[..2] == [1, CHAT],
            _ if hello => false,
            kind::REPLY | kind::NOTICE => std::str::from_utf8(p).is_ok(),
            kind::MESSAGE => p.split_first().is_some_and(|(&n, rest)| {
                rest.split_at_checked(n as usize)
                    .is_some_and(|(nick, text)| {
                        std::str::from_utf8(nick).is_ok() && std::str::from_utf8(text).is_ok()
                    })
            }),
            kind::ERROR => wire::read_coded(p).is_some(),
            _ => false,
        };
        if !ok {
            return ErrorCode::Malformed;
        }
        hello = false;
    }
}

/// The code of a text error line `! NNN text` (4.5).
fn error_line(line: &[u8]) -> Option<u16> {
    let digits = line.strip_prefix(b"! ")?.get(..3)?;
    digits
        .iter()
        .all(u8::is_ascii_digit)
        .then(|| digits.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
}
