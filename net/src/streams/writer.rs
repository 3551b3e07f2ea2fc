//! The [`Writer`] of asyncio-style streams.

use crate::core::StreamCore;
use ringloop_runtime::buf::IoBuf;
use ringloop_runtime::sync::Mutex;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;

struct Shared {
    core: Rc<StreamCore>,
    /// Held around each whole write, so clones never interleave. FIFO, and
    /// a cancelled waiter leaves the line in O(1).
    lock: Mutex<()>,
    /// Set when a write was cancelled after it started sending: the peer
    /// may hold part of a message, so no later write may follow it.
    poisoned: Cell<bool>,
}

/// Poisons the writer if dropped before [`Sending::done`]: marks a write
/// that was cancelled while bytes may have been sent.
struct Sending<'a> {
    poisoned: &'a Cell<bool>,
}

impl Sending<'_> {
    fn done(self) {
        std::mem::forget(self);
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.poisoned.set(true);
    }
}

fn poisoned_error() -> io::Error {
    io::Error::other(
        "a write on this stream was cancelled midway, so the peer may have received part of \
         a message and the stream's framing is lost; close the stream and reconnect",
    )
}

/// The writing half of an asyncio-style stream.
///
/// [`write`](Self::write) is asyncio's `write()` + `await drain()` in one
/// call: it returns once the kernel has taken every byte, so a peer that
/// reads slowly (a full socket buffer) holds the writer back instead of
/// letting data pile up in memory.
///
/// `Writer` is cheap to clone; clones used from several tasks write whole
/// messages in turn (first come, first served), never interleaved.
/// Dropping a `write` future after it started sending leaves an unknown
/// prefix of that message on the wire; the writer is then *poisoned*: every
/// later write on it and its clones fails with an error saying so, rather
/// than appending to a half-sent message. (Cancelling a write that is still
/// waiting for its turn is harmless.) Spawn writes you may want to cancel
/// the waiting for.
#[derive(Clone)]
pub struct Writer {
    shared: Rc<Shared>,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("core", &self.shared.core)
            .finish()
    }
}

impl Writer {
    pub(crate) fn new(core: Rc<StreamCore>) -> Writer {
        Writer {
            shared: Rc::new(Shared {
                core,
                lock: Mutex::new(()),
                poisoned: Cell::new(false),
            }),
        }
    }

    /// A writer of the write end of a pipe (a child's stdin, say), with
    /// WRITE ops instead of SEND. A pipe has no shutdown: `write_eof` and
    /// `close` fail with `Unsupported`; the pipe closes when every clone of
    /// the writer is dropped.
    pub fn from_pipe(pipe: std::io::PipeWriter) -> Writer {
        Writer::new(Rc::new(crate::core::StreamCore::pipe(
            std::os::fd::OwnedFd::from(pipe),
        )))
    }

    /// Writes all of `buf` (any owned buffer: `Vec<u8>`, `Bytes`, `String`,
    /// `&'static [u8]`, ...) and waits until the kernel has taken it.
    ///
    /// # Errors
    /// The socket's error, or an error if an earlier write on this stream
    /// was cancelled midway (see [`Writer`]).
    pub async fn write<B: IoBuf>(&self, buf: B) -> io::Result<()> {
        let _guard = self.shared.lock.lock().await;
        let sending = self.start_sending()?;
        let res = self.shared.core.write_all(buf).await.0;
        sending.done();
        res
    }

    /// Refuses to write after a cancelled partial write; otherwise arms the
    /// poison for the write about to start.
    fn start_sending(&self) -> io::Result<Sending<'_>> {
        if self.shared.poisoned.get() {
            return Err(poisoned_error());
        }
        Ok(Sending {
            poisoned: &self.shared.poisoned,
        })
    }

    /// Writes several buffers back to back, with no other writer's data
    /// in between.
    pub async fn write_lines<B: IoBuf, I: IntoIterator<Item = B>>(
        &self,
        bufs: I,
    ) -> io::Result<()> {
        let _guard = self.shared.lock.lock().await;
        let sending = self.start_sending()?;
        for buf in bufs {
            if let Err(e) = self.shared.core.write_all(buf).await.0 {
                sending.done();
                return Err(e);
            }
        }
        sending.done();
        Ok(())
    }

    /// Shuts down the write half after pending writes: the peer reads end
    /// of stream, and this side can still read.
    pub async fn write_eof(&self) -> io::Result<()> {
        let _guard = self.shared.lock.lock().await;
        self.shared.core.shutdown(Shutdown::Write).await
    }

    /// Shuts down both directions after pending writes. The socket is
    /// closed when the reader and every writer clone are dropped.
    pub async fn close(&self) -> io::Result<()> {
        let _guard = self.shared.lock.lock().await;
        self.shared.core.shutdown(Shutdown::Both).await
    }

    /// The peer's address, for TCP streams (`None` for Unix streams).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.shared.core.sock().peer_addr().ok()?.as_socket()
    }
}
