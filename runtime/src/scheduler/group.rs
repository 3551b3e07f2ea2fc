//! `TaskGroup`: structured concurrency with fail-fast cancellation
//! (asyncio's `TaskGroup`).

use crate::task::JoinHandle;
use futures_util::FutureExt;
use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A set of tasks that succeed or fail together.
///
/// Spawn tasks returning `Result<T, E>` into the group, then [`join`] it:
/// - `join` waits for every task and returns their outputs in spawn order;
/// - the first failure (an `Err` output or a panic) aborts all other tasks
///   at once, and `join` returns a [`GroupError`] holding the failures and
///   the indices of the tasks that were cancelled (like an exception
///   group). On this single-threaded loop an aborted task is cancelled
///   before it is polled again, even if it was already queued, so no task
///   fails after the first: the list holds one failure today, and is a list
///   so that nothing would be lost if that ever changed;
/// - once a failure has aborted the group, [`TaskGroup::spawn`] refuses new
///   tasks with [`GroupAborted`];
/// - dropping the group (or the `join` future) aborts the tasks still running.
///
/// [`join`]: TaskGroup::join
///
/// ```
/// use ringloop_runtime::{run, yield_now, TaskGroup};
///
/// let err = run(async {
///     let group = TaskGroup::new();
///     group.spawn(async { Err("disk full") }).unwrap();
///     group.spawn(async { loop { yield_now().await } }).unwrap();
///     group.join().await.map(|_: Vec<()>| ()).unwrap_err()
/// });
/// assert!(matches!(err.first(), (0, ringloop_runtime::TaskFailure::Err("disk full"))));
/// assert_eq!(err.cancelled(), &[1]);
/// ```
pub struct TaskGroup<T, E> {
    state: Rc<RefCell<State<T, E>>>,
}

struct State<T, E> {
    /// One per spawned task, in spawn order; used to abort them.
    handles: Vec<JoinHandle<()>>,
    /// Outputs of the tasks that succeeded, by spawn index.
    outputs: Vec<Option<T>>,
    /// Failures in the order they happened.
    failures: Vec<(usize, TaskFailure<E>)>,
    /// Indices of tasks dropped before they finished.
    cancelled: Vec<usize>,
    /// Tasks whose future has not been dropped yet.
    running: usize,
    /// Set by the first failure; no spawn after it.
    aborted: bool,
    /// Set once `join` returned: nothing is left to report on drop.
    observed: bool,
    join_waker: Option<Waker>,
}

/// How one task of a [`TaskGroup`] failed.
pub enum TaskFailure<E> {
    /// The task returned `Err`.
    Err(E),
    /// The task panicked; the payload can be re-raised with
    /// `std::panic::resume_unwind`.
    Panic(Box<dyn Any + Send + 'static>),
    /// The task was cancelled from outside the group, with no failure in
    /// the group to blame (its runtime shut down before the group was joined).
    Cancelled,
}

impl<E: fmt::Debug> fmt::Debug for TaskFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskFailure::Err(e) => f.debug_tuple("Err").field(e).finish(),
            TaskFailure::Panic(p) => f
                .debug_tuple("Panic")
                .field(&panic_message(p.as_ref()))
                .finish(),
            TaskFailure::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for TaskFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskFailure::Err(e) => write!(f, "returned an error: {e}"),
            TaskFailure::Panic(p) => write!(f, "panicked: {}", panic_message(p.as_ref())),
            TaskFailure::Cancelled => f.write_str("was cancelled (its runtime shut down)"),
        }
    }
}

/// The failures of a [`TaskGroup`], first one first (an exception group).
#[derive(Debug)]
pub struct GroupError<E> {
    failures: Vec<(usize, TaskFailure<E>)>,
    cancelled: Vec<usize>,
}

impl<E> GroupError<E> {
    /// The failure that aborted the group, with its task's spawn index.
    pub fn first(&self) -> &(usize, TaskFailure<E>) {
        &self.failures[0]
    }

    /// Every failure, in the order they happened (never empty).
    pub fn failures(&self) -> &[(usize, TaskFailure<E>)] {
        &self.failures
    }

    /// Spawn indices of the tasks cancelled because of the failure, ascending.
    pub fn cancelled(&self) -> &[usize] {
        &self.cancelled
    }

    /// Takes the failures, e.g. to re-raise a panic.
    pub fn into_failures(self) -> Vec<(usize, TaskFailure<E>)> {
        self.failures
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} task(s) of the group failed", self.failures.len())?;
        for (index, failure) in &self.failures {
            write!(f, "; task #{index} {failure}")?;
        }
        if !self.cancelled.is_empty() {
            write!(f, "; {} other task(s) were cancelled", self.cancelled.len())?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GroupError<E> {}

/// [`TaskGroup::spawn`] was refused: a task failed and the group aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupAborted;

impl fmt::Display for GroupAborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the task group was aborted by a failed task and accepts no new tasks; join it to \
             get the failure",
        )
    }
}

impl std::error::Error for GroupAborted {}

impl<T: 'static, E: 'static> TaskGroup<T, E> {
    /// An empty group.
    pub fn new() -> Self {
        TaskGroup {
            state: Rc::new(RefCell::new(State {
                handles: Vec::new(),
                outputs: Vec::new(),
                failures: Vec::new(),
                cancelled: Vec::new(),
                running: 0,
                aborted: false,
                observed: false,
                join_waker: None,
            })),
        }
    }

    /// Spawns `future` on the current runtime as a member of the group and
    /// returns its spawn index (its position in [`join`](Self::join)'s output).
    ///
    /// # Errors
    /// [`GroupAborted`] if a task of the group has already failed.
    ///
    /// # Panics
    /// Outside a ringloop runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<usize, GroupAborted>
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        let location = Location::caller();
        let core = crate::context::core("TaskGroup::spawn");
        let mut state = self.state.borrow_mut();
        if state.aborted {
            return Err(GroupAborted);
        }
        let index = state.handles.len();
        state.outputs.push(None);
        state.running += 1;
        // Built outside the task's future: if the task is aborted before its
        // first poll, dropping the future still drops the guard.
        let member = Member {
            state: self.state.clone(),
            index,
            finished: false,
        };
        let task = async move {
            let mut member = member;
            let out = AssertUnwindSafe(future).catch_unwind().await;
            member.finish(out);
        };
        drop(state);
        let handle = core.spawn(task, None, location);
        self.state.borrow_mut().handles.push(handle);
        Ok(index)
    }

    /// Number of tasks still running.
    pub fn running(&self) -> usize {
        self.state.borrow().running
    }

    /// Whether a task failed and the group aborted the others.
    pub fn is_aborted(&self) -> bool {
        self.state.borrow().aborted
    }

    /// Waits for every task; see [`TaskGroup`]. Dropping the returned future
    /// before it finishes aborts the tasks still running.
    pub fn join(self) -> Join<T, E> {
        Join { group: self }
    }
}

impl<T: 'static, E: 'static> Default for TaskGroup<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("TaskGroup")
            .field("tasks", &state.handles.len())
            .field("running", &state.running)
            .field("aborted", &state.aborted)
            .finish()
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return;
        };
        for handle in &state.handles {
            handle.abort();
        }
        // Detach: the aborted tasks are dropped at their next scheduling point.
        let handles = std::mem::take(&mut state.handles);
        let unobserved = !state.observed && !state.failures.is_empty();
        let failures = std::mem::take(&mut state.failures);
        drop(state);
        drop(handles);
        if unobserved {
            for (index, failure) in failures {
                if let TaskFailure::Panic(p) = failure {
                    eprintln!(
                        "ringloop: task #{index} of a TaskGroup panicked and the group was \
                         dropped without being joined: {}",
                        panic_message(p.as_ref())
                    );
                }
            }
        }
    }
}

/// A group member's stake in the shared state; dropping it (the task ended
/// or was cancelled) updates the count `join` waits on.
struct Member<T, E> {
    state: Rc<RefCell<State<T, E>>>,
    index: usize,
    finished: bool,
}

impl<T, E> Member<T, E> {
    fn finish(&mut self, out: Result<Result<T, E>, Box<dyn Any + Send>>) {
        self.finished = true;
        let mut state = self.state.borrow_mut();
        let failure = match out {
            Ok(Ok(value)) => {
                state.outputs[self.index] = Some(value);
                return;
            }
            Ok(Err(e)) => TaskFailure::Err(e),
            Err(payload) => TaskFailure::Panic(payload),
        };
        state.failures.push((self.index, failure));
        if !std::mem::replace(&mut state.aborted, true) {
            for (i, handle) in state.handles.iter().enumerate() {
                if i != self.index {
                    handle.abort();
                }
            }
        }
    }
}

impl<T, E> Drop for Member<T, E> {
    fn drop(&mut self) {
        let Ok(mut state) = self.state.try_borrow_mut() else {
            unreachable!("group state is never borrowed while a member task is dropped");
        };
        if !self.finished {
            state.cancelled.push(self.index);
        }
        state.running -= 1;
        if state.running == 0 {
            if let Some(w) = state.join_waker.take() {
                w.wake();
            }
        }
    }
}

/// The future of [`TaskGroup::join`].
#[must_use = "join does nothing unless awaited; dropping it aborts the group"]
#[derive(Debug)]
pub struct Join<T, E> {
    group: TaskGroup<T, E>,
}

impl<T, E> Unpin for Join<T, E> {}

impl<T, E> Future for Join<T, E> {
    type Output = Result<Vec<T>, GroupError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.group.state.borrow_mut();
        if state.running > 0 {
            match &mut state.join_waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        state.observed = true;
        if state.failures.is_empty() && !state.cancelled.is_empty() {
            // Members were cancelled with no failure in the group to blame
            // (the runtime shut down): report them as the failures.
            let mut cancelled = std::mem::take(&mut state.cancelled);
            cancelled.sort_unstable();
            let failures = cancelled
                .into_iter()
                .map(|i| (i, TaskFailure::Cancelled))
                .collect();
            return Poll::Ready(Err(GroupError {
                failures,
                cancelled: Vec::new(),
            }));
        }
        if state.failures.is_empty() {
            let outputs = std::mem::take(&mut state.outputs);
            return Poll::Ready(Ok(outputs
                .into_iter()
                .map(|o| o.expect("a group without failures has every output"))
                .collect()));
        }
        let mut cancelled = std::mem::take(&mut state.cancelled);
        cancelled.sort_unstable();
        Poll::Ready(Err(GroupError {
            failures: std::mem::take(&mut state.failures),
            cancelled,
        }))
    }
}

/// The message of a panic payload, when it is a string.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}
