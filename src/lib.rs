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
//!
//! This crate only re-exports: the loop and tasks live in `ringloop-runtime`,
//! timers in `ringloop-timer`, sockets in `ringloop-net` ([`net`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ringloop_runtime::{
    buf, fd, features, op, rlimit, run, spawn, spawn_named, yield_now, Builder, Features,
    JoinError, JoinHandle, Runtime, UnhandledPanic, YieldNow,
};

/// Sockets: TCP, UDP and Unix sockets on io_uring ops, asyncio-style
/// streams (`open_connection`, `start_server`) and the `futures-io`
/// adapter (crate `ringloop-net`).
pub mod net {
    pub use ringloop_net::*;
}

/// Timers: `sleep`, `sleep_until`, `timeout`, `timeout_at` (crate `ringloop-timer`).
pub mod time {
    pub use ringloop_timer::*;
}
