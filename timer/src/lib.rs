//! Timers for ringloop: [`sleep`], [`sleep_until`], [`interval`],
//! [`timeout`] and [`timeout_at`], each deadline an io_uring TIMEOUT op submitted through
//! the runtime's public op API. The kernel is the timer: a sleep never
//! completes before its deadline, and dropping one removes its timer.
//!
//! ```
//! use std::time::{Duration, Instant};
//! ringloop_runtime::run(async {
//!     let start = Instant::now();
//!     ringloop_timer::sleep(Duration::from_millis(10)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(10));
//! });
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod interval;
mod sleep;
mod timeout;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
