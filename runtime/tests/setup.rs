//! When io_uring cannot be set up, `Runtime::new()` says why and what to do.
//!
//! The failure is real: a child process installs a seccomp filter that makes
//! `io_uring_setup` fail, as Docker's default profile does, before building
//! a runtime.

use std::process::Command;

const CHILD_VAR: &str = "RINGLOOP_SECCOMP_CHILD";
#[path = "util/seccomp.rs"]
mod seccomp;

use ringloop_runtime::{Builder, Driver, Runtime};
use seccomp::{deny_io_uring_setup, deny_syscall, SYS_IO_URING_ENTER};

/// A runtime on the ring only: the errors these tests look at are the ones
/// `Driver::IoUring` returns (`Auto` falls back to epoll instead).
fn ring_only() -> std::io::Result<Runtime> {
    Builder::new().driver(Driver::IoUring).build()
}

/// Runs `test` alone in a child process with `errno` in its environment;
/// returns its stdout and stderr.
fn child_run(test: &str, errno: i32) -> (String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, errno.to_string())
        // The child picks its driver itself (Auto or IoUring).
        .env_remove("RINGLOOP_DRIVER")
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
        let err = ring_only().expect_err("io_uring_setup is blocked");
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
fn auto_falls_back_to_epoll_and_says_why() {
    if std::env::var(CHILD_VAR).is_ok() {
        deny_io_uring_setup(libc::EPERM as u32);
        let rt = Runtime::new().expect("Auto falls back to epoll");
        let f = rt.features();
        println!("DRIVER={:?}", f.driver);
        println!("WHY={}", f.fallback_reason.unwrap_or("none"));
        // The loop works: a timer, a pipe read woken by a thread.
        let got = rt.block_on(async {
            let (r, mut w) = std::io::pipe().unwrap();
            let fd = ringloop_runtime::fd::SharedFd::new(std::os::fd::OwnedFd::from(r));
            let t = std::thread::spawn(move || std::io::Write::write_all(&mut w, b"ok"));
            ringloop_runtime::op::timeout(
                std::time::Duration::from_millis(5),
                ringloop_runtime::op::TimeoutKind::Relative,
            )
            .await
            .unwrap();
            let (res, buf) = ringloop_runtime::op::read(&fd, Vec::with_capacity(8), None).await;
            t.join().unwrap().unwrap();
            res.map(|_| buf)
        });
        println!("READ={}", String::from_utf8_lossy(&got.unwrap()));
        // run() falls back the same way.
        ringloop_runtime::run(async {});
        return;
    }
    let out = child_output("auto_falls_back_to_epoll_and_says_why", libc::EPERM);
    assert!(out.contains("DRIVER=Epoll"), "{out}");
    assert!(
        out.contains("WHY=ringloop: io_uring is not available"),
        "{out}"
    );
    assert!(out.contains("seccomp"), "names the cause: {out}");
    assert!(out.contains("READ=ok"), "{out}");
}

#[test]
fn a_blocked_io_uring_enter_is_found_at_setup() {
    if let Ok(errno) = std::env::var(CHILD_VAR) {
        deny_syscall(SYS_IO_URING_ENTER, errno.parse().unwrap());
        let err = ring_only().expect_err("io_uring_enter is blocked");
        println!("MSG={err}");
        let auto = Runtime::new().expect("Auto falls back to epoll");
        println!("AUTO={:?}", auto.features().driver);
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
        let rt = ring_only().expect("io_uring works before the filter");
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
    // Shutdown gave up instead of waiting out its 5 s grace for the op.
    let secs: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("SECS="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no SECS line: {out}"));
    assert!(
        secs < 5,
        "shutdown waited {secs} s for a ring it cannot enter"
    );
}
