//! `Barrier`: wait until a number of tasks have arrived (asyncio's `Barrier`).

use super::waiters::{WaitList, Wakeups};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lets `parties` tasks wait for each other. When the last one arrives,
/// every waiter is released with its arrival index (`0..parties`, the last
/// arrival gets `parties - 1`) and the barrier starts over for the next round.
///
/// A waiter dropped before the barrier trips leaves it (the count goes
/// down), so the remaining tasks still need the full number of arrivals.
/// [`abort`](Self::abort) breaks the barrier: current and future waiters get
/// [`BrokenBarrier`] until [`reset`](Self::reset).
///
/// ```
/// use ringloop_runtime::sync::Barrier;
/// use std::rc::Rc;
/// ringloop_runtime::run(async {
///     let b = Rc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let b = b.clone();
///             ringloop_runtime::spawn(async move { b.wait().await.unwrap() })
///         })
///         .collect();
///     let mut indices = Vec::new();
///     for t in tasks {
///         indices.push(t.await.unwrap());
///     }
///     indices.sort();
///     assert_eq!(indices, vec![0, 1, 2]);
/// });
/// ```
pub struct Barrier {
    parties: usize,
    broken: Cell<bool>,
    /// Each waiter receives its result when the barrier trips or breaks.
    waiters: RefCell<WaitList<Option<Result<usize, BrokenBarrier>>>>,
}

/// The barrier was aborted or reset while (or before) waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokenBarrier(());

impl fmt::Display for BrokenBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the barrier was aborted or reset; call Barrier::reset before using it again")
    }
}

impl std::error::Error for BrokenBarrier {}

impl Barrier {
    /// A barrier for `parties` tasks. `0` behaves as `1` (every wait passes
    /// at once) rather than panicking.
    pub fn new(parties: usize) -> Self {
        Barrier {
            parties: parties.max(1),
            broken: Cell::new(false),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Waits until `parties` tasks are waiting; returns this task's arrival
    /// index.
    ///
    /// # Errors
    /// [`BrokenBarrier`] if the barrier is broken or gets aborted/reset
    /// while waiting.
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            key: None,
        }
    }

    /// Number of tasks required to trip the barrier.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Number of tasks waiting now.
    pub fn n_waiting(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// Whether the barrier is broken.
    pub fn is_broken(&self) -> bool {
        self.broken.get()
    }

    /// Breaks the barrier: waiters now and later get [`BrokenBarrier`].
    pub fn abort(&self) {
        self.broken.set(true);
        self.release_all_broken();
    }

    /// Returns the barrier to its empty, unbroken state; tasks waiting now
    /// get [`BrokenBarrier`].
    pub fn reset(&self) {
        self.release_all_broken();
        self.broken.set(false);
    }

    fn release_all_broken(&self) {
        let mut wake = Wakeups::new();
        self.waiters
            .borrow_mut()
            .notify_all(&mut wake, |_, r| *r = Some(Err(BrokenBarrier(()))));
        wake.wake();
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("waiting", &self.n_waiting())
            .field("broken", &self.broken.get())
            .finish()
    }
}

/// The future of [`Barrier::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    key: Option<usize>,
}

impl Future for BarrierWait<'_> {
    type Output = Result<usize, BrokenBarrier>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let barrier = this.barrier;
        // Before the borrow: dropped (waking the others) after it.
        let mut wake = Wakeups::new();
        let mut waiters = barrier.waiters.borrow_mut();
        if this.key.is_none() {
            if barrier.broken.get() {
                return Poll::Ready(Err(BrokenBarrier(())));
            }
            if waiters.len() + 1 >= barrier.parties {
                let n = waiters.notify_all(&mut wake, |i, r| *r = Some(Ok(i)));
                drop(waiters);
                wake.wake();
                return Poll::Ready(Ok(n));
            }
        }
        waiters
            .poll_wait(&mut this.key, cx.waker(), || None)
            .map(|result| result.expect("a notified barrier waiter always has a result"))
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Queued: leave the barrier. Notified: the round is over anyway.
            self.barrier.waiters.borrow_mut().remove(key);
        }
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::poll_once;
    use crate::sync::run_task as run;
    use crate::{spawn, yield_now};
    use std::rc::Rc;

    #[test]
    fn trips_repeatedly_with_unique_indices() {
        run(async {
            let b = Rc::new(Barrier::new(2));
            for _ in 0..3 {
                let b2 = b.clone();
                let t = spawn(async move { b2.wait().await });
                yield_now().await;
                assert_eq!(b.n_waiting(), 1);
                assert_eq!(b.wait().await, Ok(1));
                assert_eq!(t.await.unwrap(), Ok(0));
            }
        });
    }

    #[test]
    fn a_cancelled_waiter_leaves_the_barrier() {
        run(async {
            let b = Barrier::new(2);
            let mut w = Box::pin(b.wait());
            assert!(poll_once(w.as_mut()).await.is_pending());
            drop(w);
            assert_eq!(b.n_waiting(), 0);
            let mut w = Box::pin(b.wait());
            assert!(
                poll_once(w.as_mut()).await.is_pending(),
                "one arrival is not enough"
            );
            assert_eq!(b.wait().await, Ok(1));
            assert_eq!(w.await, Ok(0));
        });
    }

    #[test]
    fn abort_breaks_current_and_future_waiters_until_reset() {
        run(async {
            let b = Barrier::new(3);
            let mut w = Box::pin(b.wait());
            assert!(poll_once(w.as_mut()).await.is_pending());
            b.abort();
            assert_eq!(w.await, Err(BrokenBarrier(())));
            assert!(b.is_broken());
            assert!(b.wait().await.is_err());
            b.reset();
            assert!(!b.is_broken());
            assert_eq!(Barrier::new(0).wait().await, Ok(0));
        });
    }
}
