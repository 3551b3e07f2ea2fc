//! `Semaphore` and `BoundedSemaphore`: FIFO-fair counting semaphores.

use super::waiters::{WaitList, Wakeups};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A counting semaphore for tasks on one loop (asyncio's `Semaphore`).
///
/// - **FIFO-fair**: permits go to waiters in arrival order; a waiter that
///   wants many permits is not overtaken by later ones wanting few.
/// - **Cancel-safe**: dropping an [`Acquire`] gives up its place; permits
///   already granted to it are released to the next waiters.
/// - Permits come back when the [`SemaphorePermit`] is dropped, or never if
///   it is [`forget`](SemaphorePermit::forget)-ed; [`add_permits`](Self::add_permits)
///   adds new ones (asyncio's `release`).
///
/// ```
/// use ringloop_runtime::sync::Semaphore;
/// ringloop_runtime::run(async {
///     let sem = Semaphore::new(2);
///     let a = sem.acquire().await;
///     let _b = sem.acquire().await;
///     assert!(sem.try_acquire().is_err());
///     drop(a);
///     assert!(sem.try_acquire().is_ok());
/// });
/// ```
pub struct Semaphore {
    /// Permits not held by anyone (granted-but-unobserved ones excluded).
    permits: Cell<usize>,
    /// Each waiter's data is the number of permits it wants.
    waiters: RefCell<WaitList<usize>>,
}

/// `try_acquire` found too few permits, or tasks queued ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryAcquireError(());

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no permits available right now (or tasks are queued first); await acquire()")
    }
}

impl std::error::Error for TryAcquireError {}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub const fn new(permits: usize) -> Self {
        Semaphore {
            permits: Cell::new(permits),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        self.permits.get()
    }

    /// Whether `acquire()` would have to wait (asyncio's `locked()`).
    pub fn locked(&self) -> bool {
        self.permits.get() == 0 || !self.waiters.borrow().is_empty()
    }

    /// Waits for one permit.
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, granted all at once. Waits forever if fewer
    /// than `n` permits will ever be released; `n == 0` succeeds at once.
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            waiter: Waiter { n, key: None },
        }
    }

    /// Like [`acquire`](Self::acquire), with a permit that owns an `Rc` to
    /// the semaphore (to move into a spawned task).
    pub fn acquire_owned(self: &Rc<Self>) -> AcquireOwned {
        AcquireOwned {
            sem: Some(self.clone()),
            waiter: Waiter { n: 1, key: None },
        }
    }

    /// Takes one permit if available and nobody is queued.
    ///
    /// # Errors
    /// [`TryAcquireError`] otherwise.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if available and nobody is queued.
    ///
    /// # Errors
    /// [`TryAcquireError`] otherwise.
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        if self.try_take(n) {
            Ok(SemaphorePermit { sem: self, n })
        } else {
            Err(TryAcquireError(()))
        }
    }

    /// Like [`try_acquire`](Self::try_acquire), returning an owned permit.
    ///
    /// # Errors
    /// [`TryAcquireError`] if no permit is available now.
    pub fn try_acquire_owned(self: &Rc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        if self.try_take(1) {
            Ok(OwnedSemaphorePermit {
                sem: self.clone(),
                n: 1,
            })
        } else {
            Err(TryAcquireError(()))
        }
    }

    /// Adds `n` permits, waking waiters they satisfy (asyncio's `release`).
    /// Saturates at `usize::MAX` rather than overflowing.
    pub fn add_permits(&self, n: usize) {
        self.permits.set(self.permits.get().saturating_add(n));
        self.grant();
    }

    fn try_take(&self, n: usize) -> bool {
        let permits = self.permits.get();
        if permits >= n && self.waiters.borrow().is_empty() {
            self.permits.set(permits - n);
            true
        } else {
            false
        }
    }

    /// Grants permits to the waiters at the front while they fit.
    fn grant(&self) {
        let mut wake = Wakeups::new();
        let mut waiters = self.waiters.borrow_mut();
        while let Some(&mut want) = waiters.front_mut() {
            let permits = self.permits.get();
            if want > permits {
                break;
            }
            self.permits.set(permits - want);
            waiters.notify_front(&mut wake, |_| {});
        }
        drop(waiters);
        wake.wake();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.permits.get())
            .field("waiters", &self.waiters.borrow().len())
            .finish()
    }
}

/// The state shared by [`Acquire`] and [`AcquireOwned`].
#[derive(Debug)]
struct Waiter {
    n: usize,
    key: Option<usize>,
}

impl Waiter {
    fn poll(&mut self, sem: &Semaphore, cx: &mut Context<'_>) -> Poll<()> {
        match self.key {
            None => {
                if sem.try_take(self.n) {
                    return Poll::Ready(());
                }
                self.key = Some(sem.waiters.borrow_mut().push_back(self.n, cx.waker()));
                Poll::Pending
            }
            Some(key) => {
                let mut waiters = sem.waiters.borrow_mut();
                if waiters.is_notified(key) {
                    waiters.remove(key);
                    self.key = None;
                    Poll::Ready(())
                } else {
                    waiters.set_waker(key, cx.waker());
                    Poll::Pending
                }
            }
        }
    }

    fn cancel(&mut self, sem: &Semaphore) {
        if let Some(key) = self.key.take() {
            let (n, granted) = sem.waiters.borrow_mut().remove(key);
            if granted {
                sem.add_permits(n);
            } else {
                // We may have been the head that blocked smaller requests.
                sem.grant();
            }
        }
    }
}

/// The future of [`Semaphore::acquire`] / [`Semaphore::acquire_many`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    waiter: Waiter,
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphorePermit<'a>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sem = self.sem;
        let n = self.waiter.n;
        self.waiter
            .poll(sem, cx)
            .map(|()| SemaphorePermit { sem, n })
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.waiter.cancel(self.sem);
    }
}

/// The future of [`Semaphore::acquire_owned`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct AcquireOwned {
    /// `None` once the permit was returned.
    sem: Option<Rc<Semaphore>>,
    waiter: Waiter,
}

impl Future for AcquireOwned {
    type Output = OwnedSemaphorePermit;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(sem) = &this.sem else {
            unreachable!("AcquireOwned polled after it returned its permit")
        };
        match this.waiter.poll(sem, cx) {
            Poll::Ready(()) => Poll::Ready(OwnedSemaphorePermit {
                sem: this.sem.take().expect("checked above"),
                n: this.waiter.n,
            }),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        if let Some(sem) = &self.sem {
            self.waiter.cancel(sem);
        }
    }
}

/// Permits taken from a [`Semaphore`]; released when dropped.
#[must_use = "the permits are released as soon as this is dropped"]
#[derive(Debug)]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl SemaphorePermit<'_> {
    /// Number of permits held.
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Keeps the permits taken: they are not returned on drop (pair with
    /// `add_permits` / `BoundedSemaphore::release` for asyncio-style code).
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.add_permits(self.n);
        }
    }
}

/// A permit owning an `Rc` to its [`Semaphore`]; released when dropped.
#[must_use = "the permit is released as soon as this is dropped"]
#[derive(Debug)]
pub struct OwnedSemaphorePermit {
    sem: Rc<Semaphore>,
    n: usize,
}

impl OwnedSemaphorePermit {
    /// Number of permits held.
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Keeps the permit taken: it is not returned on drop.
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.add_permits(self.n);
        }
    }
}

/// A [`Semaphore`] that refuses to hold more permits than it started with
/// (asyncio's `BoundedSemaphore`): releasing a permit that was never
/// acquired is an error instead of silently raising the limit.
///
/// ```
/// use ringloop_runtime::sync::BoundedSemaphore;
/// ringloop_runtime::run(async {
///     let sem = BoundedSemaphore::new(1);
///     sem.acquire().await.forget(); // asyncio style: acquire ...
///     sem.release().unwrap(); // ... and release by hand
///     assert!(sem.release().is_err()); // one release too many
/// });
/// ```
#[derive(Debug)]
pub struct BoundedSemaphore {
    sem: Semaphore,
    bound: usize,
    /// Permits taken with [`BoundedPermit::forget`] and not yet released:
    /// the only ones [`BoundedSemaphore::release`] may return.
    forgotten: Cell<usize>,
}

/// A permit of a [`BoundedSemaphore`], returned when dropped.
#[derive(Debug)]
#[must_use = "the permit is returned as soon as it is dropped"]
pub struct BoundedPermit<'a> {
    permit: SemaphorePermit<'a>,
    forgotten: &'a Cell<usize>,
}

impl BoundedPermit<'_> {
    /// Keeps the permit taken: it is not returned on drop, and one later
    /// [`BoundedSemaphore::release`] may return it (asyncio's
    /// acquire/release pairs).
    pub fn forget(self) {
        self.forgotten.set(self.forgotten.get() + 1);
        self.permit.forget();
    }
}

/// [`BoundedSemaphore::release`] would exceed the initial count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverReleaseError {
    bound: usize,
}

impl fmt::Display for OverReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BoundedSemaphore released more times than acquired (its bound is {}); \
             release only permits you acquired and forgot",
            self.bound
        )
    }
}

impl std::error::Error for OverReleaseError {}

impl BoundedSemaphore {
    /// A semaphore with `permits` permits, which is also its upper bound.
    pub const fn new(permits: usize) -> Self {
        BoundedSemaphore {
            sem: Semaphore::new(permits),
            bound: permits,
            forgotten: Cell::new(0),
        }
    }

    /// Waits for one permit (returned when the permit is dropped).
    /// Cancel-safe like [`Semaphore::acquire`].
    pub async fn acquire(&self) -> BoundedPermit<'_> {
        BoundedPermit {
            permit: self.sem.acquire().await,
            forgotten: &self.forgotten,
        }
    }

    /// Takes one permit if available and nobody is queued.
    ///
    /// # Errors
    /// [`TryAcquireError`] otherwise.
    pub fn try_acquire(&self) -> Result<BoundedPermit<'_>, TryAcquireError> {
        Ok(BoundedPermit {
            permit: self.sem.try_acquire()?,
            forgotten: &self.forgotten,
        })
    }

    /// Returns one permit taken with [`BoundedPermit::forget`].
    ///
    /// # Errors
    /// [`OverReleaseError`] if no forgotten permit is outstanding — the
    /// count would then exceed the bound once the held permits come back.
    /// Nothing changes then.
    pub fn release(&self) -> Result<(), OverReleaseError> {
        let forgotten = self.forgotten.get();
        if forgotten == 0 {
            return Err(OverReleaseError { bound: self.bound });
        }
        self.forgotten.set(forgotten - 1);
        self.sem.add_permits(1);
        Ok(())
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// Whether `acquire()` would have to wait.
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::poll_once;
    use crate::sync::run_task as run;
    use crate::{spawn, yield_now};

    #[test]
    fn a_big_request_at_the_head_is_not_overtaken() {
        run(async {
            let sem = Rc::new(Semaphore::new(1));
            let s = sem.clone();
            let big = spawn(async move { s.acquire_many(3).await.num_permits() });
            yield_now().await;
            assert!(
                sem.try_acquire().is_err(),
                "the queued big waiter comes first"
            );
            sem.add_permits(2);
            assert_eq!(big.await.unwrap(), 3);
            assert_eq!(sem.available_permits(), 3);
        });
    }

    #[test]
    fn cancelling_the_blocking_head_lets_smaller_waiters_through() {
        run(async {
            let sem = Semaphore::new(1);
            let mut big = Box::pin(sem.acquire_many(5));
            assert!(poll_once(big.as_mut()).await.is_pending());
            let mut small = Box::pin(sem.acquire());
            assert!(poll_once(small.as_mut()).await.is_pending());
            drop(big);
            let permit = small.await;
            assert_eq!(permit.num_permits(), 1);
            assert_eq!(sem.available_permits(), 0);
        });
    }

    #[test]
    fn granted_but_cancelled_waiter_returns_its_permits() {
        run(async {
            let sem = Semaphore::new(0);
            let mut a = Box::pin(sem.acquire_many(2));
            let mut b = Box::pin(sem.acquire());
            assert!(poll_once(a.as_mut()).await.is_pending());
            assert!(poll_once(b.as_mut()).await.is_pending());
            sem.add_permits(2); // all to `a`
            assert_eq!(sem.available_permits(), 0);
            drop(a); // before observing: 1 goes to `b`, 1 stays
            let pb = b.await;
            assert_eq!(pb.num_permits(), 1);
            assert_eq!(sem.available_permits(), 1);
        });
    }

    #[test]
    fn owned_permits_and_forget() {
        run(async {
            let sem = Rc::new(Semaphore::new(1));
            let p = sem.acquire_owned().await;
            assert!(sem.try_acquire_owned().is_err());
            let task = spawn(async move {
                yield_now().await;
                drop(p);
            });
            let p2 = sem.acquire_owned().await;
            task.await.unwrap();
            p2.forget();
            assert_eq!(sem.available_permits(), 0);
            assert!(sem.locked());
        });
    }

    #[test]
    fn bounded_semaphore_refuses_over_release() {
        run(async {
            let sem = BoundedSemaphore::new(2);
            let err = sem.release().unwrap_err();
            assert!(err.to_string().contains("bound is 2"));
            sem.acquire().await.forget();
            assert_eq!(sem.available_permits(), 1);
            assert!(sem.release().is_ok());
            assert!(sem.release().is_err());
            assert_eq!(sem.available_permits(), 2);
            // A permit returned by drop never over-releases.
            drop(sem.try_acquire().unwrap());
            assert_eq!(sem.available_permits(), 2);
        });
    }

    #[test]
    fn bounded_semaphore_counts_held_permits_against_the_bound() {
        run(async {
            let sem = BoundedSemaphore::new(1);
            let held = sem.acquire().await;
            // The held permit will come back on drop: releasing now would
            // take the semaphore to 2 permits.
            assert!(sem.release().is_err());
            drop(held);
            assert_eq!(sem.available_permits(), 1);
        });
    }
}
