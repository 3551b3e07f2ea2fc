//! Copies files to stdout through `ringloop::fs`, like `cat`.
//!
//! ```text
//! cargo run --example cat_file -- PATH...
//! ```
//!
//! Reads each file in 256 KiB pieces with positioned reads on the ring. A
//! missing or unreadable file is reported with its path, the others are
//! still copied, and the exit code is 1.

use ringloop::fs::File;
use std::io::Write;

const CHUNK: usize = 256 * 1024;

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() || paths.iter().any(|p| p == "--help" || p == "-h") {
        eprintln!("usage: cat_file PATH...");
        std::process::exit(2);
    }
    let failed = ringloop::run(async move {
        let mut failed = false;
        for path in &paths {
            if let Err(e) = copy(path).await {
                eprintln!("cat_file: {e}");
                failed = true;
            }
        }
        failed
    });
    std::process::exit(i32::from(failed));
}

async fn copy(path: &str) -> std::io::Result<()> {
    let file = File::open(path).await?;
    let mut stdout = std::io::stdout().lock();
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        let (res, b) = file.read_at(buf, offset).await;
        buf = b;
        let n = res?;
        if n == 0 {
            break;
        }
        stdout.write_all(&buf[..n])?;
        offset += n as u64;
    }
    stdout.flush()?;
    file.close().await
}
