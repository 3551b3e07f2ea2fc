//! Unix signals as streams: `ctrl_c()` and `signal(SignalKind)`, read from
//! a signalfd through the ring.
//!
//! # Which threads must block the signal
//! A signalfd only sees a signal that is *blocked* in the thread the kernel
//! would deliver it to; a thread that does not block it takes the default
//! action instead (for SIGINT/SIGTERM: the process ends). [`signal`] blocks
//! its signal in the calling thread, and threads started *afterwards* inherit
//! that mask. What ringloop guarantees:
//! - the runtime's thread and every `to_thread` pool thread (which block all
//!   asynchronous signals when they start) never take the signal;
//! - threads that were started **before** the first `signal()` call — a test
//!   harness's main thread, a logger, another library's threads — are not
//!   changed; they can take a process-directed signal. Create signal streams
//!   at the start of `main`, before other threads exist, for a reliable
//!   graceful shutdown.
//!
//! Once a signal was blocked, it stays blocked in that thread even after the
//! stream is dropped: unblocking it with a signal pending would run the
//! default action. Child processes started with `std::process::Command` get
//! an empty signal mask, as usual.
//!
//! # How it reads
//! The signalfd is non-blocking; a stream reads it with `op::read`, and when
//! nothing is pending waits with `op::poll_add` for POLLIN and reads again.
//! Both ops run in the loop's own thread context, so signals directed at
//! that thread (`pthread_kill`) are seen as well as process-directed ones,
//! and no io-wq worker thread is parked in a blocking read.

use crate::fd::SharedFd;
use crate::op::{self, Op, PollAdd, Read};
use futures_util::Stream;
use std::fmt;
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The size of `struct signalfd_siginfo`: one signal per read.
const SIGINFO_SIZE: usize = std::mem::size_of::<libc::signalfd_siginfo>();

/// A signal number, with constructors for the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// SIGINT (Ctrl-C).
    pub const fn interrupt() -> Self {
        SignalKind(libc::SIGINT)
    }
    /// SIGTERM (the polite "please stop" of `kill`, systemd, Kubernetes).
    pub const fn terminate() -> Self {
        SignalKind(libc::SIGTERM)
    }
    /// SIGHUP.
    pub const fn hangup() -> Self {
        SignalKind(libc::SIGHUP)
    }
    /// SIGQUIT.
    pub const fn quit() -> Self {
        SignalKind(libc::SIGQUIT)
    }
    /// SIGUSR1.
    pub const fn user_defined1() -> Self {
        SignalKind(libc::SIGUSR1)
    }
    /// SIGUSR2.
    pub const fn user_defined2() -> Self {
        SignalKind(libc::SIGUSR2)
    }
    /// SIGCHLD.
    pub const fn child() -> Self {
        SignalKind(libc::SIGCHLD)
    }
    /// SIGWINCH.
    pub const fn window_change() -> Self {
        SignalKind(libc::SIGWINCH)
    }
    /// Any signal by number (`libc::SIGRTMIN() + n`, ...). SIGKILL, SIGSTOP
    /// and fault signals cannot be caught; [`signal`] reports them as errors.
    pub const fn from_raw(signum: libc::c_int) -> Self {
        SignalKind(signum)
    }
    /// The signal number.
    pub const fn as_raw(self) -> libc::c_int {
        self.0
    }
}

/// A stream of deliveries of one signal; see the [module docs](self).
///
/// Standard signals that arrive while one is pending coalesce, so the
/// stream yields at least once per burst, not once per `kill`. If several
/// streams exist for the same signal, each delivery goes to one of them.
pub struct Signal {
    kind: SignalKind,
    fd: SharedFd,
    state: ReadState,
}

enum ReadState {
    /// No op in flight; the buffer for the next read.
    Idle(Vec<u8>),
    /// A read of the signalfd in flight.
    Reading(Op<Read<Vec<u8>>>),
    /// Nothing was pending: waiting for the signalfd to become readable.
    Waiting(Op<PollAdd>, Vec<u8>),
    /// Between states (only while `poll_recv` runs).
    Moving,
}

/// Listens for `kind`: blocks it in this thread (see the module docs for
/// other threads) and opens a signalfd for it.
///
/// ```no_run
/// use ringloop_runtime::signal::{signal, SignalKind};
/// ringloop_runtime::run(async {
///     let mut term = signal(SignalKind::terminate()).unwrap();
///     term.recv().await.unwrap();
///     println!("SIGTERM: shutting down");
/// });
/// ```
///
/// # Errors
/// If the signal cannot be caught (SIGKILL, SIGSTOP, an invalid number),
/// or no file descriptor is available.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let fd = crate::sys::signalfd_for(kind.0)?;
    Ok(Signal {
        kind,
        fd: SharedFd::new(fd),
        state: ReadState::Idle(Vec::with_capacity(SIGINFO_SIZE)),
    })
}

/// Waits for one SIGINT (Ctrl-C).
///
/// Each call opens its own signalfd; a SIGINT that arrives between two
/// calls stays pending (blocked) and is returned by the next one.
///
/// # Errors
/// As [`signal`], or if reading the signalfd fails.
pub async fn ctrl_c() -> io::Result<()> {
    signal(SignalKind::interrupt())?.recv().await
}

impl Signal {
    /// Waits for the next delivery of the signal.
    ///
    /// Cancel-safe: the ring ops live in the `Signal`, not in this future,
    /// so dropping it (e.g. the losing side of a `select`) loses no
    /// delivery; the next call picks up where this one stopped.
    ///
    /// # Errors
    /// If reading the signalfd fails (not expected in practice).
    pub async fn recv(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The signal this stream listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    /// Polls for the next delivery (the [`Stream`] impl calls this).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match std::mem::replace(&mut self.state, ReadState::Moving) {
                ReadState::Idle(buf) => {
                    self.state = ReadState::Reading(op::read(&self.fd, buf, None));
                }
                ReadState::Reading(mut read) => {
                    let (res, mut buf) = match Pin::new(&mut read).poll(cx) {
                        Poll::Ready(out) => out,
                        Poll::Pending => {
                            self.state = ReadState::Reading(read);
                            return Poll::Pending;
                        }
                    };
                    buf.clear();
                    match res {
                        Ok(n) if n >= SIGINFO_SIZE => {
                            self.state = ReadState::Idle(buf);
                            return Poll::Ready(Ok(()));
                        }
                        Ok(n) => {
                            self.state = ReadState::Idle(buf);
                            return Poll::Ready(Err(io::Error::other(format!(
                                "short read of {n} bytes from a signalfd"
                            ))));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            let poll = op::poll_add(&self.fd, libc::POLLIN as u32);
                            self.state = ReadState::Waiting(poll, buf);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                            self.state = ReadState::Idle(buf);
                        }
                        Err(e) => {
                            self.state = ReadState::Idle(buf);
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                ReadState::Waiting(mut poll, buf) => {
                    let res = match Pin::new(&mut poll).poll(cx) {
                        Poll::Ready(res) => res,
                        Poll::Pending => {
                            self.state = ReadState::Waiting(poll, buf);
                            return Poll::Pending;
                        }
                    };
                    self.state = ReadState::Idle(buf);
                    res?;
                }
                ReadState::Moving => unreachable!("poll_recv restores the state before returning"),
            }
        }
    }
}

impl Stream for Signal {
    type Item = io::Result<()>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let res = ready!(self.get_mut().poll_recv(cx));
        Poll::Ready(Some(res))
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("fd", &self.fd)
            .finish()
    }
}

/// Blocks `kinds` in the calling thread, and so in every thread it starts
/// afterwards, without opening a stream: the signals then wait for a
/// [`Signal`] stream of some runtime instead of taking their default
/// action. Call it at the start of `main` when the streams are made on
/// other threads, e.g. in runtimes started by
/// [`Builder::run_per_thread`](crate::Builder::run_per_thread): the
/// launching thread does not block them by itself, and a SIGINT it took
/// would end the process.
///
/// # Errors
/// A kind is SIGKILL, SIGSTOP or not a valid signal.
pub fn block(kinds: &[SignalKind]) -> io::Result<()> {
    let mut signals = Vec::with_capacity(kinds.len());
    for kind in kinds {
        if matches!(kind.0, libc::SIGKILL | libc::SIGSTOP)
            || kind.0 <= 0
            || kind.0 > libc::SIGRTMAX()
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("signal {} cannot be blocked", kind.0),
            ));
        }
        signals.push(kind.0);
    }
    crate::sys::block_signals(&signals)
}

/// Sends `kind` to the calling thread only (`tgkill`): a safe way for
/// tests to exercise a [`Signal`] stream without touching other threads.
///
/// # Errors
/// If the signal number is invalid.
pub fn raise_in_this_thread(kind: SignalKind) -> io::Result<()> {
    crate::sys::tgkill_self(kind.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run;

    #[test]
    fn a_signal_raised_in_this_thread_is_received() {
        run(async {
            let mut s = signal(SignalKind::user_defined1()).unwrap();
            assert_eq!(s.kind(), SignalKind::user_defined1());
            // The read first finds nothing, then waits in poll_add.
            let waiter = crate::spawn(async move {
                s.recv().await.unwrap();
                s
            });
            crate::yield_now().await;
            raise_in_this_thread(SignalKind::user_defined1()).unwrap();
            let mut s = waiter.await.unwrap();
            // A second delivery, already pending before recv is called.
            raise_in_this_thread(SignalKind::user_defined1()).unwrap();
            s.recv().await.unwrap();
        });
    }

    #[test]
    fn a_cancelled_recv_loses_no_delivery() {
        run(async {
            let mut s = signal(SignalKind::user_defined2()).unwrap();
            {
                // Start a recv (read finds nothing, poll_add goes in flight), then drop it.
                let mut recv = Box::pin(s.recv());
                assert!(crate::sync::poll_once(recv.as_mut()).await.is_pending());
            }
            raise_in_this_thread(SignalKind::user_defined2()).unwrap();
            let mut stream = Box::pin(s);
            let item = futures_util::StreamExt::next(&mut stream).await;
            assert!(matches!(item, Some(Ok(()))));
        });
    }

    #[test]
    fn ctrl_c_resolves_on_sigint() {
        run(async {
            // Block SIGINT in this test thread before raising it at this thread only.
            let first = signal(SignalKind::interrupt()).unwrap();
            drop(first);
            raise_in_this_thread(SignalKind::interrupt()).unwrap();
            // Pending (blocked) since the raise; the new signalfd reads it.
            ctrl_c().await.unwrap();
        });
    }

    #[test]
    fn uncatchable_signals_are_errors() {
        run(async {
            let err = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
            assert!(err.to_string().contains("cannot be caught"), "{err}");
            assert!(signal(SignalKind::from_raw(0)).is_err());
        });
    }
}
