//! The server: two listeners, their connection limits, an executor, and shutdown.

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, Timer};
use async_signal::{Signal, Signals};
use futures_lite::{StreamExt, future};
use smol::Executor;
use unstuck_core::BUSY_LINE;
use unstuck_core::chat::{ChatConfig, ChatServer, Mode};
use unstuck_core::upload::UploadConfig;
use unstuck_std::clock::Clock;
use unstuck_std::config::ServeArgs;
use unstuck_std::limit::{ConnLimit, Permit};
use unstuck_std::store::Store;

use crate::chat::Room;
use crate::link::Link;
use crate::stop::Stop;
use crate::{chat, upload};

/// Bytes between an upload socket and the disk: each read and each pool hop moves this much.
/// Matches the core's default; larger buys little once a syscall moves 256 KiB.
const UPLOAD_RECV_BUFFER: usize = 256 * 1024;

/// What every connection task of one server shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: Clock,
    pub(crate) chat_config: Arc<ChatConfig>,
    pub(crate) upload_config: UploadConfig,
    pub(crate) store: Arc<Store>,
    /// The room, in room mode.
    pub(crate) room: Option<Room>,
    /// Shared with [`Stopper`]s, which must not keep the rest (the store's lock on its
    /// directory, say) alive after the server is gone.
    pub(crate) stop: Arc<Stop>,
    next_id: AtomicU64,
}

/// Which port a connection came in on.
#[derive(Clone, Copy, Debug)]
enum Service {
    Chat,
    Upload,
}

/// A bound server, not yet running: read its addresses, then [`Server::run`] it.
///
/// ```no_run
/// use clap::Parser;
/// use unstuck_smol::Server;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     serve: unstuck_std::config::ServeArgs,
/// }
///
/// let cli = Cli::parse_from(["x", "--chat", "127.0.0.1:0", "--upload", "127.0.0.1:0"]);
/// let mut server = Server::bind(&cli.serve)?;
/// server.stop_on_signals()?; // SIGINT / SIGTERM: graceful stop, then `run` returns
/// println!("chat on {}", server.chat_addr());
/// server.run(Server::default_threads())?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    chat: Async<TcpListener>,
    upload: Async<TcpListener>,
    chat_limit: ConnLimit,
    upload_limit: ConnLimit,
    signals: Option<Signals>,
}

/// Stops a running [`Server`] from anywhere: it stops accepting, tells every connection
/// (chat clients get CLOSE 520, uploads keep a resumable checkpoint), and `run` returns once
/// the last connection is gone.
#[derive(Clone, Debug)]
pub struct Stopper(Arc<Stop>);

impl Stopper {
    /// Starts the graceful stop. Calling it again, or after the server is gone, does nothing.
    pub fn stop(&self) {
        self.0.trigger();
    }
}

impl Server {
    /// Binds both services and opens the upload directory (created if missing).
    pub fn bind(args: &ServeArgs) -> io::Result<Server> {
        let store = Arc::new(Store::open(&args.dir)?);
        let chat_config = args.chat_config();
        let room = (chat_config.mode == Mode::Room).then(Room::new);
        let shared = Shared {
            clock: Clock::new(),
            chat_config: Arc::new(chat_config),
            upload_config: args.upload_config(UPLOAD_RECV_BUFFER),
            store,
            room,
            stop: Arc::default(),
            next_id: AtomicU64::new(1),
        };
        Ok(Server {
            shared: Arc::new(shared),
            chat: bind(args.chat)?,
            upload: bind(args.upload)?,
            chat_limit: ConnLimit::new(args.max_conns),
            upload_limit: ConnLimit::new(args.max_conns),
            signals: None,
        })
    }

    /// The chat service's bound address (useful after binding port 0).
    pub fn chat_addr(&self) -> SocketAddr {
        self.chat
            .get_ref()
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The upload service's bound address.
    pub fn upload_addr(&self) -> SocketAddr {
        self.upload
            .get_ref()
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// A handle that stops the server gracefully.
    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.shared.stop))
    }

    /// Makes SIGINT and SIGTERM stop the server gracefully (as [`Stopper::stop`]).
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        self.signals = Some(Signals::new([Signal::Int, Signal::Term])?);
        Ok(())
    }

    /// Threads for [`Server::run`]: `SMOL_THREADS` if set (smol's own convention), else one.
    ///
    /// One thread is the default because it measured best on this project's 2-core machine
    /// kind: the clients share the cores, and with one executor thread the room's lock is
    /// never contended (see `runtime-smol/README.md` for the numbers).
    pub fn default_threads() -> NonZeroUsize {
        std::env::var("SMOL_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(NonZeroUsize::MIN)
    }

    /// Serves until stopped, on an executor with `threads` threads (this one included).
    /// Returns once the listeners are closed and every connection has ended.
    pub fn run(self, threads: NonZeroUsize) -> io::Result<()> {
        let ex = Arc::new(Executor::new());
        let (done_tx, done_rx) = async_channel::bounded::<()>(1);
        let workers: Vec<_> = (1..threads.get())
            .map(|i| {
                let ex = Arc::clone(&ex);
                let done = done_rx.clone();
                std::thread::Builder::new()
                    .name(format!("unstuck-smol-{i}"))
                    .spawn(move || async_io::block_on(ex.run(done.recv())))
            })
            .collect::<io::Result<_>>()?;
        let result = async_io::block_on(ex.run(self.serve(&ex)));
        drop(done_tx);
        for w in workers {
            let _ = w.join();
        }
        result
    }

    async fn serve(self, ex: &Arc<Executor<'static>>) -> io::Result<()> {
        let Server {
            shared,
            chat,
            upload,
            chat_limit,
            upload_limit,
            signals,
        } = self;
        if let Some(mut signals) = signals {
            let stopper = Stopper(Arc::clone(&shared.stop));
            ex.spawn(async move {
                if let Some(Ok(sig)) = signals.next().await {
                    tracing::info!(signal = ?sig, "stopping: no new connections, closing the others");
                }
                stopper.stop();
                // A second signal means "now": no more waiting for connections to close.
                if let Some(Ok(sig)) = signals.next().await {
                    tracing::warn!(signal = ?sig, "stopping at once");
                    std::process::exit(130);
                }
            })
            .detach();
        }
        future::zip(
            accept_loop(&chat, &chat_limit, &shared, ex, Service::Chat),
            accept_loop(&upload, &upload_limit, &shared, ex, Service::Upload),
        )
        .await;
        drop((chat, upload));
        shared.stop.drained().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// A listener with a large backlog, registered with the reactor; errors name the address.
fn bind(addr: SocketAddr) -> io::Result<Async<TcpListener>> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{addr}: {e}"));
    Async::new(crate::listen::listen(addr).map_err(named)?)
}

/// Accepts connections until the stop, each in its own task, turning away those over the
/// limit with the busy line.
async fn accept_loop(
    listener: &Async<TcpListener>,
    limit: &ConnLimit,
    shared: &Arc<Shared>,
    ex: &Arc<Executor<'static>>,
    service: Service,
) {
    let mut stop = shared.stop.listen();
    loop {
        if shared.stop.is_stopped() {
            return;
        }
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            (&mut stop).await;
            None
        })
        .await;
        let (sock, peer) = match accepted {
            None => return,
            Some(Ok(pair)) => pair,
            Some(Err(e)) => {
                // Out of descriptors, or a connection reset before it was accepted: the
                // listener itself is fine. Pause briefly so a full table is not spun on.
                tracing::warn!(?service, "accept failed: {e}");
                Timer::after(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Some(permit) = limit.try_acquire() else {
            tracing::info!(%peer, ?service, "busy: at the connection limit");
            turn_away(sock.get_ref());
            continue;
        };
        let _ = sock.get_ref().set_nodelay(true);
        let shared = Arc::clone(shared);
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        tracing::info!(%peer, id, ?service, "open");
        let link = Link::new(sock, shared.clock);
        // Two spawn sites, so a chat task is sized for chat only, not for the larger upload.
        match service {
            // Bot and room connections are tasks of different types and sizes.
            Service::Chat if shared.room.is_some() => {
                let live = LiveGuard::new(&shared);
                let conn = chat::serve::<Arc<Mutex<ChatServer>>>(link, shared, id);
                spawn(ex, Tracked { conn, permit, live });
            }
            Service::Chat => {
                let live = LiveGuard::new(&shared);
                let conn = chat::serve::<ChatServer>(link, shared, id);
                spawn(ex, Tracked { conn, permit, live });
            }
            Service::Upload => {
                let live = LiveGuard::new(&shared);
                spawn(ex, async move {
                    let (_permit, _live) = (permit, live);
                    upload::serve(link, &shared, id).await;
                });
            }
        }
    }
}

/// Runs one connection as a task of its own.
fn spawn(ex: &Executor<'static>, conn: impl Future<Output = ()> + Send + 'static) {
    tracing::trace!(task_bytes = std::mem::size_of_val(&conn), "spawn");
    ex.spawn(conn).detach();
}

/// A connection future that holds its slot and counts as live until it ends; no wrapper
/// future of its own, so it costs only these two fields.
struct Tracked<F> {
    conn: F,
    permit: Permit,
    live: LiveGuard,
}

impl<F: Future<Output = ()> + Unpin> Future for Tracked<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let _ = (&this.permit, &this.live);
        Pin::new(&mut this.conn).poll(cx)
    }
}

/// Counts a connection as live for the stop's drain, from before its task starts.
#[derive(Debug)]
struct LiveGuard(Arc<Shared>);

impl LiveGuard {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.stop.enter();
        LiveGuard(Arc::clone(shared))
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.stop.leave();
    }
}

/// The spec's answer to a connection over the limit: the busy line, then close. The socket
/// is fresh, so the line fits its send buffer and this never blocks.
fn turn_away(sock: &TcpStream) {
    use std::io::Write;
    let _ = (&*sock).write(BUSY_LINE);
    let _ = sock.shutdown(Shutdown::Write);
}
