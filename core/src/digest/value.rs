//! [`Digest`]: a finished digest value tagged with its algorithm.

use super::Algorithm;

/// A finished digest: the algorithm and its [`Algorithm::digest_len`] bytes.
///
/// Stored inline (no allocation) so it is `Copy` and can sit in protocol
/// events. Displays (and debug-prints) as `<algorithm-name>:<lowercase hex>`,
/// e.g. `sha256:ba7816bf…`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    /// The digest in the first `algorithm.digest_len()` bytes; the rest stays
    /// zero so the derived equality and hash only see the digest itself.
    bytes: [u8; Digest::MAX_LEN],
}

impl Digest {
    /// The longest digest of any algorithm, in bytes.
    pub const MAX_LEN: usize = 32;

    /// A digest of `algorithm` with these bytes, or `None` if `bytes` is not
    /// exactly [`Algorithm::digest_len`] long (e.g. a malformed DIGEST frame).
    pub fn new(algorithm: Algorithm, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != algorithm.digest_len() {
            return None;
        }
        let mut buf = [0u8; Self::MAX_LEN];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Digest {
            algorithm,
            bytes: buf,
        })
    }

    /// A finished `xxh3-chain` digest.
    pub(super) fn from_xxh3_chain(h: [u8; 16]) -> Self {
        let mut bytes = [0u8; Self::MAX_LEN];
        bytes[..16].copy_from_slice(&h);
        Digest {
            algorithm: Algorithm::Xxh3Chain,
            bytes,
        }
    }

    /// A finished `sha256` digest.
    pub(super) fn from_sha256(bytes: [u8; 32]) -> Self {
        Digest {
            algorithm: Algorithm::Sha256,
            bytes,
        }
    }

    /// The algorithm that produced this digest.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The digest bytes, [`Algorithm::digest_len`] long.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.algorithm.digest_len().min(Self::MAX_LEN);
        &self.bytes[..len]
    }
}

impl core::fmt::Display for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.algorithm.name())?;
        f.write_str(":")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl core::fmt::Debug for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}
