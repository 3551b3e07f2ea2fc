//! Process plumbing shared by the benchmark programs: CPU pinning, the fd
//! limit, server CPU time from /proc, and starting server processes.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Pins the calling thread (and the threads it spawns later) to one core.
pub fn pin_to_core(core: usize) {
    // SAFETY: `cpu_set_t` is plain data for which all-zero bytes is a valid
    // (empty) set; CPU_SET writes inside it; sched_setaffinity only reads it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        eprintln!(
            "bench: could not pin to core {core}: {}; figures will be noisier",
            io::Error::last_os_error()
        );
    }
}

/// What a bench binary does first: raises the fd limit (runs open
/// thousands of connections) and returns its arguments, without the
/// `--bench` that `cargo bench` passes.
pub fn setup() -> Vec<String> {
    raise_fd_limit();
    std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect()
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (left as it is if that fails).
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: setrlimit reads the struct we own.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
}

/// User + system CPU time of a process (all its threads), from /proc/<pid>/stat.
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    stat_ticks(pid, 11)
}

/// User + system time of `pid`'s children that it has waited for (cutime +
/// cstime in /proc/PID/stat): the only way to see the CPU of a child that
/// is gone, such as wrk after its run.
#[allow(dead_code)] // the echo bench does not use it
pub fn waited_children_cpu_time(pid: u32) -> io::Result<Duration> {
    stat_ticks(pid, 13)
}

/// The sum of fields `first` and `first + 1` (counted after the command
/// name) of /proc/PID/stat, in clock ticks, as a duration.
fn stat_ticks(pid: u32, first: usize) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields after it are space-separated.
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the file (11 and 12 counted
    // from 0 after the name), cutime and cstime 16 and 17.
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other(format!("unexpected /proc/{pid}/stat: {stat}")))
    };
    let total = ticks(first)? + ticks(first + 1)?;
    Ok(Duration::from_nanos(total * 1_000_000_000 / clock_ticks()))
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

/// A server process started from this same binary, killed on drop.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Runs `<this exe> <args...>`; the server prints `listening <addr>` on
    /// stdout once it accepts connections.
    pub fn start(args: &[String]) -> io::Result<ServerProcess> {
        ServerProcess::start_exe(&std::env::current_exe()?, args)
    }

    /// Runs `<exe> <args...>`: a bench binary built from another commit (A/B
    /// across commits), with the same `listening <addr>` handshake.
    pub fn start_exe(exe: &std::path::Path, args: &[String]) -> io::Result<ServerProcess> {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .strip_prefix("listening ")
            .and_then(|a| a.trim().parse().ok());
        match addr {
            Some(addr) => Ok(ServerProcess { child, addr }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(format!(
                    "server {args:?} did not report its address (printed {line:?})"
                )))
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A listening socket on `addr` with a backlog deep enough for 1000
/// simultaneous connects.
pub fn listen(addr: &str) -> io::Result<std::net::TcpListener> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::other(format!("bad address {addr:?}: {e}")))?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    // So that the multi-core servers can add listeners on the same port.
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// `first` and `n - 1` more listeners on its address (SO_REUSEPORT): the
/// kernel spreads connections over them, one per server thread.
pub fn listeners(first: std::net::TcpListener, n: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let addr = first.local_addr()?.to_string();
    let mut all = vec![first];
    for _ in 1..n {
        all.push(listen(&addr)?);
    }
    Ok(all)
}

/// Tells the parent where the server listens (see [`ServerProcess::start`]).
pub fn announce(listener: &std::net::TcpListener) -> io::Result<()> {
    use std::io::Write;
    let mut out = io::stdout().lock();
    writeln!(out, "listening {}", listener.local_addr()?)?;
    out.flush()
}

/// The window of the `ringloop-batch` servers' `Builder::batch_wait`:
/// `RINGLOOP_BENCH_BATCH_US` microseconds, default 50.
pub fn batch_window() -> std::time::Duration {
    std::time::Duration::from_micros(env_or("RINGLOOP_BENCH_BATCH_US", 50))
}

/// An environment variable parsed as a number, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("bench: ignoring {name}={v:?} (not a number)");
            default
        }),
        Err(_) => default,
    }
}

/// Runs `run` until an attempt's `noise` (share of a core others used) is at
/// most `max_noise`, at most `1 + retries` times; keeps the least disturbed
/// attempt.
pub fn quietest<M>(
    max_noise: f64,
    retries: usize,
    noise: impl Fn(&M) -> f64,
    mut run: impl FnMut() -> io::Result<M>,
) -> io::Result<M> {
    let mut best = run()?;
    for _ in 0..retries {
        if noise(&best) <= max_noise {
            break;
        }
        let m = run()?;
        if noise(&m) < noise(&best) {
            best = m;
        }
    }
    Ok(best)
}

/// The median of some figures (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The lower and upper quartiles of `values` (sorts them): the medians of
/// the lower and the upper half (Tukey's hinges; the middle value of an odd
/// count is in neither half).
pub fn quartiles(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let half = values.len() / 2;
    let upper = values.len() - half;
    (median(&mut values[..half]), median(&mut values[upper..]))
}

/// Busy time (everything but idle and iowait) of one core, from /proc/stat.
pub fn core_busy(core: usize) -> io::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let name = format!("cpu{core} ");
    let line = stat
        .lines()
        .find(|l| l.starts_with(&name))
        .ok_or_else(|| io::Error::other(format!("no {name:?} line in /proc/stat")))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: u64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .map(|(_, t)| t)
        .sum();
    Ok(Duration::from_nanos(busy * 1_000_000_000 / clock_ticks()))
}

/// CPU time the benchmark does not own on cores 0 and 1, sampled twice to
/// tell how much other processes (or the hypervisor) disturbed a window.
#[derive(Debug, Clone, Copy)]
pub struct Interference {
    busy: Duration,
    own: Duration,
}

impl Interference {
    /// Samples now; `own_pids` are the processes the benchmark consists of.
    pub fn sample(own_pids: &[u32]) -> io::Result<Interference> {
        let mut own = Duration::ZERO;
        for &pid in own_pids {
            own += cpu_time(pid)?;
        }
        Ok(Interference {
            busy: core_busy(0)? + core_busy(1)?,
            own,
        })
    }

    /// Other processes' share of two cores between `self` and `later`, over
    /// a window of `elapsed` (0.0 = undisturbed, 1.0 = a whole core).
    pub fn fraction(&self, later: &Interference, elapsed: Duration) -> f64 {
        let busy = later.busy.saturating_sub(self.busy).as_secs_f64();
        let own = later.own.saturating_sub(self.own).as_secs_f64();
        ((busy - own) / elapsed.as_secs_f64()).max(0.0)
    }
}
