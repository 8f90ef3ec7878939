//! Valid chat sessions as a client sends them, in the three forms, for the property suite.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use unstuck_core::Instant;
use unstuck_core::chat::{
    ChatClient, ChatClientConfig, ChatConfig, ChatServer, ClientForm, Form, Mode, ServerEvent,
};
use unstuck_tests::drive::wire::{self, CHAT, kind};
use unstuck_tests::drive::{Act, Bytes, Transcript, Writes, at_ms, replies, run};

/// When every session starts.
pub(crate) const T0: Instant = Instant::ZERO;
/// The default quiet gap, on both sides.
pub(crate) const GAP_MS: u64 = 150;

/// What a client sends, in one of the three forms.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) config: ChatConfig,
    pub(crate) form: Form,
    pub(crate) messages: Vec<String>,
    pub(crate) acts: Vec<Act>,
}

impl Case {
    pub(crate) fn serve(&self, acts: &[Act], writes: &Writes) -> Transcript<ServerEvent> {
        run(server(&self.config), T0, acts, writes)
    }

    /// The server's output as a script for a client: bursts at the instants they were
    /// written, then EOF a second after everything (so a classic client's gap passes).
    pub(crate) fn server_output(&self) -> Vec<Act> {
        replies(server(&self.config), T0, &self.acts)
    }

    /// A client of the matching form (text forms: classic) that says the same messages.
    pub(crate) fn client(&self) -> ChatClient {
        let form = match self.form {
            Form::Native => ClientForm::Native,
            _ => ClientForm::Classic,
        };
        let mut c = ChatClient::new(
            ChatClientConfig {
                form,
                ..Default::default()
            },
            T0,
        );
        for m in self.messages.iter().filter(|m| !m.is_empty()) {
            c.say(m).expect("a short message on an open client");
        }
        c
    }
}

pub(crate) fn server(c: &ChatConfig) -> ChatServer {
    ChatServer::new(Arc::new(c.clone()), T0)
}

/// A server configuration: bot or room; the default or a small `max_message` (so that short
/// messages take the 413 path too); the seed banner, a short arbitrary one, or one near the
/// 1024-byte bound of a banner line.
pub(crate) fn server_config() -> impl Strategy<Value = ChatConfig> {
    let mode = prop_oneof![Just(Mode::Bot), Just(Mode::Room)];
    let max = prop_oneof![Just(4096usize), 4usize..40];
    let banner = prop_oneof![
        3 => Just(ChatConfig::SEED_BANNER.to_string()),
        1 => "[^\n]{0,12}",
        1 => "[a-z]{1018,1030}",
    ];
    (mode, max, banner).prop_map(|(mode, max_message, banner)| ChatConfig {
        max_message,
        banner,
        ..ChatConfig::new(mode)
    })
}

/// A message: any text (control characters and non-ASCII included), empty, `q`, CR/LF runs,
/// or a text of `max - 6 ..= max + 9` bytes ending in an arbitrary character.
fn message(max: usize) -> impl Strategy<Value = String> {
    let near_max = (0usize..16, any::<char>()).prop_map(move |(d, c)| {
        let n = (max + d).saturating_sub(6).max(c.len_utf8());
        "a".repeat(n - c.len_utf8()) + c.encode_utf8(&mut [0; 4])
    });
    prop_oneof![
        40 => ".{0,10}",
        4 => Just(String::new()),
        1 => Just("q".to_string()),
        3 => "[a\r\n]{1,4}",
        6 => near_max,
    ]
}

/// A configuration and up to 25 messages (more than the flood burst of 20).
fn chat() -> impl Strategy<Value = (ChatConfig, Vec<String>)> {
    server_config().prop_flat_map(|c| {
        let m = message(c.max_message);
        (Just(c), vec(m, 0..26))
    })
}

/// Native: magic, HELLO, a SAY per message, perhaps BYE, all at one instant, then EOF.
pub(crate) fn native_c2s() -> impl Strategy<Value = Case> {
    (chat(), any::<bool>()).prop_map(|((config, messages), bye)| {
        let mut s = wire::client_hello(CHAT);
        for m in &messages {
            s.extend(wire::frame(kind::SAY, m.as_bytes()));
        }
        if bye {
            s.extend(wire::frame(kind::BYE, &[]));
        }
        let acts = vec![Act::Bytes(T0, Bytes(s)), Act::Eof(T0)];
        Case {
            config,
            form: Form::Native,
            messages,
            acts,
        }
    })
}

/// Line form: each message ends in LF or CRLF, the last perhaps in nothing; then EOF.
fn line_c2s() -> impl Strategy<Value = Case> {
    (chat(), vec(any::<bool>(), 26), any::<bool>()).prop_map(|((config, messages), crlf, open)| {
        let mut s = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            s.extend_from_slice(m.as_bytes());
            if !(open && i + 1 == messages.len()) {
                s.extend_from_slice(if crlf[i] { b"\r\n" } else { b"\n" });
            }
        }
        let acts = vec![Act::Bytes(T0, Bytes(s)), Act::Eof(T0)];
        Case {
            config,
            form: Form::Line,
            messages,
            acts,
        }
    })
}

/// Classic: each non-empty message arrives whole at one instant, the next one the quiet gap
/// plus 1..400 ms later; EOF 1..400 ms after the last (before or after its gap passes).
pub(crate) fn classic_c2s() -> impl Strategy<Value = Case> {
    (chat(), vec(1u64..400, 27)).prop_map(|((config, mut messages), pauses)| {
        messages.retain(|m| !m.is_empty());
        let mut acts = Vec::new();
        let mut t = pauses[0] - 1;
        for (m, pause) in messages.iter().zip(&pauses[1..]) {
            acts.push(Act::Bytes(at_ms(t), Bytes(m.clone().into_bytes())));
            t += GAP_MS + pause;
        }
        acts.push(Act::Eof(at_ms(t.saturating_sub(GAP_MS))));
        Case {
            config,
            form: Form::Classic,
            messages,
            acts,
        }
    })
}

pub(crate) fn any_c2s() -> impl Strategy<Value = Case> {
    prop_oneof![native_c2s(), line_c2s(), classic_c2s()]
}
