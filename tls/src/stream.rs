//! [`TlsStream`]: a rustls connection over a ringloop stream.

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use ringloop_net::PollStream;
use ringloop_runtime::buf::{IoBuf, IoBufMut};
use std::fmt;
use std::future::poll_fn;
use std::io::{self, BufRead, Read, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A TLS connection (server or client side) over a TCP or Unix stream, from
/// [`TlsAcceptor::accept`](crate::TlsAcceptor::accept) or
/// [`TlsConnector::connect`](crate::TlsConnector::connect), with the
/// handshake done.
///
/// It reads and writes like a [`TcpStream`](ringloop_net::TcpStream):
/// owned-buffer [`read`](Self::read) / [`write`](Self::write) /
/// [`write_all`](Self::write_all), and the `futures-io` [`AsyncRead`],
/// [`AsyncBufRead`] and [`AsyncWrite`] traits (for hyper, through
/// `ringloop_http::HyperIo`). Its methods take `&mut self`: one task reads
/// and writes it at a time.
///
/// Cancel-safe: the receive and send in flight and the decrypted bytes
/// live in the stream, so a dropped `read` loses nothing and the next one
/// returns the bytes.
///
/// # Copies
/// The stream runs its socket in readiness mode
/// ([`PollStream::set_readiness_io`]): received records go from the kernel
/// straight into rustls's buffer, are decrypted in place there and copied
/// out to the caller; written plaintext is encrypted by rustls into its own
/// buffer, which goes to the kernel with a non-blocking `sendmsg` (only what
/// the socket cannot take at once is copied aside and sent by the ring).
/// Those are the copies rustls's buffered API makes itself, as with
/// tokio-rustls; readiness waits are POLL_ADD ops on the ring.
///
/// # End of stream
/// A peer's `close_notify` reads as end of stream (`Ok(0)`). A connection
/// that ends without one reads as an `UnexpectedEof` error (it may have been
/// cut short). [`shutdown`](Self::shutdown) sends `close_notify` and ends
/// the write side.
pub struct TlsStream {
    io: PollStream,
    conn: rustls::Connection,
    /// `close_notify` was queued.
    closing: bool,
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("io", &self.io)
            .field("handshaking", &self.conn.is_handshaking())
            .field(
                "alpn",
                &self.conn.alpn_protocol().map(String::from_utf8_lossy),
            )
            .finish()
    }
}

/// The stream as `std::io` for rustls: `Pending` reads as `WouldBlock`.
struct SyncIo<'a, 'b> {
    io: &'a mut PollStream,
    cx: &'a mut Context<'b>,
}

impl Read for SyncIo<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_read(self.cx, buf) {
            Poll::Ready(res) => res,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for SyncIo<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, buf) {
            Poll::Ready(res) => res,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs) {
            Poll::Ready(res) => res,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What rustls's plaintext buffer holds.
enum Plain {
    Data,
    Eof,
    Empty,
}

impl TlsStream {
    pub(crate) fn new(mut io: PollStream, conn: rustls::Connection) -> TlsStream {
        // Records move between the socket and rustls's own buffers with no
        // copy in between (see `PollStream::set_readiness_io`).
        io.set_readiness_io(true);
        TlsStream {
            io,
            conn,
            closing: false,
        }
    }

    /// The ALPN protocol the handshake agreed on, if any (`b"h2"`, ...).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The server name the client asked for (SNI): on the server side only.
    pub fn server_name(&self) -> Option<&str> {
        match &self.conn {
            rustls::Connection::Server(c) => c.server_name(),
            rustls::Connection::Client(_) => None,
        }
    }

    /// The rustls connection (negotiated version, cipher suite, peer
    /// certificates, ...).
    pub fn connection(&self) -> &rustls::Connection {
        &self.conn
    }

    /// The stream under the TLS layer.
    pub fn get_ref(&self) -> &PollStream {
        &self.io
    }

    /// Hands what rustls has to send to the socket's send buffer and keeps
    /// the sends going. `Pending` only when the send buffer is full (the
    /// send in flight wakes the task).
    fn poll_push(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut io = SyncIo {
                io: &mut self.io,
                cx,
            };
            match self.conn.write_tls(&mut io) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        // Starts the next send (or collects a finished one) with this task's
        // waker; data in flight is not waited for here.
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Receives records and decrypts them. `Ok(0)` at the socket's end of
    /// stream. A record rustls refuses is an `InvalidData` error, after the
    /// alert rustls makes is queued to the peer.
    fn poll_pull(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut io = SyncIo {
            io: &mut self.io,
            cx,
        };
        let n = match self.conn.read_tls(&mut io) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.poll_push(cx);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("TLS error from the peer's data: {e}"),
            )));
        }
        Poll::Ready(Ok(n))
    }

    /// Runs the handshake to its end.
    pub(crate) fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_push(cx))?;
            if !self.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            if !self.conn.wants_read() {
                // Waiting for our own flight to leave; its send wakes us.
                return Poll::Pending;
            }
            if ready!(self.poll_pull(cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the TLS handshake",
                )));
            }
        }
    }

    fn plain(&mut self) -> io::Result<Plain> {
        match self.conn.reader().fill_buf() {
            Ok([]) => Ok(Plain::Eof),
            Ok(_) => Ok(Plain::Data),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Plain::Empty),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the connection without a TLS close_notify \
                 (the data may be cut short)",
            )),
            Err(e) => Err(e),
        }
    }

    /// Waits until decrypted bytes (or the end) are ready.
    fn poll_ready_plain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            // Keep our sends (alerts, key updates, earlier writes) moving.
            ready!(self.poll_push(cx))?;
            match self.plain()? {
                Plain::Data | Plain::Eof => return Poll::Ready(Ok(())),
                Plain::Empty => {
                    ready!(self.poll_pull(cx))?;
                }
            }
        }
    }

    fn poll_write_plain(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if self.closing {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the TLS stream was shut down",
            )));
        }
        loop {
            let n = self.conn.writer().write_vectored(bufs)?;
            let pushed = self.poll_push(cx)?;
            if n > 0 {
                return Poll::Ready(Ok(n));
            }
            // rustls's send buffer is full: wait for the socket to take some.
            ready!(pushed);
        }
    }

    /// Reads decrypted bytes into `buf` (from its start, up to its
    /// capacity): `Ok(0)` is the end of the stream (the peer's
    /// `close_notify`). Cancel-safe.
    pub async fn read<B: IoBufMut>(&mut self, mut buf: B) -> (io::Result<usize>, B) {
        if buf.bytes_total() == 0 {
            return (Ok(0), buf);
        }
        let res = poll_fn(|cx| {
            ready!(self.poll_ready_plain(cx))?;
            let mut reader = self.conn.reader();
            let chunk = reader.fill_buf().unwrap_or(&[]);
            let n = buf.put_init(chunk);
            reader.consume(n);
            Poll::Ready(Ok(n))
        })
        .await;
        (res, buf)
    }

    /// Encrypts and sends some of `buf`'s bytes (all of them unless the
    /// buffers are full); returns how many were taken.
    pub async fn write<B: IoBuf>(&mut self, buf: B) -> (io::Result<usize>, B) {
        let res =
            poll_fn(|cx| self.poll_write_plain(cx, &[io::IoSlice::new(buf.init_bytes())])).await;
        (res, buf)
    }

    /// Encrypts and sends every byte of `buf`, and waits until the socket
    /// took them.
    pub async fn write_all<B: IoBuf>(&mut self, buf: B) -> (io::Result<()>, B) {
        let mut sent = 0;
        let data = buf.init_bytes();
        while sent < data.len() {
            match poll_fn(|cx| self.poll_write_plain(cx, &[io::IoSlice::new(&data[sent..])])).await
            {
                Ok(n) => sent += n,
                Err(e) => return (Err(e), buf),
            }
        }
        let res = poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await;
        (res, buf)
    }

    /// Waits until everything written was handed to the kernel.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Sends `close_notify`, flushes, and shuts down the write side of the
    /// socket. Reading goes on until the peer's own end.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_close(cx)).await
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_ready_plain(cx))?;
        Poll::Ready(this.conn.reader().read(out).or_else(|e| match e.kind() {
            io::ErrorKind::WouldBlock => Ok(0),
            _ => Err(e),
        }))
    }
}

impl AsyncBufRead for TlsStream {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_ready_plain(cx))?;
        Poll::Ready(this.conn.reader().into_first_chunk())
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().conn.reader().consume(amt);
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_plain(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_plain(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_push(cx))?;
        if this.conn.wants_write() {
            return Poll::Pending;
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closing {
            this.closing = true;
            this.conn.send_close_notify();
        }
        ready!(Pin::new(&mut *this).poll_flush(cx))?;
        Pin::new(&mut this.io).poll_close(cx)
    }
}
