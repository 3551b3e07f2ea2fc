//! `Event`: a flag tasks can wait for (asyncio's `Event`).

use super::waiters::{WaitList, Wakeups};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A flag that tasks wait to become set. `set` wakes every waiter; `clear`
/// resets it, and a waiter woken by a `set` completes even if the flag was
/// cleared again before it ran (as in asyncio).
///
/// ```
/// use ringloop_runtime::sync::Event;
/// use std::rc::Rc;
/// ringloop_runtime::run(async {
///     let ev = Rc::new(Event::new());
///     let e = ev.clone();
///     let waiter = ringloop_runtime::spawn(async move { e.wait().await });
///     ev.set();
///     waiter.await.unwrap();
///     assert!(ev.is_set());
/// });
/// ```
#[derive(Default)]
pub struct Event {
    set: Cell<bool>,
    waiters: RefCell<WaitList<()>>,
}

impl Event {
    /// An event that is not set.
    pub const fn new() -> Self {
        Event {
            set: Cell::new(false),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Sets the flag and wakes every task waiting for it.
    pub fn set(&self) {
        self.set.set(true);
        let mut wake = Wakeups::new();
        self.waiters.borrow_mut().notify_all(&mut wake, |_, _| {});
        wake.wake();
    }

    /// Resets the flag; later `wait`s block until the next `set`.
    pub fn clear(&self) {
        self.set.set(false);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    /// Waits until the flag is set (returns at once if it is).
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            key: None,
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.set.get())
            .field("waiters", &self.waiters.borrow().len())
            .finish()
    }
}

/// The future of [`Event::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    key: Option<usize>,
}

impl Future for EventWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.key.is_none() && this.event.set.get() {
            return Poll::Ready(());
        }
        let mut waiters = this.event.waiters.borrow_mut();
        waiters.poll_wait(&mut this.key, cx.waker(), || ())
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Every waiter is woken by a set, so there is nothing to pass on.
            self.event.waiters.borrow_mut().remove(key);
        }
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
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
    fn set_wakes_all_even_if_cleared_before_they_run() {
        run(async {
            let ev = Rc::new(Event::new());
            let tasks: Vec<_> = (0..3)
                .map(|_| {
                    let e = ev.clone();
                    spawn(async move { e.wait().await })
                })
                .collect();
            yield_now().await;
            ev.set();
            ev.clear();
            for t in tasks {
                t.await.unwrap();
            }
            assert!(!ev.is_set());
            let mut w = Box::pin(ev.wait());
            assert!(poll_once(w.as_mut()).await.is_pending());
        });
    }

    #[test]
    fn dropped_waiter_leaves_no_trace() {
        run(async {
            let ev = Event::new();
            let mut w = Box::pin(ev.wait());
            assert!(poll_once(w.as_mut()).await.is_pending());
            drop(w);
            assert_eq!(ev.waiters.borrow().len(), 0);
            ev.set();
            ev.wait().await;
        });
    }
}
