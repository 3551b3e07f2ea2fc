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

/// `struct io_uring_rsrc_update` of the kernel ABI.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
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
        // `update` is a live, writable io_uring_rsrc_update for the one entry
        // we pass; the kernel writes the chosen index into its `offset`.
        let res = syscall!(syscall(
            libc::SYS_io_uring_register,
            ring_fd,
            IORING_REGISTER_RING_FDS,
            (&mut update as *mut RsrcUpdate).cast::<libc::c_void>(),
            1u32,
        ));
        match res {
            Ok(1) => Some(RegisteredRing {
                index: update.offset,
            }),
            _ => None,
        }
    }

    /// Undoes the registration (on the thread that registered it).
    pub(crate) fn unregister(self, ring_fd: RawFd) {
        let update = RsrcUpdate {
            offset: self.index,
            resv: 0,
            data: 0,
        };
        // `update` is a live io_uring_rsrc_update naming our index; the kernel only reads it.
        let _ = syscall!(syscall(
            libc::SYS_io_uring_register,
            ring_fd,
            IORING_UNREGISTER_RING_FDS,
            (&update as *const RsrcUpdate).cast::<libc::c_void>(),
            1u32,
        ));
    }

    /// `io_uring_enter` through the registered index, without an extended
    /// argument; returns the number of SQEs consumed.
    ///
    /// # Safety
    /// The SQEs being submitted satisfy the driver's `submit` contract.
    pub(crate) unsafe fn enter(
        self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
    ) -> io::Result<u32> {
        // The arguments are plain integers and a null argument pointer of
        // size 0; the SQEs' own pointers are covered by this function's contract.
        let res = syscall!(syscall(
            libc::SYS_io_uring_enter,
            self.index,
            to_submit,
            min_complete,
            flags | IORING_ENTER_REGISTERED_RING,
            std::ptr::null::<libc::c_void>(),
            0usize,
        ))?;
        Ok(res as u32)
    }
}
