//! UDP sockets (SENDMSG/RECVMSG for addressed datagrams) and Unix stream
//! and datagram sockets.

#[path = "util/net.rs"]
mod util;

use ringloop::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};
use std::io;
use util::unix_path;

#[test]
fn udp_send_to_and_recv_from() {
    ringloop::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let a_addr = a.local_addr().unwrap();
        let b_addr = b.local_addr().unwrap();
        let (res, _) = a.send_to(b"ping".to_vec(), b_addr).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = b.recv_from(Vec::with_capacity(64)).await;
        let (n, from) = res.unwrap();
        assert_eq!((n, from), (4, a_addr));
        assert_eq!(buf, b"ping");
        let (res, _) = b.send_to(b"pong".to_vec(), from).await;
        res.unwrap();
        let (res, buf) = a.recv_from(vec![0u8; 2]).await;
        // A datagram longer than the buffer is truncated to it.
        assert_eq!(res.unwrap(), (2, b_addr));
        assert_eq!(&buf, b"po");
    });
}

#[test]
fn udp_connected_send_and_recv_ipv6() {
    ringloop::run(async {
        let a = match UdpSocket::bind("[::1]:0") {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping: IPv6 loopback is not available here ({e})");
                return;
            }
        };
        let b = UdpSocket::bind("[::1]:0").unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        for i in 0..10u8 {
            let (res, _) = a.send(vec![i; 100]).await;
            assert_eq!(res.unwrap(), 100);
            let (res, buf) = b.recv(Vec::with_capacity(200)).await;
            assert_eq!(res.unwrap(), 100);
            assert!(buf.iter().all(|&x| x == i));
        }
        // An empty datagram is a datagram.
        let (res, _) = b.send(Vec::new()).await;
        assert_eq!(res.unwrap(), 0);
        let (res, _) = a.recv(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap(), 0);
    });
}

#[test]
fn udp_send_to_bad_address_returns_the_buffer() {
    ringloop::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (res, buf) = a.send_to(b"data".to_vec(), "no-port-here").await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(buf, b"data");
    });
}

#[test]
fn unix_stream_listener_echo() {
    ringloop::run(async {
        let path = unix_path("stream");
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_deref(),
            Some(path.as_path())
        );
        let server = ringloop::spawn(async move {
            let (stream, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, None, "an unbound client has no path");
            let (res, buf) = stream.read_exact(vec![0u8; 5]).await;
            res.unwrap();
            let (res, _) = stream.write_all(buf).await;
            res.unwrap();
            stream.shutdown(std::net::Shutdown::Write).await.unwrap();
        });
        let client = UnixStream::connect(&path).await.unwrap();
        assert_eq!(client.peer_addr().unwrap().as_deref(), Some(path.as_path()));
        let (res, _) = client.write_all(b"hello".to_vec()).await;
        res.unwrap();
        let (res, buf) = client.read_exact(Vec::with_capacity(5)).await;
        res.unwrap();
        assert_eq!(buf, b"hello");
        let (res, _) = client.read(Vec::with_capacity(5)).await;
        assert_eq!(res.unwrap(), 0, "end of stream after the server's shutdown");
        server.await.unwrap();
        assert!(
            !path.exists(),
            "the dropped listener removed its socket file"
        );
    });
}

#[test]
fn unix_stream_pair_and_incoming() {
    ringloop::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (res, _) = a.write_all(b"pair".to_vec()).await;
        res.unwrap();
        let (res, buf) = b.read_exact(Vec::with_capacity(4)).await;
        res.unwrap();
        assert_eq!(buf, b"pair");

        use futures_util::StreamExt;
        let path = unix_path("incoming");
        let listener = UnixListener::bind(&path).unwrap();
        let mut incoming = listener.incoming();
        let p = path.clone();
        let clients = ringloop::spawn(async move {
            let mut v = Vec::new();
            for _ in 0..8 {
                v.push(UnixStream::connect(&p).await.unwrap());
            }
            v
        });
        for _ in 0..8 {
            incoming.next().await.unwrap().unwrap();
        }
        clients.await.unwrap();
        drop(listener);
        assert!(path.exists(), "the Incoming stream keeps the socket file");
        drop(incoming);
        assert!(!path.exists());
    });
}

#[test]
fn unix_datagram_send_to_recv_from_and_pair() {
    ringloop::run(async {
        let pa = unix_path("dgram-a");
        let pb = unix_path("dgram-b");
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        let (res, _) = a.send_to(b"to b".to_vec(), &pb).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = b.recv_from(Vec::with_capacity(16)).await;
        let (n, from) = res.unwrap();
        assert_eq!(n, 4);
        assert_eq!(from.as_deref(), Some(pa.as_path()));
        assert_eq!(buf, b"to b");

        let unbound = UnixDatagram::unbound().unwrap();
        let (res, _) = unbound.send_to(b"anon".to_vec(), &pb).await;
        res.unwrap();
        let (res, _) = b.recv_from(Vec::with_capacity(16)).await;
        assert_eq!(res.unwrap(), (4, None));

        b.connect(&pa).await.unwrap();
        let (res, _) = b.send(b"back".to_vec()).await;
        res.unwrap();
        let (res, buf) = a.recv(Vec::with_capacity(16)).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"back");

        let (x, y) = UnixDatagram::pair().unwrap();
        let (res, _) = x.send(b"p".to_vec()).await;
        res.unwrap();
        let (res, buf) = y.recv(Vec::with_capacity(1)).await;
        assert_eq!(res.unwrap(), 1);
        assert_eq!(buf, b"p");
        assert_eq!(x.local_addr().unwrap(), None);
        std::fs::remove_file(&pa).unwrap();
        std::fs::remove_file(&pb).unwrap();
    });
}

#[test]
fn a_dropped_udp_socket_frees_its_address_at_once() {
    ringloop::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        // An op makes sure the socket is in use by the ring, as in a server.
        let (res, _) = a.send_to(b"x".to_vec(), addr).await;
        res.unwrap();
        drop(a);
        // No await in between: the address is free before the task yields.
        let b = UdpSocket::bind(addr).expect("the dropped socket's address is free again");
        assert_eq!(b.local_addr().unwrap(), addr);
    });
}
