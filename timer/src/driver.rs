//! The per-runtime timer state and the task that drives it with a single
//! ring TIMEOUT op armed for the nearest deadline.
//!
//! Why not one TIMEOUT op per sleep: on the development machine (kernel
//! 6.18, 2 vCPUs) 1,000,000 concurrent TIMEOUT ops took 36 s of wall time
//! and 27 s of CPU, nearly all of it inside the kernel's `io_timeout`
//! with interrupts disabled, against 1.5 s for tokio's timer wheel. Behind
//! one ring timeout, the same run takes 1.1 s (median of 5, quiet machine;
//! `cargo bench --bench timers`).

use crate::wheel::{Wheel, TICK_NS};
use ringloop_runtime::op::Deadline;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The timer state of one runtime (a `runtime_local`).
pub(crate) struct Timers {
    wheel: RefCell<Wheel>,
    /// Whether a driver task is alive (it ends when the wheel is empty).
    driver_alive: Cell<bool>,
    /// The grid instant the driver's ring timeout is armed for (`u64::MAX`: none).
    armed_for: Cell<u64>,
    driver_waker: RefCell<Option<Waker>>,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            wheel: RefCell::new(Wheel::new()),
            driver_alive: Cell::new(false),
            armed_for: Cell::new(u64::MAX),
            driver_waker: RefCell::new(None),
        }
    }
}

impl fmt::Debug for Timers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timers")
            .field("pending", &self.wheel.borrow().pending())
            .field("driver_alive", &self.driver_alive.get())
            .finish()
    }
}

/// Deadlines are served on the wheel's 1 ms grid: the ring timeout is armed
/// for the nearest deadline rounded up to it, so a sleep ends at its
/// deadline or up to 1 ms later, never earlier, and nearby deadlines share
/// one ring timeout.
fn grid_ceil(ns: u64) -> u64 {
    ns.div_ceil(TICK_NS).saturating_mul(TICK_NS)
}

impl Timers {
    /// The current runtime's timers.
    pub(crate) fn current() -> Rc<Timers> {
        ringloop_runtime::runtime_local::<Timers>()
    }

    /// Registers a wake-up for `deadline`; returns the entry's key.
    pub(crate) fn insert(self: &Rc<Self>, deadline: Instant, waker: &Waker) -> usize {
        let (key, target) = {
            let mut wheel = self.wheel.borrow_mut();
            let when = wheel.to_ns(deadline);
            (wheel.insert(when, waker.clone()), grid_ceil(when))
        };
        if !self.driver_alive.replace(true) {
            self.armed_for.set(u64::MAX);
            let driver = TimerDriver {
                timers: self.clone(),
                op: None,
                done: false,
            };
            drop(ringloop_runtime::spawn_named("ringloop-timer", driver));
        } else if target < self.armed_for.get() {
            // Earlier than what the ring timeout waits for: re-arm.
            if let Some(w) = self.driver_waker.borrow().as_ref() {
                w.wake_by_ref();
            }
        }
        key
    }

    /// Whether a driver task is alive to fire the pending entries. False
    /// with entries pending only once the runtime has shut down.
    pub(crate) fn is_driven(&self) -> bool {
        self.driver_alive.get()
    }

    /// Stores `waker` for the pending entry `key`.
    pub(crate) fn set_waker(&self, key: usize, waker: &Waker) {
        self.wheel.borrow_mut().set_waker(key, waker);
    }

    /// Removes the pending entry `key` (its sleep was dropped or reset
    /// before its deadline).
    /// When no entry is left, the driver is woken so that it ends and its
    /// ring timeout is cancelled: no timer stays armed for nobody.
    pub(crate) fn remove(&self, key: usize) {
        let Ok(mut wheel) = self.wheel.try_borrow_mut() else {
            return;
        };
        wheel.remove(key);
        if wheel.pending() == 0 {
            drop(wheel);
            if let Some(w) = self.driver_waker.borrow().as_ref() {
                w.wake_by_ref();
            }
        }
    }
}

/// The task that fires due entries: it keeps one ring TIMEOUT op armed for
/// the nearest deadline (rounded up to the grid), and ends when no entry is
/// left (the next insert spawns a new one).
struct TimerDriver {
    timers: Rc<Timers>,
    /// The armed ring timeout and the grid instant it is for.
    op: Option<(Deadline, u64)>,
    /// Set when the driver ended because no entry was left.
    done: bool,
}

impl Future for TimerDriver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let timers = this.timers.clone();
        let mut wakers = Vec::new();
        loop {
            let next = {
                let mut wheel = timers.wheel.borrow_mut();
                let now = wheel.now_ns();
                wheel.fire(now, &mut wakers);
                wheel
                    .next()
                    .map(|n| (grid_ceil(n), wheel.to_instant(grid_ceil(n))))
            };
            // Wake outside the borrow; a woken task runs later, not here.
            for w in wakers.drain(..) {
                w.wake();
            }
            let Some((target, at)) = next else {
                timers.driver_alive.set(false);
                timers.armed_for.set(u64::MAX);
                timers.driver_waker.borrow_mut().take();
                this.done = true;
                return Poll::Ready(());
            };
            if !matches!(&this.op, Some((_, armed)) if *armed == target) {
                // Dropping a previous deadline (for a later instant) cancels its op.
                this.op = Some((Deadline::new(at), target));
            }
            timers.armed_for.set(target);
            {
                let mut slot = timers.driver_waker.borrow_mut();
                match &*slot {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
            }
            // Never early: a ring timeout that fails or is cancelled is
            // re-armed by the deadline, which yields rather than spins.
            let (deadline, _) = this.op.as_mut().expect("armed above");
            if deadline.poll_elapsed(cx).is_pending() {
                return Poll::Pending;
            }
            this.op = None;
        }
    }
}

impl Drop for TimerDriver {
    fn drop(&mut self) {
        // Cancelled (runtime shutdown, or never polled): the next insert
        // must spawn a new driver.
        if !self.done {
            self.timers.driver_alive.set(false);
            self.timers.armed_for.set(u64::MAX);
            if let Ok(mut waker) = self.timers.driver_waker.try_borrow_mut() {
                waker.take();
            }
        }
    }
}
