//! The `http_server` example over TLS, with ALPN (h2, http/1.1).
//!
//! ```text
//! cargo run --release --example https_server -- [ADDR] [--cert FILE --key FILE] [--threads N]
//! curl --cacert CA_FILE https://localhost:8443/
//! ```
//!
//! Without `--cert`/`--key` it makes a CA and a certificate for localhost,
//! 127.0.0.1 and ::1 at start, and prints where it wrote the CA
//! ("CA certificate: PATH") for clients to trust. ADDR defaults to
//! 127.0.0.1:8443; the first line printed is "Serving on ADDR".

#[path = "common/args.rs"]
mod args;
#[path = "common/http_service.rs"]
mod http_service;
#[path = "common/tls_cert.rs"]
mod tls_cert;

use ringloop::http::hyper::service::service_fn;
use ringloop::net::{ListenOptions, TcpListener};
use ringloop::tls::TlsAcceptor;
use std::net::SocketAddr;
use std::time::Duration;

const USAGE: &str =
    "usage: https_server [ADDR] [--cert FILE --key FILE] [--threads N]   (ADDR defaults to 127.0.0.1:8443)";

fn main() {
    let args::ServerArgs {
        addr,
        threads,
        cert,
        key,
        ..
    } = args::ServerArgs::parse(
        USAGE,
        "127.0.0.1:8443",
        args::Options {
            threads: true,
            tls: true,
            ..Default::default()
        },
    );
    let fail = |what: &str, e: std::io::Error| -> ! {
        eprintln!("https_server: {what}: {e}");
        std::process::exit(1)
    };
    let cert =
        tls_cert::server_cert(cert, key, "https_server").unwrap_or_else(|e| fail("certificate", e));
    let config = ringloop::tls::server_config(cert.chain, cert.key, &[b"h2", b"http/1.1"])
        .unwrap_or_else(|e| fail("TLS configuration", e));
    let addr =
        args::resolve(&addr).unwrap_or_else(|e| fail(&format!("cannot listen on {addr}"), e));
    let acceptor = TlsAcceptor::new(config);
    let ca_file = cert.ca_file;
    let stop = args::Stop::new(threads).unwrap_or_else(|e| fail("signals", e));
    let served = ringloop::Runtime::builder()
        .threads(threads)
        .pin_to_cores(threads > 1)
        .run_per_thread(|| serve(addr, acceptor.clone(), ca_file.clone(), &stop));
    if let Err(e) = served {
        fail("serving", e);
    }
}

async fn serve(
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    ca_file: Option<std::path::PathBuf>,
    stop: &args::Stop,
) -> std::io::Result<()> {
    let listener = TcpListener::bind_with(addr, &ListenOptions::new().reuse_port(true))?;
    let server = ringloop::http::Http::new().serve_with(
        listener,
        move |tcp| {
            let acceptor = acceptor.clone();
            async move { acceptor.accept(tcp).await }
        },
        service_fn(http_service::handle),
    )?;
    if ringloop::thread_index() == 0 {
        println!("Serving on {}", server.local_addr().expect("a TCP server"));
        if let Some(ca) = &ca_file {
            println!("CA certificate: {}", ca.display());
        }
    }
    stop.wait().await?;
    server.shutdown(Duration::from_secs(10)).await;
    if let (0, Some(ca)) = (ringloop::thread_index(), &ca_file) {
        let _ = std::fs::remove_file(ca);
    }
    Ok(())
}
