//! Cross-runtime ping-pong: two runtimes on two threads pass a token back
//! and forth, through `ringloop::sync::mpsc` and through `Handle::spawn`,
//! against tokio's mpsc between two current_thread runtimes.
//!
//! `cargo bench --bench cross`. Environment: `RINGLOOP_BENCH_ROUNDS`
//! (default 5; contenders alternate, the table shows medians) and
//! `RINGLOOP_BENCH_PINGS` (default 200000 round trips per run). Reports
//! round trips per second, the mean round trip, and the CPU time of the
//! whole process per round trip (both threads). Target: ringloop at least
//! as fast as tokio. Wakes between runtimes are MSG_RING CQEs (and the
//! receiving runtime's eventfd in `ringloop-mpsc-eventfd`).

#[path = "common/sys.rs"]
#[allow(dead_code)]
mod sys;

use std::time::{Duration, Instant};

const KINDS: [&str; 4] = [
    "ringloop-mpsc",
    "ringloop-mpsc-eventfd",
    "ringloop-handle",
    "tokio-mpsc",
];

/// CPU time of this whole process (all threads).
fn process_cpu() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the buffer it is given, which is ours.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    // SAFETY: getrusage initialised it (it cannot fail for RUSAGE_SELF).
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// (wall time, process CPU time) of `pings` round trips of `kind`.
fn run(kind: &str, pings: u32) -> (Duration, Duration) {
    let cpu = process_cpu();
    let start = Instant::now();
    match kind {
        "ringloop-mpsc" => ringloop_mpsc(pings, true),
        "ringloop-mpsc-eventfd" => ringloop_mpsc(pings, false),
        "ringloop-handle" => ringloop_handle(pings),
        "tokio-mpsc" => tokio_mpsc(pings),
        other => panic!("unknown kind {other}"),
    }
    (start.elapsed(), process_cpu() - cpu)
}

/// A runtime whose wakes from other runtimes come by MSG_RING or eventfd.
fn runtime(msg_ring: bool) -> ringloop::Runtime {
    ringloop::Runtime::builder()
        .msg_ring(msg_ring)
        .build()
        .expect("runtime")
}

fn ringloop_mpsc(pings: u32, msg_ring: bool) {
    use ringloop::sync::mpsc;
    let (to_b, mut from_a) = mpsc::channel::<u32>(1);
    let (to_a, mut from_b) = mpsc::channel::<u32>(1);
    let b = std::thread::spawn(move || {
        runtime(msg_ring).block_on(async move {
            while let Some(v) = from_a.recv().await {
                to_a.send(v + 1).await.unwrap();
            }
        })
    });
    runtime(msg_ring).block_on(async move {
        for i in 0..pings {
            to_b.send(i).await.unwrap();
            assert_eq!(from_b.recv().await, Some(i + 1));
        }
    });
    b.join().unwrap();
}

fn ringloop_handle(pings: u32) {
    // Runtime B idles until told to stop; A runs every ping on it.
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let (stop_tx, mut stop_rx) = ringloop::sync::mpsc::channel::<()>(1);
    let b = std::thread::spawn(move || {
        ringloop::run(async move {
            handle_tx.send(ringloop::Handle::current()).unwrap();
            stop_rx.recv().await;
        })
    });
    let handle = handle_rx.recv().unwrap();
    ringloop::run(async move {
        for i in 0..pings {
            let got = handle.spawn(move || async move { i + 1 }).await.unwrap();
            assert_eq!(got, i + 1);
        }
        stop_tx.send(()).await.unwrap();
    });
    b.join().unwrap();
}

fn tokio_mpsc(pings: u32) {
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime")
    };
    let (to_b, mut from_a) = tokio::sync::mpsc::channel::<u32>(1);
    let (to_a, mut from_b) = tokio::sync::mpsc::channel::<u32>(1);
    let b = std::thread::spawn(move || {
        rt().block_on(async move {
            while let Some(v) = from_a.recv().await {
                to_a.send(v + 1).await.unwrap();
            }
        })
    });
    rt().block_on(async move {
        for i in 0..pings {
            to_b.send(i).await.unwrap();
            assert_eq!(from_b.recv().await, Some(i + 1));
        }
    });
    b.join().unwrap();
}

fn main() {
    let rounds: usize = sys::env_or("RINGLOOP_BENCH_ROUNDS", 5);
    let pings: u32 = sys::env_or("RINGLOOP_BENCH_PINGS", 200_000);
    let mut results: Vec<(&str, Duration, Duration)> = Vec::new();
    for round in 0..rounds {
        for i in 0..KINDS.len() {
            let kind = KINDS[(i + round) % KINDS.len()];
            let (wall, cpu) = run(kind, pings);
            results.push((kind, wall, cpu));
        }
    }
    println!("cross-runtime ping-pong, {pings} round trips per run, medians of {rounds} runs");
    println!("| path | round trips/s | us per round trip | CPU us per round trip |");
    println!("|---|---:|---:|---:|");
    for kind in KINDS {
        let mut walls: Vec<f64> = results
            .iter()
            .filter(|r| r.0 == kind)
            .map(|r| r.1.as_secs_f64())
            .collect();
        let mut cpus: Vec<f64> = results
            .iter()
            .filter(|r| r.0 == kind)
            .map(|r| r.2.as_secs_f64())
            .collect();
        let wall = sys::median(&mut walls);
        let cpu = sys::median(&mut cpus);
        println!(
            "| {kind} | {:.0} | {:.2} | {:.2} |",
            pings as f64 / wall,
            wall * 1e6 / pings as f64,
            cpu * 1e6 / pings as f64
        );
    }
}
