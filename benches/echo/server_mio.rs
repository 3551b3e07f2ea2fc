//! A plain epoll echo loop on mio: edge-triggered readiness, read until
//! WouldBlock, write back, keep unsent bytes and wait for writability.

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    /// Received bytes not yet echoed (non-empty only when the socket was full).
    pending: Vec<u8>,
}

/// Serves until killed.
pub fn serve(listener: std::net::TcpListener) {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new().expect("epoll instance");
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register listener");
    let mut conns: slab::Slab<Conn> = slab::Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; super::server_ringloop::BUF_SIZE];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            panic!("epoll_wait failed: {e}");
        }
        for event in &events {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.set_nodelay(true);
                    let entry = conns.vacant_entry();
                    let token = Token(entry.key());
                    if poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                        .is_ok()
                    {
                        entry.insert(Conn {
                            stream,
                            pending: Vec::new(),
                        });
                    }
                }
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            if !serve_conn(conn, &mut buf) {
                let conn = conns.remove(key);
                let mut stream = conn.stream;
                let _ = poll.registry().deregister(&mut stream);
            }
        }
    }
}

/// Drives one connection after a readiness event; false once it is closed.
fn serve_conn(conn: &mut Conn, buf: &mut [u8]) -> bool {
    if !flush(conn) {
        return false;
    }
    loop {
        if !conn.pending.is_empty() {
            // Echo later, when writable; stop reading meanwhile (back-pressure).
            return true;
        }
        match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                let mut sent = 0;
                while sent < n {
                    match conn.stream.write(&buf[sent..n]) {
                        Ok(k) => sent += k,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            conn.pending.extend_from_slice(&buf[sent..n]);
                            break;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return false,
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Writes pending bytes; false if the connection failed.
fn flush(conn: &mut Conn) -> bool {
    while !conn.pending.is_empty() {
        match conn.stream.write(&conn.pending) {
            Ok(k) => {
                conn.pending.drain(..k);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}
