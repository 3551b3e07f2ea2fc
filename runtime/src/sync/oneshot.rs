//! `oneshot`: a value set once by one side and awaited by the other
//! (asyncio's `Future` with `set_result`).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A pair to pass one value between tasks: [`Sender::set_result`] once,
/// await the [`Receiver`].
///
/// ```
/// ringloop_runtime::run(async {
///     let (tx, rx) = ringloop_runtime::sync::oneshot::<u32>();
///     ringloop_runtime::spawn(async move { tx.set_result(7).unwrap() }).await.unwrap();
///     assert_eq!(rx.await, Ok(7));
/// });
/// ```
pub fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(RefCell::new(Shared {
        value: None,
        done: false,
        receiver_alive: true,
        senders: 1,
        waker: None,
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    value: Option<T>,
    /// A result was set (it may since have been taken by the receiver).
    done: bool,
    receiver_alive: bool,
    senders: usize,
    waker: Option<Waker>,
}

/// Sets the result of a [`oneshot`]. Cloneable: any clone may set it, once.
pub struct Sender<T> {
    shared: Rc<RefCell<Shared<T>>>,
}

/// Awaits the result of a [`oneshot`].
#[must_use = "futures do nothing unless awaited"]
pub struct Receiver<T> {
    shared: Rc<RefCell<Shared<T>>>,
}

/// Why `set_result` refused the value (returned inside).
#[derive(PartialEq, Eq)]
pub enum SetError<T> {
    /// A result was already set (asyncio's `InvalidStateError`).
    AlreadySet(T),
    /// The receiver was dropped; nobody will read the value.
    ReceiverDropped(T),
}

impl<T> SetError<T> {
    /// The value that was not set.
    pub fn into_inner(self) -> T {
        match self {
            SetError::AlreadySet(t) | SetError::ReceiverDropped(t) => t,
        }
    }
}

impl<T> fmt::Debug for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetError::AlreadySet(_) => "AlreadySet(..)",
            SetError::ReceiverDropped(_) => "ReceiverDropped(..)",
        })
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetError::AlreadySet(_) => {
                "the oneshot already has a result; a result can be set only once"
            }
            SetError::ReceiverDropped(_) => {
                "the oneshot's receiver was dropped; nobody will read this result"
            }
        })
    }
}

impl<T> std::error::Error for SetError<T> {}

/// Every sender was dropped without setting a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canceled(());

impl fmt::Display for Canceled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every sender of the oneshot was dropped without setting a result")
    }
}

impl std::error::Error for Canceled {}

impl<T> Sender<T> {
    /// Sets the result and wakes the receiver.
    ///
    /// # Errors
    /// [`SetError::AlreadySet`] on a second call (by any clone);
    /// [`SetError::ReceiverDropped`] if the receiver is gone.
    pub fn set_result(&self, value: T) -> Result<(), SetError<T>> {
        let mut sh = self.shared.borrow_mut();
        if sh.done {
            return Err(SetError::AlreadySet(value));
        }
        if !sh.receiver_alive {
            return Err(SetError::ReceiverDropped(value));
        }
        sh.done = true;
        sh.value = Some(value);
        let waker = sh.waker.take();
        // Woken with the state released: the waker may poll the receiver.
        drop(sh);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Whether a result was set.
    pub fn is_done(&self) -> bool {
        self.shared.borrow().done
    }

    /// Whether the receiver was dropped.
    pub fn is_closed(&self) -> bool {
        !self.shared.borrow().receiver_alive
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.borrow_mut().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut sh = self.shared.borrow_mut();
        sh.senders -= 1;
        let waker = if sh.senders == 0 && !sh.done {
            sh.waker.take()
        } else {
            None
        };
        // Woken with the state released: the waker may poll the receiver.
        drop(sh);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("done", &self.is_done())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// The result if it was set and not yet taken, without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        self.shared.borrow_mut().value.take()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Canceled>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut sh = self.shared.borrow_mut();
        if let Some(v) = sh.value.take() {
            return Poll::Ready(Ok(v));
        }
        if sh.done || sh.senders == 0 {
            // Never set, or already taken by an earlier poll / try_recv.
            return Poll::Ready(Err(Canceled(())));
        }
        sh.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut sh = self.shared.borrow_mut();
        sh.receiver_alive = false;
        sh.waker = None;
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("done", &self.shared.borrow().done)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::run_task as run;
    use crate::{spawn, yield_now};

    #[test]
    fn a_second_set_is_an_error() {
        run(async {
            let (tx, rx) = oneshot();
            let tx2 = tx.clone();
            let waiter = spawn(rx);
            yield_now().await;
            tx.set_result(1).unwrap();
            assert_eq!(tx2.set_result(2), Err(SetError::AlreadySet(2)));
            assert!(tx2.is_done());
            assert_eq!(waiter.await.unwrap(), Ok(1));
            assert!(tx.is_closed());
        });
    }

    #[test]
    fn dropping_every_sender_cancels_and_a_dropped_receiver_refuses() {
        run(async {
            let (tx, rx) = oneshot::<u8>();
            let waiter = spawn(rx);
            yield_now().await;
            drop(tx);
            assert_eq!(waiter.await.unwrap(), Err(Canceled(())));

            let (tx, rx) = oneshot();
            drop(rx);
            assert_eq!(tx.set_result(3).unwrap_err().into_inner(), 3);
        });
    }
}
