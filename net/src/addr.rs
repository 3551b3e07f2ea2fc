//! Address resolution and the errors that name the address involved.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr` to a non-empty list of socket addresses.
///
/// Host names go through the system resolver (`ToSocketAddrs`), which
/// blocks the loop while it runs; pass IP addresses in latency-sensitive
/// code.
pub(crate) fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "could not resolve the address: {e}; expected \"host:port\" or \"ip:port\""
                ),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket addresses",
        ));
    }
    Ok(addrs)
}

/// Adds the operation and address to an error, keeping its kind.
pub(crate) fn context(e: io::Error, what: &str, addr: impl std::fmt::Display) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {addr}: {e}"))
}

/// Tries `f` on each address in turn; the first success, or the last error.
pub(crate) async fn try_each<T, F, Fut>(addrs: Vec<SocketAddr>, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs {
        match f(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("resolve() never returns an empty list"))
}
