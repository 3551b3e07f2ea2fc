//! Example binaries of this `cargo test` run, started as servers for
//! clients that are not ours.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The path of an example binary built by this `cargo test` run, if any.
pub fn example_bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join(name);
    path.exists().then_some(path)
}

/// A program found on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A server process we started, killed (by its handle) when dropped.
pub struct ServerProcess(pub Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an example server on a free port; returns it and the port.
pub fn start_example(
    name: &str,
) -> Option<(ServerProcess, u16, BufReader<std::process::ChildStdout>)> {
    let bin = example_bin(name)?;
    let mut child = Command::new(bin)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let port = serving_port(&mut out);
    Some((ServerProcess(child), port, out))
}

/// The port of the "Serving on ADDR" line an example prints first.
pub fn serving_port(out: &mut impl BufRead) -> u16 {
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected \"Serving on ADDR\", got {line:?}"))
}
