//! Tasks: spawn, join, abort, detach, panics, fairness, cross-thread wakes.

mod util;

use ringloop::op::{self, TimeoutKind};
use ringloop::{run, spawn, spawn_named, yield_now, Runtime};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use util::DropFlag;

#[test]
fn hundred_thousand_tasks_complete_with_their_results() {
    let sum = run(async {
        let handles: Vec<_> = (0..100_000u64)
            .map(|i| {
                spawn(async move {
                    if i % 1000 == 0 {
                        yield_now().await;
                    }
                    i * 2
                })
            })
            .collect();
        let mut sum = 0;
        for (i, h) in handles.into_iter().enumerate() {
            let v = h.await.unwrap();
            assert_eq!(v, i as u64 * 2, "task {i} returned its own result");
            sum += v;
        }
        sum
    });
    assert_eq!(sum, (0..100_000u64).map(|i| i * 2).sum::<u64>());
}

#[test]
fn abort_before_first_poll_never_runs_the_task() {
    run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let h = spawn(async move { r.set(true) });
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled() && !err.is_panic());
        assert!(!ran.get(), "an aborted task is never polled");
    });
}

#[test]
fn abort_while_pending_drops_the_future() {
    run(async {
        let dropped = Rc::new(Cell::new(false));
        let guard = DropFlag(dropped.clone());
        let h = spawn(async move {
            let _guard = guard;
            op::timeout(Duration::from_secs(3600), TimeoutKind::Relative)
                .await
                .unwrap();
        });
        yield_now().await;
        assert!(!h.is_finished());
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
        assert!(dropped.get(), "the aborted task's future was dropped");
    });
}

#[test]
fn abort_after_completion_keeps_the_output() {
    run(async {
        let h = spawn(async { 7 });
        while !h.is_finished() {
            yield_now().await;
        }
        h.abort();
        assert_eq!(h.await.unwrap(), 7);
    });
}

#[test]
fn dropping_the_handle_detaches_the_task() {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    run(async move {
        let h = spawn(async move {
            for _ in 0..10 {
                yield_now().await;
            }
            d.set(true);
        });
        drop(h);
        for _ in 0..20 {
            yield_now().await;
        }
    });
    assert!(done.get(), "a detached task runs to completion");
}

#[test]
fn panic_is_delivered_to_the_handle_and_the_loop_goes_on() {
    run(async {
        let bad = spawn_named("bad", async {
            yield_now().await;
            let n = std::hint::black_box(42);
            panic!("boom {n}");
        });
        let good = spawn(async {
            yield_now().await;
            yield_now().await;
            "fine"
        });
        let err = bad.await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.task_name(), Some("bad"));
        assert!(err.to_string().contains("boom 42"), "{err}");
        let payload = err.into_panic();
        assert_eq!(util::panic_text(payload.as_ref()), "boom 42");
        assert_eq!(good.await.unwrap(), "fine");
    });
}

#[test]
fn spawn_outside_a_runtime_panics_with_a_clear_message() {
    let err = std::panic::catch_unwind(|| {
        drop(spawn(async {}));
    })
    .unwrap_err();
    let msg = util::panic_text(err.as_ref());
    assert!(
        msg.contains("ringloop::spawn was called outside a ringloop runtime"),
        "{msg}"
    );
}

#[test]
fn nested_block_on_panics_with_a_clear_message() {
    let err = std::panic::catch_unwind(|| {
        run(async { run(async {}) });
    })
    .unwrap_err();
    let msg = util::panic_text(err.as_ref());
    assert!(
        msg.contains("cannot start a runtime from within a runtime"),
        "{msg}"
    );
    // The thread is usable again afterwards.
    assert_eq!(run(async { 1 }), 1);
}

#[test]
fn an_always_ready_task_cannot_starve_io() {
    run(async {
        let stop = Rc::new(Cell::new(false));
        let spins = Rc::new(Cell::new(0u64));
        let (s, n) = (stop.clone(), spins.clone());
        let spinner = spawn(async move {
            while !s.get() {
                n.set(n.get() + 1);
                yield_now().await;
            }
        });
        // Completes only if the loop keeps reaping CQEs while the spinner
        // is always runnable.
        for _ in 0..20 {
            op::nop().await.unwrap();
        }
        op::timeout(Duration::from_millis(20), TimeoutKind::Relative)
            .await
            .unwrap();
        stop.set(true);
        spinner.await.unwrap();
        assert!(
            spins.get() > 20,
            "the spinner ran meanwhile: {}",
            spins.get()
        );
    });
}

#[test]
fn wakes_from_other_threads_reach_the_ring() {
    run(async {
        let mut handles = Vec::new();
        for i in 0..64u64 {
            let (tx, rx) = util::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(i % 8));
                tx.send(i);
            });
            handles.push(spawn(rx.recv()));
        }
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i as u64);
        }
    });
}

#[test]
fn wake_from_another_thread_while_the_loop_sleeps() {
    // The loop has nothing else to do: it must be blocked in io_uring_enter
    // and woken by the eventfd, not by a timeout or a spin.
    let (tx, rx) = util::channel();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        tx.send("woken");
    });
    assert_eq!(run(rx.recv()), "woken");
    t.join().unwrap();
}

#[test]
fn tasks_pending_when_run_returns_are_cancelled() {
    let dropped = Rc::new(Cell::new(false));
    let guard = DropFlag(dropped.clone());
    run(async move {
        let _detached = spawn(async move {
            let _guard = guard;
            op::timeout(Duration::from_secs(3600), TimeoutKind::Relative)
                .await
                .unwrap();
        });
        yield_now().await;
    });
    assert!(dropped.get(), "the pending task was dropped at shutdown");
}

#[test]
fn a_task_spawning_while_being_dropped_does_not_hang_shutdown() {
    struct SpawnOnDrop;
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            drop(spawn(async {
                op::timeout(Duration::from_secs(3600), TimeoutKind::Relative).await
            }));
        }
    }
    run(async {
        let _h = spawn(async {
            let _s = SpawnOnDrop;
            std::future::pending::<()>().await;
        });
        yield_now().await;
    });
}

#[test]
fn runtime_can_block_on_several_times_and_keeps_tasks() {
    let rt = Runtime::new().unwrap();
    let h = rt.spawn(async { 5 });
    assert_eq!(rt.block_on(async { 1 }), 1);
    assert_eq!(rt.block_on(h).unwrap(), 5);
}
