//! ringloop: an io_uring async runtime for Linux with the programming model
//! of Python's asyncio.
//!
//! ```
//! let answer = ringloop::run(async {
//!     let task = ringloop::spawn(async { 6 * 7 });
//!     task.await.unwrap()
//! });
//! assert_eq!(answer, 42);
//! ```
//!
//! | asyncio | ringloop |
//! |---|---|
//! | `asyncio.run(main())` | [`run`] |
//! | `create_task(c)` | [`spawn`] |
//! | `gather(*aws)` | [`gather`], [`try_gather`] (fail-fast) |
//! | `wait(aws, return_when)` | [`wait`], [`try_wait`] |
//! | `as_completed(aws)` | [`as_completed`] |
//! | `TaskGroup` | [`TaskGroup`] |
//! | `shield(aw)` | spawn + await the handle ([`scheduler`]) |
//! | `sleep`, `wait_for` | [`time::sleep`], [`time::timeout`] |
//! | `Lock`, `Semaphore`, `Event`, `Condition`, `Barrier`, `Queue` | [`sync`] |
//! | `to_thread(f)` | [`to_thread`] |
//! | `loop.add_signal_handler` | [`signal::signal`], [`signal::ctrl_c`] |
//!
//! This crate only re-exports: the loop and tasks live in `ringloop-runtime`,
//! timers in `ringloop-timer`, sockets in `ringloop-net`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ringloop_runtime::{
    as_completed, gather, runtime_local, scheduler, try_gather, try_wait, wait, GroupAborted,
    GroupError, ReturnWhen, TaskFailure, TaskGroup, WaitOutcome,
};
pub use ringloop_runtime::{
    buf, fd, features, op, run, spawn, spawn_named, yield_now, Builder, Features, JoinError,
    JoinHandle, Runtime, UnhandledPanic, YieldNow,
};
pub use ringloop_runtime::{
    signal, spawn_blocking, sync, to_thread, BlockingError, BlockingHandle,
};

/// Timers: `sleep`, `sleep_until`, `interval`, `timeout`, `timeout_at` (crate `ringloop-timer`).
pub mod time {
    pub use ringloop_timer::*;
}
