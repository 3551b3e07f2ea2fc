//! Creating the ring: feature probing, set-up flags with fallbacks, and the
//! error a user sees when io_uring is unavailable.

use io_uring::{opcode, IoUring, Probe};
use std::io;

/// Which driver a runtime runs: [`Builder::driver`](crate::Builder::driver)
/// chooses, [`Features::driver`] tells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Driver {
    /// io_uring where it can be set up, else the epoll fallback (the
    /// default; `RINGLOOP_DRIVER=epoll` or `=io_uring` in the environment
    /// picks one instead).
    #[default]
    Auto,
    /// io_uring only: building the runtime fails, with the cause and its
    /// fix, where the ring cannot be set up.
    IoUring,
    /// The epoll fallback: readiness and non-blocking syscalls. Everything
    /// but the ring-only APIs (custom SQEs through `Op::new`, multishot ops,
    /// `BufRing`) works, and those fail with an `Unsupported` error.
    Epoll,
}

impl Driver {
    /// The driver `RINGLOOP_DRIVER` names (`epoll`, `io_uring`/`uring`,
    /// `auto`), if it is set to one of them.
    pub fn from_env() -> Option<Driver> {
        match std::env::var("RINGLOOP_DRIVER")
            .ok()?
            .to_ascii_lowercase()
            .as_str()
        {
            "epoll" => Some(Driver::Epoll),
            "io_uring" | "iouring" | "uring" => Some(Driver::IoUring),
            "auto" => Some(Driver::Auto),
            _ => None,
        }
    }
}

/// What the ring was actually set up with, after fallbacks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Features {
    /// The driver that runs: [`Driver::IoUring`] or [`Driver::Epoll`]
    /// (never `Auto`). Under epoll every ring feature below is off.
    pub driver: Driver,
    /// Why the epoll driver runs (the ring's set-up error, or that it was
    /// chosen); `None` with the ring.
    pub fallback_reason: Option<&'static str>,
    /// IORING_SETUP_COOP_TASKRUN (5.19): completions do not interrupt the task.
    pub coop_taskrun: bool,
    /// IORING_SETUP_TASKRUN_FLAG (5.19): the kernel flags pending completion work,
    /// so a turn can skip `io_uring_enter` when there is nothing to submit or reap.
    pub taskrun_flag: bool,
    /// IORING_SETUP_SINGLE_ISSUER + IORING_SETUP_DEFER_TASKRUN (6.1): completion
    /// work runs only when the loop asks for it.
    pub defer_taskrun: bool,
    /// IORING_SETUP_SUBMIT_ALL (5.18): a bad SQE does not stop the batch.
    pub submit_all: bool,
    /// Multishot accept (5.19).
    pub multishot_accept: bool,
    /// IORING_RECVSEND_POLL_FIRST on RECV/SEND (5.19).
    pub recv_poll_first: bool,
    /// Multishot recv with a provided-buffer ring (6.0).
    pub multishot_recv: bool,
    /// IORING_OP_ASYNC_CANCEL understood.
    pub async_cancel: bool,
    /// IORING_FEAT_NODROP: completions are never dropped on CQ overflow.
    pub nodrop: bool,
    /// IORING_REGISTER_RING_FDS (5.18): the ring's fd is registered, so each
    /// `io_uring_enter` skips the fd lookup.
    pub registered_ring_fd: bool,
    /// Slots of the ring's registered-file table (sparse IORING_REGISTER_FILES2,
    /// 5.19; 0 = none). Sockets of `ringloop-net` take a slot while one is
    /// free, and their ops skip the kernel's per-op file lookup.
    pub fixed_files: u32,
    /// IORING_OP_MSG_RING (5.18): a runtime wakes another runtime's ring by
    /// posting a CQE to it from its own ring, instead of writing the other
    /// runtime's eventfd ([`Builder::msg_ring`](crate::Builder::msg_ring)).
    pub msg_ring: bool,
    /// IORING_FEAT_MIN_TIMEOUT (6.12): a wait can gather completions for a
    /// minimum time before waking ([`Builder::batch_wait`](crate::Builder::batch_wait)).
    pub min_timeout: bool,
    /// The opcodes the kernel's probe reported (bit `n` = opcode `n`); see
    /// [`Features::supports`].
    opcodes: [u64; 4],
}

impl Features {
    /// Whether this runtime runs io_uring `opcode` (an `io_uring::opcode::*::CODE`):
    /// the ring's probe found it. Always `false` on the epoll driver, and for
    /// kernels without IORING_REGISTER_PROBE (before 5.6). Crates above the
    /// runtime use it to choose between an op and `to_thread` (ringloop-fs,
    /// ringloop-process).
    pub fn supports(&self, opcode: u8) -> bool {
        self.opcodes[usize::from(opcode / 64)] & (1 << (opcode % 64)) != 0
    }
}

/// The ring set-up choices a [`Builder`](crate::Builder) passes down.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SetupOptions {
    pub entries: u32,
    pub coop_taskrun: bool,
    pub defer_taskrun: bool,
    pub register_ring_fd: bool,
    pub fixed_files: u32,
    pub batch_wait: std::time::Duration,
    pub msg_ring: bool,
}

/// Builds the ring, dropping optional flags the kernel rejects (EINVAL) one
/// tier at a time, and probes the opcodes the runtime uses.
pub(crate) fn build_ring(opts: &SetupOptions) -> io::Result<(IoUring, Features)> {
    // Tiers from the newest kernels down to 5.15 LTS.
    let tiers: [(bool, bool, bool); 3] = [
        (opts.coop_taskrun, opts.defer_taskrun, true),
        (opts.coop_taskrun, false, true),
        (false, false, false),
    ];
    let mut last_err = None;
    for (coop, defer, submit_all) in tiers {
        let mut b = IoUring::builder();
        b.setup_cqsize(opts.entries.saturating_mul(4));
        if coop {
            b.setup_coop_taskrun().setup_taskrun_flag();
        }
        if defer {
            b.setup_single_issuer().setup_defer_taskrun();
        }
        if submit_all {
            b.setup_submit_all();
        }
        match b.build(opts.entries) {
            Ok(ring) => {
                let mut features = Features {
                    driver: Driver::IoUring,
                    coop_taskrun: coop,
                    taskrun_flag: coop,
                    defer_taskrun: defer,
                    submit_all,
                    nodrop: ring.params().is_feature_nodrop(),
                    ..Features::default()
                };
                // A policy may let io_uring_setup through and refuse
                // io_uring_enter: find out now, not at the first turn.
                if let Err(e) = ring.submitter().submit() {
                    return Err(enter_error(e));
                }
                probe(&ring, &mut features)?;
                return Ok((ring, features));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last_err = Some(e),
            Err(e) => return Err(setup_error(e)),
        }
    }
    Err(setup_error(last_err.expect("at least one tier was tried")))
}

/// The opcodes the runtime's own ops need (all in Linux 5.11).
const REQUIRED: [(u8, &str); 10] = [
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::Send::CODE, "SEND"),
    (opcode::Accept::CODE, "ACCEPT"),
    (opcode::Connect::CODE, "CONNECT"),
    (opcode::Shutdown::CODE, "SHUTDOWN"),
    (opcode::Timeout::CODE, "TIMEOUT"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    (opcode::Close::CODE, "CLOSE"),
];

fn probe(ring: &IoUring, features: &mut Features) -> io::Result<()> {
    let mut probe = Probe::new();
    if ring.submitter().register_probe(&mut probe).is_err() {
        // IORING_REGISTER_PROBE is 5.6+; everything we need is older than the
        // kernels that lack it, so assume only the basics.
        features.async_cancel = true;
        return Ok(());
    }
    if let Some((_, name)) = REQUIRED.iter().find(|(code, _)| !probe.is_supported(*code)) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "ringloop: io_uring is not available: the kernel's io_uring lacks the {name} \
                 opcode (Linux 5.15 or newer has every opcode ringloop uses). To fix it: run \
                 on a newer kernel, or use the epoll driver (Builder::driver(Driver::Epoll))."
            ),
        ));
    }
    features.async_cancel = probe.is_supported(opcode::AsyncCancel::CODE);
    // Multishot accept and recv and POLL_FIRST have no opcode of their own;
    // they arrived with opcodes of the same releases (SOCKET in 5.19,
    // SEND_ZC in 6.0).
    features.multishot_accept = probe.is_supported(opcode::Socket::CODE);
    features.recv_poll_first = features.multishot_accept;
    features.multishot_recv = probe.is_supported(opcode::SendZc::CODE);
    features.msg_ring = probe.is_supported(opcode::MsgRingData::CODE);
    for code in 0..=u8::MAX {
        if probe.is_supported(code) {
            features.opcodes[usize::from(code / 64)] |= 1 << (code % 64);
        }
    }
    Ok(())
}

impl Features {
    /// The features of the epoll fallback, which runs for `reason`.
    pub(crate) fn epoll(reason: &'static str) -> Features {
        Features {
            driver: Driver::Epoll,
            fallback_reason: Some(reason),
            async_cancel: true,
            ..Features::default()
        }
    }
}

/// Whether `Driver::Auto` falls back to epoll after this set-up error: for
/// every cause but running out of file descriptors, which epoll would hit
/// too.
pub(crate) fn falls_back(e: &io::Error) -> bool {
    !matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// `text` as a `&'static str`, leaked once per distinct text: the reasons
/// a runtime falls back are few, and `Features` stays `Copy`.
pub(crate) fn intern(text: &str) -> &'static str {
    static TEXTS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut texts = TEXTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(t) = texts.iter().find(|t| **t == text) {
        return t;
    }
    let t: &'static str = Box::leak(text.to_owned().into_boxed_str());
    texts.push(t);
    t
}

/// Why io_uring is unavailable, as far as the process can tell; each cause
/// has its own fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// `kernel.io_uring_disabled` is 1 or 2.
    Sysctl(u32),
    /// A seccomp filter (or LSM policy) refuses the syscall.
    Policy,
    /// Refused, and the sysctl cannot be read to tell which of the two.
    PolicyOrSysctl,
    /// The kernel was built without io_uring.
    NoKernelSupport,
    /// Out of locked memory or memory.
    Memory,
    /// Out of file descriptors.
    Fds,
    /// Anything else.
    Other,
}

impl Cause {
    fn of(errno: i32) -> Cause {
        let filtered = crate::sys::seccomp_mode().is_some_and(|m| m != 0);
        match errno {
            libc::EPERM | libc::EACCES => match crate::sys::io_uring_disabled_sysctl() {
                Some(n @ (1 | 2)) => Cause::Sysctl(n),
                Some(_) => Cause::Policy,
                None => Cause::PolicyOrSysctl,
            },
            // A seccomp filter that hides io_uring answers ENOSYS too (as
            // Docker's default profile does); without a filter, the kernel
            // really lacks it.
            libc::ENOSYS if filtered => Cause::Policy,
            libc::ENOSYS => Cause::NoKernelSupport,
            libc::ENOMEM => Cause::Memory,
            libc::EMFILE | libc::ENFILE => Cause::Fds,
            _ => Cause::Other,
        }
    }

    fn fix(self) -> &'static str {
        match self {
            Cause::Sysctl(_) => {
                "To fix it: set `sysctl kernel.io_uring_disabled=0`, or (if it is 1) add this \
                 user to the group kernel.io_uring_group"
            }
            Cause::Policy => {
                "To fix it: allow io_uring_setup, io_uring_enter and io_uring_register in the \
                 seccomp profile (e.g. docker run --security-opt seccomp=<profile>) or the LSM \
                 policy that blocks them"
            }
            Cause::PolicyOrSysctl => {
                "To fix it: allow io_uring_setup, io_uring_enter and io_uring_register in the \
                 seccomp profile (e.g. docker run --security-opt seccomp=<profile>) or the LSM \
                 policy that blocks them, or set `sysctl kernel.io_uring_disabled=0` if it is set"
            }
            Cause::NoKernelSupport => {
                "To fix it: run on a kernel built with CONFIG_IO_URING (Linux 5.15 or newer)"
            }
            Cause::Memory => {
                "To fix it: raise RLIMIT_MEMLOCK (ulimit -l) or use a smaller ring \
                 (Builder::entries)"
            }
            Cause::Fds => "To fix it: close file descriptors or raise RLIMIT_NOFILE",
            Cause::Other => "ringloop needs io_uring on Linux 5.15 or newer",
        }
    }
}

/// Turns an `io_uring_setup` failure into an error that names the cause and the fix.
pub(crate) fn setup_error(e: io::Error) -> io::Error {
    let cause = Cause::of(e.raw_os_error().unwrap_or(0));
    let what = match cause {
        Cause::Sysctl(2) => "the sysctl kernel.io_uring_disabled is 2, which disables io_uring \
                             for every process"
            .to_string(),
        Cause::Sysctl(_) => "the sysctl kernel.io_uring_disabled is 1, which allows io_uring \
                             only for processes in the group kernel.io_uring_group"
            .to_string(),
        Cause::Policy | Cause::PolicyOrSysctl => {
            "the process is not allowed to create an io_uring: a seccomp profile \
                          (such as Docker's default) or an LSM policy blocks io_uring_setup"
                .to_string()
        }
        Cause::NoKernelSupport => {
            "the kernel has no io_uring (it was built without CONFIG_IO_URING)".to_string()
        }
        Cause::Memory => "the kernel could not allocate the ring: the locked-memory limit \
                          (RLIMIT_MEMLOCK) is too low for kernels before 5.12, or memory is \
                          exhausted"
            .to_string(),
        Cause::Fds => "the process or system is out of file descriptors".to_string(),
        Cause::Other => format!("io_uring_setup failed: {e}"),
    };
    unavailable(e, &what, cause)
}

/// The error for a ring that was created but cannot be entered: a policy
/// that lets `io_uring_setup` through but blocks `io_uring_enter`.
pub(crate) fn enter_error(e: io::Error) -> io::Error {
    let (what, cause) = match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES | libc::ENOSYS) => (
            "the ring was created, but a seccomp profile or an LSM policy blocks io_uring_enter"
                .to_string(),
            Cause::Policy,
        ),
        _ => (
            format!("the ring was created, but io_uring_enter failed: {e}"),
            Cause::Other,
        ),
    };
    unavailable(e, &what, cause)
}

fn unavailable(e: io::Error, what: &str, cause: Cause) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "ringloop: io_uring is not available: {what} ({e}). {}.",
            cause.fix()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_error_names_cause_and_fix() {
        let e = setup_error(io::Error::from_raw_os_error(libc::ENOSYS));
        let msg = e.to_string();
        assert!(msg.contains("io_uring is not available"), "{msg}");
        assert!(msg.contains("To fix it"), "{msg}");
        let e = setup_error(io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("io_uring_disabled") || e.to_string().contains("seccomp"));
        let e = enter_error(io::Error::from_raw_os_error(libc::EPERM));
        assert!(e.to_string().contains("blocks io_uring_enter"), "{e}");
        assert!(e.to_string().contains("seccomp profile"), "{e}");
    }

    #[test]
    fn enosys_without_a_seccomp_filter_means_no_kernel_support() {
        // This test process runs without a seccomp filter (the filtered case
        // is runtime/tests/setup.rs, in a child process).
        if crate::sys::seccomp_mode() != Some(0) {
            eprintln!("skipping: this process runs under seccomp");
            return;
        }
        let msg = setup_error(io::Error::from_raw_os_error(libc::ENOSYS)).to_string();
        assert!(msg.contains("CONFIG_IO_URING"), "{msg}");
        assert!(
            !msg.contains("sysctl"),
            "no sysctl advice for a missing kernel feature: {msg}"
        );
    }

    #[test]
    fn default_tier_builds_with_probed_features() {
        let opts = SetupOptions {
            entries: 8,
            coop_taskrun: true,
            defer_taskrun: true,
            register_ring_fd: true,
            fixed_files: 0,
            batch_wait: std::time::Duration::ZERO,
            msg_ring: true,
        };
        let (_ring, f) = build_ring(&opts).expect("this machine has io_uring");
        assert!(f.nodrop);
        assert!(f.async_cancel);
    }
}
