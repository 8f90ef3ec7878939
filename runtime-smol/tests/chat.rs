//! Chat over loopback against the in-process smol server: the seed's `nc` conversation,
//! sticky and split messages, the native client API, the room, and the connection limit.

mod common;

use std::io::Write;

use common::{TestServer, connect, read_to_end, read_until, send};
use unstuck_core::BUSY_LINE;
use unstuck_core::chat::ClientEvent;
use unstuck_smol::client::ChatSession;

const WELCOME: &str = "欢迎来到简单的聊天室..\n";

#[test]
fn nc_style_line_chat() {
    let server = TestServer::start(&[]);
    let mut s = connect(server.chat);
    assert_eq!(read_until(&mut s, b"\n"), WELCOME.as_bytes());
    send(&mut s, b"hello\n");
    assert_eq!(
        read_until(&mut s, "你好\n".as_bytes()),
        "hello,你好\n".as_bytes()
    );
    send(&mut s, b"q\n");
    assert_eq!(read_to_end(&mut s), b"", "q closes without a line");
    server.stop();
}

#[test]
fn three_messages_in_one_write_and_one_split_byte_by_byte() {
    let server = TestServer::start(&[]);
    let mut s = connect(server.chat);
    read_until(&mut s, b"\n");
    send(&mut s, b"a\nb\nc\n");
    let want = "a,你好\nb,你好\nc,你好\n";
    assert_eq!(read_until(&mut s, "c,你好\n".as_bytes()), want.as_bytes());
    for b in b"split\n" {
        s.write_all(&[*b]).unwrap();
        s.flush().unwrap();
    }
    assert_eq!(
        read_until(&mut s, "你好\n".as_bytes()),
        "split,你好\n".as_bytes()
    );
    server.stop();
}

#[test]
fn native_session_gets_replies() {
    let server = TestServer::start(&[]);
    async_io::block_on(async {
        let mut chat = ChatSession::connect(server.chat).await.unwrap();
        chat.say("hello").await.unwrap();
        chat.say("again").await.unwrap();
        let mut replies = Vec::new();
        while replies.len() < 2 {
            match chat.next_event().await.unwrap().expect("open") {
                ClientEvent::Reply(t) => replies.push(t),
                ClientEvent::Welcome(w) => assert_eq!(w, WELCOME.trim_end()),
                ClientEvent::Ready { max_message } => assert_eq!(max_message, 4096),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(replies, ["hello,你好", "again,你好"]);
        let closed = chat.quit().await.unwrap();
        assert_eq!(closed.code, unstuck_core::ErrorCode::Bye);
    });
    server.stop();
}

/// Events until the first message from another member.
async fn next_message(chat: &mut ChatSession) -> (String, String) {
    loop {
        match chat.next_event().await.unwrap().expect("open") {
            ClientEvent::Message { from, text } => return (from, text),
            ClientEvent::Error(e) => panic!("error {e}"),
            _ => {}
        }
    }
}

/// Events until a notice that contains `part`.
async fn notice(chat: &mut ChatSession, part: &str) -> String {
    loop {
        match chat.next_event().await.unwrap().expect("open") {
            ClientEvent::Notice(t) if t.contains(part) => return t,
            ClientEvent::Error(e) => panic!("error {e}"),
            _ => {}
        }
    }
}

#[test]
fn room_broadcasts_to_the_others_in_every_form() {
    let server = TestServer::start(&["--chat-mode", "room"]);
    async_io::block_on(async {
        let mut a = ChatSession::connect(server.chat).await.unwrap();
        assert_eq!(notice(&mut a, "you are").await, "you are guest-1");
        let mut b = ChatSession::connect(server.chat).await.unwrap();
        assert_eq!(notice(&mut b, "you are").await, "you are guest-2");
        assert_eq!(notice(&mut a, "joined").await, "guest-2 joined");

        // A line-form member joins with its first line.
        let mut nc = connect(server.chat);
        read_until(&mut nc, b"\n");
        send(&mut nc, b"/nick ann\n");
        read_until(&mut nc, b"* guest-3 is now ann\n");
        assert_eq!(notice(&mut a, "is now").await, "guest-3 is now ann");
        assert_eq!(notice(&mut b, "is now").await, "guest-3 is now ann");

        a.say("hi all").await.unwrap();
        assert_eq!(
            next_message(&mut b).await,
            ("guest-1".into(), "hi all".into())
        );
        read_until(&mut nc, b"guest-1: hi all\n");
        send(&mut nc, b"hello from nc\n");
        assert_eq!(
            next_message(&mut a).await,
            ("ann".into(), "hello from nc".into())
        );
        assert_eq!(
            next_message(&mut b).await,
            ("ann".into(), "hello from nc".into())
        );

        drop(nc);
        assert_eq!(notice(&mut a, "left").await, "ann left");
        b.quit().await.unwrap();
        assert_eq!(notice(&mut a, "left").await, "guest-2 left");
    });
    server.stop();
}

#[test]
fn over_the_limit_gets_the_busy_line() {
    let server = TestServer::start(&["--max-conns", "1"]);
    let mut first = connect(server.chat);
    read_until(&mut first, b"\n");
    let mut second = connect(server.chat);
    assert_eq!(read_to_end(&mut second), BUSY_LINE);
    let mut up1 = connect(server.upload);
    send(&mut up1, b"3\n");
    read_until(&mut up1, b"1001");
    let mut up2 = connect(server.upload);
    assert_eq!(read_to_end(&mut up2), BUSY_LINE);
    // The first is still served.
    send(&mut first, b"still here\n");
    read_until(&mut first, "still here,你好\n".as_bytes());
    drop(up1);
    server.stop();
}
