//! Property tests of the scheduler (gather, try_gather, wait, as_completed,
//! TaskGroup) and of timeouts, over random plans of tasks on a coarse time
//! grid (`UNIT`): events that must be ordered are whole units apart.

#[path = "util/sched.rs"]
mod sched_util;

use futures_util::StreamExt;
use proptest::prelude::*;
use ringloop::time::{sleep, timeout};
use ringloop::{
    as_completed, gather, spawn, try_gather, try_wait, wait, JoinError, ReturnWhen, TaskFailure,
    TaskGroup,
};
use sched_util::{planned, plans, quiet_planned_panics, timed, Outcome, Plan, UNIT};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A task tree: sleep `slot` fifths of a unit, then gather the children
/// (spawned or inline) and return the values in pre-order.
#[derive(Debug, Clone)]
struct Node {
    slot: u32,
    value: u32,
    spawned: bool,
    children: Vec<Node>,
}

fn tree() -> impl Strategy<Value = Node> {
    let leaf = (0u32..3, any::<u32>(), any::<bool>()).prop_map(|(slot, value, spawned)| Node {
        slot,
        value,
        spawned,
        children: vec![],
    });
    leaf.prop_recursive(3, 20, 4, |inner| {
        (
            0u32..3,
            any::<u32>(),
            any::<bool>(),
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(slot, value, spawned, children)| Node {
                slot,
                value,
                spawned,
                children,
            })
    })
}

fn preorder(node: &Node, out: &mut Vec<u32>) {
    out.push(node.value);
    for c in &node.children {
        preorder(c, out);
    }
}

/// The longest chain of sleeps from the root to a leaf, in fifths of a unit.
fn critical_path(node: &Node) -> u32 {
    node.slot + node.children.iter().map(critical_path).max().unwrap_or(0)
}

fn run_node(node: Node) -> Pin<Box<dyn Future<Output = Vec<u32>>>> {
    Box::pin(async move {
        sleep(UNIT / 5 * node.slot).await;
        let children = node.children.into_iter().map(|c| {
            if c.spawned {
                Box::pin(async move { spawn(run_node(c)).await.expect("child task") })
                    as Pin<Box<dyn Future<Output = Vec<u32>>>>
            } else {
                run_node(c)
            }
        });
        let mut values = vec![node.value];
        for v in gather(children).await {
            values.extend(v);
        }
        values
    })
}

/// The result a finished planned task must have delivered.
fn check_result(plan: Plan, result: &Result<Result<u32, u32>, JoinError>) -> Result<(), String> {
    let ok = match (plan.outcome, result) {
        (Outcome::Ok(v), Ok(Ok(got))) => v == *got,
        (Outcome::Err(v), Ok(Err(got))) => v == *got,
        (Outcome::Panic, Err(e)) => e.is_panic(),
        (Outcome::Abort, Err(e)) => e.is_cancelled(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{plan:?} delivered {result:?}"))
    }
}

/// What `wait` must return, in units: (done indices, timed out).
fn expected_wait(
    plans: &[Plan],
    when: ReturnWhen,
    try_mode: bool,
    timeout: Option<u32>,
) -> (Vec<usize>, bool) {
    let finish: Vec<u32> = plans.iter().map(Plan::finish_slot).collect();
    let last = *finish.iter().max().expect("at least one plan");
    let failing = |p: &Plan| {
        if try_mode {
            p.outcome.is_failure()
        } else {
            p.outcome.is_join_failure()
        }
    };
    let condition = match when {
        ReturnWhen::AllCompleted => last,
        ReturnWhen::FirstCompleted => *finish.iter().min().expect("at least one plan"),
        ReturnWhen::FirstError => plans
            .iter()
            .filter(|p| failing(p))
            .map(Plan::finish_slot)
            .min()
            .unwrap_or(last),
    };
    // A timeout of `t` units fires half a unit after `t`.
    let (cutoff, timed_out) = match timeout {
        Some(t) if t < condition => (t, true),
        _ => (condition, false),
    };
    let done = (0..plans.len()).filter(|&i| finish[i] <= cutoff).collect();
    (done, timed_out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// gather returns every output in argument order, through nested
    /// gathers of inline and spawned children, and never before the
    /// longest chain of sleeps has elapsed.
    #[test]
    fn gather_tree_preserves_order(root in tree()) {
        let mut expected = Vec::new();
        preorder(&root, &mut expected);
        let floor = UNIT / 5 * critical_path(&root);
        let (values, elapsed) = timed(run_node(root));
        prop_assert_eq!(values, expected);
        prop_assert!(elapsed >= floor, "finished after {:?}, before {:?}", elapsed, floor);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// wait/try_wait split the tasks into done and pending exactly as the
    /// ReturnWhen condition (or the timeout) says, with the right results,
    /// and never cancel a pending task: each still delivers its planned result.
    #[test]
    fn wait_partition_is_exact(
        plans in plans(5, 5, true),
        when in prop_oneof![
            Just(ReturnWhen::AllCompleted),
            Just(ReturnWhen::FirstCompleted),
            Just(ReturnWhen::FirstError),
        ],
        try_mode in any::<bool>(),
        timeout_slot in proptest::option::of(0u32..5),
    ) {
        quiet_planned_panics();
        let (expected_done, expected_timeout) = expected_wait(&plans, when, try_mode, timeout_slot);
        let plans2 = plans.clone();
        let res: Result<(), TestCaseError> = ringloop::run(async move {
            let handles: Vec<_> = plans2
                .iter()
                .map(|p| {
                    let h = spawn(planned(*p, Rc::new(Cell::new(false))));
                    if p.outcome == Outcome::Abort {
                        h.abort();
                    }
                    h
                })
                .collect();
            let w = if try_mode { try_wait(handles, when) } else { wait(handles, when) };
            let w = match timeout_slot {
                Some(t) => w.timeout(UNIT * t + UNIT / 2),
                None => w,
            };
            let out = w.await;
            let mut done: Vec<usize> = out.done.iter().map(|(i, _)| *i).collect();
            done.sort_unstable();
            prop_assert_eq!(&done, &expected_done, "when {:?} try {} timeout {:?}", when, try_mode, timeout_slot);
            prop_assert_eq!(out.timed_out, expected_timeout);
            for (i, result) in &out.done {
                check_result(plans2[*i], result).map_err(TestCaseError::fail)?;
            }
            let pending: Vec<usize> = out.pending.iter().map(|(i, _)| *i).collect();
            let expected_pending: Vec<usize> =
                (0..plans2.len()).filter(|i| !expected_done.contains(i)).collect();
            prop_assert_eq!(pending, expected_pending);
            for (i, handle) in &out.pending {
                prop_assert!(!handle.is_finished(), "pending task {} had finished", i);
            }
            for (i, handle) in out.pending {
                let result = handle.await;
                check_result(plans2[i], &result).map_err(TestCaseError::fail)?;
            }
            Ok(())
        });
        res?;
    }

    /// A timeout returns the inner output iff the inner future is faster,
    /// and never ends before the earlier of the two.
    #[test]
    fn timeout_fires_iff_inner_is_slower(inner in 0u32..5, limit in 0u32..5, value in any::<u32>()) {
        prop_assume!(inner != limit);
        let (res, elapsed) = timed(timeout(UNIT * limit, async move {
            let parts = gather([sleep(UNIT * inner), sleep(UNIT * inner / 2)]).await;
            assert_eq!(parts.len(), 2);
            value
        }));
        if inner < limit {
            prop_assert_eq!(res, Ok(value));
        } else {
            prop_assert!(res.is_err());
        }
        let floor = UNIT * inner.min(limit);
        prop_assert!(elapsed >= floor, "ended after {:?}, before {:?}", elapsed, floor);
    }

    /// TaskGroup: the first failure aborts exactly the tasks that had not
    /// finished, later failures never happen, earlier successes are kept,
    /// and spawning after the abort is refused.
    #[test]
    fn task_group_cancels_the_right_tasks(plans in plans(5, 5, false)) {
        quiet_planned_panics();
        let first_failure = plans
            .iter()
            .enumerate()
            .filter(|(_, p)| p.outcome.is_failure())
            .min_by_key(|(_, p)| p.slot)
            .map(|(i, p)| (i, p.slot));
        let plans2 = plans.clone();
        let res: Result<(), TestCaseError> = ringloop::run(async move {
            let group = TaskGroup::new();
            let flags: Vec<_> = plans2.iter().map(|_| Rc::new(Cell::new(false))).collect();
            for (p, flag) in plans2.iter().zip(&flags) {
                group.spawn(planned(*p, flag.clone())).expect("group not aborted yet");
            }
            if let Some((_, slot)) = first_failure {
                sleep(UNIT * slot + UNIT / 2).await;
                prop_assert!(group.is_aborted());
                let refused = group.spawn(async { Ok(0) }).is_err();
                prop_assert!(refused);
            }
            let out = group.join().await;
            match first_failure {
                None => {
                    let values: Vec<u32> = plans2
                        .iter()
                        .map(|p| match p.outcome { Outcome::Ok(v) => v, _ => unreachable!() })
                        .collect();
                    prop_assert_eq!(out.expect("no failure planned"), values);
                    prop_assert!(flags.iter().all(|f| !f.get()));
                }
                Some((index, slot)) => {
                    let err = out.expect_err("a failure was planned");
                    prop_assert_eq!(err.failures().len(), 1);
                    let (failed, failure) = err.first();
                    prop_assert_eq!(*failed, index);
                    match (plans2[index].outcome, failure) {
                        (Outcome::Err(v), TaskFailure::Err(got)) => prop_assert_eq!(v, *got),
                        (Outcome::Panic, TaskFailure::Panic(_)) => {}
                        other => prop_assert!(false, "wrong failure {:?}", other),
                    }
                    let expected: Vec<usize> =
                        (0..plans2.len()).filter(|&i| plans2[i].slot > slot).collect();
                    prop_assert_eq!(err.cancelled(), &expected[..]);
                    for (i, flag) in flags.iter().enumerate() {
                        prop_assert_eq!(flag.get(), expected.contains(&i), "task {} dropped?", i);
                    }
                }
            }
            Ok(())
        });
        res?;
    }

    /// try_gather returns the earliest Err and drops the futures still
    /// running; with no Err, every output in argument order.
    #[test]
    fn try_gather_fails_fast(plans in plans(5, 5, false)) {
        let plans: Vec<Plan> = plans
            .into_iter()
            .map(|p| Plan { outcome: if p.outcome == Outcome::Panic { Outcome::Ok(7) } else { p.outcome }, ..p })
            .collect();
        let flags: Vec<_> = plans.iter().map(|_| Rc::new(Cell::new(false))).collect();
        let futures: Vec<_> = plans.iter().zip(&flags).map(|(p, f)| planned(*p, f.clone())).collect();
        let res = ringloop::run(try_gather(futures));
        let first_err = plans
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.outcome, Outcome::Err(_)))
            .min_by_key(|(_, p)| p.slot);
        match first_err {
            None => {
                let values: Vec<u32> = plans
                    .iter()
                    .map(|p| match p.outcome { Outcome::Ok(v) => v, _ => unreachable!() })
                    .collect();
                prop_assert_eq!(res, Ok(values));
            }
            Some((_, p)) => {
                let Outcome::Err(v) = p.outcome else { unreachable!() };
                prop_assert_eq!(res, Err(v));
                for (q, flag) in plans.iter().zip(&flags) {
                    prop_assert_eq!(flag.get(), q.slot > p.slot);
                }
            }
        }
    }

    /// as_completed yields outputs in completion order.
    #[test]
    fn as_completed_yields_in_completion_order(slots in Just((0u32..5).collect::<Vec<_>>()).prop_shuffle()) {
        let order = ringloop::run(async move {
            let handles = slots.iter().map(|&s| spawn(async move {
                sleep(UNIT * s).await;
                s
            }));
            let mut stream = as_completed(handles);
            let mut order = Vec::new();
            while let Some(out) = stream.next().await {
                order.push(out.expect("task"));
            }
            order
        });
        prop_assert_eq!(order, (0u32..5).collect::<Vec<_>>());
    }
}
