//! `unstuck-smol serve`: the unstuck server on smol, with the flags of `unstuck serve`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use unstuck_smol::Server;
use unstuck_std::config::{ServeArgs, listening_line};

/// unstuck's chat and upload server on the smol runtime.
#[derive(Parser, Debug)]
#[command(name = "unstuck-smol", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve chat and uploads until SIGINT or SIGTERM.
    Serve(ServeArgs),
}

fn main() -> ExitCode {
    unstuck_std::logging::init();
    let Command::Serve(args) = Cli::parse().command;
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> std::io::Result<()> {
    let mut server = Server::bind(args)?;
    server.stop_on_signals()?;
    println!(
        "{}",
        listening_line(server.chat_addr(), server.upload_addr())
    );
    server.run(Server::default_threads())
}
