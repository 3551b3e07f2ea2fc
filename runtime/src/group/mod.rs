//! One runtime per core: the launcher behind
//! [`Builder::run_per_thread`](crate::Builder::run_per_thread),
//! [`thread_index`], and [`Handle`] for work sent between runtimes and
//! threads.
//!
//! Each thread of a group runs its own runtime (its own ring, tasks and
//! timers); they share nothing on the hot path. Connections are spread
//! over them by the kernel when each listens on the same port with
//! `reuse_port`; work and values cross between them through
//! [`Handle::spawn`] and [`crate::sync::mpsc`].

mod handle;

pub use handle::{Handle, RemoteJoinHandle};

use std::cell::Cell;
use std::future::Future;
use std::io;

thread_local! {
    /// The index of this thread's runtime in its group (0 outside one).
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The index of the current thread's runtime in its group
/// ([`Builder::run_per_thread`](crate::Builder::run_per_thread)): 0 to
/// n-1, and 0 on any other thread.
pub fn thread_index() -> usize {
    INDEX.with(Cell::get)
}

/// Runs `make()` on `threads` threads, each on its own runtime built by
/// `builder`, optionally pinned; returns the outputs in thread order.
pub(crate) fn run<F, Fut>(
    builder: &crate::Builder,
    threads: usize,
    pin: bool,
    make: F,
) -> io::Result<Vec<Fut::Output>>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future,
    Fut::Output: Send,
{
    let cpus = crate::sys::allowed_cpus()?;
    let threads = if threads == 0 {
        cpus.len().max(1)
    } else {
        threads
    };
    let make = &make;
    let cpus = &cpus;
    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(threads);
        let mut spawn_error = None;
        for i in 0..threads {
            let builder = builder.clone();
            let worker = std::thread::Builder::new()
                .name(format!("ringloop-{i}"))
                .spawn_scoped(scope, move || {
                    run_one(i, &builder, pin.then(|| cpus.get(i)).flatten(), make)
                });
            match worker {
                Ok(w) => workers.push(w),
                Err(e) => {
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        // Every started thread runs to its end, whatever the others do.
        let results: Vec<io::Result<Fut::Output>> = workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(io::Error::other("ringloop: a runtime thread died")))
            })
            .collect();
        match spawn_error {
            Some(e) => Err(e),
            None => results.into_iter().collect(),
        }
    })
}

/// The body of runtime thread `i`: pins it to `cpu` (if given), builds its
/// runtime and runs `make()` on it. A panic comes back as this thread's
/// error, reported on stderr as an unobserved task panic is.
fn run_one<F, Fut>(
    i: usize,
    builder: &crate::Builder,
    cpu: Option<&usize>,
    make: &F,
) -> io::Result<Fut::Output>
where
    F: Fn() -> Fut,
    Fut: Future,
{
    INDEX.with(|c| c.set(i));
    if let Some(&cpu) = cpu {
        crate::sys::pin_to_cpu(cpu).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("ringloop: could not pin runtime thread {i} to CPU {cpu}: {e}"),
            )
        })?;
    }
    let rt = builder.build()?;
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(make())));
    drop(rt);
    out.map_err(|payload| {
        let msg = crate::task::panic_message(&*payload).to_string();
        eprintln!("ringloop: runtime thread {i} panicked: {msg}");
        io::Error::other(format!("ringloop: runtime thread {i} panicked: {msg}"))
    })
}
