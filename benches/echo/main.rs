//! Echo benchmark: server CPU per round trip, throughput and latency of
//! ringloop against tokio current_thread, a plain mio/epoll loop, monoio and
//! a hand-written io_uring loop (the floor).
//!
//! `cargo bench --bench echo` runs every server as a child process of this
//! binary pinned to core 0, drives it from this process pinned to core 1,
//! alternates the servers over several rounds and prints a markdown table of
//! medians. Environment:
//!
//! - `RINGLOOP_BENCH_ROUNDS` (default 3): rounds per scenario and server;
//! - `RINGLOOP_BENCH_SECS` (default 2): measured seconds per run;
//! - `RINGLOOP_BENCH_WARMUP_MS` (default 500): unmeasured warm-up per run;
//! - `RINGLOOP_BENCH_SERVERS` (default all): comma list of server kinds
//!   (also `ringloop-nodefer` and `uring-defer`, to A/B DEFER_TASKRUN, and
//!   `ringloop-noregring`, to A/B the registered ring fd, and
//!   `ringloop-ops-pollfirst`, to A/B IORING_RECVSEND_POLL_FIRST, and
//!   `ringloop-nofixed`, to A/B the registered-file table, and
//!   `ringloop-batch`, with `Builder::batch_wait` (window from
//!   `RINGLOOP_BENCH_BATCH_US`, default 50 µs), and
//!   `ringloop-multi`, multishot recv from a provided-buffer ring, and
//!   `ringloop-multi-nodefer`, the same without DEFER_TASKRUN, and
//!   `uring-multi` / `uring-multi-defer`, the floor with one multishot recv
//!   per connection from a provided-buffer ring, and `uring-adaptive`, which
//!   switches a connection to multishot once its receives keep waiting, and
//!   `uring-directsend`, the floor echoing with a non-blocking `send(2)` as
//!   soon as a RECV's CQE is seen);
//! - `RINGLOOP_BENCH_BASE` (unset by default): the path of an echo bench
//!   binary built from another commit (`git worktree add /tmp/base REV &&
//!   cargo bench --bench echo --no-run` there); every kind in
//!   `RINGLOOP_BENCH_SERVERS` written `base:KIND` then runs that binary's
//!   `--server KIND`, alternated with this build's servers (A/B across
//!   commits);
//! - `RINGLOOP_BENCH_SCENARIOS` (default all): comma list like `100x128,1000x4096`;
//! - `RINGLOOP_BENCH_CLIENT` (default `both`): `uring` (one io_uring driving
//!   every connection), `epoll` (mio, edge-triggered, non-blocking
//!   read/write: the same ping-pong and byte checks) or `both`, one table
//!   per client;
//! - `RINGLOOP_BENCH_MAX_NOISE` (default 0.05) and `RINGLOOP_BENCH_RETRIES`
//!   (default 3): a run during which other processes used more than this
//!   share of cores 0 and 1 is repeated, up to this many times, and the
//!   least disturbed attempt is kept (the machine is shared; see the
//!   `noise` column).
//!
//! Other modes (used by `benches/callgrind.sh`):
//!
//! - `echo --server KIND ADDR [--conns N]`: just the server; with `--conns`
//!   it exits after N connections were accepted and closed;
//! - `echo --client ADDR CONNS SIZE ROUNDS`: just the load, a fixed number of
//!   round trips per connection.

#[path = "../common/floor.rs"]
mod floor;
#[path = "../common/sys.rs"]
mod sys;

mod client;
mod client_epoll;
mod report;
mod server_mio;
mod server_monoio;
mod server_ringloop;
mod server_ringloop_multi;
mod server_ringloop_ops;
mod server_tokio;
mod server_uring;
mod server_uring_multi;

use std::time::Duration;

/// Every server kind, in the order the table lists them: `ringloop` is the
/// net crate's `TcpStream`, `ringloop-epoll` the same server on the epoll
/// driver, `ringloop-ops` the raw op API on the ring.
pub const KINDS: [&str; 7] = [
    "ringloop",
    "ringloop-epoll",
    "ringloop-ops",
    "tokio",
    "mio",
    "monoio",
    "uring",
];
/// Variants run only when named in `RINGLOOP_BENCH_SERVERS` (A/B kinds:
/// ring flags, registered files and ring fd, batched waits, multishot recv;
/// see the module docs).
pub const EXTRA_KINDS: [&str; 12] = [
    "ringloop-batch",
    "ringloop-nofixed",
    "ringloop-nodefer",
    "uring-defer",
    "ringloop-noregring",
    "ringloop-ops-pollfirst",
    "ringloop-multi",
    "ringloop-multi-nodefer",
    "uring-multi",
    "uring-multi-defer",
    "uring-adaptive",
    "uring-directsend",
];
const SCENARIOS: [(usize, usize); 4] = [(100, 128), (100, 4096), (1000, 128), (1000, 4096)];

fn main() {
    let args = sys::setup();
    match args.first().map(String::as_str) {
        Some("--server") => server_main(&args[1..]),
        Some("--client") => client_main(&args[1..]),
        None => bench_main(),
        Some(other) => {
            eprintln!(
                "echo bench: unknown argument {other:?}; run without arguments, or with \
                 --server KIND ADDR [--conns N], or --client ADDR CONNS SIZE ROUNDS"
            );
            std::process::exit(2);
        }
    }
}

fn server_main(args: &[String]) {
    let (Some(kind), Some(addr)) = (args.first(), args.get(1)) else {
        eprintln!("echo bench: --server needs KIND and ADDR (kinds: {KINDS:?})");
        std::process::exit(2);
    };
    let conns: Option<usize> = match (args.get(2).map(String::as_str), args.get(3)) {
        (Some("--conns"), Some(n)) => Some(n.parse().expect("--conns takes a number")),
        _ => None,
    };
    let threads: usize = sys::env_or("RINGLOOP_BENCH_THREADS", 1);
    let listener = sys::listen(addr).unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    sys::announce(&listener).expect("stdout");
    if threads > 1 {
        return server_multi(kind, listener, threads);
    }
    sys::pin_to_core(0);
    match (kind.as_str(), conns) {
        ("ringloop", _) => server_ringloop::serve(listener, conns, &ringloop::Builder::new()),
        ("ringloop-epoll", _) => server_ringloop::serve(
            listener,
            conns,
            ringloop::Builder::new().driver(ringloop::Driver::Epoll),
        ),
        ("ringloop-nodefer", _) => server_ringloop::serve(
            listener,
            conns,
            ringloop::Builder::new().defer_taskrun(false),
        ),
        ("ringloop-noregring", _) => server_ringloop::serve(
            listener,
            conns,
            ringloop::Builder::new().register_ring_fd(false),
        ),
        ("ringloop-nofixed", _) => {
            server_ringloop::serve(listener, conns, ringloop::Builder::new().fixed_files(0))
        }
        ("ringloop-batch", _) => server_ringloop::serve(
            listener,
            conns,
            ringloop::Builder::new().batch_wait(sys::batch_window()),
        ),
        ("ringloop-ops", _) => server_ringloop_ops::serve(listener, conns, false),
        ("ringloop-ops-pollfirst", _) => server_ringloop_ops::serve(listener, conns, true),
        ("ringloop-multi", _) => server_ringloop_multi::serve(listener, conns, true),
        ("ringloop-multi-nodefer", _) => server_ringloop_multi::serve(listener, conns, false),
        ("uring", _) => server_uring::serve(listener, conns, false, false),
        ("uring-defer", _) => server_uring::serve(listener, conns, true, false),
        ("uring-directsend", _) => server_uring::serve(listener, conns, false, true),
        ("uring-multi", _) => server_uring_multi::serve(listener, conns, false, false),
        ("uring-multi-defer", _) => server_uring_multi::serve(listener, conns, true, false),
        ("uring-adaptive", _) => server_uring_multi::serve(listener, conns, false, true),
        ("tokio", None) => server_tokio::serve(listener),
        ("mio", None) => server_mio::serve(listener),
        ("monoio", None) => server_monoio::serve(listener),
        (kind, _) => {
            eprintln!(
                "echo bench: no server {kind:?} (or it has no --conns mode); kinds: {KINDS:?}"
            );
            std::process::exit(2);
        }
    }
}

/// The multi-core servers (`RINGLOOP_BENCH_THREADS` > 1): N pinned
/// ringloop runtimes, N hand-written rings or N monoio runtimes, each on
/// its own SO_REUSEPORT listener, or tokio's multi_thread runtime with N
/// workers on one listener (as tokio users write it).
fn server_multi(kind: &str, listener: std::net::TcpListener, threads: usize) {
    if kind == "tokio" {
        return server_tokio::serve_multi(listener, threads);
    }
    let listeners = std::sync::Mutex::new(
        sys::listeners(listener, threads)
            .unwrap_or_else(|e| panic!("cannot add listeners: {e}"))
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>(),
    );
    let take = |i: usize| {
        listeners.lock().unwrap()[i]
            .take()
            .expect("one listener per thread")
    };
    match kind {
        "ringloop" | "ringloop-epoll" => {
            let mut builder = ringloop::Runtime::builder();
            if kind == "ringloop-epoll" {
                builder.driver(ringloop::Driver::Epoll);
            }
            builder
                .threads(threads)
                .pin_to_cores(true)
                .run_per_thread(|| {
                    server_ringloop::accept_loop(take(ringloop::thread_index()), None)
                })
                .unwrap_or_else(|e| panic!("{e}"));
        }
        "uring" | "monoio" => std::thread::scope(|s| {
            for i in 0..threads {
                let listener = take(i);
                s.spawn(move || {
                    sys::pin_to_core(i);
                    match kind {
                        "uring" => server_uring::serve(listener, None, false, false),
                        _ => server_monoio::serve(listener),
                    }
                });
            }
        }),
        other => {
            eprintln!("echo bench: {other:?} has no multi-core mode (RINGLOOP_BENCH_THREADS > 1)");
            std::process::exit(2);
        }
    }
}

fn client_main(args: &[String]) {
    let parsed = (|| -> Option<_> {
        let addr = args.first()?.parse().ok()?;
        let conns = args.get(1)?.parse().ok()?;
        let size = args.get(2)?.parse().ok()?;
        let rounds = args.get(3)?.parse().ok()?;
        Some((addr, conns, size, rounds))
    })();
    let Some((addr, conns, size, rounds)) = parsed else {
        eprintln!("echo bench: --client needs ADDR CONNS SIZE ROUNDS");
        std::process::exit(2);
    };
    sys::pin_to_core(1);
    let load = client::Load {
        conns,
        size,
        warmup: Duration::ZERO,
        measure: Duration::ZERO,
        rounds_per_conn: Some(rounds),
    };
    // RINGLOOP_BENCH_CLIENT=epoll: the epoll client (for profiles of #18).
    let res = if std::env::var("RINGLOOP_BENCH_CLIENT").is_ok_and(|c| c == "epoll") {
        client_epoll::run(addr, None, load)
    } else {
        client::run(addr, None, load)
    };
    match res {
        Ok(m) => println!("{}", m.round_trips),
        Err(e) => {
            eprintln!("echo bench client failed: {e}");
            std::process::exit(1);
        }
    }
}

fn bench_main() {
    let threads: usize = sys::env_or("RINGLOOP_BENCH_THREADS", 1);
    if threads == 1 {
        sys::pin_to_core(1);
    } else {
        println!(
            "multi-core mode: {threads} server threads, client unpinned (it shares the cores: \
             read CPU per round trip, not throughput). On a bigger machine: for n in 1 2 4 8 16; \
             do RINGLOOP_BENCH_THREADS=$n RINGLOOP_BENCH_SERVERS=ringloop,tokio,monoio,uring \
             cargo bench --bench echo; done"
        );
    }
    let rounds: usize = sys::env_or("RINGLOOP_BENCH_ROUNDS", 3);
    let secs: f64 = sys::env_or("RINGLOOP_BENCH_SECS", 2.0);
    let warmup_ms: u64 = sys::env_or("RINGLOOP_BENCH_WARMUP_MS", 500);
    let kinds: Vec<String> = match std::env::var("RINGLOOP_BENCH_SERVERS") {
        Ok(list) => {
            let named = |k: &str| list.split(',').any(|w| w.trim() == k);
            let mut kinds: Vec<String> = KINDS
                .iter()
                .chain(&EXTRA_KINDS)
                .filter(|k| named(k))
                .map(|k| k.to_string())
                .collect();
            kinds.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|w| w.starts_with("base:"))
                    .map(String::from),
            );
            kinds
        }
        Err(_) => KINDS.iter().map(|k| k.to_string()).collect(),
    };
    if kinds.iter().any(|k| k.starts_with("base:"))
        && std::env::var_os("RINGLOOP_BENCH_BASE").is_none()
    {
        eprintln!("echo bench: a base:KIND server needs RINGLOOP_BENCH_BASE=<echo bench binary>");
        std::process::exit(2);
    }
    let scenarios: Vec<(usize, usize)> = match std::env::var("RINGLOOP_BENCH_SCENARIOS") {
        Ok(list) => SCENARIOS
            .iter()
            .copied()
            .filter(|(c, s)| list.split(',').any(|w| w.trim() == format!("{c}x{s}")))
            .collect(),
        Err(_) => SCENARIOS.to_vec(),
    };
    let max_noise: f64 = sys::env_or("RINGLOOP_BENCH_MAX_NOISE", 0.05);
    let retries: usize = sys::env_or("RINGLOOP_BENCH_RETRIES", 3);
    // RINGLOOP_BENCH_CLIENT: `uring`, `epoll` (mio, non-blocking
    // read/write) or `both` (default): each client's table separately.
    let clients: Vec<bool> = match std::env::var("RINGLOOP_BENCH_CLIENT").as_deref() {
        Ok("uring") => vec![false],
        Ok("epoll") => vec![true],
        _ => vec![false, true],
    };
    for epoll in clients {
        let client_name = if epoll { "epoll" } else { "io_uring" };
        let mut results = report::Results::default();
        for &(conns, size) in &scenarios {
            for round in 0..rounds {
                // Rotate the order so no server always runs first or last.
                for i in 0..kinds.len() {
                    let kind = kinds[(i + round) % kinds.len()].as_str();
                    let load = client::Load {
                        conns,
                        size,
                        warmup: Duration::from_millis(warmup_ms),
                        measure: Duration::from_secs_f64(secs),
                        rounds_per_conn: None,
                    };
                    match sys::quietest(
                        max_noise,
                        retries,
                        |m: &client::Measured| m.interference,
                        || run_one(kind, load, epoll),
                    ) {
                        Ok(m) => {
                            eprintln!(
                            "{client_name} client, {conns} conns x {size} B, round {round}, {kind}: {:.0} rt/s, \
                             {:.2} us CPU/rt, p50 {:?}, p99 {:?}, noise {:.0}%",
                            m.round_trips_per_sec(),
                            m.cpu_us_per_round_trip(),
                            m.p50,
                            m.p99,
                            m.interference * 100.0
                        );
                            results.add((conns, size), kind, round, m);
                        }
                        Err(e) => {
                            eprintln!(
                                "{conns} conns x {size} B, round {round}, {kind}: FAILED: {e}"
                            )
                        }
                    }
                }
            }
        }
        println!(
            "\n{}",
            results.markdown(&format!(
                "{rounds} rounds of {secs} s per server and scenario, medians; server on core 0, \
             {client_name} client on core 1; noise = CPU other processes used on those cores, \
             in % of one core"
            ))
        );
    }
}

fn run_one(kind: &str, load: client::Load, epoll: bool) -> std::io::Result<client::Measured> {
    let server = match kind.strip_prefix("base:") {
        Some(base_kind) => {
            let exe = std::env::var_os("RINGLOOP_BENCH_BASE").expect("checked in bench_main");
            sys::ServerProcess::start_exe(
                std::path::Path::new(&exe),
                &["--server".into(), base_kind.into(), "127.0.0.1:0".into()],
            )?
        }
        None => sys::ServerProcess::start(&[
            "--server".to_string(),
            kind.to_string(),
            "127.0.0.1:0".to_string(),
        ])?,
    };
    if epoll {
        client_epoll::run(server.addr, Some(server.pid()), load)
    } else {
        client::run(server.addr, Some(server.pid()), load)
    }
}
