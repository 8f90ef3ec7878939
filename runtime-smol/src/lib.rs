//! unstuck on smol: the same chat and upload server as the blocking `unstuck`, driven by
//! async tasks, and an async client API.
//!
//! ```no_run
//! # async_io::block_on(async {
//! use unstuck_smol::client::{ChatSession, SendOptions, send_file};
//!
//! // Chat: say something, wait for the bot's answer.
//! let mut chat = ChatSession::connect("127.0.0.1:8888").await?;
//! chat.say("hello").await?;
//! while let Some(event) = chat.next_event().await? {
//!     println!("{event:?}"); // Welcome, Ready, then Reply("hello,你好")
//! #   break;
//! }
//!
//! // Upload: resumes by itself if the server holds a partial copy.
//! let sent = send_file("127.0.0.1:9998", "photo.jpg".as_ref(), &SendOptions::default(),
//!     |p| eprintln!("{} / {}", p.done, p.total)).await?;
//! println!("stored, {}", sent.digest.unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(()) });
//! ```
//!
//! The server is [`Server`]: `unstuck-smol serve` takes exactly the flags of `unstuck serve`.
//!
//! How it is built:
//! - The protocol is `unstuck-core`'s sans-IO machines; this crate only moves bytes, runs
//!   timers and touches files and sockets. Upload storage, the room, the flags, connection
//!   limits and logging are `unstuck-std`'s runtime-agnostic modules, shared with the blocking
//!   server, so the two cannot drift apart. File I/O runs on `blocking`'s thread pool.
//! - Each connection is one task. A chat connection, the kind that comes by the thousand and
//!   sits idle, is a hand-written future of about 530 bytes whose only wait races read
//!   readiness, write readiness, the core's deadline and wake-ups. It reads straight into the
//!   core's buffer, which the core allocates when bytes arrive and frees once they are
//!   parsed, so an idle connection owns no read buffer: about 1.1 KB per idle connection in
//!   all (`examples/idle_scale.rs`, numbers in `README.md`).
//! - One executor thread by default (`SMOL_THREADS` to change it): on two cores it gave both
//!   the shorter round trips and the higher room throughput.
#![forbid(unsafe_code)]

mod chat;
pub mod client;
mod link;
mod listen;
mod server;
mod stop;
mod upload;

pub use server::{Server, Stopper};
