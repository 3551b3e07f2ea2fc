//! Bad input and faults: refused connections, resets mid-read and
//! mid-write, half-close, zero-length buffers, invalid addresses, and
//! streams dropped with reads in flight.

#[path = "util/net.rs"]
mod util;

use ringloop::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use ringloop::time::{sleep, timeout};
use std::io;
use std::net::Shutdown;
use std::time::Duration;
use util::tcp_pair;

#[test]
fn connect_to_a_closed_port_is_refused() {
    ringloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&addr.to_string()),
            "the error names the address: {msg}"
        );
        let err = ringloop::net::open_connection(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let err = UnixStream::connect(util::unix_path("nobody-listens"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    });
}

#[test]
fn peer_reset_mid_read_is_an_error() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let reading = ringloop::spawn(async move { client.read(Vec::with_capacity(64)).await.0 });
        sleep(Duration::from_millis(10)).await;
        assert!(!reading.is_finished());
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server); // sends RST
        let err = reading.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn peer_reset_mid_write_is_an_error() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let writing = ringloop::spawn(async move {
            let (res, _) = client.write_all(vec![7u8; 64 << 20]).await;
            // Later writes fail too, without a SIGPIPE.
            let (again, _) = client.write_all(&b"more"[..]).await;
            (res, again)
        });
        let (res, _) = server.read_exact(vec![0u8; 4096]).await;
        res.unwrap();
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server);
        let (res, again) = writing.await.unwrap();
        let err = res.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{err}"
        );
        assert!(again.is_err());
    });
}

#[test]
fn half_close_reads_eof_and_still_writes() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (res, _) = client.write_all(&b"request"[..]).await;
        res.unwrap();
        client.shutdown(Shutdown::Write).await.unwrap();
        let (res, req) = server.read_exact(vec![0u8; 7]).await;
        res.unwrap();
        assert_eq!(&req, b"request");
        let (res, _) = server.read(Vec::with_capacity(8)).await;
        assert_eq!(
            res.unwrap(),
            0,
            "end of stream after the peer's shutdown(Write)"
        );
        let (res, _) = server.write_all(&b"response"[..]).await;
        res.unwrap();
        let (res, resp) = client.read_exact(vec![0u8; 8]).await;
        res.unwrap();
        assert_eq!(&resp, b"response");
        // Same through the asyncio-style writer's write_eof.
        let (client, server) = tcp_pair().await;
        let (mut reader, writer) = client.into_split();
        writer.write_eof().await.unwrap();
        let (res, _) = server.read(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap(), 0);
        let (res, _) = server.write_all(&b"late\n"[..]).await;
        res.unwrap();
        assert_eq!(reader.read_line().await.unwrap(), &b"late\n"[..]);
    });
}

#[test]
fn zero_length_buffers() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (res, buf) = server.read(Vec::new()).await;
        assert_eq!(res.unwrap(), 0, "no capacity: nothing to read into");
        assert!(buf.is_empty());
        let (res, _) = client.write(Vec::new()).await;
        assert_eq!(res.unwrap(), 0);
        let (res, _) = client.write_all(&b""[..]).await;
        res.unwrap();
        let (res, _) = server.read_exact(Vec::new()).await;
        res.unwrap();
        // The stream still works, and no byte was consumed by the above.
        let (res, _) = client.write_all(&b"ok"[..]).await;
        res.unwrap();
        let (res, buf) = server.read_exact(vec![0u8; 2]).await;
        res.unwrap();
        assert_eq!(&buf, b"ok");
        let (mut reader, writer) = server.into_split();
        writer.write(Vec::new()).await.unwrap();
        assert!(reader.read(0).await.unwrap().is_empty());
        assert!(reader.read_exact(0).await.unwrap().is_empty());
    });
}

#[test]
fn invalid_addresses_are_clear_errors() {
    ringloop::run(async {
        for bad in [
            "not an address",
            "127.0.0.1",
            "127.0.0.1:99999",
            "300.1.1.1:80",
            "",
        ] {
            let err = TcpStream::connect(bad).await.unwrap_err();
            assert!(
                err.to_string().contains("address") || err.to_string().contains("port"),
                "{bad:?}: {err}"
            );
            assert!(TcpListener::bind(bad).is_err(), "{bad:?}");
            assert!(UdpSocket::bind(bad).is_err(), "{bad:?}");
        }
        let err = TcpStream::connect("127.0.0.1:99999").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        // Port 0 is no destination.
        assert!(TcpStream::connect("127.0.0.1:0").await.is_err());
        // Unix paths: too long, or with a NUL byte.
        let long = "/tmp/".to_string() + &"x".repeat(200);
        let err = UnixListener::bind(&long).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        assert!(UnixStream::connect("/tmp/a\0b").await.is_err());
    });
}

/// Waits until the peer of `stream` has closed (a read returns 0 or a reset).
async fn wait_for_close(stream: &TcpStream) {
    let (res, _) = timeout(Duration::from_secs(10), stream.read(Vec::with_capacity(8)))
        .await
        .expect("the socket was closed");
    assert!(matches!(res, Ok(0) | Err(_)), "{res:?}");
}

#[test]
fn dropping_streams_with_reads_in_flight() {
    let rt = ringloop::Runtime::new().unwrap();
    rt.block_on(async {
        // A read dropped in flight (parked in the stream), then the stream.
        let (client, server) = tcp_pair().await;
        assert!(
            timeout(Duration::from_millis(5), client.read(Vec::with_capacity(8)))
                .await
                .is_err()
        );
        drop(client);
        wait_for_close(&server).await;

        // A task blocked in a read, aborted.
        let (client, server) = tcp_pair().await;
        let task = ringloop::spawn(async move {
            let _ = client.read(Vec::with_capacity(8)).await;
            unreachable!("nobody writes to this stream");
        });
        sleep(Duration::from_millis(5)).await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        wait_for_close(&server).await;

        // A PollStream with a receive in flight, dropped.
        let (client, server) = tcp_pair().await;
        let mut poll = client.into_poll_stream();
        let mut buf = [0u8; 8];
        use futures_util::io::AsyncReadExt;
        assert!(timeout(Duration::from_millis(5), poll.read(&mut buf))
            .await
            .is_err());
        drop(poll);
        wait_for_close(&server).await;
        // A datagram receive (RECVMSG) dropped in flight, then its socket.
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(timeout(
            Duration::from_millis(5),
            udp.recv_from(Vec::with_capacity(8))
        )
        .await
        .is_err());
        drop(udp);
        // Let the cancellations' completions arrive.
        sleep(Duration::from_millis(20)).await;
    });
    assert_eq!(
        rt.ops_in_flight(),
        0,
        "every dropped read was cancelled and reaped"
    );
}

#[test]
fn a_cancelled_read_loses_no_bytes() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        // The read is dropped while in flight; the data arrives afterwards.
        assert!(
            timeout(Duration::from_millis(5), server.read(Vec::with_capacity(4)))
                .await
                .is_err()
        );
        let (res, _) = client.write_all(&b"abcdefgh"[..]).await;
        res.unwrap();
        sleep(Duration::from_millis(5)).await;
        // A smaller buffer of another type gets the parked read's bytes first.
        let (res, b) = server.read(bytes::BytesMut::with_capacity(2)).await;
        assert_eq!(res.unwrap(), 2);
        assert_eq!(&b[..], b"ab");
        let mut got = b.to_vec();
        while got.len() < 8 {
            let (res, b) = server.read(Vec::with_capacity(8)).await;
            let n = res.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&b);
        }
        assert_eq!(got, b"abcdefgh");
    });
}
