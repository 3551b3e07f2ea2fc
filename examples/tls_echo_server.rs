//! A TLS echo server: every byte a client sends over TLS comes back.
//!
//! ```text
//! cargo run --release --example tls_echo_server -- [ADDR] [--cert FILE --key FILE]
//! openssl s_client -connect 127.0.0.1:4433 -CAfile CA_FILE
//! ```
//!
//! Without `--cert`/`--key` it makes a CA and a certificate for localhost,
//! 127.0.0.1 and ::1 at start and prints where it wrote the CA
//! ("CA certificate: PATH"). ADDR defaults to 127.0.0.1:4433; the first
//! line printed is "Serving on ADDR". A client whose handshake fails or
//! stalls (10 s) is dropped; the others are served on.

#[path = "common/args.rs"]
#[allow(dead_code)]
mod args;
#[path = "common/tls_cert.rs"]
mod tls_cert;

use ringloop::net::{Server, TcpListener, TcpStream};
use ringloop::tls::TlsAcceptor;
use std::rc::Rc;

const USAGE: &str =
    "usage: tls_echo_server [ADDR] [--cert FILE --key FILE]   (ADDR defaults to 127.0.0.1:4433)";

fn main() {
    let args::ServerArgs {
        addr, cert, key, ..
    } = args::ServerArgs::parse(
        USAGE,
        "127.0.0.1:4433",
        args::Options {
            tls: true,
            ..Default::default()
        },
    );
    let fail = |what: &str, e: std::io::Error| -> ! {
        eprintln!("tls_echo_server: {what}: {e}");
        std::process::exit(1)
    };
    let cert = tls_cert::server_cert(cert, key, "tls_echo_server")
        .unwrap_or_else(|e| fail("certificate", e));
    let config = ringloop::tls::server_config(cert.chain, cert.key, &[])
        .unwrap_or_else(|e| fail("TLS configuration", e));
    let acceptor = Rc::new(TlsAcceptor::new(config));
    let res = ringloop::run(async move {
        let listener = TcpListener::bind(addr.as_str())?;
        let server =
            Server::from_listener_streams(listener, move |tcp| echo(acceptor.clone(), tcp))?;
        println!("Serving on {}", server.local_addr().expect("a TCP server"));
        if let Some(ca) = &cert.ca_file {
            println!("CA certificate: {}", ca.display());
        }
        ringloop::signal::ctrl_c().await?;
        server.close();
        if let Some(ca) = &cert.ca_file {
            let _ = std::fs::remove_file(ca);
        }
        Ok(())
    });
    if let Err(e) = res {
        fail("serving", e);
    }
}

/// One connection: the handshake, then echo until the client's end.
async fn echo(acceptor: Rc<TlsAcceptor>, tcp: TcpStream) {
    let peer = tcp.peer_addr().ok();
    let mut tls = match acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("{peer:?}: {e}");
            return;
        }
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let (res, b) = tls.read(buf).await;
        buf = b;
        match res {
            Ok(0) => break,
            Ok(n) => {
                let (res, b) = tls.write_all(buf[..n].to_vec()).await;
                drop(b);
                if let Err(e) = res {
                    eprintln!("{peer:?}: {e}");
                    return;
                }
            }
            Err(e) => {
                eprintln!("{peer:?}: {e}");
                return;
            }
        }
    }
    let _ = tls.shutdown().await;
}
