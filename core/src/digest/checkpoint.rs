//! [`Checkpoint`]: a hasher's state at a [`BLOCK`] boundary, and its
//! byte encoding for storing beside a partial upload.

use alloc::vec::Vec;

use xxhash_rust::xxh3::xxh3_64;

use super::{Algorithm, BLOCK};

/// First bytes of every encoded checkpoint ("unstuck checkpoint").
const MAGIC: [u8; 4] = *b"UCKP";

/// Encoding version written by [`Checkpoint::encode`].
const VERSION: u8 = 1;

/// Bytes before the state: magic, version, algorithm, offset, state length.
const HEADER_LEN: usize = MAGIC.len() + 1 + 1 + 8 + 1;

/// Bytes of the trailing integrity check.
const CHECK_LEN: usize = 8;

/// Algorithm-specific hashing state at a block boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// `h(offset / BLOCK)`, the xxh3 chain value.
    Xxh3Chain([u8; 16]),
    /// The SHA-256 chaining value after `offset` bytes (no pending bytes:
    /// a boundary is always a multiple of the 64-byte SHA-256 block).
    Sha256([u32; 8]),
}

impl State {
    fn algorithm(&self) -> Algorithm {
        match self {
            State::Xxh3Chain(_) => Algorithm::Xxh3Chain,
            State::Sha256(_) => Algorithm::Sha256,
        }
    }
}

/// A hasher's state after the first [`offset`](Self::offset) bytes, where the
/// offset is a multiple of [`BLOCK`] (possibly 0).
///
/// Taken with [`Hasher::checkpoint`](super::Hasher::checkpoint) and continued
/// with [`Hasher::resume`](super::Hasher::resume), so a cut upload resumes
/// without rereading the bytes already stored.
///
/// # Encoding
///
/// [`encode`](Self::encode) gives a versioned, self-describing byte string
/// meant to be stored beside the partial file (39 bytes for `xxh3-chain`, 55
/// for `sha256`). All integers are big-endian:
///
/// | bytes | field |
/// |---|---|
/// | 4 | magic `UCKP` |
/// | 1 | encoding version, 1 |
/// | 1 | algorithm wire id |
/// | 8 | offset (a multiple of [`BLOCK`]) |
/// | 1 | state length `n` (16 for `xxh3-chain`, 32 for `sha256`) |
/// | n | state: the chain value `h(offset / BLOCK)`, or the 8 SHA-256 words |
/// | 8 | XXH3-64 (seed 0) of all the bytes before it |
///
/// The trailing check catches a torn or corrupted checkpoint file, which
/// would otherwise make a resumed upload end in a digest mismatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    offset: u64,
    state: State,
}

impl Checkpoint {
    /// Builds a checkpoint; `offset` must be a multiple of [`BLOCK`].
    pub(super) fn new(offset: u64, state: State) -> Self {
        debug_assert!(offset % BLOCK == 0, "checkpoint off a block boundary");
        Checkpoint { offset, state }
    }

    /// The hashing state at the boundary.
    pub(super) fn state(&self) -> &State {
        &self.state
    }

    /// The algorithm of the hasher this was taken from.
    pub fn algorithm(&self) -> Algorithm {
        self.state.algorithm()
    }

    /// Number of input bytes covered; always a multiple of [`BLOCK`].
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Encodes the checkpoint (format in the [type docs](Self)).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 32 + CHECK_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.algorithm().to_wire());
        out.extend_from_slice(&self.offset.to_be_bytes());
        match &self.state {
            State::Xxh3Chain(h) => {
                out.push(16);
                out.extend_from_slice(h);
            }
            State::Sha256(words) => {
                out.push(32);
                for w in words {
                    out.extend_from_slice(&w.to_be_bytes());
                }
            }
        }
        let check = xxh3_64(&out);
        out.extend_from_slice(&check.to_be_bytes());
        out
    }

    /// Decodes an [`encode`](Self::encode)d checkpoint.
    ///
    /// Never panics. Fails on anything but a complete, intact encoding of
    /// version 1 with a known algorithm and an offset that is a multiple of
    /// [`BLOCK`]; trailing bytes are an error too.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let (body, check) = bytes
            .split_last_chunk::<CHECK_LEN>()
            .ok_or(CheckpointError(ErrorKind::Truncated))?;
        let mut rest = body;
        if take::<4>(&mut rest)? != MAGIC {
            return Err(CheckpointError(ErrorKind::BadMagic));
        }
        if xxh3_64(body) != u64::from_be_bytes(*check) {
            return Err(CheckpointError(ErrorKind::BadCheck));
        }
        let [version] = take(&mut rest)?;
        if version != VERSION {
            return Err(CheckpointError(ErrorKind::UnknownVersion(version)));
        }
        let [algorithm] = take(&mut rest)?;
        let algorithm = Algorithm::from_wire(algorithm)
            .ok_or(CheckpointError(ErrorKind::UnknownAlgorithm(algorithm)))?;
        let offset = u64::from_be_bytes(take(&mut rest)?);
        if offset % BLOCK != 0 {
            return Err(CheckpointError(ErrorKind::Unaligned(offset)));
        }
        let [state_len] = take(&mut rest)?;
        let state = rest;
        if usize::from(state_len) != state.len() {
            return Err(CheckpointError(ErrorKind::BadLength));
        }
        let state = match algorithm {
            Algorithm::Xxh3Chain => State::Xxh3Chain(
                state
                    .try_into()
                    .map_err(|_| CheckpointError(ErrorKind::BadLength))?,
            ),
            Algorithm::Sha256 => {
                let bytes: &[u8; 32] = state
                    .try_into()
                    .map_err(|_| CheckpointError(ErrorKind::BadLength))?;
                let mut words = [0u32; 8];
                for (w, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
                    *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                }
                State::Sha256(words)
            }
        };
        Ok(Checkpoint { offset, state })
    }
}

/// Splits the first `N` bytes off `input`.
fn take<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], CheckpointError> {
    let (head, rest) = input
        .split_first_chunk::<N>()
        .ok_or(CheckpointError(ErrorKind::Truncated))?;
    *input = rest;
    Ok(*head)
}

/// Why [`Checkpoint::decode`] refused its input.
///
/// The reason is only for logs: whatever it is, the stored checkpoint is
/// unusable and the upload restarts from offset 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointError(ErrorKind);

/// The specific decoding failure.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ErrorKind {
    Truncated,
    BadMagic,
    BadCheck,
    UnknownVersion(u8),
    UnknownAlgorithm(u8),
    Unaligned(u64),
    BadLength,
}

impl core::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            ErrorKind::Truncated => f.write_str("checkpoint truncated"),
            ErrorKind::BadMagic => f.write_str("not a checkpoint (bad magic)"),
            ErrorKind::BadCheck => f.write_str("checkpoint corrupted (integrity check failed)"),
            ErrorKind::UnknownVersion(v) => write!(f, "unsupported checkpoint version {v}"),
            ErrorKind::UnknownAlgorithm(a) => {
                write!(f, "checkpoint of unknown digest algorithm {a}")
            }
            ErrorKind::Unaligned(o) => {
                write!(f, "checkpoint offset {o} is not a multiple of {BLOCK}")
            }
            ErrorKind::BadLength => f.write_str("checkpoint state has the wrong length"),
        }
    }
}

impl core::error::Error for CheckpointError {}
