//! Upload server settings, and what a client offers.

use alloc::string::String;
use core::time::Duration;

use crate::digest::Algorithm;

/// Limits of an upload server. The defaults are those of `spec/PROTOCOL.md`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadConfig {
    /// Largest file accepted, in bytes (413 above it).
    pub max_file_size: u64,
    /// A client that sends nothing for this long while the server waits for it is closed (408):
    /// stall detection instead of a frozen transfer.
    pub stall_timeout: Duration,
    /// Silence that ends a classic size without a terminator.
    pub quiet_gap: Duration,
    /// Bytes buffered between the socket and the driver's storage. Larger means fewer
    /// system calls per byte on fast links.
    pub recv_buffer: usize,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            max_file_size: 8 << 30,
            stall_timeout: Duration::from_secs(60),
            quiet_gap: Duration::from_millis(150),
            recv_buffer: 256 * 1024,
        }
    }
}

/// A file a client wants to upload, as the server sees it once the core has checked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The file name (checked by [`super::validate_name`]); `None` for a classic upload,
    /// which carries no name: the driver generates one.
    pub name: Option<String>,
    /// Exact size in bytes (at most [`UploadConfig::max_file_size`]).
    pub size: u64,
    /// The digest that will close the body; `None` for a classic upload.
    pub algorithm: Option<Algorithm>,
}
