//! A future whose Drop panics when its task is cancelled must not take the
//! runtime down: the panic is the task's failure, delivered to its handle.

use ringloop_runtime::{run, spawn, yield_now};
use std::future::pending;

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("panic in drop");
    }
}

#[test]
fn abort_delivers_a_panic_from_drop_to_the_handle() {
    let err = run(async {
        let handle = spawn(async {
            let _bomb = PanicOnDrop;
            pending::<()>().await
        });
        yield_now().await;
        handle.abort();
        handle.await.expect_err("the task cannot complete")
    });
    assert!(err.is_panic(), "{err}");
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"panic in drop"));
}

/// Completes at once, then panics when dropped.
struct ReadyThenPanicOnDrop;

impl std::future::Future for ReadyThenPanicOnDrop {
    type Output = u8;
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<u8> {
        std::task::Poll::Ready(7)
    }
}

impl Drop for ReadyThenPanicOnDrop {
    fn drop(&mut self) {
        panic!("panic in drop");
    }
}

#[test]
fn completed_task_whose_future_panics_in_drop_reports_the_panic() {
    let err = run(async {
        let handle = spawn(ReadyThenPanicOnDrop);
        handle.await.expect_err("the drop panicked")
    });
    assert!(err.is_panic(), "{err}");
}

#[test]
fn shutdown_survives_a_panic_in_a_pending_task_drop() {
    let out = run(async {
        let handle = spawn(async {
            let _bomb = PanicOnDrop;
            pending::<()>().await
        });
        yield_now().await;
        drop(handle);
        5
    });
    assert_eq!(out, 5);
}
