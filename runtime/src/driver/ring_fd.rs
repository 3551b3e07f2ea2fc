//! Registered ring fd (IORING_REGISTER_RING_FDS, Linux 5.18): the ring's
//! own fd is registered in the calling thread's io_uring context, and every
//! `io_uring_enter` passes the registered index with
//! IORING_ENTER_REGISTERED_RING instead of the fd, which saves the kernel
//! an fd-table lookup (fdget/fdput) per enter.
//!
//! The io-uring crate remembers a registration only inside one `Submitter`
//! value, which the driver does not keep, so the two syscalls are made here.
//! The registration is per thread (task), which fits the driver: a runtime
//! never leaves the thread that created it, and only it enters the ring.
//! It holds a reference to the ring's file, so it must be undone before the
//! ring is closed ([`RegisteredRing::unregister`]), or the ring's memory
//! would live until the thread exits.

use crate::sys::syscall;
use std::io;
use std::os::fd::RawFd;

const IORING_REGISTER_RING_FDS: libc::c_uint = 20;
const IORING_UNREGISTER_RING_FDS: libc::c_uint = 21;
/// `io_uring_enter` flag: the fd argument is a registered ring index.
pub(crate) const IORING_ENTER_REGISTERED_RING: u32 = 1 << 4;

/// IORING_REGISTER_FILES_UPDATE (5.5).
const IORING_REGISTER_FILES_UPDATE: libc::c_uint = 6;

/// `struct io_uring_rsrc_update` of the kernel ABI (also the layout of
/// `struct io_uring_files_update`).
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

impl RsrcUpdate {
    /// `io_uring_register(ring_fd, opcode, self, 1)`: one update, which the
    /// kernel reads and, for IORING_REGISTER_RING_FDS, writes back.
    fn register(&mut self, ring_fd: RawFd, opcode: libc::c_uint) -> std::io::Result<libc::c_long> {
        // `self` is a live, writable io_uring_rsrc_update for the one entry
        // passed; any pointer in its `data` is the caller's to keep valid.
        syscall!(syscall(
            libc::SYS_io_uring_register,
            ring_fd,
            opcode,
            (self as *mut RsrcUpdate).cast::<libc::c_void>(),
            1u32,
        ))
    }
}

/// Empties slot `slot` of `ring_fd`'s registered-file table (sets it to
/// -1), dropping the table's reference to the file. True if the kernel did.
/// Made here, not through the io-uring crate, because it runs where no
/// `Submitter` is at hand (see `fixed::FixedTable::release`).
pub(crate) fn empty_file_slot(ring_fd: RawFd, slot: u32) -> bool {
    // The one fd `data` points to lives across the call (the kernel only
    // reads it). The caller passes a live ring's fd.
    let fds: [i32; 1] = [-1];
    let mut update = RsrcUpdate {
        offset: slot,
        resv: 0,
        data: fds.as_ptr() as u64,
    };
    matches!(
        update.register(ring_fd, IORING_REGISTER_FILES_UPDATE),
        Ok(1)
    )
}

/// The index under which the ring's fd is registered for this thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RegisteredRing {
    index: u32,
}

impl RegisteredRing {
    /// Registers `ring_fd` in the calling thread's context; `None` when the
    /// kernel cannot (before 5.18: EINVAL; 16 rings already registered by
    /// this thread: EINVAL/EBUSY). The caller then enters with the plain fd.
    pub(crate) fn register(ring_fd: RawFd) -> Option<RegisteredRing> {
        let mut update = RsrcUpdate {
            // u32::MAX: let the kernel pick a free index and write it back.
            offset: u32::MAX,
            resv: 0,
            data: ring_fd as u64,
        };
        // The kernel writes the chosen index into `offset`.
        match update.register(ring_fd, IORING_REGISTER_RING_FDS) {
            Ok(1) => Some(RegisteredRing {
                index: update.offset,
            }),
            _ => None,
        }
    }

    /// Undoes the registration (on the thread that registered it).
    pub(crate) fn unregister(self, ring_fd: RawFd) {
        let mut update = RsrcUpdate {
            offset: self.index,
            resv: 0,
            data: 0,
        };
        let _ = update.register(ring_fd, IORING_UNREGISTER_RING_FDS);
    }

    /// The index to pass to [`enter`] with `registered` set.
    pub(crate) fn index(self) -> RawFd {
        self.index as RawFd
    }
}

/// `io_uring_enter` flag: the argument is a `struct io_uring_getevents_arg`.
const IORING_ENTER_EXT_ARG: u32 = 1 << 3;

/// `struct io_uring_getevents_arg` of the kernel ABI (6.12 layout, with
/// `min_wait_usec`).
#[repr(C)]
pub(crate) struct GeteventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    min_wait_usec: u32,
    ts: u64,
}

/// `struct __kernel_timespec`.
#[repr(C)]
pub(crate) struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// The overall timeout of a batched wait: without one, the kernel ends the
/// wait when the minimum time is up even if nothing completed, and an idle
/// loop would wake once per window. A day is "never" for a loop that
/// waits again anyway.
pub(crate) const BATCH_WAIT_LIMIT: KernelTimespec = KernelTimespec {
    tv_sec: 86_400,
    tv_nsec: 0,
};

impl GeteventsArg {
    /// No signal mask; waits for `min_complete` CQEs, but returns once
    /// `min_wait_usec` passed if at least one arrived, and after that at
    /// the first one, or at `limit` (IORING_FEAT_MIN_TIMEOUT, Linux 6.12).
    /// `limit` must outlive the `enter` call this argument is passed to.
    pub(crate) fn min_wait(min_wait_usec: u32, limit: &KernelTimespec) -> GeteventsArg {
        GeteventsArg {
            sigmask: 0,
            sigmask_sz: 0,
            min_wait_usec,
            ts: limit as *const KernelTimespec as u64,
        }
    }
}

/// `io_uring_enter` on `fd` (a registered index if `registered`), with an
/// optional extended argument; returns the number of SQEs consumed.
///
/// # Safety
/// `fd` is the ring's fd or its registered index; the SQEs being submitted
/// satisfy the driver's `submit` contract.
pub(crate) unsafe fn enter(
    fd: RawFd,
    registered: bool,
    to_submit: u32,
    min_complete: u32,
    mut flags: u32,
    arg: Option<&GeteventsArg>,
) -> io::Result<u32> {
    if registered {
        flags |= IORING_ENTER_REGISTERED_RING;
    }
    let (ptr, size) = match arg {
        Some(arg) => {
            flags |= IORING_ENTER_EXT_ARG;
            (
                (arg as *const GeteventsArg).cast::<libc::c_void>(),
                std::mem::size_of::<GeteventsArg>(),
            )
        }
        None => (std::ptr::null(), 0),
    };
    // The arguments are integers and either a null pointer of size 0 or a
    // live GeteventsArg (and the timespec it points to) that the kernel only
    // reads during the call; the SQEs' own pointers are covered by this
    // function's contract.
    let res = syscall!(syscall(
        libc::SYS_io_uring_enter,
        fd,
        to_submit,
        min_complete,
        flags,
        ptr,
        size,
    ))?;
    Ok(res as u32)
}
