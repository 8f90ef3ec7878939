//! [`Hasher`]: the streaming, checkpointable front end over both algorithms.

use super::checkpoint::State;
use super::sha256::Sha256;
use super::xxh3_chain::Xxh3Chain;
use super::{Algorithm, BLOCK, Checkpoint, Digest};

/// A streaming digest of one input, resumable at [`BLOCK`] boundaries.
///
/// Feed the input in any split with [`update`](Self::update): the digest
/// depends only on the concatenated bytes. [`finish`](Self::finish) may be
/// called at any point and as often as wanted; it does not consume or change
/// the hasher. [`checkpoint`](Self::checkpoint) is O(1): the state at the
/// latest boundary is kept as it is passed.
///
/// ```
/// use unstuck_core::digest::{Algorithm, Hasher};
///
/// let mut h = Hasher::new(Algorithm::Sha256);
/// h.update(b"ab");
/// h.update(b"c");
/// assert_eq!(
///     h.finish().to_string(),
///     "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
#[derive(Clone)]
pub struct Hasher {
    inner: Inner,
}

/// Per-algorithm state; an enum rather than a trait object so a hasher needs
/// no allocation and `update` dispatches once per call, not per byte.
#[derive(Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "one hasher per upload; boxing the XXH3 state would only add an allocation"
)]
enum Inner {
    Xxh3Chain(Xxh3Chain),
    Sha256(Sha256),
}

impl Hasher {
    /// A hasher of `algorithm` that has seen no input.
    pub fn new(algorithm: Algorithm) -> Self {
        let inner = match algorithm {
            Algorithm::Xxh3Chain => Inner::Xxh3Chain(Xxh3Chain::new()),
            Algorithm::Sha256 => Inner::Sha256(Sha256::new()),
        };
        Hasher { inner }
    }

    /// A hasher that continues from `checkpoint`: its offset is
    /// `checkpoint.offset()` and it goes on exactly as if those first bytes
    /// had been fed to a [`new`](Self::new) hasher.
    pub fn resume(checkpoint: &Checkpoint) -> Self {
        let offset = checkpoint.offset();
        let inner = match *checkpoint.state() {
            State::Xxh3Chain(chain) => Inner::Xxh3Chain(Xxh3Chain::at_boundary(offset, chain)),
            State::Sha256(words) => Inner::Sha256(Sha256::at_boundary(offset, words)),
        };
        Hasher { inner }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            Inner::Xxh3Chain(_) => Algorithm::Xxh3Chain,
            Inner::Sha256(_) => Algorithm::Sha256,
        }
    }

    /// Hashes `data`, appended to everything fed before.
    ///
    /// The hot path of an upload: the caller's slice is hashed in place,
    /// cut only where it crosses a [`BLOCK`] boundary; no allocation.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.inner {
            Inner::Xxh3Chain(h) => h.update(data),
            Inner::Sha256(h) => h.update(data),
        }
    }

    /// Number of bytes hashed, including those covered by a resumed
    /// checkpoint.
    pub fn offset(&self) -> u64 {
        match &self.inner {
            Inner::Xxh3Chain(h) => h.offset(),
            Inner::Sha256(h) => h.offset(),
        }
    }

    /// The digest of all bytes hashed so far. Leaves the hasher unchanged, so
    /// it may be called repeatedly and hashing may go on afterwards.
    pub fn finish(&self) -> Digest {
        match &self.inner {
            Inner::Xxh3Chain(h) => Digest::from_xxh3_chain(h.finish()),
            Inner::Sha256(h) => Digest::from_sha256(h.finish()),
        }
    }

    /// The state at the latest [`BLOCK`] boundary at or before
    /// [`offset`](Self::offset) (the initial state if fewer than [`BLOCK`]
    /// bytes were hashed). O(1).
    pub fn checkpoint(&self) -> Checkpoint {
        let offset = self.offset();
        let boundary = offset - offset % BLOCK;
        let state = match &self.inner {
            Inner::Xxh3Chain(h) => State::Xxh3Chain(h.chain()),
            Inner::Sha256(h) => State::Sha256(h.boundary()),
        };
        Checkpoint::new(boundary, state)
    }
}

impl core::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm())
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}
