//! Task wakers: `Send + Sync`, cheap on the loop's own thread, and able to
//! reach a sleeping ring from any other thread.

use crate::context;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{RawWaker, RawWakerVTable, Waker};

/// The key of the future passed to `block_on` (not a spawned task).
pub(crate) const MAIN_KEY: usize = usize::MAX;

/// State shared with other threads: the queue of wake-ups from them and the
/// eventfd whose read op turns a wake-up into a CQE. A task woken from
/// several threads may be listed more than once; the executor queues it once.
#[derive(Debug)]
pub(crate) struct Shared {
    remote: Mutex<Vec<(usize, u64)>>,
    /// True while an eventfd signal is outstanding that the loop has not
    /// answered by draining `remote`; saves redundant eventfd writes.
    notified: AtomicBool,
    wake_fd: OwnedFd,
}

impl Shared {
    pub(crate) fn new(wake_fd: OwnedFd) -> Shared {
        Shared {
            remote: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            wake_fd,
        }
    }

    fn schedule_remote(&self, key: usize, id: u64) {
        self.remote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((key, id));
        if !self.notified.swap(true, Ordering::AcqRel) {
            crate::sys::eventfd_signal(&self.wake_fd);
        }
    }

    /// Moves wake-ups from other threads into `into`, if there are any.
    pub(crate) fn drain_remote(&self, into: &mut Vec<(usize, u64)>) {
        if self.notified.swap(false, Ordering::AcqRel) {
            into.append(&mut self.remote.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }
}

/// What a task's waker points to. The future itself stays on the loop's
/// thread in the executor; only this header crosses threads. Immutable:
/// whether the task is already queued is the executor's to know (see
/// `Core::schedule`), so waking touches no atomic but the waker's count.
#[derive(Debug)]
pub(crate) struct Header {
    /// Slot of the task in the executor's slab (or MAIN_KEY).
    pub(crate) key: usize,
    /// Unique per runtime; tells a reused slot from the task a stale waker meant.
    pub(crate) id: u64,
    pub(crate) shared: Arc<Shared>,
}

impl Header {
    /// A waker holding one reference to this header.
    pub(crate) fn waker(self: &Arc<Self>) -> Waker {
        let data = Arc::into_raw(self.clone()).cast::<()>();
        // SAFETY: `data` comes from `Arc::into_raw` of a `Header` and carries
        // one strong reference, which is what every function of `VTABLE`
        // expects of its argument.
        unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
    }

    /// The header behind `waker` if it is a ringloop task waker.
    pub(crate) fn of(waker: &Waker) -> Option<&Header> {
        if !is_task_waker(waker) {
            return None;
        }
        // SAFETY: only `Header::waker` (and `clone_raw`) build wakers with
        // `VTABLE`, and their data is a live `Arc<Header>` pointer for as long
        // as the waker exists, which outlives the returned borrow.
        Some(unsafe { &*waker.data().cast::<Header>() })
    }

    /// Schedules the task (the executor ignores it if already queued).
    fn wake_by_ref(&self) {
        let local = context::with_core(|core| {
            let mine = Arc::ptr_eq(&core.shared, &self.shared);
            if mine {
                core.schedule(self.key, self.id);
            }
            mine
        });
        if local != Some(true) {
            self.shared.schedule_remote(self.key, self.id);
        }
    }
}

/// Whether `waker` is a ringloop task waker (of any runtime).
#[inline]
pub(crate) fn is_task_waker(waker: &Waker) -> bool {
    std::ptr::eq(waker.vtable(), &VTABLE)
}

/// The waker functions of a task. A `static`, not a `const`, so that its
/// address is unique and [`Header::of`] can recognise our own wakers.
static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

/// # Safety
/// `data` is an `Arc<Header>` pointer holding a strong reference (true of
/// the data of every waker built with `VTABLE`); so are the next three.
unsafe fn clone_raw(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live `Arc<Header>` pointer (this function's contract).
    unsafe { Arc::increment_strong_count(data.cast::<Header>()) };
    RawWaker::new(data, &VTABLE)
}

/// # Safety
/// As for [`clone_raw`]; the reference is consumed.
unsafe fn wake_raw(data: *const ()) {
    // SAFETY: the waker's reference is handed over to this `Arc` (contract).
    let header = unsafe { Arc::from_raw(data.cast::<Header>()) };
    header.wake_by_ref();
}

/// # Safety
/// As for [`clone_raw`].
unsafe fn wake_by_ref_raw(data: *const ()) {
    // SAFETY: the waker's reference keeps the header alive for this call.
    let header = unsafe { &*data.cast::<Header>() };
    header.wake_by_ref();
}

/// # Safety
/// As for [`clone_raw`]; the reference is released.
unsafe fn drop_raw(data: *const ()) {
    // SAFETY: the waker's reference is released exactly once, here.
    unsafe { Arc::decrement_strong_count(data.cast::<Header>()) };
}
