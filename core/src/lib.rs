//! Sans-IO state machines for unstuck's two protocols: a chat service and a file upload service.
//!
//! TCP is a byte stream: a `read` may return half a message or three messages at once
//! ("sticky packets"). The machines here are fed whatever the socket produced, in any
//! chunking, and they always produce the same events. They never open a socket or a file,
//! never read a clock and never spawn: time comes in as an [`Instant`] given by the driver,
//! and each machine reports its next deadline.
//!
//! Every machine has the same shape:
//! - `handle_*` methods feed it input: bytes (`handle_input`), the end of the stream
//!   (`handle_eof`), and time (`handle_timeout`);
//! - one `poll_output` loop, drained until it returns [`Output::Wait`] (or [`Output::Done`]),
//!   hands out bytes to transmit, events, and finally the deadline to wait for.
//!
//! ```
//! use unstuck_core::{Instant, Output, chat::{ChatConfig, ChatServer}};
//!
//! let now = Instant::ZERO;
//! let mut server = ChatServer::new(ChatConfig::default().into(), now);
//! // Two messages arrive merged in one read, the second split across two reads.
//! server.handle_input(now, b"hello\nwor");
//! server.handle_input(now, b"ld\n");
//! let mut sent = Vec::new();
//! loop {
//!     match server.poll_output() {
//!         Output::Transmit(bytes) => {
//!             sent.extend_from_slice(bytes);
//!             let n = bytes.len();
//!             server.handle_sent(n).unwrap();
//!         }
//!         Output::Event(_) => {}
//!         Output::Wait(_) | Output::Done(_) => break,
//!     }
//! }
//! let text = String::from_utf8(sent).unwrap();
//! assert!(text.ends_with("hello,你好\nworld,你好\n"));
//! ```
//!
//! Peer faults never panic and never return `Err`: they become error frames sent to the peer
//! and, when fatal, a [`Closed`] outcome. `Err(`[`Misuse`]`)` is reserved for a caller that
//! breaks the API contract.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod buf;
pub mod chat;
pub mod digest;
mod error;
mod frame;
mod gap;
mod output;
mod time;
pub mod upload;

pub use error::{BUSY_LINE, Closed, ErrorCode, Misuse, PeerError};
pub use frame::PROTOCOL_VERSION;
pub use output::{Output, Stats, Wait};
pub use time::Instant;
