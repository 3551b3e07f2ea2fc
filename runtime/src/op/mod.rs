//! The public op API: submit an io_uring SQE and await its CQE, with the
//! op's resources (buffers, fds) owned by the op until the kernel is done.
//!
//! [`Op`] is a single-shot op (one SQE, one CQE); [`MultiOp`] a multishot
//! one (one SQE, a stream of CQEs until one without `IORING_CQE_F_MORE`).
//! The runtime wraps the common opcodes safely (see the functions of this
//! module); [`Op::new`] submits any other opcode under the same rules.
//!
//! ```no_run
//! # ringloop_runtime::run(async {
//! // A NOP round trip through the ring.
//! ringloop_runtime::op::nop().await.unwrap();
//! # });
//! ```
//!
//! Dropping an op future before its CQE is always safe: its resources move
//! into the driver (the kernel may still write into a buffer), an
//! ASYNC_CANCEL is submitted, and everything is freed when the CQE arrives;
//! an fd produced by an abandoned accept is closed then.

mod misc;
mod msg;
mod net;
mod rw;

pub use misc::{nop, poll_add, timeout, Nop, PollAdd, Timeout, TimeoutKind};
pub use msg::{recv_msg, send_msg, RecvMsg, SendMsg};
pub use net::{accept, accept_multi, connect, shutdown, Accept, AcceptMulti, Connect, Shutdown};
pub use rw::{read, recv, send, write, Read, Recv, Send, Write};

pub use crate::driver::CqeResult;
use crate::driver::{Driver, Lifecycle, MultiOrphan, Orphan};
use futures_util::Stream;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// The resources of a single-shot op and what its CQE turns them into.
pub trait Completable: 'static {
    /// What awaiting the op yields.
    type Output;
    /// Builds the output from the CQE; runs exactly once per op. If the op
    /// future was dropped, it runs when the CQE arrives and the output is
    /// dropped, so an output that owns a resource (an fd) releases it.
    fn complete(self, cqe: CqeResult) -> Self::Output;
}

/// The resources of a multishot op and what each of its CQEs turns into.
pub trait MultiCompletable: 'static {
    /// What each CQE of the stream yields.
    type Item;
    /// Builds one item from one CQE; runs once per CQE, also after the
    /// stream was dropped (the item is then dropped at once).
    fn complete_next(&mut self, cqe: CqeResult) -> Self::Item;
}

struct Orphaned<T>(T);

impl<T: Completable> Orphan for Orphaned<T> {
    fn complete(self: Box<Self>, cqe: CqeResult) {
        drop(self.0.complete(cqe));
    }
}

impl<T: MultiCompletable> MultiOrphan for Orphaned<T> {
    fn complete_next(&mut self, cqe: CqeResult) {
        drop(self.0.complete_next(cqe));
    }
}

/// The error every op returns once its runtime has shut down.
fn shut_down_error() -> io::Error {
    io::Error::other("ringloop: the runtime has shut down; no more io_uring ops can be submitted")
}

/// A single-shot io_uring op in flight: a future of `T::Output`.
///
/// Created by the op functions of this module or by [`Op::new`]. The SQE is
/// pushed when the op is created and submitted on the loop's next turn.
#[must_use = "an op does nothing useful unless awaited; dropping it cancels it"]
pub struct Op<T: Completable> {
    driver: Rc<RefCell<Driver>>,
    /// `None` when the runtime had shut down before submission.
    key: Option<usize>,
    /// The op's resources; `Some` until the op completes or is dropped.
    data: Option<T>,
}

impl<T: Completable> Op<T> {
    /// Submits `entry` with `data` as the op's resources.
    ///
    /// Must be called from inside a ringloop runtime (panics otherwise). The
    /// entry's `user_data` is overwritten.
    ///
    /// # Safety
    /// Every pointer in `entry` must point into memory owned by `data` that
    /// does not move when `data` moves (heap memory: a `Vec`'s buffer, a
    /// `Box`'s contents), or into memory that lives longer than the op. The
    /// kernel reads and writes it until the CQE; the op keeps `data` alive
    /// until then even if this future is dropped. Any fd in `entry` should be
    /// owned by `data` too, so it cannot be closed and reused mid-flight.
    pub unsafe fn new(data: T, entry: io_uring::squeue::Entry) -> Op<T> {
        let driver = crate::context::driver();
        // SAFETY: forwarded from this function's contract; `data` is kept by
        // this op and handed to `abandon` if the op is dropped in flight.
        let key = unsafe { driver.borrow_mut().submit(entry, Lifecycle::Submitted) };
        Op {
            driver,
            key,
            data: Some(data),
        }
    }

    /// The op's resources while it is in flight (e.g. to inspect a buffer's length).
    pub fn data(&self) -> Option<&T> {
        self.data.as_ref()
    }
}

impl<T: Completable> Unpin for Op<T> {}

impl<T: Completable> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        let Some(key) = this.key else {
            let data = this.data.take().expect("Op polled after completion");
            return Poll::Ready(data.complete(CqeResult {
                result: Err(shut_down_error()),
                flags: 0,
            }));
        };
        let cqe = match this.driver.borrow_mut().poll_op(key, cx) {
            Poll::Ready(cqe) => cqe,
            Poll::Pending => return Poll::Pending,
        };
        this.key = None;
        let data = this.data.take().expect("Op polled after completion");
        Poll::Ready(data.complete(cqe))
    }
}

impl<T: Completable> Drop for Op<T> {
    fn drop(&mut self) {
        let (Some(key), Some(data)) = (self.key, self.data.take()) else {
            return;
        };
        let Ok(mut driver) = self.driver.try_borrow_mut() else {
            // Only reachable if a resource's Drop runs inside the driver;
            // freeing memory the kernel may own is never an option.
            std::mem::forget(data);
            return;
        };
        let done = driver.abandon(key, Box::new(Orphaned(data)));
        drop(driver);
        if let Some((orphan, cqe)) = done {
            orphan.complete(cqe);
        }
    }
}

impl<T: Completable> fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op")
            .field("key", &self.key)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// A multishot io_uring op: a [`Stream`] of one item per CQE, ending after
/// the CQE without `IORING_CQE_F_MORE` (the kernel ends a multishot op on
/// errors and some resource shortages; callers re-arm if they want more).
#[must_use = "a multishot op does nothing useful unless polled; dropping it cancels it"]
pub struct MultiOp<T: MultiCompletable> {
    driver: Rc<RefCell<Driver>>,
    /// `None` once the stream ended (or the runtime had shut down).
    key: Option<usize>,
    data: Option<T>,
    shut_down: bool,
}

impl<T: MultiCompletable> MultiOp<T> {
    /// Submits a multishot `entry` with `data` as its resources.
    ///
    /// # Safety
    /// As for [`Op::new`], until the op's final CQE.
    pub unsafe fn new(data: T, entry: io_uring::squeue::Entry) -> MultiOp<T> {
        let driver = crate::context::driver();
        let state = Lifecycle::Multi {
            queue: Default::default(),
            waker: None,
            finished: false,
        };
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { driver.borrow_mut().submit(entry, state) };
        let shut_down = key.is_none();
        MultiOp {
            driver,
            key,
            data: Some(data),
            shut_down,
        }
    }

    /// Asks the kernel to stop the op; the stream ends after the CQEs already
    /// posted (the last one typically `ECANCELED`).
    pub fn cancel(&self) {
        if let Some(key) = self.key {
            self.driver.borrow_mut().cancel(key);
        }
    }
}

impl<T: MultiCompletable> Unpin for MultiOp<T> {}

impl<T: MultiCompletable> Stream for MultiOp<T> {
    type Item = T::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        let this = self.get_mut();
        let Some(key) = this.key else {
            if std::mem::take(&mut this.shut_down) {
                let cqe = CqeResult {
                    result: Err(shut_down_error()),
                    flags: 0,
                };
                if let Some(data) = this.data.as_mut() {
                    return Poll::Ready(Some(data.complete_next(cqe)));
                }
            }
            return Poll::Ready(None);
        };
        let polled = this.driver.borrow_mut().poll_multi(key, cx);
        match polled {
            Poll::Ready(Some(cqe)) => {
                let data = this
                    .data
                    .as_mut()
                    .expect("resources live until the stream ends");
                Poll::Ready(Some(data.complete_next(cqe)))
            }
            Poll::Ready(None) => {
                this.key = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: MultiCompletable> Drop for MultiOp<T> {
    fn drop(&mut self) {
        let (Some(key), Some(data)) = (self.key, self.data.take()) else {
            return;
        };
        match self.driver.try_borrow_mut() {
            Ok(mut driver) => driver.abandon_multi(key, Box::new(Orphaned(data))),
            Err(_) => std::mem::forget(data),
        }
    }
}

impl<T: MultiCompletable> fmt::Debug for MultiOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiOp")
            .field("key", &self.key)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// Maps a CQE result that is a byte count to `usize`.
pub(crate) fn cqe_len(cqe: CqeResult) -> io::Result<usize> {
    cqe.result.map(|n| n as usize)
}
