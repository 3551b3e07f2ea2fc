//! File-descriptor counts for the tests of every crate (the top-level
//! tests include this file by path).
#![allow(dead_code)]

/// Every open fd of this process.
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd is readable")
        .count()
        // read_dir's own fd on /proc/self/fd.
        .saturating_sub(1)
}

/// Open fds of this process of the kinds the runtime creates and so could
/// leak: sockets, pipes and anonymous inodes (rings, eventfds). Tests that
/// compare counts run their fd-sensitive part under a lock so parallel
/// tests do not disturb the count. Regular files and directories are left
/// out: a test thread that has not taken the lock yet may hold one open for
/// a moment (proptest reading its regression file, say). That is the likely
/// cause of a count once seen one higher at the start of a check than at
/// its end (a one-off failure of `cancelled_reads_never_corrupt_or_leak`).
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd is readable")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| {
            let target = target.to_string_lossy();
            ["socket:", "pipe:", "anon_inode:"]
                .iter()
                .any(|kind| target.starts_with(kind))
        })
        .count()
}

pub static FD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn fd_lock() -> std::sync::MutexGuard<'static, ()> {
    FD_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}
