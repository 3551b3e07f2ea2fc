//! The `ringloop-ops` echo server: ringloop's runtime with the raw op API
//! (`op::accept`/`recv`/`send` on a `SharedFd`), no net crate. It shows what
//! the `TcpStream` layer of the `ringloop` server costs on top.

use ringloop_runtime::buf::IoBuf;
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op;
use std::net::TcpListener;
use std::os::fd::OwnedFd;

/// Serves until killed, or until `conns` connections were accepted and closed.
/// With `poll_first`, the recv that follows an echo is issued with
/// IORING_RECVSEND_POLL_FIRST (A/B kind `ringloop-ops-pollfirst`).
pub fn serve(listener: TcpListener, conns: Option<usize>, poll_first: bool) {
    let rt = ringloop_runtime::Runtime::builder()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async move {
        let listener = SharedFd::new(OwnedFd::from(listener));
        let mut handles = Vec::new();
        let mut accepted = 0;
        while accepted < conns.unwrap_or(usize::MAX) {
            let (fd, _peer) = match op::accept(&listener).await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("ringloop server: accept failed: {e}");
                    continue;
                }
            };
            accepted += 1;
            let handle = ringloop_runtime::spawn(echo_connection(fd, poll_first));
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
async fn echo_connection(fd: OwnedFd, poll_first: bool) {
    let _ = socket2::SockRef::from(&fd).set_tcp_nodelay(true);
    let fd = SharedFd::new(fd);
    let mut buf: Vec<u8> = Vec::with_capacity(super::server_ringloop::BUF_SIZE);
    let mut echoed = false;
    loop {
        buf.clear();
        let (res, b) = if poll_first && echoed {
            op::recv_poll_first(&fd, buf, 0).await
        } else {
            op::recv(&fd, buf, 0).await
        };
        echoed = true;
        buf = b;
        let n = match res {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut sent = 0;
        while sent < n {
            let (res, slice) = op::send(&fd, buf.slice(sent..n), 0).await;
            buf = slice.into_inner();
            match res {
                Ok(0) | Err(_) => return,
                Ok(k) => sent += k,
            }
        }
    }
}
