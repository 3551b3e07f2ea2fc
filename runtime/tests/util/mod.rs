//! Helpers shared by the runtime's integration tests.
#![allow(dead_code)]

mod fds;
#[allow(unused_imports)]
pub use fds::{fd_count, fd_lock};

use ringloop_runtime::buf::{IoBuf, IoBufMut};
use std::cell::RefCell;
use std::rc::Rc;

/// What a [`TrackedBuf`] saw when it was dropped: its initialized bytes.
pub type DropLog = Rc<RefCell<Vec<Vec<u8>>>>;

/// A buffer that records its initialized contents when dropped, so a test
/// can tell when the driver freed it and what the kernel wrote into it.
pub struct TrackedBuf {
    vec: Vec<u8>,
    log: DropLog,
}

impl TrackedBuf {
    pub fn new(capacity: usize, log: &DropLog) -> Self {
        TrackedBuf {
            vec: Vec::with_capacity(capacity),
            log: log.clone(),
        }
    }

    /// Takes the bytes out; the buffer then logs nothing when dropped.
    pub fn take(mut self) -> Vec<u8> {
        std::mem::take(&mut self.vec)
    }
}

impl Drop for TrackedBuf {
    fn drop(&mut self) {
        if self.vec.capacity() > 0 {
            self.log.borrow_mut().push(std::mem::take(&mut self.vec));
        }
    }
}

// SAFETY: delegates to the inner Vec, whose heap buffer does not move when
// the TrackedBuf moves.
unsafe impl IoBuf for TrackedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.vec.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.vec.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.vec.bytes_total()
    }
}

// SAFETY: delegates to the inner Vec.
unsafe impl IoBufMut for TrackedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.vec.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.vec.set_init(pos) }
    }
}

/// Whether a test of a ring feature must skip because `rt` lacks it
/// (`has` false); says why: the epoll driver runs, or the kernel is too old
/// (`kernel` names what it needs).
pub fn lacks(rt: &ringloop_runtime::Runtime, has: bool, kernel: &str) -> bool {
    if has {
        return false;
    }
    match rt.features().fallback_reason {
        Some(reason) => {
            eprintln!("skipped: this needs io_uring and the epoll driver runs ({reason})")
        }
        None => eprintln!("skipped: {kernel}"),
    }
    true
}

/// Polls `fut` once from inside a task, returning what it returned.
pub async fn poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx))).await
}
