//! Ops that move no data: NOP, TIMEOUT, POLL_ADD.

use super::{Completable, CqeResult, Op};
use crate::fd::{sqe_for, SharedFd};
use io_uring::{opcode, types};
use std::io;
use std::time::Duration;

/// A NOP in flight.
#[derive(Debug)]
pub struct Nop(());

impl Completable for Nop {
    type Output = io::Result<()>;
    fn complete(self, cqe: CqeResult) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// Submits a NOP: a round trip through the ring that does nothing.
pub fn nop() -> Op<Nop> {
    // SAFETY: NOP carries no pointers.
    unsafe { Op::new_on(Nop(()), opcode::Nop::new().build(), 0) }
}

/// How a [`timeout`] deadline is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// The duration is relative to submission, on CLOCK_MONOTONIC.
    Relative,
    /// The duration is an absolute CLOCK_MONOTONIC time (as `Instant` uses).
    AbsoluteMonotonic,
    /// The duration is an absolute CLOCK_BOOTTIME time.
    AbsoluteBoottime,
}

/// A TIMEOUT in flight. Owns the timespec the kernel reads.
#[derive(Debug)]
pub struct Timeout {
    _ts: Box<types::Timespec>,
}

impl Completable for Timeout {
    /// `Ok(())` when the deadline passed; `Err` with `ECANCELED` if removed.
    type Output = io::Result<()>;
    fn complete(self, cqe: CqeResult) -> io::Result<()> {
        match cqe.result {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Submits a TIMEOUT that completes when `duration` has passed (or at the
/// absolute time `duration` on the clock `kind` names). The kernel is the
/// timer: it never completes early. Dropping the op removes the timer.
pub fn timeout(duration: Duration, kind: TimeoutKind) -> Op<Timeout> {
    let ts = Box::new(types::Timespec::from(duration));
    let flags = match kind {
        TimeoutKind::Relative => types::TimeoutFlags::empty(),
        TimeoutKind::AbsoluteMonotonic => types::TimeoutFlags::ABS,
        TimeoutKind::AbsoluteBoottime => types::TimeoutFlags::ABS | types::TimeoutFlags::BOOTTIME,
    };
    let entry = opcode::Timeout::new(&*ts).flags(flags).build();
    // SAFETY: the timespec is boxed and owned by the op until its CQE.
    unsafe { Op::new_on(Timeout { _ts: ts }, entry, 0) }
}

/// A POLL_ADD in flight; yields the ready event mask.
#[derive(Debug)]
pub struct PollAdd {
    _fd: SharedFd,
}

impl Completable for PollAdd {
    type Output = io::Result<u32>;
    fn complete(self, cqe: CqeResult) -> io::Result<u32> {
        cqe.result
    }
}

/// Waits until `fd` is ready for `events` (`libc::POLLIN`, ...), once.
pub fn poll_add(fd: &SharedFd, events: u32) -> Op<PollAdd> {
    let (entry, ring) = sqe_for!(fd, |t| opcode::PollAdd::new(t, events).build());
    // SAFETY: POLL_ADD carries no pointers; the op keeps the fd open.
    unsafe { Op::new_on(PollAdd { _fd: fd.clone() }, entry, ring) }
}
