//! Accepting under fd exhaustion (EMFILE): `incoming()` yields the error,
//! backs off (10 ms, then doubling) instead of retrying at once, and
//! recovers when fds are freed. Runs in a child process (this test binary,
//! re-executed) that lowers its own soft RLIMIT_NOFILE, so the low limit
//! cannot disturb other tests.

#[path = "../runtime/tests/util/fds.rs"]
mod fds;
#[path = "util/net.rs"]
mod util;

use futures_util::StreamExt;
use ringloop::net::TcpListener;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};
use util::{child_command, is_child, read_listening_port};

/// Connections the parent opens; more than the child's fd headroom.
const CLIENTS: usize = 12;
/// New fds the child may open before accept fails with EMFILE.
const HEADROOM: u64 = 4;
/// EMFILE errors the child sits through before it frees fds.
const ERRORS_BEFORE_RECOVERY: usize = 3;

#[test]
fn accept_backs_off_under_emfile_and_recovers() {
    let mut child = child_command("child_emfile").spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let port = read_listening_port(&mut out);
    // Blocking std clients: the connections complete in the listen backlog
    // whether or not the child can accept them yet.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let mut report = String::new();
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(at) = line.find("RESULT ") {
            report = line[at..].to_string();
        }
    }
    eprintln!("child: {report}");
    let status = child.wait().unwrap();
    drop(clients);
    assert!(
        status.success(),
        "the child failed ({status}); see its stderr above"
    );
    assert!(
        report.starts_with(&format!("RESULT accepted={CLIENTS} ")),
        "unexpected child report: {report:?}"
    );
}

/// The server side of `accept_backs_off_under_emfile_and_recovers`, run in
/// a child process; does nothing when run on its own.
#[test]
#[ignore = "child process of accept_backs_off_under_emfile_and_recovers"]
fn child_emfile() {
    if !is_child("child_emfile") {
        return;
    }
    ringloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut incoming = listener.incoming();
        // fd numbers are allocated lowest first, so the limit caps new fds at
        // about HEADROOM more than are open now.
        let open = fds::open_fd_count() as u64;
        ringloop::rlimit::set_nofile_soft_limit(open + HEADROOM).unwrap();
        println!("LISTENING {}", listener.local_addr().unwrap().port());

        let mut held = Vec::new();
        let mut accepted = 0;
        let mut errors: Vec<Instant> = Vec::new();
        let run = async {
            while accepted < CLIENTS {
                match incoming.next().await.unwrap() {
                    Ok(stream) => {
                        accepted += 1;
                        held.push(stream);
                    }
                    Err(e) => {
                        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                        errors.push(Instant::now());
                        if errors.len() >= ERRORS_BEFORE_RECOVERY {
                            // Free the fds: accepting must resume by itself.
                            held.clear();
                        }
                    }
                }
            }
        };
        ringloop::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("the accept loop recovered and accepted every client");
        assert!(errors.len() >= ERRORS_BEFORE_RECOVERY, "EMFILE was hit");
        // No spinning: consecutive EMFILE errors are at least the back-off
        // apart, and it doubles (10 ms, 20 ms, ...).
        let mut backoff = Duration::from_millis(10);
        for pair in errors[..ERRORS_BEFORE_RECOVERY].windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= backoff,
                "EMFILE retried after {gap:?}, before the {backoff:?} back-off"
            );
            backoff *= 2;
        }
        println!("RESULT accepted={accepted} emfile_errors={}", errors.len());
    });
}
