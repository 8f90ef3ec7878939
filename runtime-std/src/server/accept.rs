//! Accepting connections: the limit, the registry, a thread per connection, and the log
//! lines that open and close each one.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use unstuck_core::{BUSY_LINE, Stats};

use super::registry::Entry;
use super::{CONN_STACK, State, chat, upload};
use crate::limit::{ConnLimit, Permit};

/// Which port a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Service {
    Chat,
    Upload,
}

impl Service {
    pub(super) fn name(self) -> &'static str {
        match self {
            Service::Chat => "chat",
            Service::Upload => "upload",
        }
    }
}

/// One accepted connection, handed to its thread.
pub(super) struct Conn {
    pub(super) server: Arc<State>,
    /// One descriptor shared by the connection's threads and the shutdown registry
    /// (`&TcpStream` reads and writes), so a connection costs one file descriptor.
    pub(super) stream: Arc<TcpStream>,
    pub(super) peer: SocketAddr,
    pub(super) id: u64,
    _permit: Permit,
    _entry: Entry,
}

/// How a connection went, for its closing log line.
pub(super) struct Summary {
    pub(super) form: Option<&'static str>,
    pub(super) stats: Stats,
    pub(super) outcome: String,
}

/// Accepts connections until the server stops, each on a thread of its own; those over the
/// limit get the busy line.
pub(super) fn accept_loop(
    listener: &TcpListener,
    service: Service,
    server: &Arc<State>,
    limit: &ConnLimit,
) {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(_) if server.registry.is_stopping() => return,
            Err(e) => {
                // Out of file descriptors and the like: wait for connections to end.
                tracing::warn!(service = service.name(), "accept failed: {e}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Some(permit) = limit.try_acquire() else {
            tracing::warn!(service = service.name(), %peer, live = limit.live(), "busy: refused");
            refuse_busy(&stream);
            continue;
        };
        let id = server.next_id.fetch_add(1, Ordering::Relaxed);
        let stream = Arc::new(stream);
        let Some(entry) = server.registry.add(id, &stream) else {
            return;
        };
        let conn = Conn {
            server: Arc::clone(server),
            stream,
            peer,
            id,
            _permit: permit,
            _entry: entry,
        };
        let spawned = thread::Builder::new()
            .name(format!("{}-{id}", service.name()))
            .stack_size(CONN_STACK)
            .spawn(move || run_conn(conn, service));
        if let Err(e) = spawned {
            tracing::error!(service = service.name(), %peer, "cannot start a thread: {e}");
        }
    }
}

/// Sends the busy line to a connection over the limit and closes it.
fn refuse_busy(stream: &TcpStream) {
    let mut s = stream;
    // A fresh socket's send buffer is empty: this write does not block.
    let _ = s.set_nonblocking(true);
    let _ = s.write_all(BUSY_LINE);
    let _ = s.shutdown(Shutdown::Write);
}

fn run_conn(conn: Conn, service: Service) {
    let started = Instant::now();
    let (id, peer) = (conn.id, conn.peer);
    let name = service.name();
    tracing::info!(service = name, id, %peer, "open");
    if let Err(e) = conn.stream.set_nodelay(true) {
        tracing::debug!(id, "nodelay: {e}");
    }
    let s = match service {
        Service::Chat => chat::serve(conn),
        Service::Upload => upload::serve(conn),
    };
    tracing::info!(
        service = name,
        id,
        %peer,
        form = s.form.unwrap_or("-"),
        bytes_in = s.stats.bytes_in,
        bytes_out = s.stats.bytes_out,
        ms = started.elapsed().as_millis() as u64,
        outcome = %s.outcome,
        "close"
    );
}
