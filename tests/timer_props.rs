//! Timer tests: sleeps wake in deadline order and never early, interval
//! missed-tick policies, and dropped sleeps leave no ring timeout behind.

#[path = "util/sched.rs"]
mod sched_util;

use futures_util::StreamExt;
use proptest::prelude::*;
use ringloop::time::{interval_at, sleep, sleep_until, timeout, MissedTickBehavior};
use ringloop::{spawn, yield_now, Runtime};
use sched_util::UNIT;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Sleeps registered before the earliest deadline wake in deadline order
    /// — even deadlines microseconds apart, inside one 1 ms grid step — and
    /// none wakes before its deadline.
    #[test]
    fn sleeps_wake_in_deadline_order_never_early(
        offsets in proptest::collection::btree_set(0u64..30_000, 1..40),
        seed in any::<u64>(),
    ) {
        // Spawn in a scrambled order so that order of registration is not
        // order of deadlines.
        let mut offsets: Vec<u64> = offsets.into_iter().collect();
        let n = offsets.len();
        for i in 0..n {
            offsets.swap(i, (seed.rotate_left(i as u32) as usize) % n);
        }
        let (log, registered_in_time, start) = ringloop::run(async move {
            let start = Instant::now();
            let base = start + UNIT;
            let log = Rc::new(RefCell::new(Vec::new()));
            let handles: Vec<_> = offsets
                .iter()
                .map(|&us| {
                    let deadline = base + Duration::from_micros(us);
                    let log = log.clone();
                    spawn(async move {
                        sleep_until(deadline).await;
                        log.borrow_mut().push((deadline, Instant::now()));
                    })
                })
                .collect();
            // One yield lets every task register its sleep.
            yield_now().await;
            let registered_in_time = Instant::now() < base;
            for h in handles {
                h.await.expect("sleep task");
            }
            let log = log.take();
            (log, registered_in_time, start)
        });
        prop_assert_eq!(log.len(), n);
        for (deadline, woke) in &log {
            prop_assert!(woke >= deadline, "woke {:?} early", *deadline - *woke);
        }
        // A machine so loaded that registration took a whole unit proves
        // nothing about order; the never-early check above still ran.
        if registered_in_time {
            let deadlines: Vec<Duration> = log.iter().map(|(d, _)| *d - start).collect();
            let mut sorted = deadlines.clone();
            sorted.sort();
            prop_assert_eq!(deadlines, sorted);
        }
    }
}

/// Takes the first tick at `start`, comes back 2.5 periods late, and
/// returns the next three ticks (their scheduled instants).
fn late_consumer(missed: MissedTickBehavior) -> (Instant, Instant, Vec<Instant>) {
    ringloop::run(async move {
        let start = Instant::now();
        let mut ticks = interval_at(start, UNIT);
        ticks.set_missed_tick_behavior(missed);
        assert_eq!(ticks.next().await, Some(start));
        sleep(UNIT * 5 / 2).await;
        let back = Instant::now();
        let mut got = Vec::new();
        for _ in 0..3 {
            let tick = ticks.tick().await;
            assert!(Instant::now() >= tick, "tick {tick:?} delivered early");
            got.push(tick);
        }
        (start, back, got)
    })
}

#[test]
fn interval_burst_delivers_every_missed_tick() {
    let (start, _, got) = late_consumer(MissedTickBehavior::Burst);
    assert_eq!(got, [start + UNIT, start + UNIT * 2, start + UNIT * 3]);
}

#[test]
fn interval_delay_restarts_the_schedule() {
    let (start, back, got) = late_consumer(MissedTickBehavior::Delay);
    assert_eq!(got[0], start + UNIT);
    assert!(
        got[1] >= back + UNIT,
        "the schedule restarts one period after the late tick"
    );
    assert_eq!(got[2], got[1] + UNIT);
}

#[test]
fn interval_skip_keeps_the_phase() {
    let (start, back, got) = late_consumer(MissedTickBehavior::Skip);
    // The missed tick is delivered at once...
    assert_eq!(got[0], start + UNIT);
    // ...then the schedule skips to the first tick of the original grid
    // after the consumer came back (start + 3 units when it came back on
    // time; later on a stalled machine), and goes on from there.
    let since_start = (got[1] - start).as_nanos();
    assert_eq!(
        since_start % UNIT.as_nanos(),
        0,
        "ticks stay on the original grid"
    );
    assert!(
        got[1] >= start + UNIT * 3,
        "the ticks missed while away are skipped"
    );
    assert!(got[1] >= back, "no stale tick after the consumer came back");
    assert_eq!(got[2], got[1] + UNIT);
}

/// Dropping the only pending sleep cancels the ring timeout behind it.
#[test]
fn dropped_sleep_leaves_no_ring_timeout() {
    let rt = Runtime::new().expect("io_uring runtime");
    rt.block_on(async {
        let mut long = sleep(Duration::from_secs(3600));
        // Poll it once so it registers and a ring timeout is armed.
        let first = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::pin::Pin::new(&mut long).poll(cx))
        })
        .await;
        assert!(first.is_pending());
        for _ in 0..3 {
            yield_now().await;
        }
        assert!(rt.ops_in_flight() >= 1, "a ring timeout is armed");
        drop(long);
        let mut turns = 0;
        while rt.ops_in_flight() > 0 && turns < 1000 {
            yield_now().await;
            turns += 1;
        }
        assert_eq!(rt.ops_in_flight(), 0, "the ring timeout was cancelled");
    });
}

/// Durations that overflow `Instant` are accepted (about 30 years).
#[test]
fn huge_durations_do_not_panic() {
    ringloop::run(async {
        assert_eq!(timeout(Duration::MAX, async { 5 }).await, Ok(5));
        let far = sleep(Duration::MAX);
        assert!(far.deadline() > Instant::now() + Duration::from_secs(3600 * 24 * 365));
    });
}

/// A sleep registered in a runtime that has shut down still ends (on
/// time, not early) when awaited in another runtime.
#[test]
fn sleep_outlives_its_first_runtime() {
    let first = Runtime::new().expect("io_uring runtime");
    let deadline = Instant::now() + UNIT;
    let mut nap = Box::pin(sleep_until(deadline));
    first.block_on(async {
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(nap.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
    });
    drop(first);
    let second = Runtime::new().expect("io_uring runtime");
    second.block_on(nap);
    assert!(Instant::now() >= deadline);
}

/// `Duration::MAX` periods and timeouts are "never", not a panic.
#[test]
fn huge_interval_and_wait_timeout_do_not_panic() {
    ringloop::run(async {
        let mut ticks = ringloop::time::interval(Duration::MAX);
        ticks.tick().await; // the first tick is immediate
        let h = ringloop::spawn(async { 5 });
        let out = ringloop::wait(vec![h], ringloop::ReturnWhen::AllCompleted)
            .timeout(Duration::MAX)
            .await;
        assert!(!out.timed_out);
        assert_eq!(out.done.len(), 1);
    });
}
