//! The private core shared by [`TcpStream`](crate::TcpStream),
//! [`UnixStream`](crate::UnixStream), the asyncio-style reader/writer and
//! the poll adapter: an fd plus the state that makes reads cancel-safe.
//!
//! # Cancel safety of reads
//!
//! A RECV whose future is dropped may already have received bytes into its
//! buffer — cancelling it (or dropping it on the floor) would lose them. So
//! a read future dropped before its CQE is *not* cancelled: its op moves
//! into this core ([`ReadState::pending`]) and stays in flight. The next
//! read (of any buffer type) first waits for that op, stashes what it
//! received ([`ReadState::stash`]) and hands those bytes out before issuing
//! a new RECV. Bytes the kernel delivered are therefore always returned, in
//! order, by some later read; nothing is lost or duplicated. The pending op
//! is cancelled only when the stream itself is dropped.

use bytes::{Buf, BytesMut};
use ringloop_runtime::buf::{IoBuf, IoBufMut};
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op::{self, Op, Read, Write};
use socket2::SockRef;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A read whose future was dropped in flight, type-erased over its buffer.
trait PendingRead {
    /// Polls the op; on completion appends the received bytes to `stash`
    /// and returns the byte count (0 = end of stream).
    fn poll_into(&mut self, cx: &mut Context<'_>, stash: &mut BytesMut) -> Poll<io::Result<usize>>;
}

impl<B: IoBufMut> PendingRead for Op<Read<B>> {
    fn poll_into(&mut self, cx: &mut Context<'_>, stash: &mut BytesMut) -> Poll<io::Result<usize>> {
        let (res, buf) = ready!(Pin::new(self).poll(cx));
        if let Ok(n) = res {
            stash.extend_from_slice(&buf.init_bytes()[..n]);
        }
        Poll::Ready(res)
    }
}

/// What earlier, cancelled reads left behind.
#[derive(Default)]
struct ReadState {
    /// Reads dropped before their CQE, oldest first; still in flight.
    pending: VecDeque<Box<dyn PendingRead>>,
    /// Bytes those reads received that no caller has seen yet.
    stash: BytesMut,
}

/// A connected stream socket: the fd and its cancel-safe read state.
pub(crate) struct StreamCore {
    fd: SharedFd,
    /// A pipe, not a socket: READ and WRITE instead of RECV and SEND.
    pipe: bool,
    /// Allocated by the first cancelled read; most streams never have one.
    /// Out of line, so that a stream is 24 bytes in its task's future (not
    /// 80) and the hot read path checks one pointer beside the fd.
    read: RefCell<Option<Box<ReadState>>>,
}

impl fmt::Debug for StreamCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.read.borrow();
        f.debug_struct("StreamCore")
            .field("fd", &self.fd)
            .field(
                "pending_reads",
                &st.as_ref().map_or(0, |st| st.pending.len()),
            )
            .field("stashed", &st.as_ref().map_or(0, |st| st.stash.len()))
            .finish()
    }
}

impl StreamCore {
    pub(crate) fn new(fd: OwnedFd) -> StreamCore {
        StreamCore::from_shared(SharedFd::new(fd))
    }

    /// Takes a slot of the runtime's registered-file table if one is free
    /// (ops then skip the kernel's per-op file lookup; see
    /// `SharedFd::register`); the stream works the same without one.
    pub(crate) fn from_shared(fd: SharedFd) -> StreamCore {
        fd.register();
        StreamCore {
            fd,
            pipe: false,
            read: RefCell::default(),
        }
    }

    /// One end of a pipe (reads and writes use READ and WRITE ops).
    pub(crate) fn pipe(fd: OwnedFd) -> StreamCore {
        let fd = SharedFd::new(fd);
        fd.register();
        StreamCore {
            fd,
            pipe: true,
            read: RefCell::default(),
        }
    }

    /// A receive (or a pipe read) into `buf`. (RECV and READ ops are one
    /// type: a stream's reads and writes are one future type each.)
    /// Inlined, as the op builders are, so the op is built in place.
    #[inline(always)]
    fn recv<B: IoBufMut>(&self, buf: B) -> Op<Read<B>> {
        if self.pipe {
            op::read(&self.fd, buf, None)
        } else {
            op::recv(&self.fd, buf, 0)
        }
    }

    /// A send (or a pipe write) of `buf`.
    #[inline(always)]
    fn send<B: IoBuf>(&self, buf: B) -> Op<Write<B>> {
        if self.pipe {
            op::write(&self.fd, buf, None)
        } else {
            op::send(&self.fd, buf, 0)
        }
    }

    pub(crate) fn fd(&self) -> &SharedFd {
        &self.fd
    }

    pub(crate) fn sock(&self) -> SockRef<'_> {
        SockRef::from(&self.fd)
    }

    /// Whether cancelled reads left bytes, an end of stream or an op in flight.
    #[inline]
    pub(crate) fn has_leftover(&self) -> bool {
        match &*self.read.borrow() {
            Some(st) => !st.stash.is_empty() || !st.pending.is_empty(),
            None => false,
        }
    }

    /// Hands out what cancelled reads left: copies stashed bytes into `dst`
    /// (`Some(Ok(n))`, n > 0), reports their end of stream (`Some(Ok(0))`) or
    /// error, or `None` when nothing is left over. Pending while a cancelled
    /// read is still in flight.
    pub(crate) fn poll_leftover<B: IoBufMut>(
        &self,
        cx: &mut Context<'_>,
        dst: &mut B,
    ) -> Poll<Option<io::Result<usize>>> {
        let mut st = self.read.borrow_mut();
        let Some(st) = st.as_deref_mut() else {
            return Poll::Ready(None);
        };
        loop {
            if !st.stash.is_empty() {
                let n = dst.put_init(&st.stash);
                st.stash.advance(n);
                return Poll::Ready(Some(Ok(n)));
            }
            let Some(pending) = st.pending.front_mut() else {
                return Poll::Ready(None);
            };
            let res = ready!(pending.poll_into(cx, &mut st.stash));
            st.pending.pop_front();
            match res {
                Ok(0) => return Poll::Ready(Some(Ok(0))),
                Ok(_) => continue,
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }

    /// Reads into `buf` (from its start, up to its capacity). `Ok(0)` means
    /// end of stream — or a buffer with no capacity, which never touches the
    /// socket. Cancel-safe: see the module docs.
    pub(crate) fn read<B: IoBufMut>(&self, buf: B) -> ReadFuture<'_, B> {
        ReadFuture {
            core: self,
            buf: Some(buf),
            op: None,
        }
    }

    /// Fills `buf` to its capacity, or fails with `UnexpectedEof` if the
    /// stream ends first (the bytes read so far stay in `buf`).
    pub(crate) async fn read_exact<B: IoBufMut>(&self, mut buf: B) -> (io::Result<()>, B) {
        let total = buf.bytes_total();
        let mut filled = 0;
        while filled < total {
            let (res, slice) = self.read(buf.slice(filled..)).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let msg = format!(
                        "the stream ended after {filled} of the {total} bytes read_exact waited for"
                    );
                    return (Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg)), buf);
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Sends the initialized bytes of `buf` once; may send fewer. An empty
    /// buffer returns `Ok(0)` without touching the socket.
    pub(crate) async fn write<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        if buf.bytes_init() == 0 {
            return (Ok(0), buf);
        }
        self.send(buf).await
    }

    /// Sends every initialized byte of `buf`. Not cancel-safe: if the future
    /// is dropped, an unknown prefix of `buf` may have been sent.
    pub(crate) async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
        let total = buf.bytes_init();
        if total == 0 {
            return (Ok(()), buf);
        }
        // The common case, the kernel taking it all at once, sends `buf`
        // itself; only a short send goes on with slices of it.
        let (res, buf) = self.send(buf).await;
        match sent_so_far(res, 0, total) {
            Ok(sent) if sent == total => (Ok(()), buf),
            Ok(sent) => self.write_rest(buf, sent, total).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// The rest of [`StreamCore::write_all`] after a short send.
    async fn write_rest<B: IoBuf>(
        &self,
        mut buf: B,
        mut sent: usize,
        total: usize,
    ) -> (io::Result<()>, B) {
        while sent < total {
            let (res, slice) = self.send(buf.slice(sent..total)).await;
            buf = slice.into_inner();
            match sent_so_far(res, sent, total) {
                Ok(now) => sent = now,
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }
    /// Shuts down the read half, the write half or both.
    pub(crate) async fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if self.pipe {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a pipe cannot be shut down: drop its Writer (every clone) to close it",
            ));
        }
        op::shutdown(&self.fd, how).await
    }
}

/// How many of `total` bytes are sent after a send that returned `res`
/// with `sent` sent before it; an interrupted send sent nothing, and a
/// send that took no byte is an error (`WriteZero`).
fn sent_so_far(res: io::Result<usize>, sent: usize, total: usize) -> io::Result<usize> {
    match res {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "the socket accepted none of the last {} bytes",
                total - sent
            ),
        )),
        Ok(n) => Ok(sent + n),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(sent),
        Err(e) => Err(e),
    }
}

/// The future of [`StreamCore::read`]: first what cancelled reads left
/// (see the module docs), else a RECV of its own. If dropped with its RECV
/// in flight, the op is parked in the core instead of being cancelled.
pub(crate) struct ReadFuture<'a, B: IoBufMut> {
    core: &'a StreamCore,
    /// The caller's buffer until the RECV takes it (or it is handed back).
    buf: Option<B>,
    op: Option<Op<Read<B>>>,
}

impl<B: IoBufMut> Unpin for ReadFuture<'_, B> {}

impl<B: IoBufMut> Future for ReadFuture<'_, B> {
    type Output = (io::Result<usize>, B);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(op) = this.op.as_mut() {
            let out = ready!(Pin::new(op).poll(cx));
            this.op = None;
            return Poll::Ready(out);
        }
        let mut buf = this.buf.take().expect("ReadFuture polled after completion");
        if buf.bytes_total() == 0 {
            return Poll::Ready((Ok(0), buf));
        }
        // The common case (no cancelled read left anything) is one check.
        if this.core.has_leftover() {
            match this.core.poll_leftover(cx, &mut buf) {
                Poll::Ready(Some(res)) => return Poll::Ready((res, buf)),
                Poll::Ready(None) => {}
                Poll::Pending => {
                    this.buf = Some(buf);
                    return Poll::Pending;
                }
            }
        }
        // Built in place (an op not yet submitted carries its SQE); the slot
        // is empty here, so nothing is dropped by the write.
        let op = this.op.get_or_insert_with(|| this.core.recv(buf));
        let out = ready!(Pin::new(op).poll(cx));
        this.op = None;
        Poll::Ready(out)
    }
}

impl<B: IoBufMut> Drop for ReadFuture<'_, B> {
    fn drop(&mut self) {
        if let Some(op) = self.op.take() {
            self.core
                .read
                .borrow_mut()
                .get_or_insert_with(Box::default)
                .pending
                .push_back(Box::new(op));
        }
    }
}

/// The owned-buffer I/O methods of a stream socket type whose `core` field
/// is a [`StreamCore`]; shared by TCP and Unix streams.
macro_rules! stream_io_methods {
    () => {
        /// Reads into `buf` (from its start, up to its capacity):
        /// `(Ok(n), buf)` with the data in `buf[..n]` — a `Vec`'s length
        /// grows to `n` if shorter but never shrinks, so use `n`. `Ok(0)` means the
        /// peer closed its write half — or that `buf` has no capacity
        /// (`Vec::new()` has none; use `Vec::with_capacity`).
        ///
        /// Cancel-safe: if this future is dropped before the data arrives,
        /// the receive stays in flight and the next `read` returns its bytes,
        /// so nothing the kernel received is lost. Read from one task at a
        /// time: two reads in flight at once get the data in an undefined order.
        // These return the core's futures directly (no `async fn` wrapper):
        // one state machine less per call on the hottest path.
        pub fn read<B: IoBufMut>(
            &self,
            buf: B,
        ) -> impl std::future::Future<Output = (io::Result<usize>, B)> + '_ {
            self.core.read(buf)
        }

        /// Fills `buf` to its capacity. If the stream ends first the error is
        /// `UnexpectedEof` and `buf` holds the bytes that did arrive.
        ///
        /// Not cancel-safe: dropping the future midway drops `buf` with the
        /// bytes already read into it. [`Reader::read_exact`](crate::Reader::read_exact)
        /// keeps them buffered instead.
        pub async fn read_exact<B: IoBufMut>(&self, buf: B) -> (io::Result<()>, B) {
            self.core.read_exact(buf).await
        }

        /// Sends the initialized bytes of `buf` once and returns how many the
        /// kernel took (possibly fewer). An empty buffer returns `Ok(0)`.
        pub fn write<B: IoBuf>(
            &self,
            buf: B,
        ) -> impl std::future::Future<Output = (io::Result<usize>, B)> + '_ {
            self.core.write(buf)
        }

        /// Sends every initialized byte of `buf`. If the future is dropped
        /// midway, an unknown prefix of `buf` may have been sent.
        pub fn write_all<B: IoBuf>(
            &self,
            buf: B,
        ) -> impl std::future::Future<Output = (io::Result<()>, B)> + '_ {
            self.core.write_all(buf)
        }

        /// Shuts down the read half, the write half (the peer reads end of
        /// stream; this side can still read) or both.
        pub async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
            self.core.shutdown(how).await
        }

        /// Splits the stream into an asyncio-style buffered
        /// [`Reader`](crate::Reader) and a cloneable [`Writer`](crate::Writer).
        pub fn into_split(self) -> (crate::Reader, crate::Writer) {
            crate::streams::split(self.core)
        }

        /// Wraps the stream in a [`PollStream`](crate::PollStream), which
        /// implements the `futures-io` `AsyncRead`/`AsyncWrite`/`AsyncBufRead` traits.
        pub fn into_poll_stream(self) -> crate::PollStream {
            crate::PollStream::new(self.core)
        }
    };
}
pub(crate) use stream_io_methods;
