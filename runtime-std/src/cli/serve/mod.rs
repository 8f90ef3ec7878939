//! `unstuck serve`: the chat and upload services, a thread per connection.

mod chat;
mod park;
mod registry;
mod upload;

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use unstuck_core::BUSY_LINE;
use unstuck_core::Stats;
use unstuck_core::chat::ChatConfig;
use unstuck_core::upload::UploadConfig;
use unstuck_std::clock::Clock;
use unstuck_std::config::{ChatMode, ServeArgs, listening_line};
use unstuck_std::hub::Hub;
use unstuck_std::limit::{ConnLimit, Permit};
use unstuck_std::store::Store;

use super::Exit;
use park::Parker;
use registry::{Entry, Registry};

pub(super) const HELP: &str = "\
Examples:
  unstuck serve                                   defaults: chat :8888, upload :9998, ./uploads
  unstuck serve --chat-mode room                  a chat room instead of the bot
  unstuck serve --chat 0.0.0.0:8888 --dir /srv/up listen on every interface (no encryption!)
  unstuck serve --chat 127.0.0.1:0 --upload 127.0.0.1:0
                                                  pick free ports; read them from stdout
  RUST_LOG=debug unstuck serve                    more detail in the logs (stderr)

Once both ports are bound it prints `listening chat=ADDR upload=ADDR` on stdout.
Uploads are written to hidden `.NAME.part` files and appear under their name only once
their digest matches. Ctrl-C or SIGTERM stops accepting, tells chat clients the server is
going down, keeps unfinished uploads resumable, and exits 0.

Exit status:
  0  stopped by Ctrl-C or SIGTERM
  5  could not start (address in use, upload directory not writable or used by
     another unstuck server)";

/// Reads body bytes straight into the upload machine's buffer, this much at a time.
const UPLOAD_RECV_BUFFER: usize = 1 << 20;
/// How long a stopping server waits for its connections to say goodbye.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Stack of connection threads: they parse and hash, they do not recurse.
const CONN_STACK: usize = 256 * 1024;

/// Which port a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Chat,
    Upload,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Chat => "chat",
            Service::Upload => "upload",
        }
    }
}

/// What every connection thread shares.
struct Server {
    clock: Clock,
    registry: Arc<Registry>,
    chat: Arc<ChatConfig>,
    upload: UploadConfig,
    store: Arc<Store>,
    /// Room mode only.
    hub: Option<Hub<Arc<Parker>>>,
    next_id: AtomicU64,
}

/// One accepted connection, handed to its thread.
struct Conn {
    server: Arc<Server>,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    _permit: Permit,
    _entry: Entry,
}

/// How a connection went, for its closing log line.
struct Summary {
    form: Option<&'static str>,
    stats: Stats,
    outcome: String,
}

pub(super) fn run(args: ServeArgs) -> Exit {
    match serve(&args) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            tracing::error!("cannot serve: {e}");
            Exit::Failure
        }
    }
}

fn serve(args: &ServeArgs) -> io::Result<()> {
    let store = Store::open(&args.dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", args.dir.display())))?;
    let bind = |addr: SocketAddr| {
        TcpListener::bind(addr).map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}")))
    };
    let listeners = [bind(args.chat)?, bind(args.upload)?];
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let server = Arc::new(Server {
        clock: Clock::new(),
        registry: Arc::default(),
        chat: Arc::new(args.chat_config()),
        upload: args.upload_config(UPLOAD_RECV_BUFFER),
        store: Arc::new(store),
        hub: (args.chat_mode == ChatMode::Room).then(Hub::new),
        next_id: AtomicU64::new(1),
    });
    let (chat_addr, upload_addr) = (listeners[0].local_addr()?, listeners[1].local_addr()?);
    let mut acceptors = Vec::new();
    for (listener, service) in listeners.iter().zip([Service::Chat, Service::Upload]) {
        let listener = listener.try_clone()?;
        let server = Arc::clone(&server);
        let limit = ConnLimit::new(args.max_conns);
        acceptors.push(
            thread::Builder::new()
                .name(format!("accept-{}", service.name()))
                .spawn(move || accept_loop(&listener, service, &server, &limit))?,
        );
    }
    tracing::info!(
        chat = %chat_addr,
        upload = %upload_addr,
        dir = %args.dir.display(),
        mode = ?args.chat_mode,
        "listening"
    );
    println!("{}", listening_line(chat_addr, upload_addr));

    let signal = signals.forever().next();
    tracing::info!(
        ?signal,
        "stopping: no new connections, closing the live ones"
    );
    for listener in &listeners {
        // Wakes the acceptors blocked in accept(), which then return.
        let _ = rustix::net::shutdown(listener, rustix::net::Shutdown::Read);
    }
    server.registry.stop_all(STOP_GRACE);
    for a in acceptors {
        let _ = a.join();
    }
    let left = server.registry.wait_empty(STOP_GRACE * 2);
    if left > 0 {
        tracing::warn!(left, "connections still open at exit");
    }
    tracing::info!("stopped");
    Ok(())
}

fn accept_loop(listener: &TcpListener, service: Service, server: &Arc<Server>, limit: &ConnLimit) {
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
