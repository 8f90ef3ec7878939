//! The runtime-agnostic half of unstuck's servers: what a driver needs besides sockets.
//!
//! The protocol lives in `unstuck-core`; these modules hold what is neither protocol nor
//! socket, so that the blocking server of this crate (the `unstuck` binary) and an async one
//! share them. Every API here is synchronous and short: an async driver calls the file
//! operations of [`store`] from a blocking pool, and the rest directly.
//!
//! - [`config`]: the `serve` flags as a clap [`config::ServeArgs`] struct, and their conversion
//!   to the core's configurations.
//! - [`store`]: upload storage that loses nothing: hidden partial files, durable checkpoints,
//!   resume, verified-then-renamed final files, names that never leave the directory.
//! - [`hub`]: room mode: one [`unstuck_core::chat::Room`] and the connections it delivers to.
//! - [`limit`]: the per-service connection limit and the `! 503` busy line.
//! - [`clock`]: the core's [`unstuck_core::Instant`] from the monotonic clock.
//! - [`logging`]: the `tracing` subscriber every binary installs.

pub mod clock;
pub mod config;
pub mod hub;
pub mod limit;
pub mod logging;
pub mod store;
