//! The few raw syscalls the runtime makes outside the ring.
//!
//! Every call goes through [`syscall!`], which turns the C convention
//! (`-1` + `errno`) into an `io::Result`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Calls a libc function and maps a `-1` return to `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: each call site passes arguments that satisfy the libc
        // function's contract; see the comment at the call site.
        let res = unsafe { libc::$fn($($arg, )*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use syscall;

/// Creates a non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // eventfd takes no pointers.
    let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to an eventfd counter, waking whoever has a read pending on it.
pub(crate) fn eventfd_signal(fd: &OwnedFd) {
    let one: u64 = 1;
    // `one` lives across the call and is 8 bytes, as eventfd requires. EAGAIN
    // (counter saturated) means a wake-up is already pending, so it is ignored.
    let _ = syscall!(write(
        fd.as_raw_fd(),
        (&one as *const u64).cast(),
        std::mem::size_of::<u64>()
    ));
}

/// Blocks, in the calling thread, every signal that is delivered
/// asynchronously (all but SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS,
/// which are raised by the thread's own faults). Used by blocking-pool
/// threads so a signal meant for a signalfd is never taken by them; child
/// processes started by `std::process::Command` get an empty mask again.
pub(crate) fn block_async_signals() {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initializes the set it is given; sigdelset and
    // pthread_sigmask then get an initialized set and a null old-set pointer.
    unsafe {
        libc::sigfillset(set.as_mut_ptr());
        for sig in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGTRAP,
            libc::SIGSYS,
        ] {
            libc::sigdelset(set.as_mut_ptr(), sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut());
    }
}

/// Returns the number of open file descriptors of this process.
#[doc(hidden)]
pub fn open_fd_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}

/// Reads `kernel.io_uring_disabled` (absent before Linux 6.6).
pub(crate) fn io_uring_disabled_sysctl() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}
