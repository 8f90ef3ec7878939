//! Uploads over loopback against the in-process smol server: the seed's client, the native
//! client API with its digest, and resume after a cut connection.

mod common;

use std::io::Read;
use std::net::Shutdown;
use std::path::Path;

use common::{TestServer, connect, offer_by_hand, pattern, read_to_end, send};
use unstuck_core::digest::{Algorithm, BLOCK, Hasher};
use unstuck_smol::client::{SendOptions, send_file};

/// The files in the upload directory that a client can see (not the hidden partial ones).
fn stored(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn seed_style_upload_arrives_identical() {
    let server = TestServer::start(&[]);
    let data = pattern(3 * 1024 * 1024 + 17, 1);
    let mut s = connect(server.upload);
    // The seed's client: the size in ASCII, wait for `1001`, then the raw bytes.
    send(&mut s, data.len().to_string().as_bytes());
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).unwrap();
    assert_eq!(&ack, b"1001");
    send(&mut s, &data);
    assert_eq!(
        read_to_end(&mut s),
        b"",
        "the server closes once it has stored the file"
    );
    let names = stored(&server.dir);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("classic-") && names[0].ends_with(".bin"));
    assert!(std::fs::read(server.dir.join(&names[0])).unwrap() == data);
    server.stop();
}

fn digest_of(data: &[u8], alg: Algorithm) -> unstuck_core::digest::Digest {
    let mut h = Hasher::new(alg);
    h.update(data);
    h.finish()
}

#[test]
fn native_upload_verifies_its_digest() {
    let server = TestServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let data = pattern(5 * 1024 * 1024 + 3, 2);
    let path = tmp.path().join("photo.bin");
    std::fs::write(&path, &data).unwrap();
    for alg in [Algorithm::Xxh3Chain, Algorithm::Sha256] {
        let options = SendOptions {
            name: Some(format!("photo-{}.bin", alg.name())),
            algorithm: alg,
            ..SendOptions::default()
        };
        let mut last = None;
        let sent = async_io::block_on(send_file(server.upload, &path, &options, |p| {
            last = Some(p)
        }))
        .unwrap();
        assert_eq!(sent.digest, Some(digest_of(&data, alg)));
        assert_eq!(sent.resumed_from, 0);
        assert_eq!(last.unwrap().done, data.len() as u64);
        let stored = std::fs::read(server.dir.join(options.name.unwrap())).unwrap();
        assert!(stored == data);
    }
    // The same name again is refused: nothing is ever replaced.
    let options = SendOptions {
        name: Some("photo-sha256.bin".into()),
        ..SendOptions::default()
    };
    let err = async_io::block_on(send_file(server.upload, &path, &options, |_| {})).unwrap_err();
    assert!(
        matches!(err, unstuck_smol::client::SendError::Rejected(ref e) if e.number == 409),
        "{err}"
    );
    server.stop();
}

#[test]
fn cut_upload_resumes_and_sends_less() {
    let server = TestServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let data = pattern(10 * 1024 * 1024, 3);
    let path = tmp.path().join("big.bin");
    std::fs::write(&path, &data).unwrap();

    // First attempt: 9 MiB of 10, then the client goes away.
    let mut s = connect(server.upload);
    assert_eq!(offer_by_hand(&mut s, "big.bin", data.len() as u64), 0);
    send(&mut s, &data[..9 * 1024 * 1024]);
    s.shutdown(Shutdown::Write).unwrap();
    // The server closes after it has made the partial copy resumable.
    read_to_end(&mut s);
    assert!(
        stored(&server.dir).is_empty(),
        "no final file before the digest"
    );

    let mut sent_bytes = 0;
    let sent = async_io::block_on(send_file(
        server.upload,
        &path,
        &SendOptions::default(),
        |p| sent_bytes = p.done - p.resumed_from,
    ))
    .unwrap();
    assert_eq!(
        sent.resumed_from,
        2 * BLOCK,
        "resumes at the last 4 MiB boundary"
    );
    assert_eq!(sent_bytes, data.len() as u64 - 2 * BLOCK);
    assert_eq!(sent.digest, Some(digest_of(&data, Algorithm::Xxh3Chain)));
    assert!(std::fs::read(server.dir.join("big.bin")).unwrap() == data);
    assert_eq!(stored(&server.dir), ["big.bin"]);
    server.stop();
}

#[test]
fn classic_client_api_uploads_to_the_classic_form() {
    let server = TestServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let data = pattern(100_000, 4);
    let path = tmp.path().join("x.bin");
    std::fs::write(&path, &data).unwrap();
    let options = SendOptions {
        form: unstuck_core::upload::UploadForm::Classic,
        ..SendOptions::default()
    };
    let sent = async_io::block_on(send_file(server.upload, &path, &options, |_| {})).unwrap();
    assert_eq!(sent.digest, None);
    // `send_file` returns once the server has stored it and closed.
    let names = stored(&server.dir);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(std::fs::read(server.dir.join(&names[0])).unwrap() == data);
    server.stop();
}
