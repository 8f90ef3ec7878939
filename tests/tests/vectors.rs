//! Runs the conformance vectors of `spec/vectors/` against the core machines.
//!
//! Each vector runs whole, byte by byte, split in two at every position of every input step,
//! and with trailing data where it declares some (the h11 lesson: a parser that only ever saw
//! whole messages is untested). All failures of a file are reported together, each with the
//! first variant that failed, so one core bug does not hide another.

use std::path::PathBuf;

use unstuck_core::digest::Hasher;
use unstuck_tests::vectors::{Machine, Variant, parse, parse_digests};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs every vector of `name` in every variant; returns failures, one per vector.
fn failures(name: &str, machine: Machine, at_least: usize) -> Vec<String> {
    let vectors = parse(name, &read(name)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        vectors.len() >= at_least,
        "{name}: only {} vectors",
        vectors.len()
    );
    let mut out = Vec::new();
    for v in &vectors {
        assert_eq!(
            v.machine(),
            machine,
            "{}: wrong machine for this file",
            v.location()
        );
        let variants = v.variants();
        let failed: Vec<(Variant, String)> = variants
            .iter()
            .filter_map(|&var| v.run(var).err().map(|e| (var, e)))
            .collect();
        if let Some((_, first)) = failed.first() {
            let whole = if failed.iter().any(|(var, _)| *var == Variant::Whole) {
                "fails whole"
            } else {
                "passes whole"
            };
            out.push(format!(
                "{} ({whole}; {} of {} variants fail)\n  {first}",
                v.location(),
                failed.len(),
                variants.len()
            ));
        }
    }
    out
}

fn check(name: &str, machine: Machine, at_least: usize) {
    let failed = failures(name, machine, at_least);
    assert!(
        failed.is_empty(),
        "{} vectors of {name} fail:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}

#[test]
fn chat_server_vectors() {
    check("chat-server.vec", Machine::ChatServer, 60);
}

#[test]
fn chat_client_vectors() {
    check("chat-client.vec", Machine::ChatClient, 20);
}

#[test]
fn upload_server_vectors() {
    check("upload-server.vec", Machine::UploadServer, 50);
}

#[test]
fn upload_client_vectors() {
    check("upload-client.vec", Machine::UploadClient, 20);
}

/// Every `.vec` file in the directory is one of the files run above.
#[test]
fn no_vector_file_is_skipped() {
    let known = [
        "chat-server.vec",
        "chat-client.vec",
        "upload-server.vec",
        "upload-client.vec",
    ];
    for entry in std::fs::read_dir(dir()).expect("spec/vectors") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".vec") {
            assert!(
                known.contains(&name.as_str()),
                "{name} is not run by any test"
            );
        }
    }
}

/// The runner must be able to fail: a vector with a wrong expectation is caught in every way
/// it can be wrong (bytes, events, state).
#[test]
fn runner_detects_wrong_expectations() {
    let good = "vector v\nmachine chat-server\nconfig banner=\"hi\"\nin \"a\\n\"\n";
    let cases = [
        (
            "out \"hi\\n\" \"a,你好\\n\"\nevent detected line\nopen\n",
            true,
        ),
        (
            "out \"hi\\n\" \"a,你好\\n\" \"x\"\nevent detected line\nopen\n",
            false,
        ),
        (
            "out \"hi\\n\" \"a,你好\"\nevent detected line\nopen\n",
            false,
        ),
        (
            "out \"hi\\n\" \"a,你好\\n\"\nevent detected classic\nopen\n",
            false,
        ),
        ("out \"hi\\n\" \"a,你好\\n\"\nopen\n", false),
        (
            "out \"hi\\n\" \"a,你好\\n\"\nevent detected line\nclosed\n",
            false,
        ),
        ("out \"hi\\n\" * \"\\n\"\nevent detected line\nopen\n", true),
        ("out *\nevent detected line\nopen\n", false),
    ];
    for (tail, passes) in cases {
        let text = format!("{good}{tail}");
        let v = &parse("inline", &text).expect("parses")[0];
        for variant in v.variants() {
            assert_eq!(v.run(variant).is_ok(), passes, "{tail} in {variant:?}");
        }
    }
}

/// `digest.txt` against the core's hasher: in odd-sized pieces, whole, and resumed from the
/// checkpoint at the last block boundary.
#[test]
fn digest_vectors() {
    let vectors = parse_digests(&read("digest.txt")).unwrap_or_else(|e| panic!("{e}"));
    assert!(vectors.len() >= 20, "only {} digest vectors", vectors.len());
    for v in &vectors {
        let what = format!("digest.txt:{} {} {}", v.line, v.algorithm, v.spec);
        let mut pieces = Hasher::new(v.algorithm);
        for chunk in v.input.chunks(65_537) {
            pieces.update(chunk);
        }
        assert_eq!(pieces.finish().as_bytes(), v.digest, "{what} in pieces");
        // In one piece too, where that is cheap in a debug build.
        if v.input.len() <= 1 << 20 {
            let mut whole = Hasher::new(v.algorithm);
            whole.update(&v.input);
            assert_eq!(whole.finish().as_bytes(), v.digest, "{what}");
        }

        let checkpoint = pieces.checkpoint();
        let offset = usize::try_from(checkpoint.offset()).expect("offset fits");
        let mut resumed = Hasher::resume(&checkpoint);
        resumed.update(&v.input[offset..]);
        assert_eq!(
            resumed.finish().as_bytes(),
            v.digest,
            "{what} resumed at {offset}"
        );
    }
}
