//! The op lifecycle: completion, cancellation by drop, orphaned resources,
//! runtime drop with ops in flight, SQ-full and CQ-overflow paths, multishot.

mod util;

use futures_util::StreamExt;
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op::{self, TimeoutKind};
use ringloop_runtime::{spawn, yield_now, Runtime};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::rc::Rc;
use std::time::Duration;
use util::{fd_count, fd_lock, poll_once, DropLog, TrackedBuf};

fn pipe() -> (SharedFd, std::io::PipeWriter) {
    let (r, w) = std::io::pipe().expect("pipe");
    (SharedFd::new(OwnedFd::from(r)), w)
}

#[test]
fn read_completes_with_data() {
    let _g = fd_lock();
    let rt = Runtime::new().unwrap();
    let (r, mut w) = pipe();
    w.write_all(b"hello").unwrap();
    let (res, buf) = rt.block_on(op::read(&r, Vec::with_capacity(16), None));
    assert_eq!(res.unwrap(), 5);
    assert_eq!(buf, b"hello");
}

#[test]
fn dropped_read_keeps_buffer_until_cqe() {
    let _g = fd_lock();
    let rt = Runtime::new().unwrap();
    let log = DropLog::default();
    let (r, _w) = pipe();
    rt.block_on(async {
        let mut read = op::read(&r, TrackedBuf::new(64, &log), None);
        // Poll once so the read is in flight and waiting, then drop it.
        assert!(poll_once(&mut read).await.is_pending());
        drop(read);
        // The driver owns the buffer now: it must not be freed before the CQE.
        assert!(
            log.borrow().is_empty(),
            "buffer freed while the kernel may still write it"
        );
        // Let the ASYNC_CANCEL complete.
        for _ in 0..10 {
            op::nop().await.unwrap();
            if !log.borrow().is_empty() {
                break;
            }
        }
    });
    assert_eq!(
        log.borrow().len(),
        1,
        "the orphaned buffer is freed once its CQE arrived"
    );
    assert_eq!(rt.ops_in_flight(), 0);
}

#[test]
fn abandoned_accept_closes_the_new_fd() {
    let _g = fd_lock();
    let rt = Runtime::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));
    let before = fd_count();
    rt.block_on(async {
        let mut accept = op::accept(&lfd);
        assert!(poll_once(&mut accept).await.is_pending());
        // Connect (the kernel may complete the accept before our cancel lands).
        let client = std::net::TcpStream::connect(addr).unwrap();
        drop(accept);
        for _ in 0..20 {
            op::nop().await.unwrap();
        }
        drop(client);
    });
    // Either the accept was cancelled, or it completed into the orphan and
    // its fd was closed; no fd stays open in either case.
    drop(rt);
    assert!(
        fd_count() <= before,
        "fds before: {before}, after: {}",
        fd_count()
    );
}

#[test]
fn runtime_drop_with_ops_in_flight_frees_everything() {
    let _g = fd_lock();
    let log = DropLog::default();
    let before = fd_count();
    let writers: Vec<_>;
    {
        let rt = Runtime::new().unwrap();
        let pipes: Vec<_> = (0..50).map(|_| pipe()).collect();
        for (r, _) in &pipes {
            let (r, log) = (r.clone(), log.clone());
            let _detached = rt.spawn(async move {
                let (res, _buf) = op::read(&r, TrackedBuf::new(32, &log), None).await;
                res
            });
        }
        // Start the reads, then leave them in flight.
        rt.block_on(async {
            for _ in 0..5 {
                yield_now().await;
            }
        });
        assert!(
            rt.ops_in_flight() >= 50,
            "reads are in flight: {}",
            rt.ops_in_flight()
        );
        writers = pipes.into_iter().map(|(_, w)| w).collect();
        // Dropping the runtime must cancel and reap them: no hang, no leak.
    }
    assert_eq!(
        log.borrow().len(),
        50,
        "every buffer is freed after its CQE"
    );
    drop(writers);
    assert_eq!(
        fd_count(),
        before,
        "the ring, eventfd and read ends are all closed"
    );
}

#[test]
fn more_ops_than_sq_entries() {
    let _g = fd_lock();
    // 4 SQ entries (16 CQ): 2,000 ops in flight exercise SQ flushing and CQ overflow.
    let rt = Runtime::builder().entries(4).build().unwrap();
    let done = rt.block_on(async {
        let handles: Vec<_> = (0..2000u32)
            .map(|i| {
                spawn(async move {
                    if i % 2 == 0 {
                        op::nop().await.unwrap();
                    } else {
                        op::timeout(Duration::from_millis(1), TimeoutKind::Relative)
                            .await
                            .unwrap();
                    }
                    i
                })
            })
            .collect();
        let mut sum = 0u64;
        for h in handles {
            sum += u64::from(h.await.unwrap());
        }
        sum
    });
    assert_eq!(done, (0..2000u64).sum::<u64>());
}

#[test]
fn cq_overflow_from_one_poll_loses_nothing() {
    let _g = fd_lock();
    // 2 SQ entries, so an 8-entry CQ.
    let rt = Runtime::builder().entries(2).build().unwrap();
    let n = rt.block_on(async {
        // Ops are lazy: poll each once, inside this one task poll, so all
        // 500 NOPs are pushed (flushing the tiny SQ again and again) before
        // the loop gets to reap — far more completions than the CQ holds.
        let mut ops: Vec<_> = (0..500).map(|_| op::nop()).collect();
        for o in &mut ops {
            assert!(
                poll_once(o).await.is_pending(),
                "a NOP cannot complete before a reap"
            );
        }
        assert!(
            rt.ops_in_flight() > 8,
            "the CQ must overflow: {} in flight",
            rt.ops_in_flight()
        );
        let mut n = 0;
        for o in ops {
            o.await.unwrap();
            n += 1;
        }
        n
    });
    assert_eq!(n, 500);
    assert_eq!(rt.ops_in_flight(), 0);
}

#[test]
fn multishot_accept_yields_many_and_closes_on_drop() {
    let _g = fd_lock();
    let rt = Runtime::new().unwrap();
    if util::lacks(
        &rt,
        rt.features().multishot_accept,
        "the kernel has no multishot accept",
    ) {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(OwnedFd::from(listener));
    let before = fd_count();
    let clients: Vec<_> = (0..5)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let accepted = rt.block_on(async {
        let mut stream = op::accept_multi(&lfd);
        let mut fds = Vec::new();
        while fds.len() < 5 {
            fds.push(
                stream
                    .next()
                    .await
                    .expect("multishot accept keeps going")
                    .unwrap(),
            );
        }
        // Two more connections land while the stream is dropped: their fds
        // must be closed by the driver, not leaked.
        let late: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        drop(stream);
        for _ in 0..20 {
            op::nop().await.unwrap();
        }
        drop(late);
        fds.len()
    });
    assert_eq!(accepted, 5);
    drop(clients);
    drop(rt);
    assert!(
        fd_count() <= before + 5,
        "only the 5 accepted fds (already dropped) were ours"
    );
}

#[test]
fn op_outside_runtime_panics_with_a_clear_message() {
    // Builds a runtime: its fds must not show up in another test's count.
    let _g = fd_lock();
    // Building an op is lazy and fine anywhere (e.g. to pass to block_on)...
    let nop = op::nop();
    let rt = Runtime::new().unwrap();
    rt.block_on(nop).unwrap();
    drop(rt);
    // ...polling one outside a runtime is a bug, reported clearly.
    let err = std::panic::catch_unwind(|| {
        futures_util::FutureExt::now_or_never(op::nop());
    })
    .unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("outside a ringloop runtime"), "{msg}");
}

/// Records are 16 bytes: a counter and a check word derived from it.
fn record(i: u64) -> [u8; 16] {
    let mut r = [0; 16];
    r[..8].copy_from_slice(&i.to_le_bytes());
    r[8..].copy_from_slice(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5).to_le_bytes());
    r
}

fn parse(bytes: &[u8]) -> u64 {
    assert_eq!(bytes.len(), 16, "a datagram read returns one whole record");
    let i = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    assert_eq!(bytes, record(i), "record {i} is intact");
    i
}

/// How the reader treats one read op.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Await it to completion.
    Complete,
    /// Poll it `n` times (yielding between polls), then drop it.
    DropAfter(u8),
}

fn fate() -> impl proptest::strategy::Strategy<Value = Fate> {
    use proptest::prelude::*;
    prop_oneof![Just(Fate::Complete), (0u8..4).prop_map(Fate::DropAfter)]
}

/// Drops read futures at proptest-chosen points while a writer task sends
/// records, then checks every record was seen exactly once and intact —
/// returned by a completed read, freed with an orphaned buffer, or still in
/// the socket — and that no fd leaked.
fn check_cancelled_reads(fates: Vec<Fate>) {
    const RECORDS: u64 = 200;
    let _g = fd_lock();
    let before = fd_count();
    let log = DropLog::default();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (reader, writer) = UnixDatagram::pair().unwrap();
    let rfd = SharedFd::new(OwnedFd::from(reader));
    let wfd = SharedFd::new(OwnedFd::from(writer));
    {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let wfd2 = wfd.clone();
            let writer = spawn(async move {
                for i in 0..RECORDS {
                    let (res, _) = op::send(&wfd2, record(i).to_vec(), 0).await;
                    assert_eq!(res.unwrap(), 16);
                    if i % 3 == 0 {
                        yield_now().await;
                    }
                }
            });
            for fate in fates {
                let mut read = op::read(&rfd, TrackedBuf::new(16, &log), None);
                match fate {
                    Fate::Complete => {
                        let (res, buf) = read.await;
                        let n = res.unwrap();
                        let bytes = buf.take();
                        assert_eq!(bytes.len(), n);
                        seen.borrow_mut().push(parse(&bytes));
                    }
                    Fate::DropAfter(polls) => {
                        for _ in 0..polls {
                            if let std::task::Poll::Ready((res, buf)) = poll_once(&mut read).await {
                                let _ = res.unwrap();
                                seen.borrow_mut().push(parse(&buf.take()));
                                break;
                            }
                            yield_now().await;
                        }
                        drop(read);
                    }
                }
            }
            writer.await.unwrap();
        });
        // Dropping the runtime reaps the cancelled reads; orphaned buffers
        // that received a record log it when freed.
    }
    let mut all = seen.borrow().clone();
    for bytes in log.borrow().iter().filter(|b| !b.is_empty()) {
        all.push(parse(bytes));
    }
    let sock = std::os::unix::net::UnixDatagram::from(wfd.try_unwrap().unwrap());
    drop(sock);
    let reader = UnixDatagram::from(rfd.try_unwrap().expect("no op holds the fd after shutdown"));
    reader.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    while let Ok(n) = reader.recv(&mut buf) {
        all.push(parse(&buf[..n]));
    }
    drop(reader);
    all.sort_unstable();
    let expected: Vec<u64> = (0..RECORDS).collect();
    assert_eq!(all, expected, "every record exactly once");
    assert_eq!(fd_count(), before, "no fd leaked");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]
    #[test]
    fn cancelled_reads_never_corrupt_or_leak(fates in proptest::collection::vec(fate(), 1..150)) {
        check_cancelled_reads(fates);
    }
}

#[test]
fn thousands_of_cancelled_pipe_reads_leak_nothing() {
    let _g = fd_lock();
    let before = fd_count();
    let log = DropLog::default();
    {
        let rt = Runtime::new().unwrap();
        let (r, mut w) = pipe();
        let total = rt.block_on(async {
            let mut total = Vec::new();
            for i in 0..3000u32 {
                let mut read = op::read(&r, TrackedBuf::new(8, &log), None);
                let _ = poll_once(&mut read).await;
                if i % 7 == 0 {
                    w.write_all(&i.to_le_bytes()).unwrap();
                }
                if i % 2 == 0 {
                    yield_now().await;
                }
                if let std::task::Poll::Ready((res, buf)) = poll_once(&mut read).await {
                    res.unwrap();
                    total.extend(buf.take());
                }
                drop(read);
            }
            total
        });
        drop(rt);
        // Bytes not returned were consumed by orphaned reads (logged) or are
        // still in the pipe.
        let mut rest = Vec::new();
        drop(w);
        let mut reader = std::io::PipeReader::from(r.try_unwrap().unwrap());
        reader.read_to_end(&mut rest).unwrap();
        let mut got: Vec<u8> = total;
        for b in log.borrow().iter() {
            got.extend(b);
        }
        got.extend(rest);
        let mut expected: Vec<u8> = (0..3000u32)
            .filter(|i| i % 7 == 0)
            .flat_map(|i| i.to_le_bytes())
            .collect();
        // Each 4-byte write may be split across reads, so compare as sorted bytes.
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(
            got, expected,
            "every written byte accounted for exactly once"
        );
    }
    assert_eq!(fd_count(), before);
}

#[test]
fn unix_stream_ops_roundtrip() {
    let _g = fd_lock();
    let rt = Runtime::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let a = SharedFd::new(OwnedFd::from(a));
    rt.block_on(async {
        let (res, _) = op::send(&a, &b"ping"[..], 0).await;
        assert_eq!(res.unwrap(), 4);
        let mut got = [0; 4];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        b.write_all(b"pong").unwrap();
        let (res, buf) = op::recv(&a, vec![0u8; 8], 0).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(&buf[..4], b"pong");
    });
}

#[test]
fn recv_poll_first_gets_data_sent_before_and_after_submission() {
    let _g = fd_lock();
    let rt = Runtime::new().unwrap();
    if util::lacks(
        &rt,
        rt.features().recv_poll_first,
        "IORING_RECVSEND_POLL_FIRST needs Linux 5.19",
    ) {
        return;
    }
    let (a, b) = UnixStream::pair().unwrap();
    let a = SharedFd::new(OwnedFd::from(a));
    let b = Rc::new(RefCell::new(b));
    rt.block_on(async {
        // Already queued: the poll handler finds the socket readable at once.
        b.borrow_mut().write_all(b"early").unwrap();
        let (res, buf) = op::recv_poll_first(&a, Vec::with_capacity(16), 0).await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"early");
        // Sent while the op waits in the kernel.
        let writer = b.clone();
        let send_later = spawn(async move {
            for _ in 0..3 {
                yield_now().await;
            }
            writer.borrow_mut().write_all(b"late").unwrap();
        });
        let (res, buf) = op::recv_poll_first(&a, Vec::with_capacity(16), 0).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"late");
        send_later.await.unwrap();
    });
}
