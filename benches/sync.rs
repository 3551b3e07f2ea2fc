//! ringloop::sync against tokio::sync, each on its own single-threaded
//! runtime (tokio: `current_thread`), in the same process run:
//!
//! - `lock_uncontended`: one task locks, increments, unlocks.
//! - `lock_contended`: 4 tasks each lock, yield while holding the lock (so
//!   the others queue behind it), increment, unlock: every acquisition is a
//!   FIFO hand-off plus a task wake-up and a scheduler round trip.
//! - `queue_pingpong`: two tasks bounce a counter through two bounded(1)
//!   queues (tokio: two `mpsc::channel(1)`); one round trip = 2 puts + 2 gets
//!   and 2 task switches.
//!
//! Rounds alternate ringloop/tokio (A/B); the median ns per op of each side
//! is reported with the ratio tokio/ringloop (> 1.0 means ringloop is faster).
//!
//! `cargo bench --bench sync` (ROUNDS and OPS env vars override the defaults).

use std::hint::black_box;
use std::rc::Rc;
use std::time::Instant;

const TASKS: u64 = 4;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ----------------------------------------------------------------- ringloop

fn ring_lock_uncontended(ops: u64) -> f64 {
    let rt = ringloop::Runtime::new().expect("io_uring runtime");
    rt.block_on(async {
        let m = ringloop::sync::Mutex::new(0u64);
        let start = Instant::now();
        for _ in 0..ops {
            *m.lock().await += 1;
        }
        assert_eq!(*m.lock().await, ops);
        start.elapsed().as_nanos() as f64 / ops as f64
    })
}

fn ring_lock_contended(ops: u64) -> f64 {
    let rt = ringloop::Runtime::new().expect("io_uring runtime");
    rt.block_on(async {
        let m = Rc::new(ringloop::sync::Mutex::new(0u64));
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                ringloop::spawn(async move {
                    for _ in 0..ops / TASKS {
                        let mut g = m.lock().await;
                        ringloop::yield_now().await;
                        *g += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let per_op = start.elapsed().as_nanos() as f64 / (ops / TASKS * TASKS) as f64;
        assert_eq!(*m.lock().await, ops / TASKS * TASKS);
        per_op
    })
}

fn ring_queue_pingpong(ops: u64) -> f64 {
    use ringloop::sync::Queue;
    let rt = ringloop::Runtime::new().expect("io_uring runtime");
    rt.block_on(async {
        let ping = Rc::new(Queue::bounded(1));
        let pong = Rc::new(Queue::bounded(1));
        let (ping2, pong2) = (ping.clone(), pong.clone());
        let start = Instant::now();
        let echo = ringloop::spawn(async move {
            while let Ok(n) = ping2.get().await {
                pong2.put(n + 1).await.unwrap();
            }
        });
        let mut n = 0u64;
        for _ in 0..ops {
            ping.put(n).await.unwrap();
            n = pong.get().await.unwrap();
        }
        let per_op = start.elapsed().as_nanos() as f64 / ops as f64;
        ping.close();
        echo.await.unwrap();
        assert_eq!(black_box(n), ops);
        per_op
    })
}

// -------------------------------------------------------------------- tokio

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

fn tokio_lock_uncontended(ops: u64) -> f64 {
    tokio_rt().block_on(async {
        let m = tokio::sync::Mutex::new(0u64);
        let start = Instant::now();
        for _ in 0..ops {
            *m.lock().await += 1;
        }
        assert_eq!(*m.lock().await, ops);
        start.elapsed().as_nanos() as f64 / ops as f64
    })
}

fn tokio_lock_contended(ops: u64) -> f64 {
    let rt = tokio_rt();
    rt.block_on(async {
        let m = std::sync::Arc::new(tokio::sync::Mutex::new(0u64));
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..ops / TASKS {
                        let mut g = m.lock().await;
                        tokio::task::yield_now().await;
                        *g += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let per_op = start.elapsed().as_nanos() as f64 / (ops / TASKS * TASKS) as f64;
        assert_eq!(*m.lock().await, ops / TASKS * TASKS);
        per_op
    })
}

fn tokio_queue_pingpong(ops: u64) -> f64 {
    let rt = tokio_rt();
    rt.block_on(async {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let start = Instant::now();
        let echo = tokio::spawn(async move {
            while let Some(n) = ping_rx.recv().await {
                pong_tx.send(n + 1).await.unwrap();
            }
        });
        let mut n = 0u64;
        for _ in 0..ops {
            ping_tx.send(n).await.unwrap();
            n = pong_rx.recv().await.unwrap();
        }
        let per_op = start.elapsed().as_nanos() as f64 / ops as f64;
        drop(ping_tx);
        echo.await.unwrap();
        assert_eq!(black_box(n), ops);
        per_op
    })
}

// ------------------------------------------------------------------ harness

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

type Bench = fn(u64) -> f64;

fn main() {
    let rounds = env_or("ROUNDS", 7) as usize;
    let ops = env_or("OPS", 400_000);
    let cases: [(&str, u64, Bench, Bench); 3] = [
        (
            "lock_uncontended",
            ops,
            ring_lock_uncontended,
            tokio_lock_uncontended,
        ),
        (
            "lock_contended",
            ops / 4,
            ring_lock_contended,
            tokio_lock_contended,
        ),
        (
            "queue_pingpong",
            ops / 4,
            ring_queue_pingpong,
            tokio_queue_pingpong,
        ),
    ];
    println!("{rounds} rounds, alternating ringloop/tokio; median ns per op");
    println!(
        "{:<18} {:>10} {:>14} {:>12} {:>16}",
        "benchmark", "ops", "ringloop ns", "tokio ns", "tokio/ringloop"
    );
    for (name, n, ring, tok) in cases {
        // Warm-up (page faults, lazy init) is not measured.
        ring(n / 10);
        tok(n / 10);
        let (mut r, mut t) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if round % 2 == 0 {
                r.push(ring(n));
                t.push(tok(n));
            } else {
                t.push(tok(n));
                r.push(ring(n));
            }
        }
        let (r, t) = (median(r), median(t));
        println!("{name:<18} {n:>10} {r:>14.1} {t:>12.1} {:>15.2}x", t / r);
    }
}
