//! A small single-threaded FIFO async lock, held around each whole write of
//! a [`Writer`](crate::Writer) so that clones used from several tasks never
//! interleave their messages. (Private: `ringloop::sync` has the general one.)

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A waiter in the queue.
#[derive(Default)]
struct Waiter {
    /// Set when the lock was handed to this waiter.
    granted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

#[derive(Default)]
struct State {
    locked: bool,
    /// Waiters in arrival order; the lock passes to the front one.
    queue: VecDeque<Rc<Waiter>>,
}

/// The lock. Fair: waiters get it in the order they asked.
#[derive(Default)]
pub(crate) struct FifoLock {
    state: RefCell<State>,
}

impl FifoLock {
    /// Waits for the lock. Cancel-safe: dropping the future gives up the
    /// place in the queue (or passes on a lock it was just handed).
    pub(crate) fn lock(&self) -> Acquire<'_> {
        Acquire {
            lock: self,
            waiter: None,
            done: false,
        }
    }

    /// Passes the lock to the next waiter, or frees it.
    fn release(&self) {
        let mut st = self.state.borrow_mut();
        match st.queue.pop_front() {
            Some(next) => {
                next.granted.set(true);
                let waker = next.waker.borrow_mut().take();
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            None => st.locked = false,
        }
    }
}

/// The future of [`FifoLock::lock`].
pub(crate) struct Acquire<'a> {
    lock: &'a FifoLock,
    waiter: Option<Rc<Waiter>>,
    done: bool,
}

impl<'a> Future for Acquire<'a> {
    type Output = Guard<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Guard<'a>> {
        let this = &mut *self;
        assert!(!this.done, "Acquire polled after completion");
        match &this.waiter {
            None => {
                let mut st = this.lock.state.borrow_mut();
                if !st.locked {
                    st.locked = true;
                    this.done = true;
                    return Poll::Ready(Guard { lock: this.lock });
                }
                let waiter = Rc::new(Waiter::default());
                *waiter.waker.borrow_mut() = Some(cx.waker().clone());
                st.queue.push_back(waiter.clone());
                this.waiter = Some(waiter);
                Poll::Pending
            }
            Some(waiter) if waiter.granted.get() => {
                this.done = true;
                Poll::Ready(Guard { lock: this.lock })
            }
            Some(waiter) => {
                *waiter.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(waiter) = self.waiter.take() else {
            return;
        };
        if self.done {
            return;
        }
        if waiter.granted.get() {
            // Handed the lock but never took it: pass it on.
            self.lock.release();
        } else {
            let mut st = self.lock.state.borrow_mut();
            st.queue.retain(|w| !Rc::ptr_eq(w, &waiter));
        }
    }
}

/// Holds the lock; dropping it passes the lock on.
pub(crate) struct Guard<'a> {
    lock: &'a FifoLock,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker;

    fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        let waker = noop_waker();
        Pin::new(f).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn fifo_order_and_cancelled_waiters() {
        let lock = FifoLock::default();
        let mut a = lock.lock();
        let guard_a = match poll(&mut a) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("a free lock is granted at once"),
        };
        let mut b = lock.lock();
        let mut c = lock.lock();
        let mut d = lock.lock();
        assert!(poll(&mut b).is_pending());
        assert!(poll(&mut c).is_pending());
        assert!(poll(&mut d).is_pending());
        drop(c); // gives up its place
        drop(guard_a);
        let guard_b = match poll(&mut b) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("b is next in line"),
        };
        assert!(poll(&mut d).is_pending());
        drop(guard_b);
        // d was handed the lock; dropping it before taking it frees the lock.
        drop(d);
        let mut e = lock.lock();
        assert!(poll(&mut e).is_ready());
    }
}
