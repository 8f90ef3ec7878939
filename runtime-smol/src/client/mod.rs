//! The async client API: chat sessions and file uploads, on the core's [`ChatClient`] and
//! [`UploadClient`](unstuck_core::upload::UploadClient).
//!
//! - [`ChatSession`]: [`ChatSession::connect`], then [`ChatSession::say`] and
//!   [`ChatSession::next_event`], and [`ChatSession::quit`].
//! - [`send_file`]: one file over one connection, with progress, automatic resume and the
//!   verified digest; [`UploadSession`] sends several over one connection.
//!
//! [`ChatClient`]: unstuck_core::chat::ChatClient

mod chat;
mod send;

use std::io;

use async_net::AsyncToSocketAddrs;
use unstuck_std::clock::Clock;

use unstuck_core::Wait;

use crate::link::{Link, Ready};

pub use chat::ChatSession;
pub use send::{Progress, SendError, SendOptions, Sent, UploadSession, send_file};

/// Bytes read from the socket at once by a client.
const READ_CHUNK: usize = 16 * 1024;

/// A client's socket and the bytes it read that its machine has not taken yet.
#[derive(Debug)]
struct Pipe {
    link: Link,
    buf: Box<[u8]>,
    /// `buf[at..filled]` waits for the machine.
    at: usize,
    filled: usize,
    eof: bool,
}

impl Pipe {
    async fn connect(addr: impl AsyncToSocketAddrs) -> io::Result<Pipe> {
        let clock = Clock::new();
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
        for a in async_net::resolve(addr).await? {
            match Link::connect(a, clock).await {
                Ok(link) => {
                    return Ok(Pipe {
                        link,
                        buf: vec![0; READ_CHUNK].into_boxed_slice(),
                        at: 0,
                        filled: 0,
                        eof: false,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Waits as the machine's `w` says (never for input after EOF) and reads what arrived.
    /// True when the deadline came: the caller hands its machine the time.
    async fn wait(&mut self, w: Wait) -> io::Result<bool> {
        let w = Wait {
            wants_read: w.wants_read && !self.eof,
            ..w
        };
        Ok(match self.link.wait(w, [None, None]).await? {
            Ready::Read => {
                self.fill()?;
                false
            }
            Ready::Timer => true,
            Ready::Write | Ready::Wake(_) => false,
        })
    }

    /// Bytes read and not yet taken by the machine.
    fn unread(&self) -> &[u8] {
        &self.buf[self.at..self.filled]
    }

    /// The machine took `n` of [`Pipe::unread`].
    fn taken(&mut self, n: usize) {
        self.at += n;
    }

    /// Reads what the socket holds, if the previous bytes were all taken. True on progress.
    fn fill(&mut self) -> io::Result<bool> {
        if self.at < self.filled || self.eof {
            return Ok(false);
        }
        match self.link.try_read(&mut self.buf)? {
            None => Ok(false),
            Some(0) => {
                self.eof = true;
                Ok(true)
            }
            Some(n) => {
                (self.at, self.filled) = (0, n);
                Ok(true)
            }
        }
    }
}
