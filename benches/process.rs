//! Subprocesses: spawn and wait of 1,000 `/bin/true` one after another,
//! and 100 MB through `cat` (written to its stdin while its stdout is read),
//! ringloop (`ringloop::process`) against `tokio::process` (current_thread).
//!
//! `cargo bench --bench process`. Environment: `RINGLOOP_BENCH_ROUNDS`
//! (default 3; runs alternate, medians). Target: ringloop >= tokio on both.

#[path = "common/sys.rs"]
#[allow(dead_code)]
mod sys;

use std::time::Instant;

const SPAWNS: usize = 1000;
const PIPE_BYTES: usize = 100_000_000;

fn main() {
    let rounds: usize = sys::env_or("RINGLOOP_BENCH_ROUNDS", 3);
    let data: Vec<u8> = (0..PIPE_BYTES as u32).map(|i| (i % 251) as u8).collect();
    let mut figs: [Vec<f64>; 4] = Default::default();
    for _ in 0..rounds {
        figs[0].push(ringloop_spawns());
        figs[1].push(tokio_spawns());
        figs[2].push(ringloop_pipe(&data));
        figs[3].push(tokio_pipe(&data));
    }
    let m: Vec<f64> = figs.iter_mut().map(|v| sys::median(v)).collect();
    println!("\nSubprocesses (medians of {rounds} runs)\n");
    println!("| test | ringloop | tokio::process | ringloop / tokio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| spawn + wait /bin/true, per second | {:.0} | {:.0} | {:.2} |",
        m[0],
        m[1],
        m[0] / m[1]
    );
    println!(
        "| 100 MB through cat, MB/s | {:.0} | {:.0} | {:.2} |",
        m[2],
        m[3],
        m[2] / m[3]
    );
    println!("\nTarget: ringloop / tokio >= 1.00 on both.");
}

fn ringloop_spawns() -> f64 {
    ringloop::run(async {
        let start = Instant::now();
        for _ in 0..SPAWNS {
            let st = ringloop::process::Command::new("/bin/true")
                .status()
                .await
                .unwrap();
            assert!(st.success());
        }
        SPAWNS as f64 / start.elapsed().as_secs_f64()
    })
}

fn tokio_spawns() -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..SPAWNS {
            let st = tokio::process::Command::new("/bin/true")
                .status()
                .await
                .unwrap();
            assert!(st.success());
        }
        SPAWNS as f64 / start.elapsed().as_secs_f64()
    })
}

fn ringloop_pipe(data: &[u8]) -> f64 {
    let data = data.to_vec();
    ringloop::run(async move {
        use ringloop::process::{Command, Stdio};
        let start = Instant::now();
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.communicate(data).await.unwrap();
        assert_eq!(out.stdout.len(), PIPE_BYTES);
        PIPE_BYTES as f64 / 1e6 / start.elapsed().as_secs_f64()
    })
}

fn tokio_pipe(data: &[u8]) -> f64 {
    use std::process::Stdio;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let data = data.to_vec();
    rt.block_on(async move {
        let start = Instant::now();
        let mut child = tokio::process::Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let feed = async move {
            stdin.write_all(&data).await.unwrap();
            drop(stdin);
        };
        let mut out = Vec::new();
        let drain = stdout.read_to_end(&mut out);
        let ((), n) = tokio::join!(feed, drain);
        assert_eq!(n.unwrap(), PIPE_BYTES);
        child.wait().await.unwrap();
        PIPE_BYTES as f64 / 1e6 / start.elapsed().as_secs_f64()
    })
}
