//! The conformance harness: a server under test and a client under test, for each runtime.
//!
//! A scenario is written once, as a function of a [`Pair`]; the suite in
//! `tests/tests/conformance.rs` runs it against every server and client combination (std and
//! smol servers, std and smol client libraries, mixed included). Scenarios whose client is a
//! hand-written seed-style client ([`raw`]) depend on the server only.
//!
//! - [`server`]: [`Runtime`] starts a server in this process on port 0, in a thread, with
//!   given flags and a temporary upload directory; [`ServerUnderTest`] stops it gracefully and
//!   restarts it on the same directory.
//! - [`client`]: [`Client`] wraps each runtime's client library behind one blocking API.
//! - [`raw`]: plain sockets for seed-style clients (nc lines, the classic chat and upload
//!   clients) and native frames written by hand.
//!
//! Synchronisation is by what a peer says or does, never by sleeping: every read has a
//! timeout ([`PATIENCE`]), which only turns a hang into a failure, and every loop is bounded.

pub mod client;
pub mod raw;
pub mod server;

use std::fmt;
use std::fs;
use std::path::Path;
use std::time::Duration;

pub use client::{Chat, Client, Upload};
pub use server::{Runtime, ServerUnderTest, Stop};

/// How long any one step may take before the test fails. A safety net, not a clock.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The chat banner of bot mode (spec 4.4), without its `LF`.
pub const WELCOME: &str = "欢迎来到简单的聊天室..";

/// One server runtime and one client runtime: what a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The runtime of the server under test.
    pub server: Runtime,
    /// The runtime of the client library under test.
    pub client: Client,
}

impl Pair {
    /// A server of one runtime with a client of another (or the same).
    pub fn new(server: Runtime, client: Client) -> Self {
        Pair { server, client }
    }

    /// Every combination: same-runtime pairs and both mixed pairs.
    pub fn all() -> [Pair; 4] {
        [
            Pair::new(Runtime::Std, Client::Std),
            Pair::new(Runtime::Std, Client::Smol),
            Pair::new(Runtime::Smol, Client::Std),
            Pair::new(Runtime::Smol, Client::Smol),
        ]
    }
}

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} server, {:?} client", self.server, self.client)
    }
}

/// Deterministic, incompressible bytes (xorshift), so a misplaced block would show.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The entries of a directory (hidden ones included), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| {
            let e = e.expect("a directory entry");
            e.file_name().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Waits until `condition` holds, checking it every millisecond; fails after [`PATIENCE`].
///
/// For conditions no peer announces, such as how much of a partial upload the server has
/// written to disk. The short pause between checks only paces the loop: the outcome never
/// depends on how long it is.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            std::time::Instant::now() < until,
            "gave up waiting after {PATIENCE:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
