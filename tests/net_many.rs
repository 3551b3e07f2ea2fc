//! 10,000 concurrent connections on loopback, every byte echoed intact.
//!
//! Client and server each need over 10,000 fds, more than many hard limits
//! allow one process, so the echo server runs in a child process (this
//! test binary, re-executed). Both raise their soft RLIMIT_NOFILE; the test
//! is skipped with a message if the hard limit is too low.

#[path = "util/net.rs"]
mod util;

use futures_util::StreamExt;
use ringloop::net::{ListenOptions, TcpListener, TcpStream};
use std::io::BufReader;
use util::{child_command, is_child, pattern, read_listening_port};

const CONNECTIONS: usize = 10_000;
const MESSAGE: usize = 64;
/// Connects in flight at once: keeps the listen backlog from overflowing
/// (an overflowing backlog drops SYNs, which are retried only after 1 s).
const WAVE: usize = 500;

/// Raises the soft fd limit to `need`; `false` if the hard limit is lower.
fn raise_fd_limit(need: u64) -> bool {
    let (soft, hard) = ringloop::rlimit::nofile_limit().unwrap();
    if hard < need {
        eprintln!(
            "skipping: {CONNECTIONS} connections need {need} fds per process but the hard \
             RLIMIT_NOFILE is {hard} (raise it with `ulimit -Hn {need}`)"
        );
        return false;
    }
    if soft < need {
        ringloop::rlimit::set_nofile_soft_limit(need).unwrap();
    }
    true
}

#[test]
fn ten_thousand_concurrent_connections_echo() {
    if !raise_fd_limit(CONNECTIONS as u64 + 512) {
        return;
    }
    let mut child = child_command("child_echo_server").spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let port = read_listening_port(&mut out);
    let result = std::panic::catch_unwind(|| {
        ringloop::run(async move {
            let mut streams = Vec::with_capacity(CONNECTIONS);
            while streams.len() < CONNECTIONS {
                let wave: Vec<_> = (0..WAVE.min(CONNECTIONS - streams.len()))
                    .map(|_| ringloop::spawn(TcpStream::connect(("127.0.0.1", port))))
                    .collect();
                for h in wave {
                    streams.push(h.await.unwrap().expect("connect"));
                }
            }
            // All 10,000 are open; now every one echoes a distinct message at once.
            let tasks: Vec<_> = streams
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    ringloop::spawn(async move {
                        let msg = pattern(i as u64, MESSAGE);
                        let (res, _) = s.write_all(msg.clone()).await;
                        res.expect("write");
                        let (res, back) = s.read_exact(Vec::with_capacity(MESSAGE)).await;
                        res.expect("read back");
                        assert!(back == msg, "connection {i} got other bytes back");
                        s
                    })
                })
                .collect();
            let mut open = Vec::with_capacity(CONNECTIONS);
            for t in tasks {
                open.push(t.await.unwrap());
            }
            assert_eq!(open.len(), CONNECTIONS);
        })
    });
    // Our own child, by its handle.
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The echo server of `ten_thousand_concurrent_connections_echo`, run in a
/// child process; does nothing when run on its own.
#[test]
#[ignore = "child process of ten_thousand_concurrent_connections_echo"]
fn child_echo_server() {
    if !is_child("child_echo_server") || !raise_fd_limit(CONNECTIONS as u64 + 512) {
        return;
    }
    ringloop::run(async {
        let listener =
            TcpListener::bind_with("127.0.0.1:0", &ListenOptions::new().backlog(4096)).unwrap();
        println!("LISTENING {}", listener.local_addr().unwrap().port());
        let mut incoming = listener.incoming();
        let serve = async {
            while let Some(stream) = incoming.next().await {
                match stream {
                    Ok(s) => drop(ringloop::spawn(util::echo(s))),
                    Err(e) => eprintln!("child echo server: accept failed: {e}"),
                }
            }
        };
        // The parent kills us when done; this only bounds an orphaned child.
        let _ = ringloop::time::timeout(std::time::Duration::from_secs(120), serve).await;
    });
}
