//! An echo client: reads lines from stdin, sends each to the echo server
//! and prints what comes back (asyncio's `open_connection` example, in a
//! loop).
//!
//! ```text
//! cargo run --example echo_client -- [ADDR]
//! ```
//!
//! ADDR defaults to 127.0.0.1:8888. Stdin is read with blocking calls,
//! which is fine for a client with one connection and nothing else to do.

use ringloop::net::open_connection;
use std::io::BufRead;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8888".to_string());
    ringloop::run(async move {
        let (mut reader, writer) = match open_connection(addr.as_str()).await {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("echo_client: {e}");
                std::process::exit(1);
            }
        };
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            println!("Send: {line:?}");
            if let Err(e) = writer.write(format!("{line}\n")).await {
                eprintln!("echo_client: sending failed: {e}");
                std::process::exit(1);
            }
            match reader.read_line().await {
                Ok(echo) if echo.is_empty() => {
                    eprintln!("echo_client: the server closed the connection");
                    std::process::exit(1);
                }
                Ok(echo) => println!("Received: {:?}", String::from_utf8_lossy(&echo).trim_end()),
                Err(e) => {
                    eprintln!("echo_client: reading failed: {e}");
                    std::process::exit(1);
                }
            }
        }
        println!("Close the connection");
        let _ = writer.close().await;
    });
}
