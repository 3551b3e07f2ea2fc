//! Whole-file and directory calls: `read`, `write`, `metadata`,
//! `create_dir_all`, `rename`, ...

use crate::file::File;
use crate::metadata::Metadata;
use crate::sys::{blocking, cstr, has_op, with_path, with_paths};
use io_uring::opcode;
use ringloop_runtime::buf::IoBuf;
use ringloop_runtime::op;
use std::io;
use std::path::{Path, PathBuf};

/// Reads the whole file at `path`.
///
/// # Errors
/// As `std::fs::read`; the message names the path.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    // The size is a hint: the file may grow or shrink meanwhile.
    let hint = file.metadata().await.map(|m| m.len() as usize).unwrap_or(0);
    let mut buf: Vec<u8> = Vec::with_capacity(hint.max(64) + 1);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity().max(8192));
        }
        let filled = buf.len();
        let (res, slice) = file.read_at(buf.slice(filled..), filled as u64).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let _ = file.close().await;
    Ok(buf)
}

/// Reads the whole file at `path` as UTF-8.
///
/// # Errors
/// As `std::fs::read_to_string` (`InvalidData` if it is not UTF-8).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref();
    let bytes = read(path).await?;
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not UTF-8: {e}", path.display()),
        )
    })
}

/// Creates (or truncates) the file at `path` and writes `contents` to it.
///
/// # Errors
/// As `std::fs::write`; the message names the path.
pub async fn write(path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> io::Result<()> {
    let file = File::create(path).await?;
    let (res, _) = file.write_all_at(contents.into(), 0).await;
    res?;
    file.close().await
}

async fn stat(path: &Path, follow: bool) -> io::Result<Metadata> {
    let res = if has_op(opcode::Statx::CODE) {
        let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
        op::statx(None, cstr(path)?, flags)
            .await
            .map(|st| Metadata::from_statx(&st))
    } else {
        let p = path.to_path_buf();
        blocking(move || {
            let m = if follow {
                std::fs::metadata(p)
            } else {
                std::fs::symlink_metadata(p)
            };
            m.map(|m| Metadata::from_std(&m))
        })
        .await
    };
    res.map_err(|e| with_path(e, "cannot stat", path))
}

/// The metadata of `path`, following symbolic links.
///
/// # Errors
/// As `std::fs::metadata`; the message names the path.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), true).await
}

/// The metadata of `path` itself, not following a symbolic link.
///
/// # Errors
/// As `std::fs::symlink_metadata`; the message names the path.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), false).await
}

/// Creates the directory `path` (mode 0o777 before the umask).
///
/// # Errors
/// As `std::fs::create_dir` (`AlreadyExists`, `NotFound` for a missing
/// parent); the message names the path.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    mkdir(path)
        .await
        .map_err(|e| with_path(e, "cannot create directory", path))
}

async fn mkdir(path: &Path) -> io::Result<()> {
    if has_op(opcode::MkDirAt::CODE) {
        op::mkdir_at(cstr(path)?, 0o777).await
    } else {
        let p = path.to_path_buf();
        blocking(move || std::fs::create_dir(p)).await
    }
}

/// Creates `path` and every missing parent; fine if it exists already as a
/// directory.
///
/// # Errors
/// As `std::fs::create_dir_all`; the message names the path.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    // Walk up to the first ancestor that exists, then create downwards.
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut at = Some(path);
    while let Some(p) = at {
        if p.as_os_str().is_empty() {
            break;
        }
        match mkdir(p).await {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(p.to_path_buf());
                at = p.parent();
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if stat(p, true).await.is_ok_and(|m| m.is_dir()) {
                    break;
                }
                return Err(with_path(e, "cannot create directory", p));
            }
            Err(e) => return Err(with_path(e, "cannot create directory", p)),
        }
    }
    // The first entry of `missing` was the one that failed with NotFound;
    // its parents now exist, children last.
    for p in missing.iter().rev() {
        match mkdir(p).await {
            Ok(()) => {}
            // Made by someone else meanwhile.
            Err(e)
                if e.kind() == io::ErrorKind::AlreadyExists
                    && stat(p, true).await.is_ok_and(|m| m.is_dir()) => {}
            Err(e) => return Err(with_path(e, "cannot create directory", p)),
        }
    }
    Ok(())
}

async fn unlink(path: &Path, dir: bool) -> io::Result<()> {
    let res = if has_op(opcode::UnlinkAt::CODE) {
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        op::unlink_at(cstr(path)?, flags).await
    } else {
        let p = path.to_path_buf();
        blocking(move || {
            if dir {
                std::fs::remove_dir(p)
            } else {
                std::fs::remove_file(p)
            }
        })
        .await
    };
    let what = if dir {
        "cannot remove directory"
    } else {
        "cannot remove"
    };
    res.map_err(|e| with_path(e, what, path))
}

/// Removes the file (or symbolic link) `path`.
///
/// # Errors
/// As `std::fs::remove_file` (`NotFound`, `IsADirectory`, ...); the message
/// names the path.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    unlink(path.as_ref(), false).await
}

/// Removes the empty directory `path`.
///
/// # Errors
/// As `std::fs::remove_dir` (`DirectoryNotEmpty`, `NotFound`, ...); the
/// message names the path.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    unlink(path.as_ref(), true).await
}

/// Renames `from` to `to`, replacing `to` if it exists (as `rename(2)`).
///
/// # Errors
/// As `std::fs::rename`; the message names both paths.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    let res = if has_op(opcode::RenameAt::CODE) {
        op::rename_at(cstr(from)?, cstr(to)?, 0).await
    } else {
        let (f, t) = (from.to_path_buf(), to.to_path_buf());
        blocking(move || std::fs::rename(f, t)).await
    };
    res.map_err(|e| with_paths(e, "cannot rename", from, to))
}

/// Makes `link` a new hard link to the file `original`.
///
/// # Errors
/// As `std::fs::hard_link`; the message names both paths.
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    let res = if has_op(opcode::LinkAt::CODE) {
        op::link_at(cstr(original)?, cstr(link)?).await
    } else {
        let (o, l) = (original.to_path_buf(), link.to_path_buf());
        blocking(move || std::fs::hard_link(o, l)).await
    };
    res.map_err(|e| with_paths(e, "cannot hard-link", original, link))
}

/// Makes `link` a symbolic link to `original` (which need not exist).
///
/// # Errors
/// As `std::os::unix::fs::symlink`; the message names both paths.
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    let res = if has_op(opcode::SymlinkAt::CODE) {
        op::symlink_at(cstr(original)?, cstr(link)?).await
    } else {
        let (o, l) = (original.to_path_buf(), link.to_path_buf());
        blocking(move || std::os::unix::fs::symlink(o, l)).await
    };
    res.map_err(|e| with_paths(e, "cannot symlink", original, link))
}
