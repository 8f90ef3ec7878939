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
use unstuck_core::{Closed, Instant, Output, Wait};

use super::{Host, Link, Rng};

/// Bound on `poll_output` calls in one drain.
const DRAIN_CAP: usize = 100_000;

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
    fn input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.conn.handle_input(now, data)
    }
    fn eof(&mut self, now: Instant) {
        self.conn.handle_eof(now);
    }
    fn timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }
    fn poll(&mut self, now: Instant, out: &mut Link, rng: &mut Rng) -> bool {
        let mut changed = false;
        for _ in 0..DRAIN_CAP {
            let mut progressed = false;
            for _ in 0..DRAIN_CAP {
                match self.conn.poll_output() {
                    Output::Transmit(b) => {
                        let n = out.send(now, rng, b);
                        if n > 0 {
                            self.conn.handle_sent(n).expect("ack");
                            progressed = true;
                        }
                    }
                    Output::Event(e) => {
                        match &e {
                            ClientEvent::Ready { .. } => self.ready = true,
                            ClientEvent::Welcome(_) if self.form == ClientForm::Classic => {
                                self.ready = true;
                            }
                            ClientEvent::Reply(_) => self.replies += 1,
                            _ => {}
                        }
                        self.events.push(e);
                        progressed = true;
                    }
                    Output::Wait(w) => {
                        self.wait = Some(w);
                        break;
                    }
                    Output::Done(c) => {
                        self.closed = Some(c);
                        self.wait = None;
                        break;
                    }
                }
            }
            progressed |= self.script_step();
            changed |= progressed;
            if !progressed {
                return changed;
            }
        }
        panic!("{}: the driver never settles", self.summary());
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

    fn with_room(&mut self, f: impl FnOnce(&mut Room<u32>, u32) -> Vec<Delivery<u32>>) {
        if let Some(hub) = &self.hub {
            let mut hub = hub.borrow_mut();
            let deliveries = f(&mut hub.room, self.id);
            hub.dispatch(deliveries);
        }
    }
}

impl Host for ChatServerHost {
    fn input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.conn.handle_input(now, data)
    }
    fn eof(&mut self, now: Instant) {
        self.conn.handle_eof(now);
    }
    fn timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }
    fn poll(&mut self, now: Instant, out: &mut Link, rng: &mut Rng) -> bool {
        let mut changed = false;
        for _ in 0..DRAIN_CAP {
            let mut progressed = false;
            let mail = match &self.hub {
                Some(hub) if self.closed.is_none() => hub.borrow_mut().mail.remove(&self.id),
                _ => None,
            };
            for m in mail.into_iter().flatten() {
                self.conn
                    .send(&m.as_server_message())
                    .expect("send to a member");
                progressed = true;
            }
            for _ in 0..DRAIN_CAP {
                match self.conn.poll_output() {
                    Output::Transmit(b) => {
                        let n = out.send(now, rng, b);
                        if n > 0 {
                            self.conn.handle_sent(n).expect("ack");
                            progressed = true;
                        }
                    }
                    Output::Event(ServerEvent::Detected(form)) => {
                        self.detected = Some(form);
                        self.with_room(|room, id| room.join(id));
                        progressed = true;
                    }
                    Output::Event(ServerEvent::Message(t)) => {
                        self.with_room(|room, id| room.say(id, &t));
                        self.messages.push(t);
                        progressed = true;
                    }
                    Output::Event(other) => panic!("unknown server event {other:?}"),
                    Output::Wait(w) => {
                        self.wait = Some(w);
                        break;
                    }
                    Output::Done(c) => {
                        if self.closed.is_none() {
                            self.with_room(|room, id| room.leave(id));
                        }
                        self.closed = Some(c);
                        break;
                    }
                }
            }
            changed |= progressed;
            if !progressed {
                return changed;
            }
        }
        panic!("{}: the driver never settles", self.summary());
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
