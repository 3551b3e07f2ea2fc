//! [`Child`] and its streams.

use crate::command::{Command, Kind, Stdio};
use futures_util::future::join3;
use io_uring::opcode;
use ringloop_net::{Reader, Writer};
use ringloop_runtime::buf::IoBuf;
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op::{self, Op, PollAdd, WaitId};
use ringloop_runtime::pidfd;
use std::cell::RefCell;
use std::ffi::OsString;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::process::{ExitStatus, Output};
use std::task::{ready, Context, Poll, Waker};

/// A child's standard output: a stream [`Reader`] (`read`, `read_line`,
/// `read_until`, `read_exact`, `read_to_end`).
pub type ChildStdout = Reader;
/// A child's standard error: a stream [`Reader`].
pub type ChildStderr = Reader;

/// A child's standard input: the write end of a pipe.
#[derive(Debug)]
pub struct ChildStdin {
    /// `None` once closed.
    writer: RefCell<Option<Writer>>,
}

impl ChildStdin {
    /// Writes all of `buf` and waits until the kernel took it (the child may
    /// not have read it yet).
    ///
    /// # Errors
    /// `BrokenPipe` if the child closed its stdin (or exited), or if
    /// [`close`](Self::close) was called.
    pub async fn write<B: IoBuf>(&self, buf: B) -> io::Result<()> {
        let writer = self.writer.borrow().clone();
        match writer {
            Some(w) => w.write(buf).await,
            None => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the child's stdin was closed",
            )),
        }
    }

    /// The same as [`write`](Self::write): every byte is written.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> io::Result<()> {
        self.write(buf).await
    }

    /// Ends the input: the child reads end of file once writes in flight
    /// are done. (Dropping it does the same.)
    ///
    /// # Errors
    /// None today; `Result` for symmetry with sockets.
    pub async fn close(&self) -> io::Result<()> {
        drop(self.writer.borrow_mut().take());
        Ok(())
    }
}

/// What [`Child::communicate`] writes to the child's stdin: bytes, a
/// string, or `None` for nothing.
pub trait Input {
    /// The bytes to write, if any.
    fn into_input(self) -> Option<Vec<u8>>;
}

impl Input for Option<Vec<u8>> {
    fn into_input(self) -> Option<Vec<u8>> {
        self
    }
}
impl Input for Vec<u8> {
    fn into_input(self) -> Option<Vec<u8>> {
        Some(self)
    }
}
impl Input for &[u8] {
    fn into_input(self) -> Option<Vec<u8>> {
        Some(self.to_vec())
    }
}
impl<const N: usize> Input for &[u8; N] {
    fn into_input(self) -> Option<Vec<u8>> {
        Some(self.to_vec())
    }
}
impl Input for &str {
    fn into_input(self) -> Option<Vec<u8>> {
        Some(self.as_bytes().to_vec())
    }
}
impl Input for String {
    fn into_input(self) -> Option<Vec<u8>> {
        Some(self.into_bytes())
    }
}

/// The exit watch in flight.
enum Watch {
    /// IORING_OP_WAITID: completes with the status (and has reaped).
    Waitid(Op<WaitId>),
    /// POLL_ADD on the pidfd: readable once the child exited.
    Poll(Op<PollAdd>),
}

/// A running (or finished) child process, from [`Command::spawn`].
///
/// Its `stdin`, `stdout` and `stderr` are `Some` for the streams set to
/// [`Stdio::piped`]; take them to use them from other tasks.
pub struct Child {
    pid: u32,
    pidfd: SharedFd,
    /// The child's stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
    status: Option<ExitStatus>,
    watch: Option<Watch>,
    kill_on_drop: bool,
    program: OsString,
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("program", &self.program)
            .field("pid", &self.pid)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// What a child's pipes hold (the unprivileged default maximum).
const PIPE_CAPACITY: usize = 1 << 20;

/// A piped stream's two ends: ours (as a ringloop stream) and the child's.
enum Ours {
    Read(Reader),
    Write(Writer),
}

/// Sets up one of the child's standard streams; `child_reads` for stdin.
fn stdio(cfg: Stdio, child_reads: bool) -> io::Result<(Option<Ours>, std::process::Stdio)> {
    Ok(match cfg.kind() {
        Kind::Piped => {
            let (r, w) = std::io::pipe()?;
            // Deeper than the default 64 KiB, so bulk output moves in
            // fewer ring turns; the default stays if the kernel refuses.
            let _ = ringloop_runtime::fd::set_pipe_capacity(&r, PIPE_CAPACITY);
            if child_reads {
                (
                    Some(Ours::Write(Writer::from_pipe(w))),
                    std::process::Stdio::from(r),
                )
            } else {
                (
                    Some(Ours::Read(Reader::from_pipe(r))),
                    std::process::Stdio::from(w),
                )
            }
        }
        Kind::Null => (None, std::process::Stdio::null()),
        Kind::Inherit => (None, std::process::Stdio::inherit()),
    })
}

impl Child {
    pub(crate) fn spawn(cmd: &Command, default: Stdio) -> io::Result<Child> {
        let program = cmd.get_program().to_owned();
        let mut std_cmd = cmd.to_std();
        let (stdin, s) = stdio(cmd.stdin.unwrap_or(default), true)?;
        std_cmd.stdin(s);
        let (stdout, s) = stdio(cmd.stdout.unwrap_or(default), false)?;
        std_cmd.stdout(s);
        let (stderr, s) = stdio(cmd.stderr.unwrap_or(default), false)?;
        std_cmd.stderr(s);
        let child = std_cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {program:?}: {e}")))?;
        // The child's ends of the pipes live in `std_cmd`: close them here so
        // our readers see the end of the child's output.
        drop(std_cmd);
        let pid = child.id();
        let fd = match pidfd::open(pid) {
            Ok(fd) => fd,
            Err(e) => {
                // Without a pidfd the child cannot be watched: end it.
                let mut child = child;
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot watch {program:?} (pid {pid}): pidfd_open failed (Linux 5.3+ needed): {e}"),
                ));
            }
        };
        // The std handle holds no pipes (we passed our own) and its drop
        // neither kills nor waits: the pidfd is the handle from now on.
        drop(child);
        let reader = |s: Option<Ours>| match s {
            Some(Ours::Read(r)) => Some(r),
            _ => None,
        };
        let stdin = match stdin {
            Some(Ours::Write(w)) => Some(ChildStdin {
                writer: RefCell::new(Some(w)),
            }),
            _ => None,
        };
        Ok(Child {
            pid,
            pidfd: SharedFd::new(fd),
            stdin,
            stdout: reader(stdout),
            stderr: reader(stderr),
            status: None,
            watch: None,
            kill_on_drop: cmd.kill_on_drop,
            program,
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Advances the exit watch; `Ready` with the status once it exited.
    fn poll_exit(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        loop {
            if let Some(status) = self.status {
                return Poll::Ready(Ok(status));
            }
            match &mut self.watch {
                None => {
                    if ringloop_runtime::features().supports(opcode::WaitId::CODE) {
                        self.watch = Some(Watch::Waitid(op::waitid(&self.pidfd)));
                        continue;
                    }
                    match pidfd::wait(&self.pidfd, false) {
                        Ok(Some(status)) => self.status = Some(status),
                        Ok(None) => {
                            let events = libc::POLLIN as u32;
                            self.watch = Some(Watch::Poll(op::poll_add(&self.pidfd, events)));
                        }
                        Err(e) => return Poll::Ready(Err(self.wait_error(e))),
                    }
                }
                Some(Watch::Waitid(op)) => {
                    let res = ready!(Pin::new(op).poll(cx));
                    self.watch = None;
                    match res {
                        Ok(status) => self.status = Some(status),
                        Err(e) => return Poll::Ready(Err(self.wait_error(e))),
                    }
                }
                Some(Watch::Poll(op)) => {
                    let res = ready!(Pin::new(op).poll(cx));
                    self.watch = None;
                    if let Err(e) = res {
                        return Poll::Ready(Err(self.wait_error(e)));
                    }
                }
            }
        }
    }

    fn wait_error(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("cannot wait for {:?} (pid {}): {e}", self.program, self.pid),
        )
    }

    /// Waits for the child to exit and returns its status (and reaps it).
    /// Closes the child's stdin first, as std does, so a child reading it
    /// is not left waiting. Cancel-safe: the watch stays with the `Child`,
    /// so a `wait` dropped by a timeout can be called again.
    ///
    /// # Errors
    /// The wait failed (the child was reaped by someone else).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        poll_fn(|cx| self.poll_exit(cx)).await
    }

    /// The exit status if the child has exited (and reaps it), else `None`.
    ///
    /// # Errors
    /// The wait failed.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_exit(&mut cx) {
            Poll::Ready(res) => res.map(Some),
            Poll::Pending => Ok(None),
        }
    }

    /// Sends `sig` (`libc::SIGTERM`, ...) to the child. Nothing happens if
    /// it was waited for already.
    ///
    /// # Errors
    /// An invalid signal number.
    pub fn send_signal(&self, sig: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        match pidfd::send_signal(&self.pidfd, sig) {
            // Exited and reaped meanwhile (by a WAITID in flight).
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            res => res,
        }
    }

    /// Kills the child (SIGKILL). Call [`wait`](Self::wait) to reap it (or
    /// drop it: it is then reaped in the background).
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn kill(&self) -> io::Result<()> {
        self.send_signal(libc::SIGKILL)
    }

    /// Asks the child to end (SIGTERM).
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn terminate(&self) -> io::Result<()> {
        self.send_signal(libc::SIGTERM)
    }

    /// Writes `input` to the child's stdin (then closes it) while reading
    /// its stdout and stderr to their ends, all at once so that no full pipe
    /// can stall the others, and waits for the exit. Streams that are not
    /// piped come back empty. A child that closes its stdin before taking
    /// all the input is not an error (as in asyncio and std): its output
    /// and status are still returned.
    ///
    /// # Errors
    /// Reading the output or waiting fails.
    pub async fn communicate(&mut self, input: impl Input) -> io::Result<Output> {
        let stdin = self.stdin.take();
        let input = input.into_input();
        let feed = async move {
            let Some(stdin) = stdin else { return Ok(()) };
            let res = match input {
                Some(data) if !data.is_empty() => stdin.write(data).await,
                _ => Ok(()),
            };
            let res = res.and(stdin.close().await);
            match res {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    Ok(())
                }
                res => res,
            }
        };
        let (out, err) = (self.stdout.take(), self.stderr.take());
        let (fed, stdout, stderr) = join3(feed, drain(out), drain(err)).await;
        fed?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: stdout?,
            stderr: stderr?,
        })
    }

    /// Waits with [`communicate`](Self::communicate) and no input.
    ///
    /// # Errors
    /// As `communicate`.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        self.communicate(None).await
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        if self.kill_on_drop {
            let _ = pidfd::send_signal(&self.pidfd, libc::SIGKILL);
        }
        // A WAITID in flight is cancelled (it may have reaped already).
        self.watch = None;
        if !matches!(pidfd::wait(&self.pidfd, false), Ok(None)) {
            return;
        }
        // Still running: reap it when it exits.
        let Ok(owned) = self.pidfd.as_fd().try_clone_to_owned() else {
            return;
        };
        if ringloop_runtime::Handle::try_current().is_some() {
            let reaper = Reaper(Some(owned));
            let pidfd = self.pidfd.clone();
            drop(ringloop_runtime::spawn(reap(pidfd, reaper)));
        } else {
            drop(Reaper(Some(owned)));
        }
    }
}

/// Reaps a child on a thread of its own when dropped armed (outside a
/// runtime, or when the runtime ended before the child did).
struct Reaper(Option<OwnedFd>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(fd) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("ringloop-reaper".into())
                .spawn(move || pidfd::wait(&fd, true));
        }
    }
}

/// Reads a piped stream to its end (nothing for a stream not piped).
async fn drain(r: Option<Reader>) -> io::Result<Vec<u8>> {
    match r {
        Some(mut r) => r.read_to_end().await.map(Vec::from),
        None => Ok(Vec::new()),
    }
}

/// Waits in the loop for an abandoned child's exit, then reaps it.
async fn reap(pidfd: SharedFd, mut reaper: Reaper) {
    loop {
        if op::poll_add(&pidfd, libc::POLLIN as u32).await.is_err() {
            break;
        }
        if !matches!(pidfd::wait(&pidfd, false), Ok(None)) {
            break;
        }
    }
    // Reaped (or impossible to): nothing left for a thread to do.
    drop(reaper.0.take());
}
