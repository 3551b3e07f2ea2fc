//! Timers for ringloop: [`sleep`], [`sleep_until`], [`interval`],
//! [`timeout`] and [`timeout_at`].
//!
//! The kernel is the clock: each runtime keeps its pending deadlines in a
//! hierarchical timer wheel and one io_uring TIMEOUT op, submitted through the runtime's public
//! op API, armed for the nearest one. A sleep never completes before its
//! deadline and ends at most about 1 ms after it; dropping a sleep removes
//! its deadline. (One TIMEOUT op per sleep was measured first and costs
//! ~27 us of kernel CPU per timer at a million timers; see `driver.rs`.)
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

mod driver;
mod interval;
mod sleep;
mod timeout;
mod wheel;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
