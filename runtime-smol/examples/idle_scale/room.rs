//! Room mode: deliveries per second with many members and a few senders.

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};

use crate::server::ServerProc;
use crate::{Args, DEADLINE};

/// Room throughput: (deliveries per second, deliveries, seconds).
pub(crate) fn run(bin: &str, env: &[(String, String)], args: &Args) -> Option<(f64, u64, f64)> {
    let server = ServerProc::start(
        bin,
        env,
        &[
            "--chat-mode",
            "room",
            "--flood-burst",
            "100000000",
            "--flood-rate",
            "100000000",
            "--send-queue",
            "64M",
        ],
    );
    let n = args.room_clients;
    let senders = args.room_senders.min(n);
    let per_sender = args.room_messages;
    // Every member receives the messages of every sender but itself.
    let want = |i: usize| -> u64 {
        let others = if i < senders { senders - 1 } else { senders };
        (others * per_sender) as u64
    };
    let expected: u64 = (0..n).map(want).sum();
    let delivered = Arc::new(AtomicU64::new(0));
    let chat = server.chat;
    let ex = smol::LocalExecutor::new();
    let (done, secs) = async_io::block_on(ex.run(async {
        // Join one at a time: an empty line decides the form and joins the room, and the
        // member's own `* you are` notice says it is in.
        let mut members = Vec::new();
        for _ in 0..n {
            let s = Async::<TcpStream>::connect(chat).await.unwrap();
            s.get_ref().set_nodelay(true).unwrap();
            (&s).write_all(b"\n").await.unwrap();
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while !seen.windows(9).any(|w| w == b"* you are") || !seen.ends_with(b"\n") {
                (&s).read_exact(&mut byte).await.unwrap();
                seen.push(byte[0]);
            }
            members.push(s);
        }
        let start = Instant::now();
        let tasks: Vec<_> = members
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let delivered = Arc::clone(&delivered);
                ex.spawn(async move {
                    let reader = async {
                        // Counts message lines; notices (`* guest-N joined`, left over from
                        // the joins) are not deliveries. An error line (`! ...`) fails the run.
                        let mut got = 0u64;
                        let mut buf = vec![0u8; 64 * 1024];
                        // The first byte of the line that is still unterminated, if any.
                        let mut carry: Option<u8> = None;
                        while got < want(i) {
                            let k = (&s).read(&mut buf).await.unwrap();
                            assert!(k > 0, "the server closed member {i}");
                            let mut segs = buf[..k].split(|&b| b == b'\n').peekable();
                            let mut first_seg = true;
                            while let Some(seg) = segs.next() {
                                let head = if first_seg {
                                    carry.or(seg.first().copied())
                                } else {
                                    seg.first().copied()
                                };
                                first_seg = false;
                                if segs.peek().is_none() {
                                    carry = head;
                                    break;
                                }
                                assert!(head != Some(b'!'), "an error line at member {i}");
                                if head != Some(b'*') {
                                    got += 1;
                                }
                            }
                        }
                        delivered.fetch_add(got, Ordering::Relaxed);
                    };
                    let writer = async {
                        if i >= senders {
                            return;
                        }
                        let mut batch = Vec::new();
                        for m in 0..per_sender {
                            batch.extend_from_slice(format!("s{i} m{m}\n").as_bytes());
                            if batch.len() >= 4096 || m + 1 == per_sender {
                                (&s).write_all(&batch).await.unwrap();
                                batch.clear();
                            }
                        }
                    };
                    future::zip(reader, writer).await;
                })
            })
            .collect();
        let all = async {
            for t in tasks {
                t.await;
            }
            true
        };
        let timeout = async {
            Timer::after(DEADLINE).await;
            false
        };
        let done = future::or(all, timeout).await;
        (done, start.elapsed().as_secs_f64())
    }));
    let got = delivered.load(Ordering::Relaxed);
    println!(
        "   room: {n} members, {senders} senders x {per_sender} messages: {got} of {expected} deliveries in {secs:.2} s{}",
        if done { "" } else { " (timed out)" }
    );
    server.stop();
    (done && got == expected).then(|| (got as f64 / secs, got, secs))
}
