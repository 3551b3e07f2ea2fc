//! The FIFO list of waiting futures every primitive of [`crate::sync`] uses.
//!
//! A waiter is a node in a doubly linked list stored in a slab, so a
//! cancelled waiter leaves from the middle in O(1). A node is in one of two
//! states:
//! - **Queued**: linked into the list, waiting its turn; `data` holds what the
//!   waiter brought (a wanted permit count, an item to put).
//! - **Notified**: unlinked and woken; `data` holds what it was granted (an
//!   item, an index). The node stays in the slab until its future observes the
//!   grant or is dropped, so a grant is never lost: the primitive's `Drop` for
//!   that future takes the node back and passes the grant on.
//!
//! Keys are valid from `push_back` until `remove`; each future removes its own
//! node exactly once (on completion or drop), so a key is never stale.
//!
//! Notifying does not call wakers: they are collected in a [`Wakeups`] the
//! caller declares *before* borrowing the primitive's state, and woken once
//! that borrow is released. A waker may run arbitrary code — a custom one
//! (from `futures::executor`, a test harness) can poll or use the same
//! primitive at once — and must never find the state still borrowed.

use slab::Slab;
use std::task::{Poll, Waker};

const NIL: usize = usize::MAX;

/// Wakers of notified waiters, to be woken after the primitive's `RefCell`
/// borrow is released: by [`wake`](Self::wake), or when dropped. Declare it
/// before the borrow guard, so that even an early return or a panic drops
/// the guard first.
#[derive(Debug, Default)]
#[must_use = "wakers are called when this is woken or dropped; release the borrow first"]
pub(crate) struct Wakeups {
    /// The first waker: notifying one waiter, the common case, allocates nothing.
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Wakeups {
    pub(crate) const fn new() -> Wakeups {
        Wakeups {
            first: None,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    /// Wakes every collected waker, in the order the waiters were notified.
    /// Call it with no borrow of the primitive held.
    pub(crate) fn wake(mut self) {
        self.wake_all();
    }

    fn wake_all(&mut self) {
        if let Some(w) = self.first.take() {
            w.wake();
        }
        for w in std::mem::take(&mut self.rest) {
            w.wake();
        }
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.wake_all();
    }
}

#[derive(Debug)]
struct Node<T> {
    prev: usize,
    next: usize,
    queued: bool,
    waker: Option<Waker>,
    data: T,
}

/// FIFO waiters carrying `T` each. See the module docs for the states.
#[derive(Debug)]
pub(crate) struct WaitList<T> {
    nodes: Slab<Node<T>>,
    head: usize,
    tail: usize,
    queued: usize,
}

impl<T> Default for WaitList<T> {
    fn default() -> Self {
        WaitList::new()
    }
}

impl<T> WaitList<T> {
    pub(crate) const fn new() -> Self {
        WaitList {
            nodes: Slab::new(),
            head: NIL,
            tail: NIL,
            queued: 0,
        }
    }

    /// Number of queued (not yet notified) waiters.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    /// Whether no waiter is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Queues a waiter at the tail; returns its key.
    pub(crate) fn push_back(&mut self, data: T, waker: &Waker) -> usize {
        let key = self.nodes.insert(Node {
            prev: self.tail,
            next: NIL,
            queued: true,
            waker: Some(waker.clone()),
            data,
        });
        if self.tail == NIL {
            self.head = key;
        } else {
            self.nodes[self.tail].next = key;
        }
        self.tail = key;
        self.queued += 1;
        key
    }

    /// Whether the waiter `key` has been notified.
    pub(crate) fn is_notified(&self, key: usize) -> bool {
        !self.nodes[key].queued
    }

    /// Replaces the waker of a queued waiter if it would wake another task.
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) {
        let node = &mut self.nodes[key];
        match &node.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => node.waker = Some(waker.clone()),
        }
    }

    /// Drives the future of a waiter whose key the future keeps in `key`:
    /// queues it with `data()` on the first poll, returns its data (and
    /// forgets the key) once it has been notified, and otherwise keeps its
    /// waker current.
    pub(crate) fn poll_wait(
        &mut self,
        key: &mut Option<usize>,
        waker: &Waker,
        data: impl FnOnce() -> T,
    ) -> Poll<T> {
        match *key {
            None => {
                *key = Some(self.push_back(data(), waker));
                Poll::Pending
            }
            Some(k) if self.is_notified(k) => {
                *key = None;
                Poll::Ready(self.remove(k).0)
            }
            Some(k) => {
                self.set_waker(k, waker);
                Poll::Pending
            }
        }
    }

    /// Removes the waiter `key` (queued or notified); returns its data and
    /// whether it had been notified.
    pub(crate) fn remove(&mut self, key: usize) -> (T, bool) {
        let was_queued = self.nodes[key].queued;
        if was_queued {
            self.unlink(key);
        }
        (self.nodes.remove(key).data, !was_queued)
    }

    /// The data of the first queued waiter.
    pub(crate) fn front_mut(&mut self) -> Option<&mut T> {
        if self.head == NIL {
            None
        } else {
            Some(&mut self.nodes[self.head].data)
        }
    }

    /// Notifies the first queued waiter after `grant` updated its data,
    /// adding its waker to `wake`; returns false if none is queued.
    pub(crate) fn notify_front(&mut self, wake: &mut Wakeups, grant: impl FnOnce(&mut T)) -> bool {
        let key = self.head;
        if key == NIL {
            return false;
        }
        self.unlink(key);
        let node = &mut self.nodes[key];
        grant(&mut node.data);
        if let Some(w) = node.waker.take() {
            wake.push(w);
        }
        true
    }

    /// Notifies every queued waiter in FIFO order, `grant` receiving each
    /// one's position (0-based), adding their wakers to `wake`; returns how
    /// many were notified.
    pub(crate) fn notify_all(
        &mut self,
        wake: &mut Wakeups,
        mut grant: impl FnMut(usize, &mut T),
    ) -> usize {
        let mut n = 0;
        while self.notify_front(wake, |d| grant(n, d)) {
            n += 1;
        }
        n
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next) = {
            let node = &mut self.nodes[key];
            debug_assert!(node.queued, "unlinking a waiter that is not queued");
            node.queued = false;
            (node.prev, node.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
        self.queued -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_removal_from_the_middle() {
        let w = futures_util::task::noop_waker_ref();
        let mut wake = Wakeups::new();
        let mut list = WaitList::new();
        let a = list.push_back(1, w);
        let b = list.push_back(2, w);
        let c = list.push_back(3, w);
        assert_eq!(list.remove(b), (2, false));
        assert_eq!(list.len(), 2);
        assert!(list.notify_front(&mut wake, |d| *d += 10));
        assert!(list.is_notified(a));
        assert!(!list.is_notified(c));
        assert_eq!(list.front_mut(), Some(&mut 3));
        assert_eq!(list.remove(a), (11, true));
        assert_eq!(list.notify_all(&mut wake, |i, d| *d = i), 1);
        assert!(list.is_empty());
        assert_eq!(list.remove(c), (0, true));
        assert!(!list.notify_front(&mut wake, |_| {}));
        wake.wake();
    }
}
