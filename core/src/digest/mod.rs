//! Whole-file digests for uploads, resumable at [`BLOCK`] boundaries.
//!
//! An upload ends with the client's digest of the whole file; the server
//! hashes the body as it streams past and answers VERIFIED or MISMATCH. A cut
//! upload must resume without rescanning what the server already holds, so
//! every algorithm here can save its state at each [`BLOCK`] boundary as a
//! small [`Checkpoint`] (an encoded checkpoint is a few dozen bytes) and
//! continue from it later with [`Hasher::resume`].
//!
//! Two algorithms exist (see [`Algorithm`]):
//!
//! - [`Algorithm::Xxh3Chain`] (wire id 1, name `xxh3-chain`, the default):
//!   the input is cut into [`BLOCK`]-sized blocks — at least one, the last
//!   possibly short or empty, so the empty input is one empty block.
//!   `h0` is 16 zero bytes and
//!   `h(i+1) = XXH3-128(h(i) as 16 bytes big-endian || block i)` with seed 0
//!   and the default secret; the digest is the last `h`, 16 bytes big-endian.
//!   An input of exactly `k * BLOCK` bytes (`k >= 1`) has exactly `k` blocks:
//!   no extra empty block is appended. It runs at memory speed and its state
//!   at a boundary is the 16-byte chain value.
//! - [`Algorithm::Sha256`] (wire id 2, name `sha256`): plain SHA-256 of the
//!   input, identical to `sha256sum`, for peers that want a standard tool to
//!   check against. Its state at a boundary is 8 words plus the length.
//!
//! Normative test vectors live in `spec/vectors/digest.txt`.

mod algorithm;
mod checkpoint;
mod hasher;
mod sha256;
mod value;
mod xxh3_chain;

#[cfg(test)]
mod tests;

pub use algorithm::Algorithm;
pub use checkpoint::{Checkpoint, CheckpointError};
pub use hasher::Hasher;
pub use value::Digest;

/// Block size of the xxh3 chain and the granularity of checkpoints: 4 MiB.
///
/// A resume offset is always a multiple of this, so a checkpoint never needs
/// to carry a partial block.
pub const BLOCK: u64 = 4 * 1024 * 1024;
