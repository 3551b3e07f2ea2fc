//! Registered (fixed) files: ops on a registered fd name its table slot,
//! slots are recycled after their fd is dropped, a full table falls back
//! to fd numbers, and a slot never leaks into another runtime's ring.

use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn pair() -> (SharedFd, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    // A bound on a blocking read in case of a bug (not a timing assertion).
    b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (SharedFd::new(OwnedFd::from(a)), b)
}

/// Reads from `peer` until end of stream; fails if the socket stays open.
fn assert_closed(peer: &mut UnixStream) {
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest)
        .expect("the peer sees end of stream once the registered fd is dropped");
}

#[test]
fn this_kernel_has_a_table_and_it_can_be_turned_off() {
    let rt = ring().build().unwrap();
    assert!(rt.features().fixed_files > 0);
    let off = ring().fixed_files(0).build().unwrap();
    assert_eq!(off.features().fixed_files, 0);
    let (fd, _peer) = pair();
    assert!(!off.block_on(async { fd.register() }));
    assert!(!fd.register(), "outside a runtime nothing is registered");
}

#[test]
fn ops_name_the_registered_slot_not_the_fd_number() {
    let rt = ring().build().unwrap();
    let (r1, mut w1) = std::io::pipe().unwrap();
    let (r2, mut w2) = std::io::pipe().unwrap();
    let fd = SharedFd::new(OwnedFd::from(r1));
    w1.write_all(b"slot").unwrap();
    w2.write_all(b"number").unwrap();
    let got = rt.block_on(async {
        assert!(fd.register());
        // Point the fd number at the second pipe: a read by number would
        // now see "number", a read through the slot still sees "slot".
        // SAFETY: both fds are open; dup2 replaces the file behind the
        // first number atomically and the OwnedFd still owns (and will
        // close) that number.
        let rc = unsafe { libc::dup2(r2.as_raw_fd(), fd.as_raw_fd()) };
        assert_eq!(rc, fd.as_raw_fd());
        let (res, buf) = op::read(&fd, Vec::with_capacity(16), None).await;
        res.unwrap();
        buf
    });
    assert_eq!(got, b"slot");
}

#[test]
fn a_dropped_registered_fd_closes_its_socket() {
    let rt = ring().build().unwrap();
    let (fd, mut peer) = pair();
    rt.block_on(async {
        assert!(fd.register());
        let (res, _) = op::send(&fd, b"bye".to_vec(), 0).await;
        assert_eq!(res.unwrap(), 3);
        drop(fd);
        // The slot is emptied on drop, not on the loop's next turn: the
        // peer sees the end of stream before this task yields.
        let mut got = [0; 3];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"bye");
        assert_closed(&mut peer);
    });
}

#[test]
fn slots_are_recycled_and_never_mix_up_sockets() {
    let rt = ring().fixed_files(2).build().unwrap();
    assert_eq!(rt.features().fixed_files, 2);
    rt.block_on(async {
        for i in 0..50u32 {
            let (a, mut pa) = pair();
            let (b, mut pb) = pair();
            assert!(a.register(), "round {i}: slot for a");
            assert!(b.register(), "round {i}: slot for b");
            let msg_a = format!("a{i}").into_bytes();
            let msg_b = format!("b{i}").into_bytes();
            let (res, _) = op::send(&a, msg_a.clone(), 0).await;
            res.unwrap();
            let (res, _) = op::send(&b, msg_b.clone(), 0).await;
            res.unwrap();
            pb.write_all(b"to-b").unwrap();
            let (res, buf) = op::recv(&b, Vec::with_capacity(8), 0).await;
            res.unwrap();
            assert_eq!(buf, b"to-b", "round {i}");
            let mut got = vec![0; msg_a.len()];
            pa.read_exact(&mut got).unwrap();
            assert_eq!(got, msg_a, "round {i}");
            let mut got = vec![0; msg_b.len()];
            pb.read_exact(&mut got).unwrap();
            assert_eq!(got, msg_b, "round {i}");
            drop((a, b));
            op::nop().await.unwrap();
            assert_closed(&mut pa);
            assert_closed(&mut pb);
        }
    });
}

#[test]
fn a_full_table_falls_back_to_fd_numbers() {
    let rt = ring().fixed_files(2).build().unwrap();
    rt.block_on(async {
        let pairs: Vec<_> = (0..5).map(|_| pair()).collect();
        let registered: Vec<bool> = pairs.iter().map(|(fd, _)| fd.register()).collect();
        assert_eq!(registered, [true, true, false, false, false]);
        for (i, (fd, peer)) in pairs.iter().enumerate() {
            let msg = vec![i as u8; 4];
            let (res, _) = op::send(fd, msg.clone(), 0).await;
            assert_eq!(res.unwrap(), 4);
            let mut peer = peer;
            let mut got = [0; 4];
            peer.read_exact(&mut got).unwrap();
            assert_eq!(got.to_vec(), msg);
        }
    });
}

#[test]
fn a_slot_is_used_only_by_the_runtime_that_owns_it() {
    let a = ring().build().unwrap();
    let b = ring().build().unwrap();
    let (fd, mut peer) = pair();
    // Registered with `a`, an op built on `b` uses the fd number.
    assert!(a.block_on(async { fd.register() }));
    let (res, _) = b.block_on(async { op::send(&fd, b"via b".to_vec(), 0).await });
    assert_eq!(res.unwrap(), 5);
    let mut got = [0; 5];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"via b");
    // An op built on `a` (naming a's slot) but first polled on `b` fails
    // with an explanation instead of touching whatever b's slot holds.
    // (A closure run inside `a`, not an async block, builds it there.)
    let built_on_a = {
        let mut op = None;
        a.block_on(std::future::poll_fn(|_| {
            op = Some(op::send(&fd, b"x".to_vec(), 0));
            std::task::Poll::Ready(())
        }));
        op.unwrap()
    };
    let (res, _) = b.block_on(built_on_a);
    let err = res.unwrap_err();
    assert!(err.to_string().contains("another runtime"), "{err}");
    // And on `a` itself it still works through the slot.
    let (res, _) = a.block_on(async { op::send(&fd, b"via a".to_vec(), 0).await });
    assert_eq!(res.unwrap(), 5);
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"via a");
}

/// A builder for the ring driver: these tests are of io_uring features, so
/// they run on the ring whatever `RINGLOOP_DRIVER` says.
fn ring() -> ringloop_runtime::Builder {
    let mut b = ringloop_runtime::Builder::new();
    b.driver(ringloop_runtime::Driver::IoUring);
    b
}

/// A caller's own POLL_ADD.
struct Poll {
    _fd: SharedFd,
}

impl ringloop_runtime::op::Completable for Poll {
    type Output = std::io::Result<u32>;
    fn complete(self, cqe: ringloop_runtime::op::CqeResult) -> Self::Output {
        cqe.result
    }
}

#[test]
fn custom_ops_name_the_slot_through_sqe_target_and_only_on_its_runtime() {
    let rt = ring().build().unwrap();
    let (r1, mut w1) = std::io::pipe().unwrap();
    let (r2, _w2) = std::io::pipe().unwrap();
    let fd = SharedFd::new(OwnedFd::from(r1));
    w1.write_all(b"x").unwrap();
    let poll = |fd: &SharedFd| {
        let target = fd.sqe_target();
        let entry =
            ringloop_runtime::io_uring::opcode::PollAdd::new(target.fd(), libc::POLLIN as u32)
                .build()
                .flags(target.flags());
        // SAFETY: POLL_ADD carries no pointers; the op keeps the fd open.
        unsafe { ringloop_runtime::op::Op::with_target(Poll { _fd: fd.clone() }, entry, &target) }
    };
    let target_was_fixed = rt.block_on(async {
        assert!(fd.register());
        // The number now names an empty pipe: only the slot is readable.
        // SAFETY: as in ops_name_the_registered_slot_not_the_fd_number.
        let rc = unsafe { libc::dup2(r2.as_raw_fd(), fd.as_raw_fd()) };
        assert_eq!(rc, fd.as_raw_fd());
        let ready = poll(&fd).await.unwrap();
        assert_ne!(ready & libc::POLLIN as u32, 0);
        fd.sqe_target().is_fixed()
    });
    assert!(target_was_fixed);
    // Built on the first runtime, polled on another: refused, never the
    // other runtime's slot.
    // (Made inside the first runtime, where the target is its slot.)
    let op = rt.block_on(async { Some(poll(&fd)) }).unwrap();
    let other = ring().build().unwrap();
    let err = other.block_on(op).unwrap_err();
    assert!(err.to_string().contains("another runtime"), "{err}");
}
