//! The private core shared by [`UdpSocket`](crate::UdpSocket) and
//! [`UnixDatagram`](crate::UnixDatagram): message I/O on an fd, with
//! cancel-safe receives.
//!
//! # Cancel safety of receives
//!
//! As for stream reads (see `core.rs`), a receive whose future is dropped
//! before its CQE is not cancelled — the kernel may already have copied a
//! datagram into its buffer. Its op is parked in the socket
//! ([`RecvState::pending`]) and stays in flight; the next receive (`recv`
//! or `recv_from`, any buffer type) first waits for it and hands out what it
//! got, before issuing a new op. Boundaries are kept: one parked completion
//! is one datagram (or one error), handed to exactly one later receive, in
//! the order the ops were submitted, with the source address RECVMSG
//! reported. A parked datagram was truncated to the capacity of the buffer
//! it was received into, and is truncated again to the capacity of the
//! buffer it is handed to. Parked ops are cancelled only when the socket is
//! dropped.

use ringloop_runtime::buf::{IoBuf, IoBufMut};
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op::{self, Op, Recv, RecvMsg};
use socket2::{SockAddr, SockRef};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// What a parked receive got: one datagram's bytes (as far as its buffer
/// held them) and its source, if the op reported one — or an error.
type Parked = io::Result<(Vec<u8>, Option<SockAddr>)>;

/// A receive whose future was dropped in flight, type-erased over its
/// buffer and op (RECV or RECVMSG).
trait PendingRecv {
    /// Polls the op; on completion, copies out what it received.
    fn poll_parked(&mut self, cx: &mut Context<'_>) -> Poll<Parked>;
}

impl<B: IoBufMut> PendingRecv for Op<Recv<B>> {
    fn poll_parked(&mut self, cx: &mut Context<'_>) -> Poll<Parked> {
        let (res, buf) = ready!(Pin::new(self).poll(cx));
        Poll::Ready(res.map(|n| (buf.init_bytes()[..n].to_vec(), None)))
    }
}

impl<B: IoBufMut> PendingRecv for Op<RecvMsg<B>> {
    fn poll_parked(&mut self, cx: &mut Context<'_>) -> Poll<Parked> {
        let (res, buf) = ready!(Pin::new(self).poll(cx));
        Poll::Ready(res.map(|(n, addr)| (buf.init_bytes()[..n].to_vec(), Some(addr))))
    }
}

/// Receives dropped before their CQE, oldest first; still in flight.
#[derive(Default)]
struct RecvState {
    pending: VecDeque<Box<dyn PendingRecv>>,
}

pub(crate) struct DatagramCore {
    fd: SharedFd,
    recv: RefCell<RecvState>,
}

impl fmt::Debug for DatagramCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramCore")
            .field("fd", &self.fd)
            .field("pending_recvs", &self.recv.borrow().pending.len())
            .finish()
    }
}

impl DatagramCore {
    /// Takes a registered-file slot if one is free, as streams do.
    pub(crate) fn new(fd: OwnedFd) -> DatagramCore {
        let fd = SharedFd::new(fd);
        fd.register();
        DatagramCore {
            fd,
            recv: RefCell::default(),
        }
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

    /// Receives one datagram and its source (a RECVMSG op). The source is
    /// `None` only for a datagram a cancelled [`recv`](Self::recv) received
    /// on a socket that is not connected (RECV does not report it).
    /// Cancel-safe: see the module docs.
    pub(crate) async fn recv_from<B: IoBufMut>(
        &self,
        mut buf: B,
    ) -> (io::Result<(usize, Option<SockAddr>)>, B) {
        if let Some(res) = self.take_parked(&mut buf).await {
            let res = res.map(|(n, addr)| (n, addr.or_else(|| self.sock().peer_addr().ok())));
            return (res, buf);
        }
        let (res, buf) = ParkOnDrop {
            core: self,
            op: Some(op::recv_msg(&self.fd, buf, 0)),
        }
        .await;
        (res.map(|(n, addr)| (n, Some(addr))), buf)
    }

    /// Sends one datagram to the connected peer (a SEND op).
    pub(crate) async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        op::send(&self.fd, buf, 0).await
    }

    /// Receives one datagram from the connected peer (a RECV op).
    /// Cancel-safe: see the module docs.
    pub(crate) async fn recv<B: IoBufMut>(&self, mut buf: B) -> (io::Result<usize>, B) {
        if let Some(res) = self.take_parked(&mut buf).await {
            return (res.map(|(n, _)| n), buf);
        }
        ParkOnDrop {
            core: self,
            op: Some(op::recv(&self.fd, buf, 0)),
        }
        .await
    }

    /// Hands the oldest parked completion to `dst`: `None` at once if no
    /// receive was parked, else waits for the oldest one. Cancel-safe: a
    /// completion is taken off the queue only when it is returned.
    async fn take_parked<B: IoBufMut>(
        &self,
        dst: &mut B,
    ) -> Option<io::Result<(usize, Option<SockAddr>)>> {
        // The common case (nothing parked) costs one borrow.
        if self.recv.borrow().pending.is_empty() {
            return None;
        }
        poll_fn(|cx| {
            let mut st = self.recv.borrow_mut();
            let Some(front) = st.pending.front_mut() else {
                return Poll::Ready(None);
            };
            let parked = ready!(front.poll_parked(cx));
            st.pending.pop_front();
            Poll::Ready(Some(parked.map(|(data, addr)| (dst.put_init(&data), addr))))
        })
        .await
    }
}

/// A receive in flight for a caller. If dropped before completion, the op
/// is parked in the core instead of being cancelled (see the module docs).
struct ParkOnDrop<'a, T>
where
    Op<T>: PendingRecv,
    T: op::Completable,
{
    core: &'a DatagramCore,
    op: Option<Op<T>>,
}

impl<T> Future for ParkOnDrop<'_, T>
where
    Op<T>: PendingRecv,
    T: op::Completable,
{
    type Output = T::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let op = self
            .op
            .as_mut()
            .expect("ParkOnDrop polled after completion");
        let out = ready!(Pin::new(op).poll(cx));
        self.op = None;
        Poll::Ready(out)
    }
}

impl<T> Drop for ParkOnDrop<'_, T>
where
    Op<T>: PendingRecv,
    T: op::Completable,
{
    fn drop(&mut self) {
        if let Some(op) = self.op.take() {
            self.core.recv.borrow_mut().pending.push_back(Box::new(op));
        }
    }
}
