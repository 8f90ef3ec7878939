//! Whole conversations and uploads between client and server cores over a seeded network
//! that cuts, merges, delays and back-pressures bytes, on a virtual clock.
//!
//! Each scenario runs over many seeds and asserts the exact outcome: the byte stream's cuts
//! must never change what either side concludes. A failing seed replays exactly.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use unstuck_core::ErrorCode;
use unstuck_core::chat::{ChatClientConfig, ChatConfig, ClientEvent, ClientForm, Form, Mode};
use unstuck_core::digest::{Algorithm, BLOCK, Hasher};
use unstuck_core::upload::{UploadConfig, UploadForm};
use unstuck_tests::sim::{
    ChatClientHost, ChatServerHost, FileJob, Host, Hub, Outcome, Rng, Script, Sim, Storage,
    Traffic, UploadClientHost, UploadServerHost,
};

const SEEDS: u64 = 50;
/// Classic forms end messages by silence: keep network delays well below the quiet gap.
const CLASSIC_DELAY: Duration = Duration::from_millis(20);
const DELAY: Duration = Duration::from_millis(40);

/// A random chat message: no control characters, never `q`, never a command or a `!` line.
fn message(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "a", "b", "z", "Q", "0", "9", " ", ",", ".", "/", "你", "好", "é", "🙂",
    ];
    loop {
        let n = rng.range(1, 30);
        let s: String = (0..n).map(|_| rng.pick(PIECES)).collect();
        if s != "q" && !s.starts_with('/') {
            return s;
        }
    }
}

fn closed_code(h: &dyn Host) -> Option<ErrorCode> {
    h.closed().map(|c| c.code)
}

fn bot_conversation(seed: u64, form: ClientForm) {
    let mut sim = Sim::new(seed);
    let n = sim
        .rng
        .range(1, if form == ClientForm::Classic { 5 } else { 20 });
    let msgs: Vec<String> = (0..n).map(|_| message(&mut sim.rng)).collect();
    let config = ChatClientConfig {
        form,
        ..ChatClientConfig::default()
    };
    let (mode, delay) = match form {
        ClientForm::Classic => (Script::Lockstep, CLASSIC_DELAY),
        _ => (Script::Pipelined, DELAY),
    };
    // Native clients may also pipeline their messages right behind their HELLO (5.4 rule 6).
    let early = form == ClientForm::Native && sim.rng.chance(1, 2);
    let script = if early { Vec::new() } else { msgs.clone() };
    let mut client = ChatClientHost::new(sim.now, config, mode, script, true);
    if early {
        msgs.iter().for_each(|m| client.say(m));
    }
    let server = ChatServerHost::new(sim.now, Arc::new(ChatConfig::default()), 1, None);
    sim.connect(client, server, Traffic::Chat, delay);
    sim.run_to_end(&format!("seed {seed}"));

    let p = &sim.pairs[0];
    let want: Vec<String> = msgs.iter().map(|m| format!("{m},你好")).collect();
    assert_eq!(p.client.replies(), want, "seed {seed}");
    assert_eq!(
        p.client.events[0],
        ClientEvent::Welcome(ChatConfig::SEED_BANNER.into()),
        "seed {seed}"
    );
    let extra = usize::from(form == ClientForm::Native);
    assert_eq!(
        p.client.events.len(),
        1 + extra + msgs.len(),
        "seed {seed}: {:?}",
        p.client.events
    );
    let detected = match form {
        ClientForm::Native => Form::Native,
        ClientForm::Classic => Form::Classic,
    };
    assert_eq!(p.server.detected, Some(detected), "seed {seed}");
    assert_eq!(closed_code(&p.client), Some(ErrorCode::Bye), "seed {seed}");
    assert_eq!(closed_code(&p.server), Some(ErrorCode::Bye), "seed {seed}");
}

/// Bot mode, native: up to 20 messages pipelined, each answered `<msg>,你好` in order, then BYE.
#[test]
fn bot_native_pipelined() {
    for seed in 0..SEEDS {
        bot_conversation(seed, ClientForm::Native);
    }
}

/// Bot mode, the tutorial's classic form: one message at a time, ended by the quiet gap, then `q`.
#[test]
fn bot_classic_lockstep() {
    for seed in 0..SEEDS {
        bot_conversation(seed, ClientForm::Classic);
    }
}

type ChatSim = Sim<ChatClientHost, ChatServerHost>;

fn messages_from<'a>(c: &'a ChatClientHost, nick: &str) -> Vec<&'a str> {
    c.events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message { from, text } if from == nick => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn message_count(c: &ChatClientHost) -> usize {
    c.events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Message { .. }))
        .count()
}

fn room_session(seed: u64) {
    let what = |phase: &str| format!("seed {seed}: {phase}");
    let mut sim: ChatSim = Sim::new(seed);
    let hub = Hub::shared();
    let config = Arc::new(ChatConfig::new(Mode::Room));
    // Join one after the other, so that the guest numbers are known.
    for id in 0..3u32 {
        let client = ChatClientHost::new(
            sim.now,
            ChatClientConfig::default(),
            Script::Manual,
            vec![],
            false,
        );
        let server = ChatServerHost::new(sim.now, config.clone(), id, Some(hub.clone()));
        let i = sim.connect(client, server, Traffic::Chat, DELAY);
        let you = format!("you are guest-{}", id + 1);
        sim.run_until(&what("join"), |s| {
            s.pairs[i].client.notices().contains(&you.as_str())
        });
    }
    sim.run_until(&what("joined notices"), |s| {
        s.pairs[0].client.notices().len() == 3
    });

    // Everybody renames at once.
    let nicks = ["alice", "bob", "carol"];
    for (p, nick) in sim.pairs.iter_mut().zip(nicks) {
        p.client.say(&format!("/nick {nick}"));
    }
    let renames = |c: &ChatClientHost| {
        c.notices()
            .iter()
            .filter(|n| n.contains(" is now "))
            .count()
    };
    sim.run_until(&what("renames"), |s| {
        s.pairs.iter().all(|p| renames(&p.client) == 3)
    });
    // Nicknames are unique regardless of ASCII case.
    sim.pairs[0].client.say("/nick BOB");
    sim.run_until(&what("taken"), |s| {
        s.pairs[0]
            .client
            .events
            .iter()
            .any(|e| matches!(e, ClientEvent::Error(p) if p.number == 409))
    });

    // Everybody talks at once; each hears the others, in each sender's order, never itself.
    let mut said: Vec<Vec<String>> = Vec::new();
    for i in 0..3 {
        let n = sim.rng.range(1, 8);
        let msgs: Vec<String> = (0..n).map(|_| message(&mut sim.rng)).collect();
        msgs.iter().for_each(|m| sim.pairs[i].client.say(m));
        said.push(msgs);
    }
    let total: usize = said.iter().map(Vec::len).sum();
    sim.run_until(&what("messages"), |s| {
        (0..3).all(|i| message_count(&s.pairs[i].client) == total - said[i].len())
    });
    for (i, p) in sim.pairs.iter().enumerate() {
        for (j, nick) in nicks.iter().enumerate() {
            let want: Vec<&str> = if i == j {
                vec![]
            } else {
                said[j].iter().map(String::as_str).collect()
            };
            assert_eq!(
                messages_from(&p.client, nick),
                want,
                "seed {seed}: {} hears {nick}",
                nicks[i]
            );
        }
    }

    // Leave one by one: the others are told.
    for leaving in [2usize, 1, 0] {
        sim.pairs[leaving].client.quit();
        let left = format!("{} left", nicks[leaving]);
        sim.run_until(&what("leave"), |s| {
            s.pairs[leaving].is_done()
                && (0..leaving).all(|i| s.pairs[i].client.notices().contains(&left.as_str()))
        });
    }
    sim.run_to_end(&what("end"));
    assert!(hub.borrow().room.is_empty(), "seed {seed}: room not empty");
    let renamed = [
        "guest-1 is now alice",
        "guest-2 is now bob",
        "guest-3 is now carol",
    ];
    let notices = sim.pairs[0].client.notices();
    assert_eq!(
        notices[..3],
        ["you are guest-1", "guest-2 joined", "guest-3 joined"],
        "seed {seed}"
    );
    let mut renames = notices[3..6].to_vec();
    renames.sort_unstable();
    assert_eq!(renames, renamed, "seed {seed}");
    assert_eq!(notices[6..], ["carol left", "bob left"], "seed {seed}");
    for p in &sim.pairs {
        assert_eq!(closed_code(&p.server), Some(ErrorCode::Bye), "seed {seed}");
    }
}

/// Room mode: three native clients through one room: joins, renames, a taken nickname,
/// concurrent messages and leaves.
#[test]
fn room_three_clients() {
    for seed in 0..SEEDS {
        room_session(seed);
    }
}

type UploadSim = Sim<UploadClientHost, UploadServerHost>;

fn job(rng: &mut Rng, name: &str, size: usize) -> FileJob {
    FileJob {
        name: name.into(),
        data: Rc::new(rng.bytes(size)),
        algorithm: rng.pick(&Algorithm::ALL),
    }
}

fn digest(job: &FileJob) -> unstuck_core::digest::Digest {
    let mut h = Hasher::new(job.algorithm);
    h.update(&job.data);
    h.finish()
}

/// A client for `jobs` and a server over `store`, connected now, with the network delay the
/// form allows.
fn connect_upload(
    sim: &mut UploadSim,
    form: UploadForm,
    jobs: Vec<FileJob>,
    store: &Rc<RefCell<Storage>>,
    traffic: Traffic,
) {
    let delay = match form {
        UploadForm::Classic => CLASSIC_DELAY,
        _ => DELAY,
    };
    // The sizes the driver feeds the client: small ones only where the files are small.
    let chunks: &[usize] = match traffic {
        Traffic::Bulk => &[4096, 65_536],
        _ => &[7, 1000, 65_536],
    };
    let chunk = sim.rng.pick(chunks);
    let client = UploadClientHost::new(sim.now, form, jobs, chunk);
    let server = UploadServerHost::new(sim.now, UploadConfig::default(), store.clone());
    sim.connect(client, server, traffic, delay);
}

/// Uploads the one `file` over a new connection to a server over `store` and runs the
/// simulation to the end: the one-file tests differ only in the file and what they assert.
fn upload_one(
    sim: &mut UploadSim,
    seed: u64,
    file: &FileJob,
    store: &Rc<RefCell<Storage>>,
    form: UploadForm,
    traffic: Traffic,
) {
    connect_upload(sim, form, vec![file.clone()], store, traffic);
    sim.run_to_end(&format!("seed {seed}"));
}

/// Native: several files over one connection, one of them refused (its name is taken).
#[test]
fn upload_several_files() {
    for seed in 0..SEEDS {
        let mut sim: UploadSim = Sim::new(seed);
        let store = Storage::shared();
        store
            .borrow_mut()
            .files
            .insert("taken.bin".into(), b"old".to_vec());
        let n = sim.rng.range(2, 5) as usize;
        let mut jobs: Vec<FileJob> = (0..n)
            .map(|i| {
                let size = match sim.rng.range(0, 4) {
                    0 => 0,
                    1 => 1,
                    2 => sim.rng.range(2, 100),
                    3 => sim.rng.range(100, 5_000),
                    _ => sim.rng.range(5_000, 70_000),
                } as usize;
                job(&mut sim.rng, &format!("file-{i}.bin"), size)
            })
            .collect();
        let at = sim.rng.range(0, n as u64) as usize;
        jobs.insert(at, job(&mut sim.rng, "taken.bin", 10));
        connect_upload(
            &mut sim,
            UploadForm::Native,
            jobs.clone(),
            &store,
            Traffic::Files,
        );
        sim.run_to_end(&format!("seed {seed}"));

        let p = &sim.pairs[0];
        let want: Vec<(String, Outcome)> = jobs
            .iter()
            .map(|j| match j.name.as_str() {
                "taken.bin" => (j.name.clone(), Outcome::Rejected(409)),
                _ => (j.name.clone(), Outcome::Verified(digest(j))),
            })
            .collect();
        assert_eq!(p.client.outcomes, want, "seed {seed}");
        assert_eq!(p.client.offsets, vec![0; n], "seed {seed}");
        let store = store.borrow();
        for j in jobs.iter().filter(|j| j.name != "taken.bin") {
            assert!(
                store.files.get(&j.name) == Some(&*j.data),
                "seed {seed}: {} stored wrong",
                j.name
            );
        }
        assert_eq!(store.files["taken.bin"], b"old", "seed {seed}");
        assert!(store.partials.is_empty(), "seed {seed}: partials left");
        assert_eq!(closed_code(&p.server), Some(ErrorCode::Bye), "seed {seed}");
    }
}

/// Native: one file of three whole 4 MiB blocks and a tail; a checkpoint at every boundary.
#[test]
fn upload_multi_block_file() {
    // Few seeds: hashing 12 MiB twice takes a while in debug builds.
    for seed in 0..2 {
        let mut sim: UploadSim = Sim::new(seed);
        let store = Storage::shared();
        let size = 3 * BLOCK as usize + sim.rng.range(1, 100_000) as usize;
        let mut file = job(&mut sim.rng, "big.bin", size);
        file.algorithm = Algorithm::Xxh3Chain;
        upload_one(
            &mut sim,
            seed,
            &file,
            &store,
            UploadForm::Native,
            Traffic::Bulk,
        );

        let p = &sim.pairs[0];
        assert_eq!(
            p.client.outcomes,
            vec![("big.bin".into(), Outcome::Verified(digest(&file)))],
            "seed {seed}"
        );
        assert_eq!(p.client.body_sent, size as u64, "seed {seed}");
        let store = store.borrow();
        assert!(
            store.files["big.bin"] == *file.data,
            "seed {seed}: stored wrong"
        );
        let persisted: Vec<u64> = store.persisted.iter().map(|(_, o)| *o).collect();
        assert_eq!(persisted, [BLOCK, 2 * BLOCK, 3 * BLOCK], "seed {seed}");
    }
}

/// Classic: the tutorial's client (size, wait for `1001`, raw bytes) against the server.
#[test]
fn upload_classic() {
    for seed in 0..SEEDS {
        let mut sim: UploadSim = Sim::new(seed);
        let store = Storage::shared();
        let size = sim.rng.range(0, 50_000) as usize;
        let file = job(&mut sim.rng, "ignored", size);
        upload_one(
            &mut sim,
            seed,
            &file,
            &store,
            UploadForm::Classic,
            Traffic::Files,
        );

        let p = &sim.pairs[0];
        assert_eq!(p.client.offsets, [0], "seed {seed}");
        assert_eq!(p.client.body_sent, size as u64, "seed {seed}");
        assert!(
            store.borrow().files.get("classic-0-1.bin") == Some(&*file.data),
            "seed {seed}: stored wrong"
        );
        assert_eq!(closed_code(&p.client), Some(ErrorCode::Bye), "seed {seed}");
        assert_eq!(closed_code(&p.server), Some(ErrorCode::Bye), "seed {seed}");
    }
}

/// Bytes a native client sends before the body of its first file: magic, HELLO, OFFER.
fn before_body(name: &str) -> u64 {
    (4 + 5 + 3 + 5 + 8 + 1 + name.len()) as u64
}

/// Breaks the connection once the server has received `cut_at` body bytes, then reconnects
/// and uploads again. Returns the offset the server resumed from, checked against what it had
/// stored.
fn cut_and_resume(seed: u64, file: &FileJob, traffic: Traffic, cut_at: u64) -> u64 {
    let what = |phase: &str| format!("seed {seed}: {phase}");
    let mut sim: UploadSim = Sim::new(seed);
    let store = Storage::shared();
    // Both attempts: the same file and traffic, each over a new connection.
    let connect = |sim: &mut UploadSim| {
        connect_upload(sim, UploadForm::Native, vec![file.clone()], &store, traffic);
    };
    connect(&mut sim);
    sim.pairs[0]
        .c2s
        .break_after(before_body(&file.name) + cut_at);
    sim.run_to_end(&what("first attempt"));
    let first = &sim.pairs[0];
    assert_eq!(
        closed_code(&first.client),
        Some(ErrorCode::Malformed),
        "seed {seed}"
    );
    assert!(first.client.outcomes.is_empty(), "seed {seed}");
    // The server held exactly what arrived; the durable prefix ends at the block boundary below.
    assert_eq!(
        first.server.held, cut_at,
        "seed {seed}: bytes held at the break"
    );
    let name = file.name.clone();
    let durable = store
        .borrow()
        .partials
        .get(&name)
        .map_or(0, |p| p.bytes.len() as u64);
    assert_eq!(
        durable,
        cut_at - cut_at % BLOCK,
        "seed {seed}: durable prefix"
    );

    connect(&mut sim);
    sim.run_to_end(&what("second attempt"));
    let second = &sim.pairs[1];
    assert_eq!(
        second.client.offsets,
        [durable],
        "seed {seed}: resumed elsewhere than the durable prefix"
    );
    assert_eq!(
        second.client.body_sent,
        file.data.len() as u64 - durable,
        "seed {seed}: resent bytes"
    );
    assert_eq!(
        second.client.outcomes,
        vec![(name.clone(), Outcome::Verified(digest(file)))],
        "seed {seed}"
    );
    assert!(
        store.borrow().files.get(&name) == Some(&*file.data),
        "seed {seed}: stored wrong"
    );
    assert!(
        store.borrow().partials.is_empty(),
        "seed {seed}: partial left"
    );
    durable
}

/// A cut before the first block boundary: nothing durable, the second attempt starts at 0.
#[test]
fn upload_cut_before_first_block_restarts() {
    for seed in 0..SEEDS {
        let mut rng = Rng::new(seed);
        let size = rng.range(20_000, 100_000) as usize;
        let file = job(&mut rng, "cut.bin", size);
        let cut_at = rng.range(1, size as u64 - 1);
        assert_eq!(
            cut_and_resume(seed, &file, Traffic::Files, cut_at),
            0,
            "seed {seed}"
        );
    }
}

/// A cut after the first block boundary: the second attempt resumes at 4 MiB and sends only
/// the rest; the digest, continued from the checkpoint, verifies.
#[test]
fn upload_cut_after_first_block_resumes() {
    // Fewer seeds than elsewhere: each hashes over 8 MiB in a debug build; sha256 (slower
    // there) on every fifth.
    for seed in 0..10 {
        let mut rng = Rng::new(seed);
        let tail = rng.range(2, 200_000) as usize;
        let mut file = job(&mut rng, "resume.bin", BLOCK as usize + tail);
        file.algorithm = if seed % 5 == 0 {
            Algorithm::Sha256
        } else {
            Algorithm::Xxh3Chain
        };
        let cut_at = BLOCK + rng.range(1, tail as u64 - 1);
        assert_eq!(
            cut_and_resume(seed, &file, Traffic::Bulk, cut_at),
            BLOCK,
            "seed {seed}"
        );
    }
}
