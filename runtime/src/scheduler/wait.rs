//! `wait` and `try_wait`: wait for spawned tasks until a condition holds,
//! without ever cancelling the ones still running (asyncio's `wait`).

use super::gather::{indexed, Indexed};
use crate::op::Deadline;
use crate::task::{JoinError, JoinHandle};
use futures_util::stream::{FuturesUnordered, Stream};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// When [`wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// When every task has finished.
    AllCompleted,
    /// As soon as at least one task has finished.
    FirstCompleted,
    /// As soon as one task has failed, or when all have finished. For
    /// [`wait`] a failure is a panic or an abort; for [`try_wait`] it is also
    /// an `Err` output.
    FirstError,
}

/// What [`wait`] returns: the finished tasks and the ones still running.
#[derive(Debug)]
pub struct WaitOutcome<T> {
    /// Finished tasks in completion order, each with its index in the input.
    pub done: Vec<(usize, Result<T, JoinError>)>,
    /// Unfinished tasks in input order, each with its index in the input.
    /// They keep running: await the handles later, `abort()` them, or drop
    /// them to detach.
    pub pending: Vec<(usize, JoinHandle<T>)>,
    /// Whether the wait ended because its timeout expired before the
    /// [`ReturnWhen`] condition held.
    pub timed_out: bool,
}

/// Waits for the tasks behind `handles` until `when` holds and returns the
/// finished ones with their outputs and the pending ones with their handles.
/// Pending tasks are never cancelled, not even when the wait itself is
/// dropped: their handles are then dropped, which detaches them.
///
/// Use [`Wait::timeout`] to bound the wait. For tasks returning `Result`,
/// [`try_wait`] counts an `Err` output as a failure for
/// [`ReturnWhen::FirstError`].
///
/// ```
/// use ringloop_runtime::{run, spawn, wait, yield_now, ReturnWhen};
///
/// run(async {
///     let quick = spawn(async { 1 });
///     let slow = spawn(async { loop { yield_now().await } });
///     let out = wait(vec![quick, slow], ReturnWhen::FirstCompleted).await;
///     assert_eq!(out.done.len(), 1);
///     assert_eq!(out.done[0].0, 0);
///     assert_eq!(out.pending[0].0, 1);
///     out.pending[0].1.abort();
/// });
/// ```
pub fn wait<T, I>(handles: I, when: ReturnWhen) -> Wait<T>
where
    I: IntoIterator<Item = JoinHandle<T>>,
{
    Wait::new(handles, when, |r| r.is_err())
}

/// Like [`wait`], for tasks whose output is a `Result`: with
/// [`ReturnWhen::FirstError`], an `Ok(Err(_))` output counts as a failure
/// too, as well as a panic or an abort.
///
/// ```
/// use ringloop_runtime::{run, spawn, try_wait, yield_now, ReturnWhen};
///
/// run(async {
///     let failing = spawn(async { Err::<u8, &str>("no") });
///     let slow = spawn(async { loop { yield_now().await } });
///     let out = try_wait(vec![failing, slow], ReturnWhen::FirstError).await;
///     assert!(matches!(out.done[0], (0, Ok(Err("no")))));
///     out.pending[0].1.abort();
/// });
/// ```
pub fn try_wait<T, E, I>(handles: I, when: ReturnWhen) -> Wait<Result<T, E>>
where
    I: IntoIterator<Item = JoinHandle<Result<T, E>>>,
{
    Wait::new(handles, when, |r| matches!(r, Err(_) | Ok(Err(_))))
}

/// The future of [`wait`] and [`try_wait`].
#[must_use = "wait does nothing unless awaited"]
pub struct Wait<T> {
    children: FuturesUnordered<Indexed<JoinHandle<T>>>,
    done: Vec<(usize, Result<T, JoinError>)>,
    when: ReturnWhen,
    is_failure: fn(&Result<T, JoinError>) -> bool,
    failed: bool,
    deadline: Option<Deadline>,
}

impl<T> Unpin for Wait<T> {}

impl<T> Wait<T> {
    fn new<I>(handles: I, when: ReturnWhen, is_failure: fn(&Result<T, JoinError>) -> bool) -> Self
    where
        I: IntoIterator<Item = JoinHandle<T>>,
    {
        let children = indexed(handles);
        Wait {
            done: Vec::with_capacity(children.len()),
            children,
            when,
            is_failure,
            failed: false,
            deadline: None,
        }
    }

    /// Returns after at most `duration` (asyncio's `wait(..., timeout=)`),
    /// with [`WaitOutcome::timed_out`] set if the condition did not hold by
    /// then. The timer is a ring TIMEOUT op; it never fires early.
    pub fn timeout(self, duration: Duration) -> Self {
        // `Instant + Duration::MAX` would panic: a timeout beyond ~30 years
        // is the same as none, so cap it there.
        const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
        let now = Instant::now();
        self.timeout_at(now.checked_add(duration.min(FAR)).unwrap_or(now))
    }

    /// Like [`Wait::timeout`], with an absolute deadline.
    pub fn timeout_at(mut self, deadline: Instant) -> Self {
        self.deadline = Some(Deadline::new(deadline));
        self
    }

    fn satisfied(&self) -> bool {
        match self.when {
            ReturnWhen::AllCompleted => self.children.is_empty(),
            ReturnWhen::FirstCompleted => !self.done.is_empty() || self.children.is_empty(),
            ReturnWhen::FirstError => self.failed || self.children.is_empty(),
        }
    }

    fn finish(&mut self, timed_out: bool) -> WaitOutcome<T> {
        let mut pending: Vec<_> = std::mem::take(&mut self.children)
            .into_iter()
            .map(|child| (child.index, child.future))
            .collect();
        pending.sort_unstable_by_key(|(index, _)| *index);
        WaitOutcome {
            done: std::mem::take(&mut self.done),
            pending,
            timed_out,
        }
    }
}

impl<T> Future for Wait<T> {
    type Output = WaitOutcome<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WaitOutcome<T>> {
        let this = &mut *self;
        // Take everything finished by now, so `done` holds all tasks that
        // are complete at the moment the condition is checked.
        while let Poll::Ready(Some((index, result))) = Pin::new(&mut this.children).poll_next(cx) {
            this.failed |= (this.is_failure)(&result);
            this.done.push((index, result));
        }
        if this.satisfied() {
            return Poll::Ready(this.finish(false));
        }
        if let Some(deadline) = &mut this.deadline {
            if deadline.poll_elapsed(cx).is_ready() {
                return Poll::Ready(this.finish(true));
            }
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("when", &self.when)
            .field("done", &self.done.len())
            .field("pending", &self.children.len())
            .finish()
    }
}
