//! One upload in progress: its hidden partial copy and its checkpoints.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use unstuck_core::ErrorCode;
use unstuck_core::digest::Checkpoint;

use super::{CHECKPOINT_INTERVAL, NameClaim, Refusal, Store, fsops, names, record};

#[derive(Debug)]
enum Kind {
    /// A native upload: resumable, its name reserved while it lasts.
    Named { claim: NameClaim },
    /// A classic upload under a generated name: never resumed, deleted if cut.
    Classic { name: String },
}

/// The partial copy of one upload, from [`Store::begin`] until it is finished, discarded or
/// suspended. Dropping it only frees the name; the files stay as the last call left them.
#[derive(Debug)]
pub struct Partial {
    store: Arc<Store>,
    kind: Kind,
    stem: String,
    size: u64,
    file: File,
    /// Bytes in the partial copy.
    written: u64,
    /// Bytes covered by the last durable checkpoint (or the resume point).
    durable: u64,
    resume: Option<Checkpoint>,
}

impl Partial {
    pub(super) fn named(
        store: Arc<Store>,
        claim: NameClaim,
        stem: String,
        size: u64,
        file: File,
        resume: Option<Checkpoint>,
    ) -> Self {
        let offset = resume.as_ref().map_or(0, Checkpoint::offset);
        Partial {
            store,
            kind: Kind::Named { claim },
            stem,
            size,
            file,
            written: offset,
            durable: offset,
            resume,
        }
    }

    pub(super) fn classic(store: Arc<Store>, name: String, size: u64, file: File) -> Self {
        Partial {
            store,
            stem: name.clone(),
            kind: Kind::Classic { name },
            size,
            file,
            written: 0,
            durable: 0,
            resume: None,
        }
    }

    /// The final name: the client's, or the generated classic one (which may still change if
    /// it is taken when the upload completes; [`Partial::finish`] returns the one used).
    pub fn name(&self) -> &str {
        match &self.kind {
            Kind::Named { claim } => &claim.name,
            Kind::Classic { name } => name,
        }
    }

    /// The announced size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where this upload resumes, for `UploadServer::accept`; `None` for a fresh start.
    pub fn resume(&self) -> Option<&Checkpoint> {
        self.resume.as_ref()
    }

    /// Bytes held so far (the resume offset included).
    pub fn offset(&self) -> u64 {
        self.written
    }

    /// Appends the next body bytes, unbuffered: the core hands out large slices already.
    pub fn write(&mut self, body: &[u8]) -> io::Result<()> {
        self.file.write_all_at(body, self.written)?;
        self.written += body.len() as u64;
        Ok(())
    }

    /// Whether enough bytes arrived since the last checkpoint to take another
    /// ([`CHECKPOINT_INTERVAL`]). Always false for a classic upload, which cannot resume.
    pub fn wants_checkpoint(&self) -> bool {
        matches!(self.kind, Kind::Named { .. })
            && self.written - self.durable >= CHECKPOINT_INTERVAL
    }

    /// Makes `cp` (from `UploadServer::checkpoint`) the durable resume point: flushes the
    /// data it covers, then replaces the checkpoint file atomically and flushes the directory.
    ///
    /// Does nothing for a classic upload, for a checkpoint no later than the last one, and for
    /// one beyond the bytes written (after a failed write, the file holds less than the core
    /// hashed).
    pub fn checkpoint(&mut self, cp: &Checkpoint) -> io::Result<()> {
        let Kind::Named { claim } = &self.kind else {
            return Ok(());
        };
        if cp.offset() <= self.durable || cp.offset() > self.written {
            return Ok(());
        }
        fsops::sync_data(&self.file)?;
        let dir = self.store.dir.as_fd();
        let tmp = names::ckpt_tmp(&self.stem);
        let file = fsops::create_new(dir, &tmp).or_else(|_| {
            fsops::remove(dir, &tmp)?;
            fsops::create_new(dir, &tmp)
        })?;
        file.write_all_at(&record::encode(&claim.name, self.size, cp), 0)?;
        fsops::sync_data(&file)?;
        fsops::rename_over(dir, &tmp, &names::ckpt(&self.stem))?;
        fsops::sync_dir(dir)?;
        self.durable = cp.offset();
        Ok(())
    }

    /// The body is complete and verified: makes the file durable under its final name and
    /// returns that name. An existing file is never replaced: a named upload whose name
    /// appeared meanwhile is discarded and refused with 409 (spec 7.3); a classic one takes
    /// the next generated name.
    pub fn finish(self) -> Result<String, Refusal> {
        let io = |what| move |e: io::Error| Refusal::from_io(what, &e);
        if self.written != self.size {
            return Err(Refusal {
                code: ErrorCode::Internal,
                text: format!("{} of {} bytes stored", self.written, self.size),
            });
        }
        fsops::sync_data(&self.file).map_err(io("flushing the file"))?;
        let dir = self.store.dir.as_fd();
        let part = names::part(&self.stem);
        let mut name = self.name().to_owned();
        loop {
            match fsops::rename_new(dir, &part, &name) {
                Ok(()) => break,
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(Refusal::from_io("naming the file", &e));
                }
                Err(_) if matches!(self.kind, Kind::Classic { .. }) => {
                    name = names::classic(names::unix_ms(), self.store.next_classic());
                }
                Err(_) => {
                    let _ = self.discard();
                    return Err(Refusal {
                        code: ErrorCode::Taken,
                        text: "a file of that name appeared during the upload".into(),
                    });
                }
            }
        }
        fsops::remove(dir, &names::ckpt(&self.stem)).map_err(io("removing the checkpoint"))?;
        fsops::sync_dir(dir).map_err(io("flushing the directory"))?;
        Ok(name)
    }

    /// Deletes the partial copy and its checkpoint (digest mismatch, cut classic upload).
    pub fn discard(self) -> io::Result<()> {
        let dir = self.store.dir.as_fd();
        fsops::remove(dir, &names::part(&self.stem))?;
        fsops::remove(dir, &names::ckpt(&self.stem))
    }

    /// The connection ended before the body did: a named upload keeps its partial copy,
    /// checkpointed at `cp` (the core's latest, if any) so the client can resume; a classic
    /// one is deleted.
    pub fn suspend(mut self, cp: Option<&Checkpoint>) -> io::Result<()> {
        match (&self.kind, cp) {
            (Kind::Classic { .. }, _) => self.discard(),
            (Kind::Named { .. }, Some(cp)) => self.checkpoint(cp),
            (Kind::Named { .. }, None) => Ok(()),
        }
    }
}
