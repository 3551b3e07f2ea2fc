//! Provided-buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19) and
//! multishot RECV (Linux 6.0): one SQE keeps receiving, and the kernel picks
//! a buffer from the ring for each chunk of data.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use ringloop_runtime::op::{self, BufRing};
//! # fn socket() -> ringloop_runtime::fd::SharedFd { unimplemented!() }
//! ringloop_runtime::run(async {
//!     let ring = BufRing::new(64, 4096).unwrap();
//!     let fd = socket();
//!     let mut chunks = op::recv_multi(&fd, &ring);
//!     while let Some(chunk) = chunks.next().await {
//!         let chunk = chunk.unwrap(); // ENOBUFS: all buffers held; drop some, re-arm
//!         if chunk.is_empty() {
//!             break; // end of stream
//!         }
//!         println!("{} bytes", chunk.len()); // the buffer returns to the ring on drop
//!     }
//! });
//! ```

use super::{CqeResult, MultiCompletable, MultiOp};
use crate::buf::IoBuf;
use crate::driver::Driver;
use crate::fd::{sqe_for, SharedFd};
use io_uring::opcode;
use io_uring::types::BufRingEntry;
use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, Ordering};

/// The kernel requires the ring of entries to be page-aligned.
const PAGE: usize = 4096;

/// A ring of equally sized buffers registered with the runtime's io_uring,
/// for ops that let the kernel pick a buffer ([`recv_multi`]).
///
/// Each buffer is either in the ring (the kernel may fill it) or held by
/// exactly one [`BufGuard`] (the kernel filled it; it goes back into the
/// ring when the guard drops). Clones share the ring. The memory is freed
/// when the last clone, guard and op using it are gone; an op still in
/// flight keeps it alive.
#[derive(Clone)]
pub struct BufRing {
    inner: Rc<Inner>,
}

struct Inner {
    driver: Rc<RefCell<Driver>>,
    /// `entries` `io_uring_buf` entries, page-aligned, registered under `bgid`.
    /// The kernel reads entries between its head and `tail`; the entry
    /// slots before its head are ours to rewrite.
    ring: NonNull<BufRingEntry>,
    /// `entries * buf_size` bytes. A buffer is written by the kernel only
    /// while it is in the ring, and read by us only while a guard holds it.
    bufs: NonNull<u8>,
    entries: u16,
    buf_size: usize,
    bgid: u16,
    /// Our copy of the ring's tail (the kernel only reads the shared one).
    tail: Cell<u16>,
}

impl BufRing {
    /// Allocates `entries` buffers of `buf_size` bytes and registers them
    /// with the current runtime's ring. `entries` is rounded up to a power
    /// of two (at most 32768).
    ///
    /// # Errors
    /// `Unsupported` before Linux 5.19 (check
    /// [`Features::multishot_recv`](crate::Features::multishot_recv) for
    /// [`recv_multi`], 6.0); `InvalidInput` for a zero size or too many
    /// entries; the kernel's error otherwise.
    ///
    /// # Panics
    /// Outside a ringloop runtime.
    pub fn new(entries: u16, buf_size: usize) -> io::Result<BufRing> {
        let entries = entries
            .max(1)
            .checked_next_power_of_two()
            .filter(|&n| n <= 32768);
        let (Some(entries), true) = (entries, buf_size > 0 && buf_size <= u32::MAX as usize) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a BufRing needs 1 to 32768 entries and a buffer size of 1 byte to 4 GiB",
            ));
        };
        let ring_layout = ring_layout(entries);
        let bufs_layout = Layout::array::<u8>(entries as usize * buf_size)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: both layouts have a non-zero size.
        let (ring, bufs) = unsafe {
            (
                std::alloc::alloc_zeroed(ring_layout).cast::<BufRingEntry>(),
                std::alloc::alloc(bufs_layout),
            )
        };
        let (Some(ring), Some(bufs)) = (NonNull::new(ring), NonNull::new(bufs)) else {
            std::alloc::handle_alloc_error(ring_layout);
        };
        let driver = crate::context::driver();
        // SAFETY: `ring` is zeroed, page-aligned memory for `entries` entries,
        // freed only in `Inner::drop`, after unregistering, when no op using
        // the group can be in flight (each holds an `Rc<Inner>`).
        let registered = unsafe {
            driver
                .borrow_mut()
                .register_buf_ring(ring.as_ptr() as u64, entries)
        };
        let bgid = match registered {
            Ok(bgid) => bgid,
            Err(e) => {
                // SAFETY: allocated above with these layouts; never registered.
                unsafe {
                    std::alloc::dealloc(ring.as_ptr().cast(), ring_layout);
                    std::alloc::dealloc(bufs.as_ptr(), bufs_layout);
                }
                return Err(match e.raw_os_error() {
                    Some(libc::EINVAL) => io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!("this kernel cannot register provided-buffer rings ({e}); they need Linux 5.19"),
                    ),
                    _ => e,
                });
            }
        };
        let inner = Inner {
            driver,
            ring,
            bufs,
            entries,
            buf_size,
            bgid,
            tail: Cell::new(0),
        };
        for bid in 0..entries {
            inner.give_back(bid);
        }
        Ok(BufRing {
            inner: Rc::new(inner),
        })
    }

    /// The number of buffers.
    pub fn entries(&self) -> usize {
        self.inner.entries as usize
    }

    /// The size of each buffer.
    pub fn buf_size(&self) -> usize {
        self.inner.buf_size
    }
}

fn ring_layout(entries: u16) -> Layout {
    let size = (entries as usize * std::mem::size_of::<BufRingEntry>()).max(PAGE);
    Layout::from_size_align(size, PAGE).expect("a page-aligned layout of at most 512 KiB")
}

impl Inner {
    fn buf_ptr(&self, bid: u16) -> *mut u8 {
        // SAFETY: bid < entries, so the offset is inside the `bufs` allocation.
        unsafe { self.bufs.as_ptr().add(bid as usize * self.buf_size) }
    }

    /// Puts buffer `bid` (not in the ring, held by nobody) back into the ring.
    fn give_back(&self, bid: u16) {
        let tail = self.tail.get();
        let mask = self.entries - 1;
        // The slot at `tail & mask` is before the kernel's head modulo the
        // ring (at most `entries` buffers exist, and this one is not in it).
        // SAFETY: so the kernel does not read that slot now; the setters
        // touch addr/len/bid only, never the `resv` field that is the tail.
        unsafe {
            let entry = &mut *self.ring.as_ptr().add((tail & mask) as usize);
            entry.set_addr(self.buf_ptr(bid) as u64);
            entry.set_len(self.buf_size as u32);
            entry.set_bid(bid);
        }
        let tail = tail.wrapping_add(1);
        self.tail.set(tail);
        // SAFETY: the tail field lives inside the first entry of our ring
        // allocation; the kernel reads it concurrently, hence the atomic
        // store, whose Release orders the entry writes above before it.
        unsafe {
            let shared = BufRingEntry::tail(self.ring.as_ptr()) as *const AtomicU16;
            (*shared).store(tail, Ordering::Release);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // No op selecting from this group is in flight (each holds an Rc), so
        // the kernel will not read the ring or write a buffer again.
        let unregistered = match self.driver.try_borrow_mut() {
            Ok(mut driver) => driver.unregister_buf_ring(self.bgid),
            Err(_) => false,
        };
        // Even if still registered, nothing uses the group any more and its
        // id is never handed out again, so freeing the memory is safe.
        let _ = unregistered;
        // SAFETY: allocated in `BufRing::new` with these layouts.
        unsafe {
            std::alloc::dealloc(self.ring.as_ptr().cast(), ring_layout(self.entries));
            std::alloc::dealloc(
                self.bufs.as_ptr(),
                Layout::array::<u8>(self.entries as usize * self.buf_size)
                    .expect("the layout BufRing::new allocated"),
            );
        }
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("bgid", &self.inner.bgid)
            .field("entries", &self.inner.entries)
            .field("buf_size", &self.inner.buf_size)
            .finish()
    }
}

/// One buffer of a [`BufRing`] that the kernel filled, holding `len()`
/// received bytes; it returns to the ring when dropped. A guard of length 0
/// is the end of the stream (it holds no buffer). Implements [`IoBuf`], so
/// it can be sent as it is (`op::send(fd, guard, 0)`).
pub struct BufGuard {
    ring: Rc<Inner>,
    /// `None` for the end-of-stream guard.
    bid: Option<u16>,
    len: usize,
}

impl BufGuard {
    /// The received bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self.bid {
            // SAFETY: the kernel wrote `len` bytes into buffer `bid`, which is
            // out of the ring (the kernel will not touch it) until this guard drops.
            Some(bid) => unsafe { std::slice::from_raw_parts(self.ring.buf_ptr(bid), self.len) },
            None => &[],
        }
    }
}

impl std::ops::Deref for BufGuard {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Drop for BufGuard {
    fn drop(&mut self) {
        if let Some(bid) = self.bid {
            self.ring.give_back(bid);
        }
    }
}

impl fmt::Debug for BufGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufGuard")
            .field("bid", &self.bid)
            .field("len", &self.len)
            .finish()
    }
}

// SAFETY: the pointer is the start of a buffer this guard holds exclusively
// (heap memory owned by the ring's `Inner`, which the guard keeps alive),
// and its first `len` bytes are initialized; it does not move with the guard.
unsafe impl IoBuf for BufGuard {
    fn stable_ptr(&self) -> *const u8 {
        match self.bid {
            Some(bid) => self.ring.buf_ptr(bid),
            None => NonNull::dangling().as_ptr(),
        }
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
}

/// A multishot RECV selecting buffers from a [`BufRing`]; see [`recv_multi`].
pub struct RecvMulti {
    _fd: SharedFd,
    ring: Rc<Inner>,
}

impl fmt::Debug for RecvMulti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvMulti")
            .field("bgid", &self.ring.bgid)
            .finish()
    }
}

impl MultiCompletable for RecvMulti {
    type Item = io::Result<BufGuard>;
    fn complete_next(&mut self, cqe: CqeResult) -> io::Result<BufGuard> {
        // Wrap a consumed buffer first, so it returns to the ring whatever happens.
        let mut guard = BufGuard {
            ring: self.ring.clone(),
            bid: cqe.buffer_id(),
            len: 0,
        };
        let n = cqe.result? as usize;
        debug_assert!(n == 0 || guard.bid.is_some(), "data without a buffer");
        if guard.bid.is_some() {
            guard.len = n.min(self.ring.buf_size);
        }
        Ok(guard)
    }
}

/// Receives on a stream socket until the peer closes it, each chunk into a
/// buffer the kernel picks from `ring` (multishot RECV, Linux 6.0+; check
/// [`Features::multishot_recv`](crate::Features::multishot_recv)).
///
/// The stream yields one [`BufGuard`] per chunk, an empty one at end of
/// stream, and ends after the kernel's final CQE. When every buffer is
/// held, the kernel ends the op with `ENOBUFS` (no data is lost: it stays
/// in the socket); drop guards and call `recv_multi` again. Dropping the
/// stream cancels the op; buffers filled meanwhile go back to the ring.
pub fn recv_multi(fd: &SharedFd, ring: &BufRing) -> MultiOp<RecvMulti> {
    let (entry, slot_ring) = sqe_for!(fd, |t| opcode::RecvMulti::new(t, ring.inner.bgid).build());
    // SAFETY: the SQE carries no pointer; the kernel writes only into buffers
    // of the group, which `RecvMulti` keeps registered and allocated (an
    // `Rc<Inner>`) until the op's final CQE; the op keeps the fd open.
    unsafe {
        MultiOp::new_on(
            RecvMulti {
                _fd: fd.clone(),
                ring: ring.inner.clone(),
            },
            entry,
            slot_ring,
        )
    }
}
