//! An echo server that shuts down gracefully on SIGINT (Ctrl-C) or SIGTERM.
//!
//! On the signal it stops accepting, tells every open connection
//! "server shutting down", closes it, waits (at most 5 s) for the connection
//! tasks to finish, and exits with status 0.
//!
//! ```text
//! cargo run --example graceful_shutdown [127.0.0.1:7000]
//! nc 127.0.0.1 7000        # type lines, they come back
//! kill -TERM <pid>         # or Ctrl-C in the server's terminal
//! ```
//!
//! Signals are set up first thing in `main`, before any other thread
//! exists, so no thread can take SIGINT/SIGTERM behind the signalfd's back
//! (see `ringloop::signal`).

use futures_util::future::{select, Either};
use ringloop::fd::SharedFd;
use ringloop::signal::{signal, SignalKind};
use ringloop::sync::Event;
use ringloop::{op, JoinHandle};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

const GOODBYE: &[u8] = b"server shutting down\n";

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    ringloop::run(serve(addr))
}

async fn serve(addr: String) -> io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;

    let listener = std::net::TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;
    let listener = SharedFd::new(OwnedFd::from(listener));

    let shutdown = Rc::new(Event::new());
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    let signal_name = loop {
        let stop = pin!(async {
            let int = pin!(interrupt.recv());
            let term = pin!(terminate.recv());
            match select(int, term).await {
                Either::Left(_) => "SIGINT",
                Either::Right(_) => "SIGTERM",
            }
        });
        match select(op::accept(&listener), stop).await {
            Either::Left((Ok((stream, _peer)), _)) => {
                connections.retain(|c| !c.is_finished());
                let shutdown = shutdown.clone();
                connections.push(ringloop::spawn(async move {
                    if let Err(e) = echo(SharedFd::new(stream), &shutdown).await {
                        eprintln!("connection error: {e}");
                    }
                }));
            }
            Either::Left((Err(e), _)) => eprintln!("accept failed: {e}"),
            Either::Right((name, _)) => break name,
        }
    };

    println!(
        "{signal_name} received: closing the listener and {} connection(s)",
        connections.len()
    );
    drop(listener);
    shutdown.set();
    let mut closed = 0;
    for conn in connections {
        match ringloop::time::timeout(Duration::from_secs(5), conn).await {
            Ok(Ok(())) => closed += 1,
            Ok(Err(e)) => eprintln!("connection task failed: {e}"),
            Err(_) => eprintln!("a connection did not finish within 5 s; it is dropped"),
        }
    }
    println!("graceful shutdown complete: {closed} connection(s) closed");
    Ok(())
}

/// Echoes until the peer closes or the server shuts down.
async fn echo(stream: SharedFd, shutdown: &Event) -> io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let recv = op::recv(&stream, buf, 0);
        let (res, b) = match select(recv, pin!(shutdown.wait())).await {
            Either::Left((out, _)) => out,
            Either::Right(((), _)) => {
                // The in-flight recv is cancelled when dropped.
                send_all(&stream, GOODBYE.to_vec()).await?;
                return Ok(());
            }
        };
        if res? == 0 {
            return Ok(());
        }
        buf = send_all(&stream, b).await?;
        buf.clear();
    }
}

async fn send_all(stream: &SharedFd, data: Vec<u8>) -> io::Result<Vec<u8>> {
    let (res, data) = op::send(stream, data, 0).await;
    let mut sent = res?;
    while sent < data.len() {
        // A partial send is rare: send the rest from a copy.
        let (res, _) = op::send(stream, data[sent..].to_vec(), 0).await;
        match res? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => sent += n,
        }
    }
    Ok(data)
}
