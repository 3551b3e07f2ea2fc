//! The thin scheduler: asyncio's concurrency functions on top of tasks.
//!
//! | asyncio | ringloop | rule |
//! |---|---|---|
//! | `gather(*aws)` | [`gather`] | all run concurrently inside the caller; outputs in argument order |
//! | `gather` fail-fast | [`try_gather`] | the first `Err` is returned and the rest are dropped (cancelled) |
//! | `wait(aws, return_when)` | [`wait`] / [`try_wait`] | done + pending; never cancels pending; [`Wait::timeout`] |
//! | `as_completed(aws)` | [`as_completed`] | a `Stream` of outputs in completion order |
//! | `TaskGroup` | [`TaskGroup`] | first failure aborts the others; join waits for all; drop aborts |
//! | `shield(aw)` | spawn + await the handle | see below |
//!
//! # Shielding work from cancellation
//!
//! asyncio's `shield(aw)` keeps `aw` running when the awaiting coroutine is
//! cancelled. In ringloop, cancelling means dropping a future, and a spawned
//! task is not owned by whoever awaits its [`JoinHandle`](crate::JoinHandle):
//! dropping the handle detaches the task, it does not cancel it. So to
//! shield work, spawn it and await the handle.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use ringloop_runtime::{run, spawn, yield_now};
//!
//! run(async {
//!     let saved = Rc::new(Cell::new(false));
//!     let flag = saved.clone();
//!     // The critical work runs as its own task...
//!     let handle = spawn(async move {
//!         for _ in 0..3 { yield_now().await }
//!         flag.set(true);
//!     });
//!     // ...and the caller awaits the handle under something that cancels
//!     // it early: the first future to finish drops the other.
//!     let waiter = async move { handle.await.unwrap() };
//!     let quick = async {};
//!     futures_util::future::select(Box::pin(waiter), Box::pin(quick)).await;
//!     // The waiter was dropped (cancelled), the shielded task was not.
//!     for _ in 0..5 { yield_now().await }
//!     assert!(saved.get());
//! });
//! ```

mod as_completed;
mod gather;
mod group;
mod wait;

pub use as_completed::{as_completed, AsCompleted};
pub use gather::{gather, try_gather, Gather, TryGather};
pub use group::{GroupAborted, GroupError, Join, TaskFailure, TaskGroup};
pub use wait::{try_wait, wait, ReturnWhen, Wait, WaitOutcome};
