//! One chat connection on the server: moves bytes between its socket and its
//! [`ChatServer`], runs its timers, and in room mode hands its messages to the shared
//! [`Hub`], which renders them into the other members' machines and rings their [`Bell`]s.
//!
//! The connection is a hand-written future, [`ChatConn`], not an `async fn`: chat
//! connections are the ones that come by the thousand and sit idle, so the task's size is
//! the per-connection cost. An `async fn` driver measured 1,152 bytes (nested futures keep
//! their own copies of their arguments and locals); this struct holds each field once.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::{Event, EventListener};
use unstuck_core::chat::{ChatServer, Form, ServerEvent};
use unstuck_core::{Closed, Instant, Output, Stats, Wait};
use unstuck_std::hub::{Hub, Wake, lock};

use crate::link::{Link, Ready};
use crate::server::Shared;

/// How long a closing connection may take to accept its last bytes (a CLOSE, say) before it
/// is dropped: a client that stopped reading must not hold a slot until its idle timeout.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Rings a room member's task when the hub has queued bytes for it.
#[derive(Debug, Default)]
pub(crate) struct Bell(Event);

impl Wake for Bell {
    fn wake(&self) {
        self.0.notify(1);
    }
}

/// The room of a smol server.
pub(crate) type Room = Hub<Arc<Bell>>;

/// Where a connection keeps its machine: inline in bot mode, shared with the hub in room
/// mode. Generic rather than an enum, so a bot connection does not pay for the room's
/// indirection nor a room connection for an inline machine.
pub(crate) trait Holder: Send + Unpin + 'static {
    /// Holds a new machine.
    fn wrap(m: ChatServer) -> Self;
    /// Runs `f` on the machine (under its lock, if shared: never across an await).
    fn with<R>(&mut self, f: impl FnOnce(&mut ChatServer) -> R) -> R;
    /// The machine as the hub shares it, in room mode.
    fn shared(&self) -> Option<&Arc<Mutex<ChatServer>>>;
}

impl Holder for ChatServer {
    fn wrap(m: ChatServer) -> Self {
        m
    }
    fn with<R>(&mut self, f: impl FnOnce(&mut ChatServer) -> R) -> R {
        f(self)
    }
    fn shared(&self) -> Option<&Arc<Mutex<ChatServer>>> {
        None
    }
}

impl Holder for Arc<Mutex<ChatServer>> {
    fn wrap(m: ChatServer) -> Self {
        Arc::new(Mutex::new(m))
    }
    fn with<R>(&mut self, f: impl FnOnce(&mut ChatServer) -> R) -> R {
        f(&mut lock(self))
    }
    fn shared(&self) -> Option<&Arc<Mutex<ChatServer>>> {
        Some(self)
    }
}

/// Starts serving one accepted chat connection: a future that ends once it is closed. `M`
/// is [`ChatServer`] in bot mode and `Arc<Mutex<ChatServer>>` in room mode.
pub(crate) fn serve<M: Holder>(link: Link, shared: Arc<Shared>, id: u64) -> ChatConn<M> {
    let now = link.now();
    let machine = M::wrap(ChatServer::new(Arc::clone(&shared.chat_config), now));
    ChatConn::new(link, shared, id, machine)
}

/// A chat connection as one future: it serves the client, logs the outcome, and closes
/// with a linger.
pub(crate) struct ChatConn<M> {
    link: Option<Link>,
    shared: Arc<Shared>,
    machine: M,
    /// Room mode: this member's bell, which the hub rings.
    bell: Option<Arc<Bell>>,
    id: u64,
    stop: Option<EventListener>,
    rung: Option<EventListener>,
    give_up: Option<Instant>,
    form: Option<Form>,
    start: Instant,
    /// The lingering close, once served; boxed: only closing connections pay for it.
    closing: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// What draining the machine ended with.
enum Flow {
    Event(ServerEvent),
    Wait(Wait),
    Done(Closed),
}

/// Drains `m` until it waits, ends, or has an event, writing what it transmits straight to
/// the socket (all pending bytes in one `write`). Runs under the machine's lock: no await.
fn drain(link: &Link, m: &mut ChatServer) -> io::Result<Flow> {
    loop {
        match m.poll_output() {
            Output::Transmit(bytes) => {
                // Nothing written, nothing reported: `handle_sent(0)` would have the machine
                // offer the same bytes again at once, and this loop would spin on a full
                // socket. Polling on makes it say `Wait { wants_write }` instead.
                let n = link.try_write(bytes)?;
                if n > 0 {
                    m.handle_sent(n).map_err(io::Error::other)?;
                }
            }
            Output::Event(e) => return Ok(Flow::Event(e)),
            Output::Wait(w) => return Ok(Flow::Wait(w)),
            Output::Done(c) => return Ok(Flow::Done(c)),
        }
    }
}

/// Reads what the socket holds straight into the machine's buffer (allocated only now, and
/// released by the core once parsed).
fn read(link: &Link, m: &mut ChatServer) -> io::Result<()> {
    let now = link.now();
    let buf = m.recv_buf();
    if buf.is_empty() {
        return Ok(());
    }
    match link.try_read(buf)? {
        None => {}
        Some(0) => m.handle_eof(now),
        Some(n) => m.handle_received(now, n),
    }
    Ok(())
}

impl<M: Holder> ChatConn<M> {
    fn new(link: Link, shared: Arc<Shared>, id: u64, machine: M) -> Self {
        let stop = Some(shared.stop.listen());
        let start = link.now();
        let bell = machine.shared().map(|_| Arc::new(Bell::default()));
        ChatConn {
            link: Some(link),
            shared,
            machine,
            bell,
            id,
            stop,
            rung: None,
            give_up: None,
            form: None,
            start,
            closing: None,
        }
    }

    fn log(&mut self, link: &Link, outcome: &io::Result<Closed>) {
        let peer = link.peer();
        let id = self.id;
        let stats: Stats = self.machine.with(|m| m.stats());
        let form = self.form.map_or("undecided", Form::name);
        let secs = link.now().saturating_since(self.start).as_secs_f64();
        match outcome {
            Ok(closed) => tracing::info!(
                %peer, id, form, bytes_in = stats.bytes_in, bytes_out = stats.bytes_out,
                secs, outcome = %closed, "chat closed"
            ),
            Err(e) => tracing::info!(
                %peer, id, form, bytes_in = stats.bytes_in, bytes_out = stats.bytes_out,
                secs, outcome = %e, "chat dropped"
            ),
        }
    }

    /// Runs the connection until it ends or must wait.
    fn step(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Closed>> {
        let Some(link) = self.link.as_mut() else {
            return Poll::Ready(Err(io::Error::other("polled after the end")));
        };
        loop {
            if self.stop.is_some() && self.shared.stop.is_stopped() {
                self.stop = None;
                self.machine.with(ChatServer::shutdown);
            }
            if let (Some(b), None) = (&self.bell, &self.rung) {
                // Listen before draining, so a delivery made after the drain is never missed.
                self.rung = Some(b.0.listen());
            }
            let give_up = &mut self.give_up;
            let flow = self.machine.with(|m| {
                let flow = drain(link, m);
                if give_up.is_none() && m.is_closing() {
                    *give_up = Some(link.now() + CLOSE_GRACE);
                }
                flow
            })?;
            let wait = match flow {
                Flow::Event(ServerEvent::Detected(f)) => {
                    self.form = Some(f);
                    if let (Some(room), Some(m), Some(b)) =
                        (&self.shared.room, self.machine.shared(), &self.bell)
                    {
                        room.join(self.id, Arc::clone(m), Arc::clone(b));
                    }
                    continue;
                }
                Flow::Event(ServerEvent::Message(text)) => {
                    if let Some(room) = &self.shared.room {
                        room.say(self.id, &text);
                    }
                    continue;
                }
                Flow::Event(_) => continue,
                Flow::Done(closed) => return Poll::Ready(Ok(closed)),
                Flow::Wait(w) => w,
            };
            let wait = Wait {
                deadline: match (wait.deadline, self.give_up) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
                ..wait
            };
            let ready = link.poll_wait(cx, wait, [self.stop.as_mut(), self.rung.as_mut()]);
            match ready {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => match r? {
                    Ready::Read => self.machine.with(|m| read(link, m))?,
                    Ready::Write => {}
                    Ready::Timer => {
                        let now = link.now();
                        if self.give_up.is_some_and(|t| now >= t) {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "the client did not take its last bytes",
                            )));
                        }
                        self.machine.with(|m| m.handle_timeout(now));
                    }
                    Ready::Wake(0) => {} // the stop: handled at the top of the loop
                    Ready::Wake(_) => self.rung = None,
                },
            }
        }
    }
}

impl<M: Holder> Future for ChatConn<M> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.closing.is_none() {
            let outcome = match this.step(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => outcome,
            };
            if let Some(room) = &this.shared.room {
                room.leave(this.id);
            }
            let Some(link) = this.link.take() else {
                return Poll::Ready(());
            };
            this.log(&link, &outcome);
            this.closing = Some(Box::pin(link.linger(CLOSE_GRACE)));
        }
        match &mut this.closing {
            Some(linger) => linger.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chat task is the per-connection cost of an idle client: keep it from creeping up.
    /// (An `async fn` driver was 1,152 bytes; the machine alone is the core's, about 300.)
    #[test]
    fn a_bot_connection_task_stays_small() {
        let machine = std::mem::size_of::<ChatServer>();
        let conn = std::mem::size_of::<ChatConn<ChatServer>>();
        let room = std::mem::size_of::<ChatConn<Arc<Mutex<ChatServer>>>>();
        assert!(
            conn <= machine + 256,
            "bot connection {conn} bytes, machine {machine}"
        );
        assert!(room <= 256, "room connection {room} bytes");
        assert!(std::mem::size_of::<Link>() <= 128);
    }
}
