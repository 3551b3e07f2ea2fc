//! The load generator: one io_uring on its own core driving every
//! connection through send-then-wait-for-the-echo round trips, checking
//! every echoed byte and timing every round trip.

use super::sys::Interference;
use io_uring::{cqueue, squeue, types, IoUring, SubmissionQueue, Submitter};
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Low bit of user_data: set for a send, clear for a recv.
const SEND: u64 = 1;
/// Round trips slower than this land in the histogram's last bucket.
const MAX_LATENCY_US: usize = 200_000;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub conns: usize,
    pub size: usize,
    /// Run this long before measuring (ignored with `rounds_per_conn`).
    pub warmup: Duration,
    /// Measure this long.
    pub measure: Duration,
    /// Instead of a timed window: each connection does exactly this many
    /// round trips, then closes.
    pub rounds_per_conn: Option<u64>,
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub round_trips: u64,
    pub elapsed: Duration,
    /// Server CPU time (user + system) over the measured window.
    pub server_cpu: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// Share of a core other processes used on cores 0 and 1 during the window.
    pub interference: f64,
}

impl Measured {
    pub fn round_trips_per_sec(&self) -> f64 {
        self.round_trips as f64 / self.elapsed.as_secs_f64()
    }
    pub fn cpu_us_per_round_trip(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.round_trips as f64
    }
}

struct Conn {
    stream: TcpStream,
    /// Its message and echo buffers are heap memory that lives until every
    /// op of the run has completed (`run` drains before returning).
    x: Exchange,
}

/// One connection's ping-pong as both clients run it: the message, the
/// buffer its echo lands in, and how far the current round trip got.
pub struct Exchange {
    /// What this connection sends; bytes 0..8 carry the round number.
    pub msg: Box<[u8]>,
    /// Where the echo lands.
    pub echo: Box<[u8]>,
    pub sent: usize,
    pub got: usize,
    pub round: u64,
    pub started: Instant,
}

impl Exchange {
    /// Connection `i`'s exchange of `size`-byte messages: a different
    /// pattern per connection, so crossed streams are caught.
    pub fn new(i: usize, size: usize) -> Exchange {
        Exchange {
            msg: (0..size)
                .map(|j| (j as u64 * 31 + i as u64 * 7) as u8)
                .collect(),
            echo: vec![0; size].into_boxed_slice(),
            sent: 0,
            got: 0,
            round: 0,
            started: Instant::now(),
        }
    }

    /// Starts the round trip of the current round at `now`: tags the
    /// message with the round number and resets the progress.
    pub fn start(&mut self, now: Instant) {
        let tag = self.round.to_le_bytes();
        let n = tag.len().min(self.msg.len());
        self.msg[..n].copy_from_slice(&tag[..n]);
        self.sent = 0;
        self.got = 0;
        self.started = now;
    }

    /// Checks that the echo of this round is the message sent (connection
    /// `key` names it in the error).
    pub fn check(&self, key: usize) -> io::Result<()> {
        if self.echo != self.msg {
            return Err(io::Error::other(format!(
                "connection {key}: the echo of round {} differs from what was sent",
                self.round
            )));
        }
        Ok(())
    }
}

/// Connects `load.conns` connections to `addr` and runs the load. `server_pid`
/// is the process whose CPU time is measured.
pub fn run(addr: SocketAddr, server_pid: Option<u32>, load: Load) -> io::Result<Measured> {
    let mut ring = IoUring::builder()
        .setup_coop_taskrun()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(8192)
        .build(4096)
        .or_else(|_| IoUring::builder().setup_cqsize(8192).build(4096))?;
    let mut conns = Vec::with_capacity(load.conns);
    for i in 0..load.conns {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        conns.push(Conn {
            stream,
            x: Exchange::new(i, load.size),
        });
    }
    let mut in_flight = 0usize;
    let mut open = conns.len();
    let mut window = Window::new(server_pid, load)?;
    let start = window.start();
    let mut result = Ok(());
    {
        let (submitter, mut sq, mut cq) = ring.split();
        for (key, conn) in conns.iter_mut().enumerate() {
            start_round(&submitter, &mut sq, conn, key as u64, start, &mut in_flight);
        }
        let stall = types::Timespec::from(Duration::from_secs(5));
        let args = types::SubmitArgs::new().timespec(&stall);
        'run: while open > 0 {
            sq.sync();
            match submitter.submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => {
                    result = Err(io::Error::other("the server answered nothing for 5 s"));
                    break;
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            if window.tick(now)? {
                break 'run;
            }
            cq.sync();
            for cqe in &mut cq {
                in_flight -= 1;
                match on_cqe(&cqe, &mut conns, load.size) {
                    Err(e) => {
                        result = Err(e);
                        break 'run;
                    }
                    Ok(false) => {
                        // Continue a partial send or recv.
                        let key = cqe.user_data() >> 1;
                        let conn = &mut conns[key as usize];
                        if cqe.user_data() & SEND != 0 && conn.x.sent < load.size {
                            push(&submitter, &mut sq, &send_sqe(conn, key), &mut in_flight);
                        } else if cqe.user_data() & SEND == 0 && conn.x.got < load.size {
                            push(&submitter, &mut sq, &recv_sqe(conn, key), &mut in_flight);
                        }
                    }
                    Ok(true) => {
                        let key = (cqe.user_data() >> 1) as usize;
                        let conn = &mut conns[key];
                        window.record(conn.x.started, now);
                        conn.x.round += 1;
                        if load.rounds_per_conn.is_some_and(|n| conn.x.round >= n) {
                            let _ = conn.stream.shutdown(Shutdown::Write);
                            open -= 1;
                        } else {
                            start_round(&submitter, &mut sq, conn, key as u64, now, &mut in_flight);
                        }
                    }
                }
            }
        }
        // Stop every op before the buffers go away: a shut-down socket
        // completes its pending recv and send at once.
        for conn in &conns {
            let _ = conn.stream.shutdown(Shutdown::Both);
        }
        while in_flight > 0 {
            sq.sync();
            submitter.submit_and_wait(1)?;
            cq.sync();
            in_flight -= cq.len();
            (&mut cq).for_each(drop);
        }
        result?;
        window.finish()
    }
}

fn cpu(pid: Option<u32>) -> io::Result<Duration> {
    pid.map_or(Ok(Duration::ZERO), super::sys::cpu_time)
}

/// Sends the next message of `conn` and posts the recv for its echo.
fn start_round(
    submitter: &Submitter<'_>,
    sq: &mut SubmissionQueue<'_>,
    conn: &mut Conn,
    key: u64,
    now: Instant,
    in_flight: &mut usize,
) {
    conn.x.start(now);
    push(submitter, sq, &send_sqe(conn, key), in_flight);
    push(submitter, sq, &recv_sqe(conn, key), in_flight);
}

/// Handles one CQE; true when it completed a verified round trip.
fn on_cqe(cqe: &cqueue::Entry, conns: &mut [Conn], size: usize) -> io::Result<bool> {
    let key = (cqe.user_data() >> 1) as usize;
    let conn = &mut conns[key];
    let res = cqe.result();
    if res < 0 {
        return Err(io::Error::from_raw_os_error(-res));
    }
    if res == 0 {
        return Err(io::Error::other(format!(
            "the server closed connection {key}"
        )));
    }
    if cqe.user_data() & SEND != 0 {
        conn.x.sent += res as usize;
    } else {
        conn.x.got += res as usize;
    }
    // One op of each kind is in flight per connection; the caller
    // continues a partial one.
    if conn.x.sent < size || conn.x.got < size {
        return Ok(false);
    }
    conn.x.check(key)?;
    Ok(true)
}

fn send_sqe(conn: &Conn, key: u64) -> squeue::Entry {
    super::floor::send_sqe(&conn.stream, &conn.x.msg[conn.x.sent..], key << 1 | SEND)
}

fn recv_sqe(conn: &mut Conn, key: u64) -> squeue::Entry {
    super::floor::recv_sqe(&conn.stream, &mut conn.x.echo[conn.x.got..], key << 1)
}

fn push(
    submitter: &Submitter<'_>,
    sq: &mut SubmissionQueue<'_>,
    sqe: &squeue::Entry,
    in_flight: &mut usize,
) {
    *in_flight += 1;
    // SAFETY: every SQE points into a connection's boxed buffers, which
    // live until all ops completed (`run` drains before dropping them).
    unsafe { super::floor::push_unchecked(submitter, sq, sqe) }
}

fn percentile(hist: &[u64], q: f64) -> Duration {
    let total: u64 = hist.iter().sum();
    let target = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (us, &count) in hist.iter().enumerate() {
        seen += count;
        if seen >= target {
            return Duration::from_micros(us as u64);
        }
    }
    Duration::from_micros(MAX_LATENCY_US as u64)
}

/// The measured window both clients keep: warm-up, then a timed window
/// (or the whole run with `rounds_per_conn`), with the server's CPU time,
/// the noise of other processes and a latency histogram over it.
pub(crate) struct Window {
    load: Load,
    server_pid: Option<u32>,
    own_pids: Vec<u32>,
    start: Instant,
    measuring: bool,
    window_start: Instant,
    cpu_start: Duration,
    noise_start: Interference,
    round_trips: u64,
    hist: Vec<u64>,
}

impl Window {
    pub(crate) fn new(server_pid: Option<u32>, load: Load) -> io::Result<Window> {
        let own_pids: Vec<u32> = server_pid.into_iter().chain([std::process::id()]).collect();
        let start = Instant::now();
        Ok(Window {
            load,
            server_pid,
            measuring: load.rounds_per_conn.is_some() || load.warmup.is_zero(),
            start,
            window_start: start,
            cpu_start: cpu(server_pid)?,
            noise_start: Interference::sample(&own_pids)?,
            own_pids,
            round_trips: 0,
            hist: vec![0u64; MAX_LATENCY_US + 1],
        })
    }

    /// When the run began (for the first round trips' start times).
    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    /// Starts the timed window after the warm-up; `true` once it is over.
    pub(crate) fn tick(&mut self, now: Instant) -> io::Result<bool> {
        if self.load.rounds_per_conn.is_some() {
            return Ok(false);
        }
        if !self.measuring && now >= self.start + self.load.warmup {
            self.measuring = true;
            self.window_start = now;
            self.cpu_start = cpu(self.server_pid)?;
            self.noise_start = Interference::sample(&self.own_pids)?;
            self.round_trips = 0;
            self.hist.fill(0);
        } else if self.measuring && now >= self.window_start + self.load.measure {
            return Ok(true);
        }
        Ok(false)
    }

    /// Counts a verified round trip begun at `started`.
    pub(crate) fn record(&mut self, started: Instant, now: Instant) {
        let us = now.duration_since(started).as_micros() as usize;
        self.hist[us.min(MAX_LATENCY_US)] += 1;
        self.round_trips += 1;
    }

    /// Closes the window: elapsed time, server CPU and noise over it.
    pub(crate) fn finish(self) -> io::Result<Measured> {
        let elapsed = self.window_start.elapsed();
        let cpu_end = cpu(self.server_pid)?;
        let interference = self
            .noise_start
            .fraction(&Interference::sample(&self.own_pids)?, elapsed);
        if self.round_trips == 0 {
            return Err(io::Error::other("no round trip completed"));
        }
        Ok(Measured {
            round_trips: self.round_trips,
            elapsed,
            server_cpu: cpu_end.saturating_sub(self.cpu_start),
            p50: percentile(&self.hist, 0.50),
            p99: percentile(&self.hist, 0.99),
            interference,
        })
    }
}
