//! The `sync` primitives wake their waiters only after releasing their own
//! state, so a waker that re-enters the primitive at once — a custom one,
//! as a foreign executor or a test harness may have — works instead of
//! hitting a `RefCell` borrow error.

use futures_util::task::noop_waker_ref;
use ringloop::sync::{oneshot, Barrier, Condition, Event, Mutex, Queue, Semaphore};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

thread_local! {
    /// What the re-entrant waker does when woken, on this (the test's) thread.
    static ON_WAKE: RefCell<Option<Box<dyn Fn()>>> = RefCell::new(None);
    /// How many times it was woken.
    static WAKES: Cell<usize> = const { Cell::new(0) };
}

/// A waker that runs the thread's `ON_WAKE` hook synchronously, inside
/// whatever call woke it.
struct Reentrant;

impl Wake for Reentrant {
    fn wake(self: Arc<Self>) {
        WAKES.with(|n| n.set(n.get() + 1));
        ON_WAKE.with(|hook| {
            if let Some(hook) = hook.borrow().as_ref() {
                hook();
            }
        });
    }
}

/// Runs `test` with `hook` as the re-entrant waker's action and a context
/// holding that waker; checks the waker was called at least once.
fn with_reentrant_waker(hook: impl Fn() + 'static, test: impl FnOnce(&mut Context<'_>)) {
    ON_WAKE.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
    WAKES.with(|n| n.set(0));
    let waker = Waker::from(Arc::new(Reentrant));
    test(&mut Context::from_waker(&waker));
    ON_WAKE.with(|h| h.borrow_mut().take());
    assert!(
        WAKES.with(Cell::get) > 0,
        "the re-entrant waker was never woken"
    );
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let mut f = pin!(f);
    f.as_mut().poll(&mut Context::from_waker(noop_waker_ref()))
}

#[test]
fn mutex_unlock_wakes_after_releasing_its_state() {
    let m = Rc::new(Mutex::new(0));
    let m2 = m.clone();
    with_reentrant_waker(
        move || assert!(poll_once(m2.lock()).is_pending(), "handed to the waiter"),
        |cx| {
            let guard = m.try_lock().unwrap();
            let mut waiter = pin!(m.lock());
            assert!(waiter.as_mut().poll(cx).is_pending());
            drop(guard);
            assert!(waiter.as_mut().poll(cx).is_ready());
        },
    );
}

#[test]
fn semaphore_grant_wakes_after_releasing_its_state() {
    let sem = Rc::new(Semaphore::new(0));
    let s2 = sem.clone();
    with_reentrant_waker(
        move || assert!(poll_once(s2.acquire()).is_pending()),
        |cx| {
            let mut waiter = pin!(sem.acquire());
            assert!(waiter.as_mut().poll(cx).is_pending());
            sem.add_permits(1);
            let Poll::Ready(permit) = waiter.as_mut().poll(cx) else {
                panic!("the permit was granted")
            };
            drop(permit);
        },
    );
}

#[test]
fn event_set_wakes_after_releasing_its_state() {
    let ev = Rc::new(Event::new());
    let e2 = ev.clone();
    with_reentrant_waker(
        move || {
            e2.clear();
            assert!(poll_once(e2.wait()).is_pending());
        },
        |cx| {
            let mut a = pin!(ev.wait());
            let mut b = pin!(ev.wait());
            assert!(a.as_mut().poll(cx).is_pending());
            assert!(b.as_mut().poll(cx).is_pending());
            ev.set();
            assert!(a.as_mut().poll(cx).is_ready());
            assert!(b.as_mut().poll(cx).is_ready());
        },
    );
}

#[test]
fn condition_notify_wakes_after_releasing_its_state() {
    let cond = Rc::new(Condition::new());
    let m = Mutex::new(());
    let c2 = cond.clone();
    with_reentrant_waker(
        move || {
            let _ = c2.waiters();
            c2.notify_all();
        },
        |cx| {
            let mut waiter = pin!(cond.wait(m.try_lock().unwrap()));
            assert!(waiter.as_mut().poll(cx).is_pending());
            assert_eq!(cond.notify(1), 1);
            assert!(waiter.as_mut().poll(cx).is_ready());
        },
    );
}

#[test]
fn barrier_release_wakes_after_releasing_its_state() {
    let barrier = Rc::new(Barrier::new(2));
    let b2 = barrier.clone();
    with_reentrant_waker(
        move || assert!(poll_once(b2.wait()).is_pending(), "a new round"),
        |cx| {
            let mut first = pin!(barrier.wait());
            assert!(first.as_mut().poll(cx).is_pending());
            assert!(poll_once(barrier.wait()).is_ready());
            assert!(first.as_mut().poll(cx).is_ready());
        },
    );
    let b3 = Rc::new(Barrier::new(3));
    let b4 = b3.clone();
    with_reentrant_waker(
        move || assert!(b4.is_broken()),
        |cx| {
            let mut w = pin!(b3.wait());
            assert!(w.as_mut().poll(cx).is_pending());
            b3.abort();
            assert!(matches!(w.as_mut().poll(cx), Poll::Ready(Err(_))));
        },
    );
}

#[test]
fn queue_wakes_after_releasing_its_state() {
    let q = Rc::new(Queue::<u32>::bounded(1));
    let q2 = q.clone();
    with_reentrant_waker(
        move || {
            let _ = (q2.qsize(), q2.is_closed());
        },
        |cx| {
            // A getter handed an item by put.
            let mut get = pin!(q.get());
            assert!(get.as_mut().poll(cx).is_pending());
            q.try_put(7).unwrap();
            assert_eq!(get.as_mut().poll(cx), Poll::Ready(Ok(7)));
            // A putter admitted when a get makes room.
            q.try_put(1).unwrap();
            let mut put = pin!(q.put(2));
            assert!(put.as_mut().poll(cx).is_pending());
            assert_eq!(poll_once(q.get()), Poll::Ready(Ok(1)));
            assert!(put.as_mut().poll(cx).is_ready());
            // Joiners released by task_done, waiters by close.
            let mut join = pin!(q.join());
            assert!(join.as_mut().poll(cx).is_pending());
            q.task_done().unwrap();
            q.task_done().unwrap();
            assert!(join.as_mut().poll(cx).is_pending(), "item 2 is not done");
            q.task_done().unwrap();
            assert!(join.as_mut().poll(cx).is_ready());
            let mut get = pin!(q.get());
            assert!(get.as_mut().poll(cx).is_ready(), "item 2 is still queued");
            let mut get = pin!(q.get());
            assert!(get.as_mut().poll(cx).is_pending());
            q.close();
            assert!(get.as_mut().poll(cx).is_ready());
        },
    );
}

#[test]
fn oneshot_wakes_after_releasing_its_state() {
    let (tx, rx) = oneshot::<u32>();
    let tx = Rc::new(tx);
    let t2 = tx.clone();
    with_reentrant_waker(
        move || assert!(t2.is_done()),
        |cx| {
            let mut rx = pin!(rx);
            assert!(rx.as_mut().poll(cx).is_pending());
            tx.set_result(5).unwrap();
            assert_eq!(rx.as_mut().poll(cx), Poll::Ready(Ok(5)));
        },
    );
    // The receiver learns that every sender is gone.
    let (tx, rx) = oneshot::<u32>();
    let sender = Rc::new(RefCell::new(Some(tx)));
    let probe = sender.clone();
    with_reentrant_waker(
        move || assert!(probe.borrow().is_none()),
        |cx| {
            let mut rx = pin!(rx);
            assert!(rx.as_mut().poll(cx).is_pending());
            let tx = sender.borrow_mut().take();
            drop(tx);
            assert!(matches!(rx.as_mut().poll(cx), Poll::Ready(Err(_))));
        },
    );
}
