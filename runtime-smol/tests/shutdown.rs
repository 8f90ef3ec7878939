//! SIGTERM stops the `unstuck-smol` binary gracefully: chat clients are told, an upload in
//! progress stays resumable, the process exits 0, and a restarted server resumes the upload.

mod common;

use std::io::Read;
use std::time::Instant;

use common::{BinServer, PATIENCE, connect, offer_by_hand, pattern, read_to_end, read_until, send};
use unstuck_core::digest::BLOCK;
use unstuck_smol::client::{SendOptions, send_file};

#[test]
fn sigterm_closes_chat_keeps_uploads_resumable_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("uploads");
    let server = BinServer::start(&dir, &[]);

    let mut chat = connect(server.chat);
    read_until(&mut chat, b"\n");
    send(&mut chat, b"hi\n");
    read_until(&mut chat, "hi,你好\n".as_bytes());

    let data = pattern(12 * 1024 * 1024, 5);
    let mut up = connect(server.upload);
    assert_eq!(offer_by_hand(&mut up, "movie.bin", data.len() as u64), 0);
    send(&mut up, &data[..6 * 1024 * 1024]);
    // Wait until the server has stored at least one block: only then is there something to
    // resume from. (A condition on the file, polled with a deadline; not a fixed sleep.)
    let part = dir.join(".movie.bin.part");
    let since = Instant::now();
    while std::fs::metadata(&part).map_or(0, |m| m.len()) < BLOCK {
        assert!(
            since.elapsed() < PATIENCE,
            "the server never stored a block"
        );
        std::thread::yield_now();
    }

    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(read_to_end(&mut chat), b"! 520 server going down\n");
    let mut close = Vec::new();
    up.read_to_end(&mut close).unwrap();
    assert_eq!(close[0], 0x2F, "CLOSE");
    assert_eq!(&close[5..7], &520u16.to_be_bytes());

    // A new server on the same directory resumes where the durable copy ends.
    let server = BinServer::start(&dir, &[]);
    let path = tmp.path().join("movie.bin");
    std::fs::write(&path, &data).unwrap();
    let sent = async_io::block_on(send_file(
        server.upload,
        &path,
        &SendOptions::default(),
        |_| {},
    ))
    .unwrap();
    assert!(
        sent.resumed_from >= BLOCK,
        "resumed from {}",
        sent.resumed_from
    );
    assert!(std::fs::read(dir.join("movie.bin")).unwrap() == data);
    assert!(server.terminate().success());
}
