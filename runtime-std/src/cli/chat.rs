//! `unstuck chat`: an interactive chat client.
//!
//! Two helper threads turn stdin lines and socket reads into messages on one channel; the
//! main thread owns the core's client machine and the socket's writing side, and waits on
//! the channel with the machine's deadline as timeout.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;

use clap::Args;
use unstuck_core::chat::{ChatClient, ChatClientConfig, ClientEvent, ClientForm, validate_nick};
use unstuck_core::{ErrorCode, Output};
use unstuck_std::clock::Clock;

use super::Exit;
use crate::cli::net::connect;

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

/// What the helper threads report.
enum Input {
    Line(String),
    StdinEnd,
    Net(Vec<u8>),
    NetEnd,
}

pub(super) fn run(args: ChatArgs) -> Exit {
    if let Some(nick) = &args.nick {
        if let Err(why) = validate_nick(nick) {
            eprintln!("unstuck chat: bad nickname `{nick}`: {why}");
            return Exit::Usage;
        }
    }
    let stream = match connect(&args.addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("unstuck chat: {}: {e}", args.addr);
            return Exit::Failure;
        }
    };
    let (tx, rx) = mpsc::channel();
    if let Err(e) = spawn_helpers(&stream, &tx) {
        eprintln!("unstuck chat: {e}");
        return Exit::Failure;
    }
    let form = if args.classic {
        ClientForm::Classic
    } else {
        ClientForm::Native
    };
    match converse(&stream, &rx, form, args.nick.as_deref()) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("unstuck chat: {e}");
            Exit::Failure
        }
    }
}

fn spawn_helpers(stream: &TcpStream, tx: &Sender<Input>) -> io::Result<()> {
    let keys = tx.clone();
    thread::Builder::new().name("stdin".into()).spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if keys.send(Input::Line(line)).is_err() {
                return;
            }
        }
        let _ = keys.send(Input::StdinEnd);
    })?;
    let mut sock = stream.try_clone()?;
    let net = tx.clone();
    thread::Builder::new().name("net".into()).spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match sock.read(&mut buf) {
                Ok(n) if n > 0 => {
                    if net.send(Input::Net(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        let _ = net.send(Input::NetEnd);
    })?;
    Ok(())
}

fn converse(
    stream: &TcpStream,
    rx: &Receiver<Input>,
    form: ClientForm,
    mut nick: Option<&str>,
) -> io::Result<Exit> {
    let clock = Clock::new();
    let config = ChatClientConfig {
        form,
        ..ChatClientConfig::default()
    };
    let mut client = ChatClient::new(config, clock.now());
    let mut backlog: Vec<u8> = Vec::new();
    let mut out = io::stdout();
    loop {
        let wait = match client.poll_output() {
            Output::Transmit(b) => {
                let n = b.len();
                (&mut &*stream).write_all(b)?;
                let _ = client.handle_sent(n);
                continue;
            }
            Output::Event(e) => {
                // Native servers are ready after their HELLO; classic ones after the welcome.
                let ready = matches!(
                    (&e, form),
                    (ClientEvent::Ready { .. }, _) | (ClientEvent::Welcome(_), ClientForm::Classic)
                );
                show(&mut out, e)?;
                if let Some(n) = nick.take_if(|_| ready) {
                    let _ = client.say(&format!("/nick {n}"));
                }
                continue;
            }
            Output::Wait(w) => w,
            Output::Done(c) if c.code == ErrorCode::Bye => return Ok(Exit::Ok),
            Output::Done(c) => {
                eprintln!("unstuck chat: connection closed: {c}");
                return Ok(Exit::Failure);
            }
        };
        if !backlog.is_empty() && wait.wants_read {
            let took = client.handle_input(clock.now(), &backlog);
            backlog.drain(..took);
            continue;
        }
        let input = match clock.until(wait.deadline) {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let now = clock.now();
        match input {
            Ok(Input::Line(line)) if line == "q" => quit(&mut client),
            Ok(Input::Line(line)) if line.is_empty() => {}
            Ok(Input::Line(line)) => {
                if let Err(e) = client.say(&line) {
                    eprintln!("unstuck chat: not sent: {e}");
                }
            }
            Ok(Input::StdinEnd) => quit(&mut client),
            Ok(Input::Net(bytes)) => {
                backlog.extend_from_slice(&bytes);
                let took = client.handle_input(now, &backlog);
                backlog.drain(..took);
            }
            Ok(Input::NetEnd) | Err(RecvTimeoutError::Disconnected) => client.handle_eof(now),
            Err(RecvTimeoutError::Timeout) => client.handle_timeout(now),
        }
    }
}

fn quit(client: &mut ChatClient) {
    // Quitting twice (`q` then Ctrl-D) is fine: the first one counts.
    let _ = client.quit();
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
