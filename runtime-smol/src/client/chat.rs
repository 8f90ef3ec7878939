//! A chat connection for programs: say things, read what the server says.

use std::collections::VecDeque;
use std::io;

use async_net::AsyncToSocketAddrs;
use unstuck_core::chat::{ChatClient, ChatClientConfig, ClientEvent};
use unstuck_core::{Closed, Output, Wait};

use super::Pipe;

/// One chat connection, native by default (or classic, for a seed-style server).
///
/// ```no_run
/// # async_io::block_on(async {
/// use unstuck_core::chat::ClientEvent;
/// use unstuck_smol::client::ChatSession;
///
/// let mut chat = ChatSession::connect("127.0.0.1:8888").await?;
/// chat.say("hi").await?;
/// while let Some(event) = chat.next_event().await? {
///     if let ClientEvent::Reply(text) = event {
///         assert_eq!(text, "hi,你好");
///         break;
///     }
/// }
/// chat.quit().await?;
/// # std::io::Result::Ok(()) });
/// ```
#[derive(Debug)]
pub struct ChatSession {
    pipe: Pipe,
    m: ChatClient,
    events: VecDeque<ClientEvent>,
    eof_fed: bool,
    closed: Option<Closed>,
}

fn misuse(e: unstuck_core::Misuse) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

impl ChatSession {
    /// Connects in the native form; the handshake runs as events are read.
    pub async fn connect(addr: impl AsyncToSocketAddrs) -> io::Result<Self> {
        Self::connect_with(addr, ChatClientConfig::default()).await
    }

    /// Connects with the given settings (e.g. the classic form).
    pub async fn connect_with(
        addr: impl AsyncToSocketAddrs,
        config: ChatClientConfig,
    ) -> io::Result<Self> {
        let pipe = Pipe::connect(addr).await?;
        let m = ChatClient::new(config, pipe.link.now());
        Ok(ChatSession {
            pipe,
            m,
            events: VecDeque::new(),
            eof_fed: false,
            closed: None,
        })
    }

    /// Sends a message; returns once it is handed to the socket.
    pub async fn say(&mut self, text: &str) -> io::Result<()> {
        self.m.say(text).map_err(misuse)?;
        self.flush().await
    }

    /// The next thing the server said, or `None` once the connection is over (see
    /// [`ChatSession::closed`] for how it ended).
    pub async fn next_event(&mut self) -> io::Result<Option<ClientEvent>> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(Some(e));
            }
            if self.closed.is_some() {
                return Ok(None);
            }
            if let Some(w) = self.pump()? {
                if self.events.is_empty() {
                    self.wait(w).await?;
                }
            }
        }
    }

    /// Says goodbye (BYE, or `q` in classic form) and closes once it is sent.
    pub async fn quit(mut self) -> io::Result<Closed> {
        self.m.quit().map_err(misuse)?;
        loop {
            match self.pump()? {
                Some(w) => self.wait(w).await?,
                None => return Ok(self.closed.take().expect("pump ends on Done")),
            }
        }
    }

    /// How the connection ended, once it has.
    pub fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    async fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.pump()? {
                Some(w) if !w.wants_write => return Ok(()),
                Some(w) => self.wait(w).await?,
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the connection is closed",
                    ));
                }
            }
        }
    }

    /// Feeds what was read, writes what the machine transmits, queues its events; returns
    /// what it waits for, or `None` once it is done.
    fn pump(&mut self) -> io::Result<Option<Wait>> {
        let now = self.pipe.link.now();
        loop {
            let unread = self.pipe.unread();
            if !unread.is_empty() {
                let n = self.m.handle_input(now, unread);
                self.pipe.taken(n);
            } else if self.pipe.eof && !self.eof_fed {
                self.eof_fed = true;
                self.m.handle_eof(now);
            }
            match self.m.poll_output() {
                Output::Transmit(bytes) => {
                    // Never report 0: the machine would re-offer at once (a spin).
                    let n = self.pipe.link.try_write(bytes)?;
                    if n > 0 {
                        self.m.handle_sent(n).map_err(misuse)?;
                    }
                }
                Output::Event(e) => self.events.push_back(e),
                Output::Wait(w) if w.wants_read && !self.pipe.unread().is_empty() => {}
                Output::Wait(w) => return Ok(Some(w)),
                Output::Done(c) => {
                    self.closed = Some(c);
                    return Ok(None);
                }
            }
        }
    }

    async fn wait(&mut self, w: Wait) -> io::Result<()> {
        if self.pipe.wait(w).await? {
            self.m.handle_timeout(self.pipe.link.now());
        }
        Ok(())
    }
}
