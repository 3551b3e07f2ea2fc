//! `to_thread` / `spawn_blocking`: run a closure on a bounded pool of
//! threads and await its result on the loop.
//!
//! Each runtime owns one pool. Threads start on demand up to
//! `Builder::max_blocking_threads`, and exit after idling for
//! `Builder::blocking_keep_alive`. A finished closure wakes its task with
//! the task's `Send + Sync` waker, which reaches a sleeping ring through the
//! runtime's eventfd: the loop never polls for results.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// A runtime's pool of blocking threads (a cheap handle).
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<PoolState>,
    /// Signalled when a job is queued for an idle thread, or at shutdown.
    work: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    /// Threads waiting for work that no submitter has claimed yet.
    idle: usize,
    /// Wake-ups sent to idle threads and not yet consumed: a submitter
    /// claims an idle thread by moving one from `idle` to here.
    notified: usize,
    shutdown: bool,
}

impl fmt::Debug for PoolState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolState")
            .field("jobs", &self.jobs.len())
            .field("threads", &self.threads)
            .field("idle", &self.idle)
            .field("shutdown", &self.shutdown)
            .finish()
    }
}

impl Pool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                state: Mutex::new(PoolState {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                }),
                work: Condvar::new(),
                max_threads: max_threads.max(1),
                keep_alive,
            }),
        }
    }

    /// Number of pool threads alive.
    pub(crate) fn threads(&self) -> usize {
        self.inner.lock().threads
    }

    /// Queues `job` and makes sure a thread will run it. A job that can
    /// never run (the pool shut down, no thread could be started) is
    /// dropped, which resolves its handle with a cancelled error.
    fn submit(&self, job: Job) {
        let mut st = self.inner.lock();
        if st.shutdown {
            drop(st);
            drop(job);
            return;
        }
        st.jobs.push_back(job);
        if st.idle > 0 {
            st.idle -= 1;
            st.notified += 1;
            self.inner.work.notify_one();
        } else if st.threads < self.inner.max_threads {
            st.threads += 1;
            let inner = self.inner.clone();
            let spawned = thread::Builder::new()
                .name("ringloop-blocking".into())
                .spawn(move || inner.worker());
            if let Err(e) = spawned {
                st.threads -= 1;
                if st.threads == 0 {
                    eprintln!("ringloop: could not start a blocking-pool thread: {e}");
                    let jobs: Vec<_> = st.jobs.drain(..).collect();
                    drop(st);
                    drop(jobs);
                }
            }
        }
        // Otherwise every thread is busy: the job waits for the first free one.
    }

    /// Drops queued jobs and lets idle threads exit. Running closures
    /// finish on their own; the runtime does not wait for them.
    pub(crate) fn shutdown(&self) {
        let jobs: Vec<_> = {
            let mut st = self.inner.lock();
            st.shutdown = true;
            st.jobs.drain(..).collect()
        };
        self.inner.work.notify_all();
        drop(jobs);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Jobs run outside the lock and catch their panics, so poisoning
        // cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn worker(&self) {
        // A signal meant for a signalfd must never be taken by a pool thread.
        crate::sys::block_async_signals();
        let mut st = self.lock();
        loop {
            if let Some(job) = st.jobs.pop_front() {
                drop(st);
                job();
                st = self.lock();
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            loop {
                let (guard, waited) = self
                    .work
                    .wait_timeout(st, self.keep_alive)
                    .unwrap_or_else(|p| p.into_inner());
                st = guard;
                if st.notified > 0 {
                    st.notified -= 1; // claimed by a submitter, which un-counted us
                    break;
                }
                if st.shutdown || waited.timed_out() {
                    st.idle -= 1;
                    if st.jobs.is_empty() {
                        st.threads -= 1;
                        return;
                    }
                    break;
                }
            }
        }
        st.threads -= 1;
    }
}

/// Runs `f` on the runtime's blocking pool and returns a future of its
/// result (asyncio's `to_thread`). Use it for blocking calls (file system,
/// DNS, CPU-heavy work) that would stall the loop.
///
/// - A panic in `f` resolves the future to a [`BlockingError`] whose
///   [`is_panic`](BlockingError::is_panic) is true; it never unwinds into
///   the caller.
/// - **Dropping (cancelling) the future does not stop `f`**: a running
///   closure runs to the end and its result is dropped. A closure still
///   queued when the runtime shuts down is dropped without running.
/// - At most `Builder::max_blocking_threads` closures run at once; more wait
///   in FIFO order.
///
/// ```
/// ringloop_runtime::run(async {
///     let n = ringloop_runtime::to_thread(|| (1..=10u64).product::<u64>()).await.unwrap();
///     assert_eq!(n, 3_628_800);
///     let err = ringloop_runtime::to_thread(|| panic!("boom")).await.unwrap_err();
///     assert!(err.is_panic());
/// });
/// ```
///
/// # Panics
/// Outside a ringloop runtime.
#[track_caller]
pub fn to_thread<F, T>(f: F) -> BlockingHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_blocking(f)
}

/// The same as [`to_thread`] (tokio's name for it).
///
/// # Panics
/// Outside a ringloop runtime.
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> BlockingHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let pool = crate::context::core("ringloop::to_thread").blocking.clone();
    let slot = Arc::new(Mutex::new(SlotState::Waiting(None)));
    let completer = Completer {
        slot: Some(slot.clone()),
    };
    pool.submit(Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f));
        completer.complete(result);
    }));
    BlockingHandle { slot }
}

/// Where a closure's result meets the future waiting for it.
enum SlotState<T> {
    /// Not finished; the waker of the task awaiting it, once polled.
    Waiting(Option<Waker>),
    Done(thread::Result<T>),
    /// The closure was dropped without running (pool shut down).
    Dropped,
    /// The result was returned by the future.
    Taken,
}

type Slot<T> = Arc<Mutex<SlotState<T>>>;

fn lock_slot<T>(slot: &Slot<T>) -> MutexGuard<'_, SlotState<T>> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fills the slot exactly once: with the result, or `Dropped` if the job
/// is dropped before it ran.
struct Completer<T> {
    slot: Option<Slot<T>>,
}

impl<T> Completer<T> {
    fn complete(mut self, result: thread::Result<T>) {
        if let Some(slot) = self.slot.take() {
            Self::fill(&slot, SlotState::Done(result));
        }
    }

    fn fill(slot: &Slot<T>, state: SlotState<T>) {
        let prev = std::mem::replace(&mut *lock_slot(slot), state);
        if let SlotState::Waiting(Some(waker)) = prev {
            waker.wake();
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            Self::fill(&slot, SlotState::Dropped);
        }
    }
}

/// The future of [`to_thread`] / [`spawn_blocking`]: the closure's result,
/// or a [`BlockingError`]. Dropping it does not stop the closure.
#[must_use = "the closure runs anyway; await the handle to get its result"]
pub struct BlockingHandle<T> {
    slot: Slot<T>,
}

impl<T> Future for BlockingHandle<T> {
    type Output = Result<T, BlockingError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock_slot(&self.slot);
        match &mut *state {
            SlotState::Waiting(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            SlotState::Done(_) => match std::mem::replace(&mut *state, SlotState::Taken) {
                SlotState::Done(Ok(v)) => Poll::Ready(Ok(v)),
                SlotState::Done(Err(payload)) => Poll::Ready(Err(BlockingError {
                    repr: Repr::Panic(payload),
                })),
                _ => unreachable!("matched Done above"),
            },
            SlotState::Dropped => Poll::Ready(Err(BlockingError {
                repr: Repr::Cancelled,
            })),
            SlotState::Taken => panic!("BlockingHandle polled after it returned its result"),
        }
    }
}

impl<T> fmt::Debug for BlockingHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = !matches!(*lock_slot(&self.slot), SlotState::Waiting(_));
        f.debug_struct("BlockingHandle")
            .field("finished", &done)
            .finish()
    }
}

/// Why a [`to_thread`] closure produced no result.
pub struct BlockingError {
    repr: Repr,
}

enum Repr {
    Panic(Box<dyn Any + Send + 'static>),
    Cancelled,
}

impl BlockingError {
    /// Whether the closure panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// Whether the closure never ran (the runtime shut down first).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// # Errors
    /// The error back if the closure did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, BlockingError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(self),
        }
    }
}

impl fmt::Display for BlockingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panic(p) => write!(
                f,
                "the closure passed to to_thread panicked: {}",
                panic_message(p.as_ref())
            ),
            Repr::Cancelled => f.write_str(
                "the closure passed to to_thread never ran: the runtime shut down first",
            ),
        }
    }
}

impl fmt::Debug for BlockingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for BlockingError {}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}

#[cfg(test)]
#[path = "blocking_tests.rs"]
mod tests;
