//! The blocking client API: chat sessions and file uploads, on the core's [`ChatClient`] and
//! [`UploadClient`].
//!
//! - [`ChatSession`]: [`ChatSession::connect`], then [`ChatSession::say`] and
//!   [`ChatSession::next_event`], and [`ChatSession::quit`].
//! - [`send_file`]: one file over one connection, with progress, automatic resume and the
//!   verified digest; [`UploadSession`] sends several over one connection.
//!
//! The upload types ([`SendOptions`], [`Progress`], [`Sent`], [`SendError`]) are those of
//! every runtime: `unstuck-smol`'s async client takes and returns the same ones.
//!
//! ```no_run
//! use unstuck_std::client::{ChatSession, SendOptions, send_file};
//!
//! // Chat: say something, wait for the bot's answer.
//! let mut chat = ChatSession::connect("127.0.0.1:8888")?;
//! chat.say("hello")?;
//! while let Some(event) = chat.next_event(None)? {
//!     println!("{event:?}"); // Welcome, Ready, then Reply("hello,你好")
//! #   break;
//! }
//!
//! // Upload: resumes by itself if the server holds a partial copy.
//! let sent = send_file("127.0.0.1:9998", "photo.jpg".as_ref(), &SendOptions::default(),
//!     |p| eprintln!("{} / {}", p.done, p.total))?;
//! println!("stored, {}", sent.digest.unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`ChatClient`]: unstuck_core::chat::ChatClient
//! [`UploadClient`]: unstuck_core::upload::UploadClient

mod chat;
pub mod types;
mod upload;

pub use chat::{ChatSession, ChatWaker};
pub use types::{Progress, SendError, SendOptions, Sent};
pub use upload::{UploadSession, send_file};
