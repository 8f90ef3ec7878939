//! Strategies both property files use: the proptest configuration, cut points, short-write
//! acknowledgements, early timer calls, and damaged input.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// The default configuration (cases from `PROPTEST_CASES`), with failing seeds kept in
/// `tests/proptest-regressions/<name>.txt`, ready to commit.
pub(crate) fn config(regressions: &'static str) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..ProptestConfig::default()
    }
}

/// Arbitrary cut points (`drive::split` takes them modulo the stream length).
pub(crate) fn cuts() -> impl Strategy<Value = Vec<usize>> {
    vec(any::<usize>(), 0..16)
}

/// Arbitrary short-write acknowledgements (`drive::Writes::Short`).
pub(crate) fn acks() -> impl Strategy<Value = Vec<u32>> {
    vec(any::<u32>(), 0..64)
}

/// Arbitrary early timer calls: stream positions and fractions (`drive::with_early_ticks`).
pub(crate) fn ticks() -> impl Strategy<Value = Vec<(usize, u16)>> {
    vec((any::<usize>(), any::<u16>()), 1..8)
}

/// Input that is not (or not only) a valid stream: arbitrary bytes after one of `openings`,
/// or a `valid` stream cut short and/or with up to three bytes flipped.
pub(crate) fn mangled(
    valid: impl Strategy<Value = Vec<u8>>,
    openings: Vec<Vec<u8>>,
) -> impl Strategy<Value = Vec<u8>> {
    let arbitrary =
        (proptest::sample::select(openings), vec(any::<u8>(), 0..200)).prop_map(|(mut s, tail)| {
            s.extend(tail);
            s
        });
    let damaged = (
        valid,
        any::<Option<usize>>(),
        vec((any::<usize>(), 1u8..), 0..4),
    )
        .prop_map(|(mut s, cut, flips)| {
            if let Some(cut) = cut {
                s.truncate(cut % (s.len() + 1));
            }
            let n = s.len().max(1);
            for (i, x) in flips {
                if let Some(b) = s.get_mut(i % n) {
                    *b ^= x;
                }
            }
            s
        });
    prop_oneof![arbitrary, damaged]
}
