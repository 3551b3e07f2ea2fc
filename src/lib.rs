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
//! | `start_server`, `open_connection` | [`net::start_server`], [`net::open_connection`] |
//! | `loop.add_signal_handler` | [`signal::signal`], [`signal::ctrl_c`] |
//!
//! This crate only re-exports: the loop and tasks live in `ringloop-runtime`,
//! timers in `ringloop-timer`, sockets in `ringloop-net` ([`net`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ringloop_runtime::{
    as_completed, buf, fd, features, gather, op, rlimit, run, runtime_local, scheduler, signal,
    spawn, spawn_blocking, spawn_named, sync, thread_index, to_thread, try_gather, try_wait, wait,
    yield_now, BlockingError, BlockingHandle, Builder, Driver, Features, GroupAborted, GroupError,
    Handle, JoinError, JoinHandle, RemoteJoinHandle, ReturnWhen, Runtime, TaskFailure, TaskGroup,
    UnhandledPanic, WaitOutcome, YieldNow,
};

/// Sockets: TCP, UDP and Unix sockets on io_uring ops, asyncio-style
/// streams (`open_connection`, `start_server`) and the `futures-io`
/// adapter (crate `ringloop-net`).
pub mod net {
    pub use ringloop_net::*;
}

/// Timers: `sleep`, `sleep_until`, `interval`, `timeout`, `timeout_at` (crate `ringloop-timer`).
pub mod time {
    pub use ringloop_timer::*;
}

/// Files: `File`, `OpenOptions`, `read`, `write`, `metadata`, `rename`, ...
/// as io_uring ops (crate `ringloop-fs`).
pub mod fs {
    pub use ringloop_fs::*;
}

/// Subprocesses: `Command`, `Child`, `create_subprocess_exec`,
/// `create_subprocess_shell` (crate `ringloop-process`).
pub mod process {
    pub use ringloop_process::*;
}

/// hyper 1.x on ringloop: the I/O adapter, executor, timer, `serve` and
/// client connections (crate `ringloop-http`, feature `http`).
#[cfg(feature = "http")]
pub mod http {
    pub use ringloop_http::*;
}

/// TLS with rustls: `TlsAcceptor`, `TlsConnector`, `TlsStream` (crate
/// `ringloop-tls`, feature `tls`).
#[cfg(feature = "tls")]
pub mod tls {
    pub use ringloop_tls::*;
}
