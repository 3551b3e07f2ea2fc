//! The runtime a thread is running, reached by `spawn` and the op functions.

use crate::driver::Driver;
use crate::executor::Core;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
    /// The task this thread's executor is polling (`TaskRef::NONE` between polls).
    static POLLING: Cell<TaskRef> = const { Cell::new(TaskRef::NONE) };
    /// The current runtime's ring id (0 outside one): a cheap check for op
    /// builders deciding whether an fd's fixed slot belongs to this ring.
    static RING_ID: Cell<u64> = const { Cell::new(0) };
}

/// The id of the ring of the runtime running on this thread, 0 outside one.
#[inline]
pub(crate) fn ring_id() -> u64 {
    RING_ID.try_with(Cell::get).unwrap_or(0)
}

/// A task as its executor names it: the data pointer of the task's own
/// waker, and the task's slot and id.
#[derive(Clone, Copy)]
pub(crate) struct TaskRef {
    waker_data: *const (),
    key: usize,
    id: u64,
}

impl TaskRef {
    pub(crate) const NONE: TaskRef = TaskRef {
        waker_data: std::ptr::null(),
        key: 0,
        id: 0,
    };

    /// The task whose own waker is `waker`, in slot `key` with id `id`.
    pub(crate) fn new(waker: &Waker, key: usize, id: u64) -> TaskRef {
        TaskRef {
            waker_data: waker.data(),
            key,
            id,
        }
    }
}

/// Marks `task` as the one being polled on this thread (`TaskRef::NONE`:
/// none). Tasks are never polled inside each other, so there is nothing to
/// restore.
#[inline]
pub(crate) fn set_polling(task: TaskRef) {
    POLLING.set(task);
}

/// The slot and id of the task being polled on this thread, if `waker` is
/// that task's own waker: an op can then name the task to wake instead of
/// holding a clone of the waker. A pointer comparison; the waker's memory
/// is not read.
#[inline]
pub(crate) fn polling_task(waker: &Waker) -> Option<(usize, u64)> {
    let task = POLLING.get();
    (!task.waker_data.is_null()
        && waker.data() == task.waker_data
        && crate::task::waker::is_task_waker(waker))
    .then_some((task.key, task.id))
}

/// Runs `f` with the current runtime, if this thread is inside one.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(&Rc<Core>) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| {
            let c = c.try_borrow().ok()?;
            c.as_ref().map(f)
        })
        .ok()
        .flatten()
}

/// The current runtime. Panics with `what` in the message outside one.
#[track_caller]
pub(crate) fn core(what: &str) -> Rc<Core> {
    with_core(Rc::clone).unwrap_or_else(|| outside_runtime(what))
}

/// The current runtime's driver (for submitting ops). On the path of every
/// op, so it clones only the driver handle, not the runtime's.
#[inline]
#[track_caller]
pub(crate) fn driver() -> Rc<RefCell<Driver>> {
    with_core(|core| core.driver.clone()).unwrap_or_else(|| outside_runtime("an io_uring op"))
}

#[cold]
#[track_caller]
fn outside_runtime(what: &str) -> ! {
    panic!(
        "ringloop: {what} was called outside a ringloop runtime; call it from code run by \
         ringloop::run(...) or Runtime::block_on(...)"
    )
}

/// Makes a runtime current for a scope; restores the previous one on drop.
pub(crate) struct EnterGuard {
    prev: Option<Rc<Core>>,
    prev_ring: u64,
}

/// Enters `core`. With `exclusive`, panics if a runtime is already running
/// on this thread (a nested `block_on` would deadlock its caller's loop).
pub(crate) fn enter(core: Rc<Core>, exclusive: bool) -> EnterGuard {
    let ring = core.ring_id;
    let prev = CURRENT.with(|c| c.borrow_mut().replace(core));
    if exclusive && prev.is_some() {
        CURRENT.with(|c| *c.borrow_mut() = prev);
        panic!(
            "ringloop: cannot start a runtime from within a runtime: block_on/run was called \
             from a task. Await the future instead, or spawn it with ringloop::spawn"
        );
    }
    let prev_ring = RING_ID.with(|r| r.replace(ring));
    EnterGuard { prev, prev_ring }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _ = RING_ID.try_with(|r| r.set(self.prev_ring));
        let prev = self.prev.take();
        // Drop the replaced value outside the borrow: it may run destructors.
        let _cur = CURRENT.try_with(|c| std::mem::replace(&mut *c.borrow_mut(), prev));
    }
}

/// Wakes the runtime whose ring is `target` (and whose shared state is
/// `shared`) with a MSG_RING from this thread's runtime, if this thread runs
/// one that can send it; false otherwise (the caller writes the eventfd).
pub(crate) fn msg_ring_wake(
    target: std::os::fd::RawFd,
    shared: &std::sync::Arc<crate::task::waker::Shared>,
) -> bool {
    with_core(|core| match core.driver.try_borrow_mut() {
        Ok(mut driver) => driver.msg_ring(target, crate::op::ring_wake_orphan(shared.clone())),
        Err(_) => false,
    })
    .unwrap_or(false)
}
