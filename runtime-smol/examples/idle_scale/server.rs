//! The server under test: its binary started with the bench's flags, its memory read from /proc.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bin_path;

/// A server process that is killed if the bench panics.
pub(crate) struct ServerProc {
    child: Child,
    pub(crate) chat: SocketAddr,
    _dir: tempfile::TempDir,
}

impl ServerProc {
    pub(crate) fn start(bin: &str, env: &[(String, String)], flags: &[&str]) -> ServerProc {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin_path(bin))
            .args([
                "serve",
                "--chat",
                "127.0.0.1:0",
                "--upload",
                "127.0.0.1:0",
                "--dir",
            ])
            .arg(dir.path().join("up"))
            .args(["--max-conns", "100000", "--idle-timeout", "1h"])
            .args(flags)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let chat = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("chat="))
            .unwrap_or_else(|| panic!("no listening line from {bin}: {line:?}"))
            .parse()
            .unwrap();
        ServerProc {
            child,
            chat,
            _dir: dir,
        }
    }

    pub(crate) fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }

    pub(crate) fn threads(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    pub(crate) fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let since = Instant::now();
        while since.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                println!("   server stopped: {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("   server did not stop within 15 s; killed");
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
