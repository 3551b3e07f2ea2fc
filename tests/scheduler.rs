//! Scheduler behaviour that is not about timing: gather's per-child
//! wake-ups, empty inputs, what drops do, and how failures are reported.

#[path = "util/sched.rs"]
mod sched_util;

use ringloop::{gather, spawn, wait, yield_now, ReturnWhen, TaskFailure, TaskGroup};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Counts its polls; ready after `ready_after` wake-ups of its own.
struct Counted {
    polls: Rc<Cell<u32>>,
    ready_after: u32,
}

impl Future for Counted {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let n = self.polls.get() + 1;
        self.polls.set(n);
        if n > self.ready_after {
            Poll::Ready(n)
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A child that wakes itself 100 times does not cause its siblings to be polled.
#[test]
fn gather_polls_only_the_woken_child() {
    let busy = Rc::new(Cell::new(0));
    let idle: Vec<_> = (0..10).map(|_| Rc::new(Cell::new(0))).collect();
    let idle2 = idle.clone();
    let busy2 = busy.clone();
    ringloop::run(async move {
        let (tx, rx) = futures_channel_like();
        let mut children: Vec<Pin<Box<dyn Future<Output = u32>>>> = vec![Box::pin(Counted {
            polls: busy2,
            ready_after: 100,
        })];
        for polls in idle2 {
            let rx = rx.clone();
            children.push(Box::pin(async move {
                polls.set(polls.get() + 1);
                rx.wait().await;
                polls.set(polls.get() + 1);
                0
            }));
        }
        let release = async move {
            // Let the busy child finish first, then release the idle ones.
            for _ in 0..300 {
                yield_now().await;
            }
            tx.set();
            0
        };
        children.push(Box::pin(release));
        gather(children).await;
    });
    assert_eq!(busy.get(), 101);
    for polls in &idle {
        // One poll to start waiting, one (or two: a spurious wake) to finish.
        assert!(
            polls.get() <= 3,
            "an idle child was polled {} times",
            polls.get()
        );
    }
}

/// A tiny single-thread one-shot signal for the test above.
#[derive(Clone)]
struct Signal(Rc<(Cell<bool>, std::cell::RefCell<Vec<std::task::Waker>>)>);

fn futures_channel_like() -> (Signal, Signal) {
    let s = Signal(Rc::new((Cell::new(false), Default::default())));
    (s.clone(), s)
}

impl Signal {
    fn set(&self) {
        self.0 .0.set(true);
        for w in self.0 .1.borrow_mut().drain(..) {
            w.wake();
        }
    }
    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.0 .0.get() {
                Poll::Ready(())
            } else {
                self.0 .1.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn empty_inputs_complete_at_once() {
    ringloop::run(async {
        let none: Vec<std::future::Ready<u8>> = Vec::new();
        assert!(gather(none).await.is_empty());
        let handles: Vec<ringloop::JoinHandle<u8>> = Vec::new();
        for when in [
            ReturnWhen::AllCompleted,
            ReturnWhen::FirstCompleted,
            ReturnWhen::FirstError,
        ] {
            let out = wait(Vec::<ringloop::JoinHandle<u8>>::new(), when).await;
            assert!(out.done.is_empty() && out.pending.is_empty() && !out.timed_out);
        }
        drop(handles);
        let group: TaskGroup<u8, ()> = TaskGroup::new();
        assert_eq!(group.join().await.unwrap(), Vec::<u8>::new());
    });
}

/// Dropping a wait before it finishes detaches the tasks, it does not cancel them.
#[test]
fn dropping_a_wait_keeps_the_tasks_running() {
    let finished = Rc::new(Cell::new(false));
    let flag = finished.clone();
    ringloop::run(async move {
        // The task cannot finish before the test lets it, so the wait's
        // timeout fires first however slow the machine is.
        let go = Rc::new(ringloop::sync::Event::new());
        let gate = go.clone();
        let task = spawn(async move {
            gate.wait().await;
            flag.set(true);
        });
        let w = wait(vec![task], ReturnWhen::AllCompleted).timeout(Duration::from_millis(1));
        let out = w.await;
        assert!(out.timed_out);
        let (_, handle) = out.pending.into_iter().next().expect("still pending");
        drop(handle);
        go.set();
        for _ in 0..3 {
            ringloop::yield_now().await;
        }
    });
    assert!(finished.get(), "the detached task ran to completion");
}

/// Dropping a group aborts its tasks at their next scheduling point.
#[test]
fn dropping_a_group_aborts_its_tasks() {
    let dropped = Rc::new(Cell::new(false));
    let flag = dropped.clone();
    ringloop::run(async move {
        let group: TaskGroup<(), ()> = TaskGroup::new();
        let guard = sched_util::planned(
            sched_util::Plan {
                slot: 100,
                outcome: sched_util::Outcome::Ok(1),
            },
            flag,
        );
        group
            .spawn(async move { guard.await.map(drop).map_err(drop) })
            .unwrap();
        yield_now().await;
        drop(group);
        yield_now().await;
        yield_now().await;
    });
    assert!(dropped.get(), "the task's future was dropped");
}

/// Two tasks due to fail in the same turn: the first failure wins and the
/// other task, already queued, is cancelled instead of being polled.
#[test]
fn group_failure_cancels_even_queued_siblings() {
    sched_util::quiet_planned_panics();
    let err = ringloop::run(async {
        let group = TaskGroup::new();
        group.spawn(async { Err::<u8, _>("first") }).unwrap();
        group
            .spawn(async { panic!("{}", sched_util::PLANNED) })
            .unwrap();
        group.join().await.unwrap_err()
    });
    assert_eq!(err.failures().len(), 1, "{err}");
    assert!(matches!(err.first(), (0, TaskFailure::Err("first"))));
    assert_eq!(err.cancelled(), &[1]);
    assert_eq!(
        err.to_string(),
        "1 task(s) of the group failed; task #0 returned an error: first; 1 other task(s) were cancelled"
    );
}

/// A panic is delivered as a failure with its payload.
#[test]
fn group_delivers_a_panic_payload() {
    sched_util::quiet_planned_panics();
    let err = ringloop::run(async {
        let group: TaskGroup<u8, ()> = TaskGroup::new();
        group.spawn(async { panic!("planned panic") }).unwrap();
        group.join().await.unwrap_err()
    });
    let (index, TaskFailure::Panic(payload)) = err.into_failures().remove(0) else {
        panic!("expected a panic failure");
    };
    assert_eq!(index, 0);
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"planned panic"));
}

/// A group whose members were cancelled by runtime shutdown reports them
/// as failures instead of panicking when joined afterwards.
#[test]
#[allow(clippy::async_yields_async)] // the join future is returned unpolled on purpose
fn joining_after_the_runtime_cancelled_the_members_reports_them() {
    let rt = ringloop::Runtime::new().unwrap();
    let join = rt.block_on(async {
        let group: TaskGroup<u32, String> = TaskGroup::new();
        group.spawn(std::future::pending()).unwrap();
        group.spawn(std::future::pending()).unwrap();
        group.join()
    });
    drop(rt);
    let err = futures_util::FutureExt::now_or_never(join)
        .expect("every member is gone, so join is ready")
        .unwrap_err();
    let cancelled: Vec<usize> = err.failures().iter().map(|(i, _)| *i).collect();
    assert_eq!(cancelled, [0, 1]);
    assert!(matches!(err.first(), (0, TaskFailure::Cancelled)));
    assert!(err.to_string().contains("runtime shut down"), "{err}");
}
