//! Upload drivers for the simulation: a client that uploads a list of files, and a server
//! connection over an in-memory storage that keeps partial copies at their last checkpoint.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use unstuck_core::digest::{Algorithm, Checkpoint, Digest};
use unstuck_core::upload::{
    UploadClient, UploadClientEvent, UploadConfig, UploadEvent, UploadForm, UploadServer,
};
use unstuck_core::{Closed, ErrorCode, Instant, Output, Wait};

use crate::machine::holds_conn;

use super::{DRAIN_CAP, Drained, Host, Link, Rng, drain, settle};

/// A file to upload.
#[derive(Clone, Debug)]
pub struct FileJob {
    /// Its name (not sent in the classic form).
    pub name: String,
    /// Its bytes.
    pub data: Rc<Vec<u8>>,
    /// The digest to close it with.
    pub algorithm: Algorithm,
}

/// How one offered file ended, as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// VERIFIED with this digest.
    Verified(Digest),
    /// REJECT (or a classic refusal) with this code.
    Rejected(u16),
    /// MISMATCH.
    Mismatch,
    /// The server closed with this code.
    Error(u16),
}

/// An upload client that offers its files one after the other, then closes.
pub struct UploadClientHost {
    /// The machine.
    pub conn: UploadClient,
    /// The outcome of each offered file, by name.
    pub outcomes: Vec<(String, Outcome)>,
    /// The offset of every ACCEPT (or `1001`), in order.
    pub offsets: Vec<u64>,
    /// Body bytes written to the network (what `feed` passed on).
    pub body_sent: u64,
    jobs: VecDeque<FileJob>,
    current: Option<(FileJob, usize)>,
    pending_body: Vec<u8>,
    max_chunk: usize,
    ready: bool,
    native: bool,
    wait: Option<Wait>,
    machine_done: Option<Closed>,
    hung_up: Option<Closed>,
}

impl UploadClientHost {
    /// A client for `jobs` (classic: exactly one), feeding at most `max_chunk` bytes at a time.
    pub fn new(now: Instant, form: UploadForm, jobs: Vec<FileJob>, max_chunk: usize) -> Self {
        let native = form == UploadForm::Native;
        UploadClientHost {
            conn: UploadClient::new(form, now),
            outcomes: Vec::new(),
            offsets: Vec::new(),
            body_sent: 0,
            jobs: jobs.into(),
            current: None,
            pending_body: Vec::new(),
            max_chunk,
            ready: !native,
            native,
            wait: None,
            machine_done: None,
            hung_up: None,
        }
    }

    fn on_event(&mut self, e: UploadClientEvent) {
        let name = || {
            self.current
                .as_ref()
                .map(|(j, _)| j.name.clone())
                .unwrap_or_default()
        };
        let outcome = match e {
            UploadClientEvent::Ready { .. } => {
                self.ready = true;
                return;
            }
            UploadClientEvent::Accepted { offset } => {
                self.offsets.push(offset);
                return;
            }
            UploadClientEvent::Rejected(p) => Outcome::Rejected(p.number),
            UploadClientEvent::Verified(d) => Outcome::Verified(d),
            UploadClientEvent::Mismatch { .. } => Outcome::Mismatch,
            UploadClientEvent::Error(p) => Outcome::Error(p.number),
            other => panic!("unknown upload client event {other:?}"),
        };
        self.outcomes.push((name(), outcome));
        self.current = None;
    }

    /// Feeds the next piece of the file, if the machine takes one now.
    fn feed(&mut self, rng: &mut Rng) -> bool {
        let remaining = self.conn.remaining();
        let Some((job, fed)) = &mut self.current else {
            return false;
        };
        if !self.pending_body.is_empty() || remaining == 0 {
            return false;
        }
        let n = (rng.range(1, self.max_chunk as u64)).min(remaining) as usize;
        match self.conn.feed(&job.data[*fed..*fed + n]) {
            Ok(send) => {
                self.pending_body.extend_from_slice(send);
                *fed += n;
                true
            }
            // A transmit is pending (it goes first): feed on the next round.
            Err(_) => false,
        }
    }

    fn next_offer(&mut self) -> bool {
        if !self.ready
            || self.current.is_some()
            || self.machine_done.is_some()
            || self.hung_up.is_some()
        {
            return false;
        }
        match self.jobs.pop_front() {
            Some(job) => {
                let size = job.data.len() as u64;
                self.conn
                    .offer(&job.name, size, job.algorithm)
                    .expect("offer");
                self.current = Some((job, 0));
            }
            None if self.native => {
                // No transfer in progress: the client ends the session by closing (7.1).
                self.hung_up = Some(Closed {
                    code: ErrorCode::Bye,
                    by_peer: false,
                });
            }
            None => return false,
        }
        true
    }
}

impl Host for UploadClientHost {
    fn poll(&mut self, now: Instant, out: &mut Link, rng: &mut Rng) -> bool {
        settle(self, |h| {
            let mut progressed = false;
            if !h.pending_body.is_empty() {
                let n = out.send(now, rng, &h.pending_body);
                h.pending_body.drain(..n);
                h.body_sent += n as u64;
                progressed |= n > 0;
            }
            let mut events = Vec::new();
            if h.machine_done.is_none() {
                let hold = !h.pending_body.is_empty();
                let (end, drained) = drain(&mut h.conn, now, out, rng, hold, |e| events.push(e));
                progressed |= drained;
                match end {
                    Drained::Wait(w) => h.wait = Some(w),
                    Drained::Done(c) => h.machine_done = Some(c),
                    Drained::Capped => {}
                }
            }
            for e in events {
                h.on_event(e);
            }
            progressed |= h.feed(rng);
            progressed |= h.next_offer();
            progressed
        })
    }
    fn wait(&self) -> Option<Wait> {
        if self.closed().is_some() {
            return None;
        }
        match self.machine_done {
            // Done, but body bytes are still on their way out.
            Some(_) => Some(Wait {
                deadline: None,
                wants_read: false,
                wants_write: true,
            }),
            None => self.wait,
        }
    }
    fn closed(&self) -> Option<&Closed> {
        match (&self.hung_up, &self.machine_done) {
            (Some(c), _) => Some(c),
            (None, Some(c)) if self.pending_body.is_empty() => Some(c),
            _ => None,
        }
    }
    fn summary(&self) -> String {
        format!(
            "upload client: ready {}, {} jobs left, current {:?}, offsets {:?}, body sent {}, pending {}, outcomes {:?}, wait {:?}, done {:?}, hung up {:?}",
            self.ready,
            self.jobs.len(),
            self.current
                .as_ref()
                .map(|(j, fed)| (&j.name, j.data.len(), *fed)),
            self.offsets,
            self.body_sent,
            self.pending_body.len(),
            self.outcomes,
            self.wait,
            self.machine_done,
            self.hung_up
        )
    }
}

/// A partial copy: what is durable of an interrupted upload.
#[derive(Clone, Debug)]
pub struct Partial {
    /// The offered size.
    pub size: u64,
    /// The offered algorithm (`None`: classic, never resumed).
    pub algorithm: Option<Algorithm>,
    /// The bytes held.
    pub bytes: Vec<u8>,
    /// The last persisted checkpoint (offset > 0).
    pub checkpoint: Option<Checkpoint>,
}

/// The server's storage, shared by its connections and kept across reconnects.
#[derive(Debug, Default)]
pub struct Storage {
    /// Complete files by name.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Partial copies by name.
    pub partials: BTreeMap<String, Partial>,
    /// Every checkpoint persisted, as (name, offset), in order.
    pub persisted: Vec<(String, u64)>,
    classic_count: u32,
}

impl Storage {
    /// A shared, empty storage.
    pub fn shared() -> Rc<RefCell<Storage>> {
        Rc::new(RefCell::new(Storage::default()))
    }
}

/// An upload server connection over a [`Storage`].
pub struct UploadServerHost {
    /// The machine.
    pub conn: UploadServer,
    /// Names stored by this connection, in order.
    pub stored: Vec<String>,
    /// Body bytes of the current file held in its partial copy (durable or not).
    pub held: u64,
    store: Rc<RefCell<Storage>>,
    current: Option<String>,
    wait: Option<Wait>,
    closed: Option<Closed>,
}

impl UploadServerHost {
    /// A connection accepted now.
    pub fn new(now: Instant, config: UploadConfig, store: Rc<RefCell<Storage>>) -> Self {
        UploadServerHost {
            conn: UploadServer::new(config, now),
            stored: Vec::new(),
            held: 0,
            store,
            current: None,
            wait: None,
            closed: None,
        }
    }

    /// Answers an offer as a storage would: taken names are refused; a partial copy of the same
    /// size and algorithm with a checkpoint resumes (truncated to it); anything else starts at 0.
    fn answer(&mut self, name: Option<String>, size: u64, algorithm: Option<Algorithm>) {
        let mut store = self.store.borrow_mut();
        let name = name.unwrap_or_else(|| {
            store.classic_count += 1;
            format!("classic-0-{}.bin", store.classic_count)
        });
        if store.files.contains_key(&name) {
            self.conn
                .reject(ErrorCode::Taken, "name already taken")
                .expect("reject");
            return;
        }
        let resume = match store.partials.get_mut(&name) {
            Some(p) if p.size == size && p.algorithm == algorithm && algorithm.is_some() => p
                .checkpoint
                .clone()
                .inspect(|cp| p.bytes.truncate(cp.offset() as usize)),
            _ => None,
        };
        if resume.is_none() {
            let fresh = Partial {
                size,
                algorithm,
                bytes: Vec::new(),
                checkpoint: None,
            };
            store.partials.insert(name.clone(), fresh);
        }
        self.conn.accept(resume.as_ref()).expect("accept");
        self.held = resume.as_ref().map_or(0, Checkpoint::offset);
        self.current = Some(name);
    }

    /// The bytes are in the partial copy; persist the checkpoint if it moved (a real server
    /// would flush the file first).
    fn persist(&mut self) {
        let (Some(name), Some(cp)) = (&self.current, self.conn.checkpoint()) else {
            return;
        };
        let mut store = self.store.borrow_mut();
        let Some(p) = store.partials.get_mut(name) else {
            return;
        };
        if cp.offset() > p.checkpoint.as_ref().map_or(0, Checkpoint::offset) {
            p.checkpoint = Some(cp.clone());
            let entry = (name.clone(), cp.offset());
            store.persisted.push(entry);
        }
    }

    /// The connection died mid-body: only what the checkpoint covers is durable.
    fn crash(&mut self) {
        let Some(name) = self.current.take() else {
            return;
        };
        let mut store = self.store.borrow_mut();
        let keep = match store.partials.get_mut(&name) {
            Some(p) => match &p.checkpoint {
                Some(cp) if p.algorithm.is_some() => {
                    p.bytes.truncate(cp.offset() as usize);
                    true
                }
                _ => false,
            },
            None => true,
        };
        if !keep {
            store.partials.remove(&name);
        }
    }
}

impl Host for UploadServerHost {
    fn poll(&mut self, now: Instant, out: &mut Link, rng: &mut Rng) -> bool {
        let mut changed = false;
        for _ in 0..DRAIN_CAP {
            match self.conn.poll_output() {
                Output::Transmit(b) => {
                    let n = out.send(now, rng, b);
                    if n > 0 {
                        self.conn.handle_sent(n).expect("ack");
                        changed = true;
                    }
                }
                Output::Event(UploadEvent::Detected(_)) => changed = true,
                Output::Event(UploadEvent::Offer(o)) => {
                    self.answer(o.name, o.size, o.algorithm);
                    changed = true;
                }
                Output::Event(UploadEvent::Body(b)) => {
                    let name = self.current.as_ref().expect("a body belongs to an offer");
                    let mut store = self.store.borrow_mut();
                    let p = store.partials.get_mut(name).expect("partial copy");
                    p.bytes.extend_from_slice(b);
                    self.held = p.bytes.len() as u64;
                    drop(store);
                    self.persist();
                    changed = true;
                }
                Output::Event(UploadEvent::Complete(_)) => {
                    let name = self.current.take().expect("a completed offer");
                    let mut store = self.store.borrow_mut();
                    let p = store.partials.remove(&name).expect("partial copy");
                    store.files.insert(name.clone(), p.bytes);
                    drop(store);
                    self.stored.push(name);
                    self.conn.confirm_stored().expect("confirm");
                    changed = true;
                }
                Output::Event(UploadEvent::Mismatch { .. }) => {
                    let name = self.current.take().expect("a mismatched offer");
                    self.store.borrow_mut().partials.remove(&name);
                    changed = true;
                }
                Output::Event(other) => panic!("unknown upload server event {other:?}"),
                Output::Wait(w) => {
                    self.wait = Some(w);
                    return changed;
                }
                Output::Done(c) => {
                    if self.closed.is_none() {
                        self.crash();
                    }
                    self.closed = Some(c);
                    return changed;
                }
            }
        }
        panic!("upload server: poll_output never waits");
    }
    fn wait(&self) -> Option<Wait> {
        self.wait.filter(|_| self.closed.is_none())
    }
    fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }
    fn summary(&self) -> String {
        let store = self.store.borrow();
        let partials: Vec<(&String, usize)> = store
            .partials
            .iter()
            .map(|(n, p)| (n, p.bytes.len()))
            .collect();
        format!(
            "upload server: current {:?}, stored {:?}, partials {partials:?}, wait {:?}, closed {:?}",
            self.current, self.stored, self.wait, self.closed
        )
    }
}

holds_conn!(UploadClientHost, UploadServerHost);
