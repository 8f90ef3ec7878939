//! `unstuck send`: uploads files, resuming and verifying them.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use clap::Args;
use unstuck_core::digest::Algorithm;
use unstuck_core::upload::{UploadForm, validate_name};
use unstuck_std::client::{SendError, SendOptions, Sent, UploadSession, send_file};

use super::Exit;
use super::exit::exit_help;
use super::progress::Bar;

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

/// Checks that a file can be sent before offering it, so that a missing file does not cost
/// the connection the others travel on.
fn check(job: &Job) -> Result<(), Exit> {
    let opened = File::open(&job.path).and_then(|f| {
        if f.metadata()?.is_file() {
            Ok(())
        } else {
            Err(io::Error::other("not a regular file"))
        }
    });
    opened.map_err(|e| {
        eprintln!("unstuck send: {}: {e}", job.path.display());
        Exit::Failure
    })
}

/// Sends all jobs on one native connection; a file that fails does not stop the others,
/// unless the connection itself is gone.
fn send_native(addr: &str, jobs: &[Job], algorithm: Algorithm) -> Exit {
    let mut session = match UploadSession::connect(addr, UploadForm::Native) {
        Ok(s) => s,
        Err(e) => return report(addr, &SendError::Io(e)),
    };
    let mut worst = Exit::Ok;
    for job in jobs {
        if check(job).is_err() {
            worst = worst.max(Exit::Failure);
            continue;
        }
        let options = SendOptions {
            name: Some(job.name.clone()),
            algorithm,
            form: UploadForm::Native,
        };
        let result = with_bar(job, |progress| {
            session.send_file(&job.path, &options, progress)
        });
        match result {
            Ok(sent) => {
                if let Some(digest) = sent.digest {
                    println!("{}: {digest}", job.name);
                }
            }
            Err(e @ (SendError::Rejected(_) | SendError::Mismatch { .. })) => {
                worst = worst.max(report(&job.name, &e));
            }
            Err(e) => return worst.max(report(&job.name, &e)),
        }
    }
    worst
}

/// One classic upload on its own connection: the form carries one file per connection.
fn send_classic(addr: &str, job: &Job) -> Exit {
    if let Err(status) = check(job) {
        return status;
    }
    let options = SendOptions {
        name: Some(job.name.clone()),
        form: UploadForm::Classic,
        ..SendOptions::default()
    };
    match with_bar(job, |progress| {
        send_file(addr, &job.path, &options, progress)
    }) {
        Ok(sent) => {
            println!(
                "{}: sent {} bytes (classic form: not verified)",
                job.name, sent.size
            );
            Exit::Ok
        }
        Err(e) => report(&job.name, &e),
    }
}

/// Runs one transfer with a progress bar, shown from the server's acceptance on.
fn with_bar(
    job: &Job,
    send: impl FnOnce(&mut dyn FnMut(unstuck_std::client::Progress)) -> Result<Sent, SendError>,
) -> Result<Sent, SendError> {
    let mut bar: Option<Bar> = None;
    let result = send(&mut |p| {
        let bar = bar.get_or_insert_with(|| {
            let bar = Bar::start(&job.name, p.total);
            if p.resumed_from > 0 {
                bar.note(&format!(
                    "resuming at byte {}: the server holds all before it",
                    p.resumed_from
                ));
            }
            bar
        });
        bar.set(p.done);
    });
    if let Some(bar) = &bar {
        bar.finish();
    }
    result
}

/// Prints why a file was not stored, and returns the exit status it deserves.
fn report(what: &str, e: &SendError) -> Exit {
    let (text, status) = match e {
        SendError::Rejected(e) => (format!("refused: {e}"), Exit::for_code(e.number)),
        SendError::Mismatch { local, remote } => (
            format!(
                "digest mismatch (sent {local}, server got {remote}); \
                 the server discarded its copy, send again"
            ),
            Exit::Mismatch,
        ),
        SendError::Closed(Some(e)) => (format!("the server closed: {e}"), Exit::for_code(e.number)),
        SendError::Closed(None) => ("the server closed the connection".into(), Exit::Failure),
        SendError::File(e) => (format!("cannot read the file: {e}"), Exit::Failure),
        SendError::Io(e) => (format!("network failure: {e}"), Exit::Failure),
        other => (other.to_string(), Exit::Failure),
    };
    eprintln!("unstuck send: {what}: {text}");
    status
}
