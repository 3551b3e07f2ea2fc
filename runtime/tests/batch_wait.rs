//! `Builder::batch_wait`: an idle loop that gathers completions before it
//! wakes still completes every kind of wake-up — ring ops, ring timeouts,
//! and wake-ups from other threads — and one that never comes does not
//! end the wait early.

use ringloop_runtime::op::{self, TimeoutKind};
use ringloop_runtime::to_thread;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::Duration;

#[test]
fn this_kernel_can_batch_waits() {
    let rt = ring()
        .batch_wait(Duration::from_micros(200))
        .build()
        .unwrap();
    assert!(rt.features().min_timeout);
}

#[test]
fn a_batched_wait_still_completes_ops_timeouts_and_remote_wakes() {
    // Both ways into the kernel: through the registered ring fd and the plain one.
    for registered in [true, false] {
        let rt = ring()
            .batch_wait(Duration::from_micros(500))
            .register_ring_fd(registered)
            .build()
            .unwrap();
        assert_eq!(rt.features().registered_ring_fd, registered);
        rt.block_on(round_of_wake_ups());
    }
}

async fn round_of_wake_ups() {
    // A read that completes while the loop waits (written by a thread).
    let (r, mut w) = std::io::pipe().unwrap();
    let fd = ringloop_runtime::fd::SharedFd::new(OwnedFd::from(r));
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        w.write_all(b"late").unwrap();
    });
    let (res, buf) = op::read(&fd, Vec::with_capacity(8), None).await;
    assert_eq!(res.unwrap(), 4);
    assert_eq!(buf, b"late");
    writer.join().unwrap();
    // A ring timeout alone (nothing else completes meanwhile).
    for _ in 0..20 {
        op::timeout(Duration::from_millis(1), TimeoutKind::Relative)
            .await
            .unwrap();
    }
    // Wake-ups from another thread (the blocking pool's eventfd path).
    for i in 0..20u32 {
        assert_eq!(to_thread(move || i * 2).await.unwrap(), i * 2);
    }
}

/// Voluntary context switches of the calling thread so far.
fn voluntary_switches() -> i64 {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a live, writable rusage for the duration of the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0);
    usage.ru_nvcsw
}

#[test]
fn an_idle_batched_wait_sleeps_instead_of_waking_every_window() {
    let rt = ring()
        .batch_wait(Duration::from_micros(100))
        .build()
        .unwrap();
    // A 50 ms timeout with nothing else to do: the loop should block about
    // once. Were the window to end waits in which nothing completed, it
    // would wake every 100 µs, some 500 times.
    let before = voluntary_switches();
    rt.block_on(op::timeout(
        Duration::from_millis(50),
        TimeoutKind::Relative,
    ))
    .unwrap();
    let switches = voluntary_switches() - before;
    assert!(switches < 50, "{switches} wake-ups during one idle wait");
}

/// A builder for the ring driver: these tests are of io_uring features, so
/// they run on the ring whatever `RINGLOOP_DRIVER` says.
fn ring() -> ringloop_runtime::Builder {
    let mut b = ringloop_runtime::Builder::new();
    b.driver(ringloop_runtime::Driver::IoUring);
    b
}
