//! Panics nobody can observe are reported, or abort the process on request.

mod util;

use ringloop::{spawn_named, yield_now, Runtime, UnhandledPanic};
use util::{is_child, run_child};

#[test]
fn unobserved_panic_is_reported_on_stderr_with_the_task_name() {
    const NAME: &str = "unobserved_panic_is_reported_on_stderr_with_the_task_name";
    if is_child(NAME) {
        ringloop::run(async {
            drop(spawn_named("doomed-worker", async {
                yield_now().await;
                panic!("disk on fire");
            }));
            for _ in 0..5 {
                yield_now().await;
            }
            println!("loop still running");
        });
        return;
    }
    let out = run_child(NAME, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stderr}");
    assert!(stdout.contains("loop still running"), "{stdout}");
    assert!(
        stderr.contains("'doomed-worker' (spawned at tests/panics.rs:"),
        "{stderr}"
    );
    assert!(stderr.contains("JoinHandle was dropped"), "{stderr}");
    assert!(stderr.contains("disk on fire"), "{stderr}");
}

#[test]
fn panic_stored_then_handle_dropped_is_reported() {
    const NAME: &str = "panic_stored_then_handle_dropped_is_reported";
    if is_child(NAME) {
        ringloop::run(async {
            let h = spawn_named("late-drop", async { panic!("nobody looked") });
            while !h.is_finished() {
                yield_now().await;
            }
            drop(h);
        });
        return;
    }
    let out = run_child(NAME, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("'late-drop'") && stderr.contains("nobody looked"),
        "{stderr}"
    );
}

#[test]
fn abort_policy_aborts_the_process() {
    const NAME: &str = "abort_policy_aborts_the_process";
    if is_child(NAME) {
        let rt = Runtime::builder()
            .unhandled_panic(UnhandledPanic::Abort)
            .build()
            .unwrap();
        rt.block_on(async {
            drop(spawn_named("fatal", async { panic!("must abort") }));
            for _ in 0..5 {
                yield_now().await;
            }
        });
        println!("survived");
        return;
    }
    let out = run_child(NAME, &[]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("survived"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("aborting the process"));
}

#[test]
fn debug_mode_reports_slow_polls_and_pending_tasks() {
    const NAME: &str = "debug_mode_reports_slow_polls_and_pending_tasks";
    if is_child(NAME) {
        ringloop::run(async {
            let slow = spawn_named("sleepy-blocker", async {
                std::thread::sleep(std::time::Duration::from_millis(150));
            });
            slow.await.unwrap();
            let _straggler = spawn_named("straggler", std::future::pending::<()>());
            yield_now().await;
        });
        return;
    }
    let out = run_child(NAME, &[("RINGLOOP_DEBUG", "1")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("'sleepy-blocker'") && stderr.contains("blocked the event loop"),
        "{stderr}"
    );
    assert!(
        stderr.contains("still pending at shutdown") && stderr.contains("'straggler'"),
        "{stderr}"
    );
    // Without debug mode, neither is reported.
    let quiet = run_child(NAME, &[("RINGLOOP_DEBUG", "0")]);
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(
        !stderr.contains("blocked the event loop") && !stderr.contains("still pending"),
        "{stderr}"
    );
}
