//! Helpers for the scheduler and timer property tests: planned task
//! behaviours on a coarse time grid, and a panic hook that keeps planned
//! panics off stderr.
#![allow(dead_code)]

use proptest::prelude::*;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Once;
use std::time::{Duration, Instant};

/// The time grid of the property tests. Planned completion times are whole
/// multiples of it, so two events that should be ordered are at least this
/// far apart: generous for a loaded 2-core machine.
pub const UNIT: Duration = Duration::from_millis(60);

/// The message of every planned panic (filtered from stderr).
pub const PLANNED: &str = "planned panic";

/// How a planned task ends once its sleep is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Returns `Ok(value)`.
    Ok(u32),
    /// Returns `Err(value)`.
    Err(u32),
    /// Panics with [`PLANNED`].
    Panic,
    /// Is aborted through its handle right after being spawned.
    Abort,
}

impl Outcome {
    /// A failure for `wait(FirstError)`: panic or abort.
    pub fn is_join_failure(self) -> bool {
        matches!(self, Outcome::Panic | Outcome::Abort)
    }

    /// A failure for `try_wait(FirstError)`: also an `Err` output.
    pub fn is_failure(self) -> bool {
        self.is_join_failure() || matches!(self, Outcome::Err(_))
    }
}

/// One planned task: sleeps `slot` units, then ends as `outcome`.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub slot: u32,
    pub outcome: Outcome,
}

impl Plan {
    /// When the task finishes, in units: aborted tasks finish at once.
    pub fn finish_slot(&self) -> u32 {
        if self.outcome == Outcome::Abort {
            0
        } else {
            self.slot
        }
    }
}

/// Plans for up to `max` tasks with pairwise distinct slots in
/// `0..max_slot` (so completions are whole units apart) and any outcome.
pub fn plans(max: usize, max_slot: u32, abort: bool) -> impl Strategy<Value = Vec<Plan>> {
    let outcome = prop_oneof![
        (0u32..1000).prop_map(Outcome::Ok),
        (0u32..1000).prop_map(Outcome::Err),
        Just(Outcome::Panic),
        if abort {
            Just(Outcome::Abort).boxed()
        } else {
            (0u32..1000).prop_map(Outcome::Ok).boxed()
        },
    ];
    let slots: Vec<u32> = (0..max_slot).collect();
    (1..=max.min(max_slot as usize))
        .prop_flat_map(move |n| {
            (
                Just(slots.clone())
                    .prop_shuffle()
                    .prop_map(move |s| s[..n].to_vec()),
                proptest::collection::vec(outcome.clone(), n),
            )
        })
        .prop_map(|(slots, outcomes)| {
            slots
                .into_iter()
                .zip(outcomes)
                .map(|(slot, outcome)| Plan { slot, outcome })
                .collect()
        })
}

/// The future of a planned task. `dropped` is set if the future is dropped
/// before it finished (it was cancelled).
pub fn planned(plan: Plan, dropped: Rc<Cell<bool>>) -> impl Future<Output = Result<u32, u32>> {
    /// Sets the flag when dropped while armed.
    struct Guard(Option<Rc<Cell<bool>>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(flag) = self.0.take() {
                flag.set(true);
            }
        }
    }
    let guard = Guard(Some(dropped));
    async move {
        let mut guard = guard;
        ringloop::time::sleep(UNIT * plan.slot).await;
        guard.0.take();
        match plan.outcome {
            Outcome::Ok(v) => Ok(v),
            // Only reached if the abort had no effect, which the tests catch.
            Outcome::Abort => Ok(u32::MAX),
            Outcome::Err(v) => Err(v),
            Outcome::Panic => panic!("planned panic"),
        }
    }
}

/// Runs `f` on a fresh runtime and returns its output with the elapsed time.
pub fn timed<F: Future>(f: F) -> (F::Output, Duration) {
    let start = Instant::now();
    let out = ringloop::run(f);
    (out, start.elapsed())
}

/// Keeps planned panics off stderr; other panics are reported as usual.
pub fn quiet_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let planned = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|s| s == PLANNED)
                || info
                    .payload()
                    .downcast_ref::<&str>()
                    .is_some_and(|s| *s == PLANNED);
            if !planned {
                default(info);
            }
        }));
    });
}
