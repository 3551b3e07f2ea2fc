//! File descriptors shared between a socket and the ops using it.

use crate::driver::fixed::FixedSlot;
use io_uring::squeue;
use std::cell::OnceCell;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;

/// An fd that ops keep open until their CQE: every op holds a clone, so a
/// socket dropped while a read is in flight is closed only after that read
/// completes and its fd number cannot be reused mid-flight.
///
/// An fd may also hold a slot of its runtime's registered-file table
/// ([`SharedFd::register`]): ops built on that runtime then name the slot
/// instead of the fd number, which saves the kernel a file lookup and
/// reference count per op. The slot is emptied and given back when the last
/// clone is dropped, right after the fd is closed, so the file is closed
/// then, as without a slot.
#[derive(Clone)]
pub struct SharedFd(Rc<Inner>);

struct Inner {
    /// Dropped first: tells the driver the fd is about to close.
    _closing: Closing,
    fd: OwnedFd,
    fixed: OnceCell<FixedSlot>,
}

/// Tells the current runtime's driver, when dropped, that its fd is about to
/// be closed (or handed out by [`SharedFd::try_unwrap`]): the epoll fallback
/// then forgets the fd's registration, so a new fd that reuses the number is
/// registered afresh.
struct Closing(RawFd);

impl Drop for Closing {
    fn drop(&mut self) {
        crate::context::with_core(|core| {
            if let Ok(mut driver) = core.driver.try_borrow_mut() {
                driver.forget_fd(self.0);
            }
        });
    }
}

impl SharedFd {
    /// Wraps an owned fd.
    pub fn new(fd: OwnedFd) -> SharedFd {
        SharedFd(Rc::new(Inner {
            _closing: Closing(fd.as_raw_fd()),
            fd,
            fixed: OnceCell::new(),
        }))
    }

    /// Installs the fd in the current runtime's registered-file table, so
    /// ops on it skip the kernel's per-op file lookup. True if it holds a
    /// slot (now or already). False, with nothing changed, outside a
    /// runtime, when the runtime has no table ([`Builder::fixed_files`]) or
    /// it is full: the fd then works as before, by number.
    ///
    /// [`Builder::fixed_files`]: crate::Builder::fixed_files
    pub fn register(&self) -> bool {
        if self.0.fixed.get().is_some() {
            return true;
        }
        let slot = crate::context::with_core(|core| {
            core.driver
                .try_borrow_mut()
                .ok()?
                .register_fixed(self.0.fd.as_raw_fd())
        })
        .flatten();
        match slot {
            Some(slot) => self.0.fixed.set(slot).is_ok(),
            None => false,
        }
    }

    /// The fd's slot in the registered-file table of the runtime running
    /// on this thread, if it holds one there.
    /// Returns the slot and that ring's id.
    #[inline]
    pub(crate) fn fixed_slot(&self) -> Option<(u32, u64)> {
        let fixed = self.0.fixed.get()?;
        let ring = fixed.table.ring_id;
        (ring == crate::context::ring_id()).then_some((fixed.slot, ring))
    }

    /// What an SQE for a custom op on this fd should name: the fd's
    /// registered-file slot (with IOSQE_FIXED_FILE) when it holds one in
    /// the current runtime's table, else its fd number. Build the entry on
    /// [`SqeTarget::fd`], add [`SqeTarget::flags`], and submit it with
    /// [`Op::with_target`](crate::op::Op::with_target), which checks that
    /// the runtime polling the op is the one whose slot it names.
    ///
    /// ```
    /// use ringloop_runtime::op::{Completable, CqeResult, Op};
    /// use ringloop_runtime::io_uring::opcode;
    /// # use std::os::fd::OwnedFd;
    /// struct Fsync(ringloop_runtime::fd::SharedFd);
    /// impl Completable for Fsync {
    ///     type Output = std::io::Result<u32>;
    ///     fn complete(self, cqe: CqeResult) -> Self::Output { cqe.result }
    /// }
    /// // Custom SQEs need the ring (the epoll driver refuses them).
    /// let rt = ringloop_runtime::Runtime::builder()
    ///     .driver(ringloop_runtime::Driver::IoUring)
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     let file = std::fs::File::create(std::env::temp_dir().join("ringloop-sqe-target")).unwrap();
    ///     let fd = ringloop_runtime::fd::SharedFd::new(OwnedFd::from(file));
    ///     fd.register();
    ///     let target = fd.sqe_target();
    ///     let entry = opcode::Fsync::new(target.fd()).build().flags(target.flags());
    ///     // SAFETY: FSYNC carries no pointers; the op keeps the fd open.
    ///     let res = unsafe { Op::with_target(Fsync(fd.clone()), entry, &target) }.await;
    ///     assert!(res.is_ok());
    /// });
    /// ```
    pub fn sqe_target(&self) -> SqeTarget {
        let (raw, flags, ring) = self.target_parts();
        SqeTarget { raw, flags, ring }
    }

    /// What an SQE on this fd names: the fixed slot with IOSQE_FIXED_FILE
    /// and the slot's ring, or the fd number, no flag and ring 0.
    #[inline]
    pub(crate) fn target_parts(&self) -> (RawFd, squeue::Flags, u64) {
        match self.fixed_slot() {
            // Slots are below the table size, itself capped by RLIMIT_NOFILE.
            Some((slot, ring)) => (slot as RawFd, squeue::Flags::FIXED_FILE, ring),
            None => (self.0.fd.as_raw_fd(), squeue::Flags::empty(), 0),
        }
    }

    /// Receives into `buf` without waiting (`recv` with `MSG_DONTWAIT`),
    /// whether or not the socket is in non-blocking mode: `WouldBlock` when
    /// nothing is there. For readiness-style reads straight into a
    /// caller's buffer, with a POLL_ADD op to wait; ops need not be used.
    ///
    /// # Errors
    /// The socket's error; `WouldBlock` when no data is waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // `buf` is valid for writes of `buf.len()` bytes for the call, and
        // the fd stays open while `self` is borrowed.
        let n = crate::sys::syscall!(recv(
            self.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT
        ))?;
        Ok(n as usize)
    }

    /// The fd back, if no op holds it any more (its table slot, if any, is
    /// given back).
    pub fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        Rc::try_unwrap(self.0)
            .map(|inner| inner.fd)
            .map_err(SharedFd)
    }
}

/// What an SQE on a [`SharedFd`] names ([`SharedFd::sqe_target`]).
#[derive(Debug, Clone, Copy)]
pub struct SqeTarget {
    raw: RawFd,
    flags: squeue::Flags,
    ring: u64,
}

impl SqeTarget {
    /// The SQE's fd field: the registered-file slot or the fd number.
    pub fn fd(&self) -> io_uring::types::Fd {
        io_uring::types::Fd(self.raw)
    }

    /// Flags the entry needs: IOSQE_FIXED_FILE for a slot, none otherwise.
    pub fn flags(&self) -> squeue::Flags {
        self.flags
    }

    /// Whether it names a registered-file slot.
    pub fn is_fixed(&self) -> bool {
        self.ring != 0
    }

    /// The id of the ring whose slot it names (0: an fd number).
    pub(crate) fn ring(&self) -> u64 {
        self.ring
    }
}

impl fmt::Debug for SharedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedFd")
            .field("fd", &self.0.fd.as_raw_fd())
            .field("fixed_slot", &self.0.fixed.get().map(|s| s.slot))
            .finish()
    }
}

impl From<OwnedFd> for SharedFd {
    fn from(fd: OwnedFd) -> Self {
        SharedFd::new(fd)
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.fd.as_raw_fd()
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }
}

/// Builds an SQE for `fd`: against its fixed slot if it holds one in the
/// current runtime's table, else against its fd number. `$t` names the
/// target (a `types::Fd` carrying the slot or the number) inside `$build`;
/// a slot adds IOSQE_FIXED_FILE to the built entry, which is what
/// `types::Fixed` does, without building the entry in two branches.
/// Evaluates to `(entry, ring)`, where `ring` is the id of the ring the
/// slot belongs to (0 for an fd number), for [`Op`](crate::op::Op)'s
/// submit-time check.
macro_rules! sqe_for {
    ($fd:expr, |$t:ident| $build:expr) => {{
        let (raw, flags, ring) = $crate::fd::SharedFd::target_parts($fd);
        let $t = io_uring::types::Fd(raw);
        (($build).flags(flags), ring)
    }};
}
pub(crate) use sqe_for;

/// Sets the capacity of the pipe `fd` (either end) to at least `size` bytes
/// (`F_SETPIPE_SZ`; the kernel rounds up to a power of two of pages and
/// caps unprivileged callers at `/proc/sys/fs/pipe-max-size`, 1 MiB by
/// default). Returns the capacity now set. A deeper pipe moves bulk data
/// in fewer, larger reads and writes.
///
/// # Errors
/// `fd` is not a pipe, or the size is over the limit (`EPERM`).
pub fn set_pipe_capacity(fd: &impl AsFd, size: usize) -> io::Result<usize> {
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // fcntl(F_SETPIPE_SZ) takes an int and no pointers.
    let n = crate::sys::syscall!(fcntl(fd.as_fd().as_raw_fd(), libc::F_SETPIPE_SZ, size))?;
    Ok(n as usize)
}
