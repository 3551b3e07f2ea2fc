//! The ringloop echo server, on the runtime's op API directly.
//!
//! `echo_connection` is the only function that touches a connection; when
//! the net crate's `TcpStream` lands it becomes a `stream.read(buf)` /
//! `stream.write_all(buf)` loop and nothing else here changes.

use ringloop_runtime::buf::IoBuf;
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op;
use std::net::TcpListener;
use std::os::fd::OwnedFd;

/// Size of each connection's receive buffer (the same for every server).
pub const BUF_SIZE: usize = 16 * 1024;

/// Serves until killed, or until `conns` connections were accepted and closed.
/// `defer_taskrun: false` sets the runtime up without
/// SINGLE_ISSUER + DEFER_TASKRUN (COOP_TASKRUN only, like the floor).
pub fn serve(listener: TcpListener, conns: Option<usize>, defer_taskrun: bool) {
    let rt = ringloop_runtime::Runtime::builder()
        .defer_taskrun(defer_taskrun)
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
            let handle = ringloop_runtime::spawn(echo_connection(fd));
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
async fn echo_connection(fd: OwnedFd) {
    let _ = socket2::SockRef::from(&fd).set_tcp_nodelay(true);
    let fd = SharedFd::new(fd);
    let mut buf: Vec<u8> = Vec::with_capacity(BUF_SIZE);
    loop {
        buf.clear();
        let (res, b) = op::recv(&fd, buf, 0).await;
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
