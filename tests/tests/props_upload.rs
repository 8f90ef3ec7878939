//! Upload properties: what `UploadServer` and `UploadClient` do must not depend on how TCP
//! cuts the stream, how much of each transmit the socket takes, or when the driver calls
//! `handle_timeout` early; their parsing work is linear; any input ends clearly; body bytes
//! reach the driver whole and the digest decides.
//!
//! Every property drives the machines through `unstuck_tests::drive`, which plays a script
//! like an event loop on a virtual clock (deadlines fire when due) and records a transcript:
//! bytes sent, events (body slices merged), how the connection ended. The server's driver
//! accepts every offer and confirms every complete file; the client's driver (`Uploader`)
//! offers its files one by one and feeds each accepted body whole. Case counts come from
//! `PROPTEST_CASES`.

#[path = "oracle/upload.rs"]
mod oracle;
#[path = "sessions/upload.rs"]
mod sessions;
#[path = "support/strategies.rs"]
mod strategies;

use proptest::prelude::*;
use unstuck_core::upload::{Offer, UploadConfig, UploadForm, UploadServer};
use unstuck_core::{Closed, ErrorCode};
use unstuck_tests::drive::wire::{self, UPLOAD};
use unstuck_tests::drive::{
    Act, UploadRecord, Writes, at_once, bytewise, check_linear, run, run_in_place, run_stats,
    split, stream, whole, with_early_ticks,
};

use sessions::{T0, any_c2s, realistic, single_file};
use strategies::{acks, cuts, mangled, ticks};

/// Parser steps per input byte an upload server may take (body bytes are handed out, not
/// parsed, and count as input only).
const SERVER_WORK: u64 = 1;
/// Parser steps per input byte an upload client may take.
const CLIENT_WORK: u64 = 1;

/// The transfers in a server transcript: offer, concatenated body slices, outcome (`None`
/// if the transcript ends before it).
fn transfers(events: &[UploadRecord]) -> Vec<(Offer, Vec<u8>, Option<UploadRecord>)> {
    let mut out: Vec<(Offer, Vec<u8>, Option<UploadRecord>)> = Vec::new();
    for e in events {
        let last = out.last_mut().filter(|t| t.2.is_none());
        match (e, last) {
            (UploadRecord::Detected(_), _) => {}
            (UploadRecord::Offer(o), _) => out.push((o.clone(), Vec::new(), None)),
            (UploadRecord::Body(b), Some(t)) => t.1.extend_from_slice(&b.0),
            (_, Some(t)) => t.2 = Some(e.clone()),
            (_, None) => panic!("{e:?} outside a transfer"),
        }
    }
    out
}

/// The code a run ended with (`by_peer` varies: a server that stored a classic file, or a
/// client that sent it, ends the connection itself).
fn code(closed: Option<Closed>) -> Option<ErrorCode> {
    closed.map(|c| c.code)
}

proptest! {
    #![proptest_config(strategies::config("proptest-regressions/props_upload.txt"))]

    /// Property 1, client→server: an upload server produces the same transcript (events,
    /// with body slices merged, and bytes sent) whether each instant's bytes arrive in one
    /// read or cut at arbitrary points. Native sessions: several files, both digests, refused
    /// offers, flipped body bytes, everything pipelined or message by message, bodies across
    /// the receive buffer; classic: the size ended by LF, CRLF, the first body byte or the
    /// quiet gap, with leading zeros, and sizes over a small limit.
    #[test]
    fn client_to_server_any_chunking(case in any_c2s(true), cuts in cuts()) {
        let a = case.serve(&whole(&case.acts), &Writes::Full);
        let b = case.serve(&split(&case.acts, &cuts), &Writes::Full);
        prop_assert_eq!(a.diff(&b), None);
    }

    /// Property 1, read path: a server read through its own buffer (`recv_buf`, then
    /// `handle_received`, as a zero-copy driver reads) behaves exactly as one fed with
    /// `handle_input`, under any cutting.
    #[test]
    fn reading_in_place_changes_nothing(case in any_c2s(true), cuts in cuts()) {
        let acts = split(&case.acts, &cuts);
        let a = run_in_place(UploadServer::new(case.config.clone(), T0), T0, &acts);
        prop_assert_eq!(a.diff(&case.serve(&acts, &Writes::Full)), None);
    }

    /// Property 1, server→client: an upload client fed a server's answers (HELLO, ACCEPT,
    /// VERIFIED, MISMATCH, REJECT, CLOSE; classic `1001` or `! 413`), each at the instant the
    /// server wrote it, reports the same events and sends the same bytes (offers, bodies,
    /// digests) under any cutting of them.
    #[test]
    fn server_to_client_any_chunking(case in realistic(true), cuts in cuts()) {
        let out = case.server_output();
        let a = run(case.uploader(), T0, &whole(&out), &Writes::Full);
        let b = run(case.uploader(), T0, &split(&out, &cuts), &Writes::Full);
        prop_assert_eq!(a.diff(&b), None);
    }

    /// Property 2: fed one byte per call, the parsers do work linear in the input:
    /// `bytes_scanned <= SERVER_WORK * bytes_in` for the server (native and classic) and
    /// `<= CLIENT_WORK * bytes_in` for the client. Steps are counted, never timed.
    #[test]
    fn parsing_work_is_linear_bytewise(case in realistic(false)) {
        let server = UploadServer::new(case.config.clone(), T0);
        prop_assert_eq!(check_linear(run_stats(server, T0, &bytewise(&case.acts)), SERVER_WORK), Ok(()));
        let s = run_stats(case.uploader(), T0, &bytewise(&case.server_output()));
        prop_assert_eq!(check_linear(s, CLIENT_WORK), Ok(()));
    }

    /// Property 3: when the socket takes only a prefix of each transmit (any length, zero
    /// included), the bytes acknowledged, concatenated, are exactly those of a run with full
    /// writes, and nothing else changes; for the server and for the client.
    #[test]
    fn short_writes_lose_and_duplicate_nothing(case in realistic(true), acks in acks()) {
        let short = Writes::Short(acks);
        prop_assert_eq!(case.serve(&case.acts, &short).diff(&case.serve(&case.acts, &Writes::Full)), None);
        let out = case.server_output();
        let a = run(case.uploader(), T0, &out, &short);
        prop_assert_eq!(a.diff(&run(case.uploader(), T0, &out, &Writes::Full)), None);
    }

    /// Property 4: `handle_timeout` at arbitrary points, at times before the machine's next
    /// deadline (stall timeout, quiet gap after a classic size) and before the next byte
    /// arrives, changes nothing; the baseline is cut at the same points.
    #[test]
    fn early_timer_calls_change_nothing(
        case in realistic(true),
        ticks in ticks(),
    ) {
        let points: Vec<usize> = ticks.iter().map(|t| t.0).collect();
        let full = &Writes::Full;
        let a = case.serve(&with_early_ticks(&case.acts, &ticks), full);
        prop_assert_eq!(a.diff(&case.serve(&split(&case.acts, &points), full)), None);
        let out = case.server_output();
        let a = run(case.uploader(), T0, &with_early_ticks(&out, &ticks), full);
        prop_assert_eq!(a.diff(&run(case.uploader(), T0, &split(&out, &points), full)), None);
    }

    /// Property 5, server: any client bytes, then EOF, never panic and always end: the server
    /// reaches `Done`, closed by the peer, with the same transcript under any cutting, and with
    /// exactly the code `oracle::server_outcome` derives from the spec: 200 only when the
    /// stream was a valid session that ended between transfers (or a classic upload that got
    /// its whole body), a protocol error (400, 413, 421, 426) otherwise.
    #[test]
    fn server_ends_clearly_on_any_input(
        input in mangled(
            any_c2s(false).prop_map(|c| stream(&c.acts)),
            vec![vec![], vec![0xFF], wire::client_hello(UPLOAD), b"12".to_vec()],
        ),
        cuts in cuts(),
    ) {
        let config = UploadConfig::default();
        let serve = |acts: &[Act]| run(UploadServer::new(config.clone(), T0), T0, acts, &Writes::Full);
        let acts = at_once(T0, input.clone());
        let got = serve(&acts);
        prop_assert_eq!(got.diff(&serve(&split(&acts, &cuts))), None);
        prop_assert_eq!(code(got.closed), Some(oracle::server_outcome(&input, config.max_file_size)));
    }

    /// Property 5, client: any server bytes, then EOF, never panic and always end, with the
    /// same transcript under any cutting and exactly the code `oracle::client_outcome` derives
    /// from the spec (the server's CLOSE or refusal code, 200 once the transfer is answered
    /// and the stream ends between frames, 400 otherwise). The client offers one small file;
    /// the bytes are arbitrary, or the server's real answers to it, damaged.
    #[test]
    fn client_ends_clearly_on_any_input(
        (case, input) in single_file().prop_flat_map(|case| {
            let valid = stream(&case.server_output());
            let openings = vec![vec![], wire::server_hello(UPLOAD, 1 << 33), b"1001".to_vec(), b"! 4".to_vec()];
            (Just(case), mangled(Just(valid), openings))
        }),
        cuts in cuts(),
    ) {
        let native = case.form == UploadForm::Native;
        let acts = at_once(T0, input.clone());
        let got = run(case.uploader(), T0, &acts, &Writes::Full);
        prop_assert_eq!(got.diff(&run(case.uploader(), T0, &split(&acts, &cuts), &Writes::Full)), None);
        let want = oracle::client_outcome(&input, native, &case.ups[0].file);
        prop_assert_eq!(code(got.closed), Some(want));
    }

    /// Property 6: under any cutting, the `UploadEvent::Body` slices of each transfer,
    /// concatenated, are exactly the body bytes that travelled, and each transfer ends as the
    /// digest decides: `Complete` with the digest when it matches, `Mismatch` (the client's
    /// and the server's digests) when one body byte was flipped on the way; classic uploads
    /// complete without a digest. Refused offers and oversized classic uploads get no events.
    #[test]
    fn body_bytes_arrive_whole_and_the_digest_decides(
        case in any_c2s(true),
        cuts in cuts(),
    ) {
        let got = case.serve(&split(&case.acts, &cuts), &Writes::Full);
        prop_assert_eq!(transfers(&got.events), case.expected_transfers());
    }
}
