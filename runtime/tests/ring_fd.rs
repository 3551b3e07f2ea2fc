//! The registered ring fd (IORING_REGISTER_RING_FDS, Linux 5.18+): ops work
//! through it, a runtime's drop releases it, and a thread that holds the
//! kernel's maximum falls back to entering with the plain fd.

mod util;

use ringloop_runtime::op::{self, TimeoutKind};
use ringloop_runtime::Runtime;
use std::time::{Duration, Instant};

/// NOPs and a timeout that makes the loop block in `io_uring_enter`.
fn exercise(rt: &Runtime) {
    rt.block_on(async {
        for _ in 0..10 {
            op::nop().await.unwrap();
        }
        let start = Instant::now();
        op::timeout(Duration::from_millis(2), TimeoutKind::Relative)
            .await
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(2));
    });
}

fn kernel_registers() -> bool {
    let rt = Runtime::new().unwrap();
    !util::lacks(
        &rt,
        rt.features().registered_ring_fd,
        "this kernel cannot register ring fds (needs Linux 5.18)",
    )
}

#[test]
fn dropping_a_runtime_releases_its_registration() {
    if !kernel_registers() {
        return;
    }
    // A thread holds at most 16 registered rings: 40 runtimes in a row all
    // register only if every drop unregistered.
    for i in 0..40 {
        let rt = Runtime::new().unwrap();
        assert!(
            rt.features().registered_ring_fd,
            "runtime {i} could not register its ring fd: an earlier runtime kept its registration"
        );
        exercise(&rt);
    }
}

#[test]
fn runtimes_beyond_the_kernel_limit_fall_back_to_the_plain_fd() {
    if !kernel_registers() {
        return;
    }
    let runtimes: Vec<Runtime> = (0..20).map(|_| Runtime::new().unwrap()).collect();
    let registered = runtimes
        .iter()
        .filter(|rt| rt.features().registered_ring_fd)
        .count();
    assert!(
        (1..20).contains(&registered),
        "{registered} of 20 registered"
    );
    for rt in &runtimes {
        exercise(rt);
    }
}

#[test]
fn registration_can_be_turned_off() {
    let rt = Runtime::builder().register_ring_fd(false).build().unwrap();
    assert!(!rt.features().registered_ring_fd);
    exercise(&rt);
}
