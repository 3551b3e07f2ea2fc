//! hyper's runtime hooks on ringloop: [`LocalExec`] and [`RingTimer`].

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// hyper's executor on the current ringloop runtime: each future hyper
/// hands over (HTTP/2 streams and connection tasks, client connections)
/// becomes a local task with [`ringloop_runtime::spawn`]. The futures need
/// not be `Send`, so services may hold `Rc` and `RefCell` state.
///
/// # Panics
/// `execute` panics outside a ringloop runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        // Detached: hyper watches its tasks' ends itself.
        drop(ringloop_runtime::spawn(async move {
            fut.await;
        }));
    }
}

/// hyper's [`Timer`](hyper::rt::Timer) on ringloop's timers, for
/// header-read, keep-alive and HTTP/2 ping timeouts.
///
/// hyper requires its sleeps to be `Send + Sync`; ringloop's timers belong
/// to one runtime and are not. So the sleep hyper holds is a ticket: the
/// timer itself lives in a table of the thread that made it, and the
/// ticket is polled (and dropped) there, where hyper's local tasks run.
///
/// # Panics
/// A sleep panics if polled on another thread than the one that made it,
/// or outside a ringloop runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingTimer;

thread_local! {
    /// The sleeps behind this thread's tickets.
    static SLEEPS: RefCell<slab::Slab<ringloop_timer::Sleep>> =
        const { RefCell::new(slab::Slab::new()) };
    /// This thread's number, cheaper to read than `thread::current().id()`.
    static THREAD: u64 = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

/// The next thread number to hand out.
static NEXT_THREAD: AtomicU64 = AtomicU64::new(0);

fn this_thread() -> u64 {
    THREAD.with(|t| *t)
}

/// A `Send + Sync` ticket for a sleep kept in [`SLEEPS`].
struct Ticket {
    key: usize,
    thread: u64,
}

impl Ticket {
    fn new(deadline: Instant) -> Ticket {
        let sleep = ringloop_timer::sleep_until(deadline);
        let key = SLEEPS.with(|s| s.borrow_mut().insert(sleep));
        Ticket {
            key,
            thread: this_thread(),
        }
    }

    fn check_thread(&self) {
        assert!(
            self.thread == this_thread(),
            "a ringloop hyper timer was polled on another thread than its runtime's; \
             run hyper's futures on the runtime that made them (LocalExec)"
        );
    }
}

impl Future for Ticket {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.check_thread();
        SLEEPS.with(|s| Pin::new(&mut s.borrow_mut()[self.key]).poll(cx))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if THREAD.try_with(|t| *t == self.thread).unwrap_or(false) {
            // `try_with`: at thread exit the table may be gone already.
            let _ = SLEEPS.try_with(|s| drop(s.borrow_mut().try_remove(self.key)));
        }
        // On another thread the entry stays until its thread ends; hyper
        // drops its timers where it polls them, so this does not happen in
        // practice.
    }
}

impl hyper::rt::Sleep for Ticket {}

impl hyper::rt::Timer for RingTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future);
        Box::pin(Ticket::new(deadline))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Ticket::new(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        if let Some(ticket) = sleep.as_mut().downcast_mut_pin::<Ticket>() {
            ticket.check_thread();
            SLEEPS.with(|s| s.borrow_mut()[ticket.key].reset(new_deadline));
        } else {
            *sleep = self.sleep_until(new_deadline);
        }
    }
}

/// A deadline no timeout reaches (about 30 years out).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}
