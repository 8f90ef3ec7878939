//! The blocking server: the chat and upload services, a thread per connection.
//!
//! ```no_run
//! use clap::Parser;
//! use unstuck_std::config::ServeArgs;
//! use unstuck_std::server::Server;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     serve: ServeArgs,
//! }
//!
//! let cli = Cli::parse_from(["x", "--chat", "127.0.0.1:0", "--upload", "127.0.0.1:0"]);
//! let mut server = Server::bind(&cli.serve)?;
//! server.stop_on_signals()?; // SIGINT / SIGTERM: graceful stop, then `run` returns
//! println!("chat on {}", server.chat_addr());
//! server.run()?;
//! # std::io::Result::Ok(())
//! ```
//!
//! How it is built: each accepted connection gets a thread (`accept.rs`); an upload is one
//! thread that reads and writes in turn (`upload.rs`), a chat connection a writer thread
//! that drives the core's machine and a reader thread that feeds it (`chat.rs`). Every live
//! socket is in a registry (`registry.rs`), so that a stop reaches all of them at once.

mod accept;
mod chat;
mod park;
mod registry;
mod stop;
mod upload;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use unstuck_core::chat::ChatConfig;
use unstuck_core::upload::UploadConfig;

use crate::clock::Clock;
use crate::config::{ChatMode, ServeArgs};
use crate::hub::Hub;
use crate::limit::ConnLimit;
use crate::store::Store;
use accept::{Service, accept_loop};
use park::Parker;
use registry::Registry;
pub use stop::Stopper;

/// Reads body bytes straight into the upload machine's buffer, this much at a time.
const UPLOAD_RECV_BUFFER: usize = 1 << 20;
/// How long a stopping server waits for its connections to say goodbye.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Stack of connection threads: they parse and hash, they do not recurse.
const CONN_STACK: usize = 256 * 1024;

/// What every connection thread of one server shares.
struct State {
    clock: Clock,
    registry: Arc<Registry>,
    chat: Arc<ChatConfig>,
    upload: UploadConfig,
    store: Arc<Store>,
    /// Room mode only.
    hub: Option<Hub<Arc<Parker>>>,
    next_id: AtomicU64,
}

/// A bound server, not yet running: read its addresses, then [`Server::run`] it.
///
/// [`Server::run`] blocks until a [`Stopper`] (or, after [`Server::stop_on_signals`], SIGINT
/// or SIGTERM) stops it: it stops accepting, shuts every live connection down (chat clients
/// get `520 server going down`, unfinished uploads keep a resumable checkpoint), waits for
/// them to end, and returns.
pub struct Server {
    state: Arc<State>,
    chat: TcpListener,
    upload: TcpListener,
    chat_addr: SocketAddr,
    upload_addr: SocketAddr,
    max_conns: usize,
    dir: PathBuf,
    mode: ChatMode,
    stopper: Stopper,
    signals: Option<Signals>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("chat", &self.chat_addr)
            .field("upload", &self.upload_addr)
            .field("dir", &self.dir)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the upload directory (created if missing) and binds both services. Errors name
    /// the directory or the address that failed.
    pub fn bind(args: &ServeArgs) -> io::Result<Server> {
        let store = Store::open(&args.dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", args.dir.display())))?;
        let bind = |addr: SocketAddr| {
            TcpListener::bind(addr).map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}")))
        };
        let (chat, upload) = (bind(args.chat)?, bind(args.upload)?);
        let state = State {
            clock: Clock::new(),
            registry: Arc::default(),
            chat: Arc::new(args.chat_config()),
            upload: args.upload_config(UPLOAD_RECV_BUFFER),
            store: Arc::new(store),
            hub: (args.chat_mode == ChatMode::Room).then(Hub::new),
            next_id: AtomicU64::new(1),
        };
        Ok(Server {
            state: Arc::new(state),
            chat_addr: chat.local_addr()?,
            upload_addr: upload.local_addr()?,
            chat,
            upload,
            max_conns: args.max_conns,
            dir: args.dir.clone(),
            mode: args.chat_mode,
            stopper: Stopper::new(),
            signals: None,
        })
    }

    /// The chat service's bound address (the port the system chose, after port 0).
    pub fn chat_addr(&self) -> SocketAddr {
        self.chat_addr
    }

    /// The upload service's bound address.
    pub fn upload_addr(&self) -> SocketAddr {
        self.upload_addr
    }

    /// A handle that stops the server gracefully, from any thread, before or during
    /// [`Server::run`].
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Makes SIGINT and SIGTERM stop the server gracefully (as [`Stopper::stop`]) while it
    /// runs. The handlers are installed now, so a signal that comes before [`Server::run`]
    /// is not lost.
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        self.signals = Some(Signals::new([SIGINT, SIGTERM])?);
        Ok(())
    }

    /// Serves until stopped; returns once the listeners are closed and every connection has
    /// ended (or, for connections that would not end, after a grace period).
    pub fn run(self) -> io::Result<()> {
        let Server {
            state,
            chat,
            upload,
            chat_addr,
            upload_addr,
            max_conns,
            dir,
            mode,
            stopper,
            signals,
        } = self;
        let watcher = match signals {
            Some(signals) => Some(stop::watch_signals(signals, stopper.clone())?),
            None => None,
        };
        let listeners = [chat, upload];
        let mut acceptors = Vec::new();
        let mut failed = None;
        for (listener, service) in listeners.iter().zip([Service::Chat, Service::Upload]) {
            let spawned = listener.try_clone().and_then(|listener| {
                let state = Arc::clone(&state);
                let limit = ConnLimit::new(max_conns);
                thread::Builder::new()
                    .name(format!("accept-{}", service.name()))
                    .spawn(move || accept_loop(&listener, service, &state, &limit))
            });
            match spawned {
                Ok(a) => acceptors.push(a),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if failed.is_none() {
            tracing::info!(
                chat = %chat_addr,
                upload = %upload_addr,
                dir = %dir.display(),
                ?mode,
                "listening"
            );
            stopper.wait();
            tracing::info!("stopping: no new connections, closing the live ones");
        }
        for listener in &listeners {
            // Wakes the acceptors blocked in accept(), which then return.
            let _ = rustix::net::shutdown(listener, rustix::net::Shutdown::Read);
        }
        state.registry.stop_all(STOP_GRACE);
        for a in acceptors {
            let _ = a.join();
        }
        let left = state.registry.wait_empty(STOP_GRACE * 2);
        if left > 0 {
            tracing::warn!(left, "connections still open at exit");
        }
        if let Some(w) = watcher {
            w.close();
        }
        match failed {
            Some(e) => Err(e),
            None => {
                tracing::info!("stopped");
                Ok(())
            }
        }
    }
}
