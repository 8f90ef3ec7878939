//! The client under test: either runtime's client library, behind one blocking API.
//!
//! The std clients are called as they are; the smol clients' futures are driven here with
//! `smol::block_on`, each raced against a timer so that no call waits longer than asked.
//! Both runtimes' upload clients take and return `unstuck_std::client`'s types.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use unstuck_core::Closed;
use unstuck_core::chat::{ClientEvent, ClientForm};
use unstuck_core::upload::UploadForm;
use unstuck_std::client::{Progress, SendError, SendOptions, Sent};

use super::{PATIENCE, WELCOME};

/// A client runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// `unstuck_std::client`: blocking sockets.
    Std,
    /// `unstuck_smol::client`: async, on smol.
    Smol,
}

/// Drives a smol client future to its end, or fails it with [`io::ErrorKind::TimedOut`] once
/// `timeout` has passed.
fn within<T>(timeout: Duration, fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    smol::block_on(smol::future::or(fut, async {
        smol::Timer::after(timeout).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("nothing in {timeout:?}"),
        ))
    }))
}

impl Client {
    /// Both client runtimes.
    pub const ALL: [Client; 2] = [Client::Std, Client::Smol];

    /// The other runtime.
    pub fn other(self) -> Client {
        match self {
            Client::Std => Client::Smol,
            Client::Smol => Client::Std,
        }
    }

    /// Opens a chat session in `form`; nothing is read yet.
    pub fn chat(self, addr: SocketAddr, form: ClientForm) -> Chat {
        let config = unstuck_core::chat::ChatClientConfig {
            form,
            ..Default::default()
        };
        let connected = match self {
            Client::Std => unstuck_std::client::ChatSession::connect_with(addr, config)
                .map(|s| Chat::Std(Box::new(s))),
            Client::Smol => within(
                PATIENCE,
                unstuck_smol::client::ChatSession::connect_with(addr, config),
            )
            .map(|s| Chat::Smol(Box::new(s))),
        };
        connected.unwrap_or_else(|e| panic!("{self:?} chat client, connecting to {addr}: {e}"))
    }

    /// A native chat session whose banner and handshake have been checked (bot-mode banner,
    /// default message limit).
    pub fn chat_ready(self, addr: SocketAddr) -> Chat {
        let mut chat = self.chat(addr, ClientForm::Native);
        chat.expect(ClientEvent::Welcome(WELCOME.into()));
        chat.expect(ClientEvent::Ready { max_message: 4096 });
        chat
    }

    /// Opens an upload connection in `form`.
    pub fn upload(self, addr: SocketAddr, form: UploadForm) -> Upload {
        let connected = match self {
            Client::Std => unstuck_std::client::UploadSession::connect(addr, form)
                .map(|s| Upload::Std(Box::new(s))),
            Client::Smol => within(
                PATIENCE,
                unstuck_smol::client::UploadSession::connect(addr, form),
            )
            .map(|s| Upload::Smol(Box::new(s))),
        };
        connected.unwrap_or_else(|e| panic!("{self:?} upload client, connecting to {addr}: {e}"))
    }

    /// Sends one file over a new connection, as `send_file` of the runtime's library does.
    pub fn send_file(
        self,
        addr: SocketAddr,
        path: &Path,
        options: &SendOptions,
        progress: impl FnMut(Progress),
    ) -> Result<Sent, SendError> {
        match self {
            Client::Std => unstuck_std::client::send_file(addr, path, options, progress),
            Client::Smol => smol::block_on(smol::future::or(
                unstuck_smol::client::send_file(addr, path, options, progress),
                give_up(),
            )),
        }
    }
}

/// A smol upload's safety net: fails it once [`PATIENCE`] has passed.
async fn give_up<T>() -> Result<T, SendError> {
    smol::Timer::after(PATIENCE).await;
    Err(SendError::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the upload took over {PATIENCE:?}"),
    )))
}

/// A chat session of either runtime.
pub enum Chat {
    /// A std session.
    Std(Box<unstuck_std::client::ChatSession>),
    /// A smol session.
    Smol(Box<unstuck_smol::client::ChatSession>),
}

impl fmt::Debug for Chat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chat::Std(s) => s.fmt(f),
            Chat::Smol(s) => s.fmt(f),
        }
    }
}

impl Chat {
    fn runtime(&self) -> Client {
        match self {
            Chat::Std(_) => Client::Std,
            Chat::Smol(_) => Client::Smol,
        }
    }

    /// Sends a message (returns once it is handed to the socket).
    pub fn say(&mut self, text: &str) {
        let said = match self {
            Chat::Std(s) => s.say(text),
            Chat::Smol(s) => within(PATIENCE, s.say(text)),
        };
        said.unwrap_or_else(|e| panic!("{:?} chat client, saying {text:?}: {e}", self.runtime()));
    }

    /// The next thing the server said, `None` once the connection is over, or an error of
    /// kind [`io::ErrorKind::TimedOut`] after `timeout` (the session stays usable).
    ///
    /// A smol session reads only once the reactor has reported its socket readable, so a zero
    /// `timeout` never returns what has arrived meanwhile; give it a millisecond.
    pub fn next_event(&mut self, timeout: Duration) -> io::Result<Option<ClientEvent>> {
        match self {
            Chat::Std(s) => s.next_event(Some(timeout)),
            Chat::Smol(s) => within(timeout, s.next_event()),
        }
    }

    /// The next event, which must come within [`PATIENCE`].
    pub fn event(&mut self) -> ClientEvent {
        match self.next_event(PATIENCE) {
            Ok(Some(e)) => e,
            Ok(None) => panic!(
                "{:?} chat client: the connection ended ({:?}) where an event was expected",
                self.runtime(),
                self.closed()
            ),
            Err(e) => panic!("{:?} chat client: {e}", self.runtime()),
        }
    }

    /// The next event must be `want`.
    pub fn expect(&mut self, want: ClientEvent) {
        let got = self.event();
        assert_eq!(got, want, "{:?} chat client", self.runtime());
    }

    /// The next event must be an error with code `number`; returns its text.
    pub fn expect_error(&mut self, number: u16) -> String {
        match self.event() {
            ClientEvent::Error(e) if e.number == number => e.text,
            other => panic!(
                "{:?} chat client: expected error {number}, got {other:?}",
                self.runtime()
            ),
        }
    }

    /// The connection must be over, with nothing more said; returns how it ended.
    pub fn expect_end(&mut self) -> Closed {
        match self.next_event(PATIENCE) {
            Ok(None) => self.closed().expect("a closed session says how"),
            other => panic!(
                "{:?} chat client: expected the end, got {other:?}",
                self.runtime()
            ),
        }
    }

    /// Says goodbye and waits until the connection is over.
    pub fn quit(self) -> Closed {
        let runtime = self.runtime();
        let closed = match self {
            Chat::Std(mut s) => s.quit(),
            Chat::Smol(s) => within(PATIENCE, s.quit()),
        };
        closed.unwrap_or_else(|e| panic!("{runtime:?} chat client, quitting: {e}"))
    }

    /// How the connection ended, once it has.
    pub fn closed(&self) -> Option<Closed> {
        match self {
            Chat::Std(s) => s.closed().cloned(),
            Chat::Smol(s) => s.closed().cloned(),
        }
    }
}

/// An upload connection of either runtime; a native one carries several files.
pub enum Upload {
    /// A std session.
    Std(Box<unstuck_std::client::UploadSession>),
    /// A smol session.
    Smol(Box<unstuck_smol::client::UploadSession>),
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upload::Std(s) => s.fmt(f),
            Upload::Smol(s) => s.fmt(f),
        }
    }
}

impl Upload {
    /// Sends the file at `path` over this connection.
    pub fn send_file(
        &mut self,
        path: &Path,
        options: &SendOptions,
        progress: impl FnMut(Progress),
    ) -> Result<Sent, SendError> {
        match self {
            Upload::Std(s) => s.send_file(path, options, progress),
            Upload::Smol(s) => smol::block_on(smol::future::or(
                s.send_file(path, options, progress),
                give_up(),
            )),
        }
    }
}
