//! WAITID: a child's exit, through the ring (Linux 6.7+).

use super::{Completable, CqeResult, Op};
use crate::fd::SharedFd;
use io_uring::opcode;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// A WAITID in flight; yields the child's exit status (and reaps it).
#[derive(Debug)]
pub struct WaitId {
    _pidfd: SharedFd,
    info: Box<libc::siginfo_t>,
}

impl Completable for WaitId {
    type Output = io::Result<ExitStatus>;
    fn complete(self, cqe: CqeResult) -> io::Result<ExitStatus> {
        cqe.result?;
        Ok(exit_status(&self.info))
    }
}

/// The wait status `waitpid` would have given for `info` (from `waitid`).
pub fn exit_status(info: &libc::siginfo_t) -> ExitStatus {
    // SAFETY: for SIGCHLD siginfo (what waitid fills in), si_status is the
    // union member the kernel set.
    let status = unsafe { info.si_status() };
    let raw = match info.si_code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_KILLED => status & 0x7f,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        // Stopped or continued children are not waited for (WEXITED only).
        _ => status,
    };
    ExitStatus::from_raw(raw)
}

/// Waits for the child behind `pidfd` to exit, and reaps it
/// (`waitid(P_PIDFD, pidfd, WEXITED)` as an op). Check
/// [`Features::supports`](crate::Features::supports) for
/// `io_uring::opcode::WaitId::CODE` first.
pub fn waitid(pidfd: &SharedFd) -> Op<WaitId> {
    // SAFETY: siginfo_t is plain old data; all zeroes is a valid value.
    let mut info: Box<libc::siginfo_t> = Box::new(unsafe { std::mem::zeroed() });
    let entry = opcode::WaitId::new(
        libc::P_PIDFD,
        std::os::fd::AsRawFd::as_raw_fd(pidfd) as libc::id_t,
        libc::WEXITED,
    )
    .infop(&mut *info as *mut libc::siginfo_t as *const libc::siginfo_t)
    .build();
    let data = WaitId {
        _pidfd: pidfd.clone(),
        info,
    };
    // SAFETY: the siginfo buffer is boxed and owned by the op until its CQE;
    // the op keeps the pidfd open.
    unsafe { Op::new_on(data, entry, 0) }
}
