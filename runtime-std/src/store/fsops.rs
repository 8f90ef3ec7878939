//! The few file system calls the store makes, all relative to the upload directory's fd.
//!
//! Every name passed here is a single path component (checked by the caller), and every open
//! refuses to follow a symbolic link, so nothing can be created or written outside the
//! directory, even if someone plants links in it.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

/// Opens (creating it if missing) the upload directory, and locks it so that a second server
/// cannot share it: two servers would each believe they alone write its partial files.
pub(super) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    std::fs::create_dir_all(path)?;
    let fd = rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rfs::flock(&fd, rfs::FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        if e == Errno::WOULDBLOCK {
            io::Error::other(format!(
                "{} is in use by another unstuck server",
                path.display()
            ))
        } else {
            e.into()
        }
    })?;
    Ok(fd)
}

/// Whether anything at all (file, directory, symbolic link, ...) has this name.
pub(super) fn exists(dir: BorrowedFd<'_>, name: &str) -> io::Result<bool> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Creates a new, empty file; fails if the name exists (a link there included).
pub(super) fn create_new(dir: BorrowedFd<'_>, name: &str) -> io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rfs::openat(dir, name, flags, Mode::from_raw_mode(0o644))?;
    Ok(File::from(fd))
}

/// Opens an existing regular file for writing; `None` if it is missing or anything else
/// than a regular file (a planted link, a directory).
pub(super) fn open_existing(dir: BorrowedFd<'_>, name: &str) -> io::Result<Option<File>> {
    let flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    match rfs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) if FileType::from_raw_mode(rfs::fstat(&fd)?.st_mode) == FileType::RegularFile => {
            Ok(Some(File::from(fd)))
        }
        Ok(_) | Err(Errno::NOENT | Errno::LOOP | Errno::ISDIR | Errno::NXIO) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads a small regular file whole, at most `max` bytes; `None` if it is missing or not a
/// regular file.
pub(super) fn read_small(dir: BorrowedFd<'_>, name: &str, max: u64) -> io::Result<Option<Vec<u8>>> {
    let Some(file) = open_existing(dir, name)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Removes a name; a missing one is fine.
pub(super) fn remove(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    match rfs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Replaces `to` by `from` atomically (for the store's own hidden files only).
pub(super) fn rename_over(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    rfs::renameat(dir, from, dir, to).map_err(Into::into)
}

/// Gives `from` the name `to`, atomically and only if `to` does not exist: an existing file
/// is never replaced. Fails with `AlreadyExists` if it does. File systems without
/// `RENAME_NOREPLACE` get a hard link and an unlink, which is just as safe.
pub(super) fn rename_new(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    match rfs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            rfs::linkat(dir, from, dir, to, AtFlags::empty())?;
            remove(dir, from)
        }
        Err(e) => Err(e.into()),
    }
}

/// Flushes a file's data (and the size needed to read it back) to the disk.
pub(super) fn sync_data(file: &File) -> io::Result<()> {
    rfs::fdatasync(file).map_err(Into::into)
}

/// Flushes the directory itself, so that creations, renames and removals in it are durable.
pub(super) fn sync_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    rfs::fsync(dir).map_err(Into::into)
}

/// Cuts a file to `len` bytes.
pub(super) fn truncate(file: &File, len: u64) -> io::Result<()> {
    rfs::ftruncate(file, len).map_err(Into::into)
}

/// The size of a file.
pub(super) fn len(file: &File) -> io::Result<u64> {
    Ok(u64::try_from(rfs::fstat(file)?.st_size).unwrap_or(0))
}

/// Bytes an unprivileged writer may still use on the directory's file system.
pub(super) fn free_space(dir: BorrowedFd<'_>) -> io::Result<u64> {
    let st = rfs::fstatvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// The names in the directory.
pub(super) fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(dir.as_fd())? {
        if let Ok(name) = entry?.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}
