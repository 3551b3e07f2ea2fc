//! Registered (fixed) files: a sparse table of file slots in the ring
//! (IORING_REGISTER_FILES2, sparse). An op on a registered fd names its slot
//! with IOSQE_FIXED_FILE instead of the fd number, and the kernel skips the
//! per-op file lookup and reference count (`fget`/`fput`).
//!
//! Slots are handed out by [`FixedFiles::register`] (one synchronous
//! IORING_REGISTER_FILES_UPDATE per fd) and come back when the last clone
//! of the [`SharedFd`](crate::fd::SharedFd) holding one is dropped. The slot
//! is then emptied at once, with another synchronous update: the table holds
//! a reference to the socket's file, so until the slot is emptied the
//! socket stays open (no FIN for a stream, its address still bound for a
//! datagram socket) even though its fd was closed. Only if that update
//! fails does the slot go on the table's `released` list: the driver's next
//! turn queues an IORING_OP_CLOSE of it, and the slot is reused only after
//! the enter that submitted that close returned, so a new registration
//! cannot land in a slot a queued close would empty.

use io_uring::{opcode, squeue, types, Submitter};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Slots asked for when the builder leaves the size at its default (bounded
/// by RLIMIT_NOFILE, which the kernel applies to the table size).
pub(crate) const DEFAULT_SLOTS: u32 = 16384;

/// Identifies a ring among all runtimes of the process (never 0).
pub(crate) fn next_ring_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The part of the table that registered fds share with the driver.
pub(crate) struct FixedTable {
    /// The ring the slots belong to.
    pub(crate) ring_id: u64,
    /// The ring's fd, for emptying slots without borrowing the driver.
    ring_fd: RawFd,
    /// False once the ring is closed: its slots died with it (and
    /// `ring_fd` may name another file).
    alive: Cell<bool>,
    /// Slots emptied on release, free for the next registration.
    emptied: RefCell<Vec<u32>>,
    /// Slots whose fd was dropped but which could not be emptied at once,
    /// waiting for the driver's next turn to close them.
    released: RefCell<Vec<u32>>,
}

impl FixedTable {
    /// Gives `slot` back (called when the last holder of its fd drops it):
    /// empties it now, so the file is closed as soon as its fd is, or else
    /// leaves it for the driver's next turn.
    pub(crate) fn release(&self, slot: u32) {
        if !self.alive.get() {
            return;
        }
        // `ring_fd` is the live ring's (checked above), and the slot is one
        // no op uses any more (its last holder is gone).
        if super::ring_fd::empty_file_slot(self.ring_fd, slot) {
            self.emptied.borrow_mut().push(slot);
        } else {
            self.released.borrow_mut().push(slot);
        }
    }
}

impl fmt::Debug for FixedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedTable")
            .field("ring_id", &self.ring_id)
            .field("alive", &self.alive.get())
            .finish()
    }
}

/// A slot of a ring's table, held by a registered fd; released on drop.
#[derive(Debug)]
pub(crate) struct FixedSlot {
    pub(crate) slot: u32,
    pub(crate) table: Rc<FixedTable>,
}

impl Drop for FixedSlot {
    fn drop(&mut self) {
        self.table.release(self.slot);
    }
}

/// The driver's side: which slots are free.
pub(crate) struct FixedFiles {
    table: Rc<FixedTable>,
    /// Free slots; the most recently freed is reused first (warm in cache).
    free: Vec<u32>,
    /// Slots whose close is queued in the SQ but maybe not yet submitted.
    closing: Vec<u32>,
    slots: u32,
}

impl FixedFiles {
    /// Registers a sparse table of up to `slots` files with the ring,
    /// shrinking to the RLIMIT_NOFILE soft limit the kernel enforces. `None`
    /// if the kernel refuses (too old, or no memory): ops then use fd numbers.
    pub(crate) fn new(ring: &io_uring::IoUring, ring_id: u64, slots: u32) -> Option<FixedFiles> {
        let submitter = ring.submitter();
        let limit = crate::rlimit::nofile_limit().map_or(1024, |(soft, _)| soft);
        let slots = u32::try_from(limit).unwrap_or(u32::MAX).min(slots);
        if slots == 0 || submitter.register_files_sparse(slots).is_err() {
            return None;
        }
        Some(FixedFiles {
            table: Rc::new(FixedTable {
                ring_id,
                ring_fd: ring.as_raw_fd(),
                alive: Cell::new(true),
                emptied: RefCell::new(Vec::new()),
                released: RefCell::new(Vec::new()),
            }),
            free: (0..slots).rev().collect(),
            closing: Vec::new(),
            slots,
        })
    }

    /// Slots in the table.
    pub(crate) fn slots(&self) -> u32 {
        self.slots
    }

    /// Installs `fd` in a free slot; `None` if the table is full or the
    /// kernel refuses (the fd is then used by number, as without a table).
    pub(crate) fn register(&mut self, submitter: &Submitter<'_>, fd: RawFd) -> Option<FixedSlot> {
        self.free.append(&mut self.table.emptied.borrow_mut());
        let slot = self.free.pop()?;
        if submitter.register_files_update(slot, &[fd]).is_err() {
            self.free.push(slot);
            return None;
        }
        Some(FixedSlot {
            slot,
            table: self.table.clone(),
        })
    }

    /// Appends to `out` the closes to queue for slots released since the
    /// last turn; the slots stay unusable until [`FixedFiles::submitted`].
    /// Allocation-free once `out` and the lists have grown: the caller
    /// reuses `out`, and the released list keeps its capacity.
    pub(crate) fn take_closes(&mut self, out: &mut Vec<squeue::Entry>) {
        let mut released = self.table.released.borrow_mut();
        out.extend(released.iter().map(|&slot| {
            // No CQE_SKIP_SUCCESS: kernels before 5.17 would fail the
            // close over it. The CQE is ignored by its tag.
            opcode::Close::new(types::Fixed(slot))
                .build()
                .user_data(super::CANCEL_TAG)
        }));
        self.closing.extend(released.drain(..));
    }

    /// The SQ was fully submitted: the queued closes reached the kernel, so
    /// their slots are free again.
    pub(crate) fn submitted(&mut self) {
        self.free.append(&mut self.closing);
    }

    /// Whether fds released slots the next turn must close.
    pub(crate) fn has_released(&self) -> bool {
        !self.table.released.borrow().is_empty()
    }

    /// The ring is closing: its table goes with it.
    pub(crate) fn close(&mut self) {
        self.table.alive.set(false);
        self.table.released.borrow_mut().clear();
        self.table.emptied.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table whose "ring" fd is a pipe, so the kernel refuses every
    /// synchronous update.
    fn table_without_ring(fd: RawFd) -> FixedFiles {
        FixedFiles {
            table: Rc::new(FixedTable {
                ring_id: next_ring_id(),
                ring_fd: fd,
                alive: Cell::new(true),
                emptied: RefCell::new(Vec::new()),
                released: RefCell::new(Vec::new()),
            }),
            free: Vec::new(),
            closing: Vec::new(),
            slots: 2,
        }
    }

    #[test]
    fn a_slot_the_kernel_does_not_empty_is_closed_on_the_next_turn() {
        let (pipe, _w) = std::io::pipe().unwrap();
        let mut files = table_without_ring(pipe.as_raw_fd());
        drop(FixedSlot {
            slot: 1,
            table: files.table.clone(),
        });
        assert!(files.table.emptied.borrow().is_empty());
        assert!(files.has_released());
        let mut closes = Vec::new();
        files.take_closes(&mut closes);
        assert_eq!(closes.len(), 1, "one IORING_OP_CLOSE for the slot");
        assert!(!files.has_released());
        assert!(
            files.free.is_empty(),
            "the slot is not reusable before its close is submitted"
        );
        files.submitted();
        assert_eq!(files.free, [1]);
    }

    #[test]
    fn a_closed_ring_takes_no_slots_back() {
        let (pipe, _w) = std::io::pipe().unwrap();
        let mut files = table_without_ring(pipe.as_raw_fd());
        files.close();
        drop(FixedSlot {
            slot: 0,
            table: files.table.clone(),
        });
        assert!(!files.has_released());
        assert!(files.table.emptied.borrow().is_empty());
    }
}
