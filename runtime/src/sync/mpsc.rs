//! Channels that cross runtimes and threads: many senders, one receiver.
//!
//! Unlike the rest of [`crate::sync`], which serves the tasks of one loop,
//! these are `Send`: a [`Sender`] can be cloned into tasks of other
//! runtimes (of a [`Builder::run_per_thread`](crate::Builder::run_per_thread)
//! group) and plain threads, and the [`Receiver`] moved to wherever the
//! values are consumed. Async `send`/`recv` work on any runtime;
//! [`Sender::blocking_send`] and [`Receiver::blocking_recv`] on threads
//! that run none (never call them on a runtime's thread: they block it).
//!
//! Closing follows asyncio's `Queue.shutdown`: once every sender is dropped
//! or [`close`](Sender::close) is called, sends fail and the receiver gets
//! what was already sent, then `None`. Dropping the receiver makes every
//! send fail with its value handed back ([`SendError`]).
//!
//! Both ends are cancel-safe: a dropped `recv` takes nothing, and a dropped
//! `send` puts nothing and hands its turn to the next waiting sender.
//!
//! ```
//! use ringloop_runtime::sync::mpsc;
//! let (tx, mut rx) = mpsc::channel(16);
//! let producer = std::thread::spawn(move || {
//!     for i in 0..100 {
//!         tx.blocking_send(i).unwrap();
//!     }
//! });
//! let sum = ringloop_runtime::run(async move {
//!     let mut sum = 0;
//!     while let Some(i) = rx.recv().await {
//!         sum += i;
//!     }
//!     sum
//! });
//! producer.join().unwrap();
//! assert_eq!(sum, 4950);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A bounded channel holding at most `capacity` values (0 is taken as 1):
/// `send` waits while it is full.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    new(Some(capacity.max(1)))
}

/// A channel without a bound: `send` never waits (memory is the limit).
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new(None)
}

fn new<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            cap,
            closed: false,
            receiver_alive: true,
            senders: 1,
            recv_waker: None,
            send_waiters: VecDeque::new(),
            next_waiter: 0,
            blocked_receivers: 0,
            blocked_senders: 0,
        }),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

struct Chan<T> {
    state: Mutex<State<T>>,
    /// Threads in `blocking_recv`.
    not_empty: Condvar,
    /// Threads in `blocking_send`.
    not_full: Condvar,
}

struct State<T> {
    queue: VecDeque<T>,
    /// `None`: unbounded.
    cap: Option<usize>,
    /// Closed by `close` or by the last sender's drop.
    closed: bool,
    receiver_alive: bool,
    senders: usize,
    recv_waker: Option<Waker>,
    /// Async senders waiting for room, first come first served; the front
    /// one is woken when room appears.
    send_waiters: VecDeque<(u64, Waker)>,
    next_waiter: u64,
    /// Threads blocked in `blocking_recv` / `blocking_send`: the condvars
    /// are signalled only when someone waits on them (a signal is a
    /// syscall).
    blocked_receivers: usize,
    blocked_senders: usize,
}

impl<T> State<T> {
    fn has_room(&self) -> bool {
        self.cap.is_none_or(|cap| self.queue.len() < cap)
    }

    /// Whether sends must fail: nobody will receive.
    fn refuses(&self) -> bool {
        self.closed || !self.receiver_alive
    }
}

impl<T> Chan<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `value` (room was checked) and wakes the receiver, after the
    /// lock is released.
    fn put(&self, mut st: MutexGuard<'_, State<T>>, value: T) {
        st.queue.push_back(value);
        let waker = st.recv_waker.take();
        let blocked = st.blocked_receivers > 0;
        drop(st);
        if blocked {
            self.not_empty.notify_one();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// After room appeared: wakes the first waiting async sender and one
    /// blocking sender (the lock released first).
    fn room_freed(&self, st: MutexGuard<'_, State<T>>) {
        let waker = st.send_waiters.front().map(|(_, w)| w.clone());
        let blocked = st.blocked_senders > 0;
        drop(st);
        if blocked {
            self.not_full.notify_one();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// After the channel closed (or lost its receiver): wakes everyone.
    fn wake_all(&self, mut st: MutexGuard<'_, State<T>>) {
        let recv = st.recv_waker.take();
        let senders: Vec<Waker> = st.send_waiters.iter().map(|(_, w)| w.clone()).collect();
        drop(st);
        self.not_empty.notify_all();
        self.not_full.notify_all();
        recv.into_iter().chain(senders).for_each(Waker::wake);
    }
}

/// The value of a send that cannot be delivered: the receiver was dropped
/// or the channel closed. The value is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the channel is closed or its receiver was dropped; the value is handed back in the error",
        )
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`] did not send.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The channel is full; the value is handed back.
    Full(T),
    /// The channel is closed or its receiver dropped; the value is handed back.
    Closed(T),
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => {
                f.write_str("the channel is full; await send() to wait for room")
            }
            TrySendError::Closed(_) => SendError(()).fmt(f),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why [`Receiver::try_recv`] got nothing.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Nothing is queued now.
    Empty,
    /// Nothing is queued and nothing will be: the channel is closed.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "the channel is empty; await recv() to wait for a value",
            TryRecvError::Closed => "the channel is closed and drained",
        })
    }
}

impl std::error::Error for TryRecvError {}

/// The sending end: `Send + Sync`, cheap to clone.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut st = self.chan.lock();
        st.senders -= 1;
        if st.senders == 0 && !st.closed {
            st.closed = true;
            self.chan.wake_all(st);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.chan.lock();
        f.debug_struct("Sender")
            .field("queued", &st.queue.len())
            .field("closed", &st.refuses())
            .finish()
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room in a bounded channel. Waiting
    /// senders are served in order.
    ///
    /// # Errors
    /// [`SendError`] with the value if the channel is or gets closed, or
    /// the receiver was dropped.
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send {
            chan: &self.chan,
            value: Some(value),
            waiter: None,
        }
    }

    /// Sends `value` if there is room now.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the value.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let st = self.chan.lock();
        if st.refuses() {
            return Err(TrySendError::Closed(value));
        }
        if !st.has_room() || !st.send_waiters.is_empty() {
            return Err(TrySendError::Full(value));
        }
        self.chan.put(st, value);
        Ok(())
    }

    /// Sends `value` from a thread that runs no runtime, blocking it while
    /// the channel is full.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        let mut st = self.chan.lock();
        loop {
            if st.refuses() {
                return Err(SendError(value));
            }
            if st.has_room() {
                self.chan.put(st, value);
                return Ok(());
            }
            st.blocked_senders += 1;
            st = self
                .chan
                .not_full
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
            st.blocked_senders -= 1;
        }
    }

    /// Closes the channel for every sender: later sends fail, and the
    /// receiver gets what was sent so far, then `None`.
    pub fn close(&self) {
        let mut st = self.chan.lock();
        if !st.closed {
            st.closed = true;
            self.chan.wake_all(st);
        }
    }

    /// Whether sends fail now (closed, or the receiver is gone).
    pub fn is_closed(&self) -> bool {
        self.chan.lock().refuses()
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless awaited"]
pub struct Send<'a, T> {
    chan: &'a Arc<Chan<T>>,
    value: Option<T>,
    /// Our id in the queue of waiting senders, once queued.
    waiter: Option<u64>,
}

impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut st = this.chan.lock();
        let value = this.value.take().expect("Send polled after completion");
        if st.refuses() {
            if let Some(id) = this.waiter.take() {
                st.send_waiters.retain(|(w, _)| *w != id);
            }
            return Poll::Ready(Err(SendError(value)));
        }
        let first = match this.waiter {
            None => st.send_waiters.is_empty(),
            Some(id) => st.send_waiters.front().is_some_and(|(w, _)| *w == id),
        };
        if first && st.has_room() {
            if this.waiter.take().is_some() {
                st.send_waiters.pop_front();
            }
            // Room left: the next waiting sender may go too.
            let next = st
                .send_waiters
                .front()
                .filter(|_| st.cap.is_none_or(|cap| st.queue.len() + 1 < cap))
                .map(|(_, w)| w.clone());
            this.chan.put(st, value);
            if let Some(w) = next {
                w.wake();
            }
            return Poll::Ready(Ok(()));
        }
        this.value = Some(value);
        match this.waiter {
            Some(id) => {
                if let Some((_, w)) = st.send_waiters.iter_mut().find(|(w, _)| *w == id) {
                    if !w.will_wake(cx.waker()) {
                        *w = cx.waker().clone();
                    }
                }
            }
            None => {
                let id = st.next_waiter;
                st.next_waiter += 1;
                st.send_waiters.push_back((id, cx.waker().clone()));
                this.waiter = Some(id);
            }
        }
        Poll::Pending
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        let Some(id) = self.waiter.take() else {
            return;
        };
        let mut st = self.chan.lock();
        let was_first = st.send_waiters.front().is_some_and(|(w, _)| *w == id);
        st.send_waiters.retain(|(w, _)| *w != id);
        // It may have been woken for room it will not use: pass it on.
        if was_first && st.has_room() {
            self.chan.room_freed(st);
        }
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send")
            .field("queued", &self.waiter.is_some())
            .finish()
    }
}

/// The receiving end: `Send`, one per channel.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = self.chan.lock();
        st.receiver_alive = false;
        // Values nobody will receive are dropped now, outside the lock.
        let left = std::mem::take(&mut st.queue);
        self.chan.wake_all(st);
        drop(left);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.chan.lock();
        f.debug_struct("Receiver")
            .field("queued", &st.queue.len())
            .field("closed", &st.closed)
            .finish()
    }
}

impl<T> Receiver<T> {
    /// The next value, waiting while the channel is empty; `None` once it
    /// is closed and drained.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv { rx: self }
    }

    /// The next value if one is queued now.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once closed and drained.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = self.chan.lock();
        match st.queue.pop_front() {
            Some(v) => {
                self.chan.room_freed(st);
                Ok(v)
            }
            None if st.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// The next value, blocking this thread (which must run no runtime)
    /// while the channel is empty; `None` once it is closed and drained.
    pub fn blocking_recv(&mut self) -> Option<T> {
        let mut st = self.chan.lock();
        loop {
            if let Some(v) = st.queue.pop_front() {
                self.chan.room_freed(st);
                return Some(v);
            }
            if st.closed {
                return None;
            }
            st.blocked_receivers += 1;
            st = self
                .chan
                .not_empty
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
            st.blocked_receivers -= 1;
        }
    }

    /// Closes the channel: later sends fail; what was sent stays to be
    /// received, then `recv` gives `None`.
    pub fn close(&mut self) {
        let mut st = self.chan.lock();
        if !st.closed {
            st.closed = true;
            self.chan.wake_all(st);
        }
    }

    /// How many values are queued.
    pub fn len(&self) -> usize {
        self.chan.lock().queue.len()
    }

    /// Whether no value is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Recv<'a, T> {
    rx: &'a mut Receiver<T>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let chan = &self.rx.chan;
        let mut st = chan.lock();
        if let Some(v) = st.queue.pop_front() {
            chan.room_freed(st);
            return Poll::Ready(Some(v));
        }
        if st.closed {
            return Poll::Ready(None);
        }
        match &st.recv_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.recv_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}
