//! `Runtime`, its `Builder`, and `run`.

use crate::driver::setup::SetupOptions;
use crate::driver::{Driver, DriverChoice, Features};
use crate::executor::{Config, Core};
use crate::task::{JoinHandle, UnhandledPanic};
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

fn default_blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores + 4).min(32)
}

/// An io_uring event loop with its executor. Not `Send`: a runtime, its
/// tasks and its ring belong to the thread that created it.
///
/// Dropping the runtime cancels its remaining tasks, then cancels the ops
/// still in flight and waits for their completions before any memory the
/// kernel could write is freed.
pub struct Runtime {
    core: Rc<Core>,
}

impl Runtime {
    /// A runtime with the default settings: io_uring where it can be set
    /// up, else the epoll driver ([`Builder::driver`]).
    ///
    /// # Errors
    /// When neither driver can be set up (the process is out of file
    /// descriptors, say), or `RINGLOOP_DRIVER=io_uring` asks for the ring
    /// and it cannot be set up; the error names the cause (a sysctl, a
    /// seccomp profile, a memory limit) and what to do about it.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A builder to configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs `future` to completion on this thread, with the runtime's tasks
    /// and ops making progress meanwhile.
    ///
    /// # Panics
    /// If called from inside a runtime (a task), or if the future panics.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.core.block_on(future)
    }

    /// Spawns a task on this runtime; it runs when the runtime next runs.
    #[track_caller]
    pub fn spawn<F: Future + 'static>(&self, future: F) -> JoinHandle<F::Output> {
        self.core.spawn(future, None, Location::caller())
    }

    /// A `Send + Sync` handle to this runtime, to spawn work on it from
    /// other threads and runtimes.
    pub fn handle(&self) -> crate::Handle {
        self.core.handle()
    }

    /// What the ring was set up with on this kernel.
    pub fn features(&self) -> Features {
        self.core.driver.borrow().features()
    }

    /// Number of `to_thread` pool threads alive now.
    pub fn blocking_threads(&self) -> usize {
        self.core.blocking.threads()
    }

    /// Number of ops the kernel may still post a completion for.
    pub fn ops_in_flight(&self) -> usize {
        self.core.driver.borrow().in_flight()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.core.shutdown();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("features", &self.features())
            .finish()
    }
}

/// Configures a [`Runtime`].
///
/// ```
/// let rt = ringloop_runtime::Runtime::builder().entries(512).debug(true).build().unwrap();
/// assert_eq!(rt.block_on(async { 7 }), 7);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    entries: u32,
    coop_taskrun: bool,
    defer_taskrun: bool,
    register_ring_fd: bool,
    fixed_files: u32,
    batch_wait: Duration,
    event_interval: u32,
    debug: Option<bool>,
    unhandled_panic: UnhandledPanic,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    /// `None`: `RINGLOOP_DRIVER`, else `Auto`.
    driver: Option<DriverChoice>,
    /// Runtimes of `run_per_thread` (0: one per CPU the process may use).
    threads: usize,
    msg_ring: bool,
    pin_to_cores: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The default settings: 256 SQ entries, COOP_TASKRUN and DEFER_TASKRUN
    /// where the kernel has them, 61 polls per turn, debug off unless
    /// `RINGLOOP_DEBUG=1`, unobserved panics reported.
    pub fn new() -> Builder {
        Builder {
            entries: 256,
            coop_taskrun: true,
            defer_taskrun: true,
            register_ring_fd: true,
            fixed_files: crate::driver::fixed::DEFAULT_SLOTS,
            batch_wait: Duration::ZERO,
            event_interval: 61,
            debug: None,
            driver: None,
            threads: 0,
            pin_to_cores: false,
            msg_ring: true,
            unhandled_panic: UnhandledPanic::Report,
            max_blocking_threads: default_blocking_threads(),
            blocking_keep_alive: Duration::from_secs(10),
        }
    }

    /// SQ size (rounded up to a power of two by the kernel; the CQ is 4x).
    /// More ops than this may be in flight: a full SQ is flushed, not refused.
    pub fn entries(&mut self, entries: u32) -> &mut Self {
        self.entries = entries.max(1);
        self
    }

    /// Use IORING_SETUP_COOP_TASKRUN + TASKRUN_FLAG if the kernel has them (default on).
    pub fn coop_taskrun(&mut self, on: bool) -> &mut Self {
        self.coop_taskrun = on;
        self
    }

    /// Use IORING_SETUP_SINGLE_ISSUER + DEFER_TASKRUN if the kernel has them (default on).
    pub fn defer_taskrun(&mut self, on: bool) -> &mut Self {
        self.defer_taskrun = on;
        self
    }

    /// Register the ring's fd with IORING_REGISTER_RING_FDS if the kernel
    /// has it (5.18+; default on), so each `io_uring_enter` skips the
    /// kernel's fd lookup. See [`Features::registered_ring_fd`].
    pub fn register_ring_fd(&mut self, on: bool) -> &mut Self {
        self.register_ring_fd = on;
        self
    }

    /// Size of the ring's registered-file table (default 16384, capped by
    /// the RLIMIT_NOFILE soft limit; 0 turns it off). Each socket of
    /// `ringloop-net` takes a slot while one is free, and its ops then name
    /// the slot (IOSQE_FIXED_FILE) so the kernel skips the per-op file
    /// lookup and reference count. Sockets beyond the table, and kernels
    /// without sparse tables (before 5.19), use fd numbers as usual. See
    /// [`Features::fixed_files`].
    pub fn fixed_files(&mut self, slots: u32) -> &mut Self {
        self.fixed_files = slots;
        self
    }

    /// Lets an idle loop's wait gather completions for up to `window` before
    /// it wakes (default zero: wake on the first completion). Once the
    /// window has passed, the wait ends at the first completion; it also
    /// ends early when the CQ is full. This trades up to `window` of
    /// latency per wake-up for fewer wake-ups (and less CPU per request)
    /// when a server is busy but not saturated. Needs Linux 6.12
    /// (IORING_FEAT_MIN_TIMEOUT, see [`Features::min_timeout`]); ignored
    /// before. Cross-thread wake-ups and timers are delayed by up to the
    /// window too.
    pub fn batch_wait(&mut self, window: Duration) -> &mut Self {
        self.batch_wait = window;
        self
    }

    /// How many task polls run before the ring is checked again (default 61).
    pub fn event_interval(&mut self, polls: u32) -> &mut Self {
        self.event_interval = polls.max(1);
        self
    }

    /// Whether other runtimes wake this one by posting a CQE to its ring
    /// with IORING_OP_MSG_RING (on by default where the kernel has it:
    /// [`Features::msg_ring`]), instead of writing its eventfd. Plain
    /// threads always use the eventfd.
    pub fn msg_ring(&mut self, on: bool) -> &mut Self {
        self.msg_ring = on;
        self
    }

    /// How many runtimes [`run_per_thread`](Self::run_per_thread) starts,
    /// one thread each (0, the default: one per CPU the process may use,
    /// from `sched_getaffinity`). More than the CPUs is fine: with
    /// [`pin_to_cores`](Self::pin_to_cores), the threads beyond them run
    /// unpinned.
    pub fn threads(&mut self, n: usize) -> &mut Self {
        self.threads = n;
        self
    }

    /// Whether [`run_per_thread`](Self::run_per_thread) pins thread `i` to
    /// the `i`-th CPU the process may use (`sched_setaffinity`), so each
    /// runtime keeps its core's caches. Off by default. A pin the OS
    /// refuses fails that thread with an error naming the CPU.
    pub fn pin_to_cores(&mut self, on: bool) -> &mut Self {
        self.pin_to_cores = on;
        self
    }

    /// Starts [`threads`](Self::threads) threads, each with its own runtime
    /// built with these settings, runs the future `make()` returns on each
    /// (built on that thread, so it need not be `Send`), and returns the
    /// outputs in thread order once all have finished.
    /// [`thread_index`](crate::thread_index) tells a thread its place.
    ///
    /// Typically each thread binds the same port with
    /// `ListenOptions::reuse_port(true)` and serves the connections the
    /// kernel gives it. Ctrl-C handling stays the caller's
    /// (`signal::ctrl_c` in each thread, or in one that tells the others).
    ///
    /// # Errors
    /// The first error of any thread, after every thread has finished: a
    /// runtime that could not be built, a pin the OS refused, or a panic
    /// (reported on stderr as an unobserved task panic is; the other
    /// threads keep running).
    ///
    /// ```
    /// let ids = ringloop_runtime::Runtime::builder()
    ///     .threads(2)
    ///     .run_per_thread(|| async { ringloop_runtime::thread_index() })
    ///     .unwrap();
    /// assert_eq!(ids, [0, 1]);
    /// ```
    pub fn run_per_thread<F, Fut>(&self, make: F) -> io::Result<Vec<Fut::Output>>
    where
        F: Fn() -> Fut + Send + Sync,
        Fut: Future,
        Fut::Output: Send,
    {
        crate::group::run(self, self.threads, self.pin_to_cores, make)
    }

    /// Which driver runs the loop (default: `RINGLOOP_DRIVER` if set, else
    /// [`Driver::Auto`](crate::Driver::Auto): io_uring where it can be set
    /// up, the epoll fallback where it cannot). [`Runtime::features`] tells
    /// which one runs, and why.
    pub fn driver(&mut self, driver: DriverChoice) -> &mut Self {
        self.driver = Some(driver);
        self
    }

    /// Debug mode: report polls over 100 ms and list tasks pending at
    /// shutdown. Defaults to the `RINGLOOP_DEBUG` environment variable.
    pub fn debug(&mut self, on: bool) -> &mut Self {
        self.debug = Some(on);
        self
    }

    /// What to do when a task panics and its handle was dropped.
    pub fn unhandled_panic(&mut self, policy: UnhandledPanic) -> &mut Self {
        self.unhandled_panic = policy;
        self
    }

    /// Most closures of `to_thread` running at once; more wait in FIFO
    /// order. Default `min(32, cores + 4)`, as asyncio's default executor.
    pub fn max_blocking_threads(&mut self, threads: usize) -> &mut Self {
        self.max_blocking_threads = threads.max(1);
        self
    }

    /// How long an idle `to_thread` pool thread waits for work before it
    /// exits (default 10 s).
    pub fn blocking_keep_alive(&mut self, idle: Duration) -> &mut Self {
        self.blocking_keep_alive = idle;
        self
    }

    /// Creates the runtime.
    ///
    /// # Errors
    /// When the chosen driver cannot be set up (see [`Runtime::new`]): with
    /// [`Driver::IoUring`](crate::Driver::IoUring), wherever io_uring is
    /// unavailable; with `Auto`, only when the process is out of file
    /// descriptors.
    pub fn build(&self) -> io::Result<Runtime> {
        let choice = self
            .driver
            .or_else(DriverChoice::from_env)
            .unwrap_or_default();
        let wake_fd = crate::sys::eventfd()?;
        let opts = SetupOptions {
            entries: self.entries,
            coop_taskrun: self.coop_taskrun,
            defer_taskrun: self.defer_taskrun,
            register_ring_fd: self.register_ring_fd,
            fixed_files: self.fixed_files,
            batch_wait: self.batch_wait,
            msg_ring: self.msg_ring,
        };
        let driver = Driver::new(&opts, &wake_fd, choice)?;
        let debug = self.debug.unwrap_or_else(|| {
            std::env::var("RINGLOOP_DEBUG").is_ok_and(|v| !v.is_empty() && v != "0")
        });
        if debug {
            let features = driver.features();
            match features.fallback_reason {
                Some(reason) => eprintln!("ringloop: running the epoll driver: {reason}"),
                None => eprintln!("ringloop: running the io_uring driver"),
            }
        }
        let config = Config {
            event_interval: self.event_interval,
            debug,
            unhandled_panic: self.unhandled_panic,
            max_blocking_threads: self.max_blocking_threads,
            blocking_keep_alive: self.blocking_keep_alive,
        };
        let shared = Arc::new(crate::task::waker::Shared::new(wake_fd));
        shared.set_ring_fd(driver.msg_ring_target());
        Ok(Runtime {
            core: Rc::new(Core::new(driver, shared, config)),
        })
    }
}

/// Runs `future` on a new runtime and returns its output; the runtime's
/// remaining tasks are cancelled when it returns (listed in debug mode).
///
/// # Panics
/// If no driver can be set up (with the message of [`Runtime::new`]'s
/// error), if called from inside a runtime, or if `future` panics.
///
/// ```
/// assert_eq!(ringloop_runtime::run(async { 1 + 1 }), 2);
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    let rt = Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(future)
}

/// What the current runtime's ring was set up with.
///
/// # Panics
/// Outside a ringloop runtime.
#[track_caller]
pub fn features() -> Features {
    crate::context::core("ringloop::features")
        .driver
        .borrow()
        .features()
}
