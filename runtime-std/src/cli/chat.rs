//! `unstuck chat`: an interactive chat client on [`unstuck_std::client::ChatSession`].
//!
//! A helper thread reads stdin lines into a channel and wakes the session; the main thread
//! owns the session, prints what the server says, and says the lines.

use std::io::{self, BufRead, Write};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;

use clap::Args;
use unstuck_core::ErrorCode;
use unstuck_core::chat::{ChatClientConfig, ClientEvent, ClientForm, validate_nick};
use unstuck_std::client::{ChatSession, ChatWaker};

use super::Exit;

pub(super) const HELP: &str = "\
Examples:
  unstuck chat                       talk to the bot on 127.0.0.1:8888
  unstuck chat host:8888 --nick ann  join a room (server started with --chat-mode room)
  unstuck chat --classic             talk to a 2017-tutorial server: wait for each reply

Each line you type is one message; replies and room messages are printed as they arrive.
`q` or Ctrl-D ends the conversation.

Exit status:
  0  the conversation ended normally
  2  usage error
  5  network failure, or the server closed the connection with an error";

/// Flags of `unstuck chat`.
#[derive(Args, Debug)]
pub(crate) struct ChatArgs {
    /// Address of the chat server.
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:8888")]
    addr: String,
    /// Nickname to take in a room, sent as `/nick NAME` once connected.
    #[arg(long, value_name = "NAME")]
    nick: Option<String>,
    /// Speak the 2017 tutorial's form, without framing: messages are told apart by the
    /// pauses between them, so wait for each reply before typing the next line.
    #[arg(long)]
    classic: bool,
}

/// What the stdin thread reports: a line, or `None` at the end of input.
type Line = Option<String>;

pub(super) fn run(args: ChatArgs) -> Exit {
    if let Some(nick) = &args.nick {
        if let Err(why) = validate_nick(nick) {
            eprintln!("unstuck chat: bad nickname `{nick}`: {why}");
            return Exit::Usage;
        }
    }
    let form = if args.classic {
        ClientForm::Classic
    } else {
        ClientForm::Native
    };
    let config = ChatClientConfig {
        form,
        ..ChatClientConfig::default()
    };
    let mut session = match ChatSession::connect_with(&args.addr, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("unstuck chat: {}: {e}", args.addr);
            return Exit::Failure;
        }
    };
    let lines = match spawn_stdin(session.waker()) {
        Ok(rx) => rx,
        Err(e) => {
            eprintln!("unstuck chat: {e}");
            return Exit::Failure;
        }
    };
    match converse(&mut session, &lines, form, args.nick.as_deref()) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("unstuck chat: {e}");
            Exit::Failure
        }
    }
}

/// Reads stdin lines on a thread of their own, waking the session for each.
fn spawn_stdin(waker: ChatWaker) -> io::Result<Receiver<Line>> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new().name("stdin".into()).spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
            waker.wake();
        }
        let _ = tx.send(None);
        waker.wake();
    })?;
    Ok(rx)
}

fn converse(
    session: &mut ChatSession,
    lines: &Receiver<Line>,
    form: ClientForm,
    mut nick: Option<&str>,
) -> io::Result<Exit> {
    let mut out = io::stdout();
    loop {
        match session.next_event(None) {
            Ok(Some(e)) => {
                // Native servers are ready after their HELLO; classic ones after the welcome.
                let ready = matches!(
                    (&e, form),
                    (ClientEvent::Ready { .. }, _) | (ClientEvent::Welcome(_), ClientForm::Classic)
                );
                show(&mut out, e)?;
                if let Some(n) = nick.take_if(|_| ready) {
                    match session.say(&format!("/nick {n}")) {
                        // Already quitting (`q` typed before the handshake): no nickname.
                        Err(e) if e.kind() != io::ErrorKind::InvalidInput => return Err(e),
                        _ => {}
                    }
                }
            }
            Ok(None) => return Ok(ended(session)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if said_all(session, lines)? && session.closed().is_none() {
                    // `q` or the end of input. The answers still on their way stay queued:
                    // the next rounds show them, then the end.
                    match session.quit() {
                        Err(e) if e.kind() != io::ErrorKind::InvalidInput => return Err(e),
                        _ => {}
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Says every line typed so far; true once the user is done (`q` or the end of input).
fn said_all(session: &mut ChatSession, lines: &Receiver<Line>) -> io::Result<bool> {
    loop {
        match lines.try_recv() {
            Ok(Some(line)) if line == "q" => return Ok(true),
            Ok(Some(line)) if line.is_empty() => {}
            Ok(Some(line)) => say(session, &line)?,
            Ok(None) | Err(TryRecvError::Disconnected) => return Ok(true),
            Err(TryRecvError::Empty) => return Ok(false),
        }
    }
}

/// Says `text`; a message the protocol cannot carry is reported, not fatal.
fn say(session: &mut ChatSession, text: &str) -> io::Result<()> {
    match session.say(text) {
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            eprintln!("unstuck chat: not sent: {e}");
            Ok(())
        }
        // The server closed: the next round reports how.
        Err(_) if session.closed().is_some() => Ok(()),
        other => other,
    }
}

/// The exit status for how the conversation ended.
fn ended(session: &ChatSession) -> Exit {
    match session.closed() {
        Some(c) if c.code == ErrorCode::Bye => Exit::Ok,
        Some(c) => {
            eprintln!("unstuck chat: connection closed: {c}");
            Exit::Failure
        }
        None => Exit::Failure,
    }
}

/// Prints what the server said, as a text client of the line form would see it.
fn show(out: &mut impl Write, e: ClientEvent) -> io::Result<()> {
    match e {
        ClientEvent::Welcome(t) | ClientEvent::Reply(t) => writeln!(out, "{t}"),
        ClientEvent::Message { from, text } => writeln!(out, "{from}: {text}"),
        ClientEvent::Notice(t) => writeln!(out, "* {t}"),
        ClientEvent::Error(e) => writeln!(out, "! {e}"),
        _ => Ok(()),
    }?;
    out.flush()
}
