//! The core of [ringloop](https://docs.rs/ringloop): an io_uring event loop,
//! a single-threaded executor and the public op API.
//!
//! ```
//! use ringloop_runtime::{run, spawn};
//!
//! let sum = run(async {
//!     let tasks: Vec<_> = (0..10u64).map(|i| spawn(async move { i * i })).collect();
//!     let mut sum = 0;
//!     for t in tasks {
//!         sum += t.await.unwrap();
//!     }
//!     sum
//! });
//! assert_eq!(sum, 285);
//! ```
//!
//! Layering: this crate knows io_uring opcodes, buffers and tasks; it knows
//! nothing of timers or sockets as abstractions. `ringloop-timer` and
//! `ringloop-net` are built on [`op`], the same API users may call to submit
//! opcodes the runtime does not wrap yet.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs, missing_debug_implementations)]

mod blocking;
pub mod buf;
mod context;
mod driver;
mod executor;
pub mod fd;
mod group;
mod local;
pub mod op;
pub mod pidfd;
pub mod rlimit;
mod runtime;
pub mod scheduler;
pub mod signal;
pub mod steer;
pub mod sync;
mod sys;
mod task;

pub use blocking::{spawn_blocking, to_thread, BlockingError, BlockingHandle};
pub use driver::{DriverChoice as Driver, Features};
pub use group::{thread_index, Handle, RemoteJoinHandle};
pub use local::runtime_local;
pub use runtime::{features, run, Builder, Runtime};
pub use scheduler::{
    as_completed, gather, try_gather, try_wait, wait, GroupAborted, GroupError, ReturnWhen,
    TaskFailure, TaskGroup, WaitOutcome,
};
pub use task::{spawn, spawn_named, yield_now, JoinError, JoinHandle, UnhandledPanic, YieldNow};

/// Re-export of the `io-uring` crate, to build SQEs for [`op::Op::new`].
pub use io_uring;
