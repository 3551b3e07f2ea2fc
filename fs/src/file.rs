//! [`File`] and [`OpenOptions`].

use crate::metadata::Metadata;
use crate::sys::{blocking, cstr, has_op, with_path};
use io_uring::opcode;
use ringloop_runtime::buf::{AlignedBuf, IoBuf, IoBufMut};
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op;
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How to open a file, as `std::fs::OpenOptions`, plus
/// [`direct`](Self::direct) for `O_DIRECT`.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
    direct: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Nothing set: set at least one of read, write or append.
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
            direct: false,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }

    /// Writes go to the end (implies write).
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.append = on;
        self
    }

    /// Truncate an existing file to 0 bytes (needs write).
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }

    /// Create the file if it does not exist (needs write or append).
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists.
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.create_new = on;
        self
    }

    /// Permission bits of a created file, before the umask (default 0o666).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `open` flags (`libc::O_NOFOLLOW`, ...).
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    /// `O_DIRECT`: reads and writes bypass the page cache. They then need
    /// aligned memory, offsets and lengths (use
    /// [`AlignedBuf`](crate::AlignedBuf) and multiples of 4096), and some
    /// filesystems (tmpfs) refuse it with `InvalidInput` at open.
    pub fn direct(&mut self, on: bool) -> &mut Self {
        self.direct = on;
        self
    }

    /// The `open` flags, with std's checks of the combination.
    fn flags(&self) -> io::Result<i32> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => {
                return Err(invalid("open options: set read, write or append"))
            }
        };
        if !self.write && !self.append && (self.truncate || self.create || self.create_new) {
            return Err(invalid(
                "open options: create, create_new and truncate need write or append",
            ));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid(
                "open options: append and truncate do not go together",
            ));
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        };
        let direct = if self.direct { libc::O_DIRECT } else { 0 };
        Ok(access | creation | direct | (self.custom_flags & !libc::O_ACCMODE))
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    /// As `std::fs::OpenOptions::open` (`NotFound`, `PermissionDenied`,
    /// `AlreadyExists` with `create_new`, ...); the message names the path.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_path_buf();
        let flags = self
            .flags()
            .map_err(|e| with_path(e, "cannot open", &path))?;
        let fd = if has_op(opcode::OpenAt::CODE) {
            op::open_at(cstr(&path)?, flags, self.mode).await
        } else {
            let (p, mode) = (path.clone(), self.mode);
            blocking(move || {
                let mut o = std::fs::OpenOptions::new();
                o.read(flags & libc::O_ACCMODE != libc::O_WRONLY)
                    .write(flags & libc::O_ACCMODE != libc::O_RDONLY)
                    .custom_flags(flags)
                    .mode(mode);
                if flags & libc::O_CREAT != 0 {
                    o.create(true);
                }
                o.open(p).map(OwnedFd::from)
            })
            .await
        };
        let fd = fd.map_err(|e| with_path(e, "cannot open", &path))?;
        Ok(File::from_parts(fd, path))
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

/// An open file. Reads and writes are positioned (`read_at`, `write_at`):
/// there is no shared cursor, so any number may run at once.
///
/// Dropping a `File` closes it (errors are ignored, as with std); call
/// [`close`](Self::close) to see them.
pub struct File {
    /// `None` once closed.
    fd: RefCell<Option<SharedFd>>,
    /// For blocking-pool fallbacks, which need a `Send` handle.
    std: RefCell<Option<Arc<std::fs::File>>>,
    path: PathBuf,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("path", &self.path)
            .field("open", &self.fd.borrow().is_some())
            .finish()
    }
}

impl File {
    /// Opens `path` for reading.
    ///
    /// # Errors
    /// As `std::fs::File::open`; the message names the path.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Creates (or truncates) `path` for writing.
    ///
    /// # Errors
    /// As `std::fs::File::create`; the message names the path.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// The [`OpenOptions`] builder.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    fn from_parts(fd: OwnedFd, path: PathBuf) -> File {
        File {
            fd: RefCell::new(Some(SharedFd::new(fd))),
            std: RefCell::new(None),
            path,
        }
    }

    /// The path it was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fd(&self) -> io::Result<SharedFd> {
        self.fd.borrow().clone().ok_or_else(|| {
            io::Error::other(format!("{}: the file was closed", self.path.display()))
        })
    }

    /// A `std::fs::File` on a duplicate of the fd, for the blocking pool.
    fn std_file(&self) -> io::Result<Arc<std::fs::File>> {
        if let Some(f) = &*self.std.borrow() {
            return Ok(f.clone());
        }
        let fd = self.fd()?;
        let dup = fd.as_fd().try_clone_to_owned()?;
        let f = Arc::new(std::fs::File::from(dup));
        *self.std.borrow_mut() = Some(f.clone());
        Ok(f)
    }

    fn err(&self, e: io::Error, what: &str) -> io::Error {
        with_path(e, what, &self.path)
    }

    /// Reads into `buf` (from its start, up to its capacity) at `offset`;
    /// `Ok(0)` at or past the end of the file.
    pub async fn read_at<B: IoBufMut>(&self, mut buf: B, offset: u64) -> (io::Result<usize>, B) {
        let fd = match self.fd() {
            Ok(fd) => fd,
            Err(e) => return (Err(e), buf),
        };
        if has_op(opcode::Read::CODE) {
            let (res, buf) = op::read(&fd, buf, Some(offset)).await;
            return (res.map_err(|e| self.err(e, "cannot read")), buf);
        }
        // The pool reads into its own buffer, copied into `buf` here (the
        // caller's buffer type need not be `Send`).
        let f = match self.std_file() {
            Ok(f) => f,
            Err(e) => return (Err(e), buf),
        };
        let want = buf.bytes_total();
        let res = blocking(move || {
            // Page-aligned, so O_DIRECT files work on this path too.
            let mut tmp = AlignedBuf::new(want, 4096);
            tmp.truncate(want);
            let n = f.read_at(&mut tmp, offset)?;
            tmp.truncate(n);
            Ok(tmp)
        })
        .await;
        match res {
            Ok(tmp) => {
                let n = buf.put_init(&tmp);
                (Ok(n), buf)
            }
            Err(e) => (Err(self.err(e, "cannot read")), buf),
        }
    }

    /// Writes `buf`'s initialized bytes at `offset`, once; may write fewer.
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> (io::Result<usize>, B) {
        let fd = match self.fd() {
            Ok(fd) => fd,
            Err(e) => return (Err(e), buf),
        };
        if has_op(opcode::Write::CODE) {
            let (res, buf) = op::write(&fd, buf, Some(offset)).await;
            return (res.map_err(|e| self.err(e, "cannot write")), buf);
        }
        let f = match self.std_file() {
            Ok(f) => f,
            Err(e) => return (Err(e), buf),
        };
        let bytes = buf.init_bytes();
        let mut data = AlignedBuf::new(bytes.len(), 4096);
        data.truncate(bytes.len());
        data.copy_from_slice(bytes);
        let res = blocking(move || f.write_at(&data, offset)).await;
        (res.map_err(|e| self.err(e, "cannot write")), buf)
    }

    /// Fills `buf` to its capacity from `offset`, or fails with
    /// `UnexpectedEof` if the file ends first.
    pub async fn read_exact_at<B: IoBufMut>(&self, mut buf: B, offset: u64) -> (io::Result<()>, B) {
        let total = buf.bytes_total();
        let mut filled = 0;
        while filled < total {
            let (res, slice) = self
                .read_at(buf.slice(filled..), offset + filled as u64)
                .await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}: the file ended {filled} bytes after offset {offset}, before the {total} bytes asked for",
                            self.path.display()
                        ),
                    );
                    return (Err(e), buf);
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes every initialized byte of `buf` from `offset`.
    pub async fn write_all_at<B: IoBuf>(&self, mut buf: B, offset: u64) -> (io::Result<()>, B) {
        let total = buf.bytes_init();
        let mut done = 0;
        while done < total {
            let (res, slice) = self
                .write_at(buf.slice(done..total), offset + done as u64)
                .await;
            buf = slice.into_inner();
            match res {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!(
                            "{}: the file took none of the last {} bytes",
                            self.path.display(),
                            total - done
                        ),
                    );
                    return (Err(e), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    async fn sync(&self, data_only: bool) -> io::Result<()> {
        let res = if has_op(opcode::Fsync::CODE) {
            op::fsync(&self.fd()?, data_only).await
        } else {
            let f = self.std_file()?;
            blocking(move || {
                if data_only {
                    f.sync_data()
                } else {
                    f.sync_all()
                }
            })
            .await
        };
        res.map_err(|e| self.err(e, "cannot sync"))
    }

    /// Flushes data and metadata to the device (`fsync`).
    ///
    /// # Errors
    /// The device's write error.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.sync(false).await
    }

    /// Flushes data (and the metadata needed to read it) to the device
    /// (`fdatasync`).
    ///
    /// # Errors
    /// The device's write error.
    pub async fn sync_data(&self) -> io::Result<()> {
        self.sync(true).await
    }

    /// The file's metadata (`statx` on the open file).
    ///
    /// # Errors
    /// As `std::fs::File::metadata`.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let res = if has_op(opcode::Statx::CODE) {
            op::statx(Some(&self.fd()?), c"".to_owned(), 0)
                .await
                .map(|st| Metadata::from_statx(&st))
        } else {
            let f = self.std_file()?;
            blocking(move || f.metadata().map(|m| Metadata::from_std(&m))).await
        };
        res.map_err(|e| self.err(e, "cannot stat"))
    }

    /// Truncates or extends the file to `len` bytes.
    ///
    /// # Errors
    /// As `std::fs::File::set_len` (e.g. not opened for writing).
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        let res = if has_op(opcode::Ftruncate::CODE) {
            op::ftruncate(&self.fd()?, len).await
        } else {
            let f = self.std_file()?;
            blocking(move || f.set_len(len)).await
        };
        res.map_err(|e| self.err(e, "cannot set the length of"))
    }

    /// Closes the file and reports the close's error (which a drop
    /// ignores). Waits for reads and writes still in flight on it.
    ///
    /// # Errors
    /// The kernel's close error (`EIO` on some network filesystems).
    pub async fn close(self) -> io::Result<()> {
        drop(self.std.borrow_mut().take());
        let Some(mut fd) = self.fd.borrow_mut().take() else {
            return Ok(());
        };
        // Ops in flight hold clones; wait for them before closing.
        let owned = loop {
            match fd.try_unwrap() {
                Ok(owned) => break owned,
                Err(shared) => {
                    fd = shared;
                    ringloop_runtime::yield_now().await;
                }
            }
        };
        let res = if has_op(opcode::Close::CODE) {
            op::close(owned).await
        } else {
            blocking(move || {
                drop(std::fs::File::from(owned));
                Ok(())
            })
            .await
        };
        res.map_err(|e| with_path(e, "cannot close", &self.path))
    }
}
