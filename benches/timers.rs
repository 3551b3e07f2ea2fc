//! Timers and task spawning: ringloop against tokio's current_thread runtime.
//!
//! Two workloads, each run in its own child process per contender so that
//! peak RSS (VmHWM) belongs to one contender only:
//! - `sleeps`: 1,000,000 tasks, each sleeping until a random deadline in
//!   [0, 1 s) after a common start, all spawned at once and joined; wall
//!   time from the start to the last join, peak RSS, and CPU time (user +
//!   system of the process) per timer.
//! - `spawn`: 1,000,000 trivial tasks spawned, then joined (tokio:
//!   `LocalSet::spawn_local`); throughput in tasks per second.
//!
//! Contenders alternate A/B over several rounds; medians are reported.
//!
//! ```text
//! cargo bench --bench timers                 # 5 rounds, 1M timers/tasks
//! TIMERS_ROUNDS=3 TIMERS_N=200000 cargo bench --bench timers
//! ```
//!
//! Peak RSS is user-space memory only. That is a fair comparison here:
//! ringloop keeps its timers in a user-space wheel with a single ring
//! TIMEOUT op in flight, so the kernel holds no per-timer state for either
//! contender. CPU time is read from /proc/self/stat (10 ms ticks).

use std::process::Command;
use std::time::{Duration, Instant};

const DEFAULT_N: usize = 1_000_000;
const DEFAULT_ROUNDS: usize = 5;
/// Deadlines are drawn from [0, SPAN).
const SPAN: Duration = Duration::from_secs(1);

/// One measurement from a child process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    rss_kib: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 5 && args[1] == "child" {
        let n: usize = args[4].parse().expect("child: N is a number");
        let sample = match (args[2].as_str(), args[3].as_str()) {
            ("ringloop", "sleeps") => ringloop_sleeps(n),
            ("tokio", "sleeps") => tokio_sleeps(n),
            ("ringloop", "spawn") => ringloop_spawn(n),
            ("tokio", "spawn") => tokio_spawn(n),
            other => panic!("unknown child workload {other:?}"),
        };
        println!(
            "{} {} {}",
            sample.wall.as_nanos(),
            sample.cpu.as_nanos(),
            sample.rss_kib
        );
        return;
    }
    let n = env_usize("TIMERS_N", DEFAULT_N);
    let rounds = env_usize("TIMERS_ROUNDS", DEFAULT_ROUNDS);
    println!("timers bench: N = {n}, {rounds} round(s), contenders alternate A/B\n");
    for workload in ["sleeps", "spawn"] {
        let mut ring = Vec::new();
        let mut tokio = Vec::new();
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                ["ringloop", "tokio"]
            } else {
                ["tokio", "ringloop"]
            };
            for who in order {
                let s = run_child(who, workload, n);
                eprintln!(
                    "  round {round} {workload:6} {who:8}: wall {:>8.1} ms, cpu {:>8.1} ms, peak RSS {:>7} KiB",
                    ms(s.wall),
                    ms(s.cpu),
                    s.rss_kib
                );
                if who == "ringloop" {
                    ring.push(s)
                } else {
                    tokio.push(s)
                }
            }
        }
        report(workload, n, &ring, &tokio);
    }
}

fn report(workload: &str, n: usize, ring: &[Sample], tokio: &[Sample]) {
    let med = |v: &[Sample], f: fn(&Sample) -> f64| {
        let mut xs: Vec<f64> = v.iter().map(f).collect();
        xs.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        xs[xs.len() / 2]
    };
    let wall = |s: &Sample| ms(s.wall);
    let cpu = |s: &Sample| ms(s.cpu);
    let rss = |s: &Sample| s.rss_kib as f64 / 1024.0;
    let (rw, tw) = (med(ring, wall), med(tokio, wall));
    let (rc, tc) = (med(ring, cpu), med(tokio, cpu));
    let (rr, tr) = (med(ring, rss), med(tokio, rss));
    println!(
        "### {workload} (N = {n}, medians of {} rounds)\n",
        ring.len()
    );
    if workload == "sleeps" {
        let per = |c: f64| c * 1e6 / n as f64;
        println!("| contender | wall (ms) | wall / 1 s floor | peak RSS (MiB) | CPU (ms) | CPU per timer (ns) |");
        println!("|---|---|---|---|---|---|");
        println!(
            "| ringloop | {rw:.1} | {:.3}x | {rr:.1} | {rc:.1} | {:.0} |",
            rw / 1000.0,
            per(rc)
        );
        println!(
            "| tokio current_thread | {tw:.1} | {:.3}x | {tr:.1} | {tc:.1} | {:.0} |",
            tw / 1000.0,
            per(tc)
        );
        println!(
            "\nringloop/tokio: wall {:.3}x, peak RSS {:.3}x, CPU {:.3}x. Targets: wall <= 1.2x floor ({}), RSS <= tokio ({})\n",
            rw / tw,
            rr / tr,
            rc / tc,
            verdict(rw / 1000.0 <= 1.2),
            verdict(rr <= tr)
        );
    } else {
        let tput = |w: f64| n as f64 / (w / 1000.0) / 1e6;
        println!("| contender | wall (ms) | Mtasks/s | ns per task | peak RSS (MiB) |");
        println!("|---|---|---|---|---|");
        println!(
            "| ringloop | {rw:.1} | {:.2} | {:.0} | {rr:.1} |",
            tput(rw),
            rw * 1e6 / n as f64
        );
        println!(
            "| tokio LocalSet::spawn_local | {tw:.1} | {:.2} | {:.0} | {tr:.1} |",
            tput(tw),
            tw * 1e6 / n as f64
        );
        println!(
            "\nringloop throughput = {:.3}x tokio. Target >= 1.5x ({})\n",
            tw / rw,
            verdict(tw / rw >= 1.5)
        );
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_child(who: &str, workload: &str, n: usize) -> Sample {
    let exe = std::env::current_exe().expect("path of the bench binary");
    let out = Command::new(exe)
        .args(["child", who, workload, &n.to_string()])
        .output()
        .expect("re-executing the bench binary");
    assert!(
        out.status.success(),
        "child {who} {workload} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .split_whitespace()
        .map(|x| x.parse().expect("child prints numbers"))
        .collect();
    Sample {
        wall: Duration::from_nanos(nums[0]),
        cpu: Duration::from_nanos(nums[1]),
        rss_kib: nums[2],
    }
}

/// Peak resident set size of this process, from /proc/self/status.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// User + system CPU time of this process so far, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("reading /proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (USER_HZ = 100 on Linux).
    let rest = &stat[stat.rfind(')').expect("comm field") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// The same pseudo-random deadlines for every contender (xorshift64*).
struct Deadlines(u64);

impl Deadlines {
    fn new() -> Self {
        Deadlines(0x9E37_79B9_7F4A_7C15)
    }
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        Duration::from_nanos(r % SPAN.as_nanos() as u64)
    }
}

fn measure(work: impl FnOnce() -> Duration) -> Sample {
    let cpu0 = cpu_time();
    let wall = work();
    Sample {
        wall,
        cpu: cpu_time().saturating_sub(cpu0),
        rss_kib: peak_rss_kib(),
    }
}

fn ringloop_sleeps(n: usize) -> Sample {
    measure(|| {
        ringloop::run(async move {
            let mut deadlines = Deadlines::new();
            let start = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|_| ringloop::spawn(ringloop::time::sleep_until(start + deadlines.next())))
                .collect();
            for h in handles {
                h.await.expect("sleep task");
            }
            start.elapsed()
        })
    })
}

fn tokio_sleeps(n: usize) -> Sample {
    measure(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let mut deadlines = Deadlines::new();
            let start = tokio::time::Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|_| tokio::spawn(tokio::time::sleep_until(start + deadlines.next())))
                .collect();
            for h in handles {
                h.await.expect("sleep task");
            }
            start.elapsed()
        })
    })
}

fn ringloop_spawn(n: usize) -> Sample {
    measure(|| {
        ringloop::run(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n as u64)
                .map(|i| ringloop::spawn(async move { i }))
                .collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.expect("trivial task");
            }
            assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
            start.elapsed()
        })
    })
}

fn tokio_spawn(n: usize) -> Sample {
    measure(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n as u64)
                .map(|i| tokio::task::spawn_local(async move { i }))
                .collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.expect("trivial task");
            }
            assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
            start.elapsed()
        })
    })
}
