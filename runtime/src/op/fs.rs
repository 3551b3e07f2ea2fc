//! File-system ops: OPENAT, STATX, RENAMEAT, UNLINKAT, MKDIRAT, LINKAT,
//! SYMLINKAT, FSYNC, FTRUNCATE, CLOSE. Paths are owned by the op (the kernel
//! reads them after submission). Callers check
//! [`Features::supports`](crate::Features::supports) first and run the
//! syscall on the blocking pool where the opcode is missing.

use super::{Completable, CqeResult, Op};
use crate::fd::{sqe_for, SharedFd};
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

/// An op whose only result is success or an error, keeping `T` (paths, the
/// fd) alive until its CQE.
#[derive(Debug)]
pub struct Unit<T> {
    _keep: T,
}

impl<T: 'static> Completable for Unit<T> {
    type Output = io::Result<()>;
    fn complete(self, cqe: CqeResult) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// An OPENAT in flight; yields the new fd.
#[derive(Debug)]
pub struct OpenAt {
    _path: CString,
}

impl Completable for OpenAt {
    type Output = io::Result<OwnedFd>;
    fn complete(self, cqe: CqeResult) -> io::Result<OwnedFd> {
        let fd = cqe.result?;
        // SAFETY: the kernel just opened this fd for us; nobody else owns it.
        // A dropped op's fd is closed here too (the output is dropped).
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

/// Opens `path` (relative paths from the working directory) with `flags`
/// (`O_CLOEXEC` is added) and `mode` for a created file.
pub fn open_at(path: CString, flags: i32, mode: u32) -> Op<OpenAt> {
    let entry = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
        .flags(flags | libc::O_CLOEXEC)
        .mode(mode)
        .build();
    // SAFETY: the path is owned by the op until its CQE (a CString's heap
    // buffer does not move with it).
    unsafe { Op::new_on(OpenAt { _path: path }, entry, 0) }
}

/// A STATX in flight; yields the kernel's `struct statx`.
#[derive(Debug)]
pub struct Statx {
    _path: CString,
    _fd: Option<SharedFd>,
    buf: Box<libc::statx>,
}

impl Completable for Statx {
    type Output = io::Result<libc::statx>;
    fn complete(self, cqe: CqeResult) -> io::Result<libc::statx> {
        cqe.result?;
        Ok(*self.buf)
    }
}

/// `statx` of `path` (with `flags` such as `AT_SYMLINK_NOFOLLOW`), or of
/// the open file `fd` itself when `path` is empty (`AT_EMPTY_PATH` is
/// added). Asks for `STATX_BASIC_STATS | STATX_BTIME`.
pub fn statx(fd: Option<&SharedFd>, path: CString, flags: i32) -> Op<Statx> {
    // SAFETY: `statx` is plain old data; all zeroes is a valid value.
    let mut buf: Box<libc::statx> = Box::new(unsafe { std::mem::zeroed() });
    let (dirfd, flags) = match fd {
        Some(fd) => (fd.as_raw_fd(), flags | libc::AT_EMPTY_PATH),
        None => (libc::AT_FDCWD, flags),
    };
    let entry = opcode::Statx::new(
        types::Fd(dirfd),
        path.as_ptr(),
        (&mut *buf as *mut libc::statx).cast(),
    )
    .flags(flags)
    .mask(libc::STATX_BASIC_STATS | libc::STATX_BTIME)
    .build();
    let data = Statx {
        _path: path,
        _fd: fd.cloned(),
        buf,
    };
    // SAFETY: the path and the statx buffer are boxed and owned by the op
    // until its CQE; the op keeps the fd open.
    unsafe { Op::new_on(data, entry, 0) }
}

/// Renames `from` to `to` (`renameat2` flags in `flags`).
pub fn rename_at(from: CString, to: CString, flags: u32) -> Op<Unit<(CString, CString)>> {
    let cwd = types::Fd(libc::AT_FDCWD);
    let entry = opcode::RenameAt::new(cwd, from.as_ptr(), cwd, to.as_ptr())
        .flags(flags)
        .build();
    // SAFETY: both paths are owned by the op until its CQE.
    unsafe { Op::new_on(Unit { _keep: (from, to) }, entry, 0) }
}

/// Removes the file `path`, or the empty directory with `AT_REMOVEDIR`.
pub fn unlink_at(path: CString, flags: i32) -> Op<Unit<CString>> {
    let entry = opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
        .flags(flags)
        .build();
    // SAFETY: the path is owned by the op until its CQE.
    unsafe { Op::new_on(Unit { _keep: path }, entry, 0) }
}

/// Creates the directory `path` with `mode` (before the umask).
pub fn mkdir_at(path: CString, mode: u32) -> Op<Unit<CString>> {
    let entry = opcode::MkDirAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
        .mode(mode)
        .build();
    // SAFETY: the path is owned by the op until its CQE.
    unsafe { Op::new_on(Unit { _keep: path }, entry, 0) }
}

/// Makes `link` a hard link to `original`.
pub fn link_at(original: CString, link: CString) -> Op<Unit<(CString, CString)>> {
    let cwd = types::Fd(libc::AT_FDCWD);
    let entry = opcode::LinkAt::new(cwd, original.as_ptr(), cwd, link.as_ptr()).build();
    // SAFETY: both paths are owned by the op until its CQE.
    unsafe {
        Op::new_on(
            Unit {
                _keep: (original, link),
            },
            entry,
            0,
        )
    }
}

/// Makes `link` a symbolic link to `target`.
pub fn symlink_at(target: CString, link: CString) -> Op<Unit<(CString, CString)>> {
    let entry =
        opcode::SymlinkAt::new(types::Fd(libc::AT_FDCWD), target.as_ptr(), link.as_ptr()).build();
    // SAFETY: both paths are owned by the op until its CQE.
    unsafe {
        Op::new_on(
            Unit {
                _keep: (target, link),
            },
            entry,
            0,
        )
    }
}

/// Flushes `fd`'s data (and, unless `data_only`, its metadata) to the device.
pub fn fsync(fd: &SharedFd, data_only: bool) -> Op<Unit<SharedFd>> {
    let flags = if data_only {
        types::FsyncFlags::DATASYNC
    } else {
        types::FsyncFlags::empty()
    };
    let (entry, ring) = sqe_for!(fd, |t| opcode::Fsync::new(t).flags(flags).build());
    // SAFETY: FSYNC carries no pointers; the op keeps the fd open.
    unsafe { Op::new_on(Unit { _keep: fd.clone() }, entry, ring) }
}

/// Sets `fd`'s length to `len` (Linux 6.9+: check the probe).
pub fn ftruncate(fd: &SharedFd, len: u64) -> Op<Unit<SharedFd>> {
    let (entry, ring) = sqe_for!(fd, |t| opcode::Ftruncate::new(t, len).build());
    // SAFETY: FTRUNCATE carries no pointers; the op keeps the fd open.
    unsafe { Op::new_on(Unit { _keep: fd.clone() }, entry, ring) }
}

/// Closes `fd` through the ring, reporting the close's own error (which a
/// plain drop ignores).
pub fn close(fd: OwnedFd) -> Op<Unit<()>> {
    let entry = opcode::Close::new(types::Fd(fd.into_raw_fd())).build();
    // SAFETY: the fd number was taken out of its owner, so nothing else will
    // close or reuse it before this op closes it.
    unsafe { Op::new_on(Unit { _keep: () }, entry, 0) }
}
