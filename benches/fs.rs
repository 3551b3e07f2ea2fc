//! Files: random 4 KiB reads from a file in the page cache (1 and 64 in
//! flight) and one sequential read of the whole file: ringloop
//! (`ringloop::fs`, READ ops) against `tokio::fs`, against `pread` on a
//! pool of threads, and against `fio --ioengine=io_uring` (the anchor:
//! io_uring with no runtime; skipped if fio is missing: `apt-get install
//! fio`).
//!
//! `cargo bench --bench fs`. Environment: `RINGLOOP_BENCH_FS_MB` (file size,
//! default 1024), `RINGLOOP_BENCH_FS_DIR` (default `/dev/shm`),
//! `RINGLOOP_BENCH_SECS` (default 3 per random-read run),
//! `RINGLOOP_BENCH_ROUNDS` (default 3; medians). The file is made in that
//! directory, read once, and removed at the end. The default is tmpfs
//! because on this machine's ext4 root a repeated 4 KiB `pread` of one
//! block costs ~90 us (fio psync: ~11k IOPS): its reads never come from a
//! page cache, so "in the page cache" holds only on tmpfs here (~570k
//! IOPS). Point `RINGLOOP_BENCH_FS_DIR` at a disk to measure one. Targets: at 64 in
//! flight >= 3x tokio::fs and >= 0.8x fio; sequential >= tokio::fs.

#[path = "common/sys.rs"]
#[allow(dead_code)]
mod sys;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BLOCK: u64 = 4096;

/// A small, fast generator for offsets (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn offset(&mut self, blocks: u64) -> u64 {
        (self.next() % blocks) * BLOCK
    }
}

fn main() {
    let mb: u64 = sys::env_or("RINGLOOP_BENCH_FS_MB", 1024);
    let secs: u64 = sys::env_or("RINGLOOP_BENCH_SECS", 3);
    let rounds: usize = sys::env_or("RINGLOOP_BENCH_ROUNDS", 3);
    let dir = std::env::var_os("RINGLOOP_BENCH_FS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"));
    let path = dir.join(format!("ringloop-fs-bench-{mb}m"));
    prepare(&path, mb << 20);
    // The file takes RAM on tmpfs: removed at the end (and on panic).
    let _cleanup = Cleanup(path.clone());
    let blocks = (mb << 20) / BLOCK;
    let have_fio = Command::new("fio").arg("--version").output().is_ok();
    if !have_fio {
        eprintln!(
            "fs bench: fio is not installed (Debian: apt-get install fio); its column is skipped"
        );
    }
    let dur = Duration::from_secs(secs);
    println!("\nRandom 4 KiB reads from a {mb} MiB file in the page cache, reads/s (medians of {rounds} runs of {secs} s)\n");
    println!("| in flight | ringloop | tokio::fs | pread pool | fio io_uring | ringloop / tokio::fs | ringloop / fio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for depth in [1usize, 64] {
        let mut figs: [Vec<f64>; 4] = Default::default();
        for _ in 0..rounds {
            figs[0].push(ringloop_random(&path, blocks, depth, dur));
            figs[1].push(tokio_random(&path, blocks, depth, dur));
            figs[2].push(pool_random(&path, blocks, depth, dur));
            if have_fio {
                figs[3].push(fio_random(&path, depth, secs));
            }
        }
        let m: Vec<f64> = figs.iter_mut().map(|v| sys::median(v)).collect();
        println!(
            "| {depth} | {:.0} | {:.0} | {:.0} | {} | {:.2} | {} |",
            m[0],
            m[1],
            m[2],
            if have_fio {
                format!("{:.0}", m[3])
            } else {
                "-".into()
            },
            m[0] / m[1],
            if have_fio {
                format!("{:.2}", m[0] / m[3])
            } else {
                "-".into()
            },
        );
    }
    direct_disk(secs, have_fio);
    let mut seq: [Vec<f64>; 2] = Default::default();
    for _ in 0..rounds {
        seq[0].push(ringloop_sequential(&path));
        seq[1].push(tokio_sequential(&path));
    }
    let (r, t) = (sys::median(&mut seq[0]), sys::median(&mut seq[1]));
    println!("\nSequential read of the whole file (1 MiB reads), GiB/s: ringloop {r:.2}, tokio::fs {t:.2}, ratio {:.2} (target >= 1.00)", r / t);
}

/// Removes the bench file when dropped.
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Makes the file (once) and reads it so it is in the page cache.
fn prepare(path: &Path, size: u64) {
    if std::fs::metadata(path).map(|m| m.len()).ok() != Some(size) {
        eprintln!(
            "fs bench: writing {} ({} MiB) once",
            path.display(),
            size >> 20
        );
        let f = std::fs::File::create(path).unwrap();
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 31 + 7) as u8).collect();
        let mut off = 0;
        while off < size {
            f.write_all_at(&chunk, off).unwrap();
            off += chunk.len() as u64;
        }
    }
    let f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while f.read_at(&mut buf, off).unwrap() > 0 {
        off += buf.len() as u64;
    }
}

fn ringloop_random(path: &Path, blocks: u64, depth: usize, dur: Duration) -> f64 {
    ringloop::run(async move {
        let file = ringloop::fs::File::open(path).await.unwrap();
        random_reads(file, blocks, depth, dur, || vec![0u8; BLOCK as usize]).await
    })
}

/// `depth` tasks reading random blocks of `file` into buffers from
/// `new_buf` until `dur` has passed; reads per second.
async fn random_reads<B: ringloop::buf::IoBufMut>(
    file: ringloop::fs::File,
    blocks: u64,
    depth: usize,
    dur: Duration,
    new_buf: fn() -> B,
) -> f64 {
    let file = Rc::new(file);
    let count = Rc::new(std::cell::Cell::new(0u64));
    let end = Instant::now() + dur;
    let tasks: Vec<_> = (0..depth)
        .map(|i| {
            let (file, count) = (file.clone(), count.clone());
            ringloop::spawn(async move {
                let mut rng = Rng(0x9e3779b97f4a7c15 ^ (i as u64 + 1));
                let mut buf = new_buf();
                while Instant::now() < end {
                    let (res, b) = file.read_at(buf, rng.offset(blocks)).await;
                    buf = b;
                    assert_eq!(res.unwrap(), BLOCK as usize);
                    count.set(count.get() + 1);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    count.get() as f64 / dur.as_secs_f64()
}

fn tokio_random(path: &Path, blocks: u64, depth: usize, dur: Duration) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let path = path.to_path_buf();
    rt.block_on(async move {
        let count = Arc::new(AtomicU64::new(0));
        let end = Instant::now() + dur;
        let tasks: Vec<_> = (0..depth)
            .map(|i| {
                let (path, count) = (path.clone(), count.clone());
                tokio::spawn(async move {
                    let mut file = tokio::fs::File::open(path).await.unwrap();
                    let mut rng = Rng(0x9e3779b97f4a7c15 ^ (i as u64 + 1));
                    let mut buf = vec![0u8; BLOCK as usize];
                    while Instant::now() < end {
                        file.seek(std::io::SeekFrom::Start(rng.offset(blocks)))
                            .await
                            .unwrap();
                        file.read_exact(&mut buf).await.unwrap();
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        count.load(Ordering::Relaxed) as f64 / dur.as_secs_f64()
    })
}

/// `depth` threads, each doing blocking `pread`s back to back.
fn pool_random(path: &Path, blocks: u64, depth: usize, dur: Duration) -> f64 {
    let file = Arc::new(std::fs::File::open(path).unwrap());
    let count = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for i in 0..depth {
            let (file, count, stop) = (&file, &count, &stop);
            s.spawn(move || {
                let mut rng = Rng(0x9e3779b97f4a7c15 ^ (i as u64 + 1));
                let mut buf = vec![0u8; BLOCK as usize];
                while !stop.load(Ordering::Relaxed) {
                    file.read_exact_at(&mut buf, rng.offset(blocks)).unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
    });
    count.load(Ordering::Relaxed) as f64 / dur.as_secs_f64()
}

/// fio's random 4 KiB read IOPS through the page cache.
fn fio_random(path: &Path, depth: usize, secs: u64) -> f64 {
    fio_iops(path, depth, secs, false).unwrap_or(f64::NAN)
}

/// Runs fio's random 4 KiB reads (io_uring engine, `direct` for O_DIRECT)
/// and reads the read side's IOPS from its JSON output.
fn fio_iops(path: &Path, depth: usize, secs: u64, direct: bool) -> Option<f64> {
    let out = Command::new("fio")
        .args([
            "--name=rr",
            "--rw=randread",
            "--bs=4k",
            "--ioengine=io_uring",
        ])
        .arg(format!("--direct={}", u8::from(direct)))
        .arg(format!("--filename={}", path.display()))
        .arg(format!("--iodepth={depth}"))
        .arg(format!("--runtime={secs}"))
        .args(["--time_based", "--output-format=json"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // The first "iops" after "read" is the read side's.
    text.split("\"read\"")
        .nth(1)
        .and_then(|r| r.split("\"iops\" :").nth(1))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
}

fn ringloop_sequential(path: &Path) -> f64 {
    ringloop::run(async move {
        let file = ringloop::fs::File::open(path).await.unwrap();
        let start = Instant::now();
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0u64;
        loop {
            let (res, b) = file.read_at(buf, off).await;
            buf = b;
            let n = res.unwrap();
            if n == 0 {
                break;
            }
            off += n as u64;
        }
        off as f64 / start.elapsed().as_secs_f64() / (1u64 << 30) as f64
    })
}

fn tokio_sequential(path: &Path) -> f64 {
    use tokio::io::AsyncReadExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut file = tokio::fs::File::open(path).await.unwrap();
        let start = Instant::now();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = file.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total as f64 / start.elapsed().as_secs_f64() / (1u64 << 30) as f64
    })
}

/// O_DIRECT random 4 KiB reads, 64 in flight, of a 256 MiB file on a disk
/// (`RINGLOOP_BENCH_FS_DIRECT_DIR`, default the build's `target/tmp`):
/// ringloop (`OpenOptions::direct`, `AlignedBuf`) against fio
/// (`--direct=1`). Skipped where the filesystem refuses O_DIRECT.
fn direct_disk(secs: u64, have_fio: bool) {
    let dir = std::env::var_os("RINGLOOP_BENCH_FS_DIRECT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let path = dir.join("ringloop-fs-bench-direct");
    prepare(&path, 256 << 20);
    let _cleanup = Cleanup(path.clone());
    let blocks = (256u64 << 20) / BLOCK;
    let dur = Duration::from_secs(secs);
    let ours = ringloop::run(async {
        let opened = ringloop::fs::OpenOptions::new()
            .read(true)
            .direct(true)
            .open(&path)
            .await;
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                eprintln!("fs bench: O_DIRECT skipped: {e}");
                return None;
            }
        };
        let new_buf = || ringloop::fs::AlignedBuf::new(BLOCK as usize, BLOCK as usize);
        Some(random_reads(file, blocks, 64, dur, new_buf).await)
    });
    let Some(ours) = ours else { return };
    let fio = have_fio.then(|| fio_iops(&path, 64, secs, true)).flatten();
    match fio {
        Some(f) => println!("\nO_DIRECT random 4 KiB reads, 64 in flight, {}: ringloop {ours:.0}/s, fio {f:.0}/s, ratio {:.2}", dir.display(), ours / f),
        None => println!("\nO_DIRECT random 4 KiB reads, 64 in flight, {}: ringloop {ours:.0}/s", dir.display()),
    }
}
