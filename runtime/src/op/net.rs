//! Socket ops: ACCEPT (single and multishot), CONNECT, SHUTDOWN. Each
//! names the socket's registered-file slot where it holds one.

use super::{Completable, CqeResult, MultiCompletable, MultiOp, Op};
use crate::fd::{sqe_for, SharedFd};
use io_uring::opcode;
use socket2::{SockAddr, SockAddrStorage};
use std::io;
use std::net::Shutdown as How;
use std::os::fd::{FromRawFd, OwnedFd};

/// Wraps the fd a CQE returned.
fn owned_fd(cqe: CqeResult) -> io::Result<OwnedFd> {
    let fd = cqe.result?;
    // SAFETY: the kernel just created this fd for us (accept result); nobody
    // else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// An ACCEPT in flight; yields the new socket (close-on-exec) and the peer's address.
#[derive(Debug)]
pub struct Accept {
    _fd: SharedFd,
    addr: Box<(SockAddrStorage, libc::socklen_t)>,
}

impl Completable for Accept {
    type Output = io::Result<(OwnedFd, SockAddr)>;
    fn complete(self, cqe: CqeResult) -> Self::Output {
        // Wrap the fd first so an error below still closes it.
        let fd = owned_fd(cqe)?;
        let (storage, len) = *self.addr;
        // SAFETY: the kernel wrote a socket address of `len` bytes into `storage`.
        let addr = unsafe { SockAddr::new(storage, len) };
        Ok((fd, addr))
    }
}

/// Accepts one connection on a listening socket.
pub fn accept(fd: &SharedFd) -> Op<Accept> {
    let mut addr = Box::new((SockAddrStorage::zeroed(), 0));
    addr.1 = addr.0.size_of();
    let (entry, ring) = sqe_for!(fd, |t| opcode::Accept::new(
        t,
        (&mut addr.0 as *mut SockAddrStorage).cast(),
        &mut addr.1,
    )
    .flags(libc::SOCK_CLOEXEC)
    .build());
    let data = Accept {
        _fd: fd.clone(),
        addr,
    };
    // SAFETY: the address buffer and its length are boxed and owned by the
    // op until its CQE; the op keeps the listening fd open.
    unsafe { Op::new_on(data, entry, ring) }
}

/// A multishot ACCEPT: one new socket per CQE (peer addresses are not
/// reported; ask the socket with `getpeername`).
#[derive(Debug)]
pub struct AcceptMulti {
    _fd: SharedFd,
}

impl MultiCompletable for AcceptMulti {
    type Item = io::Result<OwnedFd>;
    fn complete_next(&mut self, cqe: CqeResult) -> io::Result<OwnedFd> {
        owned_fd(cqe)
    }
}

/// Starts a multishot accept (Linux 5.19+; check
/// [`Features::multishot_accept`](crate::Features)). The stream ends when the
/// kernel stops the op (on an error such as EMFILE, or cancellation); accept
/// again to continue.
pub fn accept_multi(fd: &SharedFd) -> MultiOp<AcceptMulti> {
    let (entry, ring) = sqe_for!(fd, |t| opcode::AcceptMulti::new(t)
        .flags(libc::SOCK_CLOEXEC)
        .build());
    // SAFETY: no address buffers are passed; the op keeps the fd open.
    unsafe { MultiOp::new_on(AcceptMulti { _fd: fd.clone() }, entry, ring) }
}

/// A CONNECT in flight. Owns the address the kernel reads.
#[derive(Debug)]
pub struct Connect {
    _fd: SharedFd,
    _addr: Box<SockAddr>,
}

impl Completable for Connect {
    type Output = io::Result<()>;
    fn complete(self, cqe: CqeResult) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// Connects a socket to `addr`.
pub fn connect(fd: &SharedFd, addr: SockAddr) -> Op<Connect> {
    let addr = Box::new(addr);
    let (entry, ring) = sqe_for!(fd, |t| opcode::Connect::new(
        t,
        addr.as_ptr().cast(),
        addr.len()
    )
    .build());
    let data = Connect {
        _fd: fd.clone(),
        _addr: addr,
    };
    // SAFETY: the address is boxed and owned by the op until its CQE.
    unsafe { Op::new_on(data, entry, ring) }
}

/// A SHUTDOWN in flight.
#[derive(Debug)]
pub struct Shutdown {
    _fd: SharedFd,
}

impl Completable for Shutdown {
    type Output = io::Result<()>;
    fn complete(self, cqe: CqeResult) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// Shuts down the read half, the write half or both of a socket.
pub fn shutdown(fd: &SharedFd, how: How) -> Op<Shutdown> {
    let how = match how {
        How::Read => libc::SHUT_RD,
        How::Write => libc::SHUT_WR,
        How::Both => libc::SHUT_RDWR,
    };
    let (entry, ring) = sqe_for!(fd, |t| opcode::Shutdown::new(t, how).build());
    // SAFETY: SHUTDOWN carries no pointers; the op keeps the fd open.
    unsafe { Op::new_on(Shutdown { _fd: fd.clone() }, entry, ring) }
}
