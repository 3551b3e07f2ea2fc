//! `interval` and `interval_at`: a stream of periodic ticks.

use crate::sleep::{later, sleep_until, Sleep};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What an [`Interval`] does when ticks were missed because the consumer
/// was late (it polled after the next tick's deadline had already passed).
///
/// Example: period 10 ms, ticks scheduled at 0, 10, 20, 30 ms; the consumer
/// takes the tick at 0 ms and comes back at 25 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Yield every missed tick at once, then keep the original schedule:
    /// the ticks of 10 and 20 ms right away at 25 ms, then 30, 40, ... ms.
    /// Good when every tick counts (a rate that must average out).
    #[default]
    Burst,
    /// Yield one tick now and restart the schedule from it: the tick of
    /// 10 ms at 25 ms, then 35, 45, ... ms. Good for "at least a period between ticks".
    Delay,
    /// Yield one tick now and drop the other missed ones, keeping the
    /// original phase: the tick of 10 ms at 25 ms (20 ms is dropped), then
    /// 30, 40, ... ms. Good for
    /// wall-clock aligned work.
    Skip,
}

/// Ticks every `period`, the first tick at once. A [`futures_util::Stream`]
/// of the scheduled `Instant` of each tick; it never ends.
///
/// A zero `period` is treated as one nanosecond (there is nothing useful
/// to do with an interval that never waits).
///
/// ```
/// use futures_util::StreamExt;
/// use std::time::{Duration, Instant};
///
/// ringloop_runtime::run(async {
///     let start = Instant::now();
///     let mut ticks = ringloop_timer::interval(Duration::from_millis(10));
///     for _ in 0..3 {
///         ticks.next().await;
///     }
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`; see [`interval`].
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    Interval {
        sleep: sleep_until(start),
        period: period.max(Duration::from_nanos(1)),
        missed: MissedTickBehavior::default(),
    }
}

/// The stream of [`interval`]. Each tick is a ring TIMEOUT op that never
/// fires early.
#[derive(Debug)]
#[must_use = "an interval does nothing unless polled"]
pub struct Interval {
    /// Sleeps until the next tick's scheduled instant.
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; `Ready` with its scheduled instant.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.sleep.deadline();
        let next = self.next_after(tick, Instant::now());
        self.sleep.reset(next);
        Poll::Ready(tick)
    }

    /// The deadline of the tick after `tick`, given the time `now`.
    fn next_after(&self, tick: Instant, now: Instant) -> Instant {
        let on_schedule = later(tick, self.period);
        if now < on_schedule {
            return on_schedule;
        }
        match self.missed {
            MissedTickBehavior::Burst => on_schedule,
            MissedTickBehavior::Delay => later(now, self.period),
            MissedTickBehavior::Skip => {
                // The first instant of the original schedule after `now`.
                let late = (now - tick).as_nanos();
                let periods = late / self.period.as_nanos() + 1;
                let ahead = self.period.as_nanos() * periods;
                later(tick, duration_from_nanos(ahead))
            }
        }
    }

    /// The missed-tick policy in use.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets the missed-tick policy (default [`MissedTickBehavior::Burst`]).
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(later(Instant::now(), self.period));
    }
}

/// `Duration::from_nanos` for a `u128`, saturating at `Duration::MAX`.
fn duration_from_nanos(nanos: u128) -> Duration {
    let secs = nanos / 1_000_000_000;
    let sub = (nanos % 1_000_000_000) as u32;
    match u64::try_from(secs) {
        Ok(secs) => Duration::new(secs, sub),
        Err(_) => Duration::MAX,
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    fn interval_with(missed: MissedTickBehavior, base: Instant) -> Interval {
        let mut i = interval_at(base, Duration::from_millis(10));
        i.set_missed_tick_behavior(missed);
        i
    }

    #[test]
    fn on_time_ticks_keep_the_schedule() {
        let base = Instant::now();
        for missed in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            let i = interval_with(missed, base);
            assert_eq!(i.next_after(at(base, 0), at(base, 3)), at(base, 10));
        }
    }

    #[test]
    fn late_consumer_follows_the_policy() {
        let base = Instant::now();
        let burst = interval_with(MissedTickBehavior::Burst, base);
        assert_eq!(burst.next_after(at(base, 0), at(base, 25)), at(base, 10));
        let delay = interval_with(MissedTickBehavior::Delay, base);
        assert_eq!(delay.next_after(at(base, 0), at(base, 25)), at(base, 35));
        let skip = interval_with(MissedTickBehavior::Skip, base);
        assert_eq!(skip.next_after(at(base, 0), at(base, 25)), at(base, 30));
        // Exactly on a later tick: that tick has come, the next one is after it.
        assert_eq!(skip.next_after(at(base, 0), at(base, 20)), at(base, 30));
    }
}
