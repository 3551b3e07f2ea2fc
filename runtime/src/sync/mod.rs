//! Synchronisation for tasks on one loop: asyncio's `Lock`, `Semaphore`,
//! `BoundedSemaphore`, `Event`, `Condition`, `Barrier`, the three queues, and
//! a one-shot future.
//!
//! Every type here is single-threaded (`!Sync`; share it with `Rc`) and made
//! for tasks of one runtime, so no atomics or OS locks are involved. All of
//! them share three rules:
//! - **FIFO**: waiters are served in the order they started waiting.
//! - **Cancel-safe**: dropping a waiting future gives up its place; if it had
//!   already been granted something (the lock, permits, an item, a
//!   notification), the grant passes to the next waiter — nothing is lost.
//! - **Errors, not exceptions**: asyncio's `RuntimeError`/`ValueError` cases
//!   are `Result` errors (over-releasing a [`BoundedSemaphore`], calling
//!   [`GenericQueue::task_done`] too often, `get` on a closed queue, setting
//!   a [`oneshot`] twice). Releasing an unlocked lock or waiting on a
//!   condition without its lock cannot be written: guards make them
//!   impossible.
//!
//! Waiters are woken only after a primitive has released its internal
//! state, so a waker that runs code at once — a custom one from another
//! executor — may use the same primitive again from inside `wake`.

mod barrier;
mod condition;
mod event;
pub mod mpsc;
mod mutex;
mod oneshot;
mod queue;
mod semaphore;
pub mod store;
mod waiters;

pub use barrier::{Barrier, BarrierWait, BrokenBarrier};
pub use condition::Condition;
pub use event::{Event, EventWait};
pub use mutex::{Lock, Mutex, MutexGuard, TryLockError};
pub use oneshot::{oneshot, Canceled, Receiver, Sender, SetError};
pub use queue::{
    GenericQueue, Get, Join, LifoQueue, PriorityQueue, Put, PutError, Queue, QueueClosed,
    TaskDoneError, TryGetError, TryPutError,
};
pub use semaphore::{
    Acquire, AcquireOwned, BoundedPermit, BoundedSemaphore, OverReleaseError, OwnedSemaphorePermit,
    Semaphore, SemaphorePermit, TryAcquireError,
};

/// Polls a future once from inside a task (test helper).
#[cfg(test)]
pub(crate) async fn poll_once<F: std::future::Future + ?Sized>(
    mut f: std::pin::Pin<&mut F>,
) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(f.as_mut().poll(cx))).await
}

/// Runs `f` as a spawned task (test helper): there `yield_now` lets every
/// other ready task run, while the `block_on` future is polled first.
#[cfg(test)]
pub(crate) fn run_task<F: std::future::Future + 'static>(f: F) -> F::Output {
    crate::run(async { crate::spawn(f).await.unwrap() })
}
