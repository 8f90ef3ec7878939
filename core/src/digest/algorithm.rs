//! The digest algorithms and their wire ids and names.

/// A digest algorithm an upload can be verified with.
///
/// Each has a one-byte wire id (OFFER, DIGEST, VERIFIED and MISMATCH frames
/// and checkpoints) and a stable lowercase name (text output, test vectors,
/// command lines). New algorithms may be added, hence `non_exhaustive`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `xxh3-chain`, wire id 1: XXH3-128 chained over 4 MiB blocks
    /// (see the [module docs](super)); 16-byte digest. The default: fast
    /// enough never to be the bottleneck of an upload.
    Xxh3Chain,
    /// `sha256`, wire id 2: plain SHA-256 of the input, checkable with
    /// `sha256sum`; 32-byte digest.
    Sha256,
}

impl Algorithm {
    /// The algorithm used when none is chosen: [`Algorithm::Xxh3Chain`].
    pub const DEFAULT: Algorithm = Algorithm::Xxh3Chain;

    /// Every algorithm, in wire-id order.
    pub const ALL: [Algorithm; 2] = [Algorithm::Xxh3Chain, Algorithm::Sha256];

    /// The algorithm with this wire id, or `None` if the id is unknown.
    pub fn from_wire(id: u8) -> Option<Self> {
        match id {
            1 => Some(Algorithm::Xxh3Chain),
            2 => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    /// The one-byte wire id: 1 for `xxh3-chain`, 2 for `sha256`.
    pub fn to_wire(self) -> u8 {
        match self {
            Algorithm::Xxh3Chain => 1,
            Algorithm::Sha256 => 2,
        }
    }

    /// The stable lowercase name: `xxh3-chain` or `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Xxh3Chain => "xxh3-chain",
            Algorithm::Sha256 => "sha256",
        }
    }

    /// The algorithm with exactly this name (case-sensitive), or `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Length of this algorithm's digest in bytes: 16 or 32.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Xxh3Chain => 16,
            Algorithm::Sha256 => 32,
        }
    }
}

impl Default for Algorithm {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl core::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
