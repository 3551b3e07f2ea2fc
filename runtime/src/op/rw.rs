//! Reading and writing: READ/WRITE (files, pipes, any fd) and RECV/SEND (sockets).

use super::{cqe_len, Completable, CqeResult, Op};
use crate::buf::{IoBuf, IoBufMut};
use crate::fd::{sqe_for, SharedFd};
use io_uring::{opcode, squeue};
use std::io;

/// The kernel's "current file position" offset for READ/WRITE.
const CURRENT_POSITION: u64 = u64::MAX;

// The builders below are `#[inline(always)]`: an `Op` carries its SQE
// (over 100 bytes in all), and a builder LLVM leaves out of line returns it
// through a memcpy. Which builders it inlined changed with unrelated code
// in the same binary; forcing it took callgrind's count per echo round trip
// from 1541 to 1439 instructions.

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A READ or RECV in flight; yields `(Ok(n), buf)` with the data in
/// `buf[..n]` (a shorter initialized length grows to `n`; see [`crate::buf`]).
#[derive(Debug)]
pub struct Read<B> {
    _fd: SharedFd,
    buf: B,
}

/// A RECV in flight (same output as [`Read`]).
pub type Recv<B> = Read<B>;

impl<B: IoBufMut> Read<B> {
    /// The op for `entry`, a READ or RECV into `buf` on `fd` built by
    /// `sqe_for!` (which also gave `ring`).
    ///
    /// # Safety
    /// The entry's pointer and length describe `buf`'s stable memory
    /// (the `IoBufMut` contract); the op owns `buf` and a clone of `fd`.
    #[inline(always)]
    unsafe fn op(fd: &SharedFd, buf: B, entry: squeue::Entry, ring: u64) -> Op<Read<B>> {
        let data = Read {
            _fd: fd.clone(),
            buf,
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { Op::new_on(data, entry, ring) }
    }
}

impl<B: IoBufMut> Completable for Read<B> {
    type Output = (io::Result<usize>, B);
    fn complete(mut self, cqe: CqeResult) -> Self::Output {
        let res = cqe_len(cqe);
        if let Ok(n) = res {
            // SAFETY: the kernel initialized the first `n` bytes of the buffer.
            unsafe { self.buf.set_init(n) };
        }
        (res, self.buf)
    }
}

/// A WRITE or SEND in flight; yields `(bytes written, buf)`.
#[derive(Debug)]
pub struct Write<B> {
    _fd: SharedFd,
    buf: B,
}

/// A SEND in flight (same output as [`Write`]).
pub type Send<B> = Write<B>;

impl<B: IoBuf> Write<B> {
    /// The op for `entry`, a WRITE or SEND of `buf` on `fd` built by
    /// `sqe_for!` (which also gave `ring`).
    ///
    /// # Safety
    /// The entry's pointer and length describe `buf`'s initialized, stable
    /// memory (the `IoBuf` contract); the op owns `buf` and a clone of `fd`.
    #[inline(always)]
    unsafe fn op(fd: &SharedFd, buf: B, entry: squeue::Entry, ring: u64) -> Op<Write<B>> {
        let data = Write {
            _fd: fd.clone(),
            buf,
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { Op::new_on(data, entry, ring) }
    }
}

impl<B: IoBuf> Completable for Write<B> {
    type Output = (io::Result<usize>, B);
    fn complete(self, cqe: CqeResult) -> Self::Output {
        (cqe_len(cqe), self.buf)
    }
}

/// Reads into `buf` (from its start, up to its capacity) at `offset`, or at
/// the file position if `offset` is `None`.
#[inline(always)]
pub fn read<B: IoBufMut>(fd: &SharedFd, mut buf: B, offset: Option<u64>) -> Op<Read<B>> {
    let (entry, ring) = sqe_for!(fd, |t| opcode::Read::new(
        t,
        buf.stable_mut_ptr(),
        len_u32(buf.bytes_total()),
    )
    .offset(offset.unwrap_or(CURRENT_POSITION))
    .build());
    // SAFETY: the pointer and length describe `buf`'s stable heap memory
    // (IoBufMut contract), owned by the op with a clone of the fd.
    unsafe { Read::op(fd, buf, entry, ring) }
}

/// Receives from a socket into `buf` (from its start, up to its capacity).
#[inline(always)]
pub fn recv<B: IoBufMut>(fd: &SharedFd, buf: B, flags: i32) -> Op<Recv<B>> {
    recv_with(fd, buf, flags, 0)
}

/// `IORING_RECVSEND_POLL_FIRST`, in the SQE's `ioprio` field of RECV/SEND.
const RECVSEND_POLL_FIRST: u16 = 1 << 0;

/// Like [`recv`], with IORING_RECVSEND_POLL_FIRST: the kernel does not try
/// the receive at submission but arms its poll handler at once and
/// receives when data arrives. That saves a failed receive attempt when
/// data is unlikely to be there yet (the read that follows a request's
/// response). Linux 5.19+: check
/// [`Features::recv_poll_first`](crate::Features::recv_poll_first) first.
pub fn recv_poll_first<B: IoBufMut>(fd: &SharedFd, buf: B, flags: i32) -> Op<Recv<B>> {
    recv_with(fd, buf, flags, RECVSEND_POLL_FIRST)
}

/// A RECV with `ioprio` flags (0 or RECVSEND_POLL_FIRST).
#[inline(always)]
fn recv_with<B: IoBufMut>(fd: &SharedFd, mut buf: B, flags: i32, ioprio: u16) -> Op<Recv<B>> {
    let (entry, ring) = sqe_for!(fd, |t| opcode::Recv::new(
        t,
        buf.stable_mut_ptr(),
        len_u32(buf.bytes_total()),
    )
    .flags(flags)
    .ioprio(ioprio)
    .build());
    // SAFETY: as in `read`.
    unsafe { Read::op(fd, buf, entry, ring) }
}

/// Writes the initialized bytes of `buf` at `offset`, or at the file
/// position if `offset` is `None`. May write fewer bytes than asked.
#[inline(always)]
pub fn write<B: IoBuf>(fd: &SharedFd, buf: B, offset: Option<u64>) -> Op<Write<B>> {
    let (entry, ring) = sqe_for!(fd, |t| opcode::Write::new(
        t,
        buf.stable_ptr(),
        len_u32(buf.bytes_init()),
    )
    .offset(offset.unwrap_or(CURRENT_POSITION))
    .build());
    // SAFETY: the pointer and length describe `buf`'s initialized, stable
    // memory (IoBuf contract), owned by the op with a clone of the fd.
    unsafe { Write::op(fd, buf, entry, ring) }
}

/// Sends the initialized bytes of `buf` on a socket. `MSG_NOSIGNAL` is always
/// added: a peer that went away is an `EPIPE` error, not a SIGPIPE.
#[inline(always)]
pub fn send<B: IoBuf>(fd: &SharedFd, buf: B, flags: i32) -> Op<Send<B>> {
    let (entry, ring) = sqe_for!(fd, |t| opcode::Send::new(
        t,
        buf.stable_ptr(),
        len_u32(buf.bytes_init()),
    )
    .flags(flags | libc::MSG_NOSIGNAL)
    .build());
    // SAFETY: as in `write`.
    unsafe { Write::op(fd, buf, entry, ring) }
}
