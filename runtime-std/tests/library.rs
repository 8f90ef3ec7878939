//! The library entry points, in-process: `server::Server` on ports the system picks, stopped
//! by a `Stopper` from another thread, and the blocking clients of `client`.

use std::fs;
use std::io;
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use clap::Parser;
use unstuck_core::ErrorCode;
use unstuck_core::chat::{ChatClientConfig, ClientEvent, ClientForm};
use unstuck_core::digest::{Algorithm, BLOCK, Hasher};
use unstuck_core::upload::UploadForm;
use unstuck_std::client::{ChatSession, SendError, SendOptions, UploadSession, send_file};
use unstuck_std::config::ServeArgs;
use unstuck_std::server::{Server, Stopper};

/// A safety net that turns a hang into a failure; never a means of synchronisation.
const PATIENCE: Option<Duration> = Some(Duration::from_secs(20));

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn bind(dir: &Path, extra: &[&str]) -> Server {
    let mut argv = vec![
        "x",
        "--chat",
        "127.0.0.1:0",
        "--upload",
        "127.0.0.1:0",
        "--dir",
    ];
    argv.push(dir.to_str().unwrap());
    argv.extend_from_slice(extra);
    Server::bind(&Cli::parse_from(argv).serve).unwrap()
}

/// A server running on a thread of its own.
struct Running {
    server: Option<JoinHandle<io::Result<()>>>,
    stopper: Stopper,
    chat: std::net::SocketAddr,
    upload: std::net::SocketAddr,
}

impl Running {
    fn start(dir: &Path, extra: &[&str]) -> Running {
        let server = bind(dir, extra);
        let (chat, upload, stopper) = (server.chat_addr(), server.upload_addr(), server.stopper());
        Running {
            server: Some(thread::spawn(move || server.run())),
            stopper,
            chat,
            upload,
        }
    }

    /// Stops it from yet another thread, and waits for `run` to return.
    fn stop(mut self) {
        let stopper = self.stopper.clone();
        thread::spawn(move || stopper.stop()).join().unwrap();
        self.server.take().unwrap().join().unwrap().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stopper.stop();
    }
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn digest(data: &[u8]) -> String {
    let mut h = Hasher::new(Algorithm::Xxh3Chain);
    h.update(data);
    h.finish().to_string()
}

fn next(chat: &mut ChatSession) -> ClientEvent {
    chat.next_event(PATIENCE).unwrap().expect("an event")
}

#[test]
fn bind_on_port_zero_serve_then_stop_from_another_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let server = bind(&tmp.path().join("up"), &[]);
    assert_ne!(server.chat_addr().port(), 0);
    assert_ne!(server.upload_addr().port(), 0);
    assert_ne!(server.chat_addr(), server.upload_addr());
    let (addr, stopper) = (server.chat_addr(), server.stopper());
    let running = thread::spawn(move || server.run());

    // A conversation: the banner, the handshake, the bot's answer.
    let mut chat = ChatSession::connect(addr).unwrap();
    assert_eq!(
        next(&mut chat),
        ClientEvent::Welcome("欢迎来到简单的聊天室..".into())
    );
    assert!(matches!(next(&mut chat), ClientEvent::Ready { .. }));
    chat.say("hello").unwrap();
    assert_eq!(next(&mut chat), ClientEvent::Reply("hello,你好".into()));

    // Stopped from another thread, the server tells the client why, and `run` returns.
    assert!(!stopper.is_stopped());
    let other = stopper.clone();
    thread::spawn(move || other.stop()).join().unwrap();
    match next(&mut chat) {
        ClientEvent::Error(e) => assert_eq!(e.number, 520, "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(chat.next_event(PATIENCE).unwrap(), None);
    let closed = chat.closed().unwrap();
    assert_eq!(closed.code, ErrorCode::ShuttingDown);
    assert!(closed.by_peer);
    running.join().unwrap().unwrap();
    assert!(stopper.is_stopped());
}

#[test]
fn handles_cross_threads() {
    fn send<T: Send>() {}
    fn shared<T: Send + Sync + Clone>() {}
    send::<Server>();
    send::<ChatSession>();
    send::<UploadSession>();
    shared::<Stopper>();
    shared::<unstuck_std::client::ChatWaker>();
}

#[test]
fn a_stop_before_run_makes_run_return_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = bind(&tmp.path().join("up"), &[]);
    server.stopper().stop();
    server.run().unwrap();
}

#[test]
fn chat_sessions_quit_time_out_and_wake() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Running::start(&tmp.path().join("up"), &[]);
    for form in [ClientForm::Native, ClientForm::Classic] {
        let config = ChatClientConfig {
            form,
            ..ChatClientConfig::default()
        };
        let mut chat = ChatSession::connect_with(server.chat, config).unwrap();
        assert!(
            matches!(next(&mut chat), ClientEvent::Welcome(_)),
            "{form:?}"
        );
        if form == ClientForm::Native {
            assert!(matches!(next(&mut chat), ClientEvent::Ready { .. }));
        }
        // Silence: a short wait times out, and the session goes on.
        let e = chat.next_event(Some(Duration::from_millis(1))).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // A wake from another thread interrupts a wait that would last forever.
        let waker = chat.waker();
        thread::spawn(move || waker.wake()).join().unwrap();
        let e = chat.next_event(None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        chat.say("hi").unwrap();
        assert_eq!(
            next(&mut chat),
            ClientEvent::Reply("hi,你好".into()),
            "{form:?}"
        );
        let closed = chat.quit().unwrap();
        assert_eq!(closed.code, ErrorCode::Bye, "{form:?}");
        assert_eq!(chat.next_event(PATIENCE).unwrap(), None);
    }
    server.stop();
}

#[test]
fn files_go_up_natively_and_classically() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("up");
    let server = Running::start(&dir, &[]);
    let data = pattern(2 * BLOCK as usize + 321, 1);
    let file = tmp.path().join("a.bin");
    fs::write(&file, &data).unwrap();

    let mut seen = Vec::new();
    let sent = send_file(server.upload, &file, &SendOptions::default(), |p| {
        seen.push(p)
    })
    .unwrap();
    assert_eq!(sent.name, "a.bin");
    assert_eq!((sent.size, sent.resumed_from), (data.len() as u64, 0));
    assert_eq!(sent.digest.unwrap().to_string(), digest(&data));
    assert_eq!(fs::read(dir.join("a.bin")).unwrap(), data);
    assert_eq!(seen.first().map(|p| p.done), Some(0));
    assert_eq!(seen.last().map(|p| p.done), Some(data.len() as u64));

    // One session, several files: a refusal does not end it.
    let mut session = UploadSession::connect(server.upload, UploadForm::Native).unwrap();
    match session.send_file(&file, &SendOptions::default(), |_| {}) {
        Err(SendError::Rejected(e)) => assert_eq!(e.number, 409, "{e}"),
        other => panic!("{other:?}"),
    }
    let again = SendOptions {
        name: Some("b.bin".into()),
        ..SendOptions::default()
    };
    session.send_file(&file, &again, |_| {}).unwrap();
    assert_eq!(fs::read(dir.join("b.bin")).unwrap(), data);
    let missing = session.send_file(&tmp.path().join("nope"), &again, |_| {});
    assert!(matches!(missing, Err(SendError::File(_))), "{missing:?}");

    // The seed's form: no name, no digest; the server names the file.
    let classic = SendOptions {
        form: UploadForm::Classic,
        ..SendOptions::default()
    };
    let sent = send_file(server.upload, &file, &classic, |_| {}).unwrap();
    assert_eq!((sent.name.as_str(), sent.digest), ("", None));
    let stored: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("classic-"))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(fs::read(dir.join(&stored[0])).unwrap(), data);
    server.stop();
}
