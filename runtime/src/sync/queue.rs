//! `Queue`, `LifoQueue`, `PriorityQueue`: bounded or unbounded async queues
//! with `task_done`/`join` and `close` (asyncio's queues).

use super::store::{Fifo, Lifo, Priority, Store};
use super::waiters::{WaitList, Wakeups};
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A FIFO queue (asyncio's `Queue`).
pub type Queue<T> = GenericQueue<T, Fifo<T>>;
/// A LIFO queue (asyncio's `LifoQueue`).
pub type LifoQueue<T> = GenericQueue<T, Lifo<T>>;
/// A queue returning the smallest item first (asyncio's `PriorityQueue`).
pub type PriorityQueue<T> = GenericQueue<T, Priority<T>>;

/// An async queue for tasks on one loop, ordered by `S`; use it through
/// [`Queue`], [`LifoQueue`] or [`PriorityQueue`].
///
/// - `put` waits while a bounded queue is full, `get` while it is empty;
///   both are served FIFO among waiting tasks, and an item put while a task
///   waits in `get` goes straight to it.
/// - Cancel-safe: a dropped `put` leaves without its item entering the
///   queue; a dropped `get` that had already been handed an item puts it
///   back in front (to the next getter, or the store — even if that briefly
///   exceeds `maxsize`), so no item is lost or duplicated.
/// - [`close`](Self::close) (asyncio 3.13's `shutdown()`): `put` fails from
///   then on, `get` drains the remaining items and then fails, and waiting
///   tasks are woken with the error instead of hanging.
/// - [`task_done`](Self::task_done) / [`join`](Self::join) count unfinished
///   items as asyncio does.
///
/// ```
/// use ringloop_runtime::sync::Queue;
/// use std::rc::Rc;
/// ringloop_runtime::run(async {
///     let q = Rc::new(Queue::bounded(2));
///     let q2 = q.clone();
///     let consumer = ringloop_runtime::spawn(async move {
///         let mut sum = 0;
///         while let Ok(n) = q2.get().await {
///             sum += n;
///             q2.task_done().unwrap();
///         }
///         sum
///     });
///     for n in 1..=10 {
///         q.put(n).await.unwrap();
///     }
///     q.join().await;
///     q.close();
///     assert_eq!(consumer.await.unwrap(), 55);
/// });
/// ```
pub struct GenericQueue<T, S> {
    state: RefCell<State<T, S>>,
    /// `None` for unbounded.
    maxsize: Option<usize>,
}

struct State<T, S> {
    store: S,
    /// Waiting getters; a notified one holds `Some(item)`, or `None` if it
    /// was woken by `close`.
    getters: WaitList<Option<T>>,
    /// Waiting putters, holding their item until it is admitted (`None`
    /// then) or handed back by `close`.
    putters: WaitList<Option<T>>,
    joiners: WaitList<()>,
    unfinished: usize,
    closed: bool,
}

/// The queue was closed (and, for `get`, is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueClosed(());

impl fmt::Display for QueueClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is closed and has no items left; stop consuming")
    }
}
impl std::error::Error for QueueClosed {}

/// `put` on a closed queue; holds the item that was not added.
#[derive(PartialEq, Eq)]
pub struct PutError<T>(pub T);

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PutError(..)")
    }
}
impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is closed; the item was not added and is returned in the error")
    }
}
impl<T> std::error::Error for PutError<T> {}

/// Why `try_get` returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryGetError {
    /// No item now; `get().await` would wait.
    Empty,
    /// Closed and drained; no item will ever come.
    Closed,
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryGetError::Empty => "the queue is empty; await get() to wait for an item",
            TryGetError::Closed => "the queue is closed and has no items left",
        })
    }
}
impl std::error::Error for TryGetError {}

/// Why `try_put` did not add the item (returned inside).
#[derive(PartialEq, Eq)]
pub enum TryPutError<T> {
    /// The queue is at `maxsize` (or putters are waiting first).
    Full(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> TryPutError<T> {
    /// The item that was not added.
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(t) | TryPutError::Closed(t) => t,
        }
    }
}
impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPutError::Full(_) => "Full(..)",
            TryPutError::Closed(_) => "Closed(..)",
        })
    }
}
impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPutError::Full(_) => "the queue is full; await put() to wait for room",
            TryPutError::Closed(_) => "the queue is closed; the item was not added",
        })
    }
}
impl<T> std::error::Error for TryPutError<T> {}

/// `task_done` was called more times than items were put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDoneError(());

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than there were items put in the queue")
    }
}
impl std::error::Error for TaskDoneError {}

impl<T, S: Store<T>> GenericQueue<T, S> {
    /// An unbounded queue.
    pub fn new() -> Self {
        Self::with_maxsize(None)
    }

    /// A queue holding at most `maxsize` items; `0` means unbounded, as in
    /// asyncio.
    pub fn bounded(maxsize: usize) -> Self {
        Self::with_maxsize((maxsize > 0).then_some(maxsize))
    }

    fn with_maxsize(maxsize: Option<usize>) -> Self {
        GenericQueue {
            state: RefCell::new(State {
                store: S::default(),
                getters: WaitList::new(),
                putters: WaitList::new(),
                joiners: WaitList::new(),
                unfinished: 0,
                closed: false,
            }),
            maxsize,
        }
    }

    /// Adds `item`, waiting while the queue is full.
    ///
    /// The future resolves to `Err(PutError(item))` if the queue is or gets
    /// closed before the item was added.
    pub fn put(&self, item: T) -> Put<'_, T, S> {
        Put {
            queue: self,
            item: Some(item),
            key: None,
        }
    }

    /// Removes and returns the next item, waiting while the queue is empty.
    ///
    /// The future resolves to `Err(QueueClosed)` once the queue is closed
    /// and empty.
    pub fn get(&self) -> Get<'_, T, S> {
        Get {
            queue: self,
            key: None,
        }
    }

    /// Adds `item` if there is room now.
    ///
    /// # Errors
    /// [`TryPutError::Full`] or [`TryPutError::Closed`], with the item.
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        // Declared before the borrow, so dropped (waking) after it.
        let mut wake = Wakeups::new();
        let mut st = self.state.borrow_mut();
        if st.closed {
            return Err(TryPutError::Closed(item));
        }
        if !st.putters.is_empty() || self.is_full(&st) {
            return Err(TryPutError::Full(item));
        }
        st.add(item, &mut wake);
        Ok(())
    }

    /// Removes the next item if there is one now.
    ///
    /// # Errors
    /// [`TryGetError::Empty`], or [`TryGetError::Closed`] once closed and drained.
    pub fn try_get(&self) -> Result<T, TryGetError> {
        // Declared before the borrow, so dropped (waking) after it.
        let mut wake = Wakeups::new();
        let mut st = self.state.borrow_mut();
        match st.store.pop() {
            Some(item) => {
                self.admit_putters(&mut st, &mut wake);
                Ok(item)
            }
            None if st.closed => Err(TryGetError::Closed),
            None => Err(TryGetError::Empty),
        }
    }

    /// Marks one item taken with `get` as processed; when every item put has
    /// been marked, `join` returns.
    ///
    /// # Errors
    /// [`TaskDoneError`] if called more times than items were put.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut wake = Wakeups::new();
        let mut st = self.state.borrow_mut();
        if st.unfinished == 0 {
            return Err(TaskDoneError(()));
        }
        st.unfinished -= 1;
        if st.unfinished == 0 {
            st.joiners.notify_all(&mut wake, |_, _| {});
        }
        drop(st);
        wake.wake();
        Ok(())
    }

    /// Waits until every item put has been marked with `task_done`.
    pub fn join(&self) -> Join<'_, T, S> {
        Join {
            queue: self,
            key: None,
        }
    }

    /// Closes the queue: `put` fails from now on (waiting putters get their
    /// items back), `get` returns the remaining items and then fails
    /// (waiting getters are woken with the error). Idempotent. `join` still
    /// waits for `task_done` on the items that were put.
    pub fn close(&self) {
        let mut wake = Wakeups::new();
        let mut st = self.state.borrow_mut();
        st.closed = true;
        // Waiting getters imply an empty store: they all fail.
        st.getters.notify_all(&mut wake, |_, _| {});
        // Waiting putters keep their items and fail.
        st.putters.notify_all(&mut wake, |_, _| {});
        drop(st);
        wake.wake();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }

    /// Number of items in the queue.
    pub fn qsize(&self) -> usize {
        self.state.borrow().store.len()
    }

    /// Whether the queue holds no items.
    pub fn is_empty(&self) -> bool {
        self.state.borrow().store.is_empty()
    }

    /// Whether a bounded queue holds `maxsize` items (never for unbounded).
    fn is_full(&self, st: &State<T, S>) -> bool {
        self.maxsize.is_some_and(|m| st.store.len() >= m)
    }

    /// Whether the queue holds `maxsize` items (never true if unbounded).
    pub fn full(&self) -> bool {
        self.is_full(&self.state.borrow())
    }

    /// The bound given at creation, `None` if unbounded.
    pub fn maxsize(&self) -> Option<usize> {
        self.maxsize
    }

    /// Moves waiting putters' items into the store while there is room.
    fn admit_putters(&self, st: &mut State<T, S>, wake: &mut Wakeups) {
        while !self.is_full(st) {
            let mut item = None;
            if !st.putters.notify_front(wake, |slot| item = slot.take()) {
                break;
            }
            let item = item.expect("a queued putter holds its item");
            st.store.push(item);
            st.unfinished += 1;
        }
    }
}

impl<T, S> State<T, S>
where
    S: Store<T>,
{
    /// Adds an item there is room for: to the first waiting getter, or the store.
    fn add(&mut self, item: T, wake: &mut Wakeups) {
        self.unfinished += 1;
        self.give(item, wake);
    }

    /// Hands `item` to the first waiting getter, or stores it.
    fn give(&mut self, item: T, wake: &mut Wakeups) {
        let mut item = Some(item);
        if !self.getters.notify_front(wake, |slot| *slot = item.take()) {
            self.store.push(item.take().expect("not handed out"));
        }
    }
}

impl<T, S: Store<T>> Default for GenericQueue<T, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, S> fmt::Debug for GenericQueue<T, S>
where
    S: Store<T>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("Queue")
            .field("qsize", &st.store.len())
            .field("maxsize", &self.maxsize)
            .field("getters", &st.getters.len())
            .field("putters", &st.putters.len())
            .field("unfinished", &st.unfinished)
            .field("closed", &st.closed)
            .finish()
    }
}

/// The future of [`GenericQueue::put`].
#[must_use = "futures do nothing unless awaited"]
pub struct Put<'a, T, S: Store<T>> {
    queue: &'a GenericQueue<T, S>,
    /// The item until it is added or queued with the putter.
    item: Option<T>,
    key: Option<usize>,
}

impl<T, S: Store<T>> Future for Put<'_, T, S> {
    type Output = Result<(), PutError<T>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let queue = this.queue;
        // Declared before the borrow, so dropped (waking) after it.
        let mut wake = Wakeups::new();
        let mut st = queue.state.borrow_mut();
        match this.key {
            None => {
                let item = this.item.take().expect("Put polled after completion");
                if st.closed {
                    return Poll::Ready(Err(PutError(item)));
                }
                if st.putters.is_empty() && !queue.is_full(&st) {
                    st.add(item, &mut wake);
                    return Poll::Ready(Ok(()));
                }
                this.key = Some(st.putters.push_back(Some(item), cx.waker()));
                Poll::Pending
            }
            Some(key) if st.putters.is_notified(key) => {
                let (item, _) = st.putters.remove(key);
                this.key = None;
                // Admitted (item taken) or handed back by `close`.
                Poll::Ready(item.map_or(Ok(()), |item| Err(PutError(item))))
            }
            Some(key) => {
                st.putters.set_waker(key, cx.waker());
                Poll::Pending
            }
        }
    }
}

// The item is moved, never pinned, so `Put` is Unpin whatever `T` is.
impl<T, S: Store<T>> Unpin for Put<'_, T, S> {}

impl<T, S: Store<T>> Drop for Put<'_, T, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Queued: the item leaves with us. Admitted: it is in the queue.
            let (item, _) = self.queue.state.borrow_mut().putters.remove(key);
            drop(item);
        }
    }
}

impl<T, S: Store<T>> fmt::Debug for Put<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// The future of [`GenericQueue::get`].
#[must_use = "futures do nothing unless awaited"]
pub struct Get<'a, T, S: Store<T>> {
    queue: &'a GenericQueue<T, S>,
    key: Option<usize>,
}

impl<T, S: Store<T>> Future for Get<'_, T, S> {
    type Output = Result<T, QueueClosed>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.queue;
        // Declared before the borrow, so dropped (waking) after it.
        let mut wake = Wakeups::new();
        let mut st = queue.state.borrow_mut();
        match self.key {
            None => {
                if let Some(item) = st.store.pop() {
                    queue.admit_putters(&mut st, &mut wake);
                    return Poll::Ready(Ok(item));
                }
                if st.closed {
                    return Poll::Ready(Err(QueueClosed(())));
                }
                let key = st.getters.push_back(None, cx.waker());
                drop(st);
                self.key = Some(key);
                Poll::Pending
            }
            Some(key) if st.getters.is_notified(key) => {
                let (item, _) = st.getters.remove(key);
                drop(st);
                self.key = None;
                Poll::Ready(item.ok_or(QueueClosed(())))
            }
            Some(key) => {
                st.getters.set_waker(key, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T, S: Store<T>> Drop for Get<'_, T, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut wake = Wakeups::new();
            let mut st = self.queue.state.borrow_mut();
            if let (Some(item), true) = st.getters.remove(key) {
                // Handed to us but never observed: it is next in line again.
                let mut item = Some(item);
                if !st
                    .getters
                    .notify_front(&mut wake, |slot| *slot = item.take())
                {
                    st.store.push_returned(item.take().expect("not handed out"));
                }
            }
        }
    }
}

impl<T, S: Store<T>> fmt::Debug for Get<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// The future of [`GenericQueue::join`].
#[must_use = "futures do nothing unless awaited"]
pub struct Join<'a, T, S: Store<T>> {
    queue: &'a GenericQueue<T, S>,
    key: Option<usize>,
}

impl<T, S: Store<T>> Future for Join<'_, T, S> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.queue.state.borrow_mut();
        match self.key {
            None if st.unfinished == 0 => Poll::Ready(()),
            None => {
                let key = st.joiners.push_back((), cx.waker());
                drop(st);
                self.key = Some(key);
                Poll::Pending
            }
            Some(key) if st.joiners.is_notified(key) => {
                st.joiners.remove(key);
                drop(st);
                self.key = None;
                Poll::Ready(())
            }
            Some(key) => {
                st.joiners.set_waker(key, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T, S: Store<T>> Drop for Join<'_, T, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.queue.state.borrow_mut().joiners.remove(key);
        }
    }
}

impl<T, S: Store<T>> fmt::Debug for Join<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
