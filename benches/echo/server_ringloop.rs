//! The ringloop echo server as users write it: `ringloop::net::TcpListener`
//! and `TcpStream`, one task per connection, owned-buffer `read` and
//! `write_all`, TCP_NODELAY.

use futures_util::StreamExt;
use ringloop::net::{TcpListener, TcpStream};

/// Size of each connection's receive buffer (the same for every server).
pub const BUF_SIZE: usize = 16 * 1024;

/// Serves until killed, or until `conns` connections were accepted and
/// closed, on a runtime made by `builder` (the A/B kinds change its settings).
pub fn serve(listener: std::net::TcpListener, conns: Option<usize>, builder: &ringloop::Builder) {
    let rt = builder.build().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(accept_loop(listener, conns));
}

/// Serves `listener` on the current runtime, one task per connection, until
/// `conns` connections were accepted and closed (or forever).
pub async fn accept_loop(listener: std::net::TcpListener, conns: Option<usize>) {
    let listener = TcpListener::from_std(listener);
    let mut incoming = listener.incoming();
    let mut handles = Vec::new();
    let mut accepted = 0;
    while accepted < conns.unwrap_or(usize::MAX) {
        let stream = match incoming.next().await {
            Some(Ok(stream)) => stream,
            Some(Err(e)) => {
                eprintln!("ringloop server: accept failed: {e}");
                continue;
            }
            None => break,
        };
        accepted += 1;
        let handle = ringloop::spawn(echo_connection(stream));
        if conns.is_some() {
            handles.push(handle);
        }
    }
    for handle in handles {
        let _ = handle.await;
    }
}

/// Echoes everything received on `stream` until the peer closes it.
async fn echo_connection(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(BUF_SIZE);
    loop {
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
