//! `JoinHandle` and `JoinError`: awaiting a task's output.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The interface a task offers its handle, erased over the future type.
pub(crate) trait Join<T> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>>;
    fn abort(&self);
    fn is_finished(&self) -> bool;
    fn detach(&self);
    fn id(&self) -> u64;
}

/// An owned permission to await a spawned task: a future of
/// `Result<T, JoinError>`.
///
/// Dropping the handle detaches the task: it keeps running, and its output
/// is dropped when it ends. A panic in a detached task is reported on
/// stderr (or aborts the process, see `Builder::unhandled_panic`).
#[must_use = "dropping a JoinHandle detaches the task; await it or call .abort() to cancel it"]
pub struct JoinHandle<T> {
    task: Rc<dyn Join<T>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: Rc<dyn Join<T>>) -> Self {
        JoinHandle { task }
    }

    /// Cancels the task: it is dropped at its next scheduling point (never
    /// in the middle of a poll) and the handle resolves to a cancelled
    /// [`JoinError`]. No effect on a task that has finished.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// The task's id, unique within its runtime.
    pub fn id(&self) -> u64 {
        self.task.id()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.task.poll_join(cx)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.task.detach();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

/// Why a task produced no output: it was cancelled, or it panicked.
///
/// One pointer wide: every task reserves room for its `Result<T, JoinError>`
/// output, so the error's details live behind a box.
pub struct JoinError {
    inner: Box<Inner>,
}

struct Inner {
    id: u64,
    name: Option<Arc<str>>,
    repr: Repr,
}

impl JoinError {
    pub(crate) fn cancelled(id: u64, name: Option<Arc<str>>) -> Self {
        JoinError {
            inner: Box::new(Inner {
                id,
                name,
                repr: Repr::Cancelled,
            }),
        }
    }

    pub(crate) fn panic(id: u64, name: Option<Arc<str>>, payload: Box<dyn Any + Send>) -> Self {
        JoinError {
            inner: Box::new(Inner {
                id,
                name,
                repr: Repr::Panic(payload),
            }),
        }
    }

    /// Whether the task was cancelled (aborted, or dropped at shutdown).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.inner.repr, Repr::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.inner.repr, Repr::Panic(_))
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task was cancelled rather than panicked; see [`JoinError::try_into_panic`].
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on a cancelled task's error")
    }

    /// The panic payload, or the error back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        if self.is_cancelled() {
            return Err(self);
        }
        match self.inner.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => unreachable!("checked above"),
        }
    }

    /// The id of the task that failed.
    pub fn task_id(&self) -> u64 {
        self.inner.id
    }

    /// The name the task was spawned with, if any.
    pub fn task_name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }
}

/// The message of a panic payload, when it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.inner.id)?;
        if let Some(name) = &self.inner.name {
            write!(f, " '{name}'")?;
        }
        match &self.inner.repr {
            Repr::Cancelled => write!(f, " was cancelled"),
            Repr::Panic(p) => write!(f, " panicked: {}", panic_message(p.as_ref())),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for JoinError {}
