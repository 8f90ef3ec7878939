//! Idle connections: the server's memory per connection, and a good client's round trips.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketType};

use crate::server::ServerProc;
use crate::{Args, DEADLINE};

/// A blocking client socket from `source` (any 127/8 address is local on Linux).
fn connect_from(source: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;
    // A blocking connect gives up after the send timeout instead of the kernel's two minutes
    // of SYN retries, when a server's accept queue is full.
    rustix::net::sockopt::set_socket_timeout(
        &fd,
        rustix::net::sockopt::Timeout::Send,
        Some(Duration::from_secs(3)),
    )?;
    rustix::net::bind(&fd, &SocketAddr::V4(SocketAddrV4::new(source, 0)))?;
    rustix::net::connect(&fd, &to)?;
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(DEADLINE))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Reads until the bytes read end with `end`.
fn read_through(s: &mut TcpStream, end: &[u8], buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    let mut chunk = [0u8; 1024];
    while !buf.ends_with(end) {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Median and p99 of `rounds` line-form round trips, in microseconds (NaN if they failed).
fn round_trips(s: &mut TcpStream, rounds: usize) -> (f64, f64) {
    let mut buf = Vec::new();
    let times: std::io::Result<Vec<f64>> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            s.write_all(b"ping\n")?;
            read_through(s, "ping,你好\n".as_bytes(), &mut buf)?;
            Ok(t.elapsed().as_secs_f64() * 1e6)
        })
        .collect();
    let mut times = match times {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => return (f64::NAN, f64::NAN),
        Err(e) => {
            println!("   round trips failed: {e}");
            return (f64::NAN, f64::NAN);
        }
    };
    times.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// What one idle run measured.
pub(crate) struct Idle {
    /// Idle connections held.
    pub(crate) held: usize,
    /// Server RSS before and after opening them, in bytes.
    pub(crate) rss_before: u64,
    pub(crate) rss_after: u64,
    /// Round trips (median, p99) in µs before and while they are held.
    pub(crate) rtt_before: (f64, f64),
    pub(crate) rtt_during: (f64, f64),
}

impl Idle {
    pub(crate) fn per_conn(&self) -> i64 {
        (self.rss_after as i64 - self.rss_before as i64) / self.held.max(1) as i64
    }
}

pub(crate) fn run(bin: &str, env: &[(String, String)], args: &Args) -> Idle {
    // The good client pings faster than the default flood limit allows.
    let flood = ["--flood-burst", "100000000", "--flood-rate", "100000000"];
    let server = ServerProc::start(bin, env, &flood);
    let mut good = connect_from(Ipv4Addr::LOCALHOST, server.chat).unwrap();
    let mut buf = Vec::new();
    read_through(&mut good, b"\n", &mut buf).expect("the good client's banner");
    round_trips(&mut good, args.rounds.min(20)); // warm-up
    let rtt_before = round_trips(&mut good, args.rounds);
    let rss_before = server.rss();
    let t = Instant::now();
    let mut idle = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        // 127.0.0.2 .. 127.0.0.9: 8 source addresses, each with its own ephemeral ports.
        let source = Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8);
        match connect_from(source, server.chat) {
            Ok(mut s) => {
                s.write_all(b"hi\n").unwrap();
                idle.push(s);
            }
            Err(e) => {
                println!("   connection {i} failed: {e}; holding {}", idle.len());
                break;
            }
        }
        if t.elapsed() > DEADLINE {
            println!("   out of time after {i} connections");
            break;
        }
    }
    let connected = t.elapsed().as_secs_f64();
    // Each has had its banner and its answer: from now on it is idle.
    // Connections the server never took (its accept queue overflowed) must not stall the
    // bench: all the answers together get 30 s.
    let opened = idle.len();
    let answers_by = Instant::now() + Duration::from_secs(30);
    idle.retain_mut(|s| {
        let left = answers_by.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .is_ok()
            && read_through(s, "hi,你好\n".as_bytes(), &mut buf).is_ok()
    });
    if idle.len() < opened {
        println!(
            "   {} connections failed before their answer",
            opened - idle.len()
        );
    }
    println!(
        "   {} idle connections open in {:.2} s ({connected:.2} s to connect); server threads: {}",
        idle.len(),
        t.elapsed().as_secs_f64(),
        server.threads()
    );
    let rss_after = server.rss();
    let rtt_during = round_trips(&mut good, args.rounds);
    let r = Idle {
        held: idle.len(),
        rss_before,
        rss_after,
        rtt_before,
        rtt_during,
    };
    println!(
        "   RSS {} KiB -> {} KiB: {} bytes per idle connection; RTT median/p99 {:.0}/{:.0} µs before, {:.0}/{:.0} µs with them",
        rss_before / 1024,
        rss_after / 1024,
        r.per_conn(),
        rtt_before.0,
        rtt_before.1,
        rtt_during.0,
        rtt_during.1
    );
    drop(idle);
    drop(good);
    server.stop();
    r
}
