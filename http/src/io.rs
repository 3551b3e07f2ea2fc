//! [`HyperIo`]: hyper's I/O traits over a ringloop stream.

use futures_io::{AsyncBufRead, AsyncWrite};
use hyper::rt::{Read, ReadBufCursor, Write};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// hyper's [`Read`] and [`Write`] over a ringloop stream: a
/// [`PollStream`](ringloop_net::PollStream) (TCP or Unix), a TLS stream, or
/// anything with the `futures-io` [`AsyncBufRead`] and [`AsyncWrite`]
/// traits.
///
/// # Cancel safety
/// io_uring needs buffers it owns until the kernel is done with them, and
/// hyper lends its buffers only for the length of one `poll_read`. So the
/// stream owns the buffer of the receive in flight and keeps that receive
/// (and what it received) when hyper drops or stops polling a read: the
/// bytes come out of the next `poll_read`. The one-future-per-poll bug of
/// other io_uring adapters (a read made anew on each poll, never completing
/// and losing data) cannot happen here: there is one receive at a time and
/// it lives in the stream, not in a future.
///
/// # Copies
/// One copy each way, and hyper makes none of its own on top:
/// - **reads**: the kernel writes into the stream's receive buffer, and
///   `poll_read` copies from it into hyper's read buffer (hyper's buffer is
///   only lent during the call, so the kernel cannot write into it
///   directly without a second syscall per read). hyper then hands body
///   chunks out of its buffer without copying.
/// - **writes**: the adapter is vectored, so hyper does not flatten headers
///   and body chunks into one buffer; `poll_write_vectored` copies them once
///   into the stream's send buffer, which one SEND takes to the kernel.
#[derive(Debug)]
pub struct HyperIo<T> {
    inner: T,
}

impl<T> HyperIo<T> {
    /// Wraps a stream.
    pub fn new(inner: T) -> HyperIo<T> {
        HyperIo { inner }
    }

    /// The stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream (with whatever it buffered).
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncBufRead + Unpin> Read for HyperIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let room = buf.remaining();
        if room == 0 {
            return Poll::Ready(Ok(()));
        }
        let inner = Pin::new(&mut self.inner);
        let avail = ready!(inner.poll_fill_buf(cx))?;
        let n = avail.len().min(room);
        buf.put_slice(&avail[..n]);
        Pin::new(&mut self.inner).consume(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> Write for HyperIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// A plain connection as `Http::serve` hands it to hyper: it picks the
/// stream's write mode from the client's first bytes. HTTP/1.1 replies
/// go straight to the socket (one `sendmsg` each, no send op to wake the
/// task again); HTTP/2's many frames per turn stay coalesced in ring sends.
#[derive(Debug)]
pub(crate) struct AutoWrites {
    inner: ringloop_net::PollStream,
    decided: bool,
}

/// What an HTTP/2 client with prior knowledge sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

impl AutoWrites {
    pub(crate) fn new(inner: ringloop_net::PollStream) -> AutoWrites {
        AutoWrites {
            inner,
            decided: false,
        }
    }
}

impl AsyncBufRead for AutoWrites {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if !this.decided {
            let decision = {
                let buf = ready!(Pin::new(&mut this.inner).poll_fill_buf(cx))?;
                if buf.is_empty() {
                    // The end of the stream: report it now (asking again
                    // would start another receive instead).
                    return Poll::Ready(Ok(&[]));
                }
                let n = buf.len().min(H2_PREFACE.len());
                let h1 = buf[..n] != H2_PREFACE[..n];
                // Decide once enough is in (or the first bytes already differ).
                (h1 || n == H2_PREFACE.len()).then_some(h1)
            };
            if let Some(h1) = decision {
                this.decided = true;
                this.inner.set_write_through(h1);
            }
        }
        // The bytes are buffered in the stream: this returns them without
        // another receive.
        Pin::new(&mut this.inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.inner).consume(amt)
    }
}

impl futures_io::AsyncRead for AutoWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, out)
    }
}

impl AsyncWrite for AutoWrites {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
