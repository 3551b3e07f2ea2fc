//! The hand-written io_uring loops' shared pieces (the echo and HTTP
//! floors): ring set-up, the ACCEPT they keep in flight and a push that
//! never drops an SQE.

use io_uring::{opcode, squeue, types, CompletionQueue, IoUring, SubmissionQueue, Submitter};

/// The user_data of the ACCEPT.
pub const ACCEPT: u64 = u64::MAX;

/// Pushes one SQE, submitting the queue first if it is full (shared by the
/// hand-written loops).
///
/// # Safety
/// Every pointer in `sqe` stays valid until the op's CQE is reaped.
pub unsafe fn push_unchecked(
    submitter: &Submitter<'_>,
    sq: &mut SubmissionQueue<'_>,
    sqe: &squeue::Entry,
) {
    loop {
        // SAFETY: forwarded from this function's contract.
        if unsafe { sq.push(sqe) }.is_ok() {
            return;
        }
        sq.sync();
        let _ = submitter.submit();
        sq.sync();
    }
}

/// The floor's ring: COOP_TASKRUN, and SINGLE_ISSUER + DEFER_TASKRUN if
/// `defer_taskrun`.
pub fn floor_ring(defer_taskrun: bool) -> IoUring {
    let mut builder = IoUring::builder();
    builder.setup_coop_taskrun().setup_cqsize(8192);
    if defer_taskrun {
        builder.setup_single_issuer().setup_defer_taskrun();
    }
    builder
        .build(2048)
        .expect("io_uring with IORING_SETUP_COOP_TASKRUN")
}

/// A single-shot ACCEPT on `listen_fd`, tagged [`ACCEPT`].
pub fn accept_sqe(listen_fd: std::os::fd::RawFd) -> squeue::Entry {
    opcode::Accept::new(
        types::Fd(listen_fd),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    )
    .flags(libc::SOCK_CLOEXEC)
    .build()
    .user_data(ACCEPT)
}

/// Submits what the loop pushed and waits for at least one CQE (an
/// interrupted or busy enter just returns), then syncs `cq` to see them.
pub fn submit_and_wait(
    submitter: &Submitter<'_>,
    sq: &mut SubmissionQueue<'_>,
    cq: &mut CompletionQueue<'_>,
) {
    sq.sync();
    match submitter.submit_and_wait(1) {
        Ok(_) => {}
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
        Err(e) => panic!("io_uring_enter failed: {e}"),
    }
    cq.sync();
}
