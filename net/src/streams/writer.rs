//! The [`Writer`] of asyncio-style streams.

use super::lock::FifoLock;
use crate::core::StreamCore;
use ringloop_runtime::buf::IoBuf;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;

struct Shared {
    core: Rc<StreamCore>,
    /// Held around each whole write, so clones never interleave.
    lock: FifoLock,
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
/// Dropping a `write` future midway leaves an unknown prefix of that
/// message sent, which does corrupt the stream: don't cancel writes you
/// need intact (spawn them instead).
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
                lock: FifoLock::default(),
            }),
        }
    }

    /// Writes all of `buf` (any owned buffer: `Vec<u8>`, `Bytes`, `String`,
    /// `&'static [u8]`, ...) and waits until the kernel has taken it.
    pub async fn write<B: IoBuf>(&self, buf: B) -> io::Result<()> {
        let _guard = self.shared.lock.lock().await;
        self.shared.core.write_all(buf).await.0
    }

    /// Writes several buffers back to back, with no other writer's data
    /// in between.
    pub async fn write_lines<B: IoBuf, I: IntoIterator<Item = B>>(
        &self,
        bufs: I,
    ) -> io::Result<()> {
        let _guard = self.shared.lock.lock().await;
        for buf in bufs {
            self.shared.core.write_all(buf).await.0?;
        }
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
