//! The epoll fallback: runs the runtime's own ops where io_uring cannot be
//! set up (a seccomp profile, `kernel.io_uring_disabled`, an old kernel), or
//! when asked to (`RINGLOOP_DRIVER=epoll`, `Builder::driver`).
//!
//! It takes the same SQEs the ring would and answers with the same CQEs, so
//! nothing above the driver changes: each pushed SQE is carried out as a
//! non-blocking syscall on the loop's next turn; one that would block waits
//! in its fd's queue until epoll (edge-triggered, one registration per fd)
//! reports the fd ready, and is tried again. TIMEOUTs wait in a deadline
//! map whose nearest entry bounds `epoll_wait`. Cancelling an op that has
//! not run removes it and completes it with `ECANCELED`; an op that ran has
//! already completed, so no data is ever consumed by a cancelled op.
//!
//! Like mio, the fallback makes every fd it runs an op on non-blocking
//! (O_NONBLOCK stays set if the fd is later taken out of the runtime).
//!
//! Only the opcodes the runtime's own builders use are carried out
//! ([`Epoll::refusal`]); custom SQEs, multishot ops and provided buffers
//! need a ring and are refused with an `Unsupported` error.

use io_uring::{opcode, squeue};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The kernel's `struct io_uring_sqe`, as far as the fallback reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Sqe {
    opcode: u8,
    flags: u8,
    ioprio: u16,
    fd: i32,
    /// `off` / `addr2`.
    off: u64,
    addr: u64,
    len: u32,
    /// `rw_flags` / `msg_flags` / `timeout_flags` / `accept_flags` / `poll32_events` / ...
    op_flags: u32,
    user_data: u64,
    buf_index: u16,
    personality: u16,
    file_index: u32,
    addr3: u64,
    pad: u64,
}

const _: () = assert!(std::mem::size_of::<Sqe>() == std::mem::size_of::<squeue::Entry>());

impl Sqe {
    fn of(entry: &squeue::Entry) -> Sqe {
        // SAFETY: `squeue::Entry` is a `#[repr(C)]` wrapper of the kernel's
        // 64-byte `io_uring_sqe`, whose layout `Sqe` repeats field for field
        // (the size is checked above); every bit pattern is a valid `Sqe`.
        unsafe { std::mem::transmute_copy(entry) }
    }
}

// SQE flags and opcode options the fallback has to look at.
const IOSQE_BUFFER_SELECT: u8 = 1 << 5;
const IORING_ACCEPT_MULTISHOT: u16 = 1 << 0;
const IORING_RECV_MULTISHOT: u16 = 1 << 1;
const IORING_POLL_ADD_MULTI: u32 = 1 << 0;
const IORING_TIMEOUT_ABS: u32 = 1 << 0;
const IORING_TIMEOUT_BOOTTIME: u32 = 1 << 2;
const IORING_TIMEOUT_REALTIME: u32 = 1 << 3;
const IORING_ASYNC_CANCEL_ALL: u32 = 1 << 0;
const IORING_ASYNC_CANCEL_ANY: u32 = 1 << 2;

/// Which way an op waits on its fd.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    Read,
    Write,
}

/// What trying an op gave.
enum Attempt {
    /// The op completed with this CQE result.
    Done(i32),
    /// It would block: wait for the fd to be ready this way.
    Wait(Dir),
}

/// An op waiting for its fd. `started` marks a CONNECT already issued, whose
/// result is then read with `SO_ERROR`.
#[derive(Clone, Copy, Debug)]
struct Parked {
    sqe: Sqe,
    started: bool,
    /// The fd is not seekable: offsets are ignored.
    stream: bool,
}

/// How the fallback knows an fd.
#[derive(Default)]
struct FdEntry {
    /// Made non-blocking and added to the epoll set (or found unpollable).
    known: bool,
    /// epoll refused it (a regular file): its ops run, and block, at once.
    unpollable: bool,
    /// Not seekable (a socket, pipe, eventfd, ...): a READ or WRITE at an
    /// offset ignores it, as io_uring does for such files.
    stream: bool,
    readers: VecDeque<Parked>,
    writers: VecDeque<Parked>,
}

/// The epoll fallback's state: the epoll set, the ops waiting on fds or
/// deadlines, and the completions of this turn.
pub(crate) struct Epoll {
    epfd: OwnedFd,
    /// By fd number. An entry is forgotten when its fd is closed
    /// ([`Epoll::forget_fd`]), so a reused number is registered afresh.
    fds: Vec<FdEntry>,
    /// SQEs pushed since the last turn, carried out in order.
    pushed: VecDeque<Sqe>,
    /// Completions not yet handed to the driver: (user_data, result).
    done: Vec<(u64, i32)>,
    /// Waiting TIMEOUTs by (deadline, user_data).
    timers: BTreeMap<(Instant, u64), ()>,
    /// Where each waiting op is: its deadline, or its fd.
    waiting: HashMap<u64, Waiting, BuildHasherDefault<KeyHasher>>,
    events: Vec<libc::epoll_event>,
    /// Whether the last turn asked epoll for readiness: a turn that has
    /// completions to hand out may then skip it (see [`Epoll::turn`]).
    polled_last_turn: bool,
    /// Why this driver runs instead of the ring.
    reason: &'static str,
}

/// Hashes an op's `user_data` (a slab key, unique and small) with one
/// multiplication: the default SipHash costs more than the rest of a park.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: spreads consecutive keys over the high bits,
        // which the table uses too.
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Clone, Copy)]
enum Waiting {
    Timer(Instant),
    Fd(RawFd, Dir),
}

/// `-errno` of the last failed libc call.
fn neg_errno() -> i32 {
    -io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// A libc return value as a CQE result.
fn cqe_res(ret: isize) -> i32 {
    if ret < 0 {
        neg_errno()
    } else {
        i32::try_from(ret).unwrap_or(i32::MAX)
    }
}

impl Epoll {
    /// A new epoll set; `reason` says why the ring is not used.
    pub(crate) fn new(reason: &'static str) -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Epoll {
            // SAFETY: `fd` was just returned by epoll_create1 and is ours.
            epfd: unsafe { OwnedFd::from_raw_fd(fd) },
            fds: Vec::new(),
            pushed: VecDeque::new(),
            done: Vec::new(),
            timers: BTreeMap::new(),
            waiting: HashMap::default(),
            events: Vec::with_capacity(256),
            polled_last_turn: false,
            reason,
        })
    }

    /// Why the ring is not used.
    pub(crate) fn reason(&self) -> &'static str {
        self.reason
    }

    /// The error for an op this driver cannot carry out, if `entry` is one:
    /// a custom SQE (`custom`), a multishot op (`multi`), a provided-buffer
    /// read, or an opcode the runtime's builders do not use.
    pub(crate) fn refusal(
        &self,
        entry: &squeue::Entry,
        custom: bool,
        multi: bool,
    ) -> Option<io::Error> {
        let sqe = Sqe::of(entry);
        let what = if custom {
            "a custom io_uring SQE (Op::new)".to_string()
        } else if multi || is_multishot(&sqe) {
            "a multishot io_uring op".to_string()
        } else if sqe.flags & IOSQE_BUFFER_SELECT != 0 {
            "a read into a provided-buffer ring (BufRing)".to_string()
        } else if !carries_out(sqe.opcode) {
            format!("io_uring opcode {}", sqe.opcode)
        } else {
            return None;
        };
        Some(unsupported(&what, self.reason))
    }

    /// Queues an SQE; it is carried out on the next turn.
    pub(crate) fn push(&mut self, entry: &squeue::Entry) {
        self.pushed.push_back(Sqe::of(entry));
    }

    /// Whether completions are waiting to be handed out, so a turn must not sleep.
    pub(crate) fn has_completions(&self) -> bool {
        !self.done.is_empty() || !self.pushed.is_empty()
    }

    /// The fd `fd` is being closed: forget its registration (the kernel
    /// drops it from the epoll set with the file), so a new fd that reuses
    /// the number is registered afresh.
    pub(crate) fn forget_fd(&mut self, fd: RawFd) {
        if let Some(entry) = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) {
            debug_assert!(
                entry.readers.is_empty() && entry.writers.is_empty(),
                "an fd closed while ops wait on it"
            );
            *entry = FdEntry::default();
        }
    }

    /// One turn: carries out the pushed SQEs, waits (if `block` and nothing
    /// completed) for readiness or the nearest deadline, retries what became
    /// ready, fires due timers, and hands every completion to `complete`.
    pub(crate) fn turn(
        &mut self,
        block: bool,
        mut complete: impl FnMut(u64, i32),
    ) -> io::Result<()> {
        while let Some(sqe) = self.pushed.pop_front() {
            self.start(sqe);
        }
        let timers = !self.timers.is_empty();
        let now = timers.then(Instant::now);
        if let Some(now) = now {
            self.fire_timers(now);
        }
        let parked = self.waiting.len() > self.timers.len();
        let timeout_ms = if !self.done.is_empty() || !block {
            0
        } else {
            match (self.timers.keys().next(), now) {
                // Rounded up: never wake before the deadline.
                (Some(&(at, _)), Some(now)) => {
                    let left = at.saturating_duration_since(now);
                    i32::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
                }
                _ => -1,
            }
        };
        // A turn with completions to hand out returns to the executor at
        // once; it skips the non-blocking epoll_wait if the last turn made
        // one, since the next turn (often a blocking one, once the woken
        // tasks ran) makes it anyway. Every other turn still polls, so
        // waiting ops are never starved by a busy loop.
        let skip = timeout_ms == 0 && !self.done.is_empty() && self.polled_last_turn;
        if (parked || timeout_ms != 0) && !skip {
            self.wait(timeout_ms)?;
            self.polled_last_turn = true;
            if !self.timers.is_empty() {
                self.fire_timers(Instant::now());
            }
        } else {
            self.polled_last_turn = false;
        }
        for (user_data, res) in self.done.drain(..) {
            complete(user_data, res);
        }
        Ok(())
    }

    /// `epoll_wait` for up to `timeout_ms`, then retries the ops of every
    /// fd it reports.
    fn wait(&mut self, timeout_ms: i32) -> io::Result<()> {
        self.events.clear();
        let cap = self.events.capacity() as i32;
        // SAFETY: the buffer has room for `cap` events, which the kernel fills.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                self.events.as_mut_ptr(),
                cap,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: the kernel initialised the first `n` events.
        unsafe { self.events.set_len(n as usize) };
        for i in 0..self.events.len() {
            let ev = self.events[i];
            let (bits, fd) = (ev.events, ev.u64 as RawFd);
            let err = bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
            if err || bits & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 {
                self.retry(fd, Dir::Read);
            }
            if err || bits & libc::EPOLLOUT as u32 != 0 {
                self.retry(fd, Dir::Write);
            }
        }
        Ok(())
    }

    /// Retries the ops waiting on `fd` in `dir`, in order, until one would
    /// block again.
    fn retry(&mut self, fd: RawFd, dir: Dir) {
        loop {
            let Some(entry) = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) else {
                return;
            };
            let queue = match dir {
                Dir::Read => &mut entry.readers,
                Dir::Write => &mut entry.writers,
            };
            let Some(parked) = queue.front().copied() else {
                return;
            };
            match attempt(&parked) {
                Attempt::Wait(_) => return,
                Attempt::Done(res) => {
                    let entry = &mut self.fds[fd as usize];
                    match dir {
                        Dir::Read => entry.readers.pop_front(),
                        Dir::Write => entry.writers.pop_front(),
                    };
                    self.waiting.remove(&parked.sqe.user_data);
                    self.done.push((parked.sqe.user_data, res));
                }
            }
        }
    }

    /// Carries out a pushed SQE, or makes it wait.
    fn start(&mut self, sqe: Sqe) {
        match sqe.opcode {
            c if c == opcode::Timeout::CODE => self.start_timer(sqe),
            c if c == opcode::AsyncCancel::CODE => {
                let res = self.cancel(sqe);
                self.done.push((sqe.user_data, res));
            }
            c if c == opcode::Nop::CODE => self.done.push((sqe.user_data, 0)),
            _ => {
                if let Err(res) = self.know(sqe.fd) {
                    self.done.push((sqe.user_data, res));
                    return;
                }
                let mut parked = Parked {
                    sqe,
                    started: false,
                    stream: self.fds[sqe.fd as usize].stream,
                };
                match attempt(&parked) {
                    Attempt::Done(res) => self.done.push((sqe.user_data, res)),
                    Attempt::Wait(dir) => {
                        // A CONNECT in progress is finished by SO_ERROR.
                        parked.started = sqe.opcode == opcode::Connect::CODE;
                        self.park(parked, dir);
                    }
                }
            }
        }
    }

    /// Makes `fd` non-blocking and adds it to the epoll set, once.
    fn know(&mut self, fd: RawFd) -> Result<(), i32> {
        let i = usize::try_from(fd).map_err(|_| -libc::EBADF)?;
        if i >= self.fds.len() {
            self.fds.resize_with(i + 1, FdEntry::default);
        }
        if self.fds[i].known {
            return Ok(());
        }
        // SAFETY: fcntl with integer arguments on an fd number.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fl < 0 {
            return Err(neg_errno());
        }
        if fl & libc::O_NONBLOCK == 0 {
            // SAFETY: as above.
            if unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) } < 0 {
                return Err(neg_errno());
            }
        }
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: fstat fills the buffer it is given, which is ours.
        let stream = if unsafe { libc::fstat(fd, st.as_mut_ptr()) } == 0 {
            // SAFETY: fstat succeeded, so it initialised the buffer.
            let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
            mode != libc::S_IFREG && mode != libc::S_IFBLK
        } else {
            true
        };
        self.fds[i].stream = stream;
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: fd as u64,
        };
        // SAFETY: `ev` lives across the call, which copies it.
        let rc =
            unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        let entry = &mut self.fds[i];
        if rc < 0 {
            match io::Error::last_os_error().raw_os_error() {
                // A regular file or directory: always "ready"; its ops run
                // (and may block briefly) when tried.
                Some(libc::EPERM) => entry.unpollable = true,
                Some(libc::EEXIST) => {}
                _ => return Err(neg_errno()),
            }
        }
        entry.known = true;
        Ok(())
    }

    fn park(&mut self, parked: Parked, dir: Dir) {
        let fd = parked.sqe.fd;
        let entry = &mut self.fds[fd as usize];
        if entry.unpollable {
            // Cannot be waited for: complete with what the syscall said.
            self.done.push((parked.sqe.user_data, -libc::EAGAIN));
            return;
        }
        match dir {
            Dir::Read => entry.readers.push_back(parked),
            Dir::Write => entry.writers.push_back(parked),
        }
        self.waiting
            .insert(parked.sqe.user_data, Waiting::Fd(fd, dir));
    }

    fn start_timer(&mut self, sqe: Sqe) {
        // SAFETY: a TIMEOUT's addr points to the `__kernel_timespec` the op
        // owns until its completion (the submit contract).
        let (sec, nsec) = unsafe {
            let ts = sqe.addr as *const [i64; 2];
            ((*ts)[0], (*ts)[1])
        };
        let d = Duration::new(sec.max(0) as u64, nsec.clamp(0, 999_999_999) as u32);
        let now = Instant::now();
        let at = if sqe.op_flags & IORING_TIMEOUT_ABS != 0 {
            let clock = if sqe.op_flags & IORING_TIMEOUT_BOOTTIME != 0 {
                libc::CLOCK_BOOTTIME
            } else if sqe.op_flags & IORING_TIMEOUT_REALTIME != 0 {
                libc::CLOCK_REALTIME
            } else {
                libc::CLOCK_MONOTONIC
            };
            now + d.saturating_sub(clock_now(clock))
        } else {
            now + d
        };
        self.timers.insert((at, sqe.user_data), ());
        self.waiting.insert(sqe.user_data, Waiting::Timer(at));
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(entry) = self.timers.first_entry() {
            let (at, user_data) = *entry.key();
            if at > now {
                break;
            }
            entry.remove();
            self.waiting.remove(&user_data);
            self.done.push((user_data, -libc::ETIME));
        }
    }

    /// Carries out an ASYNC_CANCEL: removes the op(s) it names, which
    /// complete with `ECANCELED`. Returns the cancel's own result.
    fn cancel(&mut self, sqe: Sqe) -> i32 {
        if sqe.op_flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY) != 0 {
            let all: Vec<u64> = self.waiting.keys().copied().collect();
            let mut n = 0;
            for user_data in all {
                if self.cancel_one(user_data) {
                    n += 1;
                }
            }
            return if n == 0 { -libc::ENOENT } else { n };
        }
        if self.cancel_one(sqe.addr) {
            0
        } else {
            // Not waiting: already completed, or pushed this very turn and
            // still in `pushed` (then it runs, and completes, normally).
            -libc::ENOENT
        }
    }

    fn cancel_one(&mut self, user_data: u64) -> bool {
        let Some(waiting) = self.waiting.remove(&user_data) else {
            return false;
        };
        match waiting {
            Waiting::Timer(at) => {
                self.timers.remove(&(at, user_data));
            }
            Waiting::Fd(fd, dir) => {
                let entry = &mut self.fds[fd as usize];
                let queue = match dir {
                    Dir::Read => &mut entry.readers,
                    Dir::Write => &mut entry.writers,
                };
                queue.retain(|p| p.sqe.user_data != user_data);
            }
        }
        self.done.push((user_data, -libc::ECANCELED));
        true
    }
}

/// Whether the fallback carries out this opcode (the runtime's own builders').
#[inline]
fn carries_out(code: u8) -> bool {
    matches!(
        code,
        c if c == opcode::Nop::CODE
            || c == opcode::Read::CODE
            || c == opcode::Write::CODE
            || c == opcode::Recv::CODE
            || c == opcode::Send::CODE
            || c == opcode::RecvMsg::CODE
            || c == opcode::SendMsg::CODE
            || c == opcode::Accept::CODE
            || c == opcode::Connect::CODE
            || c == opcode::Shutdown::CODE
            || c == opcode::Close::CODE
            || c == opcode::PollAdd::CODE
            || c == opcode::Timeout::CODE
            || c == opcode::AsyncCancel::CODE
    )
}

/// Whether a single-shot opcode carries its multishot flag.
#[inline]
fn is_multishot(sqe: &Sqe) -> bool {
    (sqe.opcode == opcode::Accept::CODE && sqe.ioprio & IORING_ACCEPT_MULTISHOT != 0)
        || (sqe.opcode == opcode::Recv::CODE && sqe.ioprio & IORING_RECV_MULTISHOT != 0)
        || (sqe.opcode == opcode::PollAdd::CODE && sqe.len & IORING_POLL_ADD_MULTI != 0)
}

/// Tries an op once, without blocking.
fn attempt(parked: &Parked) -> Attempt {
    let sqe = &parked.sqe;
    let fd = sqe.fd;
    let ptr = sqe.addr as *mut libc::c_void;
    let len = sqe.len as usize;
    let would_block = |res: i32, dir: Dir| {
        if res == -libc::EAGAIN || res == -libc::EWOULDBLOCK {
            Attempt::Wait(dir)
        } else {
            Attempt::Done(res)
        }
    };
    // SAFETY: every pointer and length below comes from an SQE pushed under
    // the submit contract: valid (and unaliased where written) until the
    // op's completion, with its fd kept open by the op.
    unsafe {
        match sqe.opcode {
            c if c == opcode::Read::CODE => {
                let ret = if sqe.off == u64::MAX || parked.stream {
                    libc::read(fd, ptr, len)
                } else {
                    libc::pread(fd, ptr, len, sqe.off as libc::off_t)
                };
                would_block(cqe_res(ret), Dir::Read)
            }
            c if c == opcode::Write::CODE => {
                let ret = if sqe.off == u64::MAX || parked.stream {
                    libc::write(fd, ptr, len)
                } else {
                    libc::pwrite(fd, ptr, len, sqe.off as libc::off_t)
                };
                would_block(cqe_res(ret), Dir::Write)
            }
            c if c == opcode::Recv::CODE => {
                let flags = sqe.op_flags as i32 | libc::MSG_DONTWAIT;
                would_block(cqe_res(libc::recv(fd, ptr, len, flags)), Dir::Read)
            }
            c if c == opcode::Send::CODE => {
                let flags = sqe.op_flags as i32 | libc::MSG_DONTWAIT;
                would_block(cqe_res(libc::send(fd, ptr, len, flags)), Dir::Write)
            }
            c if c == opcode::RecvMsg::CODE => {
                let flags = sqe.op_flags as i32 | libc::MSG_DONTWAIT;
                let ret = libc::recvmsg(fd, ptr.cast(), flags);
                would_block(cqe_res(ret), Dir::Read)
            }
            c if c == opcode::SendMsg::CODE => {
                let flags = sqe.op_flags as i32 | libc::MSG_DONTWAIT;
                let ret = libc::sendmsg(fd, ptr.cast(), flags);
                would_block(cqe_res(ret), Dir::Write)
            }
            c if c == opcode::Accept::CODE => {
                let flags = sqe.op_flags as i32 | libc::SOCK_NONBLOCK;
                let ret = libc::accept4(fd, ptr.cast(), sqe.off as *mut libc::socklen_t, flags);
                would_block(cqe_res(ret as isize), Dir::Read)
            }
            c if c == opcode::Connect::CODE => {
                if parked.started {
                    let mut err: libc::c_int = 0;
                    let mut n = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                    let rc = libc::getsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_ERROR,
                        (&mut err as *mut libc::c_int).cast(),
                        &mut n,
                    );
                    return Attempt::Done(if rc < 0 { neg_errno() } else { -err });
                }
                let ret = libc::connect(fd, ptr.cast(), sqe.off as libc::socklen_t);
                if ret == 0 {
                    Attempt::Done(0)
                } else {
                    match neg_errno() {
                        e if e == -libc::EINPROGRESS || e == -libc::EAGAIN => {
                            Attempt::Wait(Dir::Write)
                        }
                        e => Attempt::Done(e),
                    }
                }
            }
            c if c == opcode::PollAdd::CODE => {
                let mut pfd = libc::pollfd {
                    fd,
                    events: sqe.op_flags as i16,
                    revents: 0,
                };
                let ret = libc::poll(&mut pfd, 1, 0);
                if ret < 0 {
                    Attempt::Done(neg_errno())
                } else if ret == 0 {
                    let dir = if pfd.events & libc::POLLIN != 0 {
                        Dir::Read
                    } else {
                        Dir::Write
                    };
                    Attempt::Wait(dir)
                } else {
                    Attempt::Done(i32::from(pfd.revents as u16))
                }
            }
            c if c == opcode::Shutdown::CODE => {
                Attempt::Done(cqe_res(libc::shutdown(fd, sqe.len as i32) as isize))
            }
            c if c == opcode::Close::CODE => Attempt::Done(cqe_res(libc::close(fd) as isize)),
            _ => Attempt::Done(-libc::EOPNOTSUPP),
        }
    }
}

/// The time on `clock`, as a duration since its epoch.
fn clock_now(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is ours for the call to fill.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The `Unsupported` error for `what` under this driver.
pub(crate) fn unsupported(what: &str, reason: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "ringloop: {what} needs io_uring, but this runtime runs the epoll driver ({reason}); \
             use the runtime's own ops, or run where io_uring is allowed"
        ),
    )
}
