//! The private core shared by [`UdpSocket`](crate::UdpSocket) and
//! [`UnixDatagram`](crate::UnixDatagram): message I/O on an fd.
//!
//! Datagram receives are not cancel-safe the way stream reads are: a
//! receive dropped in flight is cancelled, and a datagram the kernel had
//! already delivered into its buffer is lost — as it may be on the network.

use ringloop_runtime::buf::{IoBuf, IoBufMut};
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op;
use socket2::{SockAddr, SockRef};
use std::io;
use std::os::fd::OwnedFd;

#[derive(Debug)]
pub(crate) struct DatagramCore {
    fd: SharedFd,
}

impl DatagramCore {
    /// Takes a registered-file slot if one is free, as streams do.
    pub(crate) fn new(fd: OwnedFd) -> DatagramCore {
        let fd = SharedFd::new(fd);
        fd.register();
        DatagramCore { fd }
    }

    pub(crate) fn sock(&self) -> SockRef<'_> {
        SockRef::from(&self.fd)
    }

    /// Sets the default peer (a CONNECT op; datagram sockets connect at once).
    pub(crate) async fn connect(&self, addr: SockAddr) -> io::Result<()> {
        op::connect(&self.fd, addr).await
    }

    /// Sends one datagram to `addr` (a SENDMSG op).
    pub(crate) async fn send_to<B: IoBuf>(&self, buf: B, addr: SockAddr) -> (io::Result<usize>, B) {
        op::send_msg(&self.fd, buf, Some(addr), 0).await
    }

    /// Receives one datagram and its source (a RECVMSG op).
    pub(crate) async fn recv_from<B: IoBufMut>(
        &self,
        buf: B,
    ) -> (io::Result<(usize, SockAddr)>, B) {
        op::recv_msg(&self.fd, buf, 0).await
    }

    /// Sends one datagram to the connected peer (a SEND op).
    pub(crate) async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        op::send(&self.fd, buf, 0).await
    }

    /// Receives one datagram from the connected peer (a RECV op).
    pub(crate) async fn recv<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        op::recv(&self.fd, buf, 0).await
    }
}
