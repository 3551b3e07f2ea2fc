//! When io_uring cannot be set up, `Runtime::new()` says why and what to do.
//!
//! The failure is real: a child process installs a seccomp filter that makes
//! `io_uring_setup` fail, as Docker's default profile does, before building
//! a runtime.

use std::process::Command;

const CHILD_VAR: &str = "RINGLOOP_SECCOMP_CHILD";
// The same numbers on every architecture.
const SYS_IO_URING_SETUP: u32 = 425;
const SYS_IO_URING_ENTER: u32 = 426;

/// Makes `io_uring_setup` fail with `errno` for this thread (and the threads
/// it starts) from now on.
fn deny_io_uring_setup(errno: u32) {
    deny_syscall(SYS_IO_URING_SETUP, errno);
}

/// Makes syscall `nr` fail with `errno` for this thread (and the threads it
/// starts) from now on.
fn deny_syscall(nr: u32, errno: u32) {
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
    assert_eq!(
        rc,
        0,
        "PR_SET_NO_NEW_PRIVS: {}",
        std::io::Error::last_os_error()
    );
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
    assert_eq!(rc, 0, "PR_SET_SECCOMP: {}", std::io::Error::last_os_error());
}

/// Runs `test` alone in a child process with `errno` in its environment;
/// returns its stdout and stderr.
fn child_run(test: &str, errno: i32) -> (String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, errno.to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

fn child_output(test: &str, errno: i32) -> String {
    child_run(test, errno).0
}

#[test]
fn seccomp_blocked_io_uring_gives_an_actionable_error() {
    if let Ok(errno) = std::env::var(CHILD_VAR) {
        deny_io_uring_setup(errno.parse().unwrap());
        let err = ringloop_runtime::Runtime::new().expect_err("io_uring_setup is blocked");
        println!("KIND={:?}", err.kind());
        println!("MSG={err}");
        return;
    }
    for errno in [libc::EPERM, libc::ENOSYS] {
        let out = child_output("seccomp_blocked_io_uring_gives_an_actionable_error", errno);
        assert!(
            out.contains("MSG=ringloop: io_uring is not available"),
            "{out}"
        );
        assert!(out.contains("seccomp"), "names the likely cause: {out}");
        assert!(out.contains("To fix it"), "says what to do: {out}");
        if errno == libc::EPERM {
            assert!(out.contains("KIND=PermissionDenied"), "{out}");
            // With the sysctl at 0 (or absent) only the policy can refuse.
            assert!(out.contains("seccomp profile"), "names the fix: {out}");
        }
    }
}

#[test]
fn run_panics_with_the_same_message() {
    if std::env::var(CHILD_VAR).is_ok() {
        deny_io_uring_setup(libc::EPERM as u32);
        let err = std::panic::catch_unwind(|| ringloop_runtime::run(async {})).unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        println!("PANIC={msg}");
        return;
    }
    let out = child_output("run_panics_with_the_same_message", libc::EPERM);
    assert!(
        out.contains("PANIC=ringloop: io_uring is not available"),
        "{out}"
    );
}

#[test]
fn a_blocked_io_uring_enter_is_found_at_setup() {
    if let Ok(errno) = std::env::var(CHILD_VAR) {
        deny_syscall(SYS_IO_URING_ENTER, errno.parse().unwrap());
        let err = ringloop_runtime::Runtime::new().expect_err("io_uring_enter is blocked");
        println!("MSG={err}");
        return;
    }
    let out = child_output("a_blocked_io_uring_enter_is_found_at_setup", libc::EPERM);
    assert!(
        out.contains("MSG=ringloop: io_uring is not available"),
        "{out}"
    );
    assert!(
        out.contains("blocks io_uring_enter"),
        "names the cause: {out}"
    );
    assert!(out.contains("To fix it"), "says what to do: {out}");
}

#[test]
fn io_uring_enter_blocked_mid_run_panics_with_the_cause_and_does_not_wait() {
    if std::env::var(CHILD_VAR).is_ok() {
        let rt = ringloop_runtime::Runtime::new().expect("io_uring works before the filter");
        deny_syscall(SYS_IO_URING_ENTER, libc::EPERM as u32);
        let started = std::time::Instant::now();
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            rt.block_on(async {
                // An op in flight when the ring breaks.
                let _ = ringloop_runtime::op::nop().await;
            })
        }))
        .unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        println!("PANIC={msg}");
        println!("SECS={}", started.elapsed().as_secs());
        return;
    }
    let (out, err) = child_run(
        "io_uring_enter_blocked_mid_run_panics_with_the_cause_and_does_not_wait",
        libc::EPERM,
    );
    assert!(
        out.contains("blocks io_uring_enter"),
        "names the cause: {out}"
    );
    assert!(out.contains("To fix it"), "says what to do: {out}");
    assert!(
        !err.contains("did not complete within"),
        "shutdown blamed the kernel for the ring it could not enter: {err}"
    );
    // Shutdown gave up at once instead of waiting out its 5 s grace.
    assert!(out.contains("SECS=0"), "{out}");
}
