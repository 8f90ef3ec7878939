//! The server under test: either runtime's server, in this process, on a thread of its own.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use clap::Parser;
use unstuck_std::config::ServeArgs;

use super::PATIENCE;

/// A server runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `unstuck_std::server::Server`: blocking sockets, a thread per connection.
    Std,
    /// `unstuck_smol::Server`: async tasks on its own smol executor.
    Smol,
}

/// The `serve` flags, parsed exactly as both binaries parse them.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// Stops a running server gracefully, from any thread (a progress callback included).
#[derive(Clone, Debug)]
pub enum Stop {
    /// The std server's stopper.
    Std(unstuck_std::server::Stopper),
    /// The smol server's stopper.
    Smol(unstuck_smol::Stopper),
}

impl Stop {
    /// Starts the graceful stop (chat clients get 520, uploads stay resumable); returns at
    /// once.
    pub fn stop(&self) {
        match self {
            Stop::Std(s) => s.stop(),
            Stop::Smol(s) => s.stop(),
        }
    }
}

/// A server that is running: its addresses, its stopper, and how it ended.
struct Running {
    chat: SocketAddr,
    upload: SocketAddr,
    stop: Stop,
    ended: mpsc::Receiver<io::Result<()>>,
    thread: JoinHandle<()>,
}

/// A server of one runtime serving a temporary upload directory, on loopback ports the
/// system chose.
///
/// The directory outlives [`ServerUnderTest::stop`], so [`ServerUnderTest::restart`] brings a
/// new server up on the same files (on new ports). Dropping it stops the server and deletes
/// the directory.
pub struct ServerUnderTest {
    runtime: Runtime,
    flags: Vec<String>,
    running: Option<Running>,
    dir: PathBuf,
    scratch: PathBuf,
    // Last: removed after the server has stopped.
    tmp: tempfile::TempDir,
}

impl fmt::Debug for ServerUnderTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs = self.running.as_ref().map(|r| (r.chat, r.upload));
        f.debug_struct("ServerUnderTest")
            .field("runtime", &self.runtime)
            .field("flags", &self.flags)
            .field("addrs", &addrs)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Both server runtimes.
    pub const ALL: [Runtime; 2] = [Runtime::Std, Runtime::Smol];

    /// Starts a server with `serve` flags `flags` (beyond the addresses and the directory,
    /// which the harness chooses) on a fresh temporary upload directory.
    pub fn start(self, flags: &[&str]) -> ServerUnderTest {
        let tmp = tempfile::Builder::new()
            .prefix("unstuck-conformance-")
            .tempdir()
            .expect("a temporary directory");
        let dir = tmp.path().join("uploads");
        let scratch = tmp.path().join("files");
        std::fs::create_dir(&scratch).expect("the scratch directory");
        let mut server = ServerUnderTest {
            runtime: self,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            running: None,
            dir,
            scratch,
            tmp,
        };
        server.running = Some(server.launch());
        server
    }

    /// The other runtime.
    pub fn other(self) -> Runtime {
        match self {
            Runtime::Std => Runtime::Smol,
            Runtime::Smol => Runtime::Std,
        }
    }
}

impl ServerUnderTest {
    /// Which runtime this is.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The chat service's address. Panics if the server is stopped.
    pub fn chat_addr(&self) -> SocketAddr {
        self.live().chat
    }

    /// The upload service's address. Panics if the server is stopped.
    pub fn upload_addr(&self) -> SocketAddr {
        self.live().upload
    }

    /// The upload directory (created by the server).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A directory beside the upload directory, for the files clients send.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// The temporary directory that holds both [`ServerUnderTest::dir`] and
    /// [`ServerUnderTest::scratch`]: what "outside the upload directory" means in a test.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// A handle that stops the server from anywhere. Panics if the server is stopped.
    pub fn stopper(&self) -> Stop {
        self.live().stop.clone()
    }

    /// Stops the server gracefully and waits (at most [`PATIENCE`]) until its `run` has
    /// returned; fails the test if it returned an error. Does nothing if already stopped.
    pub fn stop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        running.stop.stop();
        let ended = running.ended.recv_timeout(PATIENCE);
        match ended {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the {:?} server's run failed: {e}", self.runtime),
            Err(_) => panic!(
                "the {:?} server did not stop within {PATIENCE:?}",
                self.runtime
            ),
        }
        running
            .thread
            .join()
            .unwrap_or_else(|_| panic!("the {:?} server thread panicked", self.runtime));
    }

    /// Stops the server (if it runs) and starts a new one of the same runtime, with the same
    /// flags, on the same upload directory. The addresses change.
    pub fn restart(&mut self) {
        self.stop();
        self.running = Some(self.launch());
    }

    fn live(&self) -> &Running {
        self.running
            .as_ref()
            .unwrap_or_else(|| panic!("the {:?} server is stopped", self.runtime))
    }

    fn launch(&self) -> Running {
        let mut argv: Vec<String> = ["serve", "--chat", "127.0.0.1:0", "--upload", "127.0.0.1:0"]
            .map(String::from)
            .into();
        argv.push("--dir".into());
        argv.push(self.dir.to_str().expect("a UTF-8 temp path").into());
        argv.extend(self.flags.iter().cloned());
        let args = match Cli::try_parse_from(&argv) {
            Ok(cli) => cli.serve,
            Err(e) => panic!("bad serve flags {:?}: {e}", self.flags),
        };
        let (tx, ended) = mpsc::channel();
        let name = format!("{:?}-server", self.runtime).to_lowercase();
        let bound = |e: io::Error| -> ! { panic!("the {:?} server: {e}", self.runtime) };
        let (chat, upload, stop, run): (_, _, _, Box<dyn FnOnce() -> io::Result<()> + Send>) =
            match self.runtime {
                Runtime::Std => {
                    let s = unstuck_std::server::Server::bind(&args).unwrap_or_else(|e| bound(e));
                    let (c, u, stop) = (s.chat_addr(), s.upload_addr(), Stop::Std(s.stopper()));
                    (c, u, stop, Box::new(move || s.run()))
                }
                Runtime::Smol => {
                    let s = unstuck_smol::Server::bind(&args).unwrap_or_else(|e| bound(e));
                    let (c, u, stop) = (s.chat_addr(), s.upload_addr(), Stop::Smol(s.stopper()));
                    let threads = unstuck_smol::Server::default_threads();
                    (c, u, stop, Box::new(move || s.run(threads)))
                }
            };
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let _ = tx.send(run());
            })
            .expect("a server thread");
        Running {
            chat,
            upload,
            stop,
            ended,
            thread,
        }
    }
}

impl Drop for ServerUnderTest {
    fn drop(&mut self) {
        // Also on a failing test: stop the server before its directory goes, but never
        // panic here, and never wait without bound (after a failure, not long: the server
        // may be what failed).
        if let Some(running) = self.running.take() {
            running.stop.stop();
            let patience = if thread::panicking() {
                PATIENCE / 4
            } else {
                PATIENCE
            };
            if running.ended.recv_timeout(patience).is_ok() {
                let _ = running.thread.join();
            }
        }
    }
}
