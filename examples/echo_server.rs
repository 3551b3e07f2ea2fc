//! An echo server in the style of asyncio's `start_server` example: every
//! message a client sends is printed and sent back, until the client closes.
//!
//! ```text
//! cargo run --example echo_server -- [ADDR] [--quiet]
//! ```
//!
//! ADDR defaults to 127.0.0.1:8888 (port 0 picks a free port; the address
//! is printed as "Serving on ..."). `--quiet` turns the per-message
//! printing off, for benchmarks. Accepted streams have TCP_NODELAY set.
//! Try it with `nc 127.0.0.1 8888` or `cargo run --example echo_client`.

use ringloop::net::{start_server, Reader, Writer};
use std::rc::Rc;

async fn handle_echo(mut reader: Reader, writer: Writer, quiet: bool) {
    let peer = writer
        .peer_addr()
        .map_or_else(|| "?".to_string(), |a| a.to_string());
    loop {
        let data = match reader.read(64 * 1024).await {
            Ok(data) if !data.is_empty() => data,
            Ok(_) => break,
            Err(e) => {
                if !quiet {
                    println!("Error reading from {peer}: {e}");
                }
                return;
            }
        };
        if !quiet {
            println!("Received {:?} from {peer}", String::from_utf8_lossy(&data));
        }
        if let Err(e) = writer.write(data).await {
            if !quiet {
                println!("Error writing to {peer}: {e}");
            }
            return;
        }
    }
    if !quiet {
        println!("Close the connection to {peer}");
    }
}

fn main() {
    let mut addr = "127.0.0.1:8888".to_string();
    let mut quiet = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quiet" | "-q" => quiet = true,
            "--help" | "-h" => {
                println!("usage: echo_server [ADDR] [--quiet]   (ADDR defaults to 127.0.0.1:8888)");
                return;
            }
            _ => addr = arg,
        }
    }
    ringloop::run(async move {
        let quiet = Rc::new(quiet);
        let server = match start_server(addr.as_str(), move |reader, writer| {
            handle_echo(reader, writer, *quiet)
        })
        .await
        {
            Ok(server) => server,
            Err(e) => {
                eprintln!("echo_server: {e}");
                std::process::exit(1);
            }
        };
        println!("Serving on {}", server.local_addr().expect("a TCP server"));
        server.serve_forever().await;
    });
}
