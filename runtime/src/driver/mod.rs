//! The ring driver: owns the io_uring, the op slots, and the only call that
//! waits (`io_uring_enter`).
//!
//! Ops are pushed into the SQ in memory; [`Driver::turn`] submits them and
//! reaps completions with one `io_uring_enter` per loop turn, and skips the
//! syscall altogether when there is nothing to submit and the kernel has
//! flagged no pending completion work (IORING_SETUP_TASKRUN_FLAG).

mod epoll;
pub(crate) mod fixed;
mod lifecycle;
mod ring_fd;
pub(crate) mod setup;

pub use lifecycle::CqeResult;
use lifecycle::RawCqe;
pub(crate) use lifecycle::{Completions, Lifecycle, MultiOrphan, Orphan};
pub use setup::{Driver as DriverChoice, Features};

use io_uring::{opcode, squeue, types, IoUring};
use ring_fd::RegisteredRing;
use slab::Slab;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// `user_data` of ASYNC_CANCEL SQEs; their CQEs carry no information we need.
const CANCEL_TAG: u64 = u64::MAX;
/// `user_data` of the eventfd read that carries cross-thread wake-ups.
const WAKE_TAG: u64 = u64::MAX - 1;
/// `user_data` of the timeout that bounds each wait during shutdown.
const SHUTDOWN_TIMER_TAG: u64 = u64::MAX - 2;
/// `user_data` of the CQE another runtime's MSG_RING posts to wake this
/// ring; it only ends the wait (the executor drains its remote list every
/// turn).
const MSG_WAKE_TAG: u64 = u64::MAX - 3;

/// How long shutdown waits for cancelled ops to post their CQEs before it
/// leaks their resources instead (the kernel may still write into them).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The owner of the ring. One per runtime, reached through `Rc<RefCell<_>>`
/// by ops (to submit, poll and abandon) and by the executor (to turn).
pub(crate) struct Driver {
    /// `None` once the runtime has shut down (ops submitted after that
    /// fail), or when the epoll fallback runs instead.
    ring: Option<IoUring>,
    /// The epoll fallback, when it runs instead of the ring; `None` once the
    /// runtime has shut down.
    epoll: Option<Box<epoll::Epoll>>,
    /// The ring's fd registered for this thread (IORING_REGISTER_RING_FDS):
    /// enters pass its index and skip the kernel's fd lookup. Unregistered
    /// before the ring closes.
    registered: Option<RegisteredRing>,
    /// One slot per op whose CQE has not been consumed. Key = `user_data`.
    ops: Slab<Lifecycle>,
    features: Features,
    /// What the reaps since the executor last took it collected: handled by
    /// the executor after it releases the driver (so a waker or an orphan's
    /// `Drop` can never re-enter it).
    completions: Completions,
    /// Read end of the cross-thread wake-up eventfd (owned by the runtime's
    /// shared state, which outlives the driver).
    wake_fd: i32,
    /// Target of the eventfd read. Boxed so its address is stable; the
    /// kernel may write it until the WAKE_TAG CQE.
    wake_buf: Box<[u8; 8]>,
    /// Whether the eventfd read is in flight.
    wake_armed: bool,
    /// Set by shutdown: the eventfd read is no longer re-armed.
    closing: bool,
    /// Reused by shutdown's bounded waits. Boxed: the kernel reads it after the push.
    shutdown_ts: Box<types::Timespec>,
    /// The next provided-buffer group id; ids are never reused (see `op::BufRing`).
    next_buf_group: u32,
    /// Identifies this ring among the process's runtimes (for fixed slots).
    ring_id: u64,
    /// The registered-file table, if the kernel took one.
    fixed: Option<fixed::FixedFiles>,
    /// Reused by [`Driver::close_released_slots`] for the closes of a turn,
    /// so that releasing slots costs no allocation per turn. Empty between uses.
    close_scratch: Vec<squeue::Entry>,
    /// Batch window of blocking waits in µs (0: wake on the first CQE).
    batch_wait_usec: u32,
    /// Set when an `io_uring_enter` failed for good: the ring can make no
    /// more progress, so shutdown does not wait for it.
    enter_failed: bool,
}

impl Driver {
    /// The driver `choice` asks for: the ring, the epoll fallback, or (Auto)
    /// the ring where it can be set up and the fallback where it cannot.
    pub(crate) fn new(
        opts: &setup::SetupOptions,
        wake_fd: &OwnedFd,
        choice: DriverChoice,
    ) -> io::Result<Driver> {
        let (ring, features) = match choice {
            DriverChoice::Epoll => (
                None,
                Features::epoll(setup::intern(
                    "chosen with Builder::driver(Driver::Epoll) or RINGLOOP_DRIVER=epoll",
                )),
            ),
            DriverChoice::IoUring => {
                let (ring, features) = setup::build_ring(opts)?;
                (Some(ring), features)
            }
            DriverChoice::Auto => match setup::build_ring(opts) {
                Ok((ring, features)) => (Some(ring), features),
                Err(e) if setup::falls_back(&e) => {
                    (None, Features::epoll(setup::intern(&e.to_string())))
                }
                Err(e) => return Err(e),
            },
        };
        let mut driver = match ring {
            Some(ring) => Driver::with_ring(opts, ring, features),
            None => Driver::with_epoll(features)?,
        };
        driver.wake_fd = wake_fd.as_raw_fd();
        driver.arm_wake();
        Ok(driver)
    }

    fn with_ring(opts: &setup::SetupOptions, ring: IoUring, mut features: Features) -> Driver {
        let registered = if opts.register_ring_fd {
            RegisteredRing::register(ring.as_raw_fd())
        } else {
            None
        };
        features.registered_ring_fd = registered.is_some();
        let ring_id = fixed::next_ring_id();
        let fixed = fixed::FixedFiles::new(&ring, ring_id, opts.fixed_files);
        features.fixed_files = fixed.as_ref().map_or(0, |f| f.slots());
        features.min_timeout = ring.params().is_feature_min_timeout();
        features.msg_ring &= opts.msg_ring;
        let batch_wait_usec = if features.min_timeout {
            u32::try_from(opts.batch_wait.as_micros()).unwrap_or(u32::MAX)
        } else {
            0
        };
        let mut driver = Driver::empty(features);
        driver.ring = Some(ring);
        driver.registered = registered;
        driver.ring_id = ring_id;
        driver.fixed = fixed;
        driver.batch_wait_usec = batch_wait_usec;
        driver
    }

    fn with_epoll(features: Features) -> io::Result<Driver> {
        let reason = features.fallback_reason.unwrap_or("");
        let mut driver = Driver::empty(features);
        driver.epoll = Some(Box::new(epoll::Epoll::new(reason)?));
        driver.ring_id = fixed::next_ring_id();
        Ok(driver)
    }

    /// The fields both drivers start with.
    fn empty(features: Features) -> Driver {
        Driver {
            ring: None,
            epoll: None,
            registered: None,
            ops: Slab::with_capacity(64),
            features,
            completions: Completions::with_capacity(64),
            wake_fd: -1,
            wake_buf: Box::new([0; 8]),
            wake_armed: false,
            closing: false,
            shutdown_ts: Box::new(types::Timespec::new()),
            next_buf_group: 0,
            ring_id: 0,
            fixed: None,
            close_scratch: Vec::new(),
            batch_wait_usec: 0,
            enter_failed: false,
        }
    }

    /// The ring's fd, for other runtimes' MSG_RING wakes; `None` without a
    /// ring or MSG_RING.
    pub(crate) fn msg_ring_target(&self) -> Option<std::os::fd::RawFd> {
        let ring = self.ring.as_ref()?;
        self.features.msg_ring.then(|| ring.as_raw_fd())
    }

    /// Queues a MSG_RING that posts a wake-up CQE to the ring `target`;
    /// `orphan` gets this ring's own CQE for it (and falls back to the
    /// eventfd if it failed). False, with nothing queued, if this ring
    /// cannot send one.
    pub(crate) fn msg_ring(&mut self, target: std::os::fd::RawFd, orphan: Box<dyn Orphan>) -> bool {
        if self.ring.is_none() || !self.features.msg_ring {
            return false;
        }
        let mut entry = opcode::MsgRingData::new(types::Fd(target), 0, MSG_WAKE_TAG, None).build();
        // SAFETY: MSG_RING carries no pointers; the target fd is only named.
        unsafe { self.submit(&mut entry, Lifecycle::Ignored(orphan), false) }.is_ok()
    }

    /// Whether the driver still runs (the runtime has not shut down).
    #[inline]
    fn is_live(&self) -> bool {
        self.ring.is_some() || self.epoll.is_some()
    }

    /// The fd `fd` is about to be closed (the last clone of a `SharedFd` is
    /// dropped). The epoll fallback forgets its registration.
    pub(crate) fn forget_fd(&mut self, fd: std::os::fd::RawFd) {
        if let Some(epoll) = self.epoll.as_mut() {
            epoll.forget_fd(fd);
        }
    }

    pub(crate) fn features(&self) -> Features {
        self.features
    }

    /// Identifies this ring among the process's runtimes.
    pub(crate) fn ring_id(&self) -> u64 {
        self.ring_id
    }

    /// Installs `fd` in the ring's registered-file table; `None` without a
    /// table, when it is full, or after shutdown.
    pub(crate) fn register_fixed(&mut self, fd: std::os::fd::RawFd) -> Option<fixed::FixedSlot> {
        let ring = self.ring.as_ref()?;
        self.fixed.as_mut()?.register(&ring.submitter(), fd)
    }

    /// Queues a close for every fixed slot released since the last turn.
    fn close_released_slots(&mut self) {
        let Some(fixed) = self.fixed.as_mut() else {
            return;
        };
        if self.ring.is_none() || !fixed.has_released() {
            return;
        }
        // Taken out of `self` while pushing (a push borrows all of `self`);
        // put back empty, with its capacity, for the next turn. Slots
        // released during these pushes wait for the next turn, as before.
        let mut closes = std::mem::take(&mut self.close_scratch);
        fixed.take_closes(&mut closes);
        for entry in closes.drain(..) {
            // SAFETY: a CLOSE of a fixed slot carries no pointers.
            unsafe { self.push(&entry) };
        }
        self.close_scratch = closes;
    }

    /// Number of ops the kernel may still post a CQE for.
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.iter().filter(|(_, s)| s.in_flight()).count()
    }

    /// Registers a slot in `state` and pushes `entry` with its key as `user_data`.
    /// Fails if the runtime has shut down, or if the epoll fallback runs and
    /// cannot carry the op out (a `custom` SQE, a multishot op, ...).
    ///
    /// # Safety
    /// Every pointer in `entry` must stay valid, and unaliased where the
    /// kernel writes, until the op's final CQE: the caller either keeps the
    /// memory alive itself until then or hands it to [`Driver::abandon`].
    #[inline]
    pub(crate) unsafe fn submit(
        &mut self,
        entry: &mut squeue::Entry,
        state: Lifecycle,
        custom: bool,
    ) -> io::Result<usize> {
        if self.ring.is_none() {
            match self.epoll.as_ref() {
                None => return Err(shut_down_error()),
                Some(epoll) => {
                    let multi = matches!(state, Lifecycle::Multi(_));
                    if let Some(e) = epoll.refusal(entry, custom, multi) {
                        return Err(e);
                    }
                }
            }
        }
        let key = self.ops.insert(state);
        entry.set_user_data(key as u64);
        // SAFETY: forwarded from this function's contract.
        unsafe { self.push(entry) };
        Ok(key)
    }

    /// Pushes one SQE, flushing the SQ to the kernel when it is full: an op is
    /// never dropped.
    ///
    /// # Safety
    /// As for [`Driver::submit`].
    #[inline]
    unsafe fn push(&mut self, entry: &squeue::Entry) {
        let Some(ring) = self.ring.as_mut() else {
            self.epoll
                .as_mut()
                .expect("push on a live driver")
                .push(entry);
            return;
        };
        // SAFETY: forwarded from this function's contract.
        if unsafe { ring.submission().push(entry) }.is_err() {
            // SAFETY: forwarded from this function's contract.
            unsafe { self.push_full(entry) };
        }
    }

    /// The slow path of [`Driver::push`], kept out of line: the SQ is full.
    ///
    /// # Safety
    /// As for [`Driver::submit`].
    #[cold]
    #[inline(never)]
    unsafe fn push_full(&mut self, entry: &squeue::Entry) {
        loop {
            self.flush();
            let ring = self.ring.as_mut().expect("push on a live ring");
            // SAFETY: forwarded from this function's contract.
            if unsafe { ring.submission().push(entry) }.is_ok() {
                return;
            }
        }
    }

    /// Submits everything in the SQ without waiting. On EBUSY (the kernel is
    /// holding overflowed CQEs) it reaps and tries again.
    fn flush(&mut self) {
        loop {
            let ring = self.ring.as_ref().expect("flush on a live ring");
            match ring.submit() {
                Ok(_) => return,
                Err(e) if is_transient(&e) => self.reap(),
                Err(e) => panic!("ringloop: io_uring_enter failed while submitting: {e}"),
            }
        }
    }

    /// Submits what is queued in the SQ, without waiting (the loop is about
    /// to stop turning). The epoll fallback has nothing that needs it.
    pub(crate) fn submit_pending(&mut self) {
        if self
            .ring
            .as_mut()
            .is_some_and(|r| !r.submission().is_empty())
        {
            self.flush();
        }
    }

    /// Polls a single-shot op: `Ready` with its CQE (freeing the slot) or
    /// `Pending` with the waiter stored: the task `task()` names (the op
    /// layer's answer to "which task of this runtime owns this waker?"),
    /// else the waker. `task` runs only if the op is still waiting.
    #[inline]
    pub(crate) fn poll_op(
        &mut self,
        key: usize,
        waker: &Waker,
        task: impl FnOnce() -> Option<(usize, u64)>,
    ) -> Poll<CqeResult> {
        let slot = self
            .ops
            .get_mut(key)
            .expect("op slot exists while its future does");
        match slot {
            Lifecycle::Waiting(_) | Lifecycle::WaitingTask { .. } => slot.rewait(waker, task()),
            Lifecycle::Completed(cqe) => {
                let cqe = *cqe;
                // A Completed slot owns nothing: forgetting it skips an
                // out-of-line drop_in_place::<Lifecycle> on every op.
                std::mem::forget(self.ops.remove(key));
                return Poll::Ready(cqe.result());
            }
            // The kernel may still own this op's memory; it can never complete.
            Lifecycle::Leaked => {}
            Lifecycle::Ignored(_) | Lifecycle::Multi(_) | Lifecycle::IgnoredMulti(_) => {
                unreachable!("a live single-shot op is never ignored or multishot")
            }
        }
        Poll::Pending
    }

    /// Polls a multishot op: the next CQE, `None` once the final one was taken
    /// (the slot is then freed), or `Pending`.
    pub(crate) fn poll_multi(
        &mut self,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<CqeResult>> {
        let slot = self
            .ops
            .get_mut(key)
            .expect("op slot exists while its stream does");
        let Lifecycle::Multi(multi) = slot else {
            if matches!(slot, Lifecycle::Leaked) {
                return Poll::Pending;
            }
            unreachable!("a live multishot op is always in the Multi state");
        };
        if let Some(cqe) = multi.queue.pop_front() {
            return Poll::Ready(Some(cqe));
        }
        if multi.finished {
            self.ops.remove(key);
            return Poll::Ready(None);
        }
        match &mut multi.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The future of a single-shot op was dropped. If its CQE already arrived,
    /// the resources are returned with it to be completed and dropped by the
    /// caller; otherwise the slot keeps them until the CQE and the op is cancelled.
    pub(crate) fn abandon(
        &mut self,
        key: usize,
        orphan: Box<dyn Orphan>,
    ) -> Option<(Box<dyn Orphan>, CqeResult)> {
        let slot = self
            .ops
            .get_mut(key)
            .expect("op slot exists while its future does");
        match slot {
            Lifecycle::Completed(cqe) => {
                let cqe = cqe.result();
                self.ops.remove(key);
                Some((orphan, cqe))
            }
            Lifecycle::Waiting(_) | Lifecycle::WaitingTask { .. } => {
                *slot = Lifecycle::Ignored(orphan);
                self.cancel(key);
                None
            }
            Lifecycle::Leaked => {
                // The kernel may write into these resources at any time: never free them.
                std::mem::forget(orphan);
                None
            }
            Lifecycle::Ignored(_) | Lifecycle::Multi(_) | Lifecycle::IgnoredMulti(_) => {
                unreachable!("a live single-shot op is never ignored or multishot")
            }
        }
    }

    /// The stream of a multishot op was dropped: queued CQEs are completed and
    /// dropped now, later ones as they arrive; the op is cancelled.
    pub(crate) fn abandon_multi(&mut self, key: usize, mut orphan: Box<dyn MultiOrphan>) {
        let slot = self
            .ops
            .get_mut(key)
            .expect("op slot exists while its stream does");
        match std::mem::replace(slot, Lifecycle::Leaked) {
            Lifecycle::Multi(multi) => {
                for cqe in multi.queue {
                    orphan.complete_next(cqe);
                }
                if multi.finished {
                    self.ops.remove(key);
                } else {
                    *slot = Lifecycle::IgnoredMulti(orphan);
                    self.cancel(key);
                }
            }
            Lifecycle::Leaked => std::mem::forget(orphan),
            _ => unreachable!("a live multishot op is always in the Multi state"),
        }
    }

    /// Asks the kernel to cancel the op with this key. Best effort: the op's
    /// CQE (completed or -ECANCELED) still arrives and frees the slot.
    pub(crate) fn cancel(&mut self, key: usize) {
        if !self.is_live() || !self.features.async_cancel {
            return;
        }
        let entry = opcode::AsyncCancel::new(key as u64)
            .build()
            .user_data(CANCEL_TAG);
        // SAFETY: ASYNC_CANCEL carries no pointers.
        unsafe { self.push(&entry) };
    }

    /// Registers a provided-buffer ring (IORING_REGISTER_PBUF_RING) under a
    /// fresh group id and returns the id.
    ///
    /// # Safety
    /// `ring_addr` is page-aligned memory for `entries` `io_uring_buf`
    /// entries that stays valid until [`Driver::unregister_buf_ring`]
    /// succeeds or the ring closes, and no op selecting from the group is in
    /// flight when it is freed.
    pub(crate) unsafe fn register_buf_ring(
        &mut self,
        ring_addr: u64,
        entries: u16,
    ) -> io::Result<u16> {
        let Some(ring) = self.ring.as_ref() else {
            return Err(match self.epoll.as_ref() {
                Some(epoll) => {
                    epoll::unsupported("a provided-buffer ring (BufRing)", epoll.reason())
                }
                None => shut_down_error(),
            });
        };
        let bgid = u16::try_from(self.next_buf_group).map_err(|_| {
            io::Error::other(
                "ringloop: all 65536 provided-buffer group ids of this runtime were used;                  keep BufRings alive and share them instead of creating one per connection",
            )
        })?;
        // SAFETY: forwarded from this function's contract.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(ring_addr, entries, bgid, 0)
        }?;
        self.next_buf_group += 1;
        Ok(bgid)
    }

    /// Unregisters a provided-buffer group; false if the ring is gone (which
    /// dropped every registration) or the kernel refused.
    pub(crate) fn unregister_buf_ring(&mut self, bgid: u16) -> bool {
        match self.ring.as_ref() {
            Some(ring) => ring.submitter().unregister_buf_ring(bgid).is_ok(),
            None => true,
        }
    }

    /// Arms the eventfd read that turns a cross-thread wake into a CQE.
    fn arm_wake(&mut self) {
        if self.wake_armed || self.closing || !self.is_live() {
            return;
        }
        let entry = opcode::Read::new(types::Fd(self.wake_fd), self.wake_buf.as_mut_ptr(), 8)
            .build()
            .user_data(WAKE_TAG);
        // SAFETY: `wake_buf` is heap memory owned by the driver, which lives
        // until shutdown has reaped this op's CQE (or leaks the buffer); the
        // eventfd is owned by the runtime's shared state, which outlives the driver.
        unsafe { self.push(&entry) };
        self.wake_armed = true;
    }

    /// One loop turn: submit what is queued and reap completions. With
    /// `block`, waits until at least one CQE is available.
    pub(crate) fn turn(&mut self, block: bool) -> io::Result<()> {
        self.arm_wake();
        self.close_released_slots();
        let Some(ring) = self.ring.as_mut() else {
            return self.turn_epoll(block);
        };
        let to_submit = ring.submission().len();
        // Never sleep while work is already at hand: CQEs in the ring, or
        // wakers/orphans that a reap inside `flush` (SQ full + EBUSY)
        // collected but the executor has not handled yet.
        let handled_all = self.completions.is_empty();
        let block = block && handled_all && ring.completion().is_empty();
        let sq = ring.submission();
        let kernel_has_work = sq.taskrun() || sq.cq_overflow();
        drop(sq);
        // Without TASKRUN_FLAG we cannot see pending completion work, so we
        // must ask the kernel on every turn.
        let need_enter = block || to_submit > 0 || kernel_has_work || !self.features.taskrun_flag;
        if need_enter {
            // IORING_ENTER_GETEVENTS (the io-uring crate keeps its constant private).
            let flags = 1u32 << 0;
            // A blocking wait may gather completions for up to the batch
            // window before waking (IORING_FEAT_MIN_TIMEOUT): it asks for a
            // full CQ, which the window cuts short.
            let batch = (block && self.batch_wait_usec > 0).then(|| {
                ring_fd::GeteventsArg::min_wait(self.batch_wait_usec, &ring_fd::BATCH_WAIT_LIMIT)
            });
            let min_complete = match batch {
                Some(_) => ring.params().cq_entries(),
                None => u32::from(block),
            };
            let (fd, registered) = match self.registered {
                Some(reg) => (reg.index(), true),
                None => (ring.as_raw_fd(), false),
            };
            // SAFETY: `fd` is the ring's fd or its registered index; the SQEs
            // being submitted were pushed under `submit`'s contract.
            let res = unsafe {
                ring_fd::enter(
                    fd,
                    registered,
                    to_submit as u32,
                    min_complete,
                    flags,
                    batch.as_ref(),
                )
            };
            match res {
                Ok(_) => {}
                Err(e) if is_transient(&e) || e.raw_os_error() == Some(libc::ETIME) => {}
                Err(e) => {
                    self.enter_failed = true;
                    return Err(setup::enter_error(e));
                }
            }
        }
        if let (Some(fixed), Some(ring)) = (self.fixed.as_mut(), self.ring.as_mut()) {
            if ring.submission().is_empty() {
                fixed.submitted();
            }
        }
        self.reap();
        Ok(())
    }

    /// Moves every available CQE into its slot and collects the wakers to wake.
    fn reap(&mut self) {
        let Driver {
            ring,
            ops,
            completions,
            wake_armed,
            ..
        } = self;
        let Some(ring) = ring.as_mut() else { return };
        for cqe in ring.completion() {
            complete(
                ops,
                completions,
                wake_armed,
                cqe.user_data(),
                cqe.result(),
                cqe.flags(),
            );
        }
    }

    /// A turn of the epoll fallback (see [`Driver::turn`]).
    fn turn_epoll(&mut self, block: bool) -> io::Result<()> {
        let Driver {
            epoll,
            ops,
            completions,
            wake_armed,
            ..
        } = self;
        let Some(epoll) = epoll.as_mut() else {
            return Ok(());
        };
        let block = block && completions.is_empty() && !epoll.has_completions();
        epoll.turn(block, |user_data, res| {
            complete(ops, completions, wake_armed, user_data, res, 0);
        })
    }

    /// Swaps what the reaps since the last call collected with `into` (which
    /// the caller has emptied): the caller wakes and drops it after
    /// releasing the driver, and the driver keeps `into`'s capacity.
    pub(crate) fn take_completions(&mut self, into: &mut Completions) {
        debug_assert!(into.is_empty(), "completions handed back unhandled");
        std::mem::swap(&mut self.completions, into);
    }

    /// Cancels every op in flight and waits (bounded) for their CQEs, then
    /// closes the ring. Resources whose CQE never came are leaked, not freed.
    pub(crate) fn shutdown(&mut self) {
        if !self.is_live() {
            return;
        }
        self.closing = true;
        let keys: Vec<usize> = self
            .ops
            .iter()
            .filter(|(_, s)| s.in_flight())
            .map(|(k, _)| k)
            .collect();
        for key in keys {
            self.cancel(key);
        }
        if self.wake_armed {
            let entry = opcode::AsyncCancel::new(WAKE_TAG)
                .build()
                .user_data(CANCEL_TAG);
            // SAFETY: ASYNC_CANCEL carries no pointers.
            unsafe { self.push(&entry) };
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while !self.enter_failed
            && (self.wake_armed || self.in_flight() > 0)
            && Instant::now() < deadline
        {
            *self.shutdown_ts = types::Timespec::from(Duration::from_millis(50));
            let entry = opcode::Timeout::new(&*self.shutdown_ts)
                .build()
                .user_data(SHUTDOWN_TIMER_TAG);
            // SAFETY: `shutdown_ts` is boxed and owned by the driver; the
            // kernel copies it when the SQE is submitted, below.
            unsafe { self.push(&entry) };
            if self.turn(true).is_err() {
                break;
            }
        }
        // Orphans reaped above still hold results (an accepted fd, say) to release.
        for (orphan, cqe) in std::mem::take(&mut self.completions.orphans) {
            orphan.complete(cqe);
        }
        self.completions.clear();
        let leaked = self.leak_in_flight();
        if leaked > 0 || self.wake_armed {
            if self.enter_failed {
                eprintln!(
                    "ringloop: io_uring_enter failed, so {leaked} io_uring op(s) in flight could \
                     not be cancelled; their buffers are leaked rather than freed"
                );
            } else {
                eprintln!(
                    "ringloop: {leaked} io_uring op(s) did not complete within \
                     {SHUTDOWN_GRACE:?} of shutdown; their buffers are leaked rather than freed \
                     while the kernel may use them"
                );
            }
            if self.wake_armed {
                // The eventfd read may still land in `wake_buf`.
                std::mem::forget(std::mem::take(&mut self.wake_buf));
            }
        }
        if let (Some(reg), Some(ring)) = (self.registered.take(), self.ring.as_ref()) {
            reg.unregister(ring.as_raw_fd());
        }
        // Closing the ring drops every registered file with it.
        if let Some(fixed) = self.fixed.as_mut() {
            fixed.close();
        }
        self.ring = None;
        self.epoll = None;
    }

    /// Marks every op still in flight as leaked, forgetting owned resources.
    fn leak_in_flight(&mut self) -> usize {
        let mut leaked = 0;
        for (_, slot) in self.ops.iter_mut().filter(|(_, s)| s.in_flight()) {
            match std::mem::replace(slot, Lifecycle::Leaked) {
                Lifecycle::Ignored(o) => std::mem::forget(o),
                Lifecycle::IgnoredMulti(o) => std::mem::forget(o),
                _ => {}
            }
            leaked += 1;
        }
        leaked
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Moves one CQE into its op's slot, collecting who to wake in `completions`.
#[inline(always)]
fn complete(
    ops: &mut Slab<Lifecycle>,
    completions: &mut Completions,
    wake_armed: &mut bool,
    user_data: u64,
    res: i32,
    flags: u32,
) {
    match user_data {
        CANCEL_TAG | SHUTDOWN_TIMER_TAG | MSG_WAKE_TAG => return,
        // The executor drains the remote queue every turn; the CQE only
        // had to end the wait.
        WAKE_TAG => {
            *wake_armed = false;
            return;
        }
        _ => {}
    }
    let key = user_data as usize;
    let raw = RawCqe::new(res, flags);
    let Some(slot) = ops.get_mut(key) else {
        debug_assert!(false, "CQE for unknown op {key}");
        return;
    };
    match slot {
        Lifecycle::WaitingTask { key, id } => {
            completions.tasks.push((*key, *id));
            // A WaitingTask slot owns nothing: forgetting it skips a
            // drop_in_place::<Lifecycle>.
            std::mem::forget(std::mem::replace(slot, Lifecycle::Completed(raw)));
        }
        Lifecycle::Waiting(_) => {
            if let Lifecycle::Waiting(w) = std::mem::replace(slot, Lifecycle::Completed(raw)) {
                completions.wakers.push(w);
            }
        }
        Lifecycle::Ignored(_) => {
            if let Lifecycle::Ignored(orphan) = ops.remove(key) {
                completions.orphans.push((orphan, raw.result()));
            }
        }
        Lifecycle::Multi(multi) => {
            let result = raw.result();
            multi.finished = !result.more();
            multi.queue.push_back(result);
            if let Some(w) = multi.waker.take() {
                completions.wakers.push(w);
            }
        }
        Lifecycle::IgnoredMulti(orphan) => {
            let result = raw.result();
            let last = !result.more();
            orphan.complete_next(result);
            if last {
                ops.remove(key);
            }
        }
        Lifecycle::Completed(_) | Lifecycle::Leaked => {
            debug_assert!(false, "second CQE for single-shot op {key}");
        }
    }
}

/// The error every op returns once its runtime has shut down.
pub(crate) fn shut_down_error() -> io::Error {
    io::Error::other("ringloop: the runtime has shut down; no more io_uring ops can be submitted")
}

/// Errors of `io_uring_enter` that mean "reap, then try again".
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBUSY | libc::EAGAIN | libc::EINTR)
    )
}
