//! The hand-written io_uring loops' shared pieces (the echo and HTTP
//! floors): ring set-up, the ACCEPT they keep in flight and a push that
//! never drops an SQE.

use io_uring::{opcode, squeue, types, CompletionQueue, IoUring, SubmissionQueue, Submitter};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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

/// The one single-shot ACCEPT a floor keeps in flight (tagged [`ACCEPT`]),
/// until it has accepted `limit` connections (`None`: no limit).
pub struct Acceptor {
    listen_fd: RawFd,
    limit: usize,
    accepted: usize,
    in_flight: bool,
}

impl Acceptor {
    pub fn new(listener: &std::net::TcpListener, limit: Option<usize>) -> Acceptor {
        Acceptor {
            listen_fd: listener.as_raw_fd(),
            limit: limit.unwrap_or(usize::MAX),
            accepted: 0,
            in_flight: false,
        }
    }

    /// Pushes the ACCEPT unless it is in flight or the limit is reached.
    /// False once no further connection will be accepted.
    pub fn arm(&mut self, submitter: &Submitter<'_>, sq: &mut SubmissionQueue<'_>) -> bool {
        if !self.in_flight && self.accepted < self.limit {
            let sqe = opcode::Accept::new(
                types::Fd(self.listen_fd),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(ACCEPT);
            // SAFETY: the ACCEPT carries no pointers.
            unsafe { push_unchecked(submitter, sq, &sqe) };
            self.in_flight = true;
        }
        self.in_flight
    }

    /// Takes the ACCEPT's CQE: the new connection, with TCP_NODELAY as
    /// every server of the benches sets it; `None` if the accept failed.
    pub fn complete(&mut self, result: i32) -> Option<OwnedFd> {
        self.in_flight = false;
        if result < 0 {
            return None;
        }
        self.accepted += 1;
        // SAFETY: the kernel created this fd for the ACCEPT; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(result) };
        let _ = socket2::SockRef::from(&fd).set_tcp_nodelay(true);
        Some(fd)
    }
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

/// A RECV on `fd` into `buf`, tagged `user_data`. The caller keeps `buf`
/// in place until the CQE (see [`push_unchecked`]).
pub fn recv_sqe(fd: &impl AsRawFd, buf: &mut [u8], user_data: u64) -> squeue::Entry {
    opcode::Recv::new(
        types::Fd(fd.as_raw_fd()),
        buf.as_mut_ptr(),
        buf.len() as u32,
    )
    .build()
    .user_data(user_data)
}

/// A SEND (MSG_NOSIGNAL) of `bytes` on `fd`, tagged `user_data`. The caller
/// keeps `bytes` in place until the CQE (see [`push_unchecked`]).
pub fn send_sqe(fd: &impl AsRawFd, bytes: &[u8], user_data: u64) -> squeue::Entry {
    send_raw_sqe(fd, bytes.as_ptr(), bytes.len(), user_data)
}

/// [`send_sqe`] from a raw pointer (into memory the kernel owns a view of,
/// such as a provided buffer).
pub fn send_raw_sqe(
    fd: &impl AsRawFd,
    ptr: *const u8,
    len: usize,
    user_data: u64,
) -> squeue::Entry {
    opcode::Send::new(types::Fd(fd.as_raw_fd()), ptr, len as u32)
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(user_data)
}
