//! One chat connection: a writer thread that drives the machine, and a reader thread.
//!
//! The machine sits in an `Arc<Mutex<ChatServer>>` shared with the reader and, in room
//! mode, the hub. Only the writer calls `poll_output`; the reader only feeds input, and the
//! hub only queues deliveries. Nobody holds the lock across I/O: bytes to send are copied
//! out, written, then acknowledged.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::accept::{Conn, Summary};
use super::park::Parker;
use super::{CONN_STACK, State};
use crate::hub::{Wake, lock};
use crate::net::{LINGER, is_timeout};
use unstuck_core::chat::{ChatServer, ServerEvent};
use unstuck_core::{Closed, Output, Wait};

/// A write blocked this long returns, so the writer can check timers and give up on a
/// closing client that does not read.
const WRITE_SLICE: Duration = Duration::from_millis(500);
/// How long a closing connection tries to deliver its last bytes (spec 6.8).
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Bytes read from the socket at a time; chat messages are small.
const READ_CHUNK: usize = 16 * 1024;

/// What the reader and the writer share.
struct Shared {
    machine: Arc<Mutex<ChatServer>>,
    /// The writer waits on it: new input, a delivery, the end of the stream.
    writer: Arc<Parker>,
    /// The reader waits on it while the machine's input buffer is full.
    reader: Parker,
    reader_done: AtomicBool,
    writer_done: AtomicBool,
}

/// What the writer got from one `poll_output` call, copied out of the lock.
enum Polled {
    Write,
    Event(ServerEvent),
    Wait(Wait),
    Done(Closed),
}

pub(super) fn serve(conn: Conn) -> Summary {
    let server = &conn.server;
    let shared = Arc::new(Shared {
        machine: Arc::new(Mutex::new(ChatServer::new(
            Arc::clone(&server.chat),
            server.clock.now(),
        ))),
        writer: Arc::default(),
        reader: Parker::default(),
        reader_done: AtomicBool::new(false),
        writer_done: AtomicBool::new(false),
    });
    let reader = match spawn_reader(&conn, &shared) {
        Ok(r) => r,
        Err(e) => {
            return Summary {
                form: None,
                stats: lock(&shared.machine).stats(),
                outcome: format!("cannot start a reader: {e}"),
            };
        }
    };
    let _ = conn.stream.set_write_timeout(Some(WRITE_SLICE));
    let mut writer = Writer {
        conn: &conn,
        shared: &shared,
        out: Vec::new(),
        form: None,
        closing_since: None,
    };
    let outcome = writer.run();
    let form = writer.form;
    shared.writer_done.store(true, Ordering::Release);
    shared.reader.wake();
    if let Some(hub) = &server.hub {
        if server.registry.is_stopping() {
            hub.leave_quietly(conn.id);
        } else {
            hub.leave(conn.id);
        }
    }
    finish(&conn.stream, &shared);
    let _ = reader.join();
    Summary {
        form,
        stats: lock(&shared.machine).stats(),
        outcome,
    }
}

/// Half-closes, lets the reader drain what the client still sends until it closes too
/// (at most [`LINGER`]), then closes for good, which also wakes a reader still blocked.
fn finish(stream: &TcpStream, shared: &Shared) {
    let _ = stream.shutdown(Shutdown::Write);
    let until = Instant::now() + LINGER;
    while !shared.reader_done.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        shared.writer.park(Some(left));
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn spawn_reader(conn: &Conn, shared: &Arc<Shared>) -> io::Result<thread::JoinHandle<()>> {
    let stream = Arc::clone(&conn.stream);
    let server = Arc::clone(&conn.server);
    let shared = Arc::clone(shared);
    thread::Builder::new()
        .name(format!("chat-{}-read", conn.id))
        .stack_size(CONN_STACK)
        .spawn(move || {
            read_loop(stream, &server, &shared);
            shared.reader_done.store(true, Ordering::Release);
            shared.writer.wake();
        })
}

/// Feeds the machine whatever arrives, until the stream ends or fails.
fn read_loop(owned: Arc<TcpStream>, server: &State, shared: &Shared) {
    let mut stream: &TcpStream = &owned;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A reset: nothing more will arrive, and the writer's next write fails.
            Err(_) => 0,
        };
        let stopping = server.registry.is_stopping();
        if n == 0 || stopping {
            let mut m = lock(&shared.machine);
            if stopping {
                m.shutdown();
            } else {
                m.handle_eof(server.clock.now());
            }
            drop(m);
            shared.writer.wake();
            if n > 0 {
                // A client that keeps sending never sees the end of stream a stop causes,
                // so every read checks. Its bytes are dropped until it closes, or until
                // `finish` closes the socket: an unread byte would turn the close into a
                // reset that can destroy the CLOSE.
                loop {
                    match stream.read(&mut buf) {
                        Ok(1..) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        _ => break,
                    }
                }
            }
            return;
        }
        let mut data = &buf[..n];
        while !data.is_empty() {
            let took = lock(&shared.machine).handle_input(server.clock.now(), data);
            shared.writer.wake();
            data = &data[took..];
            if !data.is_empty() {
                // The machine's buffer is full: wait until the writer has drained it.
                shared.reader.park(None);
                if shared.writer_done.load(Ordering::Acquire) {
                    return;
                }
            }
        }
    }
}

struct Writer<'a> {
    conn: &'a Conn,
    shared: &'a Shared,
    /// Bytes copied out of the machine, written without holding its lock.
    out: Vec<u8>,
    form: Option<&'static str>,
    closing_since: Option<Instant>,
}

impl Writer<'_> {
    /// Drives the machine until it is done; returns the outcome for the log.
    fn run(&mut self) -> String {
        let server = &self.conn.server;
        loop {
            let polled = {
                let mut m = lock(&self.shared.machine);
                if m.is_closing() && self.closing_since.is_none() {
                    self.closing_since = Some(Instant::now());
                }
                match m.poll_output() {
                    Output::Transmit(b) => {
                        self.out.clear();
                        self.out.extend_from_slice(b);
                        Polled::Write
                    }
                    Output::Event(e) => Polled::Event(e),
                    Output::Wait(w) => Polled::Wait(w),
                    Output::Done(c) => Polled::Done(c),
                }
            };
            match polled {
                Polled::Write => {
                    if let Err(outcome) = self.write() {
                        return outcome;
                    }
                }
                Polled::Event(ServerEvent::Detected(form)) => {
                    self.form = Some(form.name());
                    if let Some(hub) = &server.hub {
                        let waker = Arc::clone(&self.shared.writer);
                        hub.join(self.conn.id, Arc::clone(&self.shared.machine), waker);
                    }
                }
                Polled::Event(ServerEvent::Message(text)) => {
                    if let Some(hub) = &server.hub {
                        hub.say(self.conn.id, &text);
                    }
                }
                Polled::Event(e) => tracing::debug!(id = self.conn.id, ?e, "event"),
                Polled::Wait(w) => self.wait(w),
                Polled::Done(closed) => return closed.to_string(),
            }
        }
    }

    /// Lets the reader go on, then sleeps until there is news or the deadline. Bytes still
    /// waiting for a client that reads slowly are retried at once: the write itself blocks.
    fn wait(&self, w: Wait) {
        self.shared.reader.wake();
        let server = &self.conn.server;
        if !w.wants_write {
            self.shared.writer.park(server.clock.until(w.deadline));
        }
        let now = server.clock.now();
        if w.deadline.is_some_and(|d| now >= d) {
            lock(&self.shared.machine).handle_timeout(now);
        }
    }

    /// Writes the copied bytes, acknowledging each piece to the machine.
    fn write(&mut self) -> Result<(), String> {
        let mut stream: &TcpStream = &self.conn.stream;
        let mut sent = 0;
        while sent < self.out.len() {
            match stream.write(&self.out[sent..]) {
                Ok(0) => return Err("write failed: connection closed".into()),
                Ok(n) => {
                    sent += n;
                    let mut m = lock(&self.shared.machine);
                    if let Err(e) = m.handle_sent(n) {
                        return Err(format!("bug: {e}"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    let now = self.conn.server.clock.now();
                    lock(&self.shared.machine).handle_timeout(now);
                    if self
                        .closing_since
                        .is_some_and(|t| t.elapsed() > CLOSE_GRACE)
                    {
                        // Log the machine's reason (e.g. 450), not only that delivery failed.
                        let why = lock(&self.shared.machine).closing_reason().cloned();
                        let why = why.map_or_else(String::new, |c| format!("{c}; "));
                        return Err(format!("{why}gave up: the client does not read"));
                    }
                    // Back to polling: timers may have fired, more may be queued.
                    return Ok(());
                }
                Err(e) => return Err(format!("write failed: {e}")),
            }
        }
        Ok(())
    }
}
