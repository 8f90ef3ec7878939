//! Upload scenarios: the seed's client, the client libraries in both forms, digests, names,
//! and an upload cut by a shutdown that resumes after a restart.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use unstuck_core::digest::{Algorithm, BLOCK, Digest, Hasher};
use unstuck_core::upload::UploadForm;
use unstuck_std::client::{Progress, SendError, SendOptions};
use unstuck_tests::conformance::raw::{self, Raw, native};
use unstuck_tests::conformance::{Pair, Runtime, listing, pattern, wait_until};

fn digest(alg: Algorithm, data: &[u8]) -> Digest {
    let mut h = Hasher::new(alg);
    h.update(data);
    h.finish()
}

/// The stored files of an upload directory: the hidden partial copies left out.
fn visible(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect()
}

fn named(name: &str) -> SendOptions {
    SendOptions {
        name: Some(name.into()),
        ..SendOptions::default()
    }
}

/// The seed's upload client (size digits, wait for `1001`, raw bytes): the file arrives
/// identical, under a generated name, and nothing else is left in the directory.
pub(crate) fn seed_upload_arrives_identical(server: Runtime) {
    let server = server.start(&[]);
    let data = pattern(1_000_003, 1);
    raw::seed_upload(server.upload_addr(), &data);
    let names = listing(server.dir());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with("classic-") && names[0].ends_with(".bin"),
        "{names:?}"
    );
    let stored = fs::read(server.dir().join(&names[0])).expect("the stored file");
    assert!(stored == data, "the stored file differs");
}

/// The client library's classic form: no name, no digest; the server names the file.
pub(crate) fn classic_upload_client(pair: Pair) {
    let server = pair.server.start(&[]);
    let data = pattern(300_001, 4);
    let file = server.scratch().join("x.bin");
    fs::write(&file, &data).expect("write the file");
    let classic = SendOptions {
        form: UploadForm::Classic,
        ..SendOptions::default()
    };
    let sent = pair
        .client
        .send_file(server.upload_addr(), &file, &classic, |_| {})
        .unwrap_or_else(|e| panic!("classic upload: {e}"));
    assert_eq!((sent.name.as_str(), sent.digest), ("", None));
    assert_eq!((sent.size, sent.resumed_from), (data.len() as u64, 0));
    // The server closed once the file was stored: it is there now.
    let names = listing(server.dir());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("classic-"), "{names:?}");
    let stored = fs::read(server.dir().join(&names[0])).expect("the stored file");
    assert!(stored == data, "the stored file differs");
}

/// Native uploads with both digests: the verified digest is the file's, progress runs from 0
/// to the size, and the file arrives identical.
pub(crate) fn native_upload_digests(pair: Pair) {
    let server = pair.server.start(&[]);
    let data = pattern(700_001, 2);
    let file = server.scratch().join("photo.bin");
    fs::write(&file, &data).expect("write the file");
    for alg in Algorithm::ALL {
        let name = format!("photo-{}.bin", alg.name());
        let options = SendOptions {
            algorithm: alg,
            ..named(&name)
        };
        let mut seen: Vec<Progress> = Vec::new();
        let sent = pair
            .client
            .send_file(server.upload_addr(), &file, &options, |p| seen.push(p))
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(sent.name, name);
        assert_eq!((sent.size, sent.resumed_from), (data.len() as u64, 0));
        assert_eq!(sent.digest, Some(digest(alg, &data)), "{alg:?}");
        assert_eq!(seen.first().map(|p| p.done), Some(0), "{seen:?}");
        assert_eq!(seen.last().map(|p| p.done), Some(data.len() as u64));
        assert!(seen.windows(2).all(|w| w[0].done <= w[1].done), "{seen:?}");
        assert!(seen.iter().all(|p| p.total == data.len() as u64));
        let stored = fs::read(server.dir().join(&name)).expect("the stored file");
        assert!(stored == data, "{alg:?}: the stored file differs");
    }
    assert_eq!(
        listing(server.dir()),
        ["photo-sha256.bin", "photo-xxh3-chain.bin"]
    );
}

/// A name that exists (409) is refused and the file untouched; so is a name another
/// connection is uploading; the session goes on with the next file.
pub(crate) fn name_taken(pair: Pair) {
    let server = pair.server.start(&[]);
    let dir = server.dir();
    fs::write(dir.join("exists.txt"), b"old").expect("write");
    let data = pattern(50_000, 5);
    let file = server.scratch().join("a.bin");
    fs::write(&file, &data).expect("write the file");

    let mut up = pair.client.upload(server.upload_addr(), UploadForm::Native);
    let refused = |r: Result<_, SendError>, what: &str| match r {
        Err(SendError::Rejected(e)) => assert_eq!(e.number, 409, "{what}: {e}"),
        other => panic!("{what}: expected 409, got {other:?}"),
    };
    refused(
        up.send_file(&file, &named("exists.txt"), |_| {}),
        "exists.txt",
    );
    assert_eq!(fs::read(dir.join("exists.txt")).expect("read"), b"old");
    up.send_file(&file, &SendOptions::default(), |_| {})
        .unwrap_or_else(|e| panic!("a.bin: {e}"));
    refused(
        up.send_file(&file, &SendOptions::default(), |_| {}),
        "again",
    );

    // Another connection holds `busy.bin` (accepted, body not sent yet).
    let mut other = Raw::connect(server.upload_addr());
    other.send(&native::hello(native::UPLOAD));
    other.read_server_hello();
    other.send(&native::offer(b"busy.bin", 1000, 1));
    assert_eq!(other.read_frame(), (native::ACCEPT, vec![0; 8]));
    refused(up.send_file(&file, &named("busy.bin"), |_| {}), "busy.bin");

    let sent = up
        .send_file(&file, &named("b.bin"), |_| {})
        .unwrap_or_else(|e| panic!("b.bin: {e}"));
    assert_eq!(sent.digest, Some(digest(Algorithm::Xxh3Chain, &data)));
    assert_eq!(visible(dir), ["a.bin", "b.bin", "exists.txt"]);
    assert!(fs::read(dir.join("a.bin")).expect("read") == data);
}

/// Every bad name is refused (403) and the connection stays usable; links are never
/// followed; nothing is written outside the upload directory, whatever the client.
pub(crate) fn bad_names_refused(pair: Pair) {
    let server = pair.server.start(&[]);
    let dir = server.dir();
    let outside = server.root().join("outside");
    fs::write(&outside, b"precious").expect("write");
    fs::write(dir.join("exists.txt"), b"old").expect("write");
    symlink(&outside, dir.join("link")).expect("symlink");
    // A planted link where the server may keep its partial copy of `planted`.
    symlink(&outside, dir.join(".planted.part")).expect("symlink");
    let file = server.scratch().join("planted");
    fs::write(&file, b"new").expect("write the file");
    let before_root = listing(server.root());
    let before_scratch = listing(server.scratch());

    let mut s = Raw::connect(server.upload_addr());
    s.send(&native::hello(native::UPLOAD));
    s.read_server_hello();
    let long = "x".repeat(256);
    let bad: Vec<(&[u8], u16)> = vec![
        (b"../escape", 403),
        (b"a/b", 403),
        (b"/etc/passwd", 403),
        (b"a\\b", 403),
        (b".", 403),
        (b"..", 403),
        (b".hidden", 403),
        (b".planted.part", 403),
        (b"", 403),
        (b"nul\0byte", 403),
        (b"tab\tname", 403),
        (b"line\nfeed", 403),
        (b"bell\x07", 403),
        (b"del\x7f", 403),
        ("c1\u{85}".as_bytes(), 403),
        (long.as_bytes(), 403),
        (b"\xff\xfe", 403),
        (b"exists.txt", 409),
        (b"link", 409),
    ];
    for (name, code) in &bad {
        s.send(&native::offer(name, 3, 1));
        let (kind, payload) = s.read_frame();
        let shown = String::from_utf8_lossy(name);
        assert_eq!(kind, native::REJECT, "REJECT for {shown:?}");
        assert_eq!(native::code(&payload), *code, "{shown:?}");
    }
    // The longest allowed name is fine: an empty file under it, verified and stored.
    let longest = "y".repeat(255);
    s.send(&native::offer(longest.as_bytes(), 0, 1));
    assert_eq!(s.read_frame(), (native::ACCEPT, vec![0; 8]));
    let mut empty = vec![Algorithm::Xxh3Chain.to_wire()];
    empty.extend_from_slice(digest(Algorithm::Xxh3Chain, b"").as_bytes());
    s.send(&native::frame(native::DIGEST, &empty));
    assert_eq!(s.read_frame(), (native::VERIFIED, empty));
    drop(s);

    // The client library: bad names never reach the disk either (refused here or there).
    for name in ["../escape", "a/b", ".hidden", "/tmp/x"] {
        let r = pair
            .client
            .send_file(server.upload_addr(), &file, &named(name), |_| {});
        assert!(r.is_err(), "{name:?} was accepted: {r:?}");
    }
    // The planted link is not followed: the upload lands in the directory.
    pair.client
        .send_file(server.upload_addr(), &file, &SendOptions::default(), |_| {})
        .unwrap_or_else(|e| panic!("planted: {e}"));

    assert_eq!(fs::read(&outside).expect("read"), b"precious");
    assert_eq!(fs::read(dir.join("exists.txt")).expect("read"), b"old");
    assert_eq!(fs::read(dir.join("planted")).expect("read"), b"new");
    assert!(fs::symlink_metadata(dir.join("link")).is_ok_and(|m| m.file_type().is_symlink()));
    assert_eq!(
        visible(dir),
        [
            "exists.txt".to_string(),
            "link".into(),
            "planted".into(),
            longest
        ]
    );
    assert_eq!(listing(server.root()), before_root);
    assert_eq!(listing(server.scratch()), before_scratch);
}

/// An upload of ~9 MiB is cut by a graceful stop once the server holds more than a 4 MiB
/// block: the client is told 520, the partial copy stays, and after a restart on the same
/// directory the same upload resumes at a block boundary, sends only the rest, and the
/// verified digest is the whole file's.
pub(crate) fn upload_resumes_after_shutdown(pair: Pair) {
    let mut server = pair.server.start(&[]);
    let data = pattern(2 * BLOCK as usize + 1_000_003, 3);
    let size = data.len() as u64;
    let file = server.scratch().join("big.bin");
    fs::write(&file, &data).expect("write the file");
    let dir = server.dir().to_path_buf();

    // The stop comes from the sender's own progress callback: once more than a block has
    // been sent, it waits until the server has written a whole block, then stops it.
    let stopper = server.stopper();
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stopped);
    let held = |dir: &Path| {
        fs::read_dir(dir).map_or(0, |entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
    };
    let cut = pair
        .client
        .send_file(server.upload_addr(), &file, &SendOptions::default(), |p| {
            if p.done > BLOCK + BLOCK / 4 && !flag.swap(true, Ordering::SeqCst) {
                wait_until("the server to write a whole block", || held(&dir) >= BLOCK);
                stopper.stop();
            }
        });
    assert!(stopped.load(Ordering::SeqCst), "the stop never came");
    // (A live smol Stopper keeps the directory locked: see `restart_while_a_stopper_lives`.)
    drop(stopper);
    match cut {
        Err(SendError::Closed(Some(e))) => assert_eq!(e.number, 520, "{e}"),
        other => panic!("expected the 520 close, got {other:?}"),
    }
    server.stop();
    assert!(visible(&dir).is_empty(), "{:?}", listing(&dir));
    assert!(!listing(&dir).is_empty(), "no partial copy was kept");

    server.restart();
    let mut last = None;
    let sent = pair
        .client
        .send_file(server.upload_addr(), &file, &SendOptions::default(), |p| {
            last = Some(p)
        })
        .unwrap_or_else(|e| panic!("the resumed upload: {e}"));
    let from = sent.resumed_from;
    assert!(
        from > 0 && from % BLOCK == 0 && from <= size,
        "resumed from {from}"
    );
    let last = last.expect("progress was reported");
    assert_eq!(
        (last.done, last.total, last.resumed_from),
        (size, size, from)
    );
    assert_eq!(sent.size, size);
    assert_eq!(sent.digest, Some(digest(Algorithm::Xxh3Chain, &data)));
    let stored = fs::read(dir.join("big.bin")).expect("the stored file");
    assert!(stored == data, "the stored file differs");
    assert_eq!(listing(&dir), ["big.bin"]);
}

/// A program may keep a server's stopper (for a signal handler, say) after the server has
/// stopped; a new server on the same directory must still start.
pub(crate) fn restart_while_a_stopper_lives(server: Runtime) {
    let mut server = server.start(&[]);
    let stopper = server.stopper();
    server.stop();
    server.restart();
    raw::seed_upload(server.upload_addr(), b"after a restart");
    drop(stopper);
}

/// A native upload cut by the client (its connection ends mid-body) keeps its partial copy
/// at the last block boundary; the next upload of the same file resumes there and sends only
/// the rest.
pub(crate) fn cut_upload_resumes(pair: Pair) {
    let server = pair.server.start(&[]);
    let data = pattern(BLOCK as usize + 50_001, 6);
    let size = data.len() as u64;
    let file = server.scratch().join("cut.bin");
    fs::write(&file, &data).expect("write the file");

    let mut s = Raw::connect(server.upload_addr());
    s.send(&native::hello(native::UPLOAD));
    s.read_server_hello();
    s.send(&native::offer(
        b"cut.bin",
        size,
        Algorithm::Xxh3Chain.to_wire(),
    ));
    assert_eq!(s.read_frame(), (native::ACCEPT, vec![0; 8]));
    s.send(&data[..BLOCK as usize + 1000]);
    s.shutdown_write();
    // The server closes once the partial copy is resumable.
    s.expect_closed();
    assert!(
        visible(server.dir()).is_empty(),
        "no final file before the digest"
    );

    let mut last = None;
    let sent = pair
        .client
        .send_file(server.upload_addr(), &file, &SendOptions::default(), |p| {
            last = Some(p)
        })
        .unwrap_or_else(|e| panic!("the resumed upload: {e}"));
    assert_eq!(
        sent.resumed_from, BLOCK,
        "resumes at the last block boundary"
    );
    let last = last.expect("progress was reported");
    assert_eq!((last.done, last.resumed_from), (size, BLOCK));
    assert_eq!(sent.digest, Some(digest(Algorithm::Xxh3Chain, &data)));
    let stored = fs::read(server.dir().join("cut.bin")).expect("the stored file");
    assert!(stored == data, "the stored file differs");
    assert_eq!(listing(server.dir()), ["cut.bin"]);
}

/// A DIGEST that does not match what arrived: MISMATCH with the server's digest, nothing
/// stored, nothing kept, and the connection takes the next offer from 0.
pub(crate) fn digest_mismatch_discards(server: Runtime) {
    let server = server.start(&[]);
    let data = b"ten bytes!";
    let alg = Algorithm::Xxh3Chain;
    let mut s = Raw::connect(server.upload_addr());
    s.send(&native::hello(native::UPLOAD));
    s.read_server_hello();
    for _ in 0..2 {
        s.send(&native::offer(b"m.bin", data.len() as u64, alg.to_wire()));
        assert_eq!(s.read_frame(), (native::ACCEPT, vec![0; 8]));
        s.send(data);
        let mut wrong = vec![alg.to_wire()];
        wrong.extend_from_slice(digest(alg, b"other bytes").as_bytes());
        s.send(&native::frame(native::DIGEST, &wrong));
        let mut theirs = vec![alg.to_wire()];
        theirs.extend_from_slice(digest(alg, data).as_bytes());
        assert_eq!(s.read_frame(), (native::MISMATCH, theirs));
        assert!(
            listing(server.dir()).is_empty(),
            "{:?}",
            listing(server.dir())
        );
    }
}

/// `--max-file-size`: a native offer over it is refused (413) and the session goes on; a
/// classic size over it gets `! 413` and the close.
pub(crate) fn file_too_large(pair: Pair) {
    let server = pair.server.start(&["--max-file-size", "1K"]);
    let big = server.scratch().join("big.bin");
    fs::write(&big, pattern(1025, 7)).expect("write the file");
    let small = server.scratch().join("small.bin");
    fs::write(&small, pattern(1024, 8)).expect("write the file");

    let mut up = pair.client.upload(server.upload_addr(), UploadForm::Native);
    match up.send_file(&big, &SendOptions::default(), |_| {}) {
        Err(SendError::Rejected(e)) => assert_eq!(e.number, 413, "{e}"),
        other => panic!("expected 413, got {other:?}"),
    }
    up.send_file(&small, &SendOptions::default(), |_| {})
        .unwrap_or_else(|e| panic!("the file that fits: {e}"));

    let mut s = Raw::connect(server.upload_addr());
    s.send(b"1025\n");
    let said = s.read_to_end();
    assert!(
        said.starts_with(b"! 413 ") && said.ends_with(b"\n"),
        "{:?}",
        String::from_utf8_lossy(&said)
    );
    assert_eq!(visible(server.dir()), ["small.bin"]);
}
