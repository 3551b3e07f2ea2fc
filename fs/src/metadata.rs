//! [`Metadata`]: what `statx` says about a file.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, SystemTime};

/// A file's metadata (from `statx`), with the accessors of
/// `std::fs::Metadata`.
#[derive(Debug, Clone, Copy)]
pub struct Metadata {
    mode: u32,
    len: u64,
    ino: u64,
    dev: u64,
    nlink: u64,
    uid: u32,
    gid: u32,
    blksize: u64,
    blocks: u64,
    atime: Option<(i64, u32)>,
    mtime: Option<(i64, u32)>,
    btime: Option<(i64, u32)>,
}

fn ts(t: libc::statx_timestamp) -> (i64, u32) {
    (t.tv_sec, t.tv_nsec)
}

impl Metadata {
    pub(crate) fn from_statx(st: &libc::statx) -> Metadata {
        let has = |bit: u32| st.stx_mask & bit != 0;
        Metadata {
            mode: u32::from(st.stx_mode),
            len: st.stx_size,
            ino: st.stx_ino,
            dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
            nlink: u64::from(st.stx_nlink),
            uid: st.stx_uid,
            gid: st.stx_gid,
            blksize: u64::from(st.stx_blksize),
            blocks: st.stx_blocks,
            atime: has(libc::STATX_ATIME).then(|| ts(st.stx_atime)),
            mtime: has(libc::STATX_MTIME).then(|| ts(st.stx_mtime)),
            btime: has(libc::STATX_BTIME).then(|| ts(st.stx_btime)),
        }
    }

    pub(crate) fn from_std(m: &std::fs::Metadata) -> Metadata {
        Metadata {
            mode: m.mode(),
            len: m.len(),
            ino: m.ino(),
            dev: m.dev(),
            nlink: m.nlink(),
            uid: m.uid(),
            gid: m.gid(),
            blksize: m.blksize(),
            blocks: m.blocks(),
            atime: Some((m.atime(), m.atime_nsec() as u32)),
            mtime: Some((m.mtime(), m.mtime_nsec() as u32)),
            btime: m.created().ok().and_then(|t| {
                let d = t.duration_since(SystemTime::UNIX_EPOCH).ok()?;
                Some((d.as_secs() as i64, d.subsec_nanos()))
            }),
        }
    }

    /// The file's type bits, as `std::fs::FileType`'s questions.
    fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.kind() == libc::S_IFREG
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }

    /// Whether it is a symbolic link (only from
    /// [`symlink_metadata`](crate::symlink_metadata)).
    pub fn is_symlink(&self) -> bool {
        self.kind() == libc::S_IFLNK
    }

    /// The file type (from the mode bits).
    pub fn file_type(&self) -> FileType {
        FileType(self.kind())
    }

    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether its size is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its permission bits.
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode)
    }

    /// The whole `st_mode`: type and permission bits.
    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The device it lives on.
    pub fn dev(&self) -> u64 {
        self.dev
    }

    /// Number of hard links.
    pub fn nlink(&self) -> u64 {
        self.nlink
    }

    /// Owner's user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// Owner's group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The preferred I/O block size.
    pub fn blksize(&self) -> u64 {
        self.blksize
    }

    /// Number of 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Last modification.
    ///
    /// # Errors
    /// `Unsupported` if the filesystem does not record it.
    pub fn modified(&self) -> io::Result<SystemTime> {
        time(self.mtime, "modification time")
    }

    /// Last access.
    ///
    /// # Errors
    /// `Unsupported` if the filesystem does not record it.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        time(self.atime, "access time")
    }

    /// Creation (birth) time.
    ///
    /// # Errors
    /// `Unsupported` if the filesystem does not record it.
    pub fn created(&self) -> io::Result<SystemTime> {
        time(self.btime, "creation time")
    }
}

fn time(t: Option<(i64, u32)>, what: &str) -> io::Result<SystemTime> {
    let Some((sec, nsec)) = t else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("the filesystem does not record the {what}"),
        ));
    };
    let base = if sec >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(sec as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs())
    };
    Ok(base + Duration::from_nanos(u64::from(nsec)))
}

/// A file's type, from its mode bits (std's `FileType` cannot be built
/// outside std; this one answers the same questions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType(u32);

impl FileType {
    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.0 == libc::S_IFREG
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.0 == libc::S_IFDIR
    }
    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.0 == libc::S_IFLNK
    }
    /// Whether it matches std's `FileType` (for comparisons in tests).
    pub fn same_as(&self, t: std::fs::FileType) -> bool {
        t.is_file() == self.is_file()
            && t.is_dir() == self.is_dir()
            && t.is_symlink() == self.is_symlink()
    }
}
