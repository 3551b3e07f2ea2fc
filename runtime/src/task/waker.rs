//! Task wakers: `Send + Sync`, cheap on the loop's own thread, and able to
//! reach a sleeping ring from any other thread.

use crate::context;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Wake;

/// The key of the future passed to `block_on` (not a spawned task).
pub(crate) const MAIN_KEY: usize = usize::MAX;

/// State shared with other threads: the queue of wake-ups from them and the
/// eventfd whose read op turns a wake-up into a CQE.
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
/// thread in the executor; only this header crosses threads.
#[derive(Debug)]
pub(crate) struct Header {
    /// Slot of the task in the executor's slab (or MAIN_KEY).
    pub(crate) key: usize,
    /// Unique per runtime; tells a reused slot from the task a stale waker meant.
    pub(crate) id: u64,
    /// Set while the task is in a run queue, so a task is queued at most once.
    pub(crate) scheduled: AtomicBool,
    pub(crate) shared: Arc<Shared>,
}

impl Wake for Header {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
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
