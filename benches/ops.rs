//! Raw op overhead: NOP ops per second through the runtime's op API against
//! the bare io-uring crate ring with the same set-up flags, in the same run.
//!
//! `cargo bench --bench ops`. Environment: `RINGLOOP_BENCH_OPS` (default
//! 1000000 NOPs per measurement), `RINGLOOP_BENCH_ROUNDS` (default 5;
//! the table shows medians). Target: the runtime at >= 50% of the bare rate.
//!
//! Instructions per echo round trip (ringloop against a hand-written loop)
//! come from `benches/callgrind.sh`.

#[path = "common/sys.rs"]
#[allow(dead_code)]
mod sys;

use io_uring::{opcode, IoUring};
use ringloop_runtime::op;
use std::time::Instant;

/// Concurrent NOPs in the batched variants.
const CONCURRENCY: usize = 64;

fn main() {
    sys::pin_to_core(0);
    let ops: usize = sys::env_or("RINGLOOP_BENCH_OPS", 1_000_000);
    let rounds: usize = sys::env_or("RINGLOOP_BENCH_ROUNDS", 5);
    let mut rows: Vec<(&str, [Vec<f64>; 2])> = vec![
        ("1 at a time", [Vec::new(), Vec::new()]),
        ("64 in flight", [Vec::new(), Vec::new()]),
    ];
    for round in 0..rounds {
        let measured = [
            [bare(ops, 1), runtime_sequential(ops)],
            [bare(ops, CONCURRENCY), runtime_tasks(ops, CONCURRENCY)],
        ];
        for (row, [b, r]) in rows.iter_mut().zip(measured) {
            eprintln!(
                "round {round}, {}: bare {b:.0} ops/s, runtime {r:.0} ops/s",
                row.0
            );
            row.1[0].push(b);
            row.1[1].push(r);
        }
    }
    println!(
        "\nNOP ops/s, median of {rounds} rounds of {ops} ops (target: runtime >= 50% of bare)\n"
    );
    println!("| NOPs | bare io_uring | ringloop op API | ratio |");
    println!("|---|---:|---:|---:|");
    for (name, [mut b, mut r]) in rows {
        let (b, r) = (sys::median(&mut b), sys::median(&mut r));
        let ratio = r / b;
        let verdict = if ratio >= 0.5 { "met" } else { "missed" };
        println!("| {name} | {b:.0} | {r:.0} | {ratio:.2} ({verdict}) |");
    }
}

/// The bare ring, set up as the runtime sets up its own: `batch` NOPs per
/// `io_uring_enter`, waiting for all of them.
fn bare(ops: usize, batch: usize) -> f64 {
    let mut ring: IoUring = IoUring::builder()
        .setup_coop_taskrun()
        .setup_taskrun_flag()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(256)
        .or_else(|_| IoUring::builder().build(256))
        .expect("io_uring");
    let nop = opcode::Nop::new().build();
    let start = Instant::now();
    let mut done = 0;
    while done < ops {
        for _ in 0..batch {
            // SAFETY: NOP carries no pointers.
            unsafe { ring.submission().push(&nop) }.expect("SQ has room for one batch");
        }
        ring.submit_and_wait(batch).expect("io_uring_enter");
        let mut cq = ring.completion();
        for cqe in &mut cq {
            assert!(cqe.result() >= 0, "NOP failed: {}", cqe.result());
            done += 1;
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// One task awaiting one NOP at a time.
fn runtime_sequential(ops: usize) -> f64 {
    ringloop_runtime::run(async move {
        let start = Instant::now();
        for _ in 0..ops {
            op::nop().await.expect("NOP");
        }
        ops as f64 / start.elapsed().as_secs_f64()
    })
}

/// `tasks` tasks awaiting NOPs concurrently.
fn runtime_tasks(ops: usize, tasks: usize) -> f64 {
    ringloop_runtime::run(async move {
        let per_task = ops / tasks;
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                ringloop_runtime::spawn(async move {
                    for _ in 0..per_task {
                        op::nop().await.expect("NOP");
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("NOP task");
        }
        (per_task * tasks) as f64 / start.elapsed().as_secs_f64()
    })
}
