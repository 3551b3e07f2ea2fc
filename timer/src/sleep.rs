//! `sleep` and `sleep_until`.

use crate::driver::Timers;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has passed. A duration too large to represent
/// as an `Instant` sleeps for about 30 years.
///
/// # Panics
/// When first polled outside a ringloop runtime.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(deadline_after(duration))
}

/// Waits until `deadline`.
///
/// # Panics
/// When first polled outside a ringloop runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
    }
}

/// `now + duration`, saturated to about 30 years from now.
pub(crate) fn deadline_after(duration: Duration) -> Instant {
    later(Instant::now(), duration)
}

/// `t + d`, with `d` capped at about 30 years so the sum cannot overflow
/// (`Instant + Duration::MAX` panics); never earlier than `t`.
pub(crate) fn later(t: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    t.checked_add(d.min(FAR)).unwrap_or(t)
}

/// The future of [`sleep`] and [`sleep_until`].
///
/// On its first poll before the deadline the sleep registers in its
/// runtime's timer wheel, which one ring TIMEOUT op, armed for the nearest
/// deadline, drives. A sleep ends at its deadline or up to about 1 ms after
/// it (deadlines are served on a 1 ms grid so that nearby deadlines share a
/// ring timeout), never before. Dropping the sleep removes its entry.
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Entry>,
}

/// A sleep's registration in a runtime's timers.
struct Entry {
    timers: Rc<Timers>,
    key: usize,
}

impl Sleep {
    /// The instant this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline; the next poll registers the new one.
    pub fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
    }

    /// Forgets the registration. Before the deadline the entry is surely
    /// still in the wheel (it fires only once the clock has passed the
    /// deadline) and is removed now; after it, the wheel fires and frees the
    /// entry by itself, and the key may already name another sleep.
    fn deregister(&mut self) {
        if let Some(entry) = self.entry.take() {
            if Instant::now() < self.deadline {
                entry.timers.remove(entry.key);
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if Instant::now() >= this.deadline {
            // The wheel frees a registered entry when it fires it (it may
            // have already): nothing to touch here.
            this.entry = None;
            return Poll::Ready(());
        }
        if let Some(entry) = &this.entry {
            if entry.timers.is_driven() {
                entry.timers.set_waker(entry.key, cx.waker());
                return Poll::Pending;
            }
            // The runtime this sleep registered with has shut down (its
            // driver is gone while this entry is pending): register with
            // the runtime polling it now instead of waiting forever.
            this.deregister();
        }
        let timers = Timers::current();
        let key = timers.insert(this.deadline, cx.waker());
        this.entry = Some(Entry { timers, key });
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.entry.is_some())
            .finish()
    }
}
