//! The epoll load generator: the same ping-pong as the io_uring client
//! (send a message tagged with its round number, read the whole echo,
//! compare every byte, time the round trip), driven by mio (edge-triggered
//! epoll) with plain non-blocking `write`/`read`. Issue #18 asks for both
//! kinds of client: which one drives the server changes what the server's
//! receives find waiting.

use super::client::{Exchange, Load, Measured, Window};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

struct Conn {
    stream: TcpStream,
    x: Exchange,
    /// Did its fixed number of rounds (`rounds_per_conn`) and was shut down.
    done: bool,
}

impl Conn {
    /// Writes and reads what the socket allows; `Ok(true)` when a round
    /// trip completed and was verified.
    fn advance(&mut self, key: usize) -> io::Result<bool> {
        while self.x.sent < self.x.msg.len() {
            match self.stream.write(&self.x.msg[self.x.sent..]) {
                Ok(0) => {
                    return Err(io::Error::other(format!(
                        "connection {key}: write returned 0"
                    )))
                }
                Ok(n) => self.x.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while self.x.got < self.x.echo.len() {
            let got = self.x.got;
            match self.stream.read(&mut self.x.echo[got..]) {
                Ok(0) => {
                    return Err(io::Error::other(format!(
                        "the server closed connection {key}"
                    )))
                }
                Ok(n) => self.x.got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.x.sent < self.x.msg.len() {
            return Ok(false);
        }
        self.x.check(key)?;
        Ok(true)
    }
}

/// Runs `load` against `addr` with the epoll client.
pub fn run(addr: SocketAddr, server_pid: Option<u32>, load: Load) -> io::Result<Measured> {
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(load.conns);
    for i in 0..load.conns {
        let std = std::net::TcpStream::connect(addr)?;
        std.set_nodelay(true)?;
        std.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns.push(Conn {
            stream,
            x: Exchange::new(i, load.size),
            done: false,
        });
    }
    let mut window = Window::new(server_pid, load)?;
    let start = window.start();
    let mut open = conns.len();
    let mut events = Events::with_capacity(4096);
    // Start every connection's first round (edge-triggered: act now).
    let mut ready: Vec<usize> = (0..conns.len()).collect();
    for conn in &mut conns {
        conn.x.start(start);
    }
    'run: while open > 0 {
        for key in ready.drain(..) {
            let conn = &mut conns[key];
            // A finished connection still gets events (the server's end).
            while !conn.done {
                if !conn.advance(key)? {
                    break;
                }
                let now = Instant::now();
                window.record(conn.x.started, now);
                conn.x.round += 1;
                if load.rounds_per_conn.is_some_and(|n| conn.x.round >= n) {
                    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                    conn.done = true;
                    open -= 1;
                    break;
                }
                conn.x.start(now);
            }
        }
        poll.poll(&mut events, Some(Duration::from_secs(5)))?;
        if events.is_empty() {
            return Err(io::Error::other("the server answered nothing for 5 s"));
        }
        ready.extend(events.iter().map(|e| e.token().0));
        if window.tick(Instant::now())? {
            break 'run;
        }
    }
    window.finish()
}
