//! The content of a checkpoint file: which upload it belongs to, and the core's checkpoint.
//!
//! The core's [`Checkpoint`] holds the digest state and the offset; resuming also needs the
//! name and the size it was offered with (spec 7.4), so the file is:
//!
//! | bytes | field |
//! |-------|-------|
//! | 4     | magic `USKR` |
//! | 8     | size, u64 big-endian |
//! | 2     | name length, u16 big-endian |
//! | n     | name, UTF-8 |
//! | rest  | [`Checkpoint::encode`] (self-checking) |

use unstuck_core::digest::Checkpoint;

const MAGIC: &[u8; 4] = b"USKR";

/// Longest record: header, a 255-byte name, and a checkpoint of a few dozen bytes.
pub(super) const MAX_LEN: u64 = 1024;

/// What a checkpoint file says.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) checkpoint: Checkpoint,
}

pub(super) fn encode(name: &str, size: u64, checkpoint: &Checkpoint) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + name.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&size.to_be_bytes());
    let len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&name.as_bytes()[..usize::from(len)]);
    out.extend_from_slice(&checkpoint.encode());
    out
}

/// The record, or `None` for anything damaged or foreign: the upload then starts over.
pub(super) fn decode(bytes: &[u8]) -> Option<Record> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (size, rest) = rest.split_first_chunk::<8>()?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let (name, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
    Some(Record {
        name: std::str::from_utf8(name).ok()?.to_owned(),
        size: u64::from_be_bytes(*size),
        checkpoint: Checkpoint::decode(rest).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use unstuck_core::digest::{Algorithm, BLOCK, Hasher};

    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(&vec![7; BLOCK as usize + 5]);
        let cp = h.checkpoint();
        let bytes = encode("a.bin", 9 << 20, &cp);
        let r = decode(&bytes).unwrap();
        assert_eq!((r.name.as_str(), r.size), ("a.bin", 9 << 20));
        assert_eq!(r.checkpoint, cp);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_none());
        }
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(decode(&bad).is_none());
    }
}
