//! [`Handle`]: a `Send + Sync` way to run work on a runtime from any thread.

use crate::task::waker::{Remote, Shared};
use crate::task::JoinError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

/// A handle to a runtime, usable from any thread: [`Handle::spawn`] runs a
/// closure on the runtime's thread to build a task there.
///
/// ```
/// let rt = ringloop_runtime::Runtime::new().unwrap();
/// let handle = rt.handle();
/// let out = std::thread::scope(|s| {
///     // The runtime runs on this thread; another thread hands it work.
///     let worker = s.spawn(move || handle.spawn(|| async { 6 * 7 }).join());
///     rt.block_on(async {
///         while !worker.is_finished() {
///             ringloop_runtime::yield_now().await;
///         }
///     });
///     worker.join().unwrap()
/// });
/// assert_eq!(out.unwrap(), 42);
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    index: usize,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("thread_index", &self.index)
            .field("closed", &self.shared.is_closed())
            .finish()
    }
}

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>, index: usize) -> Handle {
        Handle { shared, index }
    }

    /// The handle of the runtime running on this thread.
    ///
    /// # Panics
    /// Outside a runtime; see [`Handle::try_current`].
    #[track_caller]
    pub fn current() -> Handle {
        crate::context::core("Handle::current").handle()
    }

    /// The handle of the runtime running on this thread, if any.
    pub fn try_current() -> Option<Handle> {
        crate::context::with_core(|core| core.handle())
    }

    /// The runtime's index in its group ([`Builder::run_per_thread`];
    /// 0 for a runtime started on its own).
    ///
    /// [`Builder::run_per_thread`]: crate::Builder::run_per_thread
    pub fn thread_index(&self) -> usize {
        self.index
    }

    /// Whether the runtime has shut down (work sent to it now fails).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Runs `make` on the runtime's thread and spawns the future it returns
    /// there (it need not be `Send`); the returned handle, which is, yields
    /// its output to any runtime that awaits it or any thread that
    /// [`join`](RemoteJoinHandle::join)s it.
    ///
    /// Errors come back through the handle, as [`JoinError`]s: a panic in
    /// `make` or the future, or a cancellation because the runtime shut
    /// down before the task finished, or had already shut down (never a
    /// hang).
    pub fn spawn<F, Fut>(&self, make: F) -> RemoteJoinHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let slot = Arc::new(Slot::default());
        let done = Completer(Some(slot.clone()));
        let job = move || {
            let done = done;
            let fut = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(make)) {
                Ok(fut) => fut,
                Err(payload) => return done.finish(Err(JoinError::panic(0, None, payload))),
            };
            let task = crate::spawn(fut);
            // The task's outcome (output, panic, or cancellation at
            // shutdown) goes to the slot; dropping `done` unfinished (this
            // forwarder cancelled at shutdown) reports a cancellation.
            drop(crate::spawn(async move {
                let out = task.await;
                done.finish(out);
            }));
        };
        // A runtime that has shut down drops the job, whose `Completer`
        // then reports the cancellation.
        let _ = self.shared.send_remote(Remote::Run(Box::new(job)));
        RemoteJoinHandle { slot }
    }
}

/// The handle of a task started with [`Handle::spawn`]: `Send`, awaitable
/// from any runtime, or [`join`](Self::join)able from a plain thread.
#[must_use = "dropping the handle detaches the task"]
pub struct RemoteJoinHandle<T> {
    slot: Arc<Slot<T>>,
}

impl<T> fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> RemoteJoinHandle<T> {
    /// Blocks this thread until the task finishes. Never call it on a
    /// runtime's thread while that runtime must run the task: await the
    /// handle there instead.
    pub fn join(self) -> Result<T, JoinError> {
        let mut st = self.slot.lock();
        loop {
            if let Some(out) = st.out.take() {
                return out;
            }
            st = self.slot.cond.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Whether the task has finished (its output is waiting).
    pub fn is_finished(&self) -> bool {
        self.slot.lock().out.is_some()
    }
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.slot.lock();
        match st.out.take() {
            Some(out) => Poll::Ready(out),
            None => {
                match &st.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => st.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

/// Where a remote task's outcome meets whoever waits for it.
struct Slot<T> {
    state: Mutex<SlotState<T>>,
    cond: Condvar,
}

struct SlotState<T> {
    out: Option<Result<T, JoinError>>,
    /// The task awaiting the handle, if one is.
    waker: Option<Waker>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            state: Mutex::new(SlotState {
                out: None,
                waker: None,
            }),
            cond: Condvar::new(),
        }
    }
}

impl<T> Slot<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Delivers a remote task's outcome once; dropped without delivering (the
/// job or its forwarder never ran to the end), it delivers a cancellation.
struct Completer<T>(Option<Arc<Slot<T>>>);

impl<T> Completer<T> {
    fn finish(mut self, out: Result<T, JoinError>) {
        if let Some(slot) = self.0.take() {
            deliver(&slot, out);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            deliver(
                &slot,
                Err(JoinError::cancelled(0, Some(Arc::from("remote task")))),
            );
        }
    }
}

fn deliver<T>(slot: &Slot<T>, out: Result<T, JoinError>) {
    let mut st = slot.lock();
    st.out = Some(out);
    let waker = st.waker.take();
    drop(st);
    slot.cond.notify_all();
    if let Some(w) = waker {
        w.wake();
    }
}
