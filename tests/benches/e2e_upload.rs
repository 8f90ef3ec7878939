//! End-to-end upload throughput over loopback: a file sent with `unstuck send` to
//! `unstuck serve` (and to `unstuck-smol serve` when it is built), next to raw TCP pipes of
//! the same file in the same run. Reports medians, ratios to the raw pipe, and the server's
//! peak RSS.
//!
//! ```text
//! cargo bench -p unstuck-tests --bench e2e_upload                  # 1 GiB, 3 runs
//! cargo bench -p unstuck-tests --bench e2e_upload -- --size 256M --runs 5
//! ```
//!
//! The machines this runs on are shared and noisy, so compare the ratios, not the absolute
//! figures. Baselines:
//! - `raw pipe`: a plain TCP copy, file to socket to file, 1 MiB buffers, no protocol, no
//!   hashing, no fsync (what `socat -b 1048576` does);
//! - `raw pipe + fsync`: the same, with one fsync of the received file at the end, because
//!   unstuck makes every upload durable before it says "verified";
//! - `socat`: run only if `socat` is installed (`apt-get install socat`).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

struct Args {
    size: u64,
    runs: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        size: 1024 * MIB,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--size" => args.size = parse_size(&it.next().expect("--size takes a value")),
            "--runs" => args.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

fn parse_size(s: &str) -> u64 {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'G') => (&s[..s.len() - 1], 1024 * MIB),
        Some(b'M') => (&s[..s.len() - 1], MIB),
        _ => (s, 1),
    };
    num.parse::<u64>().expect("a size like 1G, 256M or 1000") * mult
}

/// Builds the release binaries the bench runs, and returns the target directory's release path.
fn build_binaries() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = |package: &str| {
        Command::new(&cargo)
            .args(["build", "--release", "--bins", "-p", package])
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(build("unstuck-std"), "building the unstuck binary failed");
    if !build("unstuck-smol") {
        eprintln!("unstuck-smol did not build: measuring the std server only");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("release")
}

/// Writes `size` pseudo-random bytes (incompressible, so no layer can cheat).
fn make_file(path: &Path, size: u64) {
    let mut f = File::create(path).expect("create the input file");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(MIB) as usize;
        f.write_all(&buf[..n]).expect("write the input file");
        left -= n as u64;
    }
    f.sync_all().expect("sync the input file");
}

/// A plain TCP copy of `input` into `output`; returns the elapsed time.
fn raw_pipe(input: &Path, output: &Path, fsync: bool) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let output = output.to_path_buf();
    let start = Instant::now();
    let receiver = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().expect("accept");
        let mut file = File::create(&output).expect("create the output");
        let mut buf = vec![0u8; MIB as usize];
        loop {
            let n = sock.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).expect("write");
        }
        if fsync {
            file.sync_all().expect("fsync");
        }
    });
    let mut sock = TcpStream::connect(addr).expect("connect");
    let mut file = File::open(input).expect("open the input");
    let mut buf = vec![0u8; MIB as usize];
    loop {
        let n = file.read(&mut buf).expect("read the input");
        if n == 0 {
            break;
        }
        sock.write_all(&buf[..n]).expect("send");
    }
    drop(sock);
    receiver.join().expect("the receiver finished");
    start.elapsed()
}

/// `socat` file to file over loopback, if it is installed. The sender retries its connect
/// until the receiver listens, so no probe connection is needed.
fn socat(input: &Path, output: &Path) -> Option<Duration> {
    Command::new("socat")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .ok()?;
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let start = Instant::now();
    let mut rx = Command::new("socat")
        .args([
            "-u",
            "-b",
            "1048576",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
        ])
        .arg(format!("CREATE:{}", output.display()))
        .spawn()
        .ok()?;
    let tx = Command::new("socat")
        .args(["-u", "-b", "1048576", &format!("OPEN:{}", input.display())])
        .arg(format!("TCP:127.0.0.1:{port},retry=500,interval=0.01"))
        .status()
        .ok()?;
    let rx = rx.wait().ok()?;
    (tx.success() && rx.success()).then(|| start.elapsed())
}

/// A server under test, started on port 0 with uploads stored in `dir`.
struct Server {
    child: Child,
    upload: String,
}

impl Server {
    fn start(bin: &Path, dir: &Path) -> Server {
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--chat",
                "127.0.0.1:0",
                "--upload",
                "127.0.0.1:0",
                "--dir",
            ])
            .arg(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        for stream in [Box::new(out) as Box<dyn Read + Send>, Box::new(err)] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("upload=").nth(1) {
                        let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                    }
                }
            });
        }
        let upload = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server announced its address");
        Server { child, upload }
    }

    /// Peak resident set of the server so far, from the kernel's own accounting.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// One upload with the `unstuck send` client; returns the elapsed time and the server's peak RSS.
fn unstuck(bins: &Path, server_bin: &str, input: &Path, dir: &Path) -> (Duration, u64) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("upload dir");
    let server = Server::start(&bins.join(server_bin), dir);
    let start = Instant::now();
    let status = Command::new(bins.join("unstuck"))
        .arg("send")
        .arg(input)
        .args(["--to", &server.upload])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run unstuck send");
    let elapsed = start.elapsed();
    let rss = server.peak_rss_kib();
    server.stop();
    assert!(status.success(), "unstuck send failed: {status}");
    let name = input.file_name().expect("a file name");
    assert_same(input, &dir.join(name));
    (elapsed, rss)
}

fn assert_same(a: &Path, b: &Path) {
    let (mut fa, mut fb) = (
        File::open(a).expect("open a"),
        File::open(b).expect("open the upload"),
    );
    let (mut ba, mut bb) = (vec![0u8; MIB as usize], vec![0u8; MIB as usize]);
    loop {
        let n = fa.read(&mut ba).expect("read a");
        fb.read_exact(&mut bb[..n]).expect("the upload is as long");
        assert!(ba[..n] == bb[..n], "the upload differs from the input");
        if n == 0 {
            assert_eq!(fb.read(&mut bb).expect("read b"), 0, "the upload is longer");
            return;
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args = parse_args();
    let bins = build_binaries();
    let tmp = std::env::temp_dir().join(format!("unstuck-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let input = tmp.join("input.bin");
    make_file(&input, args.size);
    let sink = tmp.join("sink.bin");

    let mut rows: Vec<(String, Vec<Duration>, u64)> = Vec::new();
    let mut add = |name: &str, d: Duration, rss: u64| match rows.iter_mut().find(|r| r.0 == name) {
        Some(r) => {
            r.1.push(d);
            r.2 = r.2.max(rss);
        }
        None => rows.push((name.to_string(), vec![d], rss)),
    };
    for run in 0..args.runs {
        eprintln!("run {}/{}", run + 1, args.runs);
        add("raw pipe", raw_pipe(&input, &sink, false), 0);
        add("raw pipe + fsync", raw_pipe(&input, &sink, true), 0);
        if let Some(d) = socat(&input, &sink) {
            add("socat -b 1048576", d, 0);
        }
        let (d, rss) = unstuck(&bins, "unstuck", &input, &tmp.join("uploads-std"));
        add("unstuck serve (std)", d, rss);
        if bins.join("unstuck-smol").exists() {
            let (d, rss) = unstuck(&bins, "unstuck-smol", &input, &tmp.join("uploads-smol"));
            add("unstuck-smol serve", d, rss);
        }
    }
    let base = median(rows[0].1.clone());
    println!("\n{} MiB, {} runs, medians:", args.size / MIB, args.runs);
    println!(
        "{:<22} {:>10} {:>11} {:>9} {:>16}",
        "", "time", "throughput", "vs raw", "server peak RSS"
    );
    for (name, times, rss) in &rows {
        let m = median(times.clone());
        let gbps = args.size as f64 / m.as_secs_f64() / 1e9;
        let rss = if *rss > 0 {
            format!("{} MiB", rss / 1024)
        } else {
            "-".into()
        };
        let ratio = m.as_secs_f64() / base.as_secs_f64();
        println!(
            "{name:<22} {:>9.3}s {gbps:>7.2} GB/s {ratio:>8.2}x {rss:>16}",
            m.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
