//! Property tests: random sequences of acquire/release/cancel on `Semaphore`
//! and `Mutex`, and of put/get/cancel/close on `Queue`, checked step by step
//! against a simple sequential model — no lost or extra permits, no lost or
//! duplicated items, FIFO order kept.
//!
//! The primitives need no runtime, so futures are polled by hand with a
//! no-op waker: the test controls exactly which waiter runs when.

use futures_util::task::noop_waker_ref;
use proptest::prelude::*;
use ringloop::sync::{Mutex, Queue, QueueClosed, Semaphore, TryGetError};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

fn poll<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(noop_waker_ref()))
}

// ---------------------------------------------------------------- semaphore

#[derive(Debug, Clone)]
enum SemOp {
    /// Start an acquire of 1..=3 permits and poll it once.
    Acquire(usize),
    /// Poll the i-th waiting acquire (modulo the number waiting).
    Poll(usize),
    /// Drop the i-th waiting acquire.
    Cancel(usize),
    /// Drop the i-th held permit.
    Release(usize),
    AddPermits(usize),
}

fn sem_op() -> impl Strategy<Value = SemOp> {
    prop_oneof![
        3 => (1usize..=3).prop_map(SemOp::Acquire),
        3 => any::<usize>().prop_map(SemOp::Poll),
        2 => any::<usize>().prop_map(SemOp::Cancel),
        3 => any::<usize>().prop_map(SemOp::Release),
        1 => (0usize..=2).prop_map(SemOp::AddPermits),
    ]
}

/// The model: free permits, and waiters in FIFO order with whether the
/// semaphore has granted them their permits yet.
#[derive(Default)]
struct SemModel {
    permits: usize,
    waiters: Vec<(u32, usize, bool)>, // (id, wanted, granted); queue order
}

impl SemModel {
    fn grant(&mut self) {
        for w in self.waiters.iter_mut().filter(|w| !w.2) {
            if w.1 > self.permits {
                break;
            }
            self.permits -= w.1;
            w.2 = true;
        }
    }
    fn queued(&self) -> bool {
        self.waiters.iter().any(|w| !w.2)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn semaphore_matches_model(initial in 0usize..4, ops in prop::collection::vec(sem_op(), 1..60)) {
        let sem = Semaphore::new(initial);
        let mut model = SemModel { permits: initial, ..Default::default() };
        let mut total = initial;
        let mut waiting: Vec<(u32, Pin<Box<ringloop::sync::Acquire<'_>>>)> = Vec::new();
        let mut held = Vec::new();
        let mut next_id = 0u32;
        for op in ops {
            match op {
                SemOp::Acquire(n) => {
                    let mut fut = Box::pin(sem.acquire_many(n));
                    let immediate = !model.queued() && model.permits >= n;
                    match poll(fut.as_mut()) {
                        Poll::Ready(p) => {
                            prop_assert!(immediate, "acquire({n}) jumped the queue");
                            model.permits -= n;
                            held.push(p);
                        }
                        Poll::Pending => {
                            prop_assert!(!immediate, "acquire({n}) waited with permits free");
                            model.waiters.push((next_id, n, false));
                            waiting.push((next_id, fut));
                            next_id += 1;
                        }
                    }
                }
                SemOp::Poll(i) if !waiting.is_empty() => {
                    let i = i % waiting.len();
                    let id = waiting[i].0;
                    let pos = model.waiters.iter().position(|w| w.0 == id).unwrap();
                    match poll(waiting[i].1.as_mut()) {
                        Poll::Ready(p) => {
                            prop_assert!(model.waiters[pos].2, "ready before being granted");
                            prop_assert_eq!(p.num_permits(), model.waiters[pos].1);
                            model.waiters.remove(pos);
                            drop(waiting.remove(i));
                            held.push(p);
                        }
                        Poll::Pending => prop_assert!(!model.waiters[pos].2, "granted but pending"),
                    }
                }
                SemOp::Cancel(i) if !waiting.is_empty() => {
                    let (id, fut) = waiting.remove(i % waiting.len());
                    drop(fut);
                    let pos = model.waiters.iter().position(|w| w.0 == id).unwrap();
                    let (_, n, granted) = model.waiters.remove(pos);
                    if granted {
                        model.permits += n;
                    }
                    model.grant();
                }
                SemOp::Release(i) if !held.is_empty() => {
                    let p = held.remove(i % held.len());
                    model.permits += p.num_permits();
                    drop(p);
                    model.grant();
                }
                SemOp::AddPermits(n) => {
                    sem.add_permits(n);
                    total += n;
                    model.permits += n;
                    model.grant();
                }
                _ => {}
            }
            prop_assert_eq!(sem.available_permits(), model.permits);
            // Conservation: free + held + granted-but-unobserved == all ever created.
            let held_n: usize = held.iter().map(|p| p.num_permits()).sum();
            let granted_n: usize = model.waiters.iter().filter(|w| w.2).map(|w| w.1).sum();
            prop_assert_eq!(model.permits + held_n + granted_n, total);
        }
        // Everyone gives up: every permit comes back.
        drop(waiting);
        drop(held);
        prop_assert_eq!(sem.available_permits(), total);
    }
}

// -------------------------------------------------------------------- mutex

#[derive(Debug, Clone)]
enum MutexOp {
    Lock,
    Poll(usize),
    Cancel(usize),
    Unlock,
}

fn mutex_op() -> impl Strategy<Value = MutexOp> {
    prop_oneof![
        3 => Just(MutexOp::Lock),
        3 => any::<usize>().prop_map(MutexOp::Poll),
        2 => any::<usize>().prop_map(MutexOp::Cancel),
        2 => Just(MutexOp::Unlock),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutex_matches_model(ops in prop::collection::vec(mutex_op(), 1..60)) {
        let mutex = Mutex::new(Vec::<u32>::new());
        // Model: holder (None = free), FIFO of (id, granted).
        let mut holder: Option<u32> = None;
        let mut queue: VecDeque<(u32, bool)> = VecDeque::new();
        let mut expected_order = Vec::new();
        type LockFut<'a> = Pin<Box<ringloop::sync::Lock<'a, Vec<u32>>>>;
        let mut waiting: Vec<(u32, LockFut<'_>)> = Vec::new();
        let mut guard = None;
        let mut next_id = 0u32;
        // Hands the lock to the first queued waiter, as unlock must.
        fn hand_over(holder: &mut Option<u32>, queue: &mut VecDeque<(u32, bool)>) {
            *holder = queue.iter_mut().find(|w| !w.1).map(|w| {
                w.1 = true;
                w.0
            });
        }
        for op in ops {
            match op {
                MutexOp::Lock => {
                    let id = next_id;
                    next_id += 1;
                    let mut fut = Box::pin(mutex.lock());
                    match poll(fut.as_mut()) {
                        Poll::Ready(mut g) => {
                            prop_assert!(holder.is_none(), "locked twice");
                            holder = Some(id);
                            g.push(id);
                            expected_order.push(id);
                            guard = Some(g);
                        }
                        Poll::Pending => {
                            prop_assert!(holder.is_some(), "waited on a free mutex");
                            queue.push_back((id, false));
                            waiting.push((id, fut));
                        }
                    }
                }
                MutexOp::Poll(i) if !waiting.is_empty() => {
                    let i = i % waiting.len();
                    let id = waiting[i].0;
                    let pos = queue.iter().position(|w| w.0 == id).unwrap();
                    match poll(waiting[i].1.as_mut()) {
                        Poll::Ready(mut g) => {
                            prop_assert!(queue[pos].1 && holder == Some(id));
                            prop_assert!(guard.is_none(), "two guards at once");
                            queue.remove(pos);
                            drop(waiting.remove(i));
                            g.push(id);
                            expected_order.push(id);
                            guard = Some(g);
                        }
                        Poll::Pending => prop_assert!(!queue[pos].1),
                    }
                }
                MutexOp::Cancel(i) if !waiting.is_empty() => {
                    let (id, fut) = waiting.remove(i % waiting.len());
                    drop(fut);
                    let pos = queue.iter().position(|w| w.0 == id).unwrap();
                    let (_, granted) = queue.remove(pos).unwrap();
                    if granted {
                        hand_over(&mut holder, &mut queue);
                    }
                }
                MutexOp::Unlock if guard.is_some() => {
                    guard = None;
                    hand_over(&mut holder, &mut queue);
                }
                _ => {}
            }
            prop_assert_eq!(mutex.is_locked(), holder.is_some());
        }
        drop(guard);
        drop(waiting);
        prop_assert!(!mutex.is_locked(), "the lock leaked");
        prop_assert_eq!(mutex.into_inner(), expected_order);
    }
}

// -------------------------------------------------------------------- queue

#[derive(Debug, Clone)]
enum QueueOp {
    Put,
    Get,
    PollPut(usize),
    PollGet(usize),
    CancelPut(usize),
    CancelGet(usize),
    TryGet,
    Close,
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        4 => Just(QueueOp::Put),
        4 => Just(QueueOp::Get),
        3 => any::<usize>().prop_map(QueueOp::PollPut),
        3 => any::<usize>().prop_map(QueueOp::PollGet),
        2 => any::<usize>().prop_map(QueueOp::CancelPut),
        2 => any::<usize>().prop_map(QueueOp::CancelGet),
        1 => Just(QueueOp::TryGet),
        1 => Just(QueueOp::Close),
    ]
}

/// A waiting putter in the model: (id, item, verdict once decided).
type Putter = (u32, u32, Option<Result<(), ()>>);

/// The model: stored items, waiting getters/putters in FIFO order with
/// their grants (a getter's item, or `Err` after close; a putter's verdict).
#[derive(Default)]
struct QueueModel {
    cap: Option<usize>,
    items: VecDeque<u32>,
    getters: Vec<(u32, Option<Result<u32, ()>>)>,
    putters: Vec<Putter>,
    closed: bool,
}

impl QueueModel {
    fn full(&self) -> bool {
        self.cap.is_some_and(|c| self.items.len() >= c)
    }
    /// An item entering the queue: to the first waiting getter, or stored.
    fn give(&mut self, item: u32) {
        match self.getters.iter_mut().find(|g| g.1.is_none()) {
            Some(g) => g.1 = Some(Ok(item)),
            None => self.items.push_back(item),
        }
    }
    fn admit(&mut self) {
        while !self.full() {
            let Some(p) = self.putters.iter_mut().find(|p| p.2.is_none()) else {
                break;
            };
            p.2 = Some(Ok(()));
            let item = p.1;
            self.items.push_back(item);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn queue_matches_model(cap in 0usize..4, ops in prop::collection::vec(queue_op(), 1..80)) {
        let queue = Queue::bounded(cap);
        let mut m = QueueModel { cap: (cap > 0).then_some(cap), ..Default::default() };
        type PutFut<'a> = Pin<Box<ringloop::sync::Put<'a, u32, ringloop::sync::store::Fifo<u32>>>>;
        type GetFut<'a> = Pin<Box<ringloop::sync::Get<'a, u32, ringloop::sync::store::Fifo<u32>>>>;
        let mut puts: Vec<(u32, PutFut<'_>)> = Vec::new();
        let mut gets: Vec<(u32, GetFut<'_>)> = Vec::new();
        let mut next = 0u32;
        let mut received = Vec::new();
        let mut accepted = Vec::new(); // items that entered the queue
        for op in ops {
            match op {
                QueueOp::Put => {
                    let (id, item) = (next, next);
                    next += 1;
                    let mut fut = Box::pin(queue.put(item));
                    let waits_for_room = !m.putters.iter().all(|p| p.2.is_some()) || m.full();
                    match poll(fut.as_mut()) {
                        Poll::Ready(Ok(())) => {
                            prop_assert!(!m.closed && !waits_for_room);
                            accepted.push(item);
                            m.give(item);
                        }
                        Poll::Ready(Err(e)) => {
                            prop_assert!(m.closed);
                            prop_assert_eq!(e.0, item);
                        }
                        Poll::Pending => {
                            prop_assert!(!m.closed && waits_for_room);
                            m.putters.push((id, item, None));
                            puts.push((id, fut));
                        }
                    }
                }
                QueueOp::Get => {
                    let id = next;
                    next += 1;
                    let mut fut = Box::pin(queue.get());
                    match poll(fut.as_mut()) {
                        Poll::Ready(Ok(item)) => {
                            prop_assert_eq!(m.items.pop_front(), Some(item), "FIFO order");
                            received.push(item);
                            let before = m.putters.iter().filter(|p| p.2.is_some()).count();
                            m.admit();
                            let after: Vec<u32> = m.putters.iter().filter(|p| p.2.is_some()).map(|p| p.1).collect();
                            accepted.extend(after.into_iter().skip(before));
                        }
                        Poll::Ready(Err(QueueClosed { .. })) => {
                            prop_assert!(m.closed && m.items.is_empty());
                        }
                        Poll::Pending => {
                            prop_assert!(!m.closed && m.items.is_empty());
                            m.getters.push((id, None));
                            gets.push((id, fut));
                        }
                    }
                }
                QueueOp::PollPut(i) if !puts.is_empty() => {
                    let i = i % puts.len();
                    let id = puts[i].0;
                    let pos = m.putters.iter().position(|p| p.0 == id).unwrap();
                    match poll(puts[i].1.as_mut()) {
                        Poll::Ready(r) => {
                            let verdict = m.putters[pos].2;
                            prop_assert!(verdict.is_some(), "put finished before its turn");
                            prop_assert_eq!(r.is_ok(), verdict == Some(Ok(())));
                            m.putters.remove(pos);
                            drop(puts.remove(i));
                        }
                        Poll::Pending => prop_assert!(m.putters[pos].2.is_none()),
                    }
                }
                QueueOp::PollGet(i) if !gets.is_empty() => {
                    let i = i % gets.len();
                    let id = gets[i].0;
                    let pos = m.getters.iter().position(|g| g.0 == id).unwrap();
                    match poll(gets[i].1.as_mut()) {
                        Poll::Ready(r) => {
                            let grant = m.getters[pos].1;
                            prop_assert!(grant.is_some(), "get finished before its turn");
                            prop_assert_eq!(r.map_err(|_| ()), grant.unwrap());
                            if let Some(Ok(item)) = grant {
                                received.push(item);
                            }
                            m.getters.remove(pos);
                            drop(gets.remove(i));
                        }
                        Poll::Pending => prop_assert!(m.getters[pos].1.is_none()),
                    }
                }
                QueueOp::CancelPut(i) if !puts.is_empty() => {
                    let (id, fut) = puts.remove(i % puts.len());
                    drop(fut);
                    let pos = m.putters.iter().position(|p| p.0 == id).unwrap();
                    m.putters.remove(pos); // a queued item leaves with it
                }
                QueueOp::CancelGet(i) if !gets.is_empty() => {
                    let (id, fut) = gets.remove(i % gets.len());
                    drop(fut);
                    let pos = m.getters.iter().position(|g| g.0 == id).unwrap();
                    if let (_, Some(Ok(item))) = m.getters.remove(pos) {
                        // Back in front: to the next waiting getter, or stored first.
                        match m.getters.iter_mut().find(|g| g.1.is_none()) {
                            Some(g) => g.1 = Some(Ok(item)),
                            None => m.items.push_front(item),
                        }
                    }
                }
                QueueOp::TryGet => match queue.try_get() {
                    Ok(item) => {
                        prop_assert_eq!(m.items.pop_front(), Some(item), "FIFO order");
                        received.push(item);
                        let before = m.putters.iter().filter(|p| p.2.is_some()).count();
                        m.admit();
                        let after: Vec<u32> = m.putters.iter().filter(|p| p.2.is_some()).map(|p| p.1).collect();
                        accepted.extend(after.into_iter().skip(before));
                    }
                    Err(TryGetError::Empty) => prop_assert!(m.items.is_empty() && !m.closed),
                    Err(TryGetError::Closed) => prop_assert!(m.items.is_empty() && m.closed),
                },
                QueueOp::Close => {
                    queue.close();
                    m.closed = true;
                    for g in m.getters.iter_mut().filter(|g| g.1.is_none()) {
                        g.1 = Some(Err(()));
                    }
                    for p in m.putters.iter_mut().filter(|p| p.2.is_none()) {
                        p.2 = Some(Err(()));
                    }
                }
                _ => {}
            }
            prop_assert_eq!(queue.qsize(), m.items.len());
        }
        // Nothing lost, nothing duplicated: every accepted item was received,
        // is still stored, or is held by a getter that has not looked yet.
        drop(puts);
        let pending_grants: Vec<u32> = m.getters.iter().filter_map(|g| match g.1 { Some(Ok(i)) => Some(i), _ => None }).collect();
        drop(gets); // grants go back into the store
        let mut rest = Vec::new();
        while let Ok(item) = queue.try_get() {
            rest.push(item);
        }
        let mut all: Vec<u32> = received.iter().chain(&rest).copied().collect();
        all.sort_unstable();
        let mut expect = accepted.clone();
        expect.sort_unstable();
        prop_assert_eq!(all, expect);
        for i in pending_grants {
            prop_assert!(rest.contains(&i), "a granted item vanished with its getter");
        }
    }
}
