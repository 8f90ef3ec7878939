//! The exit statuses of the `unstuck` command, documented in its `--help`.

use std::process::ExitCode;

/// How a command ended. When several files fail differently, the highest status wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Exit {
    /// Everything worked.
    Ok = 0,
    /// Bad command line (clap uses 2 as well).
    Usage = 2,
    /// The server refused (a REJECT, a 4xx CLOSE, a busy server).
    Refused = 3,
    /// The server received different bytes than the file holds.
    Mismatch = 4,
    /// The network or a file failed, or the server failed or went down (5xx).
    Failure = 5,
}

impl Exit {
    /// The status for an error code the server sent: 4xx is the request's fault.
    pub(crate) fn for_code(number: u16) -> Exit {
        if (400..500).contains(&number) {
            Exit::Refused
        } else {
            Exit::Failure
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// The exit statuses, as a literal for `concat!` into `--help` texts.
macro_rules! exit_help {
    () => {
        "Exit status:
  0  success
  2  usage error (bad flags, bad file name)
  3  refused by the server (name taken or invalid, too large, no space, busy)
  4  digest mismatch: the server received different bytes (run it again)
  5  network, file or server failure (run it again: uploads resume)"
    };
}
pub(crate) use exit_help;
