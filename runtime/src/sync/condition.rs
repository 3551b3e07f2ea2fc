//! `Condition`: wait for a notification while holding a [`Mutex`]
//! (asyncio's `Condition`).

use super::mutex::{Mutex, MutexGuard};
use super::waiters::{WaitList, Wakeups};
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A condition variable for tasks on one loop, used with a [`Mutex`].
///
/// [`wait`](Self::wait) takes the guard, unlocks, waits for a
/// [`notify`](Self::notify), and locks again before returning the guard —
/// asyncio's `async with cond: await cond.wait()`. Because it takes the guard
/// by value, "wait without holding the lock" (asyncio's RuntimeError) cannot
/// be written. Notifying needs no lock: on one thread no wake-up can slip in
/// between a check and a wait.
///
/// Cancel-safe: a waiter dropped after it was notified passes the
/// notification to the next waiter, so `notify(1)` always reaches a task
/// that is still waiting, if there is one.
///
/// ```
/// use ringloop_runtime::sync::{Condition, Mutex};
/// use std::rc::Rc;
/// ringloop_runtime::run(async {
///     let state = Rc::new((Mutex::new(false), Condition::new()));
///     let s = state.clone();
///     let waiter = ringloop_runtime::spawn(async move {
///         let (lock, cond) = &*s;
///         let ready = cond.wait_for(lock.lock().await, |ready| *ready).await;
///         assert!(*ready);
///     });
///     ringloop_runtime::yield_now().await;
///     *state.0.lock().await = true;
///     state.1.notify_all();
///     waiter.await.unwrap();
/// });
/// ```
#[derive(Default)]
pub struct Condition {
    waiters: RefCell<WaitList<()>>,
}

impl Condition {
    /// A condition with no waiters.
    pub const fn new() -> Self {
        Condition {
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Unlocks `guard`'s mutex, waits to be notified, locks it again and
    /// returns the new guard.
    ///
    /// If this future is dropped, the lock is not re-taken (the guard was
    /// given up when the wait began).
    pub async fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex: &'a Mutex<T> = MutexGuard::mutex(&guard);
        let notified = Notified {
            cond: self,
            key: None,
        };
        // Nothing else runs between this drop and the first poll of
        // `notified`, which queues us: no notification can be missed.
        drop(guard);
        notified.await;
        mutex.lock().await
    }

    /// Waits until `predicate` returns true for the protected value,
    /// checking it first and after each notification, with the lock held.
    pub async fn wait_for<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut predicate: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while !predicate(&mut guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Wakes up to `n` waiters in FIFO order; returns how many were woken.
    pub fn notify(&self, n: usize) -> usize {
        let mut wake = Wakeups::new();
        let mut waiters = self.waiters.borrow_mut();
        let mut woken = 0;
        while woken < n && waiters.notify_front(&mut wake, |_| {}) {
            woken += 1;
        }
        drop(waiters);
        wake.wake();
        woken
    }

    /// Wakes every waiter; returns how many were woken.
    pub fn notify_all(&self) -> usize {
        let mut wake = Wakeups::new();
        let woken = self.waiters.borrow_mut().notify_all(&mut wake, |_, _| {});
        wake.wake();
        woken
    }

    /// Number of tasks waiting for a notification.
    pub fn waiters(&self) -> usize {
        self.waiters.borrow().len()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiters", &self.waiters.borrow().len())
            .finish()
    }
}

/// Waiting for a notification; passes an unobserved one on when dropped.
struct Notified<'a> {
    cond: &'a Condition,
    key: Option<usize>,
}

impl Future for Notified<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut waiters = this.cond.waiters.borrow_mut();
        waiters.poll_wait(&mut this.key, cx.waker(), || ())
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (_, notified) = self.cond.waiters.borrow_mut().remove(key);
            if notified {
                self.cond.notify(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::run_task as run;
    use crate::{spawn, yield_now};
    use std::rc::Rc;

    type Shared = Rc<(Mutex<Vec<u32>>, Condition)>;

    fn waiter(s: &Shared, id: u32) -> crate::JoinHandle<()> {
        let s = s.clone();
        spawn(async move {
            let (m, c) = &*s;
            let mut g = c.wait(m.lock().await).await;
            g.push(id);
        })
    }

    #[test]
    fn notify_n_wakes_n_in_fifo_order() {
        run(async {
            let s: Shared = Rc::new((Mutex::new(Vec::new()), Condition::new()));
            let tasks: Vec<_> = (0..4).map(|i| waiter(&s, i)).collect();
            yield_now().await;
            assert_eq!(s.1.waiters(), 4);
            assert_eq!(s.1.notify(2), 2);
            yield_now().await;
            yield_now().await;
            assert_eq!(*s.0.lock().await, vec![0, 1]);
            assert_eq!(s.1.notify_all(), 2);
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*s.0.lock().await, vec![0, 1, 2, 3]);
            assert_eq!(s.1.notify(1), 0);
        });
    }

    #[test]
    fn a_notified_waiter_that_is_cancelled_passes_the_notification_on() {
        run(async {
            let s: Shared = Rc::new((Mutex::new(Vec::new()), Condition::new()));
            let first = waiter(&s, 1);
            let second = waiter(&s, 2);
            yield_now().await;
            s.1.notify(1); // goes to `first` ...
            first.abort(); // ... which is dropped before it runs
            assert!(first.await.unwrap_err().is_cancelled());
            second.await.unwrap();
            assert_eq!(*s.0.lock().await, vec![2]);
        });
    }

    #[test]
    fn wait_for_rechecks_the_predicate() {
        run(async {
            let s: Shared = Rc::new((Mutex::new(Vec::new()), Condition::new()));
            let s2 = s.clone();
            let task = spawn(async move {
                let (m, c) = &*s2;
                let g = c.wait_for(m.lock().await, |v| v.len() >= 2).await;
                g.len()
            });
            for i in 0..3 {
                yield_now().await;
                s.0.lock().await.push(i);
                s.1.notify_all();
            }
            assert_eq!(task.await.unwrap(), 2);
        });
    }
}
