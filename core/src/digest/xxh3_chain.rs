//! Streaming `xxh3-chain`: XXH3-128 chained over [`BLOCK`]-sized blocks.
//!
//! `h0 = 0^16`, `h(i+1) = XXH3-128(h(i) as 16 bytes BE || block i)`. Each
//! block is streamed through one XXH3 state that was first fed the previous
//! chain value, so no block is ever buffered: memory stays at one XXH3 state
//! (a few hundred bytes) whatever the block size.

use xxhash_rust::xxh3::Xxh3Default;

use super::BLOCK;

/// The chain value before the first block.
const H0: [u8; 16] = [0; 16];

/// In-progress xxh3-chain state.
#[derive(Clone)]
pub(super) struct Xxh3Chain {
    /// Bytes hashed so far.
    offset: u64,
    /// `h(k)` with `k = offset / BLOCK` completed blocks: the state at the
    /// latest block boundary, which is all a checkpoint needs.
    chain: [u8; 16],
    /// XXH3-128 over `chain || bytes of block k so far`. The chain value is
    /// fed eagerly when a block completes, so this is always ready to finish.
    block: Xxh3Default,
}

impl Xxh3Chain {
    /// The state after the first `offset` bytes, given `h(offset / BLOCK)`.
    /// `offset` must be a multiple of [`BLOCK`] (checked by the callers).
    pub(super) fn at_boundary(offset: u64, chain: [u8; 16]) -> Self {
        let mut block = Xxh3Default::new();
        block.update(&chain);
        Xxh3Chain {
            offset,
            chain,
            block,
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

    /// `h(k)` at the latest boundary `k * BLOCK <= offset`.
    pub(super) fn chain(&self) -> [u8; 16] {
        self.chain
    }

    /// Hashes `data`, cutting it only where it crosses block boundaries.
    pub(super) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = BLOCK - self.offset % BLOCK;
            let take = usize::try_from(room).map_or(data.len(), |r| r.min(data.len()));
            let (now, rest) = data.split_at(take);
            self.block.update(now);
            self.offset = self.offset.wrapping_add(take as u64);
            data = rest;
            if self.offset % BLOCK == 0 {
                self.chain = self.block.digest128().to_be_bytes();
                self.block.reset();
                self.block.update(&self.chain);
            }
        }
    }

    /// The digest of the input so far (16 bytes, big-endian).
    pub(super) fn finish(&self) -> [u8; 16] {
        if self.offset != 0 && self.offset % BLOCK == 0 {
            // The input ends exactly on a boundary: the last block is full and
            // `h(k)` is the digest; no trailing empty block.
            self.chain
        } else {
            // Offset 0 lands here too: one empty block, XXH3-128(h0).
            self.block.digest128().to_be_bytes()
        }
    }
}
