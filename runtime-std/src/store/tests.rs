use std::fs;
use std::os::unix::fs::symlink;

use unstuck_core::digest::{BLOCK, Hasher};

use super::*;

fn store() -> (tempfile::TempDir, Arc<Store>) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(tmp.path().join("up")).unwrap());
    (tmp, store)
}

fn offer(name: &str, size: u64) -> Offer {
    Offer {
        name: Some(name.into()),
        size,
        algorithm: Some(Algorithm::Xxh3Chain),
    }
}

fn listing(store: &Store) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(store.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_finished_upload_appears_under_its_name_only() {
    let (_tmp, store) = store();
    let mut p = store.begin(&offer("a.txt", 5)).unwrap();
    assert!(p.resume().is_none());
    p.write(b"hel").unwrap();
    assert_eq!(listing(&store), [".a.txt.part"]);
    p.write(b"lo").unwrap();
    assert_eq!(p.finish().unwrap(), "a.txt");
    assert_eq!(listing(&store), ["a.txt"]);
    assert_eq!(fs::read(store.path().join("a.txt")).unwrap(), b"hello");
}

#[test]
fn taken_names_are_refused() {
    let (tmp, store) = store();
    fs::write(store.path().join("old"), b"keep").unwrap();
    symlink(tmp.path().join("outside"), store.path().join("link")).unwrap();
    let live = store.begin(&offer("busy", 1)).unwrap();
    for name in ["old", "link", "busy"] {
        let r = store.begin(&offer(name, 1)).unwrap_err();
        assert_eq!(r.code, ErrorCode::Taken, "{name}");
    }
    drop(live);
    assert!(store.begin(&offer("busy", 1)).is_ok());
    assert_eq!(fs::read(store.path().join("old")).unwrap(), b"keep");
    assert!(!tmp.path().join("outside").exists());
}

#[test]
fn bad_names_never_reach_the_disk() {
    let (tmp, store) = store();
    for name in ["../x", "a/b", ".hidden", "", "x\0y"] {
        let r = store.begin(&offer(name, 1)).unwrap_err();
        assert_eq!(r.code, ErrorCode::BadName, "{name:?}");
    }
    assert!(listing(&store).is_empty());
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn a_suspended_upload_resumes_at_its_checkpoint() {
    let (_tmp, store) = store();
    let size = 3 * BLOCK;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut h = Hasher::new(Algorithm::Xxh3Chain);
    let mut p = store.begin(&offer("big", size)).unwrap();
    let cut = 2 * BLOCK as usize + 100;
    h.update(&data[..cut]);
    p.write(&data[..cut]).unwrap();
    p.suspend(Some(&h.checkpoint())).unwrap();

    // A different size is another file: no resume.
    let other = store.begin(&offer("big", size + 1)).unwrap();
    assert!(other.resume().is_none());
    drop(other);
    // The different offer discarded the partial copy, so start again and cut again.
    let mut p = store.begin(&offer("big", size)).unwrap();
    p.write(&data[..cut]).unwrap();
    p.suspend(Some(&h.checkpoint())).unwrap();

    // A restarted server sees the same checkpoint.
    drop(store);
    let store = Arc::new(Store::open(_tmp.path().join("up")).unwrap());
    let mut p = store.begin(&offer("big", size)).unwrap();
    let cp = p.resume().cloned().unwrap();
    assert_eq!(cp.offset(), 2 * BLOCK);
    assert_eq!(p.offset(), 2 * BLOCK);
    let mut h = Hasher::resume(&cp);
    h.update(&data[2 * BLOCK as usize..]);
    p.write(&data[2 * BLOCK as usize..]).unwrap();
    assert_eq!(p.finish().unwrap(), "big");
    assert_eq!(fs::read(store.path().join("big")).unwrap(), data);
    let mut whole = Hasher::new(Algorithm::Xxh3Chain);
    whole.update(&data);
    assert_eq!(h.finish(), whole.finish());
    assert_eq!(listing(&store), ["big"]);
}

#[test]
fn a_name_that_appears_meanwhile_is_not_replaced() {
    let (_tmp, store) = store();
    let mut p = store.begin(&offer("n", 2)).unwrap();
    p.write(b"ab").unwrap();
    fs::write(store.path().join("n"), b"theirs").unwrap();
    assert_eq!(p.finish().unwrap_err().code, ErrorCode::Taken);
    assert_eq!(fs::read(store.path().join("n")).unwrap(), b"theirs");
    assert_eq!(listing(&store), ["n"]);
}

#[test]
fn classic_uploads_get_fresh_names_and_vanish_when_cut() {
    let (_tmp, store) = store();
    let classic = Offer {
        name: None,
        size: 1,
        algorithm: None,
    };
    let mut a = store.begin(&classic).unwrap();
    a.write(b"a").unwrap();
    let b = store.begin(&classic).unwrap();
    assert_ne!(a.name(), b.name());
    b.suspend(None).unwrap();
    let name = a.finish().unwrap();
    assert!(name.starts_with("classic-") && name.ends_with(".bin"));
    assert_eq!(listing(&store), [name]);
}

#[test]
fn planted_links_are_not_followed() {
    let (tmp, store) = store();
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"safe").unwrap();
    symlink(&victim, store.path().join(".v.part")).unwrap();
    symlink(&victim, store.path().join(".v.ckpt")).unwrap();
    let mut p = store.begin(&offer("v", 3)).unwrap();
    assert!(p.resume().is_none());
    p.write(b"new").unwrap();
    p.finish().unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"safe");
    assert_eq!(fs::read(store.path().join("v")).unwrap(), b"new");
}

#[test]
fn one_server_per_directory_and_leftovers_are_swept() {
    let (tmp, store) = store();
    assert!(Store::open(store.path()).is_err());
    let p = store.begin(&offer("orphan", 10)).unwrap();
    drop(p);
    drop(store);
    let store = Store::open(tmp.path().join("up")).unwrap();
    assert!(listing(&store).is_empty());
}

#[test]
fn no_space_is_507() {
    let (_tmp, store) = store();
    let r = store.begin(&offer("huge", u64::MAX / 2)).unwrap_err();
    assert_eq!(r.code, ErrorCode::NoSpace);
}
