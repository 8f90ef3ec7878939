//! Sending files: offer, resume where the server's copy ends, stream, verify.

use std::fs::File;
use std::io;
use std::path::Path;

use async_net::AsyncToSocketAddrs;
use futures_lite::AsyncReadExt;
use unstuck_core::upload::{UploadClient, UploadClientEvent, UploadForm};
use unstuck_core::{Output, PeerError, Wait};
pub use unstuck_std::client::types::{Progress, SendError, SendOptions, Sent};

use super::Pipe;
use crate::link::Ready;

/// Bytes of the file read and sent per step.
const FILE_CHUNK: usize = 256 * 1024;

fn misuse(e: unstuck_core::Misuse) -> SendError {
    SendError::Io(io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// Sends one file over a new connection.
///
/// Resume is automatic: if the server holds a partial copy of the same name, size and
/// algorithm, it answers with where it ends, and only the rest is sent (the whole file is
/// still read, to compute its digest).
pub async fn send_file(
    addr: impl AsyncToSocketAddrs,
    path: &Path,
    options: &SendOptions,
    progress: impl FnMut(Progress),
) -> Result<Sent, SendError> {
    let mut session = UploadSession::connect(addr, options.form).await?;
    session.send_file(path, options, progress).await
}

/// One upload connection; a native one carries any number of files, one after the other.
#[derive(Debug)]
pub struct UploadSession {
    pipe: Pipe,
    m: UploadClient,
    eof_fed: bool,
}

impl UploadSession {
    /// Connects; a native session starts its handshake at once.
    pub async fn connect(addr: impl AsyncToSocketAddrs, form: UploadForm) -> io::Result<Self> {
        let pipe = Pipe::connect(addr).await?;
        let m = UploadClient::new(form, pipe.link.now());
        Ok(UploadSession {
            pipe,
            m,
            eof_fed: false,
        })
    }

    /// Sends the file at `path` (see [`send_file`]); `options.form` is the session's.
    pub async fn send_file(
        &mut self,
        path: &Path,
        options: &SendOptions,
        mut progress: impl FnMut(Progress),
    ) -> Result<Sent, SendError> {
        let name = options.name_for(path);
        let owned = path.to_path_buf();
        let file = blocking::unblock(move || File::open(owned))
            .await
            .map_err(SendError::File)?;
        let size = file.metadata().map_err(SendError::File)?.len();
        self.m
            .offer(&name, size, options.algorithm)
            .map_err(misuse)?;
        let offset = loop {
            match self.next_event().await? {
                UploadClientEvent::Ready { .. } => {}
                UploadClientEvent::Accepted { offset } => break offset,
                other => return Err(SendError::from_event(other)),
            }
        };
        let mut p = Progress {
            done: offset,
            total: size,
            resumed_from: offset,
        };
        progress(p);
        let mut file = blocking::Unblock::with_capacity(FILE_CHUNK, file);
        let mut chunk = vec![0; FILE_CHUNK];
        while self.m.remaining() > 0 {
            let want = usize::try_from(self.m.remaining())
                .unwrap_or(usize::MAX)
                .min(chunk.len());
            let n = file
                .read(&mut chunk[..want])
                .await
                .map_err(SendError::File)?;
            if n == 0 {
                return Err(SendError::File(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                )));
            }
            let body = self.m.feed(&chunk[..n]).map_err(misuse)?;
            if !body.is_empty() {
                self.write_body(body).await?;
                p.done += body.len() as u64;
                progress(p);
            }
        }
        let digest = if is_classic(options) {
            self.classic_end().await?;
            None
        } else {
            match self.next_event().await? {
                UploadClientEvent::Verified(d) => Some(d),
                other => return Err(SendError::from_event(other)),
            }
        };
        Ok(Sent {
            name: if is_classic(options) {
                String::new()
            } else {
                name
            },
            size,
            resumed_from: offset,
            digest,
        })
    }

    /// Writes body bytes, reading meanwhile so a CLOSE from the server is noticed: the
    /// core sees those bytes only after the body, so they wait in the pipe.
    async fn write_body(&mut self, mut body: &[u8]) -> Result<(), SendError> {
        while !body.is_empty() {
            let n = match self.pipe.link.try_write(body) {
                Ok(n) => n,
                Err(e) => return Err(self.why_closed(e).await),
            };
            body = &body[n..];
            if n == 0 {
                let w = Wait {
                    deadline: None,
                    wants_read: self.pipe.unread().is_empty() && !self.pipe.eof,
                    wants_write: true,
                };
                if self.pipe.link.wait(w, [None, None]).await? == Ready::Read {
                    self.pipe.fill()?;
                    if self.pipe.eof {
                        return Err(self.why_closed(io::ErrorKind::BrokenPipe.into()).await);
                    }
                }
            }
        }
        Ok(())
    }

    /// Classic: nothing confirms the upload, but the server closes once it has stored the
    /// file, so the end of its stream is the confirmation (or it says `! CODE text` first).
    async fn classic_end(&mut self) -> Result<(), SendError> {
        if !matches!(self.next_event().await, Err(SendError::Closed(None))) {
            return Err(SendError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected answer from a classic server",
            )));
        }
        self.pipe.link.shutdown_write();
        let mut said = Vec::new();
        while !self.pipe.eof {
            said.extend_from_slice(self.pipe.unread());
            let n = self.pipe.unread().len();
            self.pipe.taken(n);
            if !self.pipe.fill()? {
                let w = Wait {
                    deadline: None,
                    wants_read: true,
                    wants_write: false,
                };
                self.pipe.link.wait(w, [None, None]).await?;
            }
        }
        match String::from_utf8_lossy(&said).strip_prefix("! ") {
            None => Ok(()),
            Some(rest) => {
                let (code, text) = rest.trim_end().split_once(' ').unwrap_or((rest, ""));
                Err(SendError::Closed(Some(PeerError {
                    number: code.parse().unwrap_or(500),
                    text: text.into(),
                })))
            }
        }
    }

    /// After a failed write: the server's CLOSE, if it sent one, explains it better.
    async fn why_closed(&mut self, e: io::Error) -> SendError {
        self.pipe.link.shutdown_write();
        match self.next_event().await {
            Ok(UploadClientEvent::Error(p)) => SendError::Closed(Some(p)),
            _ => SendError::Io(e),
        }
    }

    /// The next event of the connection, driving it as needed.
    async fn next_event(&mut self) -> Result<UploadClientEvent, SendError> {
        loop {
            let now = self.pipe.link.now();
            let unread = self.pipe.unread();
            if !unread.is_empty() {
                let n = self.m.handle_input(now, unread);
                self.pipe.taken(n);
            } else if self.pipe.eof && !self.eof_fed {
                self.eof_fed = true;
                self.m.handle_eof(now);
            }
            let w = match self.m.poll_output() {
                Output::Transmit(bytes) => {
                    // Never report 0: the machine would re-offer at once (a spin).
                    let n = self.pipe.link.try_write(bytes)?;
                    if n > 0 {
                        self.m.handle_sent(n).map_err(misuse)?;
                    }
                    continue;
                }
                Output::Event(e) => return Ok(e),
                Output::Wait(w) if w.wants_read && !self.pipe.unread().is_empty() => continue,
                Output::Wait(w) => w,
                Output::Done(_) => return Err(SendError::Closed(None)),
            };
            if self.pipe.wait(w).await? {
                self.m.handle_timeout(self.pipe.link.now());
            }
        }
    }
}

fn is_classic(options: &SendOptions) -> bool {
    options.form == UploadForm::Classic
}
