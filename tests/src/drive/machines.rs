//! [`Machine`] for the four core machines, with the simple answers a driver gives.

use std::collections::VecDeque;

use unstuck_core::chat::{ChatClient, ChatServer, ClientEvent, ServerEvent, ServerMessage};
use unstuck_core::digest::{Algorithm, Digest};
use unstuck_core::upload::{
    Complete, Offer, UploadClient, UploadClientEvent, UploadEvent, UploadForm, UploadServer,
};
use unstuck_core::{Instant, Misuse};

use super::{Bytes, Machine, Writer};
use crate::machine::{Core, input_in_place};

/// Room mode: the driver passes each message back as if the room had delivered it from
/// `guest-1`, so room transcripts contain MESSAGE frames and `nick: text` lines.
impl Machine for ChatServer {
    type Event = ServerEvent;
    type Core = ChatServer;

    fn core(&self) -> &ChatServer {
        self
    }
    fn core_mut(&mut self) -> &mut ChatServer {
        self
    }
    fn own(event: <ChatServer as Core>::Event<'_>) -> ServerEvent {
        event
    }
    fn input_in_place(&mut self, now: Instant, data: &[u8]) -> usize {
        input_in_place(self, now, data)
    }
    fn react(&mut self, event: &ServerEvent, _w: &mut Writer) {
        if let ServerEvent::Message(text) = event {
            let msg = ServerMessage::Message {
                from: "guest-1",
                text,
            };
            self.send(&msg)
                .expect("the form is known once a message arrives");
        }
    }
}

impl Machine for ChatClient {
    type Event = ClientEvent;
    type Core = ChatClient;

    fn core(&self) -> &ChatClient {
        self
    }
    fn core_mut(&mut self) -> &mut ChatClient {
        self
    }
    fn own(event: <ChatClient as Core>::Event<'_>) -> ClientEvent {
        event
    }
}

/// An owned [`UploadEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadRecord {
    /// `UploadEvent::Detected`.
    Detected(UploadForm),
    /// `UploadEvent::Offer`; the driver accepts it (fresh, no resume).
    Offer(Offer),
    /// `UploadEvent::Body`, adjacent slices merged.
    Body(Bytes),
    /// `UploadEvent::Complete`; the driver confirms it stored the file.
    Complete(Complete),
    /// `UploadEvent::Mismatch`.
    Mismatch {
        /// The client's digest.
        expected: Digest,
        /// The server's.
        actual: Digest,
    },
}

impl UploadRecord {
    fn of(e: UploadEvent<'_>) -> Self {
        match e {
            UploadEvent::Detected(f) => UploadRecord::Detected(f),
            UploadEvent::Offer(o) => UploadRecord::Offer(o),
            UploadEvent::Body(b) => UploadRecord::Body(Bytes(b.to_vec())),
            UploadEvent::Complete(c) => UploadRecord::Complete(c),
            UploadEvent::Mismatch { expected, actual } => {
                UploadRecord::Mismatch { expected, actual }
            }
            other => panic!("an upload event this driver does not know: {other:?}"),
        }
    }
}

/// The driver accepts every offer as a new file and confirms every completed one as stored.
impl Machine for UploadServer {
    type Event = UploadRecord;
    type Core = UploadServer;

    fn core(&self) -> &UploadServer {
        self
    }
    fn core_mut(&mut self) -> &mut UploadServer {
        self
    }
    fn own(event: <UploadServer as Core>::Event<'_>) -> UploadRecord {
        UploadRecord::of(event)
    }
    fn input_in_place(&mut self, now: Instant, data: &[u8]) -> usize {
        input_in_place(self, now, data)
    }
    fn react(&mut self, event: &UploadRecord, _w: &mut Writer) {
        match event {
            UploadRecord::Offer(_) => self.accept(None).expect("an offer is pending"),
            UploadRecord::Complete(_) => self.confirm_stored().expect("a file is complete"),
            _ => {}
        }
    }
    fn merge(last: &mut UploadRecord, next: &UploadRecord) -> bool {
        match (last, next) {
            (UploadRecord::Body(a), UploadRecord::Body(b)) => {
                a.0.extend_from_slice(&b.0);
                true
            }
            _ => false,
        }
    }
}

/// A file an [`Uploader`] offers and sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileToSend {
    /// The name offered (ignored by the classic form).
    pub name: String,
    /// The digest algorithm offered.
    pub algorithm: Algorithm,
    /// The contents.
    pub body: Vec<u8>,
}

/// An [`UploadClient`] with a list of files: it offers them one after the other (the first at
/// once), feeds each accepted body whole as soon as nothing else is pending, and moves to the
/// next file after each REJECT, VERIFIED or MISMATCH.
#[derive(Debug)]
pub struct Uploader {
    client: UploadClient,
    form: UploadForm,
    files: VecDeque<FileToSend>,
    /// The body of the file on offer.
    body: Vec<u8>,
    /// Accepted and not yet fed.
    feed: bool,
}

impl Uploader {
    /// A client created at `now` that will send `files`.
    pub fn new(form: UploadForm, now: Instant, files: Vec<FileToSend>) -> Self {
        let mut u = Uploader {
            client: UploadClient::new(form, now),
            form,
            files: files.into(),
            body: Vec::new(),
            feed: false,
        };
        u.offer_next();
        u
    }

    /// The client.
    pub fn client(&self) -> &UploadClient {
        &self.client
    }

    fn offer_next(&mut self) {
        let Some(f) = self.files.pop_front() else {
            return;
        };
        self.client
            .offer(&f.name, f.body.len() as u64, f.algorithm)
            .expect("the test offers valid files when no transfer is under way");
        self.body = f.body;
    }

    /// Feeds the accepted body if the client has no transmit pending; true if it did.
    fn try_feed(&mut self, w: &mut Writer) -> bool {
        if !self.feed || self.client.remaining() == 0 {
            self.feed = false;
            return false;
        }
        match self.client.feed(&self.body) {
            Ok(send) => {
                w.direct(send);
                self.feed = false;
                true
            }
            Err(Misuse::WrongState(_)) => false,
            Err(e) => panic!("feeding the accepted body: {e}"),
        }
    }
}

impl Machine for Uploader {
    type Event = UploadClientEvent;
    type Core = UploadClient;

    fn core(&self) -> &UploadClient {
        &self.client
    }
    fn core_mut(&mut self) -> &mut UploadClient {
        &mut self.client
    }
    fn own(event: <UploadClient as Core>::Event<'_>) -> UploadClientEvent {
        event
    }
    fn react(&mut self, event: &UploadClientEvent, w: &mut Writer) {
        match event {
            UploadClientEvent::Accepted { .. } => {
                self.feed = true;
                self.try_feed(w);
            }
            UploadClientEvent::Rejected(_)
            | UploadClientEvent::Verified(_)
            | UploadClientEvent::Mismatch { .. }
                if self.form == UploadForm::Native =>
            {
                self.offer_next();
            }
            _ => {}
        }
    }
    fn idle(&mut self, w: &mut Writer) -> bool {
        self.try_feed(w)
    }
}
