//! The reader of `spec/vectors/*.vec`, the conformance vectors of `spec/PROTOCOL.md`, and a
//! runner that plays them against the core machines.
//!
//! The format is described in `spec/vectors/README.md`; it is plain text so that another
//! implementation, in any language, can read the same files. Every vector is run whole, byte
//! by byte, split in two at every position of every input step, and with trailing data where
//! it declares some: a conforming machine gives the same answer however TCP cuts the stream.

mod digests;
mod lex;
mod pattern;
mod run;
mod subjects;

pub use digests::{DigestVector, parse_digests};
pub use run::Variant;

use lex::{Tok, bytes_expr, tokens};
use pattern::{Piece, concrete};

/// Which machine a vector drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// `chat-server`: one server-side chat connection (and, in room mode, its room).
    ChatServer,
    /// `chat-client`: the client side of a chat connection.
    ChatClient,
    /// `upload-server`: one server-side upload connection.
    UploadServer,
    /// `upload-client`: the client side of an upload connection.
    UploadClient,
}

/// A configuration value: `key=123`, `key=word` or `key="text"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Int(u64),
    Word(String),
    Text(String),
}

/// Something the test does to the machine.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    In(Vec<u8>),
    Wait(u64),
    Eof,
    Accept,
    Resume(Vec<u8>),
    Reject(u16, String),
    Confirm,
    Fail(u16, String),
    Shutdown,
    Say(String),
    Quit,
    Offer(String, u64, String),
    Feed(Vec<u8>),
    RoomJoin(u32),
    RoomSay(u32, String),
    RoomLeave(u32),
}

/// One expected event argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Arg {
    /// `*`: anything (expectations only).
    Any,
    /// Bytes: a quoted string or `x:HEX`.
    Text(Vec<u8>),
    /// A bare word or number.
    Word(String),
}

/// An event, expected or actual: a name and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) name: String,
    pub(crate) args: Vec<Arg>,
}

/// The machine's state an expectation asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    Closed(Option<u16>),
}

/// What must have happened since the previous expectation block.
#[derive(Clone, Debug, Default)]
pub(crate) struct Expect {
    /// The bytes sent, concatenated over the block's `out` lines.
    pub(crate) out: Vec<Piece>,
    /// `unchecked`: the spec leaves this block's output open.
    pub(crate) unchecked: bool,
    pub(crate) events: Vec<Event>,
    pub(crate) state: Option<State>,
}

/// A step of a vector and the line it came from.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Act(usize, Action),
    Expect(usize, Expect),
}

/// One test vector.
#[derive(Clone, Debug)]
pub struct Vector {
    name: String,
    file: String,
    line: usize,
    machine: Machine,
    config: Vec<(String, Value)>,
    trailing: Option<Vec<u8>>,
    steps: Vec<Step>,
}

impl Vector {
    /// The vector's name, unique within its file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Which machine it drives.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    /// Where it starts, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Whether it declares trailing data.
    pub fn has_trailing(&self) -> bool {
        self.trailing.is_some()
    }
}

/// Parses a `.vec` file; `file` names it in messages.
pub fn parse(file: &str, text: &str) -> Result<Vec<Vector>, String> {
    let mut vectors: Vec<Vector> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let toks = tokens(line).map_err(|e| format!("{file}:{n}: {e}"))?;
        let Some((Tok::Word(key), rest)) = toks.split_first() else {
            if toks.is_empty() {
                continue;
            }
            return Err(format!("{file}:{n}: a line starts with a keyword"));
        };
        if key == "vector" {
            let [Tok::Word(name)] = rest else {
                return Err(format!("{file}:{n}: vector NAME"));
            };
            if vectors.iter().any(|v| &v.name == name) {
                return Err(format!("{file}:{n}: duplicate vector {name}"));
            }
            vectors.push(Vector {
                name: name.clone(),
                file: file.into(),
                line: n,
                machine: Machine::ChatServer,
                config: Vec::new(),
                trailing: None,
                steps: Vec::new(),
            });
            continue;
        }
        let v = vectors
            .last_mut()
            .ok_or_else(|| format!("{file}:{n}: no vector started"))?;
        line_into(v, n, key, rest).map_err(|e| format!("{file}:{n}: {e}"))?;
    }
    for v in &vectors {
        match v.steps.last() {
            Some(Step::Expect(_, e)) if e.state.is_some() => {}
            _ => {
                return Err(format!(
                    "{}: must end with `open` or `closed`",
                    v.location()
                ));
            }
        }
    }
    Ok(vectors)
}

fn line_into(v: &mut Vector, n: usize, key: &str, rest: &[Tok]) -> Result<(), String> {
    match key {
        "machine" => {
            v.machine = match rest {
                [Tok::Word(m)] if m == "chat-server" => Machine::ChatServer,
                [Tok::Word(m)] if m == "chat-client" => Machine::ChatClient,
                [Tok::Word(m)] if m == "upload-server" => Machine::UploadServer,
                [Tok::Word(m)] if m == "upload-client" => Machine::UploadClient,
                _ => return Err("unknown machine".into()),
            };
        }
        "config" => v.config.extend(config(rest)?),
        "trailing" => v.trailing = Some(concrete(&bytes_expr(rest, false)?)?),
        "out" | "unchecked" | "event" | "quiet" | "open" | "closed" => {
            if !matches!(v.steps.last(), Some(Step::Expect(..))) {
                v.steps.push(Step::Expect(n, Expect::default()));
            }
            let Some(Step::Expect(_, e)) = v.steps.last_mut() else {
                unreachable!("an expectation block was just ensured");
            };
            expectation(e, key, rest)?;
        }
        _ => v.steps.push(Step::Act(n, action(key, rest)?)),
    }
    Ok(())
}

fn config(rest: &[Tok]) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    let mut it = rest.iter();
    while let Some(t) = it.next() {
        let Tok::Word(w) = t else {
            return Err("config key=value".into());
        };
        let (k, val) = w.split_once('=').ok_or("config key=value")?;
        let value = if val.is_empty() {
            match it.next() {
                Some(Tok::Str(s, 1)) => {
                    Value::Text(String::from_utf8(s.clone()).map_err(|_| "config text: UTF-8")?)
                }
                _ => return Err(format!("config {k}= needs a value")),
            }
        } else if let Ok(i) = val.parse() {
            Value::Int(i)
        } else {
            Value::Word(val.into())
        };
        out.push((k.to_string(), value));
    }
    Ok(out)
}

fn expectation(e: &mut Expect, key: &str, rest: &[Tok]) -> Result<(), String> {
    match key {
        "out" => e.out.extend(bytes_expr(rest, true)?),
        "unchecked" => e.unchecked = true,
        "event" => e.events.push(event(rest)?),
        "quiet" => {}
        "open" => e.state = Some(State::Open),
        "closed" => {
            e.state = Some(State::Closed(match rest {
                [] => None,
                [Tok::Word(c)] => Some(c.parse().map_err(|_| "closed [CODE]")?),
                _ => return Err("closed [CODE]".into()),
            }))
        }
        _ => unreachable!("only expectation keywords get here"),
    }
    Ok(())
}

fn event(rest: &[Tok]) -> Result<Event, String> {
    let Some((Tok::Word(name), args)) = rest.split_first() else {
        return Err("event NAME ARGS".into());
    };
    let args = args
        .iter()
        .map(|t| match t {
            Tok::Str(s, rep) => Ok(Arg::Text(s.repeat(*rep))),
            Tok::Word(w) if w == "*" => Ok(Arg::Any),
            Tok::Word(w) => match w.strip_prefix("x:") {
                Some(h) => lex::hex(h).map(Arg::Text).ok_or(format!("bad hex {w}")),
                None => Ok(Arg::Word(w.clone())),
            },
            _ => Err("event arguments are strings, words, numbers, x:HEX or *".to_string()),
        })
        .collect::<Result<_, _>>()?;
    Ok(Event {
        name: name.clone(),
        args,
    })
}

fn text(toks: &[Tok]) -> Result<String, String> {
    String::from_utf8(concrete(&bytes_expr(toks, false)?)?).map_err(|_| "text must be UTF-8".into())
}

fn number<T: std::str::FromStr>(t: Option<&Tok>) -> Result<T, String> {
    match t {
        Some(Tok::Word(w)) => w.parse().map_err(|_| format!("not a number: {w}")),
        _ => Err("a number is missing".into()),
    }
}

fn action(key: &str, rest: &[Tok]) -> Result<Action, String> {
    let bytes = || concrete(&bytes_expr(rest, false)?);
    Ok(match key {
        "in" => Action::In(bytes()?),
        "wait" => Action::Wait(number(rest.first())?),
        "eof" => Action::Eof,
        "accept" => Action::Accept,
        "resume" => Action::Resume(bytes()?),
        "reject" => Action::Reject(number(rest.first())?, text(rest.get(1..).unwrap_or(&[]))?),
        "fail" => Action::Fail(number(rest.first())?, text(rest.get(1..).unwrap_or(&[]))?),
        "confirm" => Action::Confirm,
        "shutdown" => Action::Shutdown,
        "say" => Action::Say(text(rest)?),
        "quit" => Action::Quit,
        "offer" => match rest {
            [name, size, Tok::Word(alg)] => Action::Offer(
                text(std::slice::from_ref(name))?,
                number(Some(size))?,
                alg.clone(),
            ),
            _ => return Err("offer NAME SIZE ALGORITHM".into()),
        },
        "feed" => Action::Feed(bytes()?),
        "room-join" => Action::RoomJoin(number(rest.first())?),
        "room-leave" => Action::RoomLeave(number(rest.first())?),
        "room-say" => Action::RoomSay(number(rest.first())?, text(rest.get(1..).unwrap_or(&[]))?),
        _ => return Err(format!("unknown keyword {key}")),
    })
}
