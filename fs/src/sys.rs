//! What every call shares: the op-or-thread choice, path conversion and
//! errors that name the path.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Whether the ring runs `opcode` (else the call goes to the blocking pool).
pub(crate) fn has_op(opcode: u8) -> bool {
    ringloop_runtime::features().supports(opcode)
}

/// `path` as the C string the kernel reads.
pub(crate) fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: a path cannot contain a NUL byte", path.display()),
        )
    })
}

/// `e` with the same kind, its message prefixed by what failed on `path`.
pub(crate) fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// As [`with_path`], for calls on two paths.
pub(crate) fn with_paths(e: io::Error, what: &str, from: &Path, to: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("{what} {} to {}: {e}", from.display(), to.display()),
    )
}

/// Runs `f` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    match ringloop_runtime::to_thread(f).await {
        Ok(res) => res,
        Err(e) if e.is_panic() => Err(io::Error::other(
            "a file operation panicked on the blocking pool",
        )),
        Err(_) => Err(io::Error::other(
            "the runtime shut down before the file operation ran",
        )),
    }
}
