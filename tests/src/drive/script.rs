//! Rewriting scripts without changing what the peer sends: cut, byte by byte, with early
//! timer calls, or merged per instant.

use unstuck_core::Instant;

use super::{Act, Bytes};

/// `bytes` arriving at `at` in one piece, then EOF at the same instant.
pub fn at_once(at: Instant, bytes: Vec<u8>) -> Vec<Act> {
    vec![Act::Bytes(at, Bytes(bytes)), Act::Eof(at)]
}

/// The instant of the last timed act (`start` if none).
pub fn end_of(acts: &[Act], start: Instant) -> Instant {
    acts.iter().fold(start, |t, a| match a {
        Act::Bytes(x, _) | Act::Tick(x) | Act::Eof(x) => t.max(*x),
        Act::EarlyTick(_) => t,
    })
}

/// The peer's bytes in order, all acts joined.
pub fn stream(acts: &[Act]) -> Vec<u8> {
    acts.iter()
        .flat_map(|a| match a {
            Act::Bytes(_, b) => b.0.as_slice(),
            _ => &[],
        })
        .copied()
        .collect()
}

/// Inserts `extra` at stream positions: `(pos, act)` goes before byte `pos % (len + 1)`,
/// cutting a `Bytes` act there (both parts keep its instant). Positions may repeat.
fn insert_at(acts: &[Act], extra: &[(usize, Option<Act>)]) -> Vec<Act> {
    let total = stream(acts).len();
    let mut points: Vec<(usize, Option<&Act>)> = extra
        .iter()
        .map(|(p, a)| (p % (total + 1), a.as_ref()))
        .collect();
    points.sort_by_key(|(p, _)| *p);
    let mut points = points.into_iter().peekable();
    let mut out = Vec::new();
    let mut pos = 0;
    for act in acts {
        let Act::Bytes(t, b) = act else {
            out.push(act.clone());
            continue;
        };
        let mut rest = b.0.as_slice();
        while let Some(&(p, extra)) = points.peek() {
            if p > pos + rest.len() {
                break;
            }
            let (now, later) = rest.split_at(p - pos);
            if !now.is_empty() {
                out.push(Act::Bytes(*t, Bytes(now.to_vec())));
            }
            out.extend(extra.cloned());
            pos = p;
            rest = later;
            points.next();
        }
        if !rest.is_empty() {
            out.push(Act::Bytes(*t, Bytes(rest.to_vec())));
        }
        pos += rest.len();
    }
    out.extend(points.flat_map(|(_, a)| a.cloned()));
    out
}

/// The same script with its bytes cut at arbitrary points (`cuts`, taken modulo the length).
pub fn split(acts: &[Act], cuts: &[usize]) -> Vec<Act> {
    let extra: Vec<_> = cuts.iter().map(|&c| (c, None)).collect();
    insert_at(acts, &extra)
}

/// The same script with every byte in a call of its own.
pub fn bytewise(acts: &[Act]) -> Vec<Act> {
    acts.iter()
        .flat_map(|a| match a {
            Act::Bytes(t, b) => {
                b.0.iter()
                    .map(|&x| Act::Bytes(*t, Bytes(vec![x])))
                    .collect()
            }
            other => vec![other.clone()],
        })
        .collect()
}

/// The same script with [`Act::EarlyTick`]s at arbitrary stream positions.
pub fn with_early_ticks(acts: &[Act], ticks: &[(usize, u16)]) -> Vec<Act> {
    let extra: Vec<_> = ticks
        .iter()
        .map(|&(p, f)| (p, Some(Act::EarlyTick(f))))
        .collect();
    insert_at(acts, &extra)
}

/// Merges adjacent `Bytes` acts of the same instant: the whole stream, one call per instant.
pub fn whole(acts: &[Act]) -> Vec<Act> {
    let mut out: Vec<Act> = Vec::new();
    for act in acts {
        match (out.last_mut(), act) {
            (Some(Act::Bytes(t0, b0)), Act::Bytes(t, b)) if t0 == t => b0.0.extend_from_slice(&b.0),
            _ => out.push(act.clone()),
        }
    }
    out
}
