//! Chat properties: what `ChatServer` and `ChatClient` do must not depend on how TCP cuts the
//! stream, how much of each transmit the socket takes, or when the driver calls
//! `handle_timeout` early; their parsing work is linear; any input ends clearly.
//!
//! Every property drives the machines through `unstuck_tests::drive`, which plays a script
//! like an event loop on a virtual clock (deadlines fire when due) and records a transcript:
//! bytes sent, events, how the connection ended. Case counts come from `PROPTEST_CASES`.

#[path = "oracle/chat.rs"]
mod oracle;
#[path = "sessions/chat.rs"]
mod sessions;
#[path = "support/strategies.rs"]
mod strategies;

use proptest::collection::vec;
use proptest::prelude::*;
use unstuck_core::chat::{ChatClient, ChatClientConfig, ChatConfig, ClientForm, Form, ServerEvent};
use unstuck_core::{Closed, ErrorCode};
use unstuck_tests::drive::wire::{self, CHAT, MAGIC};
use unstuck_tests::drive::{
    Act, Bytes, Writes, at_ms, at_once, bytewise, check_linear, run, run_in_place, run_stats,
    split, stream, whole, with_early_ticks,
};

use sessions::{GAP_MS, T0, any_c2s, classic_c2s, native_c2s, server, server_config};
use strategies::{acks, cuts, mangled, ticks};

/// Parser steps per input byte a chat server may take: the first text message is searched
/// for LF while the form is open, then parsed again once the form is known.
const SERVER_WORK: u64 = 2;
/// Parser steps per input byte a chat client may take: every byte is looked at once.
const CLIENT_WORK: u64 = 1;

fn by_peer(code: ErrorCode) -> Option<Closed> {
    Some(Closed {
        code,
        by_peer: true,
    })
}

/// Classic form as the bot renders it: the text echoed exactly, no line end.
fn classic_reply(text: &str) -> String {
    text.to_string() + ",你好"
}

proptest! {
    #![proptest_config(strategies::config("proptest-regressions/props_chat.txt"))]

    /// Property 1, client→server: a chat server produces the same transcript (events and
    /// bytes sent) whether each instant's bytes arrive in one read or cut at arbitrary points.
    /// Covers native (SAYs, BYE), line (LF and CRLF, unterminated last line) and classic (one
    /// burst per message, ended by the quiet gap) streams in bot and room mode, with empty
    /// messages, `q`, floods past the burst of 20, and messages around `max_message`. This is
    /// the sticky-packet guarantee: message boundaries come from the stream, not the reads.
    #[test]
    fn client_to_server_any_chunking(case in any_c2s(), cuts in cuts()) {
        let a = case.serve(&whole(&case.acts), &Writes::Full);
        let b = case.serve(&split(&case.acts, &cuts), &Writes::Full);
        prop_assert_eq!(a.diff(&b), None);
    }

    /// Property 1, read path: a server read through its own buffer (`recv_buf`, then
    /// `handle_received`, as a zero-copy driver reads) behaves exactly as one fed with
    /// `handle_input`, under any cutting.
    #[test]
    fn reading_in_place_changes_nothing(case in any_c2s(), cuts in cuts()) {
        let acts = split(&case.acts, &cuts);
        let a = run_in_place(server(&case.config), T0, &acts);
        prop_assert_eq!(a.diff(&case.serve(&acts, &Writes::Full)), None);
    }

    /// Property 1, server→client: a chat client fed a server's output (native: banner, magic,
    /// HELLO, REPLY/MESSAGE/ERROR/CLOSE frames; classic: timed bursts ended by its own quiet
    /// gap) reports the same events and sends the same bytes under any cutting of it. Banners
    /// near the 1024-byte line bound are included.
    #[test]
    fn server_to_client_any_chunking(
        case in prop_oneof![native_c2s(), classic_c2s()],
        cuts in cuts(),
    ) {
        let out = case.server_output();
        let a = run(case.client(), T0, &whole(&out), &Writes::Full);
        let b = run(case.client(), T0, &split(&out, &cuts), &Writes::Full);
        prop_assert_eq!(a.diff(&b), None);
    }

    /// Property 2: fed one byte per call, the parsers do work linear in the input:
    /// `bytes_scanned <= SERVER_WORK * bytes_in` for the server in every form and
    /// `<= CLIENT_WORK * bytes_in` for both client forms. Steps are counted, never timed, so
    /// the property is exact: a parser that rescans its buffer on every byte fails at once.
    #[test]
    fn parsing_work_is_linear_bytewise(case in any_c2s()) {
        let s = run_stats(server(&case.config), T0, &bytewise(&case.acts));
        prop_assert_eq!(check_linear(s, SERVER_WORK), Ok(()));
        let s = run_stats(case.client(), T0, &bytewise(&case.server_output()));
        prop_assert_eq!(check_linear(s, CLIENT_WORK), Ok(()));
    }

    /// Property 3: when the socket takes only a prefix of each transmit (any length, zero
    /// included), the bytes acknowledged, concatenated, are exactly those of a run with full
    /// writes, and nothing else changes: nothing is lost, repeated or reordered. Server and
    /// client (which also says the case's messages).
    #[test]
    fn short_writes_lose_and_duplicate_nothing(case in any_c2s(), acks in acks()) {
        let short = Writes::Short(acks);
        prop_assert_eq!(case.serve(&case.acts, &short).diff(&case.serve(&case.acts, &Writes::Full)), None);
        let out = case.server_output();
        let a = run(case.client(), T0, &out, &short);
        let b = run(case.client(), T0, &out, &Writes::Full);
        prop_assert_eq!(a.diff(&b), None);
    }

    /// Property 4a: `handle_timeout` called at arbitrary points of the stream, at times before
    /// the machine's next deadline (idle timeout, quiet gap since the last byte) and before the
    /// next byte arrives, changes nothing: time only matters once a deadline is reached. The
    /// baseline is cut at the same points, so that only the timer calls differ.
    #[test]
    fn early_timer_calls_change_nothing(
        case in any_c2s(),
        ticks in ticks(),
    ) {
        let points: Vec<usize> = ticks.iter().map(|t| t.0).collect();
        let full = &Writes::Full;
        let a = case.serve(&with_early_ticks(&case.acts, &ticks), full);
        prop_assert_eq!(a.diff(&case.serve(&split(&case.acts, &points), full)), None);
        let out = case.server_output();
        let a = run(case.client(), T0, &with_early_ticks(&out, &ticks), full);
        prop_assert_eq!(a.diff(&run(case.client(), T0, &split(&out, &points), full)), None);
    }

    /// Property 4b: in the classic form, a `handle_timeout` at the instant the quiet gap has
    /// passed ends the message exactly there, even if the next bytes arrive at that same
    /// instant; bytes that arrive 1 ms before the gap passes (with a timeout at that instant)
    /// continue the message. The bot's answers are checked byte for byte.
    #[test]
    fn classic_timeout_ends_the_message_exactly_at_the_gap(
        first in "[a-pr-zé你 \r]{1,8}",
        rest in vec("[a-pr-zé你 \r\n]{1,8}", 0..6),
        at_gap in any::<bool>(),
        ticks in vec((any::<usize>(), any::<u16>()), 0..4),
    ) {
        // Within one gap an LF would make the form line: keep LF only where the form is known.
        let rest = rest.into_iter().map(|s| if at_gap { s } else { s.replace('\n', "\r") });
        let segments: Vec<String> = std::iter::once(first).chain(rest).collect();
        let step = if at_gap { GAP_MS } else { GAP_MS - 1 };
        let mut acts = Vec::new();
        for (i, s) in (0u64..).zip(&segments) {
            acts.push(Act::Bytes(at_ms(i * step), Bytes(s.clone().into_bytes())));
            acts.push(Act::Tick(at_ms((i + 1) * step)));
        }
        // EOF once the last gap has passed: EOF with the form still open would make it line.
        acts.push(Act::Eof(at_ms((segments.len() as u64 - 1) * step + GAP_MS)));
        let got = run(server(&ChatConfig::default()), T0, &with_early_ticks(&acts, &ticks), &Writes::Full);
        let mut want = format!("{}\n", ChatConfig::SEED_BANNER);
        if at_gap {
            want.extend(segments.iter().map(|s| classic_reply(s)));
        } else {
            want += &classic_reply(&segments.concat());
        }
        prop_assert_eq!(got.sent, Bytes(want.into_bytes()));
        prop_assert_eq!(got.events, vec![ServerEvent::Detected(Form::Classic)]);
        prop_assert_eq!(got.closed, by_peer(ErrorCode::Bye));
    }

    /// Property 5, server: any client bytes, then EOF, never panic and always end: the server
    /// reaches `Done`, closed by the peer, with the same transcript under any cutting.
    /// Text forms (first byte not 0xFF) accept every byte string as messages, so they end with
    /// 200. A native stream ends exactly as `oracle::server_outcome` says from the spec: 200
    /// only after BYE, `q`, or EOF between whole frames of a valid stream; otherwise a protocol
    /// error (400, 421, 426), never a silent 200 on garbage after a valid prefix.
    #[test]
    fn server_ends_clearly_on_any_input(
        config in server_config(),
        input in mangled(
            native_c2s().prop_map(|c| stream(&c.acts)),
            vec![vec![], vec![0xFF], MAGIC.to_vec(), wire::client_hello(CHAT)],
        ),
        cuts in cuts(),
    ) {
        let acts = at_once(T0, input.clone());
        let got = run(server(&config), T0, &acts, &Writes::Full);
        prop_assert_eq!(got.diff(&run(server(&config), T0, &split(&acts, &cuts), &Writes::Full)), None);
        let want = match input.first() {
            Some(0xFF) => oracle::server_outcome(&input, config.max_message, config.flood_burst),
            _ => ErrorCode::Bye,
        };
        prop_assert_eq!(got.closed, by_peer(want));
    }

    /// Property 5, client: any server bytes, then EOF, never panic and always end, with the
    /// same transcript under any cutting. A classic client takes every burst as a message and
    /// ends with 200; a native one ends exactly as `oracle::client_outcome` says: the code of
    /// the server's CLOSE, 200 after EOF between whole frames, else 400.
    #[test]
    fn client_ends_clearly_on_any_input(
        native in any::<bool>(),
        input in mangled(
            native_c2s().prop_map(|c| stream(&c.server_output())),
            vec![vec![], b"hi\n".to_vec(), [&b"hi\n"[..], &MAGIC].concat(),
                 [&b"hi\n"[..], &wire::server_hello(CHAT, 4096)].concat()],
        ),
        cuts in cuts(),
    ) {
        let form = if native { ClientForm::Native } else { ClientForm::Classic };
        let client = || ChatClient::new(ChatClientConfig { form, ..Default::default() }, T0);
        let acts = at_once(T0, input.clone());
        let got = run(client(), T0, &acts, &Writes::Full);
        prop_assert_eq!(got.diff(&run(client(), T0, &split(&acts, &cuts), &Writes::Full)), None);
        let want = if native { oracle::client_outcome(&input) } else { ErrorCode::Bye };
        prop_assert_eq!(got.closed, by_peer(want));
    }
}
