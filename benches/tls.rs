//! TLS: handshakes per second and echo throughput, rustls on ringloop
//! (`ringloop::tls`) against tokio-rustls on tokio current_thread, with the
//! same rustls configuration (ring provider, one ECDSA P-256 certificate),
//! the server pinned to core 0 and the clients (rustls, blocking std
//! sockets, in this process) on core 1.
//!
//! `cargo bench --bench tls`. Environment: `RINGLOOP_BENCH_SECS` (default
//! 3), `RINGLOOP_BENCH_ROUNDS` (default 3; servers alternate, medians),
//! `RINGLOOP_BENCH_TLS_CONNS` (echo connections, default 16).
//! Figures: server CPU per handshake and per MiB echoed; target: ringloop
//! <= 1.00 x tokio-rustls on both.

#[path = "common/sys.rs"]
#[allow(dead_code)]
mod sys;

use ringloop::buf::IoBuf;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KINDS: [&str; 2] = ["ringloop", "tokio-rustls"];
/// The size of one echo message.
const MSG: usize = 16 * 1024;

fn main() {
    let args = sys::setup();
    if args.first().map(String::as_str) == Some("--server") {
        let [_, kind, cert, key] = &args[..] else {
            eprintln!("tls bench: --server KIND CERT KEY");
            std::process::exit(2);
        };
        let certs = vec![CertificateDer::from(std::fs::read(cert).unwrap())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(std::fs::read(key).unwrap()));
        let config = ringloop::tls::server_config(certs, key, &[]).unwrap();
        let listener = sys::listen("127.0.0.1:0").unwrap();
        sys::announce(&listener).unwrap();
        sys::pin_to_core(0);
        match kind.as_str() {
            "ringloop" => ringloop::run(serve_ringloop(listener, config)),
            "tokio-rustls" => serve_tokio(listener, config),
            other => panic!("no server {other:?}"),
        }
        return;
    }
    let secs: u64 = sys::env_or("RINGLOOP_BENCH_SECS", 3);
    let rounds: usize = sys::env_or("RINGLOOP_BENCH_ROUNDS", 3);
    let conns: usize = sys::env_or("RINGLOOP_BENCH_TLS_CONNS", 16);
    // One certificate for every server of the run.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let dir = std::env::temp_dir();
    let (cert_file, key_file) = (
        dir.join(format!("ringloop-bench-tls-{}.der", std::process::id())),
        dir.join(format!("ringloop-bench-tls-{}.key", std::process::id())),
    );
    std::fs::write(&cert_file, cert.der()).unwrap();
    std::fs::write(&key_file, key.serialize_der()).unwrap();
    let client = ringloop::tls::client_config_with_roots(vec![cert.der().clone()], &[]).unwrap();
    sys::pin_to_core(1);
    // (kind, round, handshake us CPU, echo us CPU per MiB, handshakes/s, MiB/s)
    let mut runs: Vec<(&str, usize, [f64; 4])> = Vec::new();
    for round in 0..rounds {
        for i in 0..KINDS.len() {
            let kind = KINDS[(i + round) % KINDS.len()];
            let server = sys::ServerProcess::start(&[
                "--server".into(),
                kind.into(),
                cert_file.display().to_string(),
                key_file.display().to_string(),
            ])
            .unwrap();
            let (hs, hs_cpu) = measure(&server, secs, || handshakes(server.addr, &client, 4, secs));
            let (bytes, echo_cpu) =
                measure(&server, secs, || echo(server.addr, &client, conns, secs));
            let mib = bytes as f64 / (1024.0 * 1024.0);
            let fig = [
                hs_cpu.as_secs_f64() * 1e6 / hs as f64,
                echo_cpu.as_secs_f64() * 1e6 / mib,
                hs as f64 / secs as f64,
                mib / secs as f64,
            ];
            eprintln!(
                "round {round}, {kind}: {:.0} handshakes/s ({:.0} us CPU each), {:.0} MiB/s echoed ({:.0} us CPU/MiB)",
                fig[2], fig[0], fig[3], fig[1]
            );
            runs.push((kind, round, fig));
        }
    }
    let _ = std::fs::remove_file(&cert_file);
    let _ = std::fs::remove_file(&key_file);
    println!("\nTLS 1.3 (rustls, ring), server on core 0, clients on core 1; medians of {rounds} runs of {secs} s\n");
    println!("| server | handshakes/s | server CPU us/handshake | echo MiB/s ({conns} conns x 16 KiB) | server CPU us/MiB |");
    println!("|---|---:|---:|---:|---:|");
    let med = |kind: &str, i: usize| {
        let mut v: Vec<f64> = runs
            .iter()
            .filter(|r| r.0 == kind)
            .map(|r| r.2[i])
            .collect();
        sys::median(&mut v)
    };
    for kind in KINDS {
        println!(
            "| {kind} | {:.0} | {:.0} | {:.0} | {:.0} |",
            med(kind, 2),
            med(kind, 0),
            med(kind, 3),
            med(kind, 1)
        );
    }
    for (i, what) in [(0, "handshake"), (1, "MiB echoed")] {
        let mut ratios: Vec<f64> = runs
            .iter()
            .filter(|r| r.0 == "ringloop")
            .filter_map(|r| {
                let b = runs.iter().find(|t| t.0 == "tokio-rustls" && t.1 == r.1)?;
                Some(r.2[i] / b.2[i])
            })
            .collect();
        let min = ratios.iter().copied().fold(f64::NAN, f64::min);
        let max = ratios.iter().copied().fold(f64::NAN, f64::max);
        let ratio = sys::median(&mut ratios);
        let verdict = if ratio <= 1.0 { "met" } else { "missed" };
        println!(
            "\nServer CPU per {what}, ringloop / tokio-rustls: {ratio:.3} [{min:.2}-{max:.2}] \
             ({verdict}; target <= 1.00, median [smallest-largest] of per-round ratios)"
        );
    }
}

/// Runs `load` and returns its count and the server's CPU time meanwhile.
fn measure(server: &sys::ServerProcess, _secs: u64, load: impl FnOnce() -> u64) -> (u64, Duration) {
    let before = sys::cpu_time(server.pid()).unwrap();
    let n = load();
    let after = sys::cpu_time(server.pid()).unwrap();
    (n.max(1), after.saturating_sub(before))
}

/// Full handshakes (new connection each) from `threads` threads for `secs`.
fn handshakes(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    threads: usize,
    secs: u64,
) -> u64 {
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let mut tcp = TcpStream::connect(addr).unwrap();
                    let mut conn = rustls::ClientConnection::new(
                        config.clone(),
                        "localhost".try_into().unwrap(),
                    )
                    .unwrap();
                    while conn.is_handshaking() {
                        conn.complete_io(&mut tcp).unwrap();
                    }
                    // One byte each way, so the server finished its side too.
                    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
                    tls.write_all(b"x").unwrap();
                    let mut b = [0u8; 1];
                    tls.read_exact(&mut b).unwrap();
                    conn.send_close_notify();
                    let _ = conn.complete_io(&mut tcp);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed)
}

/// 16 KiB ping-pong on `conns` connections for `secs`; bytes echoed.
fn echo(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, conns: usize, secs: u64) -> u64 {
    let bytes = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(secs);
    std::thread::scope(|s| {
        for c in 0..conns {
            let bytes = &bytes;
            s.spawn(move || {
                let mut tcp = TcpStream::connect(addr).unwrap();
                tcp.set_nodelay(true).unwrap();
                let mut conn =
                    rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap())
                        .unwrap();
                let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
                let msg: Vec<u8> = (0..MSG).map(|i| (i + c) as u8).collect();
                let mut back = vec![0u8; MSG];
                while Instant::now() < deadline {
                    tls.write_all(&msg).unwrap();
                    tls.read_exact(&mut back).unwrap();
                    assert!(back == msg, "echo mismatch");
                    bytes.fetch_add(MSG as u64, Ordering::Relaxed);
                }
            });
        }
    });
    bytes.load(Ordering::Relaxed)
}

async fn serve_ringloop(listener: std::net::TcpListener, config: Arc<rustls::ServerConfig>) {
    let acceptor = std::rc::Rc::new(ringloop::tls::TlsAcceptor::new(config));
    let listener = ringloop::net::TcpListener::from_std(listener);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        drop(ringloop::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            let mut buf = vec![0u8; MSG];
            loop {
                let (res, b) = tls.read(buf).await;
                buf = b;
                match res {
                    Ok(n) if n > 0 => {
                        let (res, b) = tls.write_all(buf.slice(..n)).await;
                        buf = b.into_inner();
                        if res.is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        }));
    }
}

fn serve_tokio(listener: std::net::TcpListener, config: Arc<rustls::ServerConfig>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::task::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; MSG];
                loop {
                    match tls.read(&mut buf).await {
                        Ok(n) if n > 0 => {
                            if tls.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                        _ => return,
                    }
                }
            });
        }
    });
}
