//! Streaming SHA-256 on top of [`sha2::compress256`].
//!
//! The `sha2` hasher types keep their state private, so they cannot be
//! checkpointed. Driving the compression function directly keeps the whole
//! state in plain fields: 8 words, a partial-block buffer and the length.
//! Because [`BLOCK`] is a multiple of the 64-byte SHA-256 block, the buffer is
//! empty at every [`BLOCK`] boundary, so a checkpoint is the 8 words plus the
//! offset. `compress256` picks SHA-NI (x86) or the ARMv8 SHA extensions at
//! run time when the CPU has them.

use sha2::compress256;
use sha2::digest::consts::U64;
use sha2::digest::generic_array::GenericArray;

use super::BLOCK;

/// One 64-byte SHA-256 input block, as `compress256` takes it.
type Block = GenericArray<u8, U64>;

/// Size of a SHA-256 input block.
const BLOCK_LEN: usize = 64;

/// How many whole blocks are handed to `compress256` per call. Borrowing the
/// caller's bytes as `&[Block]` would need `unsafe`, so whole blocks are
/// copied into a small stack batch first; a batch keeps the per-call overhead
/// (and the CPU feature check inside `compress256`) off the per-block path,
/// and the copy is cheap next to the compression itself.
const BATCH: usize = 32;

/// The SHA-256 initial hash value (FIPS 180-4, 5.3.3).
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// In-progress SHA-256 state.
#[derive(Clone)]
pub(super) struct Sha256 {
    /// Bytes hashed so far.
    offset: u64,
    /// Chaining value after all complete 64-byte blocks.
    state: [u32; 8],
    /// The trailing partial block; `buf[..buf_len]` is pending input.
    buf: [u8; BLOCK_LEN],
    /// Number of pending bytes in `buf`, always `< 64` between calls.
    buf_len: usize,
    /// `state` as it was at the latest [`BLOCK`] boundary `<= offset`.
    boundary: [u32; 8],
}

impl Sha256 {
    /// The state after the first `offset` bytes, given the chaining value
    /// there. `offset` must be a multiple of [`BLOCK`] (checked by callers).
    pub(super) fn at_boundary(offset: u64, state: [u32; 8]) -> Self {
        Sha256 {
            offset,
            state,
            buf: [0; BLOCK_LEN],
            buf_len: 0,
            boundary: state,
        }
    }

    /// The state before any input.
    pub(super) fn new() -> Self {
        Self::at_boundary(0, H0)
    }

    /// Bytes hashed so far.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// The chaining value at the latest boundary `k * BLOCK <= offset`.
    pub(super) fn boundary(&self) -> [u32; 8] {
        self.boundary
    }

    /// Hashes `data`, remembering the state at each [`BLOCK`] boundary.
    pub(super) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = BLOCK - self.offset % BLOCK;
            let take = usize::try_from(room).map_or(data.len(), |r| r.min(data.len()));
            let (now, rest) = data.split_at(take);
            self.absorb(now);
            self.offset = self.offset.wrapping_add(take as u64);
            data = rest;
            if self.offset % BLOCK == 0 {
                // BLOCK is a multiple of 64, so `buf` is empty here and
                // `state` alone describes everything hashed so far.
                self.boundary = self.state;
            }
        }
    }

    /// Feeds bytes through the partial-block buffer and the compressor.
    fn absorb(&mut self, mut data: &[u8]) {
        if self.buf_len > 0 {
            let take = (BLOCK_LEN - self.buf_len).min(data.len());
            let (now, rest) = data.split_at(take);
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(now);
            self.buf_len += take;
            data = rest;
            if self.buf_len < BLOCK_LEN {
                return;
            }
            compress256(&mut self.state, &[Block::from(self.buf)]);
            self.buf_len = 0;
        }
        let whole = data.len() - data.len() % BLOCK_LEN;
        let (blocks, rest) = data.split_at(whole);
        if !blocks.is_empty() {
            self.compress_blocks(blocks);
        }
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    /// Compresses whole 64-byte blocks (`blocks.len()` is a multiple of 64).
    fn compress_blocks(&mut self, blocks: &[u8]) {
        let mut batch = [Block::default(); BATCH];
        for group in blocks.chunks(BLOCK_LEN * BATCH) {
            let n = group.len() / BLOCK_LEN;
            for (block, bytes) in batch.iter_mut().zip(group.chunks_exact(BLOCK_LEN)) {
                block.copy_from_slice(bytes);
            }
            compress256(&mut self.state, &batch[..n]);
        }
    }

    /// The SHA-256 of the input so far; `self` is left untouched.
    pub(super) fn finish(&self) -> [u8; 32] {
        let mut state = self.state;
        let mut last = [0u8; 2 * BLOCK_LEN];
        last[..self.buf_len].copy_from_slice(&self.buf[..self.buf_len]);
        last[self.buf_len] = 0x80;
        // The length field needs 8 bytes after the 0x80 marker; if they do
        // not fit in this block, padding spills into a second one.
        let total = if self.buf_len < BLOCK_LEN - 8 {
            BLOCK_LEN
        } else {
            2 * BLOCK_LEN
        };
        let bits = self.offset.wrapping_mul(8);
        last[total - 8..total].copy_from_slice(&bits.to_be_bytes());
        for bytes in last[..total].chunks_exact(BLOCK_LEN) {
            compress256(&mut state, &[Block::clone_from_slice(bytes)]);
        }
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}
