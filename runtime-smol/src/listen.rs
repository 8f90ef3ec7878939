//! Listening sockets with a backlog that fits thousands of clients.
//!
//! `std::net::TcpListener::bind` listens with a backlog of 128. When clients connect in a
//! burst faster than the accept loop turns (each accepted socket costs the server several
//! system calls, a connect costs the client one), the kernel's accept queue overflows, the
//! client's SYN is dropped, and that client waits a full second for its SYN to be resent.
//! With a backlog of [`BACKLOG`] (the kernel caps it at `net.core.somaxconn`) bursts of
//! thousands are absorbed.

use std::io;
use std::net::{SocketAddr, TcpListener};

use rustix::net::{AddressFamily, SocketType, sockopt};

/// Connections the kernel may hold for the accept loop.
pub(crate) const BACKLOG: i32 = 4096;

/// Binds and listens on `addr` with [`BACKLOG`], `SO_REUSEADDR` set as std does.
pub(crate) fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket(family, SocketType::STREAM, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    rustix::net::listen(&fd, BACKLOG)?;
    Ok(TcpListener::from(fd))
}
