//! The process's file-descriptor limit (RLIMIT_NOFILE), for servers that
//! hold many connections: the soft limit is often 1024 while the hard limit
//! allows far more, and only the soft one is enforced.

use crate::sys::syscall;
use std::io;

/// The soft and hard RLIMIT_NOFILE limits of this process.
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // `lim` is a valid, writable rlimit for the duration of the call.
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut lim))?;
    // rlim_t is u64 on the 64-bit targets but not on every libc.
    #[allow(clippy::unnecessary_cast)]
    Ok((lim.rlim_cur as u64, lim.rlim_max as u64))
}

/// Sets the soft RLIMIT_NOFILE limit of this process to `soft`, keeping the
/// hard limit. Raising it beyond the hard limit fails with `EINVAL`; ask for
/// at most [`nofile_limit`]`().1`. Lowering it makes later `accept`/`socket`
/// calls fail with `EMFILE` once that many fds are open.
pub fn set_nofile_soft_limit(soft: u64) -> io::Result<()> {
    let (_, hard) = nofile_limit()?;
    let lim = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // `lim` is a valid rlimit read during the call.
    syscall!(setrlimit(libc::RLIMIT_NOFILE, &lim)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_soft_limit_round_trips() {
        let (soft, hard) = nofile_limit().unwrap();
        assert!(soft <= hard);
        set_nofile_soft_limit(soft).unwrap();
        assert_eq!(nofile_limit().unwrap(), (soft, hard));
        let err = set_nofile_soft_limit(hard.saturating_add(1));
        if hard < u64::MAX {
            assert!(err.is_err());
        }
    }
}
