//! The four machines behind one interface, with a vector's config and driver actions.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use unstuck_core::chat::{
    ChatClient, ChatClientConfig, ChatConfig, ChatServer, ClientEvent, ClientForm, Delivery, Mode,
    Room, ServerEvent, Target,
};
use unstuck_core::digest::{Algorithm, Checkpoint, Hasher};
use unstuck_core::upload::{
    UploadClient, UploadClientEvent, UploadConfig, UploadEvent, UploadForm, UploadServer,
};
use unstuck_core::{ErrorCode, Instant, Output};

use crate::machine::{Core, HoldsIo, holds_conn};

use super::run::{Polled, Record, STEP_CAP};
use super::{Action, Arg, Machine, Value, Vector};

/// A machine as the runner sees it.
///
/// Input, EOF and timeouts go straight to the machine ([`HoldsIo`]).
pub(crate) trait Subject: HoldsIo {
    /// A driver action other than input, time and EOF.
    fn act(&mut self, now: Instant, action: &Action, rec: &mut Record) -> Result<(), String>;
    /// Drains `poll_output`, acknowledging every transmit in full.
    fn poll(&mut self, rec: &mut Record) -> Result<Polled, String>;
}

/// Builds the vector's machine with its config.
pub(crate) fn new(v: &Vector) -> Result<Box<dyn Subject>, String> {
    Ok(match v.machine {
        Machine::ChatServer => Box::new(ChatServerSubject::new(&v.config)?),
        Machine::ChatClient => Box::new(ChatClientSubject::new(&v.config)?),
        Machine::UploadServer => Box::new(UploadServerSubject::new(&v.config)?),
        Machine::UploadClient => Box::new(UploadClientSubject::new(&v.config)?),
    })
}

fn int(v: &Value) -> Result<u64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(format!("{other:?} is not a number")),
    }
}

fn ms(v: &Value) -> Result<Duration, String> {
    int(v).map(Duration::from_millis)
}

fn word(v: &Value) -> &str {
    match v {
        Value::Word(w) | Value::Text(w) => w,
        Value::Int(_) => "",
    }
}

fn size(v: &Value) -> Result<usize, String> {
    usize::try_from(int(v)?).map_err(|e| e.to_string())
}

fn text(t: &str) -> Arg {
    Arg::Text(t.as_bytes().to_vec())
}

fn num(n: impl ToString) -> Arg {
    Arg::Word(n.to_string())
}

fn refused(action: &Action, e: impl std::fmt::Display) -> String {
    format!("{action:?} refused: {e}")
}

fn unsupported(action: &Action) -> String {
    format!("{action:?} does not apply to this machine")
}

fn code(n: u16) -> Result<ErrorCode, String> {
    ErrorCode::from_u16(n).ok_or(format!("unknown code {n}"))
}

/// Drains `conn`'s `poll_output` until it waits, as [`Subject::poll`] does: every transmit
/// recorded and acknowledged in full, every event recorded under the name and arguments `event`
/// gives it. The subjects differ only in their events.
fn drain<C: Core>(
    conn: &mut C,
    rec: &mut Record,
    mut event: impl FnMut(C::Event<'_>) -> Result<(&'static str, Vec<Arg>), String>,
) -> Result<Polled, String> {
    for _ in 0..STEP_CAP {
        // The output (and its event) may borrow `conn`: the acknowledgement waits until the
        // match has let it go.
        let sent = match conn.poll_output() {
            Output::Transmit(b) => {
                rec.out.extend_from_slice(b);
                b.len()
            }
            Output::Event(e) => {
                let (name, args) = event(e)?;
                rec.event(name, args);
                continue;
            }
            Output::Wait(w) => return Ok(Polled::Wait(w.deadline)),
            Output::Done(c) => return Ok(Polled::Done(c.code.to_u16())),
        };
        conn.handle_sent(sent).map_err(|e| e.to_string())?;
    }
    Err("poll_output never waits".into())
}

/// The connection's id in its room; phantom members use other ids.
const ME: u32 = 0;

struct ChatServerSubject {
    conn: ChatServer,
    room: Option<Room<u32>>,
}

impl ChatServerSubject {
    fn new(config: &[(String, Value)]) -> Result<Self, String> {
        let mut c = ChatConfig::default();
        for (k, v) in config {
            match k.as_str() {
                "mode" if word(v) == "bot" => c.mode = Mode::Bot,
                "mode" if word(v) == "room" => c.mode = Mode::Room,
                "banner" => c.banner = word(v).into(),
                "max_message" => c.max_message = size(v)?,
                "quiet_gap" => c.quiet_gap = ms(v)?,
                "idle_timeout" => c.idle_timeout = ms(v)?,
                "flood_burst" => c.flood_burst = int(v)? as u32,
                "flood_rate" => c.flood_rate = int(v)? as u32,
                "send_queue" => c.send_queue = size(v)?,
                _ => return Err(format!("unknown chat-server config {k}={v:?}")),
            }
        }
        let room = (c.mode == Mode::Room).then(Room::new);
        Ok(ChatServerSubject {
            conn: ChatServer::new(Arc::new(c), Instant::ZERO),
            room,
        })
    }

    /// Passes the room's deliveries that concern this connection to it.
    fn deliver(&mut self, deliveries: Vec<Delivery<u32>>) -> Result<(), String> {
        let member = self.room.as_ref().is_some_and(|r| r.nick(ME).is_some());
        for d in deliveries {
            let mine = match d.to {
                Target::One(k) => k == ME,
                Target::AllBut(k) => k != ME && member,
            };
            if mine {
                self.conn
                    .send(&d.message.as_server_message())
                    .map_err(|e| format!("send refused: {e}"))?;
            }
        }
        Ok(())
    }

    fn room(&mut self) -> Result<&mut Room<u32>, String> {
        self.room
            .as_mut()
            .ok_or_else(|| "room actions need mode=room".into())
    }
}

impl Subject for ChatServerSubject {
    fn act(&mut self, _now: Instant, action: &Action, _rec: &mut Record) -> Result<(), String> {
        let deliveries = match action {
            Action::Shutdown => {
                self.conn.shutdown();
                return Ok(());
            }
            Action::RoomJoin(id) if *id != ME => self.room()?.join(*id),
            Action::RoomSay(id, t) if *id != ME => self.room()?.say(*id, t),
            Action::RoomLeave(id) if *id != ME => self.room()?.leave(*id),
            other => return Err(unsupported(other)),
        };
        self.deliver(deliveries)
    }
    fn poll(&mut self, rec: &mut Record) -> Result<Polled, String> {
        for _ in 0..STEP_CAP {
            let deliveries = match self.conn.poll_output() {
                Output::Transmit(b) => {
                    rec.out.extend_from_slice(b);
                    let n = b.len();
                    self.conn.handle_sent(n).map_err(|e| e.to_string())?;
                    continue;
                }
                Output::Event(ServerEvent::Detected(form)) => {
                    rec.event("detected", vec![Arg::Word(form.name().into())]);
                    match &mut self.room {
                        Some(room) => room.join(ME),
                        None => continue,
                    }
                }
                Output::Event(ServerEvent::Message(t)) => {
                    rec.event("message", vec![text(&t)]);
                    match &mut self.room {
                        Some(room) => room.say(ME, &t),
                        None => return Err("a Message event in bot mode".into()),
                    }
                }
                Output::Event(other) => return Err(format!("unknown event {other:?}")),
                Output::Wait(w) => return Ok(Polled::Wait(w.deadline)),
                Output::Done(c) => {
                    if let Some(room) = &mut self.room {
                        room.leave(ME);
                    }
                    return Ok(Polled::Done(c.code.to_u16()));
                }
            };
            self.deliver(deliveries)?;
        }
        Err("poll_output never waits".into())
    }
}

struct ChatClientSubject {
    conn: ChatClient,
}

impl ChatClientSubject {
    fn new(config: &[(String, Value)]) -> Result<Self, String> {
        let mut c = ChatClientConfig::default();
        for (k, v) in config {
            match k.as_str() {
                "form" if word(v) == "native" => c.form = ClientForm::Native,
                "form" if word(v) == "classic" => c.form = ClientForm::Classic,
                "quiet_gap" => c.quiet_gap = ms(v)?,
                _ => return Err(format!("unknown chat-client config {k}={v:?}")),
            }
        }
        Ok(ChatClientSubject {
            conn: ChatClient::new(c, Instant::ZERO),
        })
    }
}

impl Subject for ChatClientSubject {
    fn act(&mut self, _now: Instant, action: &Action, _rec: &mut Record) -> Result<(), String> {
        match action {
            Action::Say(t) => self.conn.say(t),
            Action::Quit => self.conn.quit(),
            other => return Err(unsupported(other)),
        }
        .map_err(|e| refused(action, e))
    }
    fn poll(&mut self, rec: &mut Record) -> Result<Polled, String> {
        drain(&mut self.conn, rec, |e| {
            Ok(match e {
                ClientEvent::Welcome(t) => ("welcome", vec![text(&t)]),
                ClientEvent::Ready { max_message } => ("ready", vec![num(max_message)]),
                ClientEvent::Reply(t) => ("reply", vec![text(&t)]),
                ClientEvent::Message { from, text: t } => ("message", vec![text(&from), text(&t)]),
                ClientEvent::Notice(t) => ("notice", vec![text(&t)]),
                ClientEvent::Error(p) => ("error", vec![num(p.number), text(&p.text)]),
                other => return Err(format!("unknown event {other:?}")),
            })
        })
    }
}

struct UploadServerSubject {
    conn: UploadServer,
    /// The algorithm of the pending offer, to build a resume checkpoint for it.
    algorithm: Option<Algorithm>,
}

impl UploadServerSubject {
    fn new(config: &[(String, Value)]) -> Result<Self, String> {
        // The receive buffer is no protocol knob: the smallest one the core allows (a frame)
        // keeps the many short runs cheap.
        let mut c = UploadConfig {
            recv_buffer: 0,
            ..UploadConfig::default()
        };
        for (k, v) in config {
            match k.as_str() {
                "max_file_size" => c.max_file_size = int(v)?,
                "stall_timeout" => c.stall_timeout = ms(v)?,
                "quiet_gap" => c.quiet_gap = ms(v)?,
                "recv_buffer" => c.recv_buffer = size(v)?,
                _ => return Err(format!("unknown upload-server config {k}={v:?}")),
            }
        }
        Ok(UploadServerSubject {
            conn: UploadServer::new(c, Instant::ZERO),
            algorithm: None,
        })
    }
}

/// The state after hashing `prefix`, memoised: resume vectors reuse multi-MiB prefixes.
fn checkpoint_after(alg: Algorithm, prefix: &[u8]) -> Checkpoint {
    type Memo = Mutex<Vec<(Algorithm, Vec<u8>, Checkpoint)>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    let memo = MEMO.get_or_init(Memo::default);
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, _, cp)) = memo.iter().find(|(a, p, _)| *a == alg && p == prefix) {
        return cp.clone();
    }
    let mut h = Hasher::new(alg);
    h.update(prefix);
    let cp = h.checkpoint();
    memo.push((alg, prefix.to_vec(), cp.clone()));
    cp
}

impl Subject for UploadServerSubject {
    fn act(&mut self, _now: Instant, action: &Action, _rec: &mut Record) -> Result<(), String> {
        match action {
            Action::Accept => self.conn.accept(None),
            Action::Resume(prefix) => {
                let alg = self
                    .algorithm
                    .ok_or("resume needs a pending native offer")?;
                let cp = checkpoint_after(alg, prefix);
                if cp.offset() != prefix.len() as u64 {
                    return Err("a resume prefix is a multiple of 4 MiB long".into());
                }
                self.conn.accept(Some(&cp))
            }
            Action::Reject(n, t) => self.conn.reject(code(*n)?, t),
            Action::Confirm => self.conn.confirm_stored(),
            Action::Fail(n, t) => {
                self.conn.fail_stored(code(*n)?, t);
                Ok(())
            }
            Action::Shutdown => {
                self.conn.shutdown();
                Ok(())
            }
            other => return Err(unsupported(other)),
        }
        .map_err(|e| refused(action, e))
    }
    fn poll(&mut self, rec: &mut Record) -> Result<Polled, String> {
        drain(&mut self.conn, rec, |e| {
            Ok(match e {
                UploadEvent::Detected(f) => ("detected", vec![Arg::Word(f.name().into())]),
                UploadEvent::Offer(o) => {
                    self.algorithm = o.algorithm;
                    let name = o.name.as_deref().map_or(Arg::Word("-".into()), text);
                    let alg = o.algorithm.map_or("-", |a| a.name());
                    ("offer", vec![name, num(o.size), Arg::Word(alg.into())])
                }
                UploadEvent::Body(b) => ("body", vec![Arg::Text(b.to_vec())]),
                UploadEvent::Complete(c) => match c.digest {
                    Some(d) => (
                        "complete",
                        vec![
                            Arg::Word(d.algorithm().name().into()),
                            Arg::Text(d.as_bytes().to_vec()),
                        ],
                    ),
                    None => ("complete", vec![]),
                },
                UploadEvent::Mismatch { expected, actual } => (
                    "mismatch",
                    vec![
                        Arg::Word(actual.algorithm().name().into()),
                        Arg::Text(expected.as_bytes().to_vec()),
                        Arg::Text(actual.as_bytes().to_vec()),
                    ],
                ),
                other => return Err(format!("unknown event {other:?}")),
            })
        })
    }
}

struct UploadClientSubject {
    conn: UploadClient,
}

impl UploadClientSubject {
    fn new(config: &[(String, Value)]) -> Result<Self, String> {
        let mut form = UploadForm::Native;
        for (k, v) in config {
            match k.as_str() {
                "form" if word(v) == "native" => form = UploadForm::Native,
                "form" if word(v) == "classic" => form = UploadForm::Classic,
                _ => return Err(format!("unknown upload-client config {k}={v:?}")),
            }
        }
        Ok(UploadClientSubject {
            conn: UploadClient::new(form, Instant::ZERO),
        })
    }
}

impl Subject for UploadClientSubject {
    fn act(&mut self, _now: Instant, action: &Action, rec: &mut Record) -> Result<(), String> {
        match action {
            Action::Offer(name, size, alg) => {
                let alg = Algorithm::from_name(alg).ok_or(format!("unknown algorithm {alg}"))?;
                self.conn.offer(name, *size, alg)
            }
            Action::Feed(bytes) => self
                .conn
                .feed(bytes)
                .map(|sent| rec.out.extend_from_slice(sent)),
            other => return Err(unsupported(other)),
        }
        .map_err(|e| refused(action, e))
    }
    fn poll(&mut self, rec: &mut Record) -> Result<Polled, String> {
        drain(&mut self.conn, rec, |e| {
            let digest = |d: &unstuck_core::digest::Digest| Arg::Text(d.as_bytes().to_vec());
            Ok(match e {
                UploadClientEvent::Ready { max_file_size } => ("ready", vec![num(max_file_size)]),
                UploadClientEvent::Accepted { offset } => ("accepted", vec![num(offset)]),
                UploadClientEvent::Rejected(p) => ("rejected", vec![num(p.number), text(&p.text)]),
                UploadClientEvent::Verified(d) => (
                    "verified",
                    vec![Arg::Word(d.algorithm().name().into()), digest(&d)],
                ),
                UploadClientEvent::Mismatch { local, remote } => (
                    "mismatch",
                    vec![
                        Arg::Word(local.algorithm().name().into()),
                        digest(&local),
                        digest(&remote),
                    ],
                ),
                UploadClientEvent::Error(p) => ("error", vec![num(p.number), text(&p.text)]),
                other => return Err(format!("unknown event {other:?}")),
            })
        })
    }
}

holds_conn!(
    ChatServerSubject,
    ChatClientSubject,
    UploadServerSubject,
    UploadClientSubject
);
