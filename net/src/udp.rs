//! UDP: [`UdpSocket`].

use crate::addr::{context, resolve, resolve_blocking, try_each, ToSocketAddrs};
use crate::datagram::DatagramCore;
use ringloop_runtime::buf::{IoBuf, IoBufMut};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// A UDP socket. Each send is one datagram; each receive returns one
/// datagram, truncated to the buffer's capacity.
///
/// Receives are cancel-safe: a `recv`/`recv_from` dropped before it
/// completes stays in flight, and the datagram it gets is returned by the
/// next receive (one datagram per receive, in order), so none the kernel
/// delivered is lost. Such a datagram was truncated to the capacity of the
/// dropped receive's buffer, and is truncated again to the next one's.
/// Receive from one task at a time.
///
/// ```no_run
/// use ringloop_net::UdpSocket;
/// ringloop_runtime::run(async {
///     let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let (res, buf) = socket.recv_from(vec![0u8; 1500]).await;
///     let (n, from) = res.unwrap();
///     let _ = socket.send_to(buf[..n].to_vec(), from).await;
/// });
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    core: DatagramCore,
}

impl UdpSocket {
    /// Binds to `addr` (each resolved address in turn). Port 0 picks a free port.
    ///
    /// A host name is resolved synchronously, blocking the loop while the
    /// system resolver runs; pass an IP address where that matters.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let mut last = None;
        for addr in resolve_blocking(&addr)? {
            let bound = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
                .and_then(|s| s.bind(&addr.into()).map(|()| s));
            match bound {
                Ok(socket) => {
                    return Ok(UdpSocket {
                        core: DatagramCore::new(socket.into()),
                    })
                }
                Err(e) => last = Some(context(e, "could not bind UDP socket to", addr)),
            }
        }
        Err(last.expect("resolve() never returns an empty list"))
    }

    /// Wraps a std UDP socket.
    pub fn from_std(socket: std::net::UdpSocket) -> UdpSocket {
        UdpSocket {
            core: DatagramCore::new(socket.into()),
        }
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts (the first resolved address that works).
    /// A host name is resolved on the blocking pool, off the loop.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        try_each(resolve(&addr).await?, |addr| async move {
            self.core
                .connect(addr.into())
                .await
                .map_err(|e| context(e, "could not connect UDP socket to", addr))
        })
        .await
    }

    /// Sends the initialized bytes of `buf` as one datagram to `addr` (the
    /// first resolved address). A host name is resolved on the blocking
    /// pool, off the loop, for every call: resolve it once and pass the
    /// [`SocketAddr`] when sending many datagrams.
    pub async fn send_to<B: IoBuf, A: ToSocketAddrs>(
        &self,
        buf: B,
        addr: A,
    ) -> (io::Result<usize>, B) {
        let addr = match resolve(&addr).await.map(|mut addrs| addrs.next()) {
            Ok(Some(addr)) => addr,
            Ok(None) => unreachable!("resolve() never returns an empty list"),
            Err(e) => return (Err(e), buf),
        };
        self.core.send_to(buf, addr.into()).await
    }

    /// Receives one datagram into `buf` (truncated to its capacity) and the
    /// address it came from. Cancel-safe (see [`UdpSocket`]).
    ///
    /// If a cancelled [`recv`](Self::recv) on a socket that is not connected
    /// received the datagram, its source is unknown (RECV does not report
    /// it): the data is in `buf`, and the error says so. Use `recv_from`
    /// throughout on unconnected sockets.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> (io::Result<(usize, SocketAddr)>, B) {
        let (res, buf) = self.core.recv_from(buf).await;
        let res = res.and_then(|(n, addr)| {
            let Some(addr) = addr else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "received a {n}-byte datagram (in the buffer) from an unknown source: \
                         a cancelled recv() took it on an unconnected socket; use recv_from \
                         throughout, or connect the socket"
                    ),
                ));
            };
            let addr = addr.as_socket().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "datagram from a non-IP address")
            })?;
            Ok((n, addr))
        });
        (res, buf)
    }

    /// Sends one datagram to the connected peer.
    pub async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        self.core.send(buf).await
    }

    /// Receives one datagram from the connected peer. Cancel-safe (see
    /// [`UdpSocket`]).
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        self.core.recv(buf).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.core
            .sock()
            .local_addr()?
            .as_socket()
            .ok_or_else(not_ip)
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.core.sock().peer_addr()?.as_socket().ok_or_else(not_ip)
    }

    /// SO_BROADCAST: allow sending to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.core.sock().set_broadcast(on)
    }
}

fn not_ip() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address")
}
