//! The `ringloop-multi` echo server: ringloop's raw op API with multishot
//! RECV from a provided-buffer ring (one ring shared by all connections),
//! each received buffer sent back as it is (no copy) and returned to the
//! ring when its send completes. Compare with `ringloop-ops`.

use futures_util::StreamExt;
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op::{self, BufRing};
use std::net::TcpListener;
use std::os::fd::OwnedFd;

/// Buffers in the shared ring: at most one is held per connection.
const RING_ENTRIES: u16 = 2048;
/// Size of each ring buffer: one page, so the ring stays small in cache.
const BUF_SIZE: usize = 4096;

/// Serves until killed, or until `conns` connections were accepted and closed.
/// `defer_taskrun` false sets the ring up without DEFER_TASKRUN.
pub fn serve(listener: TcpListener, conns: Option<usize>, defer_taskrun: bool) {
    let rt = ringloop_runtime::Builder::new()
        .defer_taskrun(defer_taskrun)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    if !rt.features().multishot_recv {
        eprintln!("ringloop-multi server: this kernel has no multishot recv (Linux 6.0)");
        std::process::exit(1);
    }
    rt.block_on(async move {
        let ring = BufRing::new(RING_ENTRIES, BUF_SIZE)
            .unwrap_or_else(|e| panic!("cannot set up the buffer ring: {e}"));
        let listener = SharedFd::new(OwnedFd::from(listener));
        let mut handles = Vec::new();
        let mut accepted = 0;
        while accepted < conns.unwrap_or(usize::MAX) {
            let (fd, _peer) = match op::accept(&listener).await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("ringloop-multi server: accept failed: {e}");
                    continue;
                }
            };
            accepted += 1;
            let handle = ringloop_runtime::spawn(echo_connection(fd, ring.clone()));
            if conns.is_some() {
                handles.push(handle);
            }
        }
        for handle in handles {
            let _ = handle.await;
        }
    });
}

/// Echoes everything received on `fd` until the peer closes it.
async fn echo_connection(fd: OwnedFd, ring: BufRing) {
    let _ = socket2::SockRef::from(&fd).set_tcp_nodelay(true);
    let fd = SharedFd::new(fd);
    loop {
        let mut chunks = op::recv_multi(&fd, &ring);
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(chunk) if chunk.is_empty() => return,
                Ok(chunk) => chunk,
                // The ring ran dry and ended the op: re-arm below.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => break,
                Err(_) => return,
            };
            let (mut sent, total) = (0, chunk.len());
            let mut chunk = chunk;
            while sent < total {
                let (res, slice) =
                    op::send(&fd, ringloop_runtime::buf::IoBuf::slice(chunk, sent..), 0).await;
                chunk = slice.into_inner();
                match res {
                    Ok(0) | Err(_) => return,
                    Ok(k) => sent += k,
                }
            }
        }
    }
}
