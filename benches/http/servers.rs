//! The HTTP/1.1 keep-alive "hello" responders: ringloop (`ringloop::net`
//! streams, as users write it), ringloop on the raw op API (`ringloop-ops`)
//! and tokio current_thread, with the same request framing and the same
//! response (the hand-written floor is in `server_uring`).

use futures_util::StreamExt;
use ringloop_runtime::buf::IoBuf;
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The response to every request.
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
/// Requests larger than this close the connection.
pub const BUF_SIZE: usize = 8192;

/// Consumes the complete request heads (bodyless requests, as wrk sends)
/// at the front of `buf[..filled]`; returns how many, and moves the partial
/// rest to the front. `None` if the buffer is full without a complete one.
pub fn take_requests(buf: &mut [u8], filled: &mut usize) -> Option<usize> {
    let mut count = 0;
    let mut used = 0;
    while let Some(end) = buf[used..*filled].windows(4).position(|w| w == b"\r\n\r\n") {
        used += end + 4;
        count += 1;
    }
    buf.copy_within(used..*filled, 0);
    *filled -= used;
    if count == 0 && *filled == buf.len() {
        return None;
    }
    Some(count)
}

/// Serves with ringloop's `TcpListener`/`TcpStream` until killed, on a
/// runtime made by `builder`.
pub fn serve_ringloop(listener: TcpListener, builder: &ringloop::Builder) {
    let rt = builder.build().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(ringloop_accept_loop(listener));
}

/// Serves `listeners` (SO_REUSEPORT, one per thread) from as many pinned
/// runtimes of `builder`'s settings, until killed.
pub fn serve_ringloop_threads<F: std::future::Future<Output = ()>>(
    listeners: Vec<TcpListener>,
    builder: &mut ringloop::Builder,
    serve: fn(TcpListener) -> F,
) {
    let threads = listeners.len();
    let listeners = std::sync::Mutex::new(listeners.into_iter().map(Some).collect::<Vec<_>>());
    builder
        .threads(threads)
        .pin_to_cores(true)
        .run_per_thread(|| {
            let listener = listeners.lock().unwrap()[ringloop::thread_index()]
                .take()
                .expect("one listener per thread");
            serve(listener)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Accepts on `listener`, one task per connection, forever.
pub async fn ringloop_accept_loop(listener: TcpListener) {
    let listener = ringloop::net::TcpListener::from_std(listener);
    let mut incoming = listener.incoming();
    while let Some(stream) = incoming.next().await {
        if let Ok(stream) = stream {
            drop(ringloop::spawn(ringloop_connection(stream)));
        }
    }
}

/// One keep-alive connection on a `TcpStream`.
async fn ringloop_connection(stream: ringloop::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; BUF_SIZE];
    let mut filled = 0;
    loop {
        let (res, slice) = stream.read(buf.slice(filled..)).await;
        buf = slice.into_inner();
        match res {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let Some(count) = take_requests(&mut buf, &mut filled) else {
            return;
        };
        for _ in 0..count {
            if stream.write_all(RESPONSE).await.0.is_err() {
                return;
            }
        }
    }
}

/// Serves with ringloop's raw op API until killed.
pub fn serve_ringloop_ops(listener: TcpListener) {
    ringloop_runtime::run(async move {
        let listener = SharedFd::new(OwnedFd::from(listener));
        loop {
            if let Ok((fd, _)) = op::accept(&listener).await {
                drop(ringloop_runtime::spawn(ringloop_ops_connection(fd)));
            }
        }
    });
}

/// One keep-alive connection on the raw op API.
async fn ringloop_ops_connection(fd: OwnedFd) {
    let _ = socket2::SockRef::from(&fd).set_tcp_nodelay(true);
    let fd = SharedFd::new(fd);
    let mut buf = vec![0u8; BUF_SIZE];
    let mut filled = 0;
    loop {
        let (res, slice) = op::recv(&fd, buf.slice(filled..), 0).await;
        buf = slice.into_inner();
        match res {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let Some(count) = take_requests(&mut buf, &mut filled) else {
            return;
        };
        for _ in 0..count {
            let mut sent = 0;
            while sent < RESPONSE.len() {
                let (res, _) = op::send(&fd, RESPONSE.slice(sent..), 0).await;
                match res {
                    Ok(0) | Err(_) => return,
                    Ok(k) => sent += k,
                }
            }
        }
    }
}

/// Serves with tokio current_thread until killed.
pub fn serve_tokio(listener: TcpListener) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                tokio::task::spawn(tokio_connection(stream));
            }
        }
    });
}

async fn tokio_connection(mut stream: tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; BUF_SIZE];
    let mut filled = 0;
    loop {
        match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let Some(count) = take_requests(&mut buf, &mut filled) else {
            return;
        };
        for _ in 0..count {
            if stream.write_all(RESPONSE).await.is_err() {
                return;
            }
        }
    }
}
