//! Provided-buffer rings and multishot RECV: chunks arrive in order, an
//! exhausted ring ends the op with ENOBUFS without losing data, and
//! dropped guards and cancelled ops give every buffer back.

mod util;

use futures_util::StreamExt;
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op::{self, BufGuard, BufRing};
use ringloop_runtime::Runtime;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

/// Polls a future once, to push an op's SQE without waiting for it.
async fn poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx))).await
}

/// A runtime that has multishot recv, or `None` (test skipped) on an old kernel.
fn runtime() -> Option<Runtime> {
    let rt = Runtime::new().unwrap();
    if util::lacks(
        &rt,
        rt.features().multishot_recv,
        "multishot recv with a buffer ring needs Linux 6.0",
    ) {
        return None;
    }
    Some(rt)
}

fn pair() -> (SharedFd, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    (SharedFd::new(OwnedFd::from(a)), b)
}

/// Receives with fresh multishot ops, holding at most `hold` guards, until
/// `want` bytes arrived; re-arms after ENOBUFS. Returns the bytes.
async fn receive(fd: &SharedFd, ring: &BufRing, want: usize, hold: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut held: Vec<BufGuard> = Vec::new();
    while got.len() < want {
        let mut chunks = op::recv_multi(fd, ring);
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(chunk) => {
                    assert!(!chunk.is_empty(), "unexpected end of stream");
                    got.extend_from_slice(&chunk);
                    held.push(chunk);
                    if held.len() > hold {
                        held.remove(0);
                    }
                }
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}");
                    held.clear();
                }
            }
            if got.len() >= want {
                break;
            }
        }
    }
    got
}

#[test]
fn chunks_arrive_in_order_and_end_of_stream_is_an_empty_guard() {
    let Some(rt) = runtime() else { return };
    let (fd, mut peer) = pair();
    rt.block_on(async {
        let ring = BufRing::new(4, 64).unwrap();
        assert_eq!((ring.entries(), ring.buf_size()), (4, 64));
        let mut chunks = op::recv_multi(&fd, &ring);
        let mut got = Vec::new();
        for i in 0..20u8 {
            peer.write_all(&[i; 10]).unwrap();
            while got.len() < (i as usize + 1) * 10 {
                let chunk = chunks.next().await.unwrap().unwrap();
                got.extend_from_slice(&chunk);
            }
        }
        drop(peer);
        let eof = chunks.next().await.unwrap().unwrap();
        assert!(eof.is_empty());
        assert!(
            chunks.next().await.is_none(),
            "the op ends after end of stream"
        );
        let want: Vec<u8> = (0..20u8).flat_map(|i| [i; 10]).collect();
        assert_eq!(got, want);
    });
}

#[test]
fn an_exhausted_ring_ends_with_enobufs_and_loses_no_data() {
    let Some(rt) = runtime() else { return };
    let (fd, mut peer) = pair();
    let data: Vec<u8> = (0..200u8).collect();
    peer.write_all(&data).unwrap();
    rt.block_on(async {
        let ring = BufRing::new(2, 8).unwrap();
        // Hold every guard: the kernel fills both buffers, then gives up.
        let mut chunks = op::recv_multi(&fd, &ring);
        let a = chunks.next().await.unwrap().unwrap();
        let b = chunks.next().await.unwrap().unwrap();
        let err = chunks.next().await.unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOBUFS));
        assert!(chunks.next().await.is_none());
        let mut got = [&a[..], &b[..]].concat();
        drop((a, b));
        // Re-armed, holding one guard at a time: the rest, in order.
        got.extend(receive(&fd, &ring, data.len() - got.len(), 1).await);
        assert_eq!(got, data);
    });
}

#[test]
fn dropped_and_cancelled_ops_give_every_buffer_back() {
    let Some(rt) = runtime() else { return };
    let (fd, mut peer) = pair();
    rt.block_on(async {
        let ring = BufRing::new(4, 16).unwrap();
        for round in 0..10 {
            // Fill buffers, then drop the stream with CQEs queued and the op
            // in flight (the data in queued buffers is dropped with them).
            peer.write_all(&[round; 40]).unwrap();
            let mut chunks = op::recv_multi(&fd, &ring);
            let first = chunks.next().await.unwrap().unwrap();
            assert_eq!(first[0], round);
            drop(first);
            drop(chunks);
            // Submit, then cancel: the stream ends, the last item ECANCELED
            // unless the op had already ended (ENOBUFS) or took data first.
            let mut chunks = op::recv_multi(&fd, &ring);
            let _ = poll_once(&mut chunks.next()).await;
            chunks.cancel();
            while let Some(item) = chunks.next().await {
                if let Err(e) = item {
                    let errno = e.raw_os_error();
                    assert!(
                        matches!(errno, Some(libc::ECANCELED | libc::ENOBUFS)),
                        "{e}"
                    );
                }
            }
        }
        // Drain what the cancelled ops left in the socket.
        let sock = socket2::SockRef::from(&fd);
        let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); 256];
        while sock
            .recv_with_flags(&mut scratch, libc::MSG_DONTWAIT)
            .is_ok_and(|n| n > 0)
        {}
        // Every buffer is back in the ring: four can be held at once again.
        peer.write_all(&[7; 64]).unwrap();
        let mut chunks = op::recv_multi(&fd, &ring);
        let mut held = Vec::new();
        let mut total = 0;
        while total < 64 {
            let chunk = chunks.next().await.unwrap().unwrap();
            total += chunk.len();
            held.push(chunk);
        }
        assert_eq!(held.len(), 4, "all four buffers were in the ring");
    });
}

#[test]
fn a_guard_is_sent_as_it_is() {
    let Some(rt) = runtime() else { return };
    let (fd, mut peer) = pair();
    let (out, mut out_peer) = pair();
    rt.block_on(async {
        let ring = BufRing::new(2, 32).unwrap();
        peer.write_all(b"zero-copy echo").unwrap();
        let mut chunks = op::recv_multi(&fd, &ring);
        let chunk = chunks.next().await.unwrap().unwrap();
        let (res, chunk) = op::send(&out, chunk, 0).await;
        assert_eq!(res.unwrap(), 14);
        assert_eq!(&chunk[..], b"zero-copy echo");
    });
    let mut got = [0u8; 14];
    out_peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"zero-copy echo");
}

#[test]
fn bad_sizes_are_refused() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let e = BufRing::new(4, 0).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = BufRing::new(40000, 16).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    });
}
