//! Scale bench for both servers (not a test): memory per idle connection, round trips of a
//! good client while those are held, and room deliveries per second.
//!
//! ```text
//! cargo run --release -p unstuck-smol --example idle_scale -- --conns 10000
//! ```
//!
//! For each runtime (`--runtime smol`, `std` or `both`, the default) it builds and starts the
//! real server binary (`unstuck-smol serve` / `unstuck serve`, same flags) on loopback ports
//! chosen by the OS and:
//! 1. measures a good line-form client's round trips (`ping` → `ping,你好`), median and p99;
//! 2. opens `--conns` connections that each say one line, get the answer, then stay idle,
//!    spread over source addresses 127.0.0.2.. so the ephemeral ports never run short;
//! 3. reads the server's VmRSS from /proc before and after: bytes per idle connection;
//! 4. measures the round trips again while the idle connections are held;
//! 5. restarts the server in room mode (flood limits and send queue raised by flags) with
//!    `--room-clients` members, of which `--room-senders` each send `--room-messages`
//!    messages as fast as they can, and counts deliveries per second at the receivers.
//!
//! Loopback only, bounded in count and time (every wait has a deadline), stops by itself.
//! RLIMIT_NOFILE is raised to its hard limit first; the server inherits it.

mod idle;
mod room;
mod server;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

#[derive(Parser, Debug)]
#[command(about = "Idle connections, round trips and room throughput for both unstuck servers")]
pub(crate) struct Args {
    /// Idle connections to hold.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) conns: usize,
    /// Which server(s) to measure.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    pub(crate) runtime: Which,
    /// Round trips of the good client per measurement.
    #[arg(long, default_value_t = 200)]
    pub(crate) rounds: usize,
    /// Room members.
    #[arg(long, default_value_t = 100)]
    pub(crate) room_clients: usize,
    /// Members that send.
    #[arg(long, default_value_t = 10)]
    pub(crate) room_senders: usize,
    /// Messages each sender sends.
    #[arg(long, default_value_t = 5_000)]
    pub(crate) room_messages: usize,
    /// Extra environment for the smol server, e.g. `SMOL_THREADS=2`.
    #[arg(long)]
    pub(crate) smol_env: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    Smol,
    Std,
    Both,
}

/// Every wait of the bench gives up after this long.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

fn main() {
    let args = Args::parse();
    let nofile = raise_nofile();
    println!("RLIMIT_NOFILE raised to {nofile}; {} CPUs", cpus());
    build_servers();
    let runtimes: &[(&str, &str)] = match args.runtime {
        Which::Smol => &[("smol", "unstuck-smol")],
        Which::Std => &[("std", "unstuck")],
        Which::Both => &[("smol", "unstuck-smol"), ("std", "unstuck")],
    };
    let mut report = Vec::new();
    for &(name, bin) in runtimes {
        let env: Vec<(String, String)> = if name == "smol" {
            args.smol_env
                .iter()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.into(), v.into()))
                .collect()
        } else {
            Vec::new()
        };
        println!("== {name} ({bin})");
        let idle = idle::run(bin, &env, &args);
        let room = room::run(bin, &env, &args);
        report.push((name, idle, room));
    }
    println!();
    println!(
        "| runtime | idle conns | RSS before | RSS after | bytes/idle conn | RTT median / p99 before | RTT median / p99 with idle | room deliveries/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, i, r) in report {
        println!(
            "| {name} | {} | {} KiB | {} KiB | {} | {:.0} / {:.0} µs | {:.0} / {:.0} µs | {} |",
            i.held,
            i.rss_before / 1024,
            i.rss_after / 1024,
            i.per_conn(),
            i.rtt_before.0,
            i.rtt_before.1,
            i.rtt_during.0,
            i.rtt_during.1,
            r.map_or("failed".into(), |r| format!(
                "{:.0} ({} in {:.2} s)",
                r.0, r.1, r.2
            )),
        );
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn raise_nofile() -> u64 {
    // The blocking server holds about three descriptors per chat connection (the socket, a
    // clone for its writer thread, and the listener's share), so 10,000 connections need
    // more than the usual 20,000. Root may raise the hard limit too; others get the hard one.
    let lim = getrlimit(Resource::Nofile);
    let hard = lim.maximum.unwrap_or(1 << 20);
    let wanted = hard.max(1 << 17);
    let raised = Rlimit {
        current: Some(wanted),
        maximum: Some(wanted),
    };
    if setrlimit(Resource::Nofile, raised).is_ok() {
        return wanted;
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard),
            maximum: lim.maximum,
        },
    )
    .expect("raise RLIMIT_NOFILE");
    hard
}

/// Builds both server binaries in release mode, so the bench never measures a stale one.
fn build_servers() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "unstuck-smol",
            "-p",
            "unstuck-std",
            "--bins",
        ])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the servers failed");
}

pub(crate) fn bin_path(bin: &str) -> PathBuf {
    // target/release/examples/idle_scale -> target/release/<bin>
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(bin)
}
