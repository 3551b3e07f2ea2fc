//! TLS streams end to end on loopback: handshakes, both read/write APIs,
//! ALPN, cancel safety, and the failures (untrusted or mismatched
//! certificates, garbage, a peer that stalls or leaves mid-handshake, a
//! connection cut without close_notify).

use futures_util::{AsyncReadExt, AsyncWriteExt};
use ringloop_net::{TcpListener, TcpStream};
use ringloop_runtime::{run, spawn};
use ringloop_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ringloop_tls::{client_config_with_roots, server_config, TlsAcceptor, TlsConnector, TlsStream};
use std::io;
use std::time::Duration;

/// A CA, and a server certificate for localhost and 127.0.0.1 signed by it.
struct Certs {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn certs() -> Certs {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    Certs {
        ca: ca.der().clone(),
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

fn acceptor(c: &Certs, alpn: &[&[u8]]) -> TlsAcceptor {
    TlsAcceptor::new(server_config(c.chain.clone(), c.key.clone_key(), alpn).unwrap())
}

fn connector(c: &Certs, alpn: &[&[u8]]) -> TlsConnector {
    TlsConnector::new(client_config_with_roots(vec![c.ca.clone()], alpn).unwrap())
}

/// A listener and a connected client socket with the server side accepted.
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (server, _) = listener.accept().await.unwrap();
    (server, client.await.unwrap())
}

/// Both sides of a finished handshake.
async fn tls_pair(
    c: &Certs,
    server_alpn: &[&[u8]],
    client_alpn: &[&[u8]],
) -> (TlsStream, TlsStream) {
    let (server, client) = tcp_pair().await;
    let acc = acceptor(c, server_alpn);
    let server = spawn(async move { acc.accept(server).await });
    let client = connector(c, client_alpn)
        .connect("localhost", client)
        .await
        .unwrap();
    (server.await.unwrap().unwrap(), client)
}

#[test]
fn echo_with_owned_buffers_and_alpn() {
    let c = certs();
    run(async move {
        let (mut server, mut client) = tls_pair(&c, &[b"h2", b"http/1.1"], &[b"http/1.1"]).await;
        assert_eq!(server.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(client.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(server.server_name(), Some("localhost"));
        let echo = spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let (res, b) = server.read(buf).await;
                buf = b;
                match res.unwrap() {
                    0 => break,
                    n => server.write_all(buf[..n].to_vec()).await.0.unwrap(),
                }
            }
            server.shutdown().await.unwrap();
        });
        for i in 0..100 {
            let msg = format!("message {i}").into_bytes();
            client.write_all(msg.clone()).await.0.unwrap();
            let mut got = Vec::new();
            while got.len() < msg.len() {
                let (res, buf) = client.read(Vec::with_capacity(64)).await;
                got.extend_from_slice(&buf[..res.unwrap()]);
            }
            assert_eq!(got, msg);
        }
        client.shutdown().await.unwrap();
        // The server's close_notify reads as the end of the stream.
        let (res, _) = client.read(vec![0u8; 16]).await;
        assert_eq!(res.unwrap(), 0);
        echo.await.unwrap();
    });
}

#[test]
fn megabytes_through_the_futures_io_traits() {
    let c = certs();
    run(async move {
        let (mut server, mut client) = tls_pair(&c, &[], &[]).await;
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let expect = data.clone();
        let echo = spawn(async move {
            let mut all = Vec::new();
            server.read_to_end(&mut all).await.unwrap();
            AsyncWriteExt::write_all(&mut server, &all).await.unwrap();
            server.close().await.unwrap();
            all.len()
        });
        AsyncWriteExt::write_all(&mut client, &data).await.unwrap();
        client.close().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(echo.await.unwrap(), expect.len());
        assert!(back == expect, "the echoed bytes differ");
    });
}

#[test]
fn a_cancelled_read_loses_nothing() {
    let c = certs();
    run(async move {
        let (mut server, mut client) = tls_pair(&c, &[], &[]).await;
        for round in 0..50u8 {
            // A read that times out before any data came.
            let r =
                ringloop_timer::timeout(Duration::from_millis(2), server.read(vec![0u8; 64])).await;
            assert!(r.is_err(), "no data was sent yet");
            client.write_all(vec![round; 3]).await.0.unwrap();
            let (res, buf) = server.read(vec![0u8; 64]).await;
            let n = res.unwrap();
            assert_eq!(&buf[..n], &[round; 3][..n]);
            let mut got = n;
            while got < 3 {
                let (res, _) = server.read(vec![0u8; 64]).await;
                got += res.unwrap();
            }
        }
    });
}

fn expect_err<T: std::fmt::Debug>(
    res: io::Result<T>,
    kind: io::ErrorKind,
    words: &str,
) -> io::Error {
    let e = res.expect_err("expected an error");
    assert_eq!(e.kind(), kind, "{e}");
    assert!(
        e.to_string().contains(words),
        "{e:?} does not say {words:?}"
    );
    e
}

#[test]
fn untrusted_and_mismatched_certificates_fail_the_handshake() {
    let c = certs();
    let other = certs();
    run(async move {
        // The client trusts another CA.
        let (server, client) = tcp_pair().await;
        let acc = acceptor(&c, &[]);
        let s = spawn(async move { acc.accept(server).await });
        let res = connector(&other, &[]).connect("localhost", client).await;
        expect_err(res, io::ErrorKind::InvalidData, "certificate");
        assert!(
            s.await.unwrap().is_err(),
            "the server saw the client's alert"
        );
        // The name is not in the certificate.
        let (server, client) = tcp_pair().await;
        let acc = acceptor(&c, &[]);
        let s = spawn(async move { acc.accept(server).await });
        let res = connector(&c, &[]).connect("example.com", client).await;
        expect_err(res, io::ErrorKind::InvalidData, "certificate");
        let _ = s.await.unwrap();
        // Not a name at all.
        let (_server, client) = tcp_pair().await;
        let res = connector(&c, &[]).connect("not a name!", client).await;
        expect_err(
            res,
            io::ErrorKind::InvalidInput,
            "not a valid TLS server name",
        );
    });
}

#[test]
fn garbage_stalls_and_early_closes_fail_only_that_connection() {
    let c = certs();
    run(async move {
        let acc = acceptor(&c, &[]).handshake_timeout(Duration::from_millis(200));
        // Garbage instead of a ClientHello.
        let (server, client) = tcp_pair().await;
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n".to_vec())
            .await
            .0
            .unwrap();
        expect_err(
            acc.accept(server).await,
            io::ErrorKind::InvalidData,
            "TLS error",
        );
        // A client that says nothing.
        let (server, _client) = tcp_pair().await;
        let start = std::time::Instant::now();
        expect_err(
            acc.accept(server).await,
            io::ErrorKind::TimedOut,
            "did not finish within",
        );
        assert!(start.elapsed() >= Duration::from_millis(200));
        // A client that starts a ClientHello and leaves.
        let (server, client) = tcp_pair().await;
        client
            .write_all(vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .await
            .0
            .unwrap();
        drop(client);
        expect_err(
            acc.accept(server).await,
            io::ErrorKind::UnexpectedEof,
            "during the TLS handshake",
        );
        // The acceptor still works.
        let (server, client) = tcp_pair().await;
        let s = spawn(async move { acc.accept(server).await });
        connector(&c, &[])
            .connect("127.0.0.1", client)
            .await
            .unwrap();
        s.await.unwrap().unwrap();
    });
}

#[test]
fn a_connection_cut_without_close_notify_is_an_error() {
    let c = certs();
    run(async move {
        let (mut server, mut client) = tls_pair(&c, &[], &[]).await;
        // Take in the server's post-handshake messages (else closing with
        // them unread resets the connection), then drop the client's TLS
        // layer and socket without close_notify.
        let r =
            ringloop_timer::timeout(Duration::from_millis(50), client.read(vec![0u8; 16])).await;
        assert!(r.is_err(), "the server sent no data");
        drop(client);
        let (res, _) = server.read(vec![0u8; 16]).await;
        expect_err(
            res,
            io::ErrorKind::UnexpectedEof,
            "without a TLS close_notify",
        );
    });
}

#[test]
fn pem_loading_names_the_file() {
    let e = ringloop_tls::load_certs("/nonexistent/cert.pem").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
    let dir = std::env::temp_dir().join(format!("ringloop-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a pem file\n").unwrap();
    let e = ringloop_tls::load_certs(&empty).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    let e = ringloop_tls::load_private_key(&empty).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    // A real PEM pair loads and makes a server configuration.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let chain = ringloop_tls::load_certs(&cert_file).unwrap();
    assert_eq!(chain.len(), 1);
    let key = ringloop_tls::load_private_key(&key_file).unwrap();
    server_config(chain, key, &[b"h2"]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
