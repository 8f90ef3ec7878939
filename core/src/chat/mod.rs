//! The chat service: a bot that answers `<message>,你好`, or a room that broadcasts.
//!
//! [`ChatServer`] is one server-side connection. It detects the client's form (native frames,
//! `nc`-style lines, or the seed's classic newline-less messages), cuts the stream into
//! messages, enforces the limits, and in bot mode answers by itself. In room mode it hands
//! each message out as an event, and a [`Room`] (one per server, shared by all connections)
//! decides who receives what. [`ChatClient`] is the client side.

mod client;
mod config;
mod flood;
mod render;
mod room;
mod server;

pub use client::{ChatClient, ChatClientConfig, ClientEvent, ClientForm};
pub use config::{ChatConfig, Form, Mode};
pub use render::ServerMessage;
pub use room::{Delivery, MAX_NICK_CHARS, Room, RoomMessage, Target, validate_nick};
pub use server::{ChatServer, ServerEvent};
