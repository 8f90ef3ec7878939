//! `unstuck send`: uploads files, resuming and verifying them.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use unstuck_core::digest::Algorithm;
use unstuck_core::upload::{UploadClientEvent, UploadForm, validate_name};

use super::Exit;
use super::exit::exit_help;
use super::progress::Progress;
use session::{End, Session};

mod session;

pub(super) const HELP: &str = concat!(
    "\
Examples:
  unstuck send photo.jpg                     stored as photo.jpg, digest printed
  unstuck send a.iso b.iso --to host:9998    several files on one connection
  unstuck send big.bin --name backup.bin     store under another name
  unstuck send big.bin --algorithm sha256    digest checkable with `sha256sum`
  unstuck send --classic photo.jpg           to a 2017-tutorial server (no digest)

A cut upload resumes by itself: run the same command again, and only the bytes the
server does not hold yet are sent. Each verified file prints `NAME: ALGORITHM:HEX`.

",
    exit_help!()
);

/// Flags of `unstuck send`.
#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    /// Files to upload, one after another.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Address of the upload server.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9998")]
    to: String,
    /// Name to store the file under (default: the file's own name). One FILE only.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Speak the 2017 tutorial's form: size, wait for `1001`, raw bytes. No name, no
    /// digest, no resume; the server picks the name.
    #[arg(long)]
    classic: bool,
    /// Digest that verifies each file: xxh3-chain (fast) or sha256 (checkable with sha256sum).
    #[arg(long, value_name = "ALG", default_value = "xxh3-chain", value_parser = parse_algorithm)]
    algorithm: Algorithm,
}

fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    Algorithm::from_name(s).ok_or_else(|| format!("`{s}` is not xxh3-chain or sha256"))
}

/// One file to send and the name it is offered under.
struct Job {
    path: PathBuf,
    name: String,
}

pub(super) fn run(args: SendArgs) -> Exit {
    let jobs = match plan(&args) {
        Ok(jobs) => jobs,
        Err(msg) => {
            eprintln!("unstuck send: {msg}");
            return Exit::Usage;
        }
    };
    if args.classic {
        jobs.iter()
            .map(|job| send_classic(&args.to, job))
            .max()
            .unwrap_or(Exit::Ok)
    } else {
        send_native(&args.to, &jobs, args.algorithm)
    }
}

/// Names every file, refusing a command line that cannot work before connecting.
fn plan(args: &SendArgs) -> Result<Vec<Job>, String> {
    if args.name.is_some() && args.files.len() > 1 {
        return Err("--name takes one FILE only".into());
    }
    args.files
        .iter()
        .map(|path| {
            let name = match &args.name {
                Some(n) => n.clone(),
                None => file_name(path)?,
            };
            if !args.classic {
                validate_name(&name)
                    .map_err(|why| format!("cannot upload as `{name}`: {why} (use --name)"))?;
            }
            Ok(Job {
                path: path.clone(),
                name,
            })
        })
        .collect()
}

fn file_name(path: &Path) -> Result<String, String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(String::from)
        .ok_or_else(|| format!("{} has no usable file name (use --name)", path.display()))
}

fn open(job: &Job) -> Result<(File, u64), Exit> {
    let opened = File::open(&job.path).and_then(|f| {
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        Ok((meta.len(), f))
    });
    match opened {
        Ok((size, f)) => Ok((f, size)),
        Err(e) => {
            eprintln!("unstuck send: {}: {e}", job.path.display());
            Err(Exit::Failure)
        }
    }
}

/// Sends all jobs on one native connection; a file that fails does not stop the others,
/// unless the connection itself is gone.
fn send_native(addr: &str, jobs: &[Job], algorithm: Algorithm) -> Exit {
    let mut session = match Session::connect(addr, UploadForm::Native) {
        Ok(s) => s,
        Err(end) => return end.report(addr),
    };
    let mut worst = Exit::Ok;
    for job in jobs {
        let Ok((mut file, size)) = open(job) else {
            worst = worst.max(Exit::Failure);
            continue;
        };
        match send_one(&mut session, job, &mut file, size, algorithm) {
            Ok(status) => worst = worst.max(status),
            Err(end) => return worst.max(end.report(&job.name)),
        }
    }
    worst
}

/// Offers, sends and verifies one file. `Err` means the connection is over.
fn send_one(
    session: &mut Session,
    job: &Job,
    file: &mut File,
    size: u64,
    algorithm: Algorithm,
) -> Result<Exit, End> {
    session.offer(&job.name, size, algorithm)?;
    let offset = match session.next_event()? {
        UploadClientEvent::Accepted { offset } => offset,
        UploadClientEvent::Rejected(e) => {
            eprintln!("unstuck send: {}: refused: {e}", job.name);
            return Ok(Exit::for_code(e.number));
        }
        other => return Err(other.into()),
    };
    let mut progress = Progress::start(&job.name, size);
    if offset > 0 {
        progress.note(&format!(
            "resuming at byte {offset}: the server holds all before it"
        ));
    }
    let sent = session.send_body(file, size, &mut progress);
    progress.finish();
    sent?;
    match session.next_event()? {
        UploadClientEvent::Verified(digest) => {
            println!("{}: {digest}", job.name);
            Ok(Exit::Ok)
        }
        UploadClientEvent::Mismatch { local, remote } => {
            eprintln!(
                "unstuck send: {}: digest mismatch (sent {local}, server got {remote}); \
                 the server discarded its copy, send again",
                job.name
            );
            Ok(Exit::Mismatch)
        }
        other => Err(other.into()),
    }
}

/// One classic upload on its own connection: the form carries one file per connection.
fn send_classic(addr: &str, job: &Job) -> Exit {
    let Ok((mut file, size)) = open(job) else {
        return Exit::Failure;
    };
    let result = (|| {
        let mut session = Session::connect(addr, UploadForm::Classic)?;
        session.offer("", size, Algorithm::DEFAULT)?;
        match session.next_event()? {
            UploadClientEvent::Accepted { .. } => {}
            UploadClientEvent::Rejected(e) => {
                eprintln!("unstuck send: {}: refused: {e}", job.name);
                return Ok(Exit::for_code(e.number));
            }
            other => return Err(other.into()),
        }
        let mut progress = Progress::start(&job.name, size);
        let sent = session.send_body(&mut file, size, &mut progress);
        progress.finish();
        sent?;
        session.await_close()
    })();
    match result {
        Ok(Exit::Ok) => {
            println!(
                "{}: sent {size} bytes (classic form: not verified)",
                job.name
            );
            Exit::Ok
        }
        Ok(status) => status,
        Err(end) => end.report(&job.name),
    }
}

/// Reads exactly `buf.len()` bytes of the file; a file that shrank is an error.
fn read_chunk(file: &mut File, buf: &mut [u8]) -> io::Result<()> {
    file.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::other("the file shrank while it was being sent")
        } else {
            e
        }
    })
}
