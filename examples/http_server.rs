//! An HTTP server on hyper: HTTP/1.1 and HTTP/2 (prior knowledge) on one port.
//!
//! ```text
//! cargo run --release --example http_server -- [ADDR] [--threads N]
//! curl http://127.0.0.1:8080/
//! curl --http2-prior-knowledge http://127.0.0.1:8080/stream
//! curl --data-binary @file http://127.0.0.1:8080/echo
//! ```
//!
//! `GET /` answers a short hello, `POST /echo` streams the request body
//! back, `GET /stream` sends a chunked response. ADDR defaults to
//! 127.0.0.1:8080 (port 0 picks a free one; the first line printed is
//! "Serving on ADDR"). `--threads N` runs N runtimes on the port
//! (SO_REUSEPORT). Ctrl-C or SIGTERM shuts down gracefully: requests in
//! flight finish, for up to 10 s.

#[path = "common/args.rs"]
mod args;
#[path = "common/http_service.rs"]
mod http_service;

use ringloop::http::hyper::service::service_fn;
use ringloop::net::{ListenOptions, TcpListener};
use std::net::SocketAddr;
use std::time::Duration;

const USAGE: &str = "usage: http_server [ADDR] [--threads N]   (ADDR defaults to 127.0.0.1:8080)";

fn main() {
    let args::ServerArgs { addr, threads, .. } = args::ServerArgs::parse(
        USAGE,
        "127.0.0.1:8080",
        args::Options {
            threads: true,
            ..Default::default()
        },
    );
    let addr = match args::resolve(&addr) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("http_server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let served = args::Stop::new(threads).and_then(|stop| {
        ringloop::Runtime::builder()
            .threads(threads)
            .pin_to_cores(threads > 1)
            .run_per_thread(|| serve(addr, &stop))
    });
    if let Err(e) = served {
        eprintln!("http_server: {e}");
        std::process::exit(1);
    }
}

/// One runtime's share: a listener on the shared port and hyper on each connection.
async fn serve(addr: SocketAddr, stop: &args::Stop) -> std::io::Result<()> {
    let listener = TcpListener::bind_with(addr, &ListenOptions::new().reuse_port(true))?;
    let server = ringloop::http::serve(listener, service_fn(http_service::handle))?;
    if ringloop::thread_index() == 0 {
        println!("Serving on {}", server.local_addr().expect("a TCP server"));
    }
    stop.wait().await?;
    let report = server.shutdown(Duration::from_secs(10)).await;
    if ringloop::thread_index() == 0 {
        println!(
            "Shut down: {} connections finished, {} aborted",
            report.finished, report.aborted
        );
    }
    Ok(())
}
