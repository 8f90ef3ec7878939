//! The upload service: a client offers a file, the server accepts or refuses before any
//! data moves, the body streams, and a digest closes it.
//!
//! [`UploadServer`] and [`UploadClient`] are the two sides of one connection. They never
//! touch a file: the server hands body bytes out as borrowed slices for the driver to store,
//! and the client is fed the file's bytes by its driver and says which of them to send.

mod client;
mod config;
mod name;
mod server;

pub use client::{UploadClient, UploadClientEvent, UploadForm};
pub use config::{Offer, UploadConfig};
pub use name::{MAX_NAME_BYTES, validate_name};
pub use server::{Complete, UploadEvent, UploadServer};
