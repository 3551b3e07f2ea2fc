//! The epoll driver, chosen explicitly (so these run in every test pass):
//! it says which driver runs and why, refuses what only a ring can do with
//! an `Unsupported` error that names the driver, and keeps the op API's
//! cancellation guarantee.

mod util;

use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op::{self, BufRing, Completable, CqeResult, Op};
use ringloop_runtime::{Builder, Driver, Runtime};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn epoll() -> Runtime {
    Builder::new().driver(Driver::Epoll).build().unwrap()
}

fn assert_unsupported(e: &io::Error) {
    assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("epoll driver"), "names the driver: {msg}");
    assert!(msg.contains("needs io_uring"), "says why: {msg}");
}

#[test]
fn features_name_the_driver_and_the_reason() {
    let rt = epoll();
    let f = rt.features();
    assert_eq!(f.driver, Driver::Epoll);
    assert!(f.fallback_reason.unwrap().contains("Driver::Epoll"));
    assert!(!f.multishot_accept && !f.multishot_recv && f.fixed_files == 0);
    let ring = Builder::new().driver(Driver::IoUring).build().unwrap();
    assert_eq!(ring.features().driver, Driver::IoUring);
    assert_eq!(ring.features().fallback_reason, None);
}

/// A caller's own NOP.
struct CustomNop;

impl Completable for CustomNop {
    type Output = io::Result<u32>;
    fn complete(self, cqe: CqeResult) -> io::Result<u32> {
        cqe.result
    }
}

#[test]
fn ring_only_apis_are_unsupported_errors_not_panics() {
    let rt = epoll();
    rt.block_on(async {
        // A custom SQE, even of an opcode the driver carries out itself.
        let entry = io_uring::opcode::Nop::new().build();
        // SAFETY: a NOP carries no pointers.
        let custom = unsafe { Op::new(CustomNop, entry) }.await;
        assert_unsupported(&custom.unwrap_err());
        // The runtime's own NOP works.
        op::nop().await.unwrap();

        // A multishot op: its stream yields the error, then ends.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let lfd = SharedFd::new(OwnedFd::from(listener));
        let mut multi = op::accept_multi(&lfd);
        let first = futures_util::StreamExt::next(&mut multi).await.unwrap();
        assert_unsupported(&first.unwrap_err());
        assert!(futures_util::StreamExt::next(&mut multi).await.is_none());

        // A provided-buffer ring.
        assert_unsupported(&BufRing::new(8, 4096).unwrap_err());
    });
}

#[test]
fn a_dropped_read_loses_no_bytes() {
    let rt = epoll();
    let (a, mut b) = UnixStream::pair().unwrap();
    let a = SharedFd::new(OwnedFd::from(a));
    rt.block_on(async {
        // A read that waits for data, dropped before any arrives...
        let mut read = op::recv(&a, Vec::with_capacity(64), 0);
        assert!(util::poll_once(&mut read).await.is_pending());
        ringloop_runtime::yield_now().await;
        drop(read);
        // ...consumed nothing: the next read gets every byte.
        b.write_all(b"every byte").unwrap();
        let (res, buf) = op::recv(&a, Vec::with_capacity(64), 0).await;
        assert_eq!(res.unwrap(), 10);
        assert_eq!(buf, b"every byte");
    });
}

#[test]
fn timeouts_never_end_early_and_ops_wait_for_readiness() {
    let rt = epoll();
    let (a, mut b) = UnixStream::pair().unwrap();
    let a = SharedFd::new(OwnedFd::from(a));
    rt.block_on(async {
        let start = Instant::now();
        op::timeout(Duration::from_millis(20), op::TimeoutKind::Relative)
            .await
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
        // A send larger than the socket buffer completes in parts as the
        // peer reads: each part waits for writability.
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            got
        });
        let data: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        let mut sent = 0;
        while sent < data.len() {
            let (res, _) = op::send(&a, data[sent..].to_vec(), 0).await;
            sent += res.unwrap();
        }
        op::shutdown(&a, std::net::Shutdown::Write).await.unwrap();
        assert!(reader.join().unwrap() == data, "the peer got other bytes");
    });
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the buffer it is given, which is ours.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: getrusage succeeded, so it initialised the buffer.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn an_idle_loop_sleeps_instead_of_spinning() {
    // The loop waits for a timer with its cross-thread wake read armed: it
    // must block in the kernel, not turn over and over.
    for driver in [Driver::Epoll, Driver::IoUring] {
        let rt = Builder::new().driver(driver).build().unwrap();
        let (cpu, wall) = rt.block_on(async {
            let (cpu, wall) = (thread_cpu(), Instant::now());
            op::timeout(Duration::from_millis(300), op::TimeoutKind::Relative)
                .await
                .unwrap();
            (thread_cpu() - cpu, wall.elapsed())
        });
        assert!(
            cpu * 10 < wall,
            "{driver:?}: the idle loop used {cpu:?} of CPU in {wall:?}"
        );
    }
}
