//! The chat service over loopback, with the real binary.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::thread;

use common::*;

const WELCOME: &str = "欢迎来到简单的聊天室..";

fn server(extra: &[&str]) -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("up"), extra);
    (tmp, server)
}

#[test]
fn nc_style_line_chat() {
    let (_tmp, server) = server(&[]);
    let mut s = connect(server.chat);
    assert_eq!(read_line(&mut s), WELCOME);
    write(&mut s, b"hello\n");
    assert_eq!(read_line(&mut s), "hello,你好");
    write(&mut s, b"q\n");
    assert_eq!(read_to_end(&mut s), b"");
    drop(s);
    server.wait_log(&["close", "form=\"line\"", "200 bye"]);
}

#[test]
fn the_seed_chat_client_works_unchanged() {
    let (_tmp, server) = server(&[]);
    let mut s = connect(server.chat);
    // The seed client prints one recv(1024) as the welcome, then sends without newlines.
    assert_eq!(read_line(&mut s), WELCOME);
    write(&mut s, "你好吗".as_bytes());
    let want = "你好吗,你好".as_bytes();
    assert_eq!(read_n(&mut s, want.len()), want);
    write(&mut s, b"q");
    assert_eq!(read_to_end(&mut s), b"");
    drop(s);
    server.wait_log(&["close", "form=\"classic\""]);
}

#[test]
fn a_room_member_that_does_not_read_is_dropped_not_waited_for() {
    let (_tmp, server) = server(&[
        "--chat-mode",
        "room",
        "--max-message",
        "65000",
        "--flood-burst",
        "1000",
        "--flood-rate",
        "1000",
    ]);
    let mut a = connect(server.chat);
    assert_eq!(read_line(&mut a), WELCOME);
    write(&mut a, b"\n");
    assert_eq!(read_line(&mut a), "* you are guest-1");
    let mut b = connect(server.chat);
    assert_eq!(read_line(&mut b), WELCOME);
    write(&mut b, b"\n");
    assert_eq!(read_line(&mut a), "* guest-2 joined");
    // b reads nothing more: its socket buffers fill, then its send queue overflows.
    let mut line = vec![b'x'; 60_000];
    line.push(b'\n');
    for _ in 0..600 {
        write(&mut a, &line);
    }
    assert_eq!(read_line(&mut a), "* guest-2 left");
    server.wait_log(&["close", "450 reading too slowly"]);
    // The room goes on.
    let mut c = connect(server.chat);
    assert_eq!(read_line(&mut c), WELCOME);
    write(&mut c, b"hello\n");
    assert_eq!(read_line(&mut a), "* guest-3 joined");
    assert_eq!(read_line(&mut a), "guest-3: hello");
}

#[test]
fn shutdown_tells_chat_clients_and_exits_zero() {
    let (_tmp, server) = server(&[]);
    let mut s = connect(server.chat);
    assert_eq!(read_line(&mut s), WELCOME);
    write(&mut s, b"hi\n");
    assert_eq!(read_line(&mut s), "hi,你好");
    let mut silent = connect(server.chat);
    assert_eq!(read_line(&mut silent), WELCOME);
    let status = server.stop();
    assert_eq!(read_line(&mut s), "! 520 server going down");
    assert_eq!(read_to_end(&mut s), b"");
    assert!(read_line(&mut silent).starts_with("! 520 "));
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_chat_command_talks_to_the_bot() {
    for form in [None, Some("--classic")] {
        let (_tmp, server) = server(&[]);
        let addr = server.chat.to_string();
        let mut child = Command::new(BIN)
            .args(["chat", &addr])
            .args(form)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let _ = tx.send(line.unwrap());
            }
        });
        let next = || rx.recv_timeout(STEP).expect("a line from unstuck chat");
        assert_eq!(next(), WELCOME);
        stdin.write_all(b"hello\n").unwrap();
        assert_eq!(next(), "hello,你好");
        stdin.write_all(b"q\n").unwrap();
        let status = wait_child(child);
        assert!(status.success(), "{form:?}: {status:?}");
    }
}
