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

    /// Arms the TIMEOUT op on the first poll; `Ready` once the deadline has
    /// passed, never before.
    ///
    /// The op can end before the deadline without the kernel's timer
    /// firing: it may fail (`ENOMEM` under memory pressure) or be cancelled
    /// by someone else. Such a completion proves nothing about the time, so
    /// the sleep compares against the clock and re-arms a new op for the time
    /// left — it neither ends early nor hangs with no op in flight. If the
    /// re-armed op fails again at once (the ring has shut down), the task
    /// yields and retries on the next loop turn instead of spinning here.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut armed_here = false;
        loop {
            let deadline = self.deadline;
            let op = self.op.get_or_insert_with(|| {
                armed_here = true;
                // A relative timeout measured from after `now` was read can
                // only end at or after the deadline.
                let left = deadline.saturating_duration_since(Instant::now());
                op::timeout(left, TimeoutKind::Relative)
            });
            if Pin::new(op).poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.op = None;
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            if armed_here {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}
