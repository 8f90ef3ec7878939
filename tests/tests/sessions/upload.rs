//! Valid upload sessions as a client sends them, native and classic, for the property suite.

use proptest::collection::vec;
use proptest::prelude::*;
use unstuck_core::Instant;
use unstuck_core::digest::Algorithm;
use unstuck_core::upload::{Complete, Offer, UploadConfig, UploadForm, UploadServer};
use unstuck_tests::drive::wire::{self, UPLOAD, digest_of, kind};
use unstuck_tests::drive::{
    Act, Bytes, FileToSend, Transcript, UploadRecord, Uploader, Writes, at_ms, replies, run,
};

/// When every session starts.
pub(crate) const T0: Instant = Instant::ZERO;
/// The default quiet gap that ends a classic size.
pub(crate) const GAP_MS: u64 = 150;

/// `len` bytes that look random, from `seed`: cheap to make and to shrink.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A body: mostly small; with `big`, sometimes about 64 KiB, across the server's smallest
/// receive buffer (65 557 bytes), so that input is refused until body bytes are handed out.
fn body(big: bool) -> impl Strategy<Value = Vec<u8>> {
    let len = if big {
        prop_oneof![8 => 0usize..48, 3 => 48usize..3000, 1 => 65_400usize..66_000].boxed()
    } else {
        prop_oneof![3 => 0usize..48, 1 => 48usize..600].boxed()
    };
    (len, any::<u64>()).prop_map(|(n, seed)| noise(n, seed))
}

/// How an offer breaks the rules of 7.2 (it is then refused and no body follows).
#[derive(Clone, Debug)]
pub(crate) enum Bad {
    Name(Vec<u8>),
    Algorithm(u8),
    Size,
}

/// One file of a native session: perhaps a byte flipped on the way, perhaps a refused offer.
#[derive(Clone, Debug)]
pub(crate) struct Up {
    pub(crate) file: FileToSend,
    pub(crate) flip: Option<(usize, u8)>,
    pub(crate) bad: Option<Bad>,
}

impl Up {
    /// The body as it travels: with `flip`, one byte differs from the file's.
    pub(crate) fn sent_body(&self) -> Vec<u8> {
        let mut b = self.file.body.clone();
        let n = b.len().max(1);
        if let Some((i, x)) = self.flip {
            if let Some(v) = b.get_mut(i % n) {
                *v ^= x;
            }
        }
        b
    }

    /// OFFER, then (unless refused) the body and the DIGEST of the file as it was.
    pub(crate) fn c2s(&self) -> (Vec<u8>, Vec<u8>) {
        let f = &self.file;
        let (mut size, mut alg, mut name) = (
            f.body.len() as u64,
            f.algorithm.to_wire(),
            f.name.as_bytes(),
        );
        match &self.bad {
            Some(Bad::Name(n)) => name = n,
            Some(Bad::Algorithm(a)) => alg = *a,
            Some(Bad::Size) => size = u64::MAX,
            None => {}
        }
        let offer = wire::offer(size, alg, name);
        if self.bad.is_some() {
            return (offer, Vec::new());
        }
        let mut rest = self.sent_body();
        rest.extend(wire::digest_frame(
            kind::DIGEST,
            &digest_of(f.algorithm, &f.body),
        ));
        (offer, rest)
    }
}

pub(crate) fn up(big: bool, bad: bool) -> impl Strategy<Value = Up> {
    let algorithm = prop_oneof![Just(Algorithm::Xxh3Chain), Just(Algorithm::Sha256)];
    let bads = prop_oneof![
        proptest::sample::select(vec![
            Bad::Name(vec![]),
            Bad::Name(b".hidden".to_vec()),
            Bad::Name(b"a/b".to_vec()),
            Bad::Name(b"a\\b".to_vec()),
            Bad::Name(b"bell\x07".to_vec()),
            Bad::Name(vec![0xC3]),
            Bad::Name(vec![b'n'; 256]),
            Bad::Size,
        ]),
        (3u8..).prop_map(Bad::Algorithm),
    ];
    let bad = if bad {
        proptest::option::weighted(0.15, bads).boxed()
    } else {
        Just(None).boxed()
    };
    let flip = proptest::option::weighted(0.2, (any::<usize>(), 1u8..));
    ("f[a-zA-Z0-9_é你. -]{0,15}", algorithm, body(big), flip, bad).prop_map(
        |(name, algorithm, body, flip, bad)| Up {
            file: FileToSend {
                name,
                algorithm,
                body,
            },
            flip,
            bad,
        },
    )
}

/// How a classic size ends (7.5).
#[derive(Clone, Copy, Debug)]
pub(crate) enum End {
    Lf,
    CrLf,
    /// The first body byte, a non-digit, arrives right behind the digits.
    Body,
    /// Nothing: the quiet gap passes before the body comes.
    Gap,
}

/// What a client sends.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) config: UploadConfig,
    pub(crate) form: UploadForm,
    pub(crate) ups: Vec<Up>,
    pub(crate) acts: Vec<Act>,
}

impl Case {
    pub(crate) fn serve(&self, acts: &[Act], writes: &Writes) -> Transcript<UploadRecord> {
        run(UploadServer::new(self.config.clone(), T0), T0, acts, writes)
    }

    /// The server's output as a script for a client: bursts at the instants they were
    /// written, then EOF a second after everything.
    pub(crate) fn server_output(&self) -> Vec<Act> {
        replies(UploadServer::new(self.config.clone(), T0), T0, &self.acts)
    }

    /// A client sending the same files (refused offers are the server's business only).
    pub(crate) fn uploader(&self) -> Uploader {
        let files = self
            .ups
            .iter()
            .filter(|u| u.bad.is_none())
            .map(|u| u.file.clone());
        Uploader::new(self.form, T0, files.collect())
    }

    /// Each transfer the server's driver must see: the offer, the body bytes as they
    /// travelled, and the outcome (Complete with the digest, or Mismatch).
    pub(crate) fn expected_transfers(&self) -> Vec<(Offer, Vec<u8>, Option<UploadRecord>)> {
        let good = self.ups.iter().filter(|u| u.bad.is_none());
        good.filter(|u| u.file.body.len() as u64 <= self.config.max_file_size)
            .map(|u| {
                let (f, sent) = (&u.file, u.sent_body());
                let size = sent.len() as u64;
                if self.form == UploadForm::Classic {
                    let offer = Offer {
                        name: None,
                        size,
                        algorithm: None,
                    };
                    return (
                        offer,
                        sent,
                        Some(UploadRecord::Complete(Complete { digest: None })),
                    );
                }
                let offer = Offer {
                    name: Some(f.name.clone()),
                    size,
                    algorithm: Some(f.algorithm),
                };
                let (theirs, ours) = (
                    digest_of(f.algorithm, &f.body),
                    digest_of(f.algorithm, &sent),
                );
                let outcome = if theirs == ours {
                    UploadRecord::Complete(Complete { digest: Some(ours) })
                } else {
                    UploadRecord::Mismatch {
                        expected: theirs,
                        actual: ours,
                    }
                };
                (offer, sent, Some(outcome))
            })
            .collect()
    }
}

pub(crate) fn server_config(max_file_size: u64, small_buffer: bool) -> UploadConfig {
    let recv_buffer = if small_buffer {
        0
    } else {
        UploadConfig::default().recv_buffer
    };
    UploadConfig {
        max_file_size,
        recv_buffer,
        ..UploadConfig::default()
    }
}

/// A native session. `realistic`: no refused offers, and each message arrives at its own
/// instant, after the server's answer to the one before (what a client waiting for ACCEPT
/// does). Otherwise refused offers may occur and everything may arrive at once (pipelined).
pub(crate) fn native_c2s(realistic: bool, big: bool) -> impl Strategy<Value = Case> {
    let pipelined = if realistic {
        Just(false).boxed()
    } else {
        any::<bool>().boxed()
    };
    (vec(up(big, !realistic), 0..4), pipelined, any::<bool>()).prop_map(
        move |(ups, pipelined, small_buffer)| {
            let mut acts = vec![Act::Bytes(T0, Bytes(wire::client_hello(UPLOAD)))];
            let mut t = 0;
            for u in &ups {
                let (offer, rest) = u.c2s();
                for part in [offer, rest].into_iter().filter(|p| !p.is_empty()) {
                    t += u64::from(!pipelined);
                    acts.push(Act::Bytes(at_ms(t), Bytes(part)));
                }
            }
            acts.push(Act::Eof(at_ms(t)));
            let config = server_config(UploadConfig::default().max_file_size, small_buffer);
            Case {
                config,
                form: UploadForm::Native,
                ups,
                acts,
            }
        },
    )
}

/// A classic upload: the size (perhaps with leading zeros) ended as `End` says, the body
/// right behind it or 1..100 ms later (after the gap, for `End::Gap`), EOF after the body.
/// The size limit is sometimes small, so that `! 413` ends it.
pub(crate) fn classic_c2s(big: bool) -> impl Strategy<Value = Case> {
    let end = prop_oneof![
        Just(End::Lf),
        Just(End::CrLf),
        Just(End::Body),
        Just(End::Gap)
    ];
    let max = prop_oneof![3 => Just(UploadConfig::default().max_file_size), 1 => 0u64..700];
    (
        up(big, false),
        end,
        0usize..3,
        0u64..100,
        max,
        any::<bool>(),
    )
        .prop_map(|(mut u, end, zeros, pause, max, small_buffer)| {
            u.flip = None;
            let body = &mut u.file.body;
            let end = match (end, body.first_mut()) {
                (End::Body, None) => End::Lf,
                (End::Body, Some(b)) => {
                    if b.is_ascii_digit() || *b == b'\r' || *b == b'\n' {
                        *b = b'x';
                    }
                    End::Body
                }
                (e, _) => e,
            };
            let mut size = format!("{}{}", "0".repeat(zeros), body.len()).into_bytes();
            size.extend_from_slice(match end {
                End::Lf => b"\n",
                End::CrLf => b"\r\n",
                End::Body | End::Gap => b"",
            });
            let later = match end {
                End::Gap => GAP_MS + 1 + pause,
                _ => pause,
            };
            let mut acts = vec![Act::Bytes(T0, Bytes(size))];
            if !body.is_empty() {
                acts.push(Act::Bytes(at_ms(later), Bytes(body.clone())));
            }
            acts.push(Act::Eof(at_ms(later)));
            let config = server_config(max, small_buffer);
            Case {
                config,
                form: UploadForm::Classic,
                ups: vec![u],
                acts,
            }
        })
}

pub(crate) fn any_c2s(big: bool) -> impl Strategy<Value = Case> {
    prop_oneof![native_c2s(false, big), classic_c2s(big)]
}

/// Sessions a real client could have had, for feeding the server's answers to a client.
pub(crate) fn realistic(big: bool) -> impl Strategy<Value = Case> {
    prop_oneof![native_c2s(true, big), classic_c2s(big)]
}

/// A realistic session of exactly one small file, native or classic.
pub(crate) fn single_file() -> impl Strategy<Value = Case> {
    let native = native_c2s(true, false).prop_filter("one file", |c| c.ups.len() == 1);
    prop_oneof![native, classic_c2s(false)]
}
