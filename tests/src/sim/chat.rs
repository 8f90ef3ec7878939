//! Chat drivers for the simulation: a scripted client, and server connections that share one
//! room through a [`Hub`], as a runtime's room task would.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use unstuck_core::chat::{
    ChatClient, ChatClientConfig, ChatConfig, ChatServer, ClientEvent, ClientForm, Delivery, Form,
    Room, RoomMessage, ServerEvent, Target,
};
use unstuck_core::{Closed, Instant, Wait};

use crate::machine::holds_conn;

use super::{Drained, Host, Link, Rng, drain, settle};

/// How a client works through its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// All at once, as soon as the handshake is done (sticky packets guaranteed).
    Pipelined,
    /// One, then the next once its reply arrived (the classic form needs this).
    Lockstep,
    /// Only what the test says, with [`ChatClientHost::say`].
    Manual,
}

/// A chat client with a script.
pub struct ChatClientHost {
    /// The machine.
    pub conn: ChatClient,
    /// Every event, in order.
    pub events: Vec<ClientEvent>,
    /// Every message sent, in order.
    pub sent: Vec<String>,
    form: ClientForm,
    script: VecDeque<String>,
    mode: Script,
    quit_when_done: bool,
    ready: bool,
    quit: bool,
    replies: usize,
    wait: Option<Wait>,
    closed: Option<Closed>,
}

impl ChatClientHost {
    /// A client that sends `script` in `mode`, then quits if `quit_when_done`, once every
    /// message has been answered.
    pub fn new(
        now: Instant,
        config: ChatClientConfig,
        mode: Script,
        script: Vec<String>,
        quit_when_done: bool,
    ) -> Self {
        ChatClientHost {
            form: config.form,
            conn: ChatClient::new(config, now),
            events: Vec::new(),
            sent: Vec::new(),
            script: script.into(),
            mode,
            quit_when_done,
            ready: false,
            quit: false,
            replies: 0,
            wait: None,
            closed: None,
        }
    }

    /// Sends a message now.
    pub fn say(&mut self, text: &str) {
        self.conn.say(text).expect("say");
        self.sent.push(text.into());
    }

    /// Ends the conversation now.
    pub fn quit(&mut self) {
        self.conn.quit().expect("quit");
        self.quit = true;
    }

    /// Whether the handshake (native) or the banner (classic) has arrived.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The replies received, in order.
    pub fn replies(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Reply(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The notices received, in order.
    pub fn notices(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Notice(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    fn script_step(&mut self) -> bool {
        if !self.ready || self.quit || self.closed.is_some() {
            return false;
        }
        let mut acted = false;
        match self.mode {
            Script::Pipelined => {
                while let Some(m) = self.script.pop_front() {
                    self.say(&m);
                    acted = true;
                }
            }
            Script::Lockstep if self.replies == self.sent.len() => {
                if let Some(m) = self.script.pop_front() {
                    self.say(&m);
                    acted = true;
                }
            }
            Script::Lockstep | Script::Manual => {}
        }
        if self.quit_when_done && self.script.is_empty() && self.replies == self.sent.len() {
            self.quit();
            acted = true;
        }
        acted
    }
}

impl Host for ChatClientHost {
    fn poll(&mut self, now: Instant, out: &mut Link, rng: &mut Rng) -> bool {
        settle(self, |h| {
            let (end, mut progressed) = drain(&mut h.conn, now, out, rng, false, |e| {
                match &e {
                    ClientEvent::Ready { .. } => h.ready = true,
                    ClientEvent::Welcome(_) if h.form == ClientForm::Classic => h.ready = true,
                    ClientEvent::Reply(_) => h.replies += 1,
                    _ => {}
                }
                h.events.push(e);
            });
            match end {
                Drained::Wait(w) => h.wait = Some(w),
                Drained::Done(c) => {
                    h.closed = Some(c);
                    h.wait = None;
                }
                Drained::Capped => {}
            }
            progressed |= h.script_step();
            progressed
        })
    }
    fn wait(&self) -> Option<Wait> {
        self.wait.filter(|_| self.closed.is_none())
    }
    fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }
    fn summary(&self) -> String {
        format!(
            "chat client: ready {}, sent {}, replies {}, quit {}, {} events (last {:?}), wait {:?}, closed {:?}",
            self.ready,
            self.sent.len(),
            self.replies,
            self.quit,
            self.events.len(),
            self.events.last(),
            self.wait,
            self.closed
        )
    }
}

/// One room for all server connections, with a mailbox per member.
#[derive(Default)]
pub struct Hub {
    /// The room.
    pub room: Room<u32>,
    mail: BTreeMap<u32, VecDeque<RoomMessage>>,
}

impl Hub {
    /// A shared, empty hub.
    pub fn shared() -> Rc<RefCell<Hub>> {
        Rc::new(RefCell::new(Hub::default()))
    }

    fn dispatch(&mut self, deliveries: Vec<Delivery<u32>>) {
        for d in deliveries {
            let to: Vec<u32> = match d.to {
                Target::One(k) => vec![k],
                Target::AllBut(k) => self.room.members().filter(|m| *m != k).collect(),
            };
            for m in to {
                self.mail.entry(m).or_default().push_back(d.message.clone());
            }
        }
    }
}

/// A chat server connection; in room mode it shares a [`Hub`] with the others.
pub struct ChatServerHost {
    /// The machine.
    pub conn: ChatServer,
    /// The form the machine detected.
    pub detected: Option<Form>,
    /// Room mode: the messages the machine handed to the room.
    pub messages: Vec<String>,
    id: u32,
    hub: Option<Rc<RefCell<Hub>>>,
    wait: Option<Wait>,
    closed: Option<Closed>,
}

impl ChatServerHost {
    /// A connection accepted now; `hub` is its room (room mode), `id` its key there.
    pub fn new(
        now: Instant,
        config: Arc<ChatConfig>,
        id: u32,
        hub: Option<Rc<RefCell<Hub>>>,
    ) -> Self {
        ChatServerHost {
            conn: ChatServer::new(config, now),
            detected: None,
            messages: Vec::new(),
            id,
            hub,
            wait: None,
            closed: None,
        }
    }
}

/// Room mode: lets member `id` act in the room of `hub` and dispatches what that delivers.
fn with_room(
    hub: Option<&Rc<RefCell<Hub>>>,
    id: u32,
    f: impl FnOnce(&mut Room<u32>, u32) -> Vec<Delivery<u32>>,
) {
    if let Some(hub) = hub {
        let mut hub = hub.borrow_mut();
        let deliveries = f(&mut hub.room, id);
        hub.dispatch(deliveries);
    }
}

impl Host for ChatServerHost {
    fn poll(&mut self, now: Instant, out: &mut Link, rng: &mut Rng) -> bool {
        settle(self, |h| {
            let mut progressed = false;
            let mail = match &h.hub {
                Some(hub) if h.closed.is_none() => hub.borrow_mut().mail.remove(&h.id),
                _ => None,
            };
            for m in mail.into_iter().flatten() {
                h.conn
                    .send(&m.as_server_message())
                    .expect("send to a member");
                progressed = true;
            }
            let (end, drained) = drain(&mut h.conn, now, out, rng, false, |e| match e {
                ServerEvent::Detected(form) => {
                    h.detected = Some(form);
                    with_room(h.hub.as_ref(), h.id, |room, id| room.join(id));
                }
                ServerEvent::Message(t) => {
                    with_room(h.hub.as_ref(), h.id, |room, id| room.say(id, &t));
                    h.messages.push(t);
                }
                other => panic!("unknown server event {other:?}"),
            });
            match end {
                Drained::Wait(w) => h.wait = Some(w),
                Drained::Done(c) => {
                    if h.closed.is_none() {
                        with_room(h.hub.as_ref(), h.id, |room, id| room.leave(id));
                    }
                    h.closed = Some(c);
                }
                Drained::Capped => {}
            }
            progressed | drained
        })
    }
    fn wait(&self) -> Option<Wait> {
        self.wait.filter(|_| self.closed.is_none())
    }
    fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }
    fn summary(&self) -> String {
        format!(
            "chat server #{}: form {:?}, {} room messages, wait {:?}, closed {:?}",
            self.id,
            self.detected,
            self.messages.len(),
            self.wait,
            self.closed
        )
    }
}

holds_conn!(ChatClientHost, ChatServerHost);
