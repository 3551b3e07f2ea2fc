//! [`Deadline`]: an instant on a ring TIMEOUT op that never ends early.
//!
//! The one never-early re-arm loop of the project: the scheduler's `wait`
//! timeout and `ringloop-timer`'s wheel driver both use it.

use crate::op::{self, Op, TimeoutKind};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// An instant and the ring TIMEOUT op armed for it (on the first poll).
///
/// Unlike a bare [`op::timeout`], it is `Ready` only once the clock has
/// passed the instant: a TIMEOUT that ends early (it failed, or something
/// cancelled it) is re-armed for the time left. Dropping it cancels the op.
///
/// ```
/// use ringloop_runtime::op::Deadline;
/// use std::time::{Duration, Instant};
/// ringloop_runtime::run(async {
///     let at = Instant::now() + Duration::from_millis(5);
///     let mut deadline = Deadline::new(at);
///     std::future::poll_fn(|cx| deadline.poll_elapsed(cx)).await;
///     assert!(Instant::now() >= at);
/// });
/// ```
#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    op: Option<Op<op::Timeout>>,
}

impl Deadline {
    /// A deadline at `at`; nothing is submitted before the first poll.
    pub fn new(at: Instant) -> Self {
        Deadline { at, op: None }
    }

    /// The instant this deadline is for.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// `Ready` once the deadline has passed, never before.
    ///
    /// A TIMEOUT that completes early (it failed: ENOMEM, or it was
    /// cancelled by someone else) is re-armed for the time left. If it fails
    /// without ever reaching the kernel, the task yields and retries on the
    /// next loop turn rather than spinning inside one poll.
    pub fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut armed_here = false;
        loop {
            let at = self.at;
            let op = self.op.get_or_insert_with(|| {
                armed_here = true;
                op::timeout(
                    at.saturating_duration_since(Instant::now()),
                    TimeoutKind::Relative,
                )
            });
            if Pin::new(op).poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.op = None;
            if Instant::now() >= self.at {
                return Poll::Ready(());
            }
            if armed_here {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Completable, CqeResult};
    use io_uring::{opcode, types};
    use std::time::Duration;

    /// An ASYNC_CANCEL of every request in flight.
    struct CancelAll;

    impl Completable for CancelAll {
        type Output = std::io::Result<u32>;
        fn complete(self, cqe: CqeResult) -> std::io::Result<u32> {
            cqe.result
        }
    }

    /// A TIMEOUT cancelled by someone else ends early with ECANCELED; the
    /// deadline must re-arm and still end at (never before) its instant.
    #[test]
    fn deadline_survives_an_early_cancel() {
        crate::run(async {
            let start = Instant::now();
            let at = start + Duration::from_millis(80);
            let mut deadline = Deadline::new(at);
            std::future::poll_fn(|cx| {
                assert!(deadline.poll_elapsed(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            crate::yield_now().await;
            let entry = opcode::AsyncCancel2::new(types::CancelBuilder::any().all()).build();
            // SAFETY: ASYNC_CANCEL carries no pointers.
            let cancelled = unsafe { Op::new(CancelAll, entry) }.await;
            match cancelled {
                // The TIMEOUT (and the runtime's eventfd read) were cancelled.
                Ok(n) => assert!(n >= 1, "nothing was cancelled"),
                Err(e) => {
                    eprintln!("skipped: IORING_ASYNC_CANCEL_ANY unsupported here: {e}");
                    return;
                }
            }
            std::future::poll_fn(|cx| deadline.poll_elapsed(cx)).await;
            assert!(Instant::now() >= at, "the deadline ended early");
        });
    }
}
