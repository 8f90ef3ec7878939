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
fn three_messages_in_one_write_and_one_split_byte_by_byte() {
    let (_tmp, server) = server(&[]);
    let mut s = connect(server.chat);
    assert_eq!(read_line(&mut s), WELCOME);
    write(&mut s, b"one\ntwo\r\nthree\n");
    for word in ["one", "two", "three"] {
        assert_eq!(read_line(&mut s), format!("{word},你好"));
    }
    for b in "再见 split\n".as_bytes() {
        write(&mut s, &[*b]);
    }
    assert_eq!(read_line(&mut s), "再见 split,你好");

    // The native form: handshake and three SAY frames, every byte in its own write.
    let mut n = connect(server.chat);
    let mut bytes = native::hello(1);
    for word in ["a", "bb", "ccc"] {
        bytes.extend(native::frame(0x10, word.as_bytes()));
    }
    for b in &bytes {
        write(&mut n, &[*b]);
    }
    assert_eq!(read_line(&mut n), WELCOME);
    native::read_hello(&mut n);
    for word in ["a", "bb", "ccc"] {
        assert_eq!(
            native::read_frame(&mut n),
            (0x21, format!("{word},你好").into_bytes())
        );
    }
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
fn a_room_broadcasts_to_the_others() {
    let (_tmp, server) = server(&["--chat-mode", "room"]);
    let mut a = connect(server.chat);
    assert_eq!(read_line(&mut a), WELCOME);
    write(&mut a, b"anyone?\n");
    assert_eq!(read_line(&mut a), "* you are guest-1");
    let mut b = connect(server.chat);
    assert_eq!(read_line(&mut b), WELCOME);
    write(&mut b, b"/nick bob\n");
    assert_eq!(read_line(&mut b), "* you are guest-2");
    assert_eq!(read_line(&mut b), "* guest-2 is now bob");
    assert_eq!(read_line(&mut a), "* guest-2 joined");
    assert_eq!(read_line(&mut a), "* guest-2 is now bob");
    write(&mut a, b"hi bob\nhow are you\n");
    assert_eq!(read_line(&mut b), "guest-1: hi bob");
    assert_eq!(read_line(&mut b), "guest-1: how are you");
    write(&mut b, b"q\n");
    assert_eq!(read_line(&mut a), "* bob left");
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
fn over_the_limit_a_client_is_told_busy() {
    let (_tmp, server) = server(&["--max-conns", "1"]);
    let mut first = connect(server.chat);
    assert_eq!(read_line(&mut first), WELCOME);
    let mut second = connect(server.chat);
    let reply = String::from_utf8(read_to_end(&mut second)).unwrap();
    assert!(reply.starts_with("! 503 "), "{reply:?}");
    // The first one is still served.
    write(&mut first, b"still here\n");
    assert_eq!(read_line(&mut first), "still here,你好");
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
