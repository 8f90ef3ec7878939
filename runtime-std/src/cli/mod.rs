//! The command line: `unstuck serve`, `unstuck send`, `unstuck chat`.

mod chat;
mod exit;
mod progress;
mod send;
mod serve;

use clap::{Parser, Subcommand};
use unstuck_std::config::ServeArgs;

pub(crate) use exit::Exit;

const ABOUT: &str = "\
The 2017 tutorial's chat bot and file upload, rebuilt: framed, resumable, verified.

TCP is a byte stream: one read can return half a message or three at once. unstuck frames
every message and checks every upload with a digest, and still talks to the tutorial's
programs and to `nc`.";

const EXAMPLES: &str = "\
Examples:
  unstuck serve                      chat on 127.0.0.1:8888, uploads on 127.0.0.1:9998
  nc 127.0.0.1 8888                  chat by hand: type `hello`, get `hello,你好`; `q` quits
  unstuck chat                       the same, with unstuck's framing
  unstuck send photo.jpg             upload, verify, print `photo.jpg: xxh3-chain:…`
  unstuck serve --chat-mode room     a chat room: messages go to everyone else

`unstuck COMMAND --help` explains each command, with its exit statuses.";

/// The `unstuck` command.
#[derive(Parser, Debug)]
#[command(name = "unstuck", version, about = ABOUT, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the chat and upload servers until Ctrl-C (or SIGTERM).
    #[command(after_help = serve::HELP)]
    Serve(ServeArgs),
    /// Upload files: resumes cut uploads, verifies each file's digest.
    #[command(after_help = send::HELP)]
    Send(send::SendArgs),
    /// Chat from the terminal: each line you type is a message; `q` or Ctrl-D ends.
    #[command(after_help = chat::HELP)]
    Chat(chat::ChatArgs),
}

/// Runs the chosen command.
pub(crate) fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Send(args) => send::run(args),
        Command::Chat(args) => chat::run(args),
    }
}
