//! Socket helpers shared by the servers and the clients.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long a closing side keeps reading (and discarding) so that its last bytes are not
/// destroyed by a reset: closing a socket with unread input makes the kernel send RST, and
/// the peer may then lose what we sent last.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// Connects to `addr` (the first of its addresses that answers) and turns Nagle off:
/// protocol messages are small and each is complete when written.
pub(crate) fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect(a) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Ends a connection gracefully: sends FIN, reads and drops what the peer still sends until
/// it closes too (at most [`LINGER`]), then closes.
pub(crate) fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let until = Instant::now() + LINGER;
    let mut buf = [0u8; 4096];
    let mut s = stream;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Whether a read or write error only means that its timeout passed.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The read timeout of a socket, set only when it must change: a read that wakes early
/// does no harm (the machine is told the time and says what to wait for next), so the
/// timeout is set again only when it would be too late or far too early. That spares a
/// system call per read on the upload hot path, where the deadline moves with every read.
#[derive(Debug, Default)]
pub(crate) struct ReadTimeout {
    current: Option<Duration>,
}

impl ReadTimeout {
    /// Makes the next read wait at most `want` (forever for `None`), and not much less.
    pub(crate) fn set(&mut self, stream: &TcpStream, want: Option<Duration>) -> io::Result<()> {
        let fine = match (self.current, want) {
            (None, None) => true,
            (Some(cur), Some(w)) => cur <= w && cur * 2 >= w,
            _ => false,
        };
        if !fine {
            // A little short of the deadline, so that a deadline that slides back a bit
            // (the stall timer restarts with each read) still finds it fine next time.
            // Zero would mean "forever" to the socket: wait at least a millisecond.
            let timeout = want.map(|w| (w - w / 8).max(Duration::from_millis(1)));
            stream.set_read_timeout(timeout)?;
            self.current = timeout;
        }
        Ok(())
    }
}
