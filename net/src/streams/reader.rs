//! The buffered [`Reader`] of asyncio-style streams.

use crate::core::StreamCore;
use bytes::{Bytes, BytesMut};
use std::error::Error;
use std::fmt;
use std::io;
use std::rc::Rc;

/// The default line/delimiter length limit (64 KiB, as asyncio's).
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// How much a read asks the kernel for while the stream is quiet: an idle
/// connection holds this much buffer in its pending read.
const MIN_READ: usize = 1024;
/// How much a read asks for at most, after earlier reads came back full.
const MAX_READ: usize = 64 * 1024;

/// The error inside an `UnexpectedEof` [`io::Error`] from
/// [`Reader::read_exact`] and [`Reader::read_until`]: the stream ended
/// before the request was met, and these are the bytes that did arrive
/// (asyncio's `IncompleteReadError`).
///
/// ```no_run
/// # async fn f(reader: &mut ringloop_net::Reader) {
/// use ringloop_net::IncompleteRead;
/// match reader.read_exact(4).await {
///     Ok(header) => println!("{header:?}"),
///     Err(e) => match IncompleteRead::of(&e) {
///         Some(inc) => println!("peer closed after {} bytes", inc.partial.len()),
///         None => println!("read failed: {e}"),
///     },
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct IncompleteRead {
    /// The bytes read before the end of stream.
    pub partial: Bytes,
    /// How many bytes were expected (`None` for a delimiter that never came).
    pub expected: Option<usize>,
}

impl IncompleteRead {
    /// The `IncompleteRead` carried by `err`, if it carries one.
    pub fn of(err: &io::Error) -> Option<&IncompleteRead> {
        err.get_ref()?.downcast_ref()
    }

    fn into_error(self) -> io::Error {
        io::Error::new(io::ErrorKind::UnexpectedEof, self)
    }
}

impl fmt::Display for IncompleteRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.expected {
            Some(n) => write!(
                f,
                "the stream ended after {} of {n} expected bytes (the partial data is in this error)",
                self.partial.len()
            ),
            None => write!(
                f,
                "the stream ended after {} bytes without the delimiter (the partial data is in this error)",
                self.partial.len()
            ),
        }
    }
}

impl Error for IncompleteRead {}

/// The error inside an `InvalidData` [`io::Error`] from
/// [`Reader::read_line`]/[`Reader::read_until`] when no delimiter appears
/// within the reader's limit (asyncio's `LimitOverrunError`).
#[derive(Debug, Clone)]
pub struct LimitOverrun {
    /// The reader's limit.
    pub limit: usize,
    /// Bytes buffered when the limit was hit.
    pub buffered: usize,
}

impl LimitOverrun {
    /// The `LimitOverrun` carried by `err`, if it carries one.
    pub fn of(err: &io::Error) -> Option<&LimitOverrun> {
        err.get_ref()?.downcast_ref()
    }
}

impl fmt::Display for LimitOverrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no delimiter within the limit of {} bytes ({} buffered); raise it with \
             Reader::set_limit or read the data with Reader::read",
            self.limit, self.buffered
        )
    }
}

impl Error for LimitOverrun {}

/// The reading half of an asyncio-style stream: buffered, with
/// [`read`](Self::read), [`read_line`](Self::read_line),
/// [`read_until`](Self::read_until) and [`read_exact`](Self::read_exact).
///
/// Every method is cancel-safe: data read from the socket stays in the
/// reader's buffer (or in the stream) if a call is dropped midway, and the
/// next call sees it.
pub struct Reader {
    core: Rc<StreamCore>,
    buf: BytesMut,
    limit: usize,
    eof: bool,
    /// What the next read asks the kernel for: doubled (up to [`MAX_READ`])
    /// after a read that filled it, halved (down to [`MIN_READ`]) after one
    /// that used under a quarter. A busy stream reads in large chunks; an
    /// idle one waits with a small buffer.
    read_size: usize,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("buffered", &self.buf.len())
            .field("limit", &self.limit)
            .field("eof", &self.eof)
            .finish()
    }
}

impl Reader {
    pub(crate) fn new(core: Rc<StreamCore>) -> Reader {
        Reader {
            core,
            buf: BytesMut::new(),
            limit: DEFAULT_LIMIT,
            eof: false,
            read_size: MIN_READ,
        }
    }

    /// A reader of the read end of a pipe (a child's stdout, say), with
    /// READ ops instead of RECV.
    pub fn from_pipe(pipe: std::io::PipeReader) -> Reader {
        Reader::new(Rc::new(StreamCore::pipe(std::os::fd::OwnedFd::from(pipe))))
    }

    /// The line/delimiter length limit (default [`DEFAULT_LIMIT`]).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Sets the line/delimiter length limit.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Whether the end of stream was seen and the buffer is empty.
    pub fn at_eof(&self) -> bool {
        self.eof && self.buf.is_empty()
    }

    /// Reads more from the socket into the buffer; `false` at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let len = self.buf.len();
        self.buf.reserve(self.read_size);
        // Read into the spare capacity as a separate handle, so that the
        // buffered bytes stay here even if this future is dropped.
        let spare = self.buf.split_off(len);
        let (res, spare) = self.core.read(spare).await;
        match res {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(n) => {
                if n >= spare.capacity() {
                    self.read_size = (self.read_size * 2).min(MAX_READ);
                } else if n < self.read_size / 4 {
                    self.read_size = (self.read_size / 2).max(MIN_READ);
                }
                self.buf.unsplit(spare);
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// Up to `n` bytes: what is buffered, or else one read from the socket.
    /// Empty at end of stream (or for `n == 0`).
    pub async fn read(&mut self, n: usize) -> io::Result<Bytes> {
        if n == 0 {
            return Ok(Bytes::new());
        }
        if self.buf.is_empty() {
            self.fill().await?;
        }
        let n = n.min(self.buf.len());
        Ok(self.buf.split_to(n).freeze())
    }

    /// Everything until the end of stream.
    ///
    /// The returned `Bytes` owns the reader's buffer outright (the reader
    /// starts a new one), so `Vec::from` on it takes the allocation instead
    /// of copying it.
    pub async fn read_to_end(&mut self) -> io::Result<Bytes> {
        while self.fill().await? {}
        Ok(std::mem::take(&mut self.buf).freeze())
    }

    /// Exactly `n` bytes. If the stream ends first, the error's kind is
    /// `UnexpectedEof` and it carries the partial data ([`IncompleteRead`]).
    pub async fn read_exact(&mut self, n: usize) -> io::Result<Bytes> {
        while self.buf.len() < n {
            if !self.fill().await? {
                let partial = self.buf.split().freeze();
                return Err(IncompleteRead {
                    partial,
                    expected: Some(n),
                }
                .into_error());
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }

    /// The bytes up to and including `delim` (one or more bytes).
    ///
    /// # Errors
    /// - End of stream before `delim`: `UnexpectedEof` carrying the partial
    ///   data ([`IncompleteRead`]); the buffer is emptied.
    /// - No `delim` within [`limit`](Self::limit) bytes: `InvalidData`
    ///   carrying a [`LimitOverrun`]; the data stays buffered (read it
    ///   with [`read`](Self::read)).
    ///
    /// # Panics
    /// If `delim` is empty.
    pub async fn read_until(&mut self, delim: &[u8]) -> io::Result<Bytes> {
        assert!(!delim.is_empty(), "read_until needs a non-empty delimiter");
        let mut scanned = 0;
        loop {
            if let Some(pos) = find(&self.buf[scanned..], delim) {
                let end = scanned + pos + delim.len();
                if end > self.limit {
                    return Err(self.overrun());
                }
                return Ok(self.buf.split_to(end).freeze());
            }
            if self.buf.len() > self.limit {
                return Err(self.overrun());
            }
            // The delimiter may straddle what is buffered and what comes next.
            scanned = self.buf.len().saturating_sub(delim.len() - 1);
            if !self.fill().await? {
                let partial = self.buf.split().freeze();
                return Err(IncompleteRead {
                    partial,
                    expected: None,
                }
                .into_error());
            }
        }
    }

    /// One line, including its `\n`; at end of stream the last, unterminated
    /// line, and then empty. A line longer than the limit is an
    /// `InvalidData` error carrying a [`LimitOverrun`], and is discarded
    /// (up to its `\n` if that was read, else what was buffered) so the
    /// next call starts afresh — as asyncio's `readline` does.
    pub async fn read_line(&mut self) -> io::Result<Bytes> {
        match self.read_until(b"\n").await {
            Ok(line) => Ok(line),
            Err(e) => {
                if let Some(inc) = IncompleteRead::of(&e) {
                    return Ok(inc.partial.clone());
                }
                if LimitOverrun::of(&e).is_some() {
                    match find(&self.buf, b"\n") {
                        Some(pos) => drop(self.buf.split_to(pos + 1)),
                        None => self.buf.clear(),
                    }
                }
                Err(e)
            }
        }
    }

    fn overrun(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            LimitOverrun {
                limit: self.limit,
                buffered: self.buf.len(),
            },
        )
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return haystack.iter().position(|&b| b == needle[0]);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
