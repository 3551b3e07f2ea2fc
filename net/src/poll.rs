//! [`PollStream`]: the `futures-io` traits over a completion-based stream.

use crate::core::StreamCore;
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use ringloop_runtime::op::{self, Op, PollAdd, Recv, Send, Shutdown};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// How much one receive asks for.
const READ_BUF: usize = 16 * 1024;
/// The most data `poll_write` holds that the kernel has not taken yet.
const WRITE_MAX: usize = 64 * 1024;

/// A TCP or Unix stream with the `futures-io` [`AsyncRead`],
/// [`AsyncBufRead`] and [`AsyncWrite`] traits, for code written against
/// them (`futures_util::io::{AsyncReadExt, AsyncWriteExt, copy}`, codecs).
///
/// io_uring needs buffers it owns until the kernel is done, so the adapter
/// keeps an in-flight op and owned buffers inside itself: reads land in its
/// buffer and are copied out (or lent through `poll_fill_buf`).
///
/// Writes are buffered behind: `poll_write` copies the data into the
/// adapter (up to 64 KiB not yet taken by the kernel) and reports it
/// written at once; sends run in the background, in order, and a short
/// send is resumed until every byte went out. `poll_write` returns
/// `Pending` only while that buffer is full, so the count it reports
/// always belongs to the data of that call, whatever the caller passes
/// next. A send's error is reported by the next `poll_write`,
/// `poll_flush` or `poll_close`. Call `flush` (or `close`) to wait until
/// everything was handed to the kernel: dropping the adapter cancels its
/// ops, and data still buffered then is lost, as with any buffered writer.
///
/// Made with [`TcpStream::into_poll_stream`](crate::TcpStream::into_poll_stream)
/// or [`UnixStream::into_poll_stream`](crate::UnixStream::into_poll_stream).
pub struct PollStream {
    core: StreamCore,
    /// Received bytes; `rbuf[rpos..]` not yet consumed.
    rbuf: Vec<u8>,
    rpos: usize,
    read_op: Option<Op<Recv<Vec<u8>>>>,
    /// Data accepted by `poll_write` and not yet in a send.
    wbuf: Vec<u8>,
    /// The send in flight: its buffer holds accepted data not yet sent,
    /// from its start.
    write_op: Option<Op<Send<Vec<u8>>>>,
    /// A buffer back from a completed send, reused for the next one.
    spare: Vec<u8>,
    /// An error of a background send, not yet reported to the caller.
    write_err: Option<io::Error>,
    shutdown_op: Option<Op<Shutdown>>,
    /// Readiness-mode reads (see [`PollStream::set_readiness_io`]).
    readiness: bool,
    /// Writes try the socket first (see [`PollStream::set_write_through`]).
    write_through: bool,
    /// Readiness mode: the POLL_ADD a read waits in.
    ready_op: Option<Op<PollAdd>>,
}

impl fmt::Debug for PollStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollStream")
            .field("core", &self.core)
            .field("buffered", &(self.rbuf.len() - self.rpos))
            .field("reading", &self.read_op.is_some())
            .field("writing", &self.write_op.is_some())
            .field("write_buffered", &self.wbuf.len())
            .finish()
    }
}

impl PollStream {
    pub(crate) fn new(core: StreamCore) -> PollStream {
        PollStream {
            core,
            rbuf: Vec::new(),
            rpos: 0,
            read_op: None,
            wbuf: Vec::new(),
            write_op: None,
            spare: Vec::new(),
            write_err: None,
            shutdown_op: None,
            readiness: false,
            write_through: false,
            ready_op: None,
        }
    }

    /// Readiness mode: moves reads and writes from owned-buffer ops to
    /// non-blocking syscalls on the caller's own buffers, the model of epoll
    /// runtimes. `poll_read` receives straight into the caller's slice
    /// (waiting in a POLL_ADD on the ring while there is nothing to read),
    /// and `poll_write` first offers the caller's slices to the socket with
    /// `sendmsg`; only what the socket does not take is buffered and sent by
    /// the ring as usual. That saves a copy each way for callers that move
    /// data in large pieces with their own buffers (TLS records: the TLS
    /// streams turn it on), at one syscall per write; the default mode
    /// batches small writes into fewer sends instead. `poll_fill_buf` keeps
    /// using the adapter's buffer in both modes.
    pub fn set_readiness_io(&mut self, on: bool) {
        self.readiness = on;
        self.write_through = on;
    }

    /// The write half of readiness mode alone: writes with nothing queued
    /// go to the socket at once with `sendmsg`, reads stay owned-buffer
    /// RECVs. Good for one reply per request (HTTP/1.1: the reply leaves
    /// without a send op whose completion wakes the task again); worse for
    /// many writes per turn, which the default coalesces (HTTP/2).
    pub fn set_write_through(&mut self, on: bool) {
        self.write_through = on;
    }

    /// Readiness mode's read: straight into `out`, once no received data
    /// is buffered in the adapter.
    fn poll_read_direct(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if let Some(op) = self.ready_op.as_mut() {
                let res = ready!(Pin::new(op).poll(cx));
                self.ready_op = None;
                res?;
            }
            match self.core.fd().try_recv(out) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.ready_op = Some(op::poll_add(self.core.fd(), libc::POLLIN as u32));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => return Poll::Ready(res),
            }
        }
    }

    /// Refills `rbuf` when it is consumed: first with what cancelled reads
    /// of the stream left behind, then with a new receive.
    fn poll_refill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.rpos < self.rbuf.len() {
            return Poll::Ready(Ok(()));
        }
        if self.read_op.is_none() {
            let mut buf = std::mem::take(&mut self.rbuf);
            buf.clear();
            buf.reserve(READ_BUF);
            self.rpos = 0;
            if let Some(res) = ready!(self.core.poll_leftover(cx, &mut buf)) {
                self.rbuf = buf;
                return Poll::Ready(res.map(drop));
            }
            self.read_op = Some(op::recv(self.core.fd(), buf, 0));
        }
        let op = self.read_op.as_mut().expect("set above");
        let (res, buf) = ready!(Pin::new(op).poll(cx));
        self.read_op = None;
        self.rbuf = buf;
        self.rpos = 0;
        if res.is_err() {
            self.rbuf.clear();
        }
        Poll::Ready(res.map(drop))
    }
}

impl AsyncRead for PollStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = &mut *self;
        if this.readiness
            && this.rpos == this.rbuf.len()
            && this.read_op.is_none()
            && !this.core.has_leftover()
        {
            return this.poll_read_direct(cx, out);
        }
        ready!(this.poll_refill(cx))?;
        let avail = &this.rbuf[this.rpos..];
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        this.rpos += n;
        Poll::Ready(Ok(n))
    }
}

impl AsyncBufRead for PollStream {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_refill(cx))?;
        Poll::Ready(Ok(&this.rbuf[this.rpos..]))
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.rpos = (self.rpos + amt).min(self.rbuf.len());
    }
}

impl PollStream {
    /// Advances the background sends: collects a finished send, resumes a
    /// short one with its rest, and starts sending what `poll_write`
    /// buffered meanwhile. `Ready` once nothing is in flight, which also
    /// means nothing is buffered; `Pending` while a send is in flight. A
    /// send's error is kept in `write_err` and ends the sending (the
    /// unsent data is dropped: the stream's state is unknown after it).
    fn poll_sends(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(op) = self.write_op.as_mut() {
                let (res, mut buf) = ready!(Pin::new(op).poll(cx));
                self.write_op = None;
                match res {
                    Ok(n) if n > 0 && n < buf.len() => {
                        // A short send: the rest goes out before anything
                        // buffered after it.
                        buf.drain(..n);
                        self.write_op = Some(op::send(self.core.fd(), buf, 0));
                        continue;
                    }
                    Ok(n) if n > 0 => {
                        buf.clear();
                        self.spare = buf;
                    }
                    Ok(_) => {
                        self.fail_writes(io::Error::new(
                            io::ErrorKind::WriteZero,
                            format!("the socket accepted none of {} buffered bytes", buf.len()),
                        ));
                        return Poll::Ready(());
                    }
                    Err(e) => {
                        self.fail_writes(e);
                        return Poll::Ready(());
                    }
                }
            }
            if self.wbuf.is_empty() || self.write_err.is_some() {
                return Poll::Ready(());
            }
            // Send everything buffered; the next writes fill the spare buffer.
            let next = std::mem::replace(&mut self.wbuf, std::mem::take(&mut self.spare));
            self.write_op = Some(op::send(self.core.fd(), next, 0));
        }
    }

    /// Records a send's error and drops the data that will not be sent.
    fn fail_writes(&mut self, e: io::Error) {
        self.wbuf.clear();
        self.write_err = Some(e);
    }
}

impl AsyncWrite for PollStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(data)])
    }

    /// Takes as much of `bufs`, in order, as fits in the write buffer: one
    /// copy into it, then one SEND for all of them (hyper's headers and body
    /// chunks go out together without hyper flattening them first, and
    /// writes made while a send is in flight leave together in the next).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let _ = this.poll_sends(cx);
        if let Some(e) = this.write_err.take() {
            return Poll::Ready(Err(e));
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        // Readiness mode with nothing queued: offer the data to the socket
        // at once, from the caller's slices; the rest goes the ring's way.
        let mut sent = 0;
        if this.write_through && this.write_op.is_none() && this.wbuf.is_empty() {
            match this
                .core
                .sock()
                .send_vectored_with_flags(bufs, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
            {
                Ok(n) if n == total => return Poll::Ready(Ok(n)),
                Ok(n) => sent = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let mut room = WRITE_MAX.saturating_sub(this.wbuf.len());
        if room == 0 {
            debug_assert!(this.write_op.is_some());
            return Poll::Pending;
        }
        let (mut n, mut skip) = (sent, sent);
        for b in bufs {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            let b = &b[skip..];
            skip = 0;
            let take = room.min(b.len());
            this.wbuf.extend_from_slice(&b[..take]);
            n += take;
            room -= take;
            if room == 0 {
                break;
            }
        }
        if this.write_op.is_none() {
            let _ = this.poll_sends(cx);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_sends(cx));
        match this.write_err.take() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        let this = &mut *self;
        let op = this
            .shutdown_op
            .get_or_insert_with(|| op::shutdown(this.core.fd(), std::net::Shutdown::Write));
        let res = ready!(Pin::new(op).poll(cx));
        this.shutdown_op = None;
        Poll::Ready(res)
    }
}
