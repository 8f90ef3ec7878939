//! The store's own file names: hidden partial files and checkpoints, generated classic names.
//!
//! A client's file `NAME` is written as `.NAME.part`, with its checkpoint in `.NAME.ckpt`
//! (replaced through `.NAME.ckpt.tmp`). Client names never start with `.`, so these can
//! never clash with a client's file, and the three suffixes never clash with each other.

use std::time::{SystemTime, UNIX_EPOCH};

use unstuck_core::digest::{Algorithm, Hasher};

/// Longest stem that keeps `.STEM.ckpt.tmp` within the usual 255-byte name limit.
const MAX_STEM: usize = 245;

/// The part of the hidden names that identifies the upload: the name itself or, for a name
/// too long to take the decorations, a prefix of it and a hash of the whole.
///
/// The checkpoint stores the full name, so two long names that hash alike cannot be mixed up.
pub(super) fn stem(name: &str) -> String {
    if name.len() <= MAX_STEM {
        return name.to_owned();
    }
    let mut h = Hasher::new(Algorithm::Xxh3Chain);
    h.update(name.as_bytes());
    let hash: String = h.finish().as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut cut = MAX_STEM - hash.len() - 1;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{hash}", &name[..cut])
}

/// The partial copy of an upload.
pub(super) fn part(stem: &str) -> String {
    format!(".{stem}.part")
}

/// The checkpoint of an upload.
pub(super) fn ckpt(stem: &str) -> String {
    format!(".{stem}.ckpt")
}

/// Where a new checkpoint is written before it replaces the old one.
pub(super) fn ckpt_tmp(stem: &str) -> String {
    format!(".{stem}.ckpt.tmp")
}

/// The store's hidden files that no longer serve: a partial copy without a checkpoint can
/// never resume (a cut classic upload, or a crash before the first checkpoint), a checkpoint
/// without its partial copy describes nothing, and a temporary checkpoint was never
/// completed. Anything else, the administrator's dot-files included, is left alone.
pub(super) fn stale(names: &[String]) -> Vec<&str> {
    let has = |n: &str| names.iter().any(|m| m == n);
    names
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with('.'))
        .filter(|n| {
            if let Some(s) = n.strip_suffix(".ckpt.tmp") {
                return s.len() > 1;
            }
            if let Some(s) = n.strip_suffix(".part").and_then(|s| s.strip_prefix('.')) {
                return !s.is_empty() && !has(&ckpt(s));
            }
            if let Some(s) = n.strip_suffix(".ckpt").and_then(|s| s.strip_prefix('.')) {
                return !s.is_empty() && !has(&part(s));
            }
            false
        })
        .collect()
}

/// A classic upload's name, `classic-<unix-ms>-<n>.bin` (spec 7.5).
pub(super) fn classic(unix_ms: u128, n: u64) -> String {
    format!("classic-{unix_ms}-{n}.bin")
}

/// Milliseconds since the Unix epoch, for classic names.
pub(super) fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_get_short_distinct_stems() {
        let a = "é".repeat(127) + "a"; // 255 bytes
        let b = "é".repeat(127) + "b";
        let (sa, sb) = (stem(&a), stem(&b));
        assert!(ckpt_tmp(&sa).len() <= 255);
        assert_ne!(sa, sb);
        assert_eq!(stem("photo.jpg"), "photo.jpg");
    }

    #[test]
    fn only_orphans_are_stale() {
        let names: Vec<String> = [
            ".a.part",
            ".a.ckpt",
            ".b.part",
            ".c.ckpt",
            ".d.ckpt.tmp",
            ".gitkeep",
            "e.part",
        ]
        .map(String::from)
        .into();
        assert_eq!(stale(&names), [".b.part", ".c.ckpt", ".d.ckpt.tmp"]);
    }
}
