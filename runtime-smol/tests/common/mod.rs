//! A smol server per test: in-process on ports chosen by the OS, or the real binary.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use clap::Parser;
use unstuck_smol::{Server, Stopper};
use unstuck_std::config::ServeArgs;

/// Every blocking socket operation in a test gives up after this long, so a bug fails the
/// test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

/// A server running in this process, on a thread of its own.
pub struct TestServer {
    pub chat: SocketAddr,
    pub upload: SocketAddr,
    pub dir: PathBuf,
    stopper: Stopper,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server with these extra flags, uploads in a fresh temporary directory.
    pub fn start(flags: &[&str]) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("uploads");
        let mut s = Self::start_in(&dir, flags);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on `dir`.
    pub fn start_in(dir: &Path, flags: &[&str]) -> TestServer {
        let dir_s = dir.to_str().unwrap();
        let mut argv = vec![
            "unstuck-smol",
            "--chat",
            "127.0.0.1:0",
            "--upload",
            "127.0.0.1:0",
            "--dir",
            dir_s,
        ];
        argv.extend_from_slice(flags);
        let args = Cli::parse_from(argv).serve;
        let server = Server::bind(&args).unwrap();
        let (chat, upload) = (server.chat_addr(), server.upload_addr());
        let stopper = server.stopper();
        let thread = std::thread::spawn(move || server.run(Server::default_threads()));
        TestServer {
            chat,
            upload,
            dir: dir.to_path_buf(),
            stopper,
            thread: Some(thread),
            _tmp: None,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub fn stop(mut self) {
        self.stopper.stop();
        self.thread.take().unwrap().join().unwrap().unwrap();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stopper.stop();
    }
}

/// A blocking client socket with the test's patience.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s
}

/// Reads until `want` has been read in full (or fails after the patience).
pub fn read_until(s: &mut TcpStream, want: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(want.len()).any(|w| w == want) {
        let n = s.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "EOF before {:?}; got {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Reads everything up to EOF.
pub fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("read to EOF");
    got
}

/// Bytes that are not all alike, so a misplaced block would show.
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

/// The `unstuck-smol` binary, serving on OS-chosen ports.
pub struct BinServer {
    pub child: Child,
    pub chat: SocketAddr,
    pub upload: SocketAddr,
}

impl BinServer {
    pub fn start(dir: &Path, flags: &[&str]) -> BinServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_unstuck-smol"))
            .args([
                "serve",
                "--chat",
                "127.0.0.1:0",
                "--upload",
                "127.0.0.1:0",
                "--dir",
            ])
            .arg(dir)
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // `listening chat=ADDR upload=ADDR`
        let addr = |key: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {line:?}"))
                .parse()
                .unwrap()
        };
        BinServer {
            chat: addr("chat="),
            upload: addr("upload="),
            child,
        }
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for BinServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes all of `bytes`.
pub fn send(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).unwrap();
}

/// Sends the native preamble and an OFFER by hand, reads HELLO and ACCEPT; returns the offset.
pub fn offer_by_hand(s: &mut std::net::TcpStream, name: &str, size: u64) -> u64 {
    let mut out = vec![0xFF, b'U', b'S', b'K', 0x01, 0, 0, 0, 3, 1, 1, 2];
    let payload_len = (9 + name.len()) as u32;
    out.push(0x30);
    out.extend_from_slice(&payload_len.to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    out.push(unstuck_core::digest::Algorithm::Xxh3Chain.to_wire());
    out.extend_from_slice(name.as_bytes());
    send(s, &out);
    let mut reply = [0u8; 4 + 5 + 10 + 5 + 8];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(&reply[..4], b"\xFFUSK");
    assert_eq!(reply[19], 0x40, "ACCEPT");
    u64::from_be_bytes(reply[24..32].try_into().unwrap())
}
