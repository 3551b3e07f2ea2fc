//! Runs a command and streams its output line by line, killing it after a
//! timeout.
//!
//! ```text
//! cargo run --example subprocess -- [--timeout SECS] -- CMD ARGS...
//! cargo run --example subprocess -- -- ping -c 3 127.0.0.1
//! ```
//!
//! Lines from the command's stdout are printed as `out: ...`, from its
//! stderr as `err: ...`, as they come. The exit status ends the output; a
//! command still running after the timeout (default 10 s) is killed. The
//! example exits with the command's code (1 if it was killed or could not
//! start).

use ringloop::net::Reader;
use ringloop::process::{Command, Stdio};
use std::time::Duration;

const USAGE: &str = "usage: subprocess [--timeout SECS] -- CMD ARGS...";

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut timeout = Duration::from_secs(10);
    let mut cmd: Vec<String> = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--timeout" | "-t" => match args.next().and_then(|s| s.parse::<f64>().ok()) {
                Some(s) if s > 0.0 => timeout = Duration::from_secs_f64(s),
                _ => {
                    eprintln!("{USAGE}");
                    std::process::exit(2);
                }
            },
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            "--" => {
                cmd.extend(args.by_ref());
            }
            _ => {
                cmd.push(arg);
                cmd.extend(args.by_ref());
            }
        }
    }
    let Some((program, rest)) = cmd.split_first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let code = ringloop::run(run(program.clone(), rest.to_vec(), timeout));
    std::process::exit(code);
}

async fn run(program: String, args: Vec<String>, timeout: Duration) -> i32 {
    let mut child = match Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("subprocess: {e}");
            return 1;
        }
    };
    let out = ringloop::spawn(print_lines(child.stdout.take().expect("piped"), "out"));
    let err = ringloop::spawn(print_lines(child.stderr.take().expect("piped"), "err"));
    let status = match ringloop::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            eprintln!("subprocess: {e}");
            return 1;
        }
        Err(_) => {
            eprintln!("subprocess: {program} still running after {timeout:?}: killing it");
            let _ = child.kill();
            match child.wait().await {
                Ok(status) => status,
                Err(e) => {
                    eprintln!("subprocess: {e}");
                    return 1;
                }
            }
        }
    };
    let _ = out.await;
    let _ = err.await;
    println!("exit: {status}");
    status.code().unwrap_or(1)
}

async fn print_lines(mut reader: Reader, tag: &str) {
    loop {
        match reader.read_line().await {
            Ok(line) if line.is_empty() => return,
            Ok(line) => println!(
                "{tag}: {}",
                String::from_utf8_lossy(&line).trim_end_matches('\n')
            ),
            Err(e) => {
                eprintln!("subprocess: reading {tag}: {e}");
                return;
            }
        }
    }
}
