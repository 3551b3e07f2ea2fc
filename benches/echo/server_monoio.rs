//! The monoio echo server (io_uring driver): accept loop plus one task per connection.

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use std::net::TcpListener;

/// Serves until killed.
pub fn serve(listener: TcpListener) {
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .build()
        .expect("monoio io_uring runtime");
    rt.block_on(async move {
        let listener = monoio::net::TcpListener::from_std(listener).expect("monoio listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            monoio::spawn(echo_connection(stream));
        }
    });
}

async fn echo_connection(mut stream: monoio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(super::server_ringloop::BUF_SIZE);
    loop {
        buf.clear();
        let (res, b) = stream.read(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (res, b) = stream.write_all(buf).await;
        buf = b;
        if res.is_err() {
            return;
        }
    }
}
