//! File descriptors shared between a socket and the ops using it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;

/// An fd that ops keep open until their CQE: every op holds a clone, so a
/// socket dropped while a read is in flight is closed only after that read
/// completes and its fd number cannot be reused mid-flight.
#[derive(Clone, Debug)]
pub struct SharedFd(Rc<OwnedFd>);

impl SharedFd {
    /// Wraps an owned fd.
    pub fn new(fd: OwnedFd) -> SharedFd {
        SharedFd(Rc::new(fd))
    }

    /// The fd back, if no op holds it any more.
    pub fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        Rc::try_unwrap(self.0).map_err(SharedFd)
    }
}

impl From<OwnedFd> for SharedFd {
    fn from(fd: OwnedFd) -> Self {
        SharedFd::new(fd)
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
