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

/// Signals raised by a thread's own faults; never blocked by the runtime.
const FAULT_SIGNALS: [libc::c_int; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// A signal set: every signal but `except` if `full`, else just `only`.
fn sigset(full: bool, signals: &[libc::c_int]) -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset/sigemptyset initialize the set they are given, and
    // sigaddset/sigdelset then operate on it; invalid numbers only make them
    // return EINVAL, which leaves the set unchanged.
    unsafe {
        if full {
            libc::sigfillset(set.as_mut_ptr());
        } else {
            libc::sigemptyset(set.as_mut_ptr());
        }
        for &sig in signals {
            if full {
                libc::sigdelset(set.as_mut_ptr(), sig);
            } else {
                libc::sigaddset(set.as_mut_ptr(), sig);
            }
        }
        set.assume_init()
    }
}

/// Adds `set` to the calling thread's blocked signals.
fn block_in_this_thread(set: &libc::sigset_t) -> io::Result<()> {
    // SAFETY: `set` is an initialized sigset borrowed for the call; the old
    // set is not requested (null is allowed).
    let err = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, set, std::ptr::null_mut()) };
    if err == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(err))
    }
}

/// Blocks, in the calling thread, every signal that is delivered
/// asynchronously (all but the fault signals, which a thread raises itself).
/// Used by blocking-pool threads so a signal meant for a signalfd is never
/// taken by them; child processes started by `std::process::Command` get an
/// empty mask again.
pub(crate) fn block_async_signals() {
    // Cannot fail with a valid `how` and set.
    let _ = block_in_this_thread(&sigset(true, &FAULT_SIGNALS));
}

/// Blocks `signals` in the calling thread (and so in the threads it starts
/// afterwards).
pub(crate) fn block_signals(signals: &[libc::c_int]) -> io::Result<()> {
    block_in_this_thread(&sigset(false, signals))
}

/// Blocks `signum` in the calling thread and opens a non-blocking,
/// close-on-exec signalfd for it.
pub(crate) fn signalfd_for(signum: libc::c_int) -> io::Result<OwnedFd> {
    if signum == libc::SIGKILL || signum == libc::SIGSTOP {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signum} (SIGKILL/SIGSTOP) cannot be caught; listen for SIGTERM instead"
            ),
        ));
    }
    if signum <= 0 || signum > libc::SIGRTMAX() || FAULT_SIGNALS.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{signum} is not a signal a signalfd can receive (valid: 1..={}, not a fault \
                 signal such as SIGSEGV)",
                libc::SIGRTMAX()
            ),
        ));
    }
    let set = sigset(false, &[signum]);
    block_in_this_thread(&set)?;
    // `set` is an initialized sigset that outlives the call.
    let fd = syscall!(signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC))?;
    // SAFETY: `fd` was just returned by signalfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `signum` is blocked in the calling thread.
#[cfg(test)]
pub(crate) fn is_blocked_in_this_thread(signum: libc::c_int) -> bool {
    let mut current = sigset(false, &[]);
    // SAFETY: `how` is ignored when the new set is null; `current` is an
    // initialized sigset the call overwrites with the thread's mask.
    let err = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut current) };
    assert_eq!(err, 0, "pthread_sigmask failed");
    // SAFETY: `current` is an initialized sigset.
    unsafe { libc::sigismember(&current, signum) == 1 }
}

/// Sends `signum` to the calling thread only.
pub(crate) fn tgkill_self(signum: libc::c_int) -> io::Result<()> {
    // getpid/gettid/tgkill take no pointers; tgkill targets only this thread.
    syscall!(syscall(
        libc::SYS_tgkill,
        libc::getpid(),
        libc::gettid(),
        signum
    ))?;
    Ok(())
}

/// The CPUs this thread may run on (`sched_getaffinity`), in order.
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // `set` is ours for the call to fill; the size is its own.
    syscall!(sched_getaffinity(
        0,
        std::mem::size_of::<libc::cpu_set_t>(),
        &mut set
    ))?;
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: CPU_ISSET reads inside the set for any index below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Pins the calling thread to `cpu` (`sched_setaffinity`).
pub(crate) fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `cpu` is below CPU_SETSIZE, so CPU_SET writes inside the set.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // The set is ours and outlives the call, which only reads it.
    syscall!(sched_setaffinity(
        0,
        std::mem::size_of::<libc::cpu_set_t>(),
        &set
    ))?;
    Ok(())
}

/// Reads `kernel.io_uring_disabled` (absent before Linux 6.6).
pub(crate) fn io_uring_disabled_sysctl() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The calling thread's seccomp mode from `/proc/self/status` (0 none,
/// 1 strict, 2 filter), if the kernel reports it.
pub(crate) fn seccomp_mode() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))?
        .trim()
        .parse()
        .ok()
}

/// Asks the CPU to start loading `bytes` bytes from `ptr` into its caches,
/// so a later access does not stall on memory. A hint only: it never
/// faults, whatever the address, and is a no-op off x86_64.
#[inline(always)]
pub(crate) fn prefetch(ptr: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for offset in (0..bytes).step_by(64) {
        let line = ptr.wrapping_add(offset).cast::<i8>();
        // SAFETY: PREFETCHT0 does not access memory architecturally and
        // cannot fault, even on an invalid address; SSE is part of the
        // x86_64 baseline.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, bytes);
}
