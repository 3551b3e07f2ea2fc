//! Task wakers: `Send + Sync`, cheap on the loop's own thread, and able to
//! reach a sleeping ring from any other thread.

use crate::context;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{RawWaker, RawWakerVTable, Waker};

/// The key of the future passed to `block_on` (not a spawned task).
pub(crate) const MAIN_KEY: usize = usize::MAX;

/// Work handed to a loop from another thread.
pub(crate) enum Remote {
    /// A task of the loop was woken (listed once until drained, see
    /// [`Header::remote_queued`]).
    Wake(Arc<Header>),
    /// A closure to run on the loop's thread ([`crate::Handle::spawn`]).
    Run(Box<dyn FnOnce() + Send>),
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remote::Wake(h) => f.debug_tuple("Wake").field(&h.key).finish(),
            Remote::Run(_) => f.write_str("Run"),
        }
    }
}

/// State shared with other threads: the queue of work from them (wake-ups,
/// closures to run) and the eventfd whose read op turns it into a CQE.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Work from other threads, in arrival order; `None` once the runtime
    /// has shut down. The list holds headers, which hold this state:
    /// closing it breaks that cycle.
    remote: Mutex<Option<Vec<Remote>>>,
    /// True while an eventfd signal is outstanding that the loop has not
    /// answered by draining `remote`; saves redundant eventfd writes.
    notified: AtomicBool,
    wake_fd: OwnedFd,
    /// The runtime's ring fd while another runtime may wake it with
    /// MSG_RING (-1: use the eventfd).
    ring_fd: AtomicI32,
}

impl Shared {
    pub(crate) fn new(wake_fd: OwnedFd) -> Shared {
        Shared {
            remote: Mutex::new(Some(Vec::new())),
            notified: AtomicBool::new(false),
            wake_fd,
            ring_fd: AtomicI32::new(-1),
        }
    }

    /// Lets other runtimes wake this one through `ring_fd` with MSG_RING
    /// (`None`: through the eventfd only, as at shutdown).
    pub(crate) fn set_ring_fd(&self, ring_fd: Option<std::os::fd::RawFd>) {
        self.ring_fd.store(ring_fd.unwrap_or(-1), Ordering::Release);
    }

    /// Wakes the loop through its eventfd.
    pub(crate) fn signal(&self) {
        crate::sys::eventfd_signal(&self.wake_fd);
    }

    /// Hands `work` to the loop and wakes it; gives the work back if the
    /// runtime has shut down (nobody would run it).
    pub(crate) fn send_remote(self: &Arc<Self>, work: Remote) -> Result<(), Remote> {
        match &mut *self.remote.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(list) => list.push(work),
            None => return Err(work),
        }
        if !self.notified.swap(true, Ordering::AcqRel) {
            self.notify();
        }
        Ok(())
    }

    /// Wakes the loop: from another ringloop runtime with MSG_RING where
    /// both rings can (no syscall here: the sender's next enter carries
    /// it), else through the eventfd.
    fn notify(self: &Arc<Self>) {
        let target = self.ring_fd.load(Ordering::Acquire);
        if target >= 0 && crate::context::msg_ring_wake(target, self) {
            return;
        }
        self.signal();
    }

    /// Whether the runtime has shut down.
    pub(crate) fn is_closed(&self) -> bool {
        self.remote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// Moves work from other threads into `into`, if there is any.
    pub(crate) fn drain_remote(&self, into: &mut Vec<Remote>) {
        if self.notified.swap(false, Ordering::AcqRel) {
            if let Some(list) = &mut *self.remote.lock().unwrap_or_else(|p| p.into_inner()) {
                into.append(list);
            }
        }
    }

    /// At shutdown: drops the wake-ups not yet drained and ignores later ones.
    pub(crate) fn close(&self) {
        // Wakes from now on (there should be none) use the eventfd, which
        // outlives the ring.
        self.set_ring_fd(None);
        let left = self.remote.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(left);
    }
}

/// What a task's waker points to. The future itself stays on the loop's
/// thread in the executor; only this header crosses threads. Whether the
/// task is in the run queue is the executor's to know (see
/// `Core::schedule`): a wake-up on the loop's thread touches no atomic here.
#[derive(Debug)]
pub(crate) struct Header {
    /// Slot of the task in the executor's slab (or MAIN_KEY).
    pub(crate) key: usize,
    /// Unique per runtime; tells a reused slot from the task a stale waker meant.
    pub(crate) id: u64,
    /// Set while the task is in the list of wake-ups from other threads, so
    /// a thread waking it in a loop adds it once, not once per wake-up.
    pub(crate) remote_queued: AtomicBool,
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

    /// A header for the task in slot `key` with id `id`.
    pub(crate) fn new(key: usize, id: u64, shared: Arc<Shared>) -> Arc<Header> {
        Arc::new(Header {
            key,
            id,
            remote_queued: AtomicBool::new(false),
            shared,
        })
    }

    /// Schedules the task (the executor ignores it if already queued).
    fn wake_by_ref(this: &Arc<Header>) {
        let local = context::with_core(|core| {
            let mine = Arc::ptr_eq(&core.shared, &this.shared);
            if mine {
                core.schedule(this.key, this.id);
            }
            mine
        });
        if local != Some(true) && !this.remote_queued.swap(true, Ordering::AcqRel) {
            // Shut down: nobody will run the task, so the wake-up is dropped.
            let _ = this.shared.send_remote(Remote::Wake(this.clone()));
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
    Header::wake_by_ref(&header);
}

/// # Safety
/// As for [`clone_raw`].
unsafe fn wake_by_ref_raw(data: *const ()) {
    // SAFETY: the waker's reference keeps the header alive for this call;
    // `ManuallyDrop` leaves that reference to the waker.
    let header = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(data.cast::<Header>()) });
    Header::wake_by_ref(&header);
}

/// # Safety
/// As for [`clone_raw`]; the reference is released.
unsafe fn drop_raw(data: *const ()) {
    // SAFETY: the waker's reference is released exactly once, here.
    unsafe { Arc::decrement_strong_count(data.cast::<Header>()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread outside any runtime waking one task many times lists it
    /// once until the loop drains the list, then again after.
    #[test]
    fn remote_wakes_list_a_task_once_per_drain() {
        let shared = Arc::new(Shared::new(crate::sys::eventfd().unwrap()));
        let header = Header::new(7, 42, shared.clone());
        let waker = header.waker();
        // Also woken by value, which takes the other vtable path.
        let owned = header.waker();
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..1000 {
                    waker.wake_by_ref();
                }
                owned.wake();
            });
        });
        let mut drained = Vec::new();
        shared.drain_remote(&mut drained);
        let listed: Vec<(usize, u64)> = drained
            .iter()
            .map(|w| match w {
                Remote::Wake(h) => (h.key, h.id),
                Remote::Run(_) => unreachable!("only wake-ups were sent"),
            })
            .collect();
        assert_eq!(listed, [(7, 42)]);
        // What the executor does on draining; the next wake-up lists it again.
        header.remote_queued.store(false, Ordering::Release);
        drained.clear();
        std::thread::scope(|s| {
            s.spawn(|| waker.wake_by_ref());
        });
        shared.drain_remote(&mut drained);
        assert_eq!(drained.len(), 1);
    }

    /// After shutdown a wake-up from another thread is dropped: the list
    /// keeps no header (which would keep the shared state, and its eventfd,
    /// alive through a reference cycle).
    #[test]
    fn remote_wakes_after_close_keep_nothing() {
        let shared = Arc::new(Shared::new(crate::sys::eventfd().unwrap()));
        let header = Header::new(3, 9, shared.clone());
        let waker = header.waker();
        std::thread::scope(|s| {
            s.spawn(|| waker.wake_by_ref());
        });
        assert_eq!(
            Arc::strong_count(&header),
            3,
            "the list holds one reference"
        );
        shared.close();
        assert_eq!(
            Arc::strong_count(&header),
            2,
            "closing drops the listed wake-up"
        );
        header.remote_queued.store(false, Ordering::Release);
        std::thread::scope(|s| {
            s.spawn(|| waker.wake_by_ref());
        });
        assert_eq!(
            Arc::strong_count(&header),
            2,
            "a later wake-up is not listed"
        );
        let mut drained = Vec::new();
        shared.drain_remote(&mut drained);
        assert!(drained.is_empty());
    }
}
