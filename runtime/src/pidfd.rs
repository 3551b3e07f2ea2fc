//! Process file descriptors (Linux 5.3+): a race-free handle on a child,
//! for `ringloop-process`. A pidfd names one process for as long as it is
//! open, even after its pid is reused, so signals and waits through it
//! never reach the wrong process.

use crate::sys::syscall;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitStatus;

/// Opens a pidfd (close-on-exec) for process `pid`, which must be our
/// child not yet waited for (or any live process).
///
/// # Errors
/// `ENOSYS` before Linux 5.3; `ESRCH` if there is no such process.
pub fn open(pid: u32) -> io::Result<OwnedFd> {
    // pidfd_open(pid, flags): no pointers.
    let fd = syscall!(syscall(
        libc::SYS_pidfd_open,
        pid as libc::c_long,
        0 as libc::c_long
    ))?;
    // SAFETY: the kernel just created this fd for us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends signal `sig` to the process behind `pidfd`.
///
/// # Errors
/// `ESRCH` if it was reaped already, `EINVAL` for a bad signal.
pub fn send_signal(pidfd: &impl AsRawFd, sig: i32) -> io::Result<()> {
    // pidfd_send_signal(pidfd, sig, info = NULL, flags = 0): no info passed.
    syscall!(syscall(
        libc::SYS_pidfd_send_signal,
        pidfd.as_raw_fd() as libc::c_long,
        sig as libc::c_long,
        std::ptr::null::<libc::siginfo_t>(),
        0 as libc::c_long
    ))?;
    Ok(())
}

/// Reaps the child behind `pidfd` if it has exited: `Ok(None)` while it
/// runs. With `block`, waits for it (on the calling thread).
///
/// # Errors
/// `ECHILD` if it is not our child or was reaped already.
pub fn wait(pidfd: &impl AsRawFd, block: bool) -> io::Result<Option<ExitStatus>> {
    // SAFETY: siginfo_t is plain old data; all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let options = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
    loop {
        // `info` is a valid siginfo_t the call fills in.
        match syscall!(waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            options
        )) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    // SAFETY: waitid filled the SIGCHLD fields; si_pid is 0 when WNOHANG
    // found no exited child.
    if unsafe { info.si_pid() } == 0 {
        return Ok(None);
    }
    Ok(Some(crate::op::exit_status(&info)))
}
