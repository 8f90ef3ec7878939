//! Reference readers for upload streams: how a connection must end, computed from the whole
//! input with no chunking, no buffers and no state machine, written from `spec/PROTOCOL.md`.
//! Where the core knowingly differs from the spec, they follow the core and say so (`CODE:`);
//! those points are listed in the suite's report.

use unstuck_core::ErrorCode;
use unstuck_core::digest::{Algorithm, BLOCK, Digest};
use unstuck_core::upload::validate_name;
use unstuck_tests::drive::FileToSend;
use unstuck_tests::drive::wire::{self, MAGIC, MAX_PAYLOAD, Next, Reader, UPLOAD, digest_of, kind};

/// How an upload server ends when a client sends `input` at one instant and then EOF, with
/// a driver that accepts every offer and confirms every complete file.
///
/// - First byte `0xFF`: native (below). A digit: classic (below). Anything else: 400.
/// - Native: bad or cut magic, a cut, malformed or misplaced frame, a DIGEST of another
///   algorithm or length: 400; a frame over 65 552 bytes: 413; a HELLO of another type or with
///   `min_version` 0 or above `max_version`: 400, then for another service 421, then with no
///   common version 426; bytes after its three fields are ignored. An OFFER that fails the checks of 7.2 gets REJECT and the next
///   frame is read; an accepted one is followed by exactly `size` raw bytes and a DIGEST.
///   EOF between transfers: 200; anywhere else: 400.
/// - Classic: at most 20 digits; LF or CRLF after them is consumed, any other byte starts the
///   body; EOF inside the size: 400; a size over the limit: 413; then `size` bytes (fewer: 400)
///   and the server closes normally (200), ignoring the rest.
/// - EOF before any byte: a normal end (200), as on the chat port.
pub(crate) fn server_outcome(input: &[u8], max_file_size: u64) -> ErrorCode {
    match input.first() {
        Some(0xFF) => native_server(input, max_file_size),
        Some(b) if b.is_ascii_digit() => classic_server(input, max_file_size),
        None => ErrorCode::Bye,
        _ => ErrorCode::Malformed,
    }
}

fn native_server(input: &[u8], max_file_size: u64) -> ErrorCode {
    let mut r = Reader::new(input);
    if r.take(4) != Some(&MAGIC[..]) {
        return ErrorCode::Malformed;
    }
    let (k, p) = match r.frame(MAX_PAYLOAD) {
        Next::Frame(k, p) => (k, p),
        Next::TooLong(..) => return ErrorCode::TooLarge,
        Next::Short => return ErrorCode::Malformed,
    };
    match p.first_chunk::<3>() {
        Some(&[min, max, _]) if k != kind::HELLO || min == 0 || min > max => {
            return ErrorCode::Malformed;
        }
        Some(&[_, _, service]) if service != UPLOAD => return ErrorCode::WrongService,
        Some(&[min, max, _]) if !(min..=max).contains(&1) => return ErrorCode::NoCommonVersion,
        Some(_) => {}
        None => return ErrorCode::Malformed,
    }
    loop {
        if r.is_empty() {
            return ErrorCode::Bye;
        }
        let (k, p) = match r.frame(MAX_PAYLOAD) {
            Next::Frame(k, p) => (k, p),
            Next::TooLong(..) => return ErrorCode::TooLarge,
            Next::Short => return ErrorCode::Malformed,
        };
        let Some((size, rest)) = p.split_first_chunk::<8>().filter(|_| k == kind::OFFER) else {
            return ErrorCode::Malformed;
        };
        let Some((&alg, name)) = rest.split_first() else {
            return ErrorCode::Malformed;
        };
        let size = u64::from_be_bytes(*size);
        let name_ok = std::str::from_utf8(name).is_ok_and(|n| validate_name(n).is_ok());
        let Some(alg) = Algorithm::from_wire(alg).filter(|_| name_ok && size <= max_file_size)
        else {
            continue; // REJECT
        };
        if usize::try_from(size).ok().and_then(|n| r.take(n)).is_none() {
            return ErrorCode::Malformed;
        }
        match r.frame(MAX_PAYLOAD) {
            Next::Frame(kind::DIGEST, p)
                if p.split_first()
                    .is_some_and(|(&a, d)| a == alg.to_wire() && d.len() == alg.digest_len()) => {}
            Next::TooLong(..) => return ErrorCode::TooLarge,
            _ => return ErrorCode::Malformed,
        }
    }
}

fn classic_server(input: &[u8], max_file_size: u64) -> ErrorCode {
    let digits = input.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 20 {
        return ErrorCode::Malformed;
    }
    let body_at = match &input[digits..] {
        [] => return ErrorCode::Malformed,
        [b'\n', ..] => digits + 1,
        [b'\r', b'\n', ..] => digits + 2,
        _ => digits,
    };
    let size = std::str::from_utf8(&input[..digits])
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
        .filter(|s| *s <= max_file_size);
    match size {
        None => ErrorCode::TooLarge,
        Some(s) if s > (input.len() - body_at) as u64 => ErrorCode::Malformed,
        Some(_) => ErrorCode::Bye,
    }
}

/// How an upload client ends when the server sends `input` at one instant and then EOF; the
/// client offered `file` at once and its driver feeds the body as soon as it is accepted.
///
/// - Native: magic and HELLO (version 1, upload, an 8-byte limit, maybe more), or a CLOSE.
///   Then the replies to the offer: REJECT (code, UTF-8), or ACCEPT (8 bytes, an offset that is
///   a multiple of 4 MiB within the size) and then VERIFIED with the client's own digest or
///   MISMATCH with a digest of the offered algorithm; after that, nothing but CLOSE. A CLOSE
///   ends it with its code (an unknown number counts by its class); anything else, a frame over the
///   bound, or EOF inside a frame: 400.
/// - Classic: `1001` accepts; after the body the client ends normally when the server closes
///   (200), unless a `! CODE text` line (storage failed) or any other byte comes first.
/// - Both: a line `! CODE text` where the magic or `1001` is expected is a refusal, ending
///   with that code (a number that is not a known code counts by its class).
/// - EOF with no transfer under way and no bytes left: 200; otherwise 400.
pub(crate) fn client_outcome(input: &[u8], native: bool, file: &FileToSend) -> ErrorCode {
    if input.first() == Some(&b'!') {
        return refusal(input);
    }
    if !native {
        return match (input.get(..4), input.get(4..)) {
            (Some(b"1001"), Some([])) => ErrorCode::Bye,
            (Some(b"1001"), Some(rest)) if rest[0] == b'!' => refusal(rest),
            _ => ErrorCode::Malformed,
        };
    }
    let mut r = Reader::new(input);
    if r.take(4) != Some(&MAGIC[..]) {
        return ErrorCode::Malformed;
    }
    let local = digest_of(file.algorithm, &file.body);
    let mut state = 0; // 0: before HELLO, 1: offered, 2: awaiting the result, 3: done
    loop {
        let (k, p) = match r.frame(MAX_PAYLOAD) {
            Next::Frame(k, p) => (k, p),
            Next::Short if r.is_empty() && state == 3 => return ErrorCode::Bye,
            _ => return ErrorCode::Malformed,
        };
        if k == kind::CLOSE {
            return wire::read_coded(p)
                .map(|(n, _)| ErrorCode::from_u16_or_class(n))
                .unwrap_or(ErrorCode::Malformed);
        }
        let next = match (state, k) {
            (0, kind::HELLO) if p.len() >= 10 && p[..2] == [1, UPLOAD] => 1,
            (1, kind::REJECT) if wire::read_coded(p).is_some() => 3,
            (1, kind::ACCEPT) if accepts(p, file.body.len() as u64) => 2,
            (2, kind::VERIFIED) if digest(p) == Some(local) => 3,
            (2, kind::MISMATCH)
                if digest(p).is_some_and(|d| d.algorithm() == local.algorithm()) =>
            {
                3
            }
            _ => return ErrorCode::Malformed,
        };
        state = next;
    }
}

/// The code of a `! CODE text` line (up to LF or the end).
fn refusal(input: &[u8]) -> ErrorCode {
    let end = input
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(input.len());
    let line = String::from_utf8_lossy(&input[..end]);
    let number = line.trim_start_matches('!').trim().split(' ').next();
    let number = number.and_then(|w| w.parse().ok()).unwrap_or(400);
    ErrorCode::from_u16_or_class(number)
}

fn accepts(p: &[u8], size: u64) -> bool {
    p.first_chunk::<8>()
        .map(|o| u64::from_be_bytes(*o))
        .is_some_and(|o| p.len() == 8 && o <= size && o % BLOCK == 0)
}

fn digest(p: &[u8]) -> Option<Digest> {
    let (&alg, d) = p.split_first()?;
    Digest::new(Algorithm::from_wire(alg)?, d)
}
