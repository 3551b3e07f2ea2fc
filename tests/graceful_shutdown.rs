//! Runs `examples/graceful_shutdown.rs` as a child process, connects, sends
//! it SIGTERM or SIGINT with the `kill` command, and checks that it says
//! goodbye to the open connection, stops accepting and exits with status 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The example binary: `cargo test` builds examples next to `deps/`; when a
/// narrower command skipped it, build it here.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let bin = dir.join("examples").join("graceful_shutdown");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "graceful_shutdown"])
            .status()
            .expect("run cargo build --example graceful_shutdown");
        assert!(status.success(), "building the example failed");
    }
    bin
}

/// Kills the child if the test fails before it exits.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> (ChildGuard, BufReader<ChildStdout>, String) {
    let mut child = Command::new(example_binary())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the example");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (ChildGuard(child), out, addr)
}

fn shuts_down_on(signal: &str, name: &str) {
    let (mut child, mut out, addr) = start_server();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(b"ping\n").unwrap();
    let mut echo = [0u8; 5];
    conn.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"ping\n");

    let status = Command::new("kill")
        .args([signal, &child.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());

    let mut goodbye = String::new();
    conn.read_to_string(&mut goodbye).unwrap();
    assert_eq!(goodbye, "server shutting down\n");

    let status = child.0.wait().unwrap();
    assert!(status.success(), "the server exited with {status}");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains(&format!("{name} received")),
        "stdout: {rest:?}"
    );
    assert!(
        rest.contains("graceful shutdown complete: 1 connection(s) closed"),
        "stdout: {rest:?}"
    );
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the listener is closed after shutdown"
    );
}

#[test]
fn sigterm_closes_connections_and_exits_zero() {
    shuts_down_on("-TERM", "SIGTERM");
}

#[test]
fn sigint_closes_connections_and_exits_zero() {
    shuts_down_on("-INT", "SIGINT");
}
