//! Address resolution and the errors that name the address involved.
//!
//! The async entry points (`connect`, `send_to`, `start_server`,
//! `open_connection`) never run the system resolver on the loop thread:
//! literal addresses are parsed in place, and a host name is looked up on
//! the runtime's blocking pool ([`ringloop_runtime::to_thread`]) while other
//! tasks keep running. The synchronous constructors (`bind`) cannot wait,
//! so they resolve on the calling thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Socket addresses that ringloop's TCP and UDP methods accept: the same
/// types as [`std::net::ToSocketAddrs`] — [`SocketAddr`] and its V4/V6
/// forms, `(IpAddr, u16)` and friends, `"ip:port"` and `"host:port"`
/// strings (`&str` or `String`), `(&str, u16)` / `(String, u16)`, and
/// `&[SocketAddr]`, or a reference to any of them.
///
/// Unlike the std trait, converting never blocks: literal IP addresses are
/// parsed at once (no allocation for a single address), and host names are
/// handed to the system resolver on the runtime's blocking pool by the
/// async methods. This trait is sealed; it exists to carry that split.
///
/// ```
/// use ringloop_net::TcpStream;
/// use std::net::{Ipv4Addr, SocketAddr};
/// ringloop_runtime::run(async {
///     let listener = ringloop_net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let port = listener.local_addr().unwrap().port();
///     // All of these name the same listener.
///     TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await.unwrap();
///     TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.unwrap();
///     TcpStream::connect(format!("127.0.0.1:{port}")).await.unwrap();
///     TcpStream::connect(("127.0.0.1", port)).await.unwrap();
/// });
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::Target;

    /// The conversion behind [`ToSocketAddrs`](super::ToSocketAddrs),
    /// hidden so that the set of accepted types stays ours to extend.
    pub trait Sealed {
        /// Parses a literal address, or copies a host name out for the
        /// resolver. Never blocks.
        fn to_target(&self) -> Target;
    }
}

/// An address in owned form, ready to be resolved on any thread.
#[derive(Debug)]
pub enum Target {
    /// Literal addresses: nothing to look up.
    Addrs(Addrs),
    /// A `"host:port"` string for the system resolver.
    Host(String),
    /// A host name and a port for the system resolver.
    HostPort(String, u16),
}

/// Resolved addresses, in the resolver's order; never empty once returned
/// by [`resolve`] or [`resolve_blocking`].
#[derive(Debug)]
pub enum Addrs {
    /// One literal address (the common case: no allocation).
    One(Option<SocketAddr>),
    /// Several addresses, from a slice or the resolver.
    Many(std::vec::IntoIter<SocketAddr>),
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match self {
            Addrs::One(addr) => addr.take(),
            Addrs::Many(iter) => iter.next(),
        }
    }
}

impl Addrs {
    fn one(addr: SocketAddr) -> Target {
        Target::Addrs(Addrs::One(Some(addr)))
    }

    fn is_empty(&self) -> bool {
        match self {
            Addrs::One(addr) => addr.is_none(),
            Addrs::Many(iter) => iter.len() == 0,
        }
    }
}

macro_rules! literal_addrs {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl sealed::Sealed for $ty {
            fn to_target(&self) -> Target {
                Addrs::one(SocketAddr::from(*self))
            }
        }
    )*};
}

literal_addrs!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    fn to_target(&self) -> Target {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Addrs::one(addr),
            Err(_) => Target::Host(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn to_target(&self) -> Target {
        self.as_str().to_target()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn to_target(&self) -> Target {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Addrs::one(SocketAddr::new(ip, port)),
            Err(_) => Target::HostPort(host.to_owned(), port),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn to_target(&self) -> Target {
        (self.0.as_str(), self.1).to_target()
    }
}

impl ToSocketAddrs for &[SocketAddr] {}
impl sealed::Sealed for &[SocketAddr] {
    fn to_target(&self) -> Target {
        match self {
            [addr] => Addrs::one(*addr),
            addrs => {
                let owned: Vec<SocketAddr> = addrs.to_vec();
                Target::Addrs(Addrs::Many(owned.into_iter()))
            }
        }
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn to_target(&self) -> Target {
        (**self).to_target()
    }
}

impl Target {
    /// Runs the system resolver if needed; blocks the calling thread.
    fn resolve_here(self) -> io::Result<Addrs> {
        use std::net::ToSocketAddrs as _;
        let (found, name) = match self {
            Target::Addrs(addrs) => return non_empty(addrs, "the address list is empty"),
            Target::Host(host) => (host.to_socket_addrs(), host),
            Target::HostPort(host, port) => (
                (host.as_str(), port).to_socket_addrs(),
                format!("{host}:{port}"),
            ),
        };
        let addrs = found.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "could not resolve {name:?}: {e}; check the host name, or pass \
                     \"ip:port\" or \"host:port\""
                ),
            )
        })?;
        let addrs = Addrs::Many(addrs.collect::<Vec<_>>().into_iter());
        non_empty(addrs, &format!("{name:?} resolved to no socket addresses"))
    }
}

fn non_empty(addrs: Addrs, msg: &str) -> io::Result<Addrs> {
    if addrs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned()));
    }
    Ok(addrs)
}

/// Resolves `addr` to a non-empty list of socket addresses on the calling
/// thread: for synchronous constructors (`bind`), which block the loop
/// while the system resolver runs on a host name.
pub(crate) fn resolve_blocking<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Addrs> {
    addr.to_target().resolve_here()
}

/// Resolves `addr` to a non-empty list of socket addresses without blocking
/// the loop: literal addresses at once, host names on the blocking pool.
///
/// Must be awaited inside a ringloop runtime (host names use its pool).
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Addrs> {
    match addr.to_target() {
        Target::Addrs(addrs) => non_empty(addrs, "the address list is empty"),
        lookup => ringloop_runtime::to_thread(move || lookup.resolve_here())
            .await
            .unwrap_or_else(|e| {
                Err(io::Error::other(format!(
                    "could not resolve the address: the resolver thread failed ({e})"
                )))
            }),
    }
}

/// Adds the operation and address to an error, keeping its kind.
pub(crate) fn context(e: io::Error, what: &str, addr: impl std::fmt::Display) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {addr}: {e}"))
}

/// Tries `f` on each address in turn; the first success, or the last error.
pub(crate) async fn try_each<T, F, Fut>(addrs: Addrs, mut f: F) -> io::Result<T>
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
