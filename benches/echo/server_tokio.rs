//! The tokio current_thread echo server: accept loop plus one task per connection.

use std::net::TcpListener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves until killed.
pub fn serve(listener: TcpListener) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    rt.block_on(accept_loop(listener));
}

/// Accepts on `listener` forever, one task per connection.
async fn accept_loop(listener: TcpListener) {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::task::spawn(echo_connection(stream));
    }
}

async fn echo_connection(mut stream: tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; super::server_ringloop::BUF_SIZE];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Serves until killed on tokio's multi_thread runtime with `workers`
/// worker threads.
pub fn serve_multi(listener: TcpListener, workers: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()
        .expect("tokio runtime");
    rt.block_on(accept_loop(listener));
}
