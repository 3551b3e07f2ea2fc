//! A real seccomp filter, as Docker's default profile installs, for the
//! tests of every crate that run a child where io_uring is blocked (the
//! top-level tests include this file by path).
#![allow(dead_code)]

// The same numbers on every architecture.
pub const SYS_IO_URING_SETUP: u32 = 425;
pub const SYS_IO_URING_ENTER: u32 = 426;

/// Makes `io_uring_setup` fail with `errno` for this thread (and the threads
/// it starts) from now on.
pub fn deny_io_uring_setup(errno: u32) {
    deny_syscall(SYS_IO_URING_SETUP, errno);
}

/// Makes syscall `nr` fail with `errno` for this thread (and the threads it
/// starts) from now on.
pub fn deny_syscall(nr: u32, errno: u32) {
    try_deny_syscall(nr, errno).expect("installing the seccomp filter");
}

/// As [`deny_syscall`], returning the error: async-signal-safe (no
/// allocation, no panic), for `Command::pre_exec`.
pub fn try_deny_syscall(nr: u32, errno: u32) -> std::io::Result<()> {
    // A classic BPF program: load the syscall number, return ERRNO(errno)
    // for `nr`, ALLOW for everything else.
    const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const BPF_JMP_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let filter = [
        libc::sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: BPF_JMP_JEQ_K,
            jt: 0,
            jf: 1,
            k: nr,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | errno,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: plain prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `prog` points to `filter`, both alive across the call; the
    // kernel copies the program.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const _,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
