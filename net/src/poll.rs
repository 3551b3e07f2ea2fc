//! [`PollStream`]: the `futures-io` traits over a completion-based stream.

use crate::core::StreamCore;
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use ringloop_runtime::op::{self, Op, Recv, Send, Shutdown};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// How much one receive asks for.
const READ_BUF: usize = 16 * 1024;
/// The most one `poll_write` copies and sends.
const WRITE_MAX: usize = 64 * 1024;

/// A TCP or Unix stream with the `futures-io` [`AsyncRead`],
/// [`AsyncBufRead`] and [`AsyncWrite`] traits, for code written against
/// them (`futures_util::io::{AsyncReadExt, AsyncWriteExt, copy}`, codecs).
///
/// io_uring needs buffers it owns until the kernel is done, so the adapter
/// keeps an in-flight op and an owned buffer inside itself: reads land in
/// its buffer and are copied out (or lent through `poll_fill_buf`), writes
/// are copied into its buffer. A `poll_write` that returned `Pending` has
/// its data in flight: call it again (as `AsyncWriteExt` does) to learn
/// how much was sent. Dropping the adapter cancels its ops.
///
/// Made with [`TcpStream::into_poll_stream`](crate::TcpStream::into_poll_stream)
/// or [`UnixStream::into_poll_stream`](crate::UnixStream::into_poll_stream).
pub struct PollStream {
    core: StreamCore,
    /// Received bytes; `rbuf[rpos..]` not yet consumed.
    rbuf: Vec<u8>,
    rpos: usize,
    read_op: Option<Op<Recv<Vec<u8>>>>,
    /// The send buffer, back from the last send.
    wbuf: Vec<u8>,
    write_op: Option<Op<Send<Vec<u8>>>>,
    shutdown_op: Option<Op<Shutdown>>,
}

impl fmt::Debug for PollStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollStream")
            .field("core", &self.core)
            .field("buffered", &(self.rbuf.len() - self.rpos))
            .field("reading", &self.read_op.is_some())
            .field("writing", &self.write_op.is_some())
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
            shutdown_op: None,
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
    /// Waits for the send in flight, if any, and returns its result.
    fn poll_write_op(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<usize>>> {
        let Some(op) = self.write_op.as_mut() else {
            return Poll::Ready(None);
        };
        let (res, buf) = ready!(Pin::new(op).poll(cx));
        self.write_op = None;
        self.wbuf = buf;
        Poll::Ready(Some(res))
    }
}

impl AsyncWrite for PollStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.write_op.is_none() {
            if data.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let mut buf = std::mem::take(&mut this.wbuf);
            buf.clear();
            buf.extend_from_slice(&data[..data.len().min(WRITE_MAX)]);
            this.write_op = Some(op::send(this.core.fd(), buf, 0));
        }
        let res = ready!(this.poll_write_op(cx)).expect("a send is in flight");
        Poll::Ready(res)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Sends go straight to the kernel; only one left in flight by an
        // abandoned poll_write remains to wait for.
        match ready!(self.poll_write_op(cx)) {
            Some(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
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
