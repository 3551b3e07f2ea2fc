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
//! Ops are lazy like every Rust future: the SQE is pushed on the first poll.
//! Dropping an op future before its CQE is always safe: its resources move
//! into the driver (the kernel may still write into a buffer), an
//! ASYNC_CANCEL is submitted, and everything is freed when the CQE arrives;
//! an fd produced by an abandoned accept is closed then.

mod bufring;
mod deadline;
mod fs;
mod misc;
mod msg;
mod net;
mod process;
mod rw;

pub use bufring::{recv_multi, BufGuard, BufRing, RecvMulti};
pub use deadline::Deadline;
pub use fs::{
    close, fsync, ftruncate, link_at, mkdir_at, open_at, rename_at, statx, symlink_at, unlink_at,
    OpenAt, Statx, Unit,
};
pub use misc::{nop, poll_add, timeout, Nop, PollAdd, Timeout, TimeoutKind};
pub use msg::{recv_msg, send_msg, RecvMsg, SendMsg};
pub use net::{accept, accept_multi, connect, shutdown, Accept, AcceptMulti, Connect, Shutdown};
pub use process::{exit_status, waitid, WaitId};
pub use rw::{read, recv, recv_poll_first, send, write, Read, Recv, Send, Write};

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

/// The task of this runtime whose own waker is `waker`, if the op's ring
/// (`ring`) is the one this thread runs: the op's slot can then name the
/// task instead of holding a clone of the waker.
#[inline]
fn polling_task(waker: &std::task::Waker, ring: u64) -> Option<(usize, u64)> {
    if ring == crate::context::ring_id() {
        crate::context::polling_task(waker)
    } else {
        None
    }
}

/// The CQE of a MSG_RING that wakes another runtime: if it failed (that
/// ring is gone, or refused it), the wake-up goes through the eventfd.
struct RingWake(std::sync::Arc<crate::task::waker::Shared>);

impl Completable for RingWake {
    type Output = ();
    fn complete(self, cqe: CqeResult) {
        if cqe.result.is_err() {
            self.0.signal();
        }
    }
}

/// The driver-owned completion of a MSG_RING wake of `shared`'s runtime.
pub(crate) fn ring_wake_orphan(
    shared: std::sync::Arc<crate::task::waker::Shared>,
) -> Box<dyn Orphan> {
    Box::new(Orphaned(RingWake(shared)))
}

/// The error of an op built on one runtime and first polled on another,
/// when its SQE names the first runtime's registered-file slot.
fn foreign_slot_error() -> io::Error {
    io::Error::other(
        "ringloop: this op was created on another runtime than the one polling it, and names \
         that runtime's registered file; create the op on the runtime that awaits it",
    )
}

/// Marks, in an op's ring id, an SQE built by the caller (`Op::new`,
/// `MultiOp::new`) rather than by the runtime's own builders: the epoll
/// fallback cannot vouch for what such an SQE names and refuses it. Ring
/// ids are small counters, so the top bit is free.
const CUSTOM: u64 = 1 << 63;

/// Where an op is in its life, as seen by its future.
enum State {
    /// Built but not yet polled: the SQE waits here, so creating an op
    /// outside a runtime (to pass it to `block_on`) is fine. The id is that
    /// of the ring whose registered-file slot the SQE names (0: none),
    /// with [`CUSTOM`] set for a caller's own SQE.
    Unsubmitted(io_uring::squeue::Entry, u64),
    /// Pushed to the ring under `key`.
    InFlight {
        driver: Rc<RefCell<Driver>>,
        key: usize,
    },
    /// The output was returned (or, for a stream, the final item).
    Done,
}

impl State {
    /// Submits the SQE if not yet done; `Err` if the runtime has shut down.
    ///
    /// # Safety
    /// The SQE's pointers satisfy the contract of [`Op::new`] with the
    /// resources the caller keeps (or hands to the driver on drop).
    unsafe fn submit(&mut self, initial: impl FnOnce() -> Lifecycle) -> io::Result<()> {
        if let State::Unsubmitted(entry, ring) = self {
            let driver = crate::context::driver();
            let (slot_ring, custom) = (*ring & !CUSTOM, *ring & CUSTOM != 0);
            if slot_ring != 0 && slot_ring != driver.borrow().ring_id() {
                *self = State::Done;
                return Err(foreign_slot_error());
            }
            // SAFETY: forwarded from this function's contract.
            let key = unsafe { driver.borrow_mut().submit(entry, initial(), custom) };
            match key {
                Ok(key) => *self = State::InFlight { driver, key },
                Err(e) => {
                    *self = State::Done;
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Unsubmitted(..) => f.write_str("Unsubmitted"),
            State::InFlight { key, .. } => write!(f, "InFlight({key})"),
            State::Done => f.write_str("Done"),
        }
    }
}

/// A single-shot io_uring op: a future of `T::Output`.
///
/// Created by the op functions of this module or by [`Op::new`]. Like any
/// Rust future it does nothing until polled: the first poll pushes the SQE,
/// which the loop submits on its next turn.
#[must_use = "an op does nothing unless awaited"]
pub struct Op<T: Completable> {
    state: State,
    /// The op's resources; `Some` until the op completes or is dropped.
    data: Option<T>,
}

impl<T: Completable> Op<T> {
    /// Wraps `entry` with `data` as the op's resources. The entry's
    /// `user_data` is overwritten. Polling the op outside a ringloop runtime
    /// panics.
    ///
    /// # Safety
    /// Every pointer in `entry` must point into memory owned by `data` that
    /// does not move when `data` moves (heap memory: a `Vec`'s buffer, a
    /// `Box`'s contents), or into memory that lives longer than the op. The
    /// kernel reads and writes it until the CQE; the op keeps `data` alive
    /// until then even if this future is dropped. Any fd in `entry` should be
    /// owned by `data` too, so it cannot be closed and reused mid-flight.
    pub unsafe fn new(data: T, entry: io_uring::squeue::Entry) -> Op<T> {
        // SAFETY: forwarded; the entry names no fixed slot.
        unsafe { Op::new_on(data, entry, CUSTOM) }
    }

    /// As [`Op::new`], for an entry built on a [`SharedFd::sqe_target`]
    /// (its fd and flags): the op fails with an error, instead of naming
    /// another runtime's registered file, if a runtime other than the one
    /// whose slot the target names polls it.
    ///
    /// # Safety
    /// As for [`Op::new`].
    ///
    /// [`SharedFd::sqe_target`]: crate::fd::SharedFd::sqe_target
    pub unsafe fn with_target(
        data: T,
        entry: io_uring::squeue::Entry,
        target: &crate::fd::SqeTarget,
    ) -> Op<T> {
        // SAFETY: forwarded.
        unsafe { Op::new_on(data, entry, target.ring() | CUSTOM) }
    }

    /// As [`Op::new`], for an entry built by `fd::sqe_for!`: `ring` is the
    /// ring whose fixed slot it names, or 0.
    ///
    /// # Safety
    /// As for [`Op::new`].
    pub(crate) unsafe fn new_on(data: T, entry: io_uring::squeue::Entry, ring: u64) -> Op<T> {
        Op {
            state: State::Unsubmitted(entry, ring),
            data: Some(data),
        }
    }

    // Inlined: out of line it returned the output through memory, and
    // forcing it cut callgrind's count per echo round trip by 38.
    #[inline(always)]
    fn finish(&mut self, cqe: CqeResult) -> T::Output {
        self.state = State::Done;
        self.data
            .take()
            .expect("Op polled after completion")
            .complete(cqe)
    }
}

impl<T: Completable> Unpin for Op<T> {}

impl<T: Completable> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        if let State::Unsubmitted(..) = this.state {
            // The CQE of an op pushed just now cannot have been reaped yet,
            // so its slot starts out waiting for it (naming this task, or
            // with its waker) instead of being looked up a second time in
            // this poll. The op goes to the ring of the runtime polling it.
            let waiting =
                || Lifecycle::waiting(cx.waker(), crate::context::polling_task(cx.waker()));
            // SAFETY: `Op::new`'s contract covers the entry and `this.data`,
            // which this op keeps until the CQE or hands to `abandon` on drop.
            return match unsafe { this.state.submit(waiting) } {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(this.finish(CqeResult {
                    result: Err(e),
                    flags: 0,
                })),
            };
        }
        let State::InFlight { driver, key } = &this.state else {
            panic!("Op polled after completion");
        };
        let polled = {
            let mut driver = driver.borrow_mut();
            let ring = driver.ring_id();
            driver.poll_op(*key, cx.waker(), || polling_task(cx.waker(), ring))
        };
        match polled {
            Poll::Ready(cqe) => Poll::Ready(this.finish(cqe)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: Completable> Drop for Op<T> {
    fn drop(&mut self) {
        let State::InFlight { driver, key } = &self.state else {
            return;
        };
        let Some(data) = self.data.take() else { return };
        let Ok(mut driver) = driver.try_borrow_mut() else {
            // Only reachable if a resource's Drop runs inside the driver;
            // freeing memory the kernel may own is never an option.
            std::mem::forget(data);
            return;
        };
        let done = driver.abandon(*key, Box::new(Orphaned(data)));
        drop(driver);
        if let Some((orphan, cqe)) = done {
            orphan.complete(cqe);
        }
    }
}

impl<T: Completable> fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op")
            .field("state", &self.state)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// A multishot io_uring op: a [`Stream`] of one item per CQE, ending after
/// the CQE without `IORING_CQE_F_MORE` (the kernel ends a multishot op on
/// errors and some resource shortages; callers re-arm if they want more).
/// Submitted on first poll, like [`Op`].
#[must_use = "a multishot op does nothing unless polled"]
pub struct MultiOp<T: MultiCompletable> {
    state: State,
    data: Option<T>,
}

impl<T: MultiCompletable> MultiOp<T> {
    /// Wraps a multishot `entry` with `data` as its resources.
    ///
    /// # Safety
    /// As for [`Op::new`], until the op's final CQE.
    pub unsafe fn new(data: T, entry: io_uring::squeue::Entry) -> MultiOp<T> {
        // SAFETY: forwarded; the entry names no fixed slot.
        unsafe { MultiOp::new_on(data, entry, CUSTOM) }
    }

    /// As [`MultiOp::new`], for an entry built by `fd::sqe_for!` (see [`Op::new_on`]).
    ///
    /// # Safety
    /// As for [`Op::new`], until the op's final CQE.
    pub(crate) unsafe fn new_on(data: T, entry: io_uring::squeue::Entry, ring: u64) -> MultiOp<T> {
        MultiOp {
            state: State::Unsubmitted(entry, ring),
            data: Some(data),
        }
    }

    /// Asks the kernel to stop the op; the stream ends after the CQEs already
    /// posted (the last one typically `ECANCELED`).
    pub fn cancel(&mut self) {
        match &self.state {
            State::InFlight { driver, key } => driver.borrow_mut().cancel(*key),
            State::Unsubmitted(..) => self.state = State::Done,
            State::Done => {}
        }
    }
}

impl<T: MultiCompletable> Unpin for MultiOp<T> {}

impl<T: MultiCompletable> Stream for MultiOp<T> {
    type Item = T::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        let this = self.get_mut();
        let initial = || Lifecycle::Multi(Box::default());
        // SAFETY: as in `Op::poll`; `this.data` lives until the final CQE or
        // is handed to `abandon_multi`.
        if let Err(e) = unsafe { this.state.submit(initial) } {
            let cqe = CqeResult {
                result: Err(e),
                flags: 0,
            };
            return Poll::Ready(this.data.take().map(|mut d| d.complete_next(cqe)));
        }
        let State::InFlight { driver, key } = &this.state else {
            return Poll::Ready(None);
        };
        let polled = driver.borrow_mut().poll_multi(*key, cx);
        match polled {
            Poll::Ready(Some(cqe)) => {
                let data = this
                    .data
                    .as_mut()
                    .expect("resources live until the stream ends");
                Poll::Ready(Some(data.complete_next(cqe)))
            }
            Poll::Ready(None) => {
                this.state = State::Done;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: MultiCompletable> Drop for MultiOp<T> {
    fn drop(&mut self) {
        let State::InFlight { driver, key } = &self.state else {
            return;
        };
        let Some(data) = self.data.take() else { return };
        match driver.try_borrow_mut() {
            Ok(mut driver) => driver.abandon_multi(*key, Box::new(Orphaned(data))),
            Err(_) => std::mem::forget(data),
        }
    }
}

impl<T: MultiCompletable> fmt::Debug for MultiOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiOp")
            .field("state", &self.state)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// Maps a CQE result that is a byte count to `usize`.
pub(crate) fn cqe_len(cqe: CqeResult) -> io::Result<usize> {
    cqe.result.map(|n| n as usize)
}
