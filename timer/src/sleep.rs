//! `sleep` and `sleep_until`.

use ringloop_runtime::op::{self, Op, TimeoutKind};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has passed.
///
/// # Panics
/// When first polled outside a ringloop runtime.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`.
///
/// # Panics
/// When first polled outside a ringloop runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, op: None }
}

/// The future of [`sleep`] and [`sleep_until`]. The TIMEOUT op is submitted
/// on the first poll; dropping the future removes it from the kernel.
#[derive(Debug)]
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    op: Option<Op<op::Timeout>>,
}

impl Sleep {
    /// The instant this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline; the next poll arms a timer for the new one.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.op = None;
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        let op = self.op.get_or_insert_with(|| {
            // A relative timeout measured from after `now` was read can only
            // end at or after the deadline.
            let left = deadline.saturating_duration_since(Instant::now());
            op::timeout(left, TimeoutKind::Relative)
        });
        let res = std::task::ready!(Pin::new(op).poll(cx));
        self.op = None;
        // The kernel never fires early, so `Ok` means the deadline passed.
        // An error before the deadline means the op was cancelled because the
        // runtime is shutting down: ending the sleep early would break its
        // promise, so it stays pending.
        if res.is_ok() || Instant::now() >= deadline {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
