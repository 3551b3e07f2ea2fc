//! The accept loop behind `incoming()`: multishot ACCEPT where the kernel
//! has it (one SQE, one CQE per connection), single-shot ACCEPT otherwise,
//! re-armed whenever the kernel ends the multishot op, and backing off when
//! the process or system is out of file descriptors or memory.
//!
//! Why back off: under EMFILE the pending connection stays in the listen
//! queue, so an accept retried at once fails at once — a busy loop that
//! starves the tasks whose work would free descriptors. The stream yields
//! the error (so it can be logged) and waits before the next accept: 10 ms,
//! doubling up to 1 s, reset by the next success.

use crate::unix::SocketFile;
use futures_util::Stream;
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op::{self, Accept, AcceptMulti, MultiOp, Op};
use ringloop_timer::{sleep, Sleep};
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The first back-off after a resource error.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest back-off.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Where the accept loop is.
#[derive(Debug)]
enum State {
    /// No op in flight; the next poll arms one.
    Idle,
    /// A single-shot ACCEPT in flight.
    Single(Op<Accept>),
    /// A multishot ACCEPT; when its stream ends the loop goes back to Idle.
    Multi(MultiOp<AcceptMulti>),
    /// Waiting out a resource error; then Idle.
    Backoff(Sleep),
}

/// An endless stream of accepted sockets and accept errors.
#[derive(Debug)]
pub(crate) struct AcceptStream {
    fd: SharedFd,
    multishot: bool,
    state: State,
    backoff: Duration,
}

impl AcceptStream {
    pub(crate) fn new(fd: SharedFd) -> AcceptStream {
        AcceptStream {
            fd,
            multishot: ringloop_runtime::features().multishot_accept,
            state: State::Idle,
            backoff: BACKOFF_MIN,
        }
    }

    /// Records the outcome of one accept: success resets the back-off, a
    /// resource error starts one.
    fn after(&mut self, res: io::Result<OwnedFd>) -> io::Result<OwnedFd> {
        match &res {
            Ok(_) => self.backoff = BACKOFF_MIN,
            Err(e) if is_resource_error(e) => {
                self.state = State::Backoff(sleep(self.backoff));
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
            Err(_) => {}
        }
        res
    }
}

/// Errors that mean "out of fds or memory": retrying at once cannot succeed.
fn is_resource_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl Stream for AcceptStream {
    type Item = io::Result<OwnedFd>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle => {
                    this.state = if this.multishot {
                        State::Multi(op::accept_multi(&this.fd))
                    } else {
                        State::Single(op::accept(&this.fd))
                    };
                }
                State::Single(op) => {
                    let res = futures_util::ready!(Pin::new(op).poll(cx));
                    this.state = State::Idle;
                    return Poll::Ready(Some(this.after(res.map(|(fd, _)| fd))));
                }
                State::Multi(stream) => {
                    match futures_util::ready!(Pin::new(stream).poll_next(cx)) {
                        Some(res) => return Poll::Ready(Some(this.after(res))),
                        // The kernel ended the op (after an error, or on its own): re-arm.
                        None => this.state = State::Idle,
                    }
                }
                State::Backoff(sleep) => {
                    futures_util::ready!(Pin::new(sleep).poll(cx));
                    this.state = State::Idle;
                }
            }
        }
    }
}

/// Builds a stream socket type from a freshly accepted fd.
pub trait FromAccepted: Sized {
    /// Wraps the accepted, connected socket.
    fn from_accepted(fd: OwnedFd) -> Self;
}

/// The stream of connections of a listener, from
/// [`TcpListener::incoming`](crate::TcpListener::incoming) or
/// [`UnixListener::incoming`](crate::UnixListener::incoming).
///
/// It never ends. Per-connection errors (a connection reset before it was
/// accepted) are yielded and the stream goes on; on EMFILE, ENFILE, ENOBUFS
/// or ENOMEM it yields the error and waits before accepting again (10 ms,
/// doubling up to 1 s, reset by the next success), so a loop that logs and
/// continues does not spin. Uses multishot ACCEPT when
/// [`Features::multishot_accept`](ringloop_runtime::Features) is set (Linux
/// 5.19+), re-armed whenever the kernel ends it; single-shot ACCEPT otherwise.
/// Dropping it cancels the accept in flight.
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<T> {
    inner: AcceptStream,
    /// The listener's socket file, removed when the last of the listener
    /// and its `Incoming` streams is dropped (Unix listeners only).
    _socket_file: Option<Rc<SocketFile>>,
    _marker: std::marker::PhantomData<fn() -> T>,
}

impl<T> Incoming<T> {
    pub(crate) fn new(fd: SharedFd, socket_file: Option<Rc<SocketFile>>) -> Incoming<T> {
        Incoming {
            inner: AcceptStream::new(fd),
            _socket_file: socket_file,
            _marker: std::marker::PhantomData,
        }
    }
}

impl<T> Incoming<T> {
    /// Chooses multishot ACCEPT (`true`, the default where the kernel has
    /// it) or one single-shot ACCEPT per connection (`false`). Single-shot
    /// takes a connection only when this stream is polled, which lets
    /// several SO_REUSEPORT listeners share load by how busy they are;
    /// multishot saves an SQE per connection. `true` on a kernel without
    /// multishot accept stays single-shot.
    ///
    /// # Panics
    /// Outside a ringloop runtime (it asks the runtime which accept the
    /// kernel supports).
    pub fn multishot(mut self, on: bool) -> Self {
        let on = on && ringloop_runtime::features().multishot_accept;
        if on != self.inner.multishot {
            self.inner.multishot = on;
            self.inner.state = State::Idle;
        }
        self
    }

    /// Whether multishot ACCEPT is in use.
    pub fn is_multishot(&self) -> bool {
        self.inner.multishot
    }
}

impl<T> std::fmt::Debug for Incoming<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<T: FromAccepted> Stream for Incoming<T> {
    type Item = io::Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|item| item.map(|res| res.map(T::from_accepted)))
    }
}
