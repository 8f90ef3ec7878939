//! What an upload client takes and returns, for every runtime: the blocking
//! [`send_file`](super::send_file) here and the async one of `unstuck-smol` use these types,
//! so a program (or a test) can switch runtimes without converting anything.

use std::fmt;
use std::io;
use std::path::Path;

use unstuck_core::PeerError;
use unstuck_core::digest::{Algorithm, Digest};
use unstuck_core::upload::{UploadClientEvent, UploadForm};

/// How to send a file.
#[derive(Clone, Debug, Default)]
pub struct SendOptions {
    /// The name to store it under; default: the file's own name.
    pub name: Option<String>,
    /// The digest that verifies it (native form).
    pub algorithm: Algorithm,
    /// Native (named, verified, resumable) or classic (the seed's size + `1001` + bytes).
    pub form: UploadForm,
}

impl SendOptions {
    /// The name a file at `path` is offered under: [`SendOptions::name`], else the file's
    /// own name (lossily converted to UTF-8; empty if the path has none, which a native
    /// server refuses).
    pub fn name_for(&self, path: &Path) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

/// How far a transfer is, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the file the server holds or has been sent (the resumed part included).
    pub done: u64,
    /// The file's size.
    pub total: u64,
    /// Where the transfer resumed (0 for a fresh one).
    pub resumed_from: u64,
}

/// A file the server has stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The name offered (empty for a classic upload, which is stored under a generated name).
    pub name: String,
    /// The file's size.
    pub size: u64,
    /// Where the server resumed; only `size - resumed_from` bytes went over the wire.
    pub resumed_from: u64,
    /// The digest the server verified (`None` for a classic upload, which has none).
    pub digest: Option<Digest>,
}

/// Why a file was not stored. Each kind is its own exit status in a command line tool.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The server refused the offer (bad name 403, taken 409, too large 413, busy 503...).
    /// The connection stays usable for another file (native form).
    Rejected(PeerError),
    /// What arrived does not hash to the file's digest; the server discarded it. The
    /// connection stays usable for another file.
    Mismatch {
        /// This side's digest of the file.
        local: Digest,
        /// The server's digest of what it received.
        remote: Digest,
    },
    /// The server closed the connection: with its reason, or without one.
    Closed(Option<PeerError>),
    /// The network failed, or the server answered something that does not fit.
    Io(io::Error),
    /// The file could not be opened or read (or changed size while it was sent).
    File(io::Error),
}

impl SendError {
    /// The error an upload client's event stands for where another event was expected
    /// (a refusal, a mismatch, a CLOSE, or an answer that does not fit).
    pub fn from_event(event: UploadClientEvent) -> SendError {
        match event {
            UploadClientEvent::Rejected(e) => SendError::Rejected(e),
            UploadClientEvent::Mismatch { local, remote } => SendError::Mismatch { local, remote },
            UploadClientEvent::Error(e) => SendError::Closed(Some(e)),
            other => SendError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected answer from the server: {other:?}"),
            )),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Rejected(e) => write!(f, "refused: {e}"),
            SendError::Mismatch { local, remote } => {
                write!(f, "digest mismatch: sent {local}, server got {remote}")
            }
            SendError::Closed(Some(e)) => write!(f, "the server closed the connection: {e}"),
            SendError::Closed(None) => f.write_str("the server closed the connection"),
            SendError::Io(e) => write!(f, "{e}"),
            SendError::File(e) => write!(f, "cannot read the file: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        SendError::Io(e)
    }
}
