//! Tasks: spawning, running, cancelling, and reporting what nobody observed.

mod join;
pub(crate) mod waker;

pub use join::{JoinError, JoinHandle};

use crate::executor::Config;
pub(crate) use join::panic_message;
use join::Join;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use waker::Header;

/// What the runtime does when a task panics and nobody can observe it
/// (its [`JoinHandle`] was dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnhandledPanic {
    /// Print the task's id, name, spawn location and panic message on stderr
    /// and keep running (the default).
    #[default]
    Report,
    /// Print the same report, then abort the process.
    Abort,
}

/// A poll longer than this is reported in debug mode.
const SLOW_POLL: Duration = Duration::from_millis(100);

/// Where a task came from, for reports (its id lives in the header).
pub(crate) struct Meta {
    pub(crate) name: Option<Arc<str>>,
    pub(crate) location: &'static Location<'static>,
}

/// A task as reports name it: id, name, spawn location.
struct Described<'a> {
    id: u64,
    meta: &'a Meta,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.id)?;
        if let Some(name) = &self.meta.name {
            write!(f, " '{name}'")?;
        }
        write!(f, " (spawned at {})", self.meta.location)
    }
}

/// The executor's view of a task, erased over its future type.
pub(crate) trait Runnable {
    /// Polls the task once (or cancels it if aborted); `key` and `id` are
    /// its slot and id in the executor. True once it has finished.
    fn run(&self, config: &Config, key: usize, id: u64) -> bool;
    /// Drops the future (shutdown); the handle resolves to "cancelled".
    fn cancel(&self);
    /// The task as reports name it.
    fn describe(&self) -> String;
}

/// The life of a task's future.
enum Stage<F: Future> {
    /// Being polled. Pinned: the task lives in an `Rc` and this value is only
    /// ever dropped in place, never moved. -> Finished.
    Running(F),
    /// Ended; the output waits for the handle. -> Consumed.
    Finished(Result<F::Output, JoinError>),
    /// The handle took the output, or it was dropped because nobody will.
    Consumed,
}

pub(crate) struct Task<F: Future> {
    header: Arc<Header>,
    waker: Waker,
    stage: RefCell<Stage<F>>,
    /// Taken out and put back to compare (a `Cell` is smaller than a `RefCell`).
    join_waker: Cell<Option<Waker>>,
    aborted: Cell<bool>,
    detached: Cell<bool>,
    meta: Meta,
    unhandled_panic: UnhandledPanic,
}

impl<F: Future + 'static> Task<F> {
    pub(crate) fn new(future: F, header: Arc<Header>, meta: Meta, config: &Config) -> Rc<Self> {
        Rc::new(Task {
            waker: header.waker(),
            header,
            stage: RefCell::new(Stage::Running(future)),
            join_waker: Cell::new(None),
            aborted: Cell::new(false),
            detached: Cell::new(false),
            meta,
            unhandled_panic: config.unhandled_panic,
        })
    }

    fn described(&self) -> Described<'_> {
        Described {
            id: self.header.id,
            meta: &self.meta,
        }
    }

    /// Stores the task's result, or drops it at once if nobody can take it.
    fn finish(&self, stage: &mut Stage<F>, result: Result<F::Output, JoinError>) {
        // Assigning drops the future in place, as the pin contract requires
        // (and leaves `Consumed` in place even if that drop unwinds). A panic
        // in the future's Drop is the task's failure: it goes to the handle
        // instead of unwinding through the executor and ending the runtime.
        let result = match catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed)) {
            Ok(()) => result,
            // A panic from the poll itself stays the one reported.
            Err(_) if matches!(&result, Err(e) if e.is_panic()) => result,
            Err(payload) => {
                let _ = catch_unwind(AssertUnwindSafe(|| drop(result)));
                Err(JoinError::panic(
                    self.header.id,
                    self.meta.name.clone(),
                    payload,
                ))
            }
        };
        *stage = Stage::Finished(result);
        if self.detached.get() {
            self.drop_unobserved(stage);
        } else if let Some(w) = self.join_waker.take() {
            w.wake();
        }
    }

    /// Drops an output no handle will take; reports a panic among them.
    fn drop_unobserved(&self, stage: &mut Stage<F>) {
        if let Stage::Finished(Err(e)) = std::mem::replace(stage, Stage::Consumed) {
            if let Ok(payload) = e.try_into_panic() {
                report_unhandled_panic(self.described(), payload.as_ref(), self.unhandled_panic);
            }
        }
    }
}

fn report_unhandled_panic(
    meta: Described<'_>,
    payload: &(dyn std::any::Any + Send),
    policy: UnhandledPanic,
) {
    eprintln!(
        "ringloop: {meta} panicked and its JoinHandle was dropped, so nobody can observe it: {}",
        panic_message(payload)
    );
    if policy == UnhandledPanic::Abort {
        eprintln!(
            "ringloop: aborting the process (Builder::unhandled_panic(UnhandledPanic::Abort))"
        );
        std::process::abort();
    }
}

impl<F: Future + 'static> Runnable for Task<F> {
    fn run(&self, config: &Config, key: usize, id: u64) -> bool {
        let mut stage = self.stage.borrow_mut();
        let Stage::Running(future) = &mut *stage else {
            return true;
        };
        if self.aborted.get() {
            let err = JoinError::cancelled(self.header.id, self.meta.name.clone());
            self.finish(&mut stage, Err(err));
            return true;
        }
        // SAFETY: the future lives inside this task's `Rc` allocation and is
        // never moved out of `Stage::Running`; it is dropped in place (see `Stage`).
        let future = unsafe { Pin::new_unchecked(future) };
        let mut cx = Context::from_waker(&self.waker);
        let started = config.debug.then(Instant::now);
        crate::context::set_polling(crate::context::TaskRef::new(&self.waker, key, id));
        let polled = catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx)));
        crate::context::set_polling(crate::context::TaskRef::NONE);
        if let Some(started) = started {
            let took = started.elapsed();
            if took > SLOW_POLL {
                eprintln!(
                    "ringloop debug: {} blocked the event loop for {} ms in one poll; move \
                     blocking work to ringloop::to_thread",
                    self.described(),
                    took.as_millis()
                );
            }
        }
        let result = match polled {
            Ok(Poll::Pending) => return false,
            Ok(Poll::Ready(out)) => Ok(out),
            Err(payload) => Err(JoinError::panic(
                self.header.id,
                self.meta.name.clone(),
                payload,
            )),
        };
        self.finish(&mut stage, result);
        true
    }

    fn cancel(&self) {
        let Ok(mut stage) = self.stage.try_borrow_mut() else {
            return;
        };
        if matches!(*stage, Stage::Running(_)) {
            let err = JoinError::cancelled(self.header.id, self.meta.name.clone());
            self.finish(&mut stage, Err(err));
        }
    }

    fn describe(&self) -> String {
        self.described().to_string()
    }
}

impl<F: Future + 'static> Join<F::Output> for Task<F> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, JoinError>> {
        // The stage is borrowed only while the task itself runs; a task that
        // awaits its own handle simply never finishes.
        if let Ok(mut stage) = self.stage.try_borrow_mut() {
            match &*stage {
                Stage::Finished(_) => match std::mem::replace(&mut *stage, Stage::Consumed) {
                    Stage::Finished(result) => return Poll::Ready(result),
                    _ => unreachable!("matched Finished above"),
                },
                Stage::Consumed => panic!("JoinHandle polled after it returned the task's output"),
                Stage::Running(_) => {}
            }
        }
        let stored = match self.join_waker.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        self.join_waker.set(Some(stored));
        Poll::Pending
    }

    fn abort(&self) {
        if self.is_finished() {
            return;
        }
        self.aborted.set(true);
        self.waker.wake_by_ref();
    }

    fn is_finished(&self) -> bool {
        match self.stage.try_borrow() {
            Ok(stage) => !matches!(*stage, Stage::Running(_)),
            Err(_) => false,
        }
    }

    fn detach(&self) {
        self.detached.set(true);
        drop(self.join_waker.take());
        if let Ok(mut stage) = self.stage.try_borrow_mut() {
            if matches!(*stage, Stage::Finished(_)) {
                self.drop_unobserved(&mut stage);
            }
        }
    }

    fn id(&self) -> u64 {
        self.header.id
    }
}

/// Spawns a task on the current runtime; it starts running on the loop's
/// next turn. The future need not be `Send`.
///
/// # Panics
/// Outside a ringloop runtime.
///
/// ```
/// let out = ringloop_runtime::run(async {
///     let handle = ringloop_runtime::spawn(async { 40 + 2 });
///     handle.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
#[track_caller]
pub fn spawn<F: Future + 'static>(future: F) -> JoinHandle<F::Output> {
    let location = Location::caller();
    crate::context::core("ringloop::spawn").spawn(future, None, location)
}

/// Like [`spawn`], with a name that reports and [`JoinError`]s carry.
#[track_caller]
pub fn spawn_named<F: Future + 'static>(name: &str, future: F) -> JoinHandle<F::Output> {
    let location = Location::caller();
    crate::context::core("ringloop::spawn_named").spawn(future, Some(name.into()), location)
}

/// Yields to the other tasks once: the task is queued behind those ready now.
///
/// ```
/// ringloop_runtime::run(async { ringloop_runtime::yield_now().await });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "yield_now does nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.yielded, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
