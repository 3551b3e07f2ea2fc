//! Message ops: SENDMSG and RECVMSG, for datagram sockets that need the
//! peer's address (UDP `send_to`/`recv_from`, Unix datagrams).
//!
//! Each op owns a boxed header — the `msghdr`, its one `iovec` and the
//! socket address — whose internal pointers point into the same box, so
//! moving the op never moves what the kernel reads and writes.

use super::{cqe_len, Completable, CqeResult, Op};
use crate::buf::{IoBuf, IoBufMut};
use crate::fd::{sqe_for, SharedFd};
use io_uring::opcode;
use socket2::{SockAddr, SockAddrStorage};
use std::fmt;
use std::io;

/// An all-zero `msghdr`: no name, no iovecs, no control data.
fn empty_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is a plain C struct of integers and raw pointers, for
    // which all-zero bytes are a valid (empty) value.
    unsafe { std::mem::zeroed() }
}

/// The memory a SENDMSG reads: the header, its iovec and the destination.
struct SendHeader {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: Option<SockAddr>,
}

/// A SENDMSG in flight; yields `(bytes sent, buf)`.
pub struct SendMsg<B> {
    _fd: SharedFd,
    buf: B,
    /// Boxed: `hdr.msg` points at `hdr.iov` and `hdr.addr`, and the kernel
    /// reads all three until the CQE.
    hdr: Box<SendHeader>,
}

impl<B> fmt::Debug for SendMsg<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendMsg")
            .field("addr", &self.hdr.addr)
            .field("len", &self.hdr.iov.iov_len)
            .finish()
    }
}

impl<B: IoBuf> Completable for SendMsg<B> {
    type Output = (io::Result<usize>, B);
    fn complete(self, cqe: CqeResult) -> Self::Output {
        (cqe_len(cqe), self.buf)
    }
}

/// Sends the initialized bytes of `buf` as one message, to `addr` if given
/// (an unconnected datagram socket) or to the connected peer. `MSG_NOSIGNAL`
/// is always added.
pub fn send_msg<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    addr: Option<SockAddr>,
    flags: i32,
) -> Op<SendMsg<B>> {
    let mut hdr = Box::new(SendHeader {
        msg: empty_msghdr(),
        iov: libc::iovec {
            iov_base: buf.stable_ptr() as *mut libc::c_void,
            iov_len: buf.bytes_init(),
        },
        addr,
    });
    hdr.msg.msg_iov = &mut hdr.iov;
    hdr.msg.msg_iovlen = 1;
    if let Some(addr) = &hdr.addr {
        hdr.msg.msg_name = addr.as_ptr() as *mut libc::c_void;
        hdr.msg.msg_namelen = addr.len();
    }
    let (entry, ring) = sqe_for!(fd, |t| opcode::SendMsg::new(t, &hdr.msg)
        .flags((flags | libc::MSG_NOSIGNAL) as u32)
        .build());
    // SAFETY: the msghdr, its iovec and the address live in `hdr`, boxed and
    // owned by the op until its CQE; the iovec describes `buf`'s initialized,
    // stable memory (IoBuf contract), also owned by the op with the fd.
    unsafe {
        Op::new_on(
            SendMsg {
                _fd: fd.clone(),
                buf,
                hdr,
            },
            entry,
            ring,
        )
    }
}

/// The memory a RECVMSG writes: the header, its iovec and the source address.
struct RecvHeader {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddrStorage,
}

/// A RECVMSG in flight; yields `((bytes received, source address), buf)`
/// with the data in `buf[..n]` (see [`crate::buf`] on buffer lengths).
pub struct RecvMsg<B> {
    _fd: SharedFd,
    buf: B,
    /// Boxed: `hdr.msg` points at `hdr.iov` and `hdr.addr`, and the kernel
    /// writes the address and the header's lengths until the CQE.
    hdr: Box<RecvHeader>,
}

impl<B> fmt::Debug for RecvMsg<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvMsg")
            .field("capacity", &self.hdr.iov.iov_len)
            .finish()
    }
}

impl<B: IoBufMut> Completable for RecvMsg<B> {
    type Output = (io::Result<(usize, SockAddr)>, B);
    fn complete(mut self, cqe: CqeResult) -> Self::Output {
        let n = match cqe_len(cqe) {
            Ok(n) => n,
            Err(e) => return (Err(e), self.buf),
        };
        // SAFETY: the kernel initialized the first `n` bytes of the buffer.
        unsafe { self.buf.set_init(n) };
        let hdr = *self.hdr;
        // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes
        // (at most the storage's size, which it was told) into `addr`.
        let addr = unsafe { SockAddr::new(hdr.addr, hdr.msg.msg_namelen) };
        (Ok((n, addr)), self.buf)
    }
}

/// Receives one message into `buf` (from its start, up to its capacity) and
/// the address it came from. A datagram longer than the buffer is truncated.
pub fn recv_msg<B: IoBufMut>(fd: &SharedFd, mut buf: B, flags: i32) -> Op<RecvMsg<B>> {
    let mut hdr = Box::new(RecvHeader {
        msg: empty_msghdr(),
        iov: libc::iovec {
            iov_base: buf.stable_mut_ptr().cast(),
            iov_len: buf.bytes_total(),
        },
        addr: SockAddrStorage::zeroed(),
    });
    hdr.msg.msg_iov = &mut hdr.iov;
    hdr.msg.msg_iovlen = 1;
    hdr.msg.msg_namelen = hdr.addr.size_of();
    hdr.msg.msg_name = (&mut hdr.addr as *mut SockAddrStorage).cast();
    let (entry, ring) = sqe_for!(fd, |t| opcode::RecvMsg::new(t, &mut hdr.msg)
        .flags(flags as u32)
        .build());
    // The msghdr, its iovec and the address storage live in `hdr`, boxed and
    // owned by the op until its CQE, as are `buf` and the fd.
    // SAFETY: the iovec describes `buf`'s stable memory, writable up to its
    // capacity (IoBufMut contract), and everything it points to is owned.
    unsafe {
        Op::new_on(
            RecvMsg {
                _fd: fd.clone(),
                buf,
                hdr,
            },
            entry,
            ring,
        )
    }
}
