//! The single-threaded executor: the task slab, the run queue, and the loop
//! that alternates between polling tasks and turning the ring.

use crate::driver::{Completions, Driver};
use crate::task::waker::{Header, Remote, Shared, MAIN_KEY};
use crate::task::{JoinHandle, Meta, Runnable, Task, UnhandledPanic};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Executor settings fixed at build time.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Tasks polled per turn before the ring is checked (fairness for I/O).
    pub(crate) event_interval: u32,
    pub(crate) debug: bool,
    pub(crate) unhandled_panic: UnhandledPanic,
    /// Blocking-pool size and idle timeout (see `crate::blocking`).
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: std::time::Duration,
}

/// Everything one runtime owns. Lives in an `Rc`, made current on its thread
/// while the runtime runs.
pub(crate) struct Core {
    pub(crate) driver: Rc<RefCell<Driver>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) blocking: crate::blocking::Pool,
    /// Live tasks, so a queued (slot, id) is checked without reaching
    /// into the task.
    tasks: RefCell<slab::Slab<TaskEntry>>,
    /// Tasks ready to run, as (slot, id): a stale entry whose id no longer
    /// matches its slot is skipped.
    queue: RefCell<VecDeque<(usize, u64)>>,
    main_woken: Cell<bool>,
    next_id: Cell<u64>,
    config: Config,
    /// Swapped with the driver's every turn (no allocation in steady state);
    /// empty between turns.
    completions: RefCell<Completions>,
    remote: RefCell<Vec<Remote>>,
    /// Per-runtime values of `runtime_local`.
    pub(crate) locals: crate::local::Locals,
    /// The driver's ring id (see `context::ring_id`).
    pub(crate) ring_id: u64,
}

impl Core {
    pub(crate) fn new(driver: Driver, shared: Arc<Shared>, config: Config) -> Core {
        Core {
            ring_id: driver.ring_id(),
            driver: Rc::new(RefCell::new(driver)),
            shared,
            blocking: crate::blocking::Pool::new(
                config.max_blocking_threads,
                config.blocking_keep_alive,
            ),
            tasks: RefCell::new(slab::Slab::with_capacity(64)),
            queue: RefCell::new(VecDeque::with_capacity(64)),
            main_woken: Cell::new(false),
            next_id: Cell::new(1),
            config,
            completions: RefCell::new(Completions::with_capacity(64)),
            remote: RefCell::new(Vec::new()),
            locals: Default::default(),
        }
    }

    /// Queues a task woken on this thread, unless it is queued already or
    /// has finished.
    pub(crate) fn schedule(&self, key: usize, id: u64) {
        if key == MAIN_KEY {
            self.main_woken.set(true);
            return;
        }
        match self.tasks.try_borrow() {
            Ok(tasks) => schedule_in(&tasks, &mut self.queue.borrow_mut(), key, id),
            // Not reached (no wake-up happens while the slab is borrowed
            // mutably); a task queued twice is merely polled twice.
            Err(_) => self.queue.borrow_mut().push_back((key, id)),
        }
    }

    pub(crate) fn spawn<F: Future + 'static>(
        &self,
        future: F,
        name: Option<Arc<str>>,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let key = entry.key();
        let header = Header::new(key, id, self.shared.clone());
        let task = Task::new(future, header, Meta { name, location }, &self.config);
        entry.insert(TaskEntry {
            id,
            queued: Cell::new(true),
            task: task.clone(),
        });
        drop(tasks);
        self.queue.borrow_mut().push_back((key, id));
        JoinHandle::new(task)
    }

    /// Runs `future` to completion, running spawned tasks and the ring meanwhile.
    pub(crate) fn block_on<F: Future>(self: &Rc<Self>, future: F) -> F::Output {
        let _enter = crate::context::enter(self.clone(), true);
        let header = Header::new(MAIN_KEY, 0, self.shared.clone());
        let waker = header.waker();
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        self.main_woken.set(true);
        loop {
            if self.main_woken.replace(false) {
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    // Ops pushed but not submitted, such as a MSG_RING that
                    // wakes another runtime, must not wait for this
                    // runtime's next block_on.
                    self.driver.borrow_mut().submit_pending();
                    return out;
                }
            }
            self.run_ready_tasks();
            self.drain_remote();
            let idle = !self.main_woken.get() && self.queue.borrow().is_empty();
            self.turn(idle);
        }
    }

    /// Polls up to `event_interval` ready tasks.
    fn run_ready_tasks(&self) {
        for _ in 0..self.config.event_interval {
            let (key, id, next) = {
                let mut queue = self.queue.borrow_mut();
                let Some((key, id)) = queue.pop_front() else {
                    return;
                };
                (key, id, queue.front().map(|&(k, _)| k))
            };
            let task = {
                let tasks = self.tasks.borrow();
                // With many connections the next task's memory is usually
                // not in cache: start loading it while this one runs.
                if let Some(next) = next.and_then(|k| tasks.get(k)) {
                    prefetch_task(&next.task);
                }
                match tasks.get(key) {
                    Some(entry) if entry.id == id => {
                        // A wake-up from now on queues it again.
                        entry.queued.set(false);
                        entry.task.clone()
                    }
                    _ => continue,
                }
            };
            if task.run(&self.config, key, id) {
                let mut tasks = self.tasks.borrow_mut();
                if tasks.get(key).is_some_and(|entry| entry.id == id) {
                    let task = tasks.remove(key);
                    drop(tasks);
                    drop(task);
                }
            }
        }
    }

    /// A `Send` handle to this runtime.
    pub(crate) fn handle(&self) -> crate::Handle {
        crate::group::Handle::new(self.shared.clone(), crate::thread_index())
    }

    /// Queues tasks woken from other threads and runs the closures they
    /// handed over (`Handle::spawn`), in arrival order.
    fn drain_remote(&self) {
        let mut remote = std::mem::take(&mut *self.remote.borrow_mut());
        self.shared.drain_remote(&mut remote);
        for work in remote.drain(..) {
            match work {
                Remote::Wake(header) => {
                    // Cleared first: a wake-up from now on lists the task
                    // again (the queue still holds it at most once).
                    header.remote_queued.store(false, Ordering::Release);
                    self.schedule(header.key, header.id);
                }
                Remote::Run(job) => job(),
            }
        }
        *self.remote.borrow_mut() = remote;
    }

    /// Submits and reaps once, then wakes the completed ops' tasks and frees
    /// abandoned ops' resources outside the driver borrow.
    fn turn(&self, block: bool) {
        let mut done = std::mem::take(&mut *self.completions.borrow_mut());
        {
            let mut driver = self.driver.borrow_mut();
            if let Err(e) = driver.turn(block) {
                panic!("{e}; the ring cannot make progress");
            }
            driver.take_completions(&mut done);
        }
        let Completions {
            tasks: woken_tasks,
            wakers,
            orphans,
        } = &mut done;
        for (orphan, cqe) in orphans.drain(..) {
            orphan.complete(cqe);
        }
        // Each waker's header is usually a cache miss: start loading them
        // all before the loop, which would otherwise take the misses one
        // at a time. (Any other waker's data pointer is prefetched too; a
        // prefetch never faults.)
        for waker in wakers.iter() {
            crate::sys::prefetch(waker.data().cast(), 64);
        }
        // Most completions name a task of this runtime (most ops are
        // awaited by a task with its own waker), and most wakers are this
        // runtime's own (tasks' and block_on's): those are queued directly,
        // under one borrow of the slab and the queue, without the
        // thread-local lookup of the general path. Any other waker is woken
        // without the borrows: it may reach them.
        {
            let tasks = self.tasks.borrow();
            let mut queue = self.queue.borrow_mut();
            for (key, id) in woken_tasks.drain(..) {
                schedule_in(&tasks, &mut queue, key, id);
            }
        }
        // Other wakers, woken after the borrows (allocates only if any).
        let mut pending = Vec::new();
        {
            let tasks = self.tasks.borrow();
            let mut queue = self.queue.borrow_mut();
            for waker in wakers.drain(..) {
                match Header::of(&waker) {
                    Some(h) if Arc::ptr_eq(&h.shared, &self.shared) => {
                        if h.key == MAIN_KEY {
                            self.main_woken.set(true);
                        } else {
                            schedule_in(&tasks, &mut queue, h.key, h.id);
                        }
                    }
                    _ => pending.push(waker),
                }
            }
        }
        for waker in pending {
            waker.wake();
        }
        *self.completions.borrow_mut() = done;
    }

    /// Descriptions of the tasks that have not finished.
    pub(crate) fn pending_tasks(&self) -> Vec<String> {
        self.tasks
            .borrow()
            .iter()
            .map(|(_, entry)| entry.task.describe())
            .collect()
    }

    /// Cancels every task, then every op, and closes the ring.
    pub(crate) fn shutdown(self: &Rc<Self>) {
        let _enter = crate::context::enter(self.clone(), false);
        if self.config.debug {
            let pending = self.pending_tasks();
            if !pending.is_empty() {
                eprintln!(
                    "ringloop debug: {} task(s) still pending at shutdown are cancelled:",
                    pending.len()
                );
                for task in pending {
                    eprintln!("  {task}");
                }
            }
        }
        // Dropping a future may spawn or wake; repeat until nothing is left.
        loop {
            let tasks: Vec<_> = self.tasks.borrow_mut().drain().collect();
            if tasks.is_empty() {
                break;
            }
            for entry in tasks {
                entry.task.cancel();
            }
        }
        self.queue.borrow_mut().clear();
        self.blocking.shutdown();
        self.shared.close();
        self.locals.clear();
        self.driver.borrow_mut().shutdown();
    }
}

/// A live task in the executor's slab.
struct TaskEntry {
    id: u64,
    /// Set while the task is in the run queue: it is queued at most once.
    queued: Cell<bool>,
    task: Rc<dyn Runnable>,
}

/// Queues the task in `key` if it is still the one with `id` and not queued.
#[inline]
fn schedule_in(
    tasks: &slab::Slab<TaskEntry>,
    queue: &mut VecDeque<(usize, u64)>,
    key: usize,
    id: u64,
) {
    if let Some(entry) = tasks.get(key) {
        if entry.id == id && !entry.queued.replace(true) {
            queue.push_back((key, id));
        }
    }
}

/// Prefetches the start of a task's allocation: its reference counts and
/// the first lines of the task, where the state polled first lives.
fn prefetch_task(task: &Rc<dyn Runnable>) {
    // The counts sit just before the value in an `Rc` allocation.
    let start = Rc::as_ptr(task).cast::<u8>().wrapping_sub(16);
    crate::sys::prefetch(start, 256);
}
