//! `unstuck serve`: runs [`unstuck_std::server::Server`] until SIGINT or SIGTERM.

use unstuck_std::config::{ServeArgs, listening_line};
use unstuck_std::server::Server;

use super::Exit;

pub(super) const HELP: &str = "\
Examples:
  unstuck serve                                   defaults: chat :8888, upload :9998, ./uploads
  unstuck serve --chat-mode room                  a chat room instead of the bot
  unstuck serve --chat 0.0.0.0:8888 --dir /srv/up listen on every interface (no encryption!)
  unstuck serve --chat 127.0.0.1:0 --upload 127.0.0.1:0
                                                  pick free ports; read them from stdout
  RUST_LOG=debug unstuck serve                    more detail in the logs (stderr)

Once both ports are bound it prints `listening chat=ADDR upload=ADDR` on stdout.
Uploads are written to hidden `.NAME.part` files and appear under their name only once
their digest matches. Ctrl-C or SIGTERM stops accepting, tells chat clients the server is
going down, keeps unfinished uploads resumable, and exits 0.

Exit status:
  0  stopped by Ctrl-C or SIGTERM
  5  could not start (address in use, upload directory not writable or used by
     another unstuck server)";

pub(super) fn run(args: &ServeArgs) -> Exit {
    let serve = || {
        let mut server = Server::bind(args)?;
        server.stop_on_signals()?;
        println!(
            "{}",
            listening_line(server.chat_addr(), server.upload_addr())
        );
        server.run()
    };
    match serve() {
        Ok(()) => Exit::Ok,
        Err(e) => {
            tracing::error!("cannot serve: {e}");
            Exit::Failure
        }
    }
}
