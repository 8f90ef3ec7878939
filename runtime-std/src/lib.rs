//! unstuck on blocking std sockets: the server and the clients as a library, and the
//! runtime-agnostic half of every unstuck server.
//!
//! - [`server`]: [`server::Server`], the chat and upload services, a thread per connection;
//!   the `unstuck serve` command runs it.
//! - [`client`]: [`client::ChatSession`], [`client::send_file`] and
//!   [`client::UploadSession`]; the `unstuck chat` and `unstuck send` commands are built on
//!   them. Its [`client::types`] are shared with every runtime.
//!
//! The protocol lives in `unstuck-core`; the other modules hold what is neither protocol
//! nor socket, so that the blocking server of this crate and an async one share them. Every
//! API there is synchronous and short: an async driver calls the file operations of
//! [`store`] from a blocking pool, and the rest directly.
//!
//! - [`config`]: the `serve` flags as a clap [`config::ServeArgs`] struct, and their conversion
//!   to the core's configurations.
//! - [`store`]: upload storage that loses nothing: hidden partial files, durable checkpoints,
//!   resume, verified-then-renamed final files, names that never leave the directory.
//! - [`hub`]: room mode: one [`unstuck_core::chat::Room`] and the connections it delivers to.
//! - [`limit`]: the per-service connection limit and the `! 503` busy line.
//! - [`clock`]: the core's [`unstuck_core::Instant`] from the monotonic clock.
//! - [`logging`]: the `tracing` subscriber every binary installs.

pub mod client;
pub mod clock;
pub mod config;
pub mod hub;
pub mod limit;
pub mod logging;
mod net;
pub mod server;
pub mod store;
