//! Subprocesses end to end: exit codes and signals, 50 MB through `cat`
//! both ways at once, large stdout and stderr together, a child that
//! closes its stdin early, kill_on_drop, 1,000 short children and no
//! zombie left, timeouts around `wait`, and the error for a missing
//! program.

use ringloop_process::{create_subprocess_exec, create_subprocess_shell, Command, Stdio};
use ringloop_runtime::run;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

#[test]
fn exit_codes_and_signals() {
    run(async {
        let st = Command::new("sh")
            .args(["-c", "exit 7"])
            .status()
            .await
            .unwrap();
        assert_eq!(st.code(), Some(7));
        let st = Command::new("sh")
            .args(["-c", "kill -TERM $$"])
            .status()
            .await
            .unwrap();
        assert_eq!(st.signal(), Some(libc::SIGTERM));
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        child.terminate().unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGTERM));
        // Waiting again gives the same status; signalling is a no-op now.
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGTERM));
        child.kill().unwrap();
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        child.send_signal(libc::SIGUSR1).unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGUSR1));
        let mut child = Command::new("true").spawn().unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(10));
            ringloop_timer::sleep(Duration::from_millis(1)).await;
        }
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn fifty_megabytes_through_cat_both_ways() {
    run(async {
        let data: Vec<u8> = (0..50_000_000u32)
            .map(|i| (i % 251) as u8 ^ (i >> 16) as u8)
            .collect();
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.communicate(data.clone()).await.unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), data.len());
        assert!(out.stdout == data, "cat returned other bytes");
        assert!(out.stderr.is_empty());
    });
}

#[test]
fn large_stdout_and_stderr_together() {
    run(async {
        let out = Command::new("sh")
            .args([
                "-c",
                "head -c 5000000 /dev/zero; head -c 3000000 /dev/zero >&2; echo done",
            ])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), 5_000_005);
        assert!(out.stdout.ends_with(b"done\n"));
        assert_eq!(out.stderr.len(), 3_000_000);
    });
}

#[test]
fn a_child_that_closes_stdin_early() {
    run(async {
        // Direct writes: an error, not a crash (and no SIGPIPE).
        let mut child = Command::new("sh")
            .args(["-c", "exec 0<&-; sleep 0.2; echo done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let err = stdin.write(vec![1u8; 10 << 20]).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{err}"
        );
        let out = child.communicate(None).await.unwrap();
        assert_eq!(out.stdout, b"done\n");
        // communicate ignores the closed stdin and still returns the output.
        let mut child = Command::new("sh")
            .args(["-c", "exec 0<&-; echo done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.communicate(vec![2u8; 10 << 20]).await.unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"done\n");
    });
}

fn alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie's state is 'Z'.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok()
}

/// This process's children (zombies included), from every thread's
/// `/proc/self/task/*/children`.
fn children() -> Vec<u32> {
    let mut all = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        all.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    all
}

#[test]
fn kill_on_drop_and_background_reaping() {
    run(async {
        let child = Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id();
        drop(child);
        let start = Instant::now();
        while alive(pid) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "pid {pid} still there"
            );
            ringloop_timer::sleep(Duration::from_millis(5)).await;
        }
        // Without kill_on_drop the child runs on and is reaped when it ends.
        let child = Command::new("sleep").arg("0.2").spawn().unwrap();
        let pid = child.id();
        drop(child);
        assert!(alive(pid), "the child was killed without kill_on_drop");
        let start = Instant::now();
        while alive(pid) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "pid {pid} was not reaped"
            );
            ringloop_timer::sleep(Duration::from_millis(5)).await;
        }
    });
    // Outside a runtime, a dropped child is reaped by a thread.
    let child = run(async { Command::new("sleep").arg("0.2").spawn().unwrap() });
    let pid = child.id();
    drop(child);
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pid {pid} was not reaped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_thousand_short_children_leave_no_zombie() {
    let pids = run(async {
        let mut pids = Vec::new();
        for i in 0..1000 {
            let mut child = Command::new("true").spawn().unwrap();
            pids.push(child.id());
            match i % 3 {
                0 => assert!(child.wait().await.unwrap().success()),
                1 => drop(child),
                _ => {
                    let out = child.communicate(None).await.unwrap();
                    assert!(out.status.success());
                }
            }
        }
        let start = Instant::now();
        while let Some(&pid) = pids.iter().find(|&&p| alive(p)) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "pid {pid} left behind"
            );
            ringloop_timer::sleep(Duration::from_millis(10)).await;
        }
        pids
    });
    // Other tests of this binary run children of their own meanwhile; none
    // of these 1,000 may be among this process's children (or zombies).
    let left: Vec<u32> = children()
        .into_iter()
        .filter(|p| pids.contains(p))
        .collect();
    assert!(left.is_empty(), "children or zombies remain: {left:?}");
}

#[test]
fn timeouts_around_wait() {
    run(async {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let res = ringloop_timer::timeout(Duration::from_millis(50), child.wait()).await;
        assert!(res.is_err(), "sleep 30 ended within 50 ms");
        // The watch survived the cancelled wait.
        let res = ringloop_timer::timeout(Duration::from_millis(50), child.wait()).await;
        assert!(res.is_err());
        child.kill().unwrap();
        let st = ringloop_timer::timeout(Duration::from_secs(10), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    });
}

#[test]
fn asyncio_entry_points_and_errors() {
    run(async {
        let mut child = create_subprocess_exec("echo", ["hello", "world"]).unwrap();
        let line = child.stdout.as_mut().unwrap().read_line().await.unwrap();
        assert_eq!(&line[..], b"hello world\n");
        assert!(child.wait().await.unwrap().success());
        let mut child =
            create_subprocess_shell("read x; echo got $x; echo err >&2; exit 3").unwrap();
        let out = child.communicate("line\n").await.unwrap();
        assert_eq!(out.stdout, b"got line\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
        let e = Command::new("/nonexistent/program").spawn().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("/nonexistent/program"), "{e}");
        let e = create_subprocess_exec("no-such-program-ringloop", [""; 0]).unwrap_err();
        assert!(e.to_string().contains("no-such-program-ringloop"), "{e}");
        // Environment and working directory.
        let out = Command::new("sh")
            .args(["-c", "echo $RL_X; pwd"])
            .env_clear()
            .env("RL_X", "42")
            .current_dir("/")
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"42\n/\n");
    });
}
