//! The upload service over loopback, with the real binary.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::thread;

use common::*;
use unstuck_core::digest::{Algorithm, BLOCK, Hasher};
use unstuck_core::upload::{UploadClient, UploadClientEvent, UploadForm};
use unstuck_core::{Instant, Output};

fn server(extra: &[&str]) -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("up"), extra);
    (tmp, server)
}

fn digest(alg: Algorithm, data: &[u8]) -> String {
    let mut h = Hasher::new(alg);
    h.update(data);
    h.finish().to_string()
}

/// The names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_seed_style_upload_arrives_identical() {
    let (_tmp, server) = server(&[]);
    let data = pattern(3_000_000, 1);
    let mut s = connect(server.upload);
    // The seed's client: the size in ASCII digits, no terminator; wait for 1001; raw bytes.
    write(&mut s, data.len().to_string().as_bytes());
    assert_eq!(read_n(&mut s, 4), b"1001");
    write(&mut s, &data);
    // The server stores, then closes: that close is the signal that the file is there.
    assert_eq!(read_to_end(&mut s), b"");
    drop(s);
    let names = listing(&server.dir);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("classic-") && names[0].ends_with(".bin"));
    assert_eq!(fs::read(server.dir.join(&names[0])).unwrap(), data);
    server.wait_log(&["close", "form=\"classic\"", "200 bye"]);
}

#[test]
fn a_native_upload_prints_the_matching_digest() {
    let (tmp, server) = server(&[]);
    let data = pattern(5 * BLOCK as usize + 12345, 2);
    let file = tmp.path().join("photo.jpg");
    fs::write(&file, &data).unwrap();
    let to = server.upload.to_string();
    for (alg, name) in [
        (Algorithm::Xxh3Chain, "photo.jpg"),
        (Algorithm::Sha256, "copy.jpg"),
    ] {
        let file = file.to_str().unwrap();
        let (status, out, err) = run(&[
            "send",
            file,
            "--to",
            &to,
            "--name",
            name,
            "--algorithm",
            alg.name(),
        ]);
        assert!(status.success(), "{status:?} {err}");
        assert_eq!(out, format!("{name}: {}\n", digest(alg, &data)));
        assert_eq!(fs::read(server.dir.join(name)).unwrap(), data);
    }
    assert_eq!(listing(&server.dir), ["copy.jpg", "photo.jpg"]);
    // Sending it again is refused: the existing file is never replaced.
    let (status, _, err) = run(&["send", file.to_str().unwrap(), "--to", &to]);
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains("409"), "{err}");
}

/// Sends the first `cut` bytes of an upload of `data` as `name`, then drops the connection.
fn cut_upload(server: &Server, name: &str, data: &[u8], cut: usize) {
    let mut s = connect(server.upload);
    let mut client = UploadClient::new(UploadForm::Native, Instant::ZERO);
    client
        .offer(name, data.len() as u64, Algorithm::Xxh3Chain)
        .unwrap();
    loop {
        match client.poll_output() {
            Output::Transmit(b) => {
                write(&mut s, b);
                let n = b.len();
                client.handle_sent(n).unwrap();
            }
            Output::Event(UploadClientEvent::Ready { .. }) => {}
            Output::Event(UploadClientEvent::Accepted { offset }) => {
                assert_eq!(offset, 0);
                break;
            }
            Output::Wait(_) => {
                let mut buf = [0u8; 256];
                let n = std::io::Read::read(&mut s, &mut buf).unwrap();
                client.handle_input(Instant::ZERO, &buf[..n]);
            }
            other => panic!("{other:?}"),
        }
    }
    let send = client.feed(&data[..cut]).unwrap();
    s.write_all(send).unwrap();
    drop(s);
}

#[test]
fn a_cut_upload_resumes_after_a_restart_and_sends_only_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("up");
    let data = pattern(5 * BLOCK as usize + 777, 3);
    let file = tmp.path().join("big.bin");
    fs::write(&file, &data).unwrap();

    let server = Server::start(&dir, &[]);
    cut_upload(&server, "big.bin", &data, 2 * BLOCK as usize + 1000);
    server.wait_log(&["upload cut, kept to resume", "offset=8388608"]);
    assert_eq!(listing(&dir), [".big.bin.ckpt", ".big.bin.part"]);
    assert!(server.stop().success());

    let server = Server::start(&dir, &[]);
    let to = server.upload.to_string();
    let (status, out, err) = run(&["send", file.to_str().unwrap(), "--to", &to]);
    assert!(status.success(), "{status:?} {err}");
    assert!(err.contains("resuming at byte 8388608"), "{err}");
    assert_eq!(
        out,
        format!("big.bin: {}\n", digest(Algorithm::Xxh3Chain, &data))
    );
    assert_eq!(fs::read(dir.join("big.bin")).unwrap(), data);
    assert_eq!(listing(&dir), ["big.bin"]);
    // The second connection carried only the rest of the file (and a few frames).
    let line = server.wait_log(&["close", "service=\"upload\"", "form=\"native\""]);
    let bytes_in: u64 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("bytes_in="))
        .and_then(|n| n.parse().ok())
        .unwrap();
    let rest = (data.len() - 2 * BLOCK as usize) as u64;
    assert!(
        bytes_in >= rest && bytes_in < rest + 1024,
        "{bytes_in} for {rest}"
    );
}

#[test]
fn a_server_stopped_mid_upload_keeps_it_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("up");
    let data = pattern(3 * BLOCK as usize, 4);
    let server = Server::start(&dir, &[]);
    // An upload that stalls half-way, connection open.
    let mut s = connect(server.upload);
    write(&mut s, &native::hello(2));
    native::read_hello(&mut s);
    let mut offer = (data.len() as u64).to_be_bytes().to_vec();
    offer.push(1);
    offer.extend_from_slice(b"half.bin");
    write(&mut s, &native::frame(0x30, &offer));
    assert_eq!(native::read_frame(&mut s), (0x40, vec![0; 8]));
    write(&mut s, &data[..BLOCK as usize + 10]);
    assert!(server.stop().success());
    let (kind, payload) = native::read_frame(&mut s);
    assert_eq!((kind, &payload[..2]), (0x2F, &520u16.to_be_bytes()[..]));
    assert!(listing(&dir).contains(&".half.bin.part".to_string()));
    // Whatever it had received, the upload completes from there.
    let server = Server::start(&dir, &[]);
    let file = tmp.path().join("half.bin");
    fs::write(&file, &data).unwrap();
    let (status, _, err) = run(&[
        "send",
        file.to_str().unwrap(),
        "--to",
        &server.upload.to_string(),
    ]);
    assert!(status.success(), "{err}");
    assert_eq!(fs::read(dir.join("half.bin")).unwrap(), data);
}

#[test]
fn bad_names_are_refused_and_nothing_escapes_the_directory() {
    let (tmp, server) = server(&[]);
    let outside = tmp.path().join("outside");
    fs::write(&outside, b"precious").unwrap();
    fs::write(server.dir.join("exists.txt"), b"old").unwrap();
    symlink(&outside, server.dir.join("link")).unwrap();
    symlink(&outside, server.dir.join(".planted.part")).unwrap();
    let before_tmp = listing(tmp.path());

    let mut s = connect(server.upload);
    write(&mut s, &native::hello(2));
    native::read_hello(&mut s);
    let long = "x".repeat(256);
    let bad: Vec<(&[u8], u16)> = vec![
        (b"../escape", 403),
        (b"a/b", 403),
        (b"/etc/passwd", 403),
        (b"a\\b", 403),
        (b".", 403),
        (b"..", 403),
        (b".hidden", 403),
        (b"", 403),
        (b"nul\0byte", 403),
        (b"tab\tname", 403),
        (b"bell\x07", 403),
        (b"del\x7f", 403),
        ("c1\u{85}".as_bytes(), 403),
        (long.as_bytes(), 403),
        (b"\xff\xfe", 403),
        (b"exists.txt", 409),
        (b"link", 409),
    ];
    for (name, code) in &bad {
        let mut offer = 3u64.to_be_bytes().to_vec();
        offer.push(1);
        offer.extend_from_slice(name);
        write(&mut s, &native::frame(0x30, &offer));
        let (kind, payload) = native::read_frame(&mut s);
        assert_eq!(kind, 0x41, "REJECT for {:?}", String::from_utf8_lossy(name));
        assert_eq!(&payload[..2], &code.to_be_bytes(), "{name:?}");
    }
    drop(s);

    // A hidden link the server might use as its partial copy is not followed either.
    let file = tmp.path().join("planted");
    fs::write(&file, b"new").unwrap();
    let (status, _, err) = run(&[
        "send",
        file.to_str().unwrap(),
        "--to",
        &server.upload.to_string(),
    ]);
    assert!(status.success(), "{err}");
    fs::remove_file(&file).unwrap();

    assert_eq!(fs::read(&outside).unwrap(), b"precious");
    assert_eq!(fs::read(server.dir.join("exists.txt")).unwrap(), b"old");
    assert_eq!(fs::read(server.dir.join("planted")).unwrap(), b"new");
    assert_eq!(listing(&server.dir), ["exists.txt", "link", "planted"]);
    assert_eq!(listing(tmp.path()), before_tmp);
}

#[test]
fn garbage_and_silence_do_not_stop_good_clients() {
    let (tmp, server) = server(&[]);
    // Silent connections on both ports.
    let _silent_chat = connect(server.chat);
    let _silent_upload = connect(server.upload);
    // Garbage on both ports, in every form, from other threads, for a bounded amount.
    let mut noisy = Vec::new();
    for (addr, prefix) in [
        (server.chat, &b""[..]),
        (server.chat, &native::hello(1)[..]),
        (server.upload, &b"x"[..]),
        (server.upload, &b"123"[..]),
        (server.upload, &native::hello(2)[..]),
    ] {
        let prefix = prefix.to_vec();
        noisy.push(thread::spawn(move || {
            let mut s = connect(addr);
            let _ = s.write_all(&prefix);
            for round in 0..64u64 {
                if s.write_all(&pattern(16 * 1024, round + 7)).is_err() {
                    break; // the server closed it: fine
                }
            }
        }));
    }
    // Meanwhile a good chat client and a good upload go through.
    let mut c = connect(server.chat);
    assert_eq!(read_line(&mut c), "欢迎来到简单的聊天室..");
    write(&mut c, b"still there?\n");
    assert_eq!(read_line(&mut c), "still there?,你好");
    let data = pattern(1_000_000, 9);
    let file = tmp.path().join("good.bin");
    fs::write(&file, &data).unwrap();
    let (status, _, err) = run(&[
        "send",
        file.to_str().unwrap(),
        "--to",
        &server.upload.to_string(),
    ]);
    assert!(status.success(), "{err}");
    assert_eq!(fs::read(server.dir.join("good.bin")).unwrap(), data);
    for t in noisy {
        t.join().unwrap();
    }
    server.wait_log(&["close", "400"]);
}

#[test]
fn usage_errors_exit_2() {
    let (status, _, err) = run(&["send", "a", "b", "--name", "c"]);
    assert_eq!(status.code(), Some(2), "{err}");
    let (status, _, _) = run(&["send", "x", "--name", "../up"]);
    assert_eq!(status.code(), Some(2));
    let (status, _, _) = run(&["send"]);
    assert_eq!(status.code(), Some(2));
}
