//! Files for ringloop: opens, reads, writes, syncs, stats, renames, links
//! and directory changes as io_uring ops.
//!
//! ```no_run
//! ringloop_runtime::run(async {
//!     ringloop_fs::write("/tmp/hello.txt", "hello\n").await.unwrap();
//!     let text = ringloop_fs::read_to_string("/tmp/hello.txt").await.unwrap();
//!     assert_eq!(text, "hello\n");
//!     let file = ringloop_fs::File::open("/tmp/hello.txt").await.unwrap();
//!     let (res, buf) = file.read_at(vec![0u8; 5], 0).await;
//!     assert_eq!(&buf[..res.unwrap()], b"hello");
//!     file.close().await.unwrap();
//! });
//! ```
//!
//! # Ops and fallbacks
//! Each call is an io_uring op when the ring's probe has its opcode
//! (OPENAT, READ, WRITE, STATX, FSYNC, FTRUNCATE (Linux 6.9), RENAMEAT,
//! UNLINKAT, MKDIRAT, LINKAT, SYMLINKAT, CLOSE), and the same syscall on the
//! blocking pool ([`to_thread`](ringloop_runtime::to_thread)) where it is
//! not, and always on the epoll driver (as tokio does; a file read in the
//! loop would stall it on a disk). The results and error kinds are those
//! of `std::fs`; error messages also name the path.
//!
//! # Buffers
//! Reads and writes take owned buffers and give them back, as sockets do:
//! `read_at(buf, offset) -> (io::Result<usize>, buf)`. A read or write whose
//! future is dropped keeps its buffer until the kernel is done with it.
//! For `O_DIRECT` ([`OpenOptions::direct`]), use an
//! [`AlignedBuf`] and aligned offsets.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod dir;
mod file;
mod metadata;
mod sys;

pub use dir::{
    create_dir, create_dir_all, hard_link, metadata, read, read_to_string, remove_dir, remove_file,
    rename, symlink, symlink_metadata, write,
};
pub use file::{File, OpenOptions};
pub use metadata::{FileType, Metadata};
pub use ringloop_runtime::buf::AlignedBuf;
