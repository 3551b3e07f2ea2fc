//! Memory per idle connection: an echo server holding N connections that
//! each made one round trip and then went quiet, ringloop (the
//! `echo_server` example's code: `start_server`, `Reader::read`, `Writer`)
//! against tokio current_thread (the echo bench's tokio server: one 16 KiB
//! buffer per connection).
//!
//! `cargo bench --bench idle`. Environment: `RINGLOOP_BENCH_CONNS` (default
//! 10000). Each server is a child process of this binary; its resident
//! memory (`/proc/<pid>/statm`) is read before the connections, with them
//! open, and again after all were closed and N new ones opened (churn:
//! memory the first wave freed is reused, not counted twice). Target:
//! ringloop ≤ 4 kB per idle connection at 10k connections, after churn.

#[path = "common/sys.rs"]
#[allow(dead_code)]
mod sys;

/// The echo bench's tokio server, the same code.
#[path = "echo/server_tokio.rs"]
#[allow(dead_code)]
mod server_tokio;

/// What `server_tokio` reads of the echo bench's ringloop server.
mod server_ringloop {
    /// Each connection's receive buffer (as in the echo bench).
    pub const BUF_SIZE: usize = 16 * 1024;
}

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const KINDS: [&str; 2] = ["ringloop", "tokio"];

fn main() {
    let args = sys::setup();
    if args.first().map(String::as_str) == Some("serve") {
        let kind = args.get(1).map_or("", String::as_str);
        let listener = sys::listen("127.0.0.1:0").expect("listen");
        sys::announce(&listener).expect("announce");
        match kind {
            "ringloop" => serve_ringloop(listener),
            "tokio" => server_tokio::serve(listener),
            other => panic!("unknown server kind {other:?}"),
        }
        return;
    }
    let conns: usize = sys::env_or("RINGLOOP_BENCH_CONNS", 10_000);
    println!("idle connections: {conns}, one 64 B round trip each, then quiet");
    println!("| server | RSS before | per idle conn | per idle conn after churn |");
    println!("|---|---:|---:|---:|");
    for kind in KINDS {
        match measure(kind, conns) {
            Ok((base, first, churned)) => println!(
                "| {kind} | {:.1} MiB | {:.2} kB | {:.2} kB |",
                base as f64 / (1 << 20) as f64,
                first / 1000.0,
                churned / 1000.0
            ),
            Err(e) => println!("| {kind} | failed: {e} | | |"),
        }
    }
    println!("rerun: RINGLOOP_BENCH_CONNS={conns} cargo bench --bench idle");
}

/// Resident bytes of `pid`.
fn rss(pid: u32) -> std::io::Result<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm"))?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected statm: {statm}")))?;
    Ok(pages * 4096)
}

/// Opens `n` connections, each echoing one 64-byte message.
fn open_idle(addr: std::net::SocketAddr, n: usize) -> std::io::Result<Vec<TcpStream>> {
    let msg = [7u8; 64];
    let mut back = [0u8; 64];
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.write_all(&msg)?;
            s.read_exact(&mut back)?;
            Ok(s)
        })
        .collect()
}

/// (RSS before, bytes per connection, bytes per connection after churn).
fn measure(kind: &str, n: usize) -> std::io::Result<(u64, f64, f64)> {
    let server = sys::ServerProcess::start(&["serve".to_string(), kind.to_string()])?;
    std::thread::sleep(Duration::from_millis(200));
    let base = rss(server.pid())?;
    let settle = Duration::from_millis(500);
    let conns = open_idle(server.addr, n)?;
    std::thread::sleep(settle);
    let first = (rss(server.pid())? - base) as f64 / n as f64;
    drop(conns);
    std::thread::sleep(settle);
    let conns = open_idle(server.addr, n)?;
    std::thread::sleep(settle);
    let churned = (rss(server.pid())?.saturating_sub(base)) as f64 / n as f64;
    drop(conns);
    Ok((base, first, churned))
}

fn serve_ringloop(listener: std::net::TcpListener) {
    ringloop::run(async move {
        let listener = ringloop::net::TcpListener::from_std(listener);
        let server =
            ringloop::net::Server::from_listener(listener, |mut reader, writer| async move {
                while let Ok(data) = reader.read(64 * 1024).await {
                    if data.is_empty() || writer.write(data).await.is_err() {
                        break;
                    }
                }
            })
            .expect("server");
        server.serve_forever().await;
    });
}
