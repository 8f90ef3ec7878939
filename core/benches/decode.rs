//! How fast the core turns bytes into events: chat messages per second and upload body bytes
//! per second, with no socket involved.
//!
//! ```text
//! cargo bench -p unstuck-core --bench decode
//! ```
//!
//! The upload bench copies the stream into the machine's receive buffer in 1 MiB slices, as a
//! socket read would, so its figure is "core plus one memcpy" per byte.
#![allow(missing_docs)] // criterion's macros generate undocumented public items

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use unstuck_core::chat::{ChatConfig, ChatServer};
use unstuck_core::digest::{Algorithm, Hasher};
use unstuck_core::upload::{UploadConfig, UploadEvent, UploadServer};
use unstuck_core::{Instant, Output};

const MESSAGES: usize = 10_000;
const BODY: usize = 64 << 20;

/// A bot with the flood limit out of the way: the bench measures parsing, not policy.
fn bot() -> Arc<ChatConfig> {
    Arc::new(ChatConfig {
        flood_burst: u32::MAX,
        flood_rate: u32::MAX,
        send_queue: usize::MAX,
        ..ChatConfig::default()
    })
}

/// Feeds `stream` in 64 KiB reads and drains the machine; returns the bytes it sent.
fn run_chat(config: &Arc<ChatConfig>, stream: &[u8]) -> usize {
    let now = Instant::ZERO;
    let mut conn = ChatServer::new(config.clone(), now);
    let mut sent = 0;
    for chunk in stream.chunks(64 * 1024) {
        let mut fed = 0;
        while fed < chunk.len() {
            fed += conn.handle_input(now, &chunk[fed..]);
            loop {
                match conn.poll_output() {
                    Output::Transmit(b) => {
                        let n = b.len();
                        sent += n;
                        conn.handle_sent(n).unwrap();
                    }
                    Output::Event(_) => {}
                    Output::Wait(_) | Output::Done(_) => break,
                }
            }
        }
    }
    sent
}

fn chat(c: &mut Criterion) {
    let config = bot();
    let line: Vec<u8> = (0..MESSAGES)
        .flat_map(|i| format!("hello world {i}\n").into_bytes())
        .collect();
    let mut native = vec![0xFF, b'U', b'S', b'K', 0x01, 0, 0, 0, 3, 1, 1, 1];
    for i in 0..MESSAGES {
        let text = format!("hello world {i}");
        native.push(0x10);
        native.extend_from_slice(&(text.len() as u32).to_be_bytes());
        native.extend_from_slice(text.as_bytes());
    }
    let mut group = c.benchmark_group("chat_server");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    // Baseline: splitting the same bytes at LF with nothing else, the floor for any line parser.
    group.bench_function("baseline_split_lines", |b| {
        b.iter(|| std::hint::black_box(&line).split(|&b| b == b'\n').count())
    });
    group.bench_function("line_messages", |b| b.iter(|| run_chat(&config, &line)));
    group.bench_function("native_messages", |b| b.iter(|| run_chat(&config, &native)));
    group.finish();
}

/// A native upload of `BODY` bytes, read zero-copy into the machine's buffer.
fn run_upload(algorithm: Algorithm, stream: &[u8]) -> usize {
    let now = Instant::ZERO;
    let mut conn = UploadServer::new(
        UploadConfig {
            recv_buffer: 1 << 20,
            ..UploadConfig::default()
        },
        now,
    );
    let mut rest = stream;
    let mut stored = 0;
    loop {
        let buf = conn.recv_buf();
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        conn.handle_received(now, n);
        loop {
            match conn.poll_output() {
                Output::Event(UploadEvent::Offer(_)) => conn.accept(None).unwrap(),
                Output::Event(UploadEvent::Body(b)) => stored += b.len(),
                Output::Event(UploadEvent::Complete(c)) => {
                    assert_eq!(c.digest.unwrap().algorithm(), algorithm);
                    return stored;
                }
                Output::Event(_) => {}
                Output::Transmit(b) => {
                    let n = b.len();
                    conn.handle_sent(n).unwrap();
                }
                Output::Wait(_) => break,
                Output::Done(c) => panic!("closed: {c}"),
            }
        }
    }
}

fn upload(c: &mut Criterion) {
    let body: Vec<u8> = (0..BODY).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("upload_server");
    group.throughput(Throughput::Bytes(BODY as u64));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    // Baseline: the copy into a 1 MiB buffer alone, what any receiver pays per byte.
    let mut buf = vec![0u8; 1 << 20];
    group.bench_function("baseline_memcpy", |b| {
        b.iter(|| {
            for chunk in std::hint::black_box(&body).chunks(1 << 20) {
                buf[..chunk.len()].copy_from_slice(chunk);
            }
            std::hint::black_box(&buf);
        })
    });
    for algorithm in Algorithm::ALL {
        let mut offer = vec![0xFF, b'U', b'S', b'K', 0x01, 0, 0, 0, 3, 1, 1, 2];
        let name = b"bench.bin";
        offer.push(0x30);
        offer.extend_from_slice(&(9 + name.len() as u32).to_be_bytes());
        offer.extend_from_slice(&(BODY as u64).to_be_bytes());
        offer.push(algorithm.to_wire());
        offer.extend_from_slice(name);
        let mut hasher = Hasher::new(algorithm);
        hasher.update(&body);
        let d = hasher.finish();
        let mut digest = vec![0x31];
        digest.extend_from_slice(&(1 + d.as_bytes().len() as u32).to_be_bytes());
        digest.push(algorithm.to_wire());
        digest.extend_from_slice(d.as_bytes());
        let stream = [offer, body.clone(), digest].concat();
        group.bench_function(format!("body_{}", algorithm.name()), |b| {
            b.iter(|| run_upload(algorithm, &stream))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = chat, upload
}
criterion_main!(benches);
