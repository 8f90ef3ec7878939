//! Chat scenarios: the seed's clients, the client libraries, the room, limits and shutdown.

use std::sync::mpsc;
use std::thread;

use unstuck_core::chat::{ClientEvent, ClientForm};
use unstuck_core::{BUSY_LINE, ErrorCode};
use unstuck_tests::conformance::raw::{Raw, line_client, native};
use unstuck_tests::conformance::{PATIENCE, Pair, Runtime, WELCOME};

fn reply(text: &str) -> ClientEvent {
    ClientEvent::Reply(format!("{text},你好"))
}

fn notice(text: &str) -> ClientEvent {
    ClientEvent::Notice(text.into())
}

fn message(from: &str, text: &str) -> ClientEvent {
    ClientEvent::Message {
        from: from.into(),
        text: text.into(),
    }
}

/// `nc 127.0.0.1 8888`: the welcome, `hello` → `hello,你好`, and `q` closes without a word.
pub(crate) fn nc_line_chat(server: Runtime) {
    let server = server.start(&[]);
    let mut s = line_client(server.chat_addr());
    s.send(b"hello\n");
    assert_eq!(s.read_line(), "hello,你好");
    s.send(b"q\n");
    s.expect_closed();
}

/// Three messages in one write, then one message a byte per write; the same in the native
/// form (handshake and three SAY frames, every byte in its own write).
pub(crate) fn sticky_and_split_messages(server: Runtime) {
    let server = server.start(&[]);
    let mut s = line_client(server.chat_addr());
    s.send(b"one\ntwo\r\nthree\n");
    for word in ["one", "two", "three"] {
        assert_eq!(s.read_line(), format!("{word},你好"));
    }
    s.send_bytewise("再见 split\n".as_bytes());
    assert_eq!(s.read_line(), "再见 split,你好");

    let mut n = Raw::connect(server.chat_addr());
    let mut bytes = native::hello(native::CHAT);
    for word in ["a", "bb", "ccc"] {
        bytes.extend(native::frame(native::SAY, word.as_bytes()));
    }
    n.send_bytewise(&bytes);
    assert_eq!(n.read_line(), WELCOME);
    n.read_server_hello();
    for word in ["a", "bb", "ccc"] {
        let want = format!("{word},你好").into_bytes();
        assert_eq!(n.read_frame(), (native::REPLY, want));
    }
    // And three frames in one write.
    let mut bytes = Vec::new();
    for word in ["x", "yy", "zzz"] {
        bytes.extend(native::frame(native::SAY, word.as_bytes()));
    }
    n.send(&bytes);
    for word in ["x", "yy", "zzz"] {
        let want = format!("{word},你好").into_bytes();
        assert_eq!(n.read_frame(), (native::REPLY, want));
    }
}

/// The seed's chat client: it prints the first `recv` as the welcome, then sends each message
/// with one `send` and no newline, and waits for the answer (the server ends a message by
/// the quiet gap). `q` ends it.
pub(crate) fn seed_classic_chat(server: Runtime) {
    let server = server.start(&[]);
    let mut s = Raw::connect(server.chat_addr());
    assert_eq!(s.read_line(), WELCOME);
    for text in ["你好吗", "again, with a comma"] {
        s.send(text.as_bytes());
        let want = format!("{text},你好").into_bytes();
        assert_eq!(s.read_exact(want.len()), want, "no LF in the classic form");
    }
    s.send(b"q");
    s.expect_closed();
}

/// The native client library: banner, handshake, answers in order, `q` and BYE.
pub(crate) fn native_bot_chat(pair: Pair) {
    let server = pair.server.start(&[]);
    let mut chat = pair.client.chat_ready(server.chat_addr());
    chat.say("hello");
    chat.say("again");
    chat.say("你好吗 🙂");
    chat.expect(reply("hello"));
    chat.expect(reply("again"));
    chat.expect(reply("你好吗 🙂"));
    // An empty message is a keep-alive: no answer.
    chat.say("");
    chat.say("after");
    chat.expect(reply("after"));
    let closed = chat.quit();
    assert_eq!(closed.code, ErrorCode::Bye, "{closed}");

    // The message `q` ends the conversation too (CLOSE 200), even from a native client.
    let mut chat = pair.client.chat_ready(server.chat_addr());
    chat.say("q");
    let closed = chat.expect_end();
    assert_eq!(closed.code, ErrorCode::Bye, "{closed}");
}

/// The client library in the seed's classic form (no framing, bursts ended by silence).
pub(crate) fn classic_chat_client(pair: Pair) {
    let server = pair.server.start(&[]);
    let mut chat = pair.client.chat(server.chat_addr(), ClientForm::Classic);
    match chat.event() {
        ClientEvent::Welcome(w) => assert_eq!(w.trim_end(), WELCOME),
        other => panic!("expected the welcome, got {other:?}"),
    }
    for text in ["hi", "你好吗"] {
        chat.say(text);
        chat.expect(reply(text));
    }
    let closed = chat.quit();
    assert_eq!(closed.code, ErrorCode::Bye, "{closed}");
}

/// Room mode with members of both client runtimes and an `nc` member: nicknames, `/nick`,
/// join and leave notices, messages to the others only, refused renames.
pub(crate) fn room_across_runtimes(pair: Pair) {
    let server = pair.server.start(&["--chat-mode", "room"]);
    let addr = server.chat_addr();
    let mut a = pair.client.chat_ready(addr);
    a.expect(notice("you are guest-1"));
    let mut b = pair.client.other().chat_ready(addr);
    b.expect(notice("you are guest-2"));
    a.expect(notice("guest-2 joined"));

    // A line-form member joins with its first line, here a rename.
    let mut nc = line_client(addr);
    nc.send(b"/nick ann\n");
    assert_eq!(nc.read_line(), "* you are guest-3");
    assert_eq!(nc.read_line(), "* guest-3 is now ann");
    for member in [&mut a, &mut b] {
        member.expect(notice("guest-3 joined"));
        member.expect(notice("guest-3 is now ann"));
    }

    b.say("/nick bob");
    b.expect(notice("guest-2 is now bob"));
    a.expect(notice("guest-2 is now bob"));
    assert_eq!(nc.read_line(), "* guest-2 is now bob");

    // Messages go to every other member, never back to the sender.
    a.say("hi all");
    b.expect(message("guest-1", "hi all"));
    assert_eq!(nc.read_line(), "guest-1: hi all");
    b.say("hello from bob");
    a.expect(message("bob", "hello from bob"));
    assert_eq!(nc.read_line(), "bob: hello from bob");
    nc.send(b"hello from nc\n");
    a.expect(message("ann", "hello from nc"));
    b.expect(message("ann", "hello from nc"));

    // Refused renames: a name in use (case-insensitively), and `/nick` alone.
    a.say("/nick BOB");
    a.expect_error(409);
    a.say("/nick");
    a.expect_error(403);
    // A control character in a room message: dropped, ERROR 400, still connected.
    a.say("bell\u{7}");
    a.expect_error(400);

    // Leaving: `q` from nc, BYE from b.
    nc.send(b"q\n");
    nc.expect_closed();
    a.expect(notice("ann left"));
    b.expect(notice("ann left"));
    let closed = b.quit();
    assert_eq!(closed.code, ErrorCode::Bye, "{closed}");
    a.expect(notice("bob left"));
    a.say("alone");
    let closed = a.quit();
    assert_eq!(closed.code, ErrorCode::Bye, "{closed}");
}

/// A graceful stop tells every chat client: the library's session gets error 520 and ends,
/// a line client gets `! 520 ...` and the close, so does one whose form is undecided.
pub(crate) fn shutdown_during_chat(pair: Pair) {
    let mut server = pair.server.start(&[]);
    let addr = server.chat_addr();
    let mut chat = pair.client.chat_ready(addr);
    chat.say("hi");
    chat.expect(reply("hi"));
    let mut line = line_client(addr);
    line.send(b"hi\n");
    assert_eq!(line.read_line(), "hi,你好");
    let mut silent = line_client(addr);

    server.stopper().stop();
    let text = chat.expect_error(520);
    assert_eq!(text, ErrorCode::ShuttingDown.describe());
    let closed = chat.expect_end();
    assert_eq!(closed.code, ErrorCode::ShuttingDown, "{closed}");
    assert!(closed.by_peer, "{closed}");
    let going_down = format!("! 520 {}", ErrorCode::ShuttingDown.describe());
    assert_eq!(line.read_line(), going_down);
    line.expect_closed();
    assert_eq!(silent.read_line(), going_down);
    silent.expect_closed();
    drop((chat, line, silent));
    server.stop();
}

/// `--max-conns 1`: a second connection on either port gets the busy line and the close,
/// whichever client it is, while the first is still served.
pub(crate) fn connection_limit(pair: Pair) {
    let server = pair.server.start(&["--max-conns", "1"]);
    let mut first_chat = line_client(server.chat_addr());
    let mut first_upload = Raw::connect(server.upload_addr());
    first_upload.send(b"3\n");
    assert_eq!(first_upload.read_exact(4), b"1001");

    for addr in [server.chat_addr(), server.upload_addr()] {
        let mut nc = Raw::connect(addr);
        assert_eq!(
            String::from_utf8_lossy(&nc.read_to_end()),
            String::from_utf8_lossy(BUSY_LINE)
        );
    }
    let mut chat = pair.client.chat(server.chat_addr(), ClientForm::Native);
    chat.expect_error(503);
    let closed = chat.expect_end();
    assert_eq!(closed.code, ErrorCode::Busy, "{closed}");

    let file = server.scratch().join("small.bin");
    std::fs::write(&file, b"abc").expect("write the file");
    let options = unstuck_std::client::SendOptions::default();
    // `SendError` documents busy as a refusal.
    match pair
        .client
        .send_file(server.upload_addr(), &file, &options, |_| {})
    {
        Err(unstuck_std::client::SendError::Rejected(e)) => assert_eq!(e.number, 503, "{e}"),
        other => panic!("expected the busy refusal, got {other:?}"),
    }

    // The first ones are still served.
    first_chat.send(b"still here\n");
    assert_eq!(first_chat.read_line(), "still here,你好");
    first_upload.send(b"xyz");
    first_upload.expect_closed();
}

/// Silent connections and garbage on both ports, in every form, from other threads; a good
/// chat client and a good upload are served meanwhile.
pub(crate) fn garbage_does_not_stop_good_clients(pair: Pair) {
    use unstuck_tests::conformance::pattern;

    let server = pair.server.start(&[]);
    let _silent_chat = Raw::connect(server.chat_addr());
    let _silent_upload = Raw::connect(server.upload_addr());
    let noise: Vec<(std::net::SocketAddr, Vec<u8>)> = vec![
        (server.chat_addr(), Vec::new()),
        (server.chat_addr(), native::hello(native::CHAT)),
        (server.chat_addr(), b"\xFFUSX".to_vec()),
        (server.upload_addr(), b"x".to_vec()),
        (server.upload_addr(), b"123".to_vec()),
        (server.upload_addr(), native::hello(native::UPLOAD)),
        (server.upload_addr(), native::hello(native::CHAT)),
    ];
    let noisy: Vec<_> = noise
        .into_iter()
        .enumerate()
        .map(|(i, (addr, prefix))| {
            thread::spawn(move || {
                let mut s = Raw::connect(addr);
                if s.try_send(&prefix).is_err() {
                    return;
                }
                for round in 0..32u64 {
                    if s.try_send(&pattern(16 * 1024, round * 8 + i as u64))
                        .is_err()
                    {
                        break; // the server closed it: fine
                    }
                }
            })
        })
        .collect();

    let mut chat = pair.client.chat_ready(server.chat_addr());
    chat.say("still there?");
    chat.expect(reply("still there?"));
    let mut nc = line_client(server.chat_addr());
    nc.send(b"me too\n");
    assert_eq!(nc.read_line(), "me too,你好");

    let data = pattern(200_000, 9);
    let file = server.scratch().join("good.bin");
    std::fs::write(&file, &data).expect("write the file");
    let sent = pair
        .client
        .send_file(
            server.upload_addr(),
            &file,
            &unstuck_std::client::SendOptions::default(),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("the good upload: {e}"));
    assert_eq!(sent.size, data.len() as u64);
    let stored = std::fs::read(server.dir().join("good.bin")).expect("the stored file");
    assert!(stored == data, "the stored file differs");
    for t in noisy {
        t.join().expect("a noisy client");
    }
    let closed = chat.quit();
    assert_eq!(closed.code, ErrorCode::Bye, "{closed}");
}

/// The most bytes the kernel may buffer on one loopback connection, both ends' buffers at
/// their autotuning maximum (`tcp_wmem` and `tcp_rmem`); 16 MiB if unknown.
fn socket_buffers_max() -> usize {
    let max = |sysctl: &str| -> Option<usize> {
        let text = std::fs::read_to_string(format!("/proc/sys/net/ipv4/{sysctl}")).ok()?;
        text.split_whitespace().nth(2)?.parse().ok()
    };
    match (max("tcp_wmem"), max("tcp_rmem")) {
        (Some(w), Some(r)) => w + r,
        _ => 16 << 20,
    }
}

/// Room mode: a member that never reads is disconnected (its send queue overflowed), not
/// waited for; the others are told it left and the room goes on.
pub(crate) fn slow_room_reader_is_dropped(pair: Pair) {
    let flags = [
        "--chat-mode",
        "room",
        "--max-message",
        "65000",
        "--flood-burst",
        "1000",
        "--flood-rate",
        "1000",
    ];
    let server = pair.server.start(&flags);
    let addr = server.chat_addr();
    let mut a = pair.client.chat(addr, ClientForm::Native);
    a.expect(ClientEvent::Welcome(WELCOME.into()));
    a.expect(ClientEvent::Ready { max_message: 65000 });
    a.expect(notice("you are guest-1"));
    // b joins with an empty line (a keep-alive), then never reads again.
    let mut b = line_client(addr);
    b.send(b"\n");
    a.expect(notice("guest-2 joined"));

    // a sends more than b's socket buffers and its send queue can hold, so the server must
    // drop b; then a waits to hear that b left (which may come after a grace period, for b's
    // CLOSE). On a thread, so that a server that stops reading a fails the test instead of
    // hanging it.
    let size = 60_000;
    let flood = (socket_buffers_max() + (64 << 10)) / size + 1;
    let (done, flooded) = mpsc::channel();
    thread::spawn(move || {
        let text = "x".repeat(size);
        for _ in 0..flood {
            a.say(&text);
        }
        a.expect(notice("guest-2 left"));
        let _ = done.send(a);
    });
    let mut a = match flooded.recv_timeout(PATIENCE * 2) {
        Ok(a) => a,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "{flood} messages of {size} bytes and b's leaving took over {:?}",
            PATIENCE * 2
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the flood failed (see above)"),
    };
    drop(b);

    // a's rename is handled after all its messages, so once a hears of it the flood is
    // over everywhere; then the room goes on.
    a.say("/nick flooder");
    a.expect(notice("guest-1 is now flooder"));
    let mut c = line_client(addr);
    c.send(b"hello\n");
    assert_eq!(c.read_line(), "* you are guest-3");
    a.expect(notice("guest-3 joined"));
    a.expect(message("guest-3", "hello"));
    a.say("welcome");
    assert_eq!(c.read_line(), "flooder: welcome");
}

/// Limits: a message over `--max-message` gets error 413 and the conversation goes on, in
/// both the native and the line form.
pub(crate) fn message_too_large(pair: Pair) {
    let server = pair.server.start(&["--max-message", "100"]);
    let mut chat = pair.client.chat(server.chat_addr(), ClientForm::Native);
    chat.expect(ClientEvent::Welcome(WELCOME.into()));
    chat.expect(ClientEvent::Ready { max_message: 100 });
    chat.say(&"x".repeat(101));
    chat.expect_error(413);
    let fits = "y".repeat(100);
    chat.say(&fits);
    chat.expect(reply(&fits));

    let mut nc = line_client(server.chat_addr());
    let mut long = vec![b'z'; 5000];
    long.push(b'\n');
    nc.send(&long);
    assert!(nc.read_line().starts_with("! 413 "));
    nc.send(b"ok\n");
    assert_eq!(nc.read_line(), "ok,你好");
    let closed = chat.quit();
    assert_eq!(closed.code, ErrorCode::Bye, "{closed}");
}

/// Bot mode: a client that sends a flood (4 MB) and reads nothing until it has sent it all:
/// its answers (18 MB) back up far beyond the socket buffers, the server stops reading it,
/// and the others are answered meanwhile; then it reads, and every answer is there, once,
/// in order (or it was closed as a slow reader, which the spec allows).
///
/// Nothing orders the others' round trips after the moment its socket fills: they usually
/// come before. `slow_room_reader_is_dropped` is the deterministic case of a full socket.
pub(crate) fn client_that_does_not_read_does_not_block_others(server: Runtime) {
    const FLOOD: usize = 2_000_000;
    let server = server.start(&["--flood-burst", "4000000", "--flood-rate", "4000000"]);
    let mut deaf = line_client(server.chat_addr());
    // 4 MB of messages, 18 MB of answers.
    let mut lines = b"x\n".repeat(FLOOD);
    lines.extend_from_slice(b"done\n");
    let mut writer = deaf.writer();
    let flood = thread::spawn(move || {
        let sent = std::io::Write::write_all(&mut writer, &lines);
        let _ = writer.shutdown(std::net::Shutdown::Write);
        sent
    });
    for text in ["anyone?", "still?"] {
        let mut other = line_client(server.chat_addr());
        other.send(format!("{text}\n").as_bytes());
        assert_eq!(other.read_line(), format!("{text},你好"));
    }
    let (bytes, tail) = deaf.discard_to_end();
    let tail = String::from_utf8_lossy(&tail);
    let last = tail.trim_end().rsplit('\n').next().unwrap_or_default();
    if last.starts_with("! 450 ") {
        return; // closed as a slow reader: allowed
    }
    assert_eq!(last, "done,你好", "{bytes} bytes, ending {tail:?}");
    let want = FLOOD * "x,你好\n".len() + "done,你好\n".len();
    assert_eq!(bytes, want as u64, "every answer, once");
    flood
        .join()
        .expect("the flood thread")
        .expect("the server read the whole flood");
}
