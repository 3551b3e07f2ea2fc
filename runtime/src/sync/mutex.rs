//! `Mutex<T>`: an async lock with a guard, FIFO-fair (asyncio's `Lock`).

use super::waiters::{WaitList, Wakeups};
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

/// An async mutual-exclusion lock for tasks on one loop (asyncio's `Lock`),
/// holding the value it protects.
///
/// - **FIFO-fair**: unlocking hands the lock straight to the longest waiter;
///   a task that calls `lock()` later never overtakes it.
/// - **Cancel-safe**: dropping a [`Lock`] future gives up its place; if the
///   lock had already been handed to it, it passes the lock on.
/// - Released by dropping the [`MutexGuard`]. Unlike asyncio there is no
///   `release()`, so "releasing an unlocked lock" cannot be written.
///
/// ```
/// use ringloop_runtime::sync::Mutex;
/// use std::rc::Rc;
/// ringloop_runtime::run(async {
///     let m = Rc::new(Mutex::new(0));
///     let tasks: Vec<_> = (0..10)
///         .map(|_| {
///             let m = m.clone();
///             ringloop_runtime::spawn(async move {
///                 let mut g = m.lock().await;
///                 ringloop_runtime::yield_now().await; // held across an await
///                 *g += 1;
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(*m.lock().await, 10);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    /// True while a guard exists or the lock was handed to a waiter that
    /// has not yet observed it.
    locked: Cell<bool>,
    waiters: RefCell<WaitList<()>>,
    value: UnsafeCell<T>,
}

/// `try_lock` found the mutex locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the mutex is locked (or tasks are queued for it); await lock() instead")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Self {
        Mutex {
            locked: Cell::new(false),
            waiters: RefCell::new(WaitList::new()),
            value: UnsafeCell::new(value),
        }
    }

    /// The protected value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits until the lock is free and this caller is first in line, then
    /// takes it. The guard unlocks when dropped.
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            key: None,
        }
    }

    /// Takes the lock if it is free and nobody is queued for it.
    ///
    /// # Errors
    /// [`TryLockError`] if it is locked or tasks are waiting (FIFO fairness).
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        if self.locked.get() {
            return Err(TryLockError(()));
        }
        self.locked.set(true);
        Ok(MutexGuard { mutex: self })
    }

    /// Whether the lock is held (or handed to a waiter about to run).
    pub fn is_locked(&self) -> bool {
        self.locked.get()
    }

    /// The protected value, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Hands the lock to the first waiter, or marks it free.
    fn unlock(&self) {
        let mut wake = Wakeups::new();
        if !self.waiters.borrow_mut().notify_front(&mut wake, |_| {}) {
            self.locked.set(false);
        }
        wake.wake();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("locked", &self.locked.get())
            .field("waiters", &self.waiters.borrow().len())
            .finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

/// The future of [`Mutex::lock`].
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Our node in the wait list, once queued.
    key: Option<usize>,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mutex = self.mutex;
        let mut waiters = mutex.waiters.borrow_mut();
        match self.key {
            None => {
                // Waiters queued means the lock is held or about to be handed
                // over, so `locked` alone decides.
                if !mutex.locked.get() {
                    mutex.locked.set(true);
                    return Poll::Ready(MutexGuard { mutex });
                }
                self.key = Some(waiters.push_back((), cx.waker()));
                Poll::Pending
            }
            Some(key) if waiters.is_notified(key) => {
                waiters.remove(key);
                self.key = None;
                Poll::Ready(MutexGuard { mutex })
            }
            Some(key) => {
                waiters.set_waker(key, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (_, handed_over) = self.mutex.waiters.borrow_mut().remove(key);
            if handed_over {
                self.mutex.unlock();
            }
        }
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// Access to the value of a locked [`Mutex`]; unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for [`super::Condition::wait`]).
    pub fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a guard exists only while `locked` is true, and `locked`
        // is set by whoever creates the one guard (try_lock, or a Lock that
        // was handed the lock), so no other reference to the value exists.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::run_task as run;
    use crate::{spawn, yield_now};
    use std::rc::Rc;

    #[test]
    fn try_lock_fails_while_held_and_while_handed_over() {
        run(async {
            let m = Rc::new(Mutex::new(1));
            let g = m.try_lock().unwrap();
            assert!(m.try_lock().is_err());
            let m2 = m.clone();
            let waiter = spawn(async move { *m2.lock().await += 1 });
            yield_now().await;
            drop(g);
            // Handed to the waiter, which has not run yet: no barging.
            assert!(m.is_locked());
            assert_eq!(m.try_lock().unwrap_err(), TryLockError(()));
            waiter.await.unwrap();
            assert_eq!(*m.try_lock().unwrap(), 2);
        });
    }

    #[test]
    fn fifo_order() {
        run(async {
            let m = Rc::new(Mutex::new(Vec::new()));
            let g = m.lock().await;
            let tasks: Vec<_> = (0..5)
                .map(|i| {
                    let m = m.clone();
                    spawn(async move { m.lock().await.push(i) })
                })
                .collect();
            yield_now().await;
            drop(g);
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*m.lock().await, vec![0, 1, 2, 3, 4]);
        });
    }

    #[test]
    fn cancelled_waiter_that_was_handed_the_lock_passes_it_on() {
        run(async {
            let m = Rc::new(Mutex::new(0));
            let g = m.lock().await;
            let m1 = m.clone();
            let first = spawn(async move { *m1.lock().await += 1 });
            let m2 = m.clone();
            let second = spawn(async move { *m2.lock().await += 10 });
            yield_now().await;
            drop(g); // handed to `first`
            first.abort(); // dropped before it observes the lock
            assert!(first.await.unwrap_err().is_cancelled());
            second.await.unwrap();
            assert_eq!(*m.lock().await, 10);
            assert!(!m.is_locked() || m.try_lock().is_err());
        });
    }

    #[test]
    fn cancelled_queued_waiter_leaves_the_line() {
        run(async {
            let m = Mutex::new(0);
            let g = m.lock().await;
            let mut lock = Box::pin(m.lock());
            assert!(crate::sync::poll_once(lock.as_mut()).await.is_pending());
            drop(lock);
            drop(g);
            assert!(!m.is_locked());
            assert!(m.try_lock().is_ok());
        });
    }
}
