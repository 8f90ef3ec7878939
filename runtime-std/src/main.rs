//! `unstuck`: the chat and upload servers, and their clients, on blocking std sockets.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    unstuck_std::logging::init();
    cli::run(args).into()
}
