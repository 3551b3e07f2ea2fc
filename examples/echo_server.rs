//! An echo server in the style of asyncio's `start_server` example: every
//! message a client sends is printed and sent back, until the client closes.
//!
//! ```text
//! cargo run --example echo_server -- [ADDR] [--quiet] [--threads N]
//! ```
//!
//! ADDR defaults to 127.0.0.1:8888 (port 0 picks a free port; the address
//! is printed as "Serving on ..."). `--quiet` turns the per-message
//! printing off, for benchmarks. `--threads N` (default 1) serves the port
//! from N runtimes, one thread each, pinned to the CPUs in turn: each binds
//! the address with SO_REUSEPORT and the kernel spreads the connections.
//! Accepted streams have TCP_NODELAY set.
//! Try it with `nc 127.0.0.1 8888` or `cargo run --example echo_client`.

#[path = "common/args.rs"]
#[allow(dead_code)]
mod args;

use ringloop::net::{ListenOptions, Reader, Server, TcpListener, Writer};
use std::net::SocketAddr;

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

const USAGE: &str =
    "usage: echo_server [ADDR] [--quiet] [--threads N]   (ADDR defaults to 127.0.0.1:8888)";

fn main() {
    let args::ServerArgs {
        addr,
        threads,
        quiet,
        ..
    } = args::ServerArgs::parse(
        USAGE,
        "127.0.0.1:8888",
        args::Options {
            threads: true,
            quiet: true,
            ..Default::default()
        },
    );
    let addr = match args::resolve(&addr) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("echo_server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let served = ringloop::Runtime::builder()
        .threads(threads)
        .pin_to_cores(threads > 1)
        .run_per_thread(|| serve(addr, quiet));
    if let Err(e) = served {
        eprintln!("echo_server: {e}");
        std::process::exit(1);
    }
}

/// One runtime's share: a listener on the shared port, one task per connection.
async fn serve(addr: SocketAddr, quiet: bool) -> std::io::Result<()> {
    let listener = TcpListener::bind_with(addr, &ListenOptions::new().reuse_port(true))?;
    let server = Server::from_listener(listener, move |reader, writer| {
        handle_echo(reader, writer, quiet)
    })?;
    if ringloop::thread_index() == 0 {
        println!("Serving on {}", server.local_addr().expect("a TCP server"));
    }
    server.serve_forever().await;
    Ok(())
}
