//! Upload storage that loses nothing and never escapes its directory.
//!
//! One [`Store`] per server, shared (`Arc<Store>`) by all upload connections. For each
//! `UploadEvent::Offer` the driver calls [`Store::begin`], which checks the storage side of
//! the offer (spec 7.2 checks 4 to 6) and returns a [`Partial`] or a [`Refusal`]; the
//! partial's [`Partial::resume`] goes to `UploadServer::accept`. Then:
//!
//! | core event / situation            | driver calls                                          |
//! |-----------------------------------|-------------------------------------------------------|
//! | `Body(bytes)`                     | [`Partial::write`]; then, if [`Partial::wants_checkpoint`], [`Partial::checkpoint`] with `UploadServer::checkpoint()` |
//! | `Complete`                        | [`Partial::finish`], then `confirm_stored` (or `fail_stored` with the refusal) |
//! | `Mismatch`                        | [`Partial::discard`]                                  |
//! | connection ends before `Complete` | [`Partial::suspend`] with `UploadServer::checkpoint()` |
//!
//! On disk, an upload of `NAME` is the hidden `.NAME.part` and its checkpoint `.NAME.ckpt`.
//! A checkpoint is written only after the bytes it covers are flushed, and replaces the old
//! one atomically, so after any crash the pair describes a prefix that is really on disk.
//! The final name appears only after the digest is verified, by a rename that never replaces
//! an existing file, followed by a flush of the directory.
//!
//! All calls are blocking file system calls: an async driver runs them on a blocking pool.

mod fsops;
mod names;
mod partial;
mod record;

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use unstuck_core::ErrorCode;
use unstuck_core::digest::{Algorithm, Checkpoint};
use unstuck_core::upload::{Offer, validate_name};

use crate::hub::lock;
pub use partial::Partial;

/// How many body bytes may arrive between two checkpoints: each one costs a flush of the
/// data, and at most this much is sent again after a crash.
pub const CHECKPOINT_INTERVAL: u64 = 64 << 20;

/// Why the store refuses an offer (or a completed upload): the code and text for the
/// client's REJECT or CLOSE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The protocol's code: 403, 409, 500 or 507.
    pub code: ErrorCode,
    /// The reason, for the client and the logs.
    pub text: String,
}

impl Refusal {
    fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Refusal {
            code,
            text: text.into(),
        }
    }

    /// A storage failure: 507 when the disk or quota is full, 500 otherwise.
    pub fn from_io(what: &str, e: &io::Error) -> Self {
        let code = match e.raw_os_error() {
            Some(c) if c == rustix::io::Errno::NOSPC.raw_os_error() => ErrorCode::NoSpace,
            Some(c) if c == rustix::io::Errno::DQUOT.raw_os_error() => ErrorCode::NoSpace,
            _ => ErrorCode::Internal,
        };
        Refusal::new(code, format!("{what}: {e}"))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code.to_u16(), self.text)
    }
}

impl std::error::Error for Refusal {}

/// The upload directory of one server.
#[derive(Debug)]
pub struct Store {
    dir: OwnedFd,
    path: PathBuf,
    /// Names being uploaded right now, by any connection.
    live: Mutex<HashSet<String>>,
    /// The `<n>` of classic names.
    classic_seq: AtomicU64,
}

impl Store {
    /// Opens the directory, creating it if needed, and locks it against a second server.
    /// Leftovers that can never be resumed (see the module docs) are removed.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Store> {
        let path = path.as_ref().to_path_buf();
        let dir = fsops::open_dir(&path)?;
        let names = fsops::list(dir.as_fd())?;
        for stale in names::stale(&names) {
            tracing::info!(
                file = stale,
                "removing an upload leftover that cannot resume"
            );
            fsops::remove(dir.as_fd(), stale)?;
        }
        Ok(Store {
            dir,
            path,
            live: Mutex::new(HashSet::new()),
            classic_seq: AtomicU64::new(1),
        })
    }

    /// The directory's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Prepares storage for an offer the core has checked: a named (native) offer resumes
    /// from a matching checkpoint or starts afresh; a classic one gets a generated name.
    ///
    /// Refuses with 409 if the name exists (as a file, directory or link) or is being
    /// uploaded by another connection, 507 if the free space is short of the bytes still to
    /// come, 500 if the partial copy cannot be created.
    pub fn begin(self: &Arc<Self>, offer: &Offer) -> Result<Partial, Refusal> {
        match (&offer.name, offer.algorithm) {
            (Some(name), Some(algorithm)) => self.begin_named(name, offer.size, algorithm),
            (None, _) => self.begin_classic(offer.size),
            (Some(_), None) => Err(Refusal::new(
                ErrorCode::Internal,
                "a named upload needs a digest",
            )),
        }
    }

    fn begin_named(
        self: &Arc<Self>,
        name: &str,
        size: u64,
        algorithm: Algorithm,
    ) -> Result<Partial, Refusal> {
        validate_name(name).map_err(|why| Refusal::new(ErrorCode::BadName, why))?;
        let claim = NameClaim::take(self, name)?;
        let dir = self.dir.as_fd();
        let taken =
            fsops::exists(dir, name).map_err(|e| Refusal::from_io("checking the name", &e))?;
        if taken {
            return Err(Refusal::new(ErrorCode::Taken, "a file of that name exists"));
        }
        let stem = names::stem(name);
        let resume = self.resumable(&stem, name, size, algorithm);
        let offset = resume.as_ref().map_or(0, |(cp, _)| cp.offset());
        self.check_space(size - offset)?;
        let (file, checkpoint) = match resume {
            Some((cp, file)) => {
                fsops::truncate(&file, cp.offset())
                    .map_err(|e| Refusal::from_io("resuming the partial copy", &e))?;
                (file, Some(cp))
            }
            None => (self.fresh(&stem)?, None),
        };
        Ok(Partial::named(
            Arc::clone(self),
            claim,
            stem,
            size,
            file,
            checkpoint,
        ))
    }

    /// The checkpoint and partial copy of an interrupted upload of the same file, if both
    /// are intact and the partial copy holds at least the checkpoint's bytes.
    fn resumable(
        &self,
        stem: &str,
        name: &str,
        size: u64,
        algorithm: Algorithm,
    ) -> Option<(Checkpoint, std::fs::File)> {
        let dir = self.dir.as_fd();
        let bytes = fsops::read_small(dir, &names::ckpt(stem), record::MAX_LEN).ok()??;
        let rec = record::decode(&bytes)?;
        let cp = rec.checkpoint;
        let fits = rec.name == name
            && rec.size == size
            && cp.algorithm() == algorithm
            && cp.offset() <= size;
        let file = fits
            .then(|| fsops::open_existing(dir, &names::part(stem)).ok().flatten())
            .flatten()?;
        (fsops::len(&file).ok()? >= cp.offset()).then_some((cp, file))
    }

    /// Removes any earlier partial copy and checkpoint of `stem` and creates an empty one.
    fn fresh(&self, stem: &str) -> Result<std::fs::File, Refusal> {
        let dir = self.dir.as_fd();
        let part = names::part(stem);
        let io = |e: io::Error| Refusal::from_io("creating the partial copy", &e);
        fsops::remove(dir, &names::ckpt(stem)).map_err(io)?;
        fsops::remove(dir, &part).map_err(io)?;
        fsops::create_new(dir, &part).map_err(io)
    }

    fn begin_classic(self: &Arc<Self>, size: u64) -> Result<Partial, Refusal> {
        self.check_space(size)?;
        let ms = names::unix_ms();
        loop {
            let name = names::classic(ms, self.next_classic());
            match fsops::create_new(self.dir.as_fd(), &names::part(&name)) {
                Ok(file) => return Ok(Partial::classic(Arc::clone(self), name, size, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Refusal::from_io("creating the partial copy", &e)),
            }
        }
    }

    fn next_classic(&self) -> u64 {
        self.classic_seq.fetch_add(1, Ordering::Relaxed)
    }

    fn check_space(&self, needed: u64) -> Result<(), Refusal> {
        let free = fsops::free_space(self.dir.as_fd())
            .map_err(|e| Refusal::from_io("checking free space", &e))?;
        if free < needed {
            return Err(Refusal::new(
                ErrorCode::NoSpace,
                format!("{needed} bytes needed, {free} free"),
            ));
        }
        Ok(())
    }
}

/// A name reserved for one connection's upload; dropping it frees the name.
#[derive(Debug)]
struct NameClaim {
    store: Arc<Store>,
    name: String,
}

impl NameClaim {
    fn take(store: &Arc<Store>, name: &str) -> Result<NameClaim, Refusal> {
        if !lock(&store.live).insert(name.to_owned()) {
            return Err(Refusal::new(
                ErrorCode::Taken,
                "that name is being uploaded by another connection",
            ));
        }
        Ok(NameClaim {
            store: Arc::clone(store),
            name: name.to_owned(),
        })
    }
}

impl Drop for NameClaim {
    fn drop(&mut self) {
        lock(&self.store.live).remove(&self.name);
    }
}

#[cfg(test)]
mod tests;
