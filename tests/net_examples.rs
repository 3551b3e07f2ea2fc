//! The example programs against clients that are not ours: the echo
//! server with `socat` and `nc` (netcat-openbsd), the echo client against
//! the echo server, and the chat server with plain std clients.
//!
//! The example binaries are those `cargo test` builds next to this test
//! (`target/<profile>/examples/`). If they were not built (e.g. `cargo test
//! --test net_examples`), the echo server is replaced by an in-process
//! equivalent and the other tests are skipped, with a message.

#[path = "util/examples.rs"]
mod examples;

use examples::{example_bin, have, serving_port, start_example, ServerProcess};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An in-process echo server on its own thread, for when the example
/// binary was not built.
fn start_in_process_echo() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        ringloop::run(async move {
            let server = ringloop::net::start_server("127.0.0.1:0", |mut r, w| async move {
                while let Ok(data) = r.read(4096).await {
                    if data.is_empty() || w.write(data).await.is_err() {
                        break;
                    }
                }
            })
            .await
            .unwrap();
            tx.send(server.local_addr().unwrap().port()).unwrap();
            server.serve_forever().await;
        })
    });
    rx.recv().unwrap()
}

/// Runs `cmd` with `input` on stdin and returns its stdout; killed (and
/// the test failed) if it does not finish within 20 s.
fn run_client(mut cmd: Command, input: &[u8]) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{cmd:?} failed: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    reader.join().unwrap()
}

#[test]
fn echo_server_with_socat_and_nc() {
    let tools: Vec<&str> = ["socat", "nc"].into_iter().filter(|t| have(t)).collect();
    if tools.is_empty() {
        eprintln!(
            "skipping: neither socat nor nc is installed (apt-get install socat netcat-openbsd)"
        );
        return;
    }
    let (server, port, out) = match start_example("echo_server") {
        Some((s, p, o)) => (Some(s), p, Some(o)),
        None => {
            eprintln!(
                "note: the echo_server example is not built; using an in-process echo server"
            );
            (None, start_in_process_echo(), None)
        }
    };
    let input = b"hello\nworld\nfrom a client that is not ours\n";
    for tool in &tools {
        let mut cmd = Command::new(tool);
        match *tool {
            // -t: after stdin's EOF, wait up to 5 s for the server to close.
            "socat" => cmd.args(["-t", "5", "-", &format!("TCP:127.0.0.1:{port}")]),
            // -N: shut the socket's write half down at stdin's EOF (netcat-openbsd).
            _ => cmd.args(["-N", "127.0.0.1", &port.to_string()]),
        };
        let echoed = run_client(cmd, input);
        assert_eq!(echoed.as_bytes(), input, "{tool} got back something else");
    }
    drop(server);
    if let Some(out) = out {
        let printed: Vec<String> = out.lines().map_while(Result::ok).collect();
        assert!(
            printed
                .iter()
                .any(|l| l.starts_with("Received ") && l.contains("hello")),
            "the server prints what it receives: {printed:?}"
        );
    }
}

#[test]
fn echo_client_against_echo_server() {
    let (Some((_server, port, _out)), Some(client)) =
        (start_example("echo_server"), example_bin("echo_client"))
    else {
        eprintln!("skipping: the echo examples are not built (run the whole `cargo test`)");
        return;
    };
    let mut cmd = Command::new(client);
    cmd.arg(format!("127.0.0.1:{port}"));
    let out = run_client(cmd, b"first\nsecond\n");
    assert!(out.contains("Received: \"first\""), "{out}");
    assert!(out.contains("Received: \"second\""), "{out}");
}

#[test]
fn chat_broadcasts_lines_between_clients() {
    let Some((_server, port, _out)) = start_example("chat") else {
        eprintln!("skipping: the chat example is not built (run the whole `cargo test`)");
        return;
    };
    let (mut alice, _alice_in) = chat_member(port);
    let (_bob, mut bob_in) = chat_member(port);
    alice.write_all(b"hi everyone\n").unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        bob_in
            .read_line(&mut line)
            .expect("bob receives alice's line");
        assert!(!line.is_empty(), "the chat server closed bob's connection");
        if line.contains("hi everyone") {
            break;
        }
    }
    assert!(line.starts_with("[127.0.0.1:"), "{line:?}");
}

/// Resident memory of a process, in bytes, from `/proc/<pid>/statm`.
fn rss_bytes(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Connects to the chat example and reads its welcome line.
fn chat_member(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut welcome = String::new();
    r.read_line(&mut welcome).unwrap();
    assert!(welcome.starts_with("welcome"), "{welcome:?}");
    (s, r)
}

/// Reads lines until one contains `needle`; panics at end of stream.
fn read_until_line_with(r: &mut BufReader<TcpStream>, needle: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("a line before the timeout");
        assert!(
            !line.is_empty(),
            "connection closed before a line with {needle:?}"
        );
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn chat_disconnects_a_member_that_stops_reading_and_stays_small() {
    let Some((server, port, _out)) = start_example("chat") else {
        eprintln!("skipping: the chat example is not built (run the whole `cargo test`)");
        return;
    };
    let pid = server.0.id();
    let (mut flooder, _flooder_in) = chat_member(port);
    // Never reads: its outbox fills and it is disconnected.
    let (sleeper, _sleeper_in) = chat_member(port);
    let line = [b'z'; 1023]
        .iter()
        .chain(b"\n")
        .copied()
        .collect::<Vec<u8>>();
    let mut peak = 0;
    for i in 0..100 * 1024 {
        flooder.write_all(&line).unwrap();
        if i % 4096 == 0 {
            peak = peak.max(rss_bytes(pid));
        }
    }
    peak = peak.max(rss_bytes(pid));
    // 100 MiB went through; the server kept at most its outboxes and
    // socket buffers.
    assert!(peak < 64 << 20, "the chat server grew to {peak} bytes");
    // The sleeper was disconnected: draining its socket reaches EOF.
    sleeper
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    (&sleeper)
        .read_to_end(&mut rest)
        .expect("EOF, not a timeout");
    // The room still works for a newcomer.
    let (_late, mut late_in) = chat_member(port);
    flooder.write_all(b"still here\n").unwrap();
    read_until_line_with(&mut late_in, "still here");
}

#[test]
fn chat_drops_an_over_long_line_whole() {
    let Some((_server, port, _out)) = start_example("chat") else {
        eprintln!("skipping: the chat example is not built (run the whole `cargo test`)");
        return;
    };
    let (mut alice, mut alice_in) = chat_member(port);
    let (_bob, mut bob_in) = chat_member(port);
    // 200 KiB with no newline (three times the 64 KiB limit), sent in
    // pieces so that the server sees the line's tail after its overrun.
    for _ in 0..50 {
        alice.write_all(&[b'x'; 4096]).unwrap();
    }
    alice.write_all(b"tail\nafter\n").unwrap();
    read_until_line_with(&mut alice_in, "line too long");
    let line = read_until_line_with(&mut bob_in, "] ");
    assert!(
        line.ends_with("] after\n"),
        "bob got a piece of the long line: {:.80}",
        line
    );
}

#[path = "../runtime/tests/util/seccomp.rs"]
mod seccomp;

#[test]
fn echo_server_serves_byte_exact_where_a_seccomp_filter_blocks_io_uring() {
    use std::os::unix::process::CommandExt;
    let Some(bin) = example_bin("echo_server") else {
        eprintln!("skipping: the echo_server example is not built (run the whole `cargo test`)");
        return;
    };
    let mut cmd = Command::new(bin);
    cmd.args(["127.0.0.1:0", "--quiet"])
        .env("RINGLOOP_DEBUG", "1")
        .env_remove("RINGLOOP_DRIVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only
    // makes two prctl calls (async-signal-safe; no allocation, no lock).
    unsafe {
        cmd.pre_exec(|| seccomp::try_deny_syscall(seccomp::SYS_IO_URING_SETUP, libc::EPERM as u32))
    };
    let mut child = ServerProcess(cmd.spawn().unwrap());
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut err = BufReader::new(child.0.stderr.take().unwrap());
    let port = serving_port(&mut out);
    // Debug mode says once, at start, which driver runs and why.
    let mut driver = String::new();
    err.read_line(&mut driver).unwrap();
    assert!(driver.contains("running the epoll driver"), "{driver}");
    assert!(
        driver.contains("io_uring_setup"),
        "names the cause: {driver}"
    );
    // Several clients at once, each with 1 MiB of its own bytes.
    let clients: Vec<_> = (0..8u8)
        .map(|c| {
            std::thread::spawn(move || {
                let data: Vec<u8> = (0..1 << 20)
                    .map(|i| (i as u8) ^ c.wrapping_mul(37))
                    .collect();
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut w = s.try_clone().unwrap();
                let expected = data.clone();
                let writer = std::thread::spawn(move || {
                    w.write_all(&data).unwrap();
                    w.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut got = Vec::new();
                s.read_to_end(&mut got).unwrap();
                writer.join().unwrap();
                got == expected
            })
        })
        .collect();
    for c in clients {
        assert!(c.join().unwrap(), "the echo was not byte-exact");
    }
}

#[test]
fn echo_server_with_two_runtimes_serves_byte_exact_under_load() {
    let Some(bin) = example_bin("echo_server") else {
        eprintln!("skipping: the echo_server example is not built (run the whole `cargo test`)");
        return;
    };
    let mut child = Command::new(bin)
        .args(["127.0.0.1:0", "--quiet", "--threads", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let _server = ServerProcess(child);
    let port = serving_port(&mut out);
    // 64 clients at once, 256 KiB each in 4 KiB round trips: the kernel
    // spreads them over both runtimes' listeners.
    let clients: Vec<_> = (0..64u32)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut back = vec![0u8; 4096];
                for round in 0..64u32 {
                    let msg: Vec<u8> = (0..4096u32)
                        .map(|i| (i ^ c.wrapping_mul(131) ^ round.wrapping_mul(7)) as u8)
                        .collect();
                    s.write_all(&msg).unwrap();
                    s.read_exact(&mut back).unwrap();
                    if back != msg {
                        return false;
                    }
                }
                true
            })
        })
        .collect();
    for c in clients {
        assert!(c.join().unwrap(), "an echo was not byte-exact");
    }
}
