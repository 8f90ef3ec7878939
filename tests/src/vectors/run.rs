//! Plays a vector against its machine, with the input cut into calls in one of several ways.

use std::time::Duration;

use unstuck_core::Instant;

use super::pattern::{matches, show, show_pattern};
use super::subjects::{self, Subject};
use super::{Action, Arg, Event, Expect, State, Step, Vector};

/// How a vector's `in` steps are cut into `handle_input` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Each `in` step in one call.
    Whole,
    /// Every byte in its own call.
    Bytewise,
    /// `in` step number `step` (counted from 0) in two calls, cut after `at` bytes.
    Split {
        /// Which `in` step is cut.
        step: usize,
        /// Bytes in the first call.
        at: usize,
    },
    /// Whole, with the vector's trailing data appended to its last `in` step.
    Trailing,
    /// Byte by byte, with the trailing data.
    TrailingBytewise,
}

/// Inputs longer than this are cut at sampled positions instead of every one.
const SPLIT_ALL_UP_TO: usize = 1024;
/// Bound on `poll_output` calls and timer firings per step: a machine that never waits fails.
pub(crate) const STEP_CAP: usize = 100_000;

/// What a machine did since the last expectation block.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) out: Vec<u8>,
    pub(crate) events: Vec<Event>,
}

impl Record {
    /// Records an event; consecutive `body` events are one, since their cut depends on chunking.
    pub(crate) fn event(&mut self, name: &str, args: Vec<Arg>) {
        if let (Some(last), [Arg::Text(more)]) = (self.events.last_mut(), &args[..]) {
            if name == "body" && last.name == "body" {
                if let [Arg::Text(b)] = &mut last.args[..] {
                    b.extend_from_slice(more);
                    return;
                }
            }
        }
        self.events.push(Event {
            name: name.into(),
            args,
        });
    }
}

/// Where a machine stands after a `poll_output` loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    Wait(Option<Instant>),
    Done(u16),
}

fn split_points(len: usize) -> Vec<usize> {
    if len <= SPLIT_ALL_UP_TO {
        return (1..len).collect();
    }
    let edge = 256;
    (1..=edge)
        .chain((edge..len - edge).step_by(61))
        .chain(len - edge..len)
        .collect()
}

impl Vector {
    /// Every way this vector is run.
    pub fn variants(&self) -> Vec<Variant> {
        let mut out = vec![Variant::Whole, Variant::Bytewise];
        let ins = self.steps.iter().filter_map(|s| match s {
            Step::Act(_, Action::In(d)) => Some(d.len()),
            _ => None,
        });
        for (step, len) in ins.enumerate() {
            out.extend(
                split_points(len)
                    .into_iter()
                    .map(|at| Variant::Split { step, at }),
            );
        }
        if self.trailing.is_some() {
            out.extend([Variant::Trailing, Variant::TrailingBytewise]);
        }
        out
    }

    /// Runs the vector in one variant; the error names the line and what differed.
    pub fn run(&self, variant: Variant) -> Result<(), String> {
        let fail = |line: usize, e: String| format!("{} {variant:?} line {line}: {e}", self.name);
        let mut run = Run {
            subject: subjects::new(self).map_err(|e| fail(self.line, e))?,
            rec: Record::default(),
            now: Instant::ZERO,
            state: Polled::Wait(None),
            pending: Vec::new(),
        };
        run.poll().map_err(|e| fail(self.line, e))?;
        let last_in = self
            .steps
            .iter()
            .rposition(|s| matches!(s, Step::Act(_, Action::In(_))));
        let mut in_index = 0;
        for (i, step) in self.steps.iter().enumerate() {
            let result = match step {
                Step::Act(_, Action::In(data)) => {
                    let mut data = data.clone();
                    let trailing = matches!(variant, Variant::Trailing | Variant::TrailingBytewise);
                    if trailing && Some(i) == last_in {
                        data.extend_from_slice(self.trailing.as_deref().unwrap_or_default());
                    }
                    let chunks = chunks(&data, variant, in_index);
                    in_index += 1;
                    chunks.into_iter().try_for_each(|c| run.feed(c))
                }
                Step::Act(_, action) => run.act(action),
                Step::Expect(_, e) => run.check(e),
            };
            let line = match step {
                Step::Act(l, _) | Step::Expect(l, _) => *l,
            };
            result.map_err(|e| fail(line, e))?;
        }
        Ok(())
    }
}

fn chunks(data: &[u8], variant: Variant, index: usize) -> Vec<&[u8]> {
    match variant {
        Variant::Bytewise | Variant::TrailingBytewise => data.chunks(1).collect(),
        Variant::Split { step, at } if step == index && at < data.len() => {
            let (a, b) = data.split_at(at);
            vec![a, b]
        }
        _ => vec![data],
    }
}

struct Run {
    subject: Box<dyn Subject>,
    rec: Record,
    now: Instant,
    state: Polled,
    /// Input the machine did not take yet (its buffer was full); offered again after each step.
    pending: Vec<u8>,
}

impl Run {
    fn poll(&mut self) -> Result<(), String> {
        self.state = self.subject.poll(&mut self.rec)?;
        Ok(())
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        self.pending.extend_from_slice(chunk);
        self.offer_pending()
    }

    fn offer_pending(&mut self) -> Result<(), String> {
        while !self.pending.is_empty() {
            let n = self.subject.input(self.now, &self.pending);
            if n > self.pending.len() {
                return Err(format!(
                    "handle_input took {n} of {} bytes",
                    self.pending.len()
                ));
            }
            self.pending.drain(..n);
            self.poll()?;
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    fn act(&mut self, action: &Action) -> Result<(), String> {
        match action {
            Action::Wait(ms) => self.wait(Duration::from_millis(*ms))?,
            Action::Eof => {
                if !self.pending.is_empty() {
                    return Err(format!("{} input bytes never taken", self.pending.len()));
                }
                self.subject.eof(self.now);
            }
            other => self.subject.act(self.now, other, &mut self.rec)?,
        }
        self.poll()?;
        self.offer_pending()
    }

    /// Advances the clock, firing `handle_timeout` at each deadline on the way, as a driver would.
    fn wait(&mut self, d: Duration) -> Result<(), String> {
        let target = self.now + d;
        let mut fired = None;
        for _ in 0..STEP_CAP {
            let Polled::Wait(Some(deadline)) = self.state else {
                break;
            };
            if deadline > target {
                break;
            }
            let at = deadline.max(self.now);
            if fired == Some(at) {
                return Err(format!(
                    "deadline {deadline:?} stays due after handle_timeout"
                ));
            }
            fired = Some(at);
            self.now = at;
            self.subject.timeout(at);
            self.poll()?;
        }
        self.now = target;
        self.subject.timeout(target);
        Ok(())
    }

    fn check(&mut self, e: &Expect) -> Result<(), String> {
        let rec = std::mem::take(&mut self.rec);
        let mut errors = Vec::new();
        if !e.unchecked && !matches(&e.out, &rec.out) {
            errors.push(format!(
                "sent     {}\n  expected {}",
                show(&rec.out),
                show_pattern(&e.out)
            ));
        }
        let events_ok = e.events.len() == rec.events.len()
            && e.events
                .iter()
                .zip(&rec.events)
                .all(|(x, a)| event_matches(x, a));
        if !events_ok {
            errors.push(format!(
                "events   [{}]\n  expected [{}]",
                show_events(&rec.events),
                show_events(&e.events)
            ));
        }
        match (e.state, self.state) {
            (Some(State::Open), Polled::Done(c)) => {
                errors.push(format!("closed ({c}), expected open"))
            }
            (Some(State::Closed(_)), Polled::Wait(_)) => {
                errors.push("open, expected closed".into())
            }
            (Some(State::Closed(Some(want))), Polled::Done(got)) if want != got => {
                errors.push(format!("closed with {got}, expected {want}"));
            }
            _ => {}
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n  "))
        }
    }
}

fn event_matches(want: &Event, got: &Event) -> bool {
    want.name == got.name
        && want.args.len() == got.args.len()
        && want
            .args
            .iter()
            .zip(&got.args)
            .all(|(w, g)| *w == Arg::Any || w == g)
}

fn show_events(events: &[Event]) -> String {
    let shown: Vec<String> = events
        .iter()
        .map(|e| {
            let mut s = e.name.clone();
            for a in &e.args {
                s.push(' ');
                match a {
                    Arg::Any => s.push('*'),
                    Arg::Word(w) => s.push_str(w),
                    Arg::Text(t) => s.push_str(&show(t)),
                }
            }
            s
        })
        .collect();
    shown.join(", ")
}
