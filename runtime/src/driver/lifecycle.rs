//! The state of one in-flight op, kept in the driver's slab under the key
//! that is the SQE's `user_data`.

use std::collections::VecDeque;
use std::io;
use std::task::Waker;

/// What a CQE said: the result (negative errno mapped to `Err`) and its flags.
#[derive(Debug)]
pub struct CqeResult {
    /// `Ok(res)` for a non-negative `res`, else the errno as an `io::Error`.
    pub result: io::Result<u32>,
    /// The CQE flags (`IORING_CQE_F_MORE`, `IORING_CQE_F_BUFFER`, ...).
    pub flags: u32,
}

impl CqeResult {
    pub(crate) fn new(res: i32, flags: u32) -> Self {
        let result = if res >= 0 {
            Ok(res as u32)
        } else {
            Err(io::Error::from_raw_os_error(-res))
        };
        CqeResult { result, flags }
    }

    /// The buffer id of a CQE that consumed a provided buffer, if any.
    pub fn buffer_id(&self) -> Option<u16> {
        io_uring::cqueue::buffer_select(self.flags)
    }

    /// Whether more CQEs will follow for this (multishot) op.
    pub fn more(&self) -> bool {
        io_uring::cqueue::more(self.flags)
    }
}

/// A CQE waiting in its op's slot: the raw result and flags. Eight bytes,
/// where a [`CqeResult`] is 24; it is built when the op takes the CQE.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawCqe {
    res: i32,
    flags: u32,
}

impl RawCqe {
    pub(crate) fn new(res: i32, flags: u32) -> Self {
        RawCqe { res, flags }
    }

    pub(crate) fn result(self) -> CqeResult {
        CqeResult::new(self.res, self.flags)
    }
}

/// The resources of an op whose future was dropped before its CQE.
///
/// They must outlive the kernel's use of them, so the driver keeps them until
/// the CQE and then runs the op's completion on them and drops the output:
/// an abandoned accept's new fd is closed that way.
pub(crate) trait Orphan {
    fn complete(self: Box<Self>, cqe: CqeResult);
}

/// Like [`Orphan`], for a multishot op: every CQE is completed and dropped.
pub(crate) trait MultiOrphan {
    fn complete_next(&mut self, cqe: CqeResult);
}

/// The state machine of one op slot. Kept small (24 bytes): single-shot ops,
/// the common case, are inserted, completed and removed by value.
pub(crate) enum Lifecycle {
    /// Pushed to the SQ by the op's first poll; a waker waits for the CQE.
    /// -> Completed (CQE), Ignored (dropped).
    Waiting(Waker),
    /// As `Waiting`, for the common case of a task of this runtime polling
    /// the op with its own waker: the task's slot and id, which the executor
    /// queues directly. Saves cloning and dropping the waker (two atomic
    /// count updates) and reading its header, per op.
    WaitingTask { key: usize, id: u64 },
    /// The CQE arrived; the op future takes it on its next poll and frees the slot.
    Completed(RawCqe),
    /// The op future was dropped in flight; the slot owns its resources until
    /// the CQE, then frees everything.
    Ignored(Box<dyn Orphan>),
    /// A multishot op: CQEs queue up until the stream takes them (boxed:
    /// rare and larger than the other states).
    Multi(Box<MultiState>),
    /// A multishot op whose stream was dropped: every CQE is completed and
    /// dropped, the slot freed on the final one.
    IgnoredMulti(Box<dyn MultiOrphan>),
    /// The runtime shut down while the kernel still held this op and it could
    /// not be cancelled in time: its resources are leaked, never freed.
    Leaked,
}

impl Lifecycle {
    /// Waiting for whoever polls with `waker`: by slot and id if the op layer
    /// found `task` to be the task of this runtime whose own waker it is,
    /// else by a clone of the waker.
    #[inline]
    pub(crate) fn waiting(waker: &Waker, task: Option<(usize, u64)>) -> Lifecycle {
        match task {
            Some((key, id)) => Lifecycle::WaitingTask { key, id },
            None => Lifecycle::Waiting(waker.clone()),
        }
    }

    /// Re-registers a waiting slot for a later poll with `waker`, which the
    /// op layer found to be the own waker of `task` (or no task of this
    /// runtime); unchanged if the same task polls again. Out of line: an op
    /// is rarely polled again before its CQE.
    #[inline(never)]
    pub(crate) fn rewait(&mut self, waker: &Waker, task: Option<(usize, u64)>) {
        let same = match self {
            Lifecycle::WaitingTask { key, id } => task == Some((*key, *id)),
            Lifecycle::Waiting(w) => w.will_wake(waker),
            _ => false,
        };
        if !same {
            *self = Lifecycle::waiting(waker, task);
        }
    }

    /// Whether the kernel may still post a CQE for this slot.
    pub(crate) fn in_flight(&self) -> bool {
        match self {
            Lifecycle::Waiting(_) | Lifecycle::WaitingTask { .. } => true,
            Lifecycle::Ignored(_) | Lifecycle::IgnoredMulti(_) => true,
            Lifecycle::Multi(multi) => !multi.finished,
            Lifecycle::Completed(_) | Lifecycle::Leaked => false,
        }
    }
}

/// What the driver's reaps collected for the executor: tasks and wakers to
/// wake, and abandoned ops' resources to complete and drop, all outside the
/// driver's borrow (a waker or a resource's `Drop` may reach the driver).
/// One value is swapped between the two, so neither allocates per turn.
#[derive(Default)]
pub(crate) struct Completions {
    /// Slots and ids of this runtime's tasks whose op completed.
    pub(crate) tasks: Vec<(usize, u64)>,
    /// Wakers of other pollers whose op completed.
    pub(crate) wakers: Vec<Waker>,
    /// Abandoned ops whose CQE arrived, with it.
    pub(crate) orphans: Vec<(Box<dyn Orphan>, CqeResult)>,
}

impl Completions {
    /// Room for `n` of each, as the driver starts with.
    pub(crate) fn with_capacity(n: usize) -> Completions {
        Completions {
            tasks: Vec::with_capacity(n),
            wakers: Vec::with_capacity(n),
            orphans: Vec::new(),
        }
    }

    /// Whether nothing is waiting to be handled.
    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.wakers.is_empty() && self.orphans.is_empty()
    }

    /// Forgets everything (shutdown: the tasks are gone).
    pub(crate) fn clear(&mut self) {
        self.tasks.clear();
        self.wakers.clear();
        self.orphans.clear();
    }
}

/// The slot of a multishot op.
#[derive(Default)]
pub(crate) struct MultiState {
    /// CQEs not yet taken by the stream.
    pub(crate) queue: VecDeque<CqeResult>,
    /// The task polling the stream, once it has waited.
    pub(crate) waker: Option<Waker>,
    /// Set once a CQE without IORING_CQE_F_MORE arrived.
    pub(crate) finished: bool,
}
