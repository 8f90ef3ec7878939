//! Known answers, split invariance and checkpoint round trips.

use alloc::string::ToString;
use alloc::vec::Vec;

use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use super::{Algorithm, BLOCK, Checkpoint, Digest, Hasher};

const BLOCK_USIZE: usize = BLOCK as usize;

/// The vector-file input `pattern:<len>`: byte `i` is `i % 251`.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The xxh3-chain definition, written the obvious way: whole blocks,
/// concatenated buffers, one-shot XXH3-128.
fn reference_xxh3_chain(data: &[u8]) -> [u8; 16] {
    let mut blocks: Vec<&[u8]> = data.chunks(BLOCK_USIZE).collect();
    if blocks.is_empty() {
        blocks.push(&[]);
    }
    let mut h = [0u8; 16];
    for block in blocks {
        let mut buf = Vec::with_capacity(16 + block.len());
        buf.extend_from_slice(&h);
        buf.extend_from_slice(block);
        h = xxh3_128(&buf).to_be_bytes();
    }
    h
}

fn one_shot(algorithm: Algorithm, data: &[u8]) -> Digest {
    let mut h = Hasher::new(algorithm);
    h.update(data);
    h.finish()
}

/// Hashes `data` in pieces of the given sizes, cycling through them.
fn split(algorithm: Algorithm, data: &[u8], sizes: &[usize]) -> Digest {
    let mut h = Hasher::new(algorithm);
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at(size.min(rest.len()));
        h.update(now);
        h.update(&[]);
        rest = later;
    }
    assert_eq!(h.offset(), data.len() as u64);
    h.finish()
}

fn hex(bytes: &[u8]) -> alloc::string::String {
    bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
}

#[test]
fn sha256_known_answers() {
    assert_eq!(
        one_shot(Algorithm::Sha256, b"").to_string(),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        one_shot(Algorithm::Sha256, b"abc").to_string(),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // FIPS 180-2 two-block message: padding spills into a second block.
    assert_eq!(
        hex(one_shot(
            Algorithm::Sha256,
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )
        .as_bytes()),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    // `sha256sum` of pattern:8388613, crossing two BLOCK boundaries.
    assert_eq!(
        hex(one_shot(Algorithm::Sha256, &pattern(2 * BLOCK_USIZE + 5)).as_bytes()),
        SHA256_PATTERN_2_BLOCKS_PLUS_5
    );
}

/// `sha256sum` of `pattern:8388613`, computed outside this crate.
const SHA256_PATTERN_2_BLOCKS_PLUS_5: &str =
    "75934ec6907d95413c119970cc9a88dccecccd86bdfbcee656af4e3c520e5a89";

#[test]
fn sha256_padding_edges() {
    // Lengths around the 56-byte padding limit and the 64-byte block.
    for len in [55, 56, 57, 63, 64, 65, 119, 120, 128] {
        let data = pattern(len);
        let one = one_shot(Algorithm::Sha256, &data);
        assert_eq!(split(Algorithm::Sha256, &data, &[1]), one, "len {len}");
        assert_eq!(split(Algorithm::Sha256, &data, &[60, 3]), one, "len {len}");
    }
}

#[test]
fn xxh3_chain_matches_reference() {
    for data in [
        Vec::from(&b""[..]),
        Vec::from(&b"abc"[..]),
        pattern(BLOCK_USIZE - 1),
        pattern(BLOCK_USIZE),
        pattern(BLOCK_USIZE + 1),
        pattern(2 * BLOCK_USIZE),
        pattern(2 * BLOCK_USIZE + 5),
    ] {
        let digest = one_shot(Algorithm::Xxh3Chain, &data);
        assert_eq!(digest.algorithm(), Algorithm::Xxh3Chain);
        assert_eq!(
            digest.as_bytes(),
            reference_xxh3_chain(&data),
            "len {}",
            data.len()
        );
    }
    // The empty input is one empty block: XXH3-128 of h0 alone.
    assert_eq!(
        one_shot(Algorithm::Xxh3Chain, b"").as_bytes(),
        xxh3_128(&[0u8; 16]).to_be_bytes()
    );
}

#[test]
fn splits_do_not_matter() {
    let big = pattern(2 * BLOCK_USIZE + 5);
    let small = pattern(10_000);
    for algorithm in Algorithm::ALL {
        let whole = one_shot(algorithm, &big);
        for sizes in [
            &[BLOCK_USIZE - 1][..],
            &[BLOCK_USIZE + 1],
            &[BLOCK_USIZE, 2],
            &[3, 64, 1_000_003],
            &[65_536, 63, 1, 127],
            &[777_777],
        ] {
            assert_eq!(
                split(algorithm, &big, sizes),
                whole,
                "{algorithm} {sizes:?}"
            );
        }
        // Byte by byte across the first boundary.
        let mut h = Hasher::new(algorithm);
        let (head, tail) = big.split_at(BLOCK_USIZE - 5_000);
        h.update(head);
        let (around, tail) = tail.split_at(10_000);
        for b in around {
            h.update(core::slice::from_ref(b));
        }
        h.update(tail);
        assert_eq!(h.finish(), whole, "{algorithm} byte by byte");

        let whole = one_shot(algorithm, &small);
        assert_eq!(split(algorithm, &small, &[1]), whole, "{algorithm}");
        assert_eq!(split(algorithm, &small, &[5, 64, 1]), whole, "{algorithm}");
    }
}

#[test]
fn finish_does_not_consume() {
    let data = pattern(BLOCK_USIZE + 10);
    for algorithm in Algorithm::ALL {
        let mut h = Hasher::new(algorithm);
        assert_eq!(h.finish(), h.finish());
        assert_eq!(h.finish(), one_shot(algorithm, b""));
        for cut in [3, BLOCK_USIZE, BLOCK_USIZE + 10] {
            let already = usize::try_from(h.offset()).unwrap();
            h.update(&data[already..cut]);
            assert_eq!(
                h.finish(),
                one_shot(algorithm, &data[..cut]),
                "{algorithm} {cut}"
            );
            assert_eq!(h.finish(), h.finish());
        }
        let clone = h.clone();
        assert_eq!(clone.finish(), h.finish());
        assert_eq!(clone.algorithm(), algorithm);
    }
}

#[test]
fn checkpoint_round_trip() {
    let data = pattern(2 * BLOCK_USIZE + 5);
    for algorithm in Algorithm::ALL {
        let whole = one_shot(algorithm, &data);
        for at in [
            0,
            100,
            BLOCK_USIZE - 1,
            BLOCK_USIZE,
            BLOCK_USIZE + 7,
            data.len(),
        ] {
            let mut h = Hasher::new(algorithm);
            h.update(&data[..at]);
            let cp = h.checkpoint();
            assert_eq!(cp.algorithm(), algorithm);
            assert_eq!(cp.offset(), at as u64 / BLOCK * BLOCK);
            let decoded = Checkpoint::decode(&cp.encode()).unwrap();
            assert_eq!(decoded, cp);
            let mut resumed = Hasher::resume(&decoded);
            assert_eq!(resumed.offset(), cp.offset());
            assert_eq!(resumed.algorithm(), algorithm);
            assert_eq!(resumed.checkpoint(), cp);
            let from = usize::try_from(cp.offset()).unwrap();
            resumed.update(&data[from..]);
            assert_eq!(resumed.finish(), whole, "{algorithm} at {at}");
        }
        // Resuming right at a boundary finishes like the unsplit prefix.
        let mut h = Hasher::new(algorithm);
        h.update(&data[..BLOCK_USIZE]);
        let resumed = Hasher::resume(&h.checkpoint());
        assert_eq!(resumed.finish(), one_shot(algorithm, &data[..BLOCK_USIZE]));
    }
}

#[test]
fn encoded_sizes() {
    assert_eq!(
        Hasher::new(Algorithm::Xxh3Chain)
            .checkpoint()
            .encode()
            .len(),
        39
    );
    assert_eq!(
        Hasher::new(Algorithm::Sha256).checkpoint().encode().len(),
        55
    );
}

/// Re-seals a hand-edited encoding with a fresh integrity check.
fn reseal(mut body: Vec<u8>) -> Vec<u8> {
    let check = xxh3_64(&body);
    body.extend_from_slice(&check.to_be_bytes());
    body
}

#[test]
fn decode_rejects_damage() {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(&pattern(BLOCK_USIZE + 1));
    for cp in [
        h.checkpoint(),
        Hasher::new(Algorithm::Xxh3Chain).checkpoint(),
    ] {
        let good = cp.encode();
        for len in 0..good.len() {
            assert!(Checkpoint::decode(&good[..len]).is_err(), "prefix {len}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(Checkpoint::decode(&longer).is_err());
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                assert!(Checkpoint::decode(&bad).is_err(), "byte {i} bit {bit}");
            }
        }
        let body = &good[..good.len() - 8];
        // Well-sealed but invalid fields.
        let edits: [(usize, u8); 5] = [
            (4, 2),   // version
            (5, 0),   // algorithm 0
            (5, 9),   // unknown algorithm
            (13, 1),  // offset 1 byte past a boundary
            (14, 17), // state length
        ];
        for (at, value) in edits {
            let mut bad = body.to_vec();
            bad[at] = value;
            let err = Checkpoint::decode(&reseal(bad)).unwrap_err();
            assert!(!err.to_string().is_empty());
        }
        // The other algorithm's id with this state length.
        let mut bad = body.to_vec();
        bad[5] = if bad[5] == 1 { 2 } else { 1 };
        assert!(Checkpoint::decode(&reseal(bad)).is_err());
    }
}

#[test]
fn decode_never_panics() {
    // Deterministic junk of every length up to a little past the largest
    // encoding, with and without a valid seal.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in 0..80 {
        for _ in 0..200 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = Checkpoint::decode(&junk);
            let mut sealed = b"UCKP\x01".to_vec();
            sealed.extend_from_slice(&junk);
            let _ = Checkpoint::decode(&reseal(sealed));
        }
    }
}

#[test]
fn algorithm_ids_and_names() {
    assert_eq!(Algorithm::DEFAULT, Algorithm::Xxh3Chain);
    for a in Algorithm::ALL {
        assert_eq!(Algorithm::from_wire(a.to_wire()), Some(a));
        assert_eq!(Algorithm::from_name(a.name()), Some(a));
        assert_eq!(Hasher::new(a).finish().as_bytes().len(), a.digest_len());
    }
    assert_eq!(Algorithm::Xxh3Chain.to_wire(), 1);
    assert_eq!(Algorithm::Sha256.to_wire(), 2);
    assert_eq!(Algorithm::from_wire(0), None);
    assert_eq!(Algorithm::from_wire(3), None);
    assert_eq!(Algorithm::from_name("SHA256"), None);
    assert_eq!(
        Algorithm::from_name("xxh3-chain"),
        Some(Algorithm::Xxh3Chain)
    );
}

#[test]
fn digest_value() {
    assert!(Digest::new(Algorithm::Sha256, &[0; 16]).is_none());
    assert!(Digest::new(Algorithm::Xxh3Chain, &[0; 32]).is_none());
    let d = one_shot(Algorithm::Xxh3Chain, b"abc");
    let again = Digest::new(Algorithm::Xxh3Chain, d.as_bytes()).unwrap();
    assert_eq!(again, d);
    assert_ne!(Digest::new(Algorithm::Sha256, &[0; 32]), None);
    let text = d.to_string();
    assert_eq!(alloc::format!("{d:?}"), text);
    assert_eq!(text, alloc::format!("xxh3-chain:{}", hex(d.as_bytes())));
}
