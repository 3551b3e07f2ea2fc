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
