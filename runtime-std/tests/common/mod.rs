//! Runs the real `unstuck` binary and talks to it over loopback.
//!
//! Synchronisation is by readiness signals only: the server's `listening` line on stdout,
//! its log lines on stderr, and the bytes clients read. Timeouts are safety nets that turn
//! a hang into a failure.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(20);

pub const BIN: &str = env!("CARGO_BIN_EXE_unstuck");

/// A running `unstuck serve` on free loopback ports.
pub struct Server {
    child: Option<Child>,
    pub chat: SocketAddr,
    pub upload: SocketAddr,
    pub dir: PathBuf,
    logs: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Server {
    /// Starts a server storing uploads in `dir`, with extra flags.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--chat",
                "127.0.0.1:0",
                "--upload",
                "127.0.0.1:0",
                "--dir",
            ])
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start unstuck serve");
        let logs = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&logs);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.0.lock().unwrap().push(line);
                sink.1.notify_all();
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let line = match rx.recv_timeout(STEP) {
            Ok(Some(Ok(line))) => line,
            other => panic!(
                "no listening line ({other:?}); logs:\n{}",
                logs.0.lock().unwrap().join("\n")
            ),
        };
        let addr = |key: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in `{line}`"))
        };
        Server {
            chat: addr("chat="),
            upload: addr("upload="),
            child: Some(child),
            dir: dir.to_path_buf(),
            logs,
        }
    }

    /// Waits for a log line containing every one of `needles`, and returns it.
    pub fn wait_log(&self, needles: &[&str]) -> String {
        let (lines, cv) = &*self.logs;
        let until = Instant::now() + STEP;
        let mut guard = lines.lock().unwrap();
        loop {
            if let Some(l) = guard.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
                return l.clone();
            }
            let left = until.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no log line with {needles:?}:\n{}",
                guard.join("\n")
            );
            guard = cv.wait_timeout(guard, left).unwrap().0;
        }
    }

    /// Every log line so far.
    pub fn logs(&self) -> String {
        self.logs.0.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> ExitStatus {
        let child = self.child.take().unwrap();
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        wait_child(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits for a child process to exit, at most [`STEP`].
pub fn wait_child(mut child: Child) -> ExitStatus {
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    rx.recv_timeout(STEP)
        .unwrap_or_else(|_| panic!("process {pid} did not exit"))
        .unwrap()
}

/// Runs `unstuck ARGS` to completion: (status, stdout, stderr).
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let errs = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    let _ = out.read_to_string(&mut stdout);
    let status = wait_child(child);
    (status, stdout, errs.join().unwrap())
}

/// A TCP connection with safety-net timeouts and Nagle off.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    s.set_write_timeout(Some(STEP)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads exactly `n` bytes.
pub fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Reads up to and including the next LF; returns the line without it.
pub fn read_line(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b).unwrap() {
            0 => panic!("stream ended after {:?}", String::from_utf8_lossy(&line)),
            _ if b[0] == b'\n' => break,
            _ => line.push(b[0]),
        }
    }
    String::from_utf8(line).unwrap()
}

/// Reads until the peer closes; returns what came.
pub fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    all
}

pub fn write(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).unwrap();
}

/// A deterministic pseudo-random file body.
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

/// The native framing, written by hand where the core's client would refuse (bad names).
pub mod native {
    use super::*;

    pub const MAGIC: [u8; 4] = [0xFF, b'U', b'S', b'K'];

    pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![kind];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// Magic and a HELLO for `service` (1 chat, 2 upload).
    pub fn hello(service: u8) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend(frame(0x01, &[1, 1, service]));
        b
    }

    pub fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
        let head = read_n(s, 5);
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        (head[0], read_n(s, len))
    }

    /// Reads the server's magic and HELLO.
    pub fn read_hello(s: &mut TcpStream) {
        assert_eq!(read_n(s, 4), MAGIC);
        let (kind, _) = read_frame(s);
        assert_eq!(kind, 0x01, "HELLO");
    }
}
