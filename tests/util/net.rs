//! Helpers shared by the `net_*` integration tests.
#![allow(dead_code)]

use ringloop::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, unused path for a Unix socket in the temp directory.
pub fn unix_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "ringloop-{}-{}-{}.sock",
        std::process::id(),
        name,
        n
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// Starts an echo server (owned-buffer API) on 127.0.0.1 in a task and
/// returns its address. Must be called inside a runtime.
pub fn spawn_echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(ringloop::spawn(async move {
        use futures_util::StreamExt;
        let mut incoming = listener.incoming();
        while let Some(stream) = incoming.next().await {
            let Ok(stream) = stream else { continue };
            drop(ringloop::spawn(echo(stream)));
        }
    }));
    addr
}

/// Echoes everything it reads until end of stream or an error.
pub async fn echo(stream: TcpStream) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        let (res, b) = stream.read(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let (res, b) = stream.write_all(buf).await;
                buf = b;
                if res.is_err() {
                    return;
                }
            }
        }
    }
}

/// A connected pair of TCP streams on loopback (client, server side).
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Deterministic test data: byte i is a function of `seed` and i.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The environment variable that tells a re-executed test binary which
/// child role to play.
pub const CHILD_ENV: &str = "RINGLOOP_NET_CHILD";

/// Whether this process is the child started for `role`.
pub fn is_child(role: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(role)
}

/// A command that re-runs this test binary as the child `role`: only the
/// ignored test function named `role` runs, and it sees [`is_child`].
pub fn child_command(role: &str) -> std::process::Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        role,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, role)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::inherit());
    cmd
}

/// Reads the child's stdout until a line `LISTENING <port>`.
pub fn read_listening_port(out: &mut impl std::io::BufRead) -> u16 {
    let mut line = String::new();
    loop {
        line.clear();
        let n = out
            .read_line(&mut line)
            .expect("reading the child's stdout");
        assert!(n > 0, "the child exited before it listened");
        // The test harness may have printed "test name ... " on the same line.
        if let Some(at) = line.find("LISTENING ") {
            return line[at + 10..].trim().parse().expect("a port number");
        }
    }
}
