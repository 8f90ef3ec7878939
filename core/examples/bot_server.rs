//! The seed's chat bot, on plain `std::net`, one client at a time: how to embed the core
//! in a hand-written blocking I/O loop.
//!
//! ```text
//! cargo run -p unstuck-core --example bot_server -- 127.0.0.1:8888
//! printf 'hello\nworld\n' | nc -N 127.0.0.1 8888
//! ```
//!
//! The loop is the same for every unstuck machine: feed what the socket gave, drain
//! `poll_output` (write what it asks, act on events) until it says `Wait`, then block until
//! input or the deadline. Timers are plain read timeouts; the core never reads the clock.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use unstuck_core::chat::{ChatConfig, ChatServer};
use unstuck_core::{Closed, Instant, Output};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8888".into());
    let listener = TcpListener::bind(&addr)?;
    println!("bot listening on {}", listener.local_addr()?);
    let config = Arc::new(ChatConfig::default());
    let epoch = StdInstant::now();
    for stream in listener.incoming() {
        match serve(stream?, config.clone(), epoch) {
            Ok(closed) => println!("client done: {closed}"),
            Err(e) => println!("client failed: {e}"),
        }
    }
    Ok(())
}

/// Serves one client to the end.
fn serve(
    mut sock: TcpStream,
    config: Arc<ChatConfig>,
    epoch: StdInstant,
) -> std::io::Result<Closed> {
    let now = || Instant::from_since_epoch(epoch.elapsed());
    let mut conn = ChatServer::new(config, now());
    let mut buf = [0u8; 4096];
    loop {
        // 1. Drain the machine.
        let wait = loop {
            match conn.poll_output() {
                Output::Transmit(bytes) => {
                    sock.write_all(bytes)?;
                    let n = bytes.len();
                    conn.handle_sent(n).expect("acknowledged what was offered");
                }
                Output::Event(event) => println!("event: {event:?}"),
                Output::Wait(wait) => break wait,
                Output::Done(closed) => return Ok(closed),
            }
        };
        // 2. Block until input or the deadline.
        let timeout = wait
            .deadline
            .map(|d| d.saturating_since(now()).max(Duration::from_millis(1)));
        sock.set_read_timeout(timeout)?;
        match sock.read(&mut buf) {
            Ok(0) => conn.handle_eof(now()),
            Ok(n) => {
                // A chat server buffers at most one message; a full buffer is drained first.
                let mut fed = 0;
                while fed < n {
                    fed += conn.handle_input(now(), &buf[fed..n]);
                    while let Output::Event(_) | Output::Transmit(_) = peek(&mut conn, &mut sock)? {
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
        // 3. Time always moves on: let the machine see it.
        conn.handle_timeout(now());
    }
}

/// One output step, written through, for draining mid-feed.
fn peek<'a>(conn: &'a mut ChatServer, sock: &mut TcpStream) -> std::io::Result<Output<'a, ()>> {
    Ok(match conn.poll_output() {
        Output::Transmit(bytes) => {
            sock.write_all(bytes)?;
            let n = bytes.len();
            conn.handle_sent(n).expect("acknowledged what was offered");
            Output::Transmit(&[])
        }
        Output::Event(event) => {
            println!("event: {event:?}");
            Output::Event(())
        }
        Output::Wait(w) => Output::Wait(w),
        Output::Done(c) => Output::Done(c),
    })
}
