//! HTTP/1.1 keep-alive "hello" under `wrk`: requests/s and server CPU per
//! request, ringloop against tokio current_thread and a hand-written
//! io_uring loop (the floor: what the kernel path costs with no runtime),
//! in the same run.
//!
//! `cargo bench --bench http` (skips with a message if `wrk` is not
//! installed: `apt-get install wrk`). Each server is a child process of this
//! binary pinned to core 0; wrk runs pinned to core 1 with one thread.
//! Environment: `RINGLOOP_BENCH_HTTP_CONNS` (default 100),
//! `RINGLOOP_BENCH_SECS` (default 3, whole seconds), `RINGLOOP_BENCH_ROUNDS`
//! (default 3; servers alternate, the table shows medians),
//! `RINGLOOP_BENCH_MAX_NOISE` (default 0.05) and `RINGLOOP_BENCH_RETRIES`
//! (default 3): a run during which CPU time neither the server nor wrk used
//! exceeded this share of a core on cores 0 and 1 (other processes,
//! interrupts, hypervisor steal) is repeated, up to this many times, and the
//! least disturbed attempt is kept (the `noise` column).
//! Targets: ringloop CPU per request <= 1.00 x tokio, on either driver.
//! `RINGLOOP_BENCH_THREADS=N` serves the port from N pinned ringloop
//! runtimes (`--server ringloop ADDR`, `ringloop-epoll` or `hyper-ringloop`).
//!
//! hyper: `hyper-ringloop` (`ringloop::http::serve`) against `hyper-tokio`
//! (hyper-util's tokio glue, current_thread), the same service and hyper
//! settings, under wrk (HTTP/1.1) and then under h2load (HTTP/2 prior
//! knowledge, `RINGLOOP_BENCH_H2_STREAMS` streams per connection, default
//! 10; skipped if h2load is missing: `apt-get install nghttp2-client`).
//! Target: hyper-ringloop CPU per request <= 0.95 x hyper-tokio on both.
//! `RINGLOOP_BENCH_SERVERS=a,b` runs only those servers.

#[path = "../common/floor.rs"]
mod floor;
#[path = "../common/sys.rs"]
#[allow(dead_code)]
mod sys;

mod hyper_servers;
mod server_uring;
mod servers;

use std::process::Command;
use std::time::Duration;

/// `ringloop` uses `ringloop::net` streams (`ringloop-epoll` the same on the
/// epoll driver), `ringloop-ops` the raw op API,
/// `ringloop-batch` the `ringloop` server with `Builder::batch_wait`
/// (window from `RINGLOOP_BENCH_BATCH_US`, default 50 µs); `uring` is a
/// minimal hand-written io_uring loop, the floor.
const KINDS: [&str; 8] = [
    "ringloop",
    "ringloop-epoll",
    "ringloop-ops",
    "tokio",
    "ringloop-batch",
    "uring",
    "hyper-ringloop",
    "hyper-tokio",
];

/// The servers that speak HTTP/2 too, measured under h2load.
const H2_KINDS: [&str; 2] = ["hyper-ringloop", "hyper-tokio"];

/// The load generator of a run.
#[derive(Clone, Copy, PartialEq)]
enum Load {
    /// wrk, HTTP/1.1 keep-alive.
    Wrk,
    /// h2load, HTTP/2 prior knowledge with this many streams per connection.
    H2load(usize),
}

/// One wrk run against one server.
struct Measured {
    requests: u64,
    per_sec: f64,
    server_cpu: Duration,
    p50: String,
    p99: String,
    /// CPU that neither the server nor wrk used on the two cores during the
    /// run, in cores (other processes, interrupts, the hypervisor's steal).
    noise: f64,
}

fn main() {
    let args = sys::setup();
    if args.first().map(String::as_str) == Some("--server") {
        let (Some(kind), Some(addr)) = (args.get(1), args.get(2)) else {
            eprintln!("http bench: --server needs KIND ({KINDS:?}) and ADDR");
            std::process::exit(2);
        };
        let listener = sys::listen(addr).unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
        sys::announce(&listener).expect("stdout");
        let threads: usize = sys::env_or("RINGLOOP_BENCH_THREADS", 1);
        if threads > 1 {
            // One port served by N runtimes (the ringloop kinds only).
            let listeners = sys::listeners(listener, threads)
                .unwrap_or_else(|e| panic!("cannot add listeners: {e}"));
            let mut builder = ringloop::Builder::new();
            match kind.as_str() {
                "ringloop" => {}
                "ringloop-epoll" => {
                    builder.driver(ringloop::Driver::Epoll);
                }
                "hyper-ringloop" => {
                    servers::serve_ringloop_threads(
                        listeners,
                        &mut builder,
                        hyper_servers::serve_ringloop,
                    );
                    return;
                }
                other => {
                    eprintln!(
                        "http bench: {other:?} has no multi-core mode (RINGLOOP_BENCH_THREADS > 1)"
                    );
                    std::process::exit(2);
                }
            }
            servers::serve_ringloop_threads(listeners, &mut builder, servers::ringloop_accept_loop);
            return;
        }
        sys::pin_to_core(0);
        match kind.as_str() {
            "ringloop" => servers::serve_ringloop(listener, &ringloop::Builder::new()),
            "ringloop-epoll" => servers::serve_ringloop(
                listener,
                ringloop::Builder::new().driver(ringloop::Driver::Epoll),
            ),
            "ringloop-batch" => servers::serve_ringloop(
                listener,
                ringloop::Builder::new().batch_wait(sys::batch_window()),
            ),
            "ringloop-ops" => servers::serve_ringloop_ops(listener),
            "tokio" => servers::serve_tokio(listener),
            "hyper-ringloop" => {
                ringloop::run(hyper_servers::serve_ringloop(listener));
            }
            "hyper-tokio" => hyper_servers::serve_tokio(listener),
            "uring" => server_uring::serve(listener),
            other => {
                eprintln!("http bench: no server {other:?}; kinds: {KINDS:?}");
                std::process::exit(2);
            }
        }
        return;
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("http bench: skipped: `wrk` is not installed (Debian: apt-get install wrk)");
        return;
    }
    let conns: usize = sys::env_or("RINGLOOP_BENCH_HTTP_CONNS", 100);
    let secs: u64 = sys::env_or("RINGLOOP_BENCH_SECS", 3);
    let rounds: usize = sys::env_or("RINGLOOP_BENCH_ROUNDS", 3);
    let max_noise: f64 = sys::env_or("RINGLOOP_BENCH_MAX_NOISE", 0.05);
    let retries: usize = sys::env_or("RINGLOOP_BENCH_RETRIES", 3);
    let only: Option<Vec<String>> = std::env::var("RINGLOOP_BENCH_SERVERS")
        .ok()
        .map(|v| v.split(',').map(|k| k.trim().to_string()).collect());
    let kinds: Vec<&str> = KINDS
        .into_iter()
        .filter(|k| only.as_ref().is_none_or(|o| o.iter().any(|x| x == k)))
        .collect();
    let h2_kinds: Vec<&str> = H2_KINDS.into_iter().filter(|k| kinds.contains(k)).collect();
    let streams: usize = sys::env_or("RINGLOOP_BENCH_H2_STREAMS", 10);
    let have_h2load = Command::new("h2load").arg("--version").output().is_ok();
    let mut loads = vec![(Load::Wrk, kinds.clone())];
    if !h2_kinds.is_empty() {
        if have_h2load {
            loads.push((Load::H2load(streams), h2_kinds));
        } else {
            eprintln!("http bench: the HTTP/2 part is skipped: `h2load` is not installed (Debian: apt-get install nghttp2-client)");
        }
    }
    for (load, kinds) in loads {
        let mut runs: Vec<(&str, usize, Measured)> = Vec::new();
        for round in 0..rounds {
            for i in 0..kinds.len() {
                let kind = kinds[(i + round) % kinds.len()];
                match sys::quietest(
                    max_noise,
                    retries,
                    |m: &Measured| m.noise,
                    || run_one(kind, load, conns, secs.max(1)),
                ) {
                    Ok(m) => {
                        eprintln!(
                            "round {round}, {kind}: {:.0} req/s, {:.2} us CPU/req, p50 {}, p99 {}, \
                             noise {:.0}%",
                            m.per_sec,
                            cpu_per_request(&m),
                            m.p50,
                            m.p99,
                            m.noise * 100.0
                        );
                        runs.push((kind, round, m));
                    }
                    Err(e) => eprintln!("round {round}, {kind}: FAILED: {e}"),
                }
            }
        }
        print_table(&runs, &kinds, load, conns, secs, rounds);
    }
}

fn cpu_per_request(m: &Measured) -> f64 {
    m.server_cpu.as_secs_f64() * 1e6 / m.requests as f64
}

/// Busy time of cores 0 and 1, the server's CPU time, and the CPU time of
/// this process and its waited-for children (wrk, once it has exited).
fn sample(server: u32) -> std::io::Result<[Duration; 3]> {
    let me = std::process::id();
    Ok([
        sys::core_busy(0)? + sys::core_busy(1)?,
        sys::cpu_time(server)?,
        sys::cpu_time(me)? + sys::waited_children_cpu_time(me)?,
    ])
}

fn run_one(kind: &str, load: Load, conns: usize, secs: u64) -> std::io::Result<Measured> {
    let server = sys::ServerProcess::start(&[
        "--server".to_string(),
        kind.to_string(),
        "127.0.0.1:0".to_string(),
    ])?;
    let start = sample(server.pid())?;
    let started = std::time::Instant::now();
    let mut cmd = Command::new("taskset");
    match load {
        Load::Wrk => cmd
            .args(["-c", "1", "wrk", "-t1", "--latency"])
            .arg(format!("-c{conns}"))
            .arg(format!("-d{secs}s"))
            .arg(format!("http://{}/", server.addr)),
        Load::H2load(streams) => cmd
            .args(["-c", "1", "h2load", "-t1"])
            .arg(format!("-c{conns}"))
            .arg(format!("-m{streams}"))
            .arg(format!("-D{secs}"))
            .arg(format!("http://{}/", server.addr)),
    };
    let out = cmd.output()?;
    let end = sample(server.pid())?;
    let elapsed = started.elapsed().as_secs_f64();
    let [busy, server_cpu, ours] = [0, 1, 2].map(|i| end[i].saturating_sub(start[i]));
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "the load generator failed: {text}"
        )));
    }
    let noise =
        ((busy.as_secs_f64() - server_cpu.as_secs_f64() - ours.as_secs_f64()) / elapsed).max(0.0);
    match load {
        Load::Wrk => parse_wrk(&text, server_cpu, noise),
        Load::H2load(_) => parse_h2load(&text, server_cpu, noise),
    }
}

fn parse_wrk(text: &str, server_cpu: Duration, noise: f64) -> std::io::Result<Measured> {
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(std::io::Error::other(format!("wrk saw errors:\n{text}")));
    }
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l[prefix.len()..].split_whitespace().next())
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    let per_sec = field("Requests/sec:").and_then(|n| n.parse().ok());
    let (Some(requests), Some(per_sec)) = (requests, per_sec) else {
        return Err(std::io::Error::other(format!(
            "cannot read wrk's output:\n{text}"
        )));
    };
    Ok(Measured {
        requests,
        per_sec,
        server_cpu,
        p50: field("50%").unwrap_or("?").to_string(),
        p99: field("99%").unwrap_or("?").to_string(),
        noise,
    })
}

/// h2load's "requests: N total, N started, N done, N succeeded, 0 failed,
/// 0 errored, 0 timeout" and "finished in 3.00s, 12345.67 req/s" lines.
fn parse_h2load(text: &str, server_cpu: Duration, noise: f64) -> std::io::Result<Measured> {
    let line = |prefix: &str| text.lines().map(str::trim).find(|l| l.starts_with(prefix));
    let counts: Vec<u64> = line("requests:")
        .map(|l| {
            l.split(',')
                .filter_map(|part| part.split_whitespace().find_map(|w| w.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    let per_sec = line("finished in").and_then(|l| {
        l.split(',')
            .nth(1)
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    });
    let (Some(&succeeded), Some(per_sec)) = (counts.get(3), per_sec) else {
        return Err(std::io::Error::other(format!(
            "cannot read h2load's output:\n{text}"
        )));
    };
    if counts
        .get(4..7)
        .is_none_or(|errs| errs.iter().any(|&e| e > 0))
    {
        return Err(std::io::Error::other(format!("h2load saw errors:\n{text}")));
    }
    Ok(Measured {
        requests: succeeded,
        per_sec,
        server_cpu,
        p50: "-".to_string(),
        p99: "-".to_string(),
        noise,
    })
}

fn print_table(
    runs: &[(&str, usize, Measured)],
    kinds: &[&str],
    load: Load,
    conns: usize,
    secs: u64,
    rounds: usize,
) {
    let median_of = |kind: &str, f: &dyn Fn(&Measured) -> f64| {
        let mut v: Vec<f64> = runs
            .iter()
            .filter(|r| r.0 == kind)
            .map(|r| f(&r.2))
            .collect();
        sys::median(&mut v)
    };
    let what = match load {
        Load::Wrk => "HTTP/1.1 hello under wrk".to_string(),
        Load::H2load(m) => format!("HTTP/2 hello under h2load ({m} streams per connection)"),
    };
    println!(
        "\n{what} ({conns} connections, 1 client thread on core 1, server on core 0; \
         medians of {rounds} runs of {secs} s)\n"
    );
    println!("| server | requests/s | server CPU us/request | noise |");
    println!("|---|---:|---:|---:|");
    for &kind in kinds {
        println!(
            "| {kind} | {:.0} | {:.2} | {:.0}% |",
            median_of(kind, &|m| m.per_sec),
            median_of(kind, &cpu_per_request),
            median_of(kind, &|m| m.noise * 100.0)
        );
    }
    // (server, baseline, what, target): the targets are on ringloop; the
    // floor's own ratio shows what the kernel path allows.
    let ratio_lines: [(&str, &str, &str, Option<f64>); 6] = [
        (
            "hyper-ringloop",
            "hyper-tokio",
            "hyper, same service and settings",
            Some(0.95),
        ),
        ("ringloop", "tokio", "default settings", Some(1.00)),
        ("ringloop-epoll", "tokio", "the epoll driver", Some(1.00)),
        ("ringloop-batch", "tokio", "opt-in batch_wait", Some(1.00)),
        (
            "ringloop",
            "uring",
            "default settings, against the floor",
            None,
        ),
        ("uring", "tokio", "the hand-written floor", None),
    ];
    for (kind, base, what, target) in ratio_lines {
        let mut ratios: Vec<f64> = runs
            .iter()
            .filter(|r| r.0 == kind)
            .filter_map(|r| {
                let b = runs.iter().find(|t| t.0 == base && t.1 == r.1)?;
                Some(cpu_per_request(&r.2) / cpu_per_request(&b.2))
            })
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let min = ratios.iter().copied().fold(f64::NAN, f64::min);
        let max = ratios.iter().copied().fold(f64::NAN, f64::max);
        let ratio = sys::median(&mut ratios);
        let verdict = match target {
            Some(t) if ratio <= t => format!("met; target <= {t:.2}, "),
            Some(t) => format!("missed; target <= {t:.2}, "),
            None => String::new(),
        };
        println!(
            "\nCPU per request, {kind} ({what}) / {base}: {ratio:.3} [{min:.2}-{max:.2}] \
             ({verdict}median [smallest-largest] of per-round ratios)"
        );
    }
}
