//! One upload connection, on one thread: the protocol is request and answer, so reading and
//! writing never need to happen at once.
//!
//! The body path: the socket is read straight into the machine's 1 MiB buffer
//! (`recv_buf`), the machine hands the body out as one slice per read, and the slice goes to
//! the partial file with a single unbuffered write.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::accept::{Conn, Summary};
use crate::net::{ReadTimeout, is_timeout, linger_close};
use crate::store::{Partial, Refusal};
use unstuck_core::upload::{UploadEvent, UploadServer};
use unstuck_core::{ErrorCode, Output, Wait};

/// Replies are a few dozen bytes; a client that takes longer than this to accept them is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn serve(conn: Conn) -> Summary {
    let server = &conn.server;
    let _ = conn.stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut up = Upload {
        conn: &conn,
        machine: UploadServer::new(server.upload.clone(), server.clock.now()),
        partial: None,
        timeout: ReadTimeout::default(),
        form: None,
    };
    let outcome = up.run();
    if let Some(p) = up.partial.take() {
        let (name, cp) = (p.name().to_owned(), up.machine.checkpoint());
        let offset = cp.as_ref().map_or(0, |c| c.offset());
        match p.suspend(cp.as_ref()) {
            Ok(()) => tracing::info!(id = conn.id, name, offset, "upload cut, kept to resume"),
            Err(e) => tracing::warn!(id = conn.id, name, "upload cut, checkpoint failed: {e}"),
        }
    }
    linger_close(&conn.stream);
    Summary {
        form: up.form,
        stats: up.machine.stats(),
        outcome,
    }
}

struct Upload<'a> {
    conn: &'a Conn,
    machine: UploadServer,
    partial: Option<Partial>,
    timeout: ReadTimeout,
    form: Option<&'static str>,
}

impl Upload<'_> {
    /// Drives the machine until it is done; returns the outcome for the log.
    fn run(&mut self) -> String {
        let id = self.conn.id;
        loop {
            match self.machine.poll_output() {
                Output::Transmit(b) => {
                    let n = b.len();
                    if let Err(e) = (&*self.conn.stream).write_all(b) {
                        return format!("write failed: {e}");
                    }
                    let _ = self.machine.handle_sent(n);
                }
                Output::Event(UploadEvent::Detected(form)) => self.form = Some(form.name()),
                Output::Event(UploadEvent::Offer(offer)) => self.offer(&offer),
                Output::Event(UploadEvent::Body(body)) => {
                    let written = match &mut self.partial {
                        Some(p) => p.write(body),
                        None => Err(io::Error::other("body without an upload")),
                    };
                    self.after_write(written);
                }
                Output::Event(UploadEvent::Complete(done)) => {
                    let Some(p) = self.partial.take() else {
                        self.machine.fail_stored(ErrorCode::Internal, "no upload");
                        continue;
                    };
                    let size = p.size();
                    match p.finish() {
                        Ok(name) => {
                            let digest = done.digest.map(|d| d.to_string());
                            let digest = digest.as_deref().unwrap_or("none (classic)");
                            tracing::info!(id, name, size, digest, "stored");
                            let _ = self.machine.confirm_stored();
                        }
                        Err(r) => self.refuse_stored(&r),
                    }
                }
                Output::Event(UploadEvent::Mismatch { expected, actual }) => {
                    if let Some(p) = self.partial.take() {
                        let name = p.name().to_owned();
                        tracing::warn!(id, name, %expected, %actual, "digest mismatch, discarded");
                        if let Err(e) = p.discard() {
                            tracing::warn!(id, name, "discarding failed: {e}");
                        }
                    }
                }
                Output::Event(e) => tracing::debug!(id, ?e, "event"),
                Output::Wait(w) => {
                    if let Err(outcome) = self.read(w) {
                        return outcome;
                    }
                }
                Output::Done(closed) => return closed.to_string(),
            }
        }
    }

    fn offer(&mut self, offer: &unstuck_core::upload::Offer) {
        let id = self.conn.id;
        let name = offer.name.as_deref().unwrap_or("(classic)");
        match self.conn.server.store.begin(offer) {
            Ok(p) => {
                let offset = p.offset();
                tracing::info!(id, name = p.name(), size = offer.size, offset, "accepted");
                let accepted = self.machine.accept(p.resume());
                self.partial = Some(p);
                if let Err(e) = accepted {
                    tracing::error!(id, "bug: accept refused: {e}");
                    self.machine
                        .fail_stored(ErrorCode::Internal, "internal error");
                }
            }
            Err(r) => {
                tracing::info!(id, name, size = offer.size, refusal = %r, "refused");
                let _ = self.machine.reject(r.code, &r.text);
            }
        }
    }

    /// After a body write: checkpoints when due; a failed write ends the upload.
    fn after_write(&mut self, written: io::Result<()>) {
        let Some(p) = &mut self.partial else { return };
        let result = match written {
            Ok(()) if p.wants_checkpoint() => match self.machine.checkpoint() {
                Some(cp) => p.checkpoint(&cp).map_err(|e| ("checkpointing", e)),
                None => Ok(()),
            },
            Ok(()) => Ok(()),
            Err(e) => Err(("writing", e)),
        };
        if let Err((what, e)) = result {
            self.refuse_stored(&Refusal::from_io(what, &e));
        }
    }

    fn refuse_stored(&mut self, r: &Refusal) {
        tracing::warn!(id = self.conn.id, refusal = %r, "storing failed");
        self.machine.fail_stored(r.code, &r.text);
    }

    /// Reads what the client sent into the machine's buffer, waiting at most until the
    /// machine's deadline. Once the server stops, any read is a shutdown.
    fn read(&mut self, w: Wait) -> Result<(), String> {
        let server = &self.conn.server;
        let stream: &std::net::TcpStream = &self.conn.stream;
        let left = server.clock.until(w.deadline);
        if !w.wants_read {
            // Nothing to read and nothing to write: only a deadline can change that.
            let Some(left) = left else {
                return Err("bug: the machine waits for nothing".into());
            };
            std::thread::sleep(left);
            self.machine.handle_timeout(server.clock.now());
            return Ok(());
        }
        self.timeout
            .set(stream, left)
            .map_err(|e| format!("socket: {e}"))?;
        let buf = self.machine.recv_buf();
        let result = (&mut &*stream).read(buf);
        let now = server.clock.now();
        match result {
            // Stopping: a client that keeps sending never sees the end of stream a stop
            // causes, so every read checks. What it just read is dropped, not stored.
            Ok(_) if server.registry.is_stopping() => self.machine.shutdown(),
            Ok(0) => self.machine.handle_eof(now),
            Ok(n) => self.machine.handle_received(now, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => self.machine.handle_timeout(now),
            Err(e) => {
                tracing::debug!(id = self.conn.id, "read failed: {e}");
                self.machine.handle_eof(now);
            }
        }
        Ok(())
    }
}
