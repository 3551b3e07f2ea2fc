//! TCP sockets: bind/accept/connect, owned-buffer I/O with every buffer
//! type, incoming(), addresses and options, IPv4 and IPv6.

#[path = "util/net.rs"]
mod util;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use ringloop::buf::IoBuf;
use ringloop::net::{ListenOptions, TcpListener, TcpStream};
use std::io;
use util::{pattern, spawn_echo_server, tcp_pair};

#[test]
fn echo_round_trip_ipv4() {
    ringloop::run(async {
        let addr = spawn_echo_server();
        let stream = TcpStream::connect(addr).await.unwrap();
        let data = pattern(1, 100_000);
        let (res, _) = stream.write_all(data.clone()).await;
        res.unwrap();
        let (res, back) = stream.read_exact(Vec::with_capacity(data.len())).await;
        res.unwrap();
        assert_eq!(back, data);
    });
}

#[test]
fn echo_round_trip_ipv6() {
    ringloop::run(async {
        let listener = match TcpListener::bind("[::1]:0") {
            Ok(l) => l,
            Err(e) => {
                eprintln!("skipping: IPv6 loopback is not available here ({e})");
                return;
            }
        };
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let server = ringloop::spawn(async move {
            let (stream, peer) = listener.accept().await.unwrap();
            assert!(peer.is_ipv6());
            util::echo(stream).await;
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        let (res, _) = stream.write_all(&b"over v6"[..]).await;
        res.unwrap();
        let (res, buf) = stream.read_exact(vec![0u8; 7]).await;
        res.unwrap();
        assert_eq!(&buf, b"over v6");
        drop(stream);
        server.await.unwrap();
    });
}

#[test]
fn every_buffer_type_reads_and_writes() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        // Writes from Bytes, &'static str, String, Box<[u8]> and a slice view.
        let (res, _) = client.write_all(Bytes::from_static(b"bytes|")).await;
        res.unwrap();
        let (res, _) = client.write_all("str|").await;
        res.unwrap();
        let (res, _) = client.write_all(String::from("string|")).await;
        res.unwrap();
        let (res, _) = client
            .write_all(b"boxed|".to_vec().into_boxed_slice())
            .await;
        res.unwrap();
        let (res, _) = client.write_all(b"xxsliceyy".to_vec().slice(2..7)).await;
        res.unwrap();
        let expected = b"bytes|str|string|boxed|slice";

        // Reads into BytesMut, Box<[u8]>, Vec and a slice of a Vec.
        let (res, b) = server.read_exact(BytesMut::with_capacity(6)).await;
        res.unwrap();
        assert_eq!(&b[..], &expected[..6]);
        let (res, b) = server.read_exact(vec![0u8; 4].into_boxed_slice()).await;
        res.unwrap();
        assert_eq!(&b[..], &expected[6..10]);
        let (res, b) = server.read_exact(Vec::with_capacity(7)).await;
        res.unwrap();
        assert_eq!(&b[..], &expected[10..17]);
        let mut v = b"AB".to_vec();
        v.reserve_exact(11);
        let (res, s) = server.read_exact(v.slice(2..13)).await;
        res.unwrap();
        let v = s.into_inner();
        assert_eq!(&v[..2], b"AB");
        assert_eq!(&v[2..], &expected[17..]);
    });
}

#[test]
fn incoming_accepts_many_connections() {
    ringloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        const N: usize = 64;
        let clients = ringloop::spawn(async move {
            let mut streams = Vec::new();
            for i in 0..N {
                let s = TcpStream::connect(addr).await.unwrap();
                let (res, _) = s.write_all(vec![i as u8]).await;
                res.unwrap();
                streams.push(s);
            }
            streams
        });
        let mut incoming = listener.incoming();
        let mut seen = [false; N];
        for _ in 0..N {
            let stream = incoming.next().await.unwrap().unwrap();
            let (res, b) = stream.read_exact(vec![0u8; 1]).await;
            res.unwrap();
            assert!(!seen[b[0] as usize], "connection {} accepted twice", b[0]);
            seen[b[0] as usize] = true;
            assert_eq!(stream.local_addr().unwrap(), addr);
        }
        assert!(seen.iter().all(|&s| s));
        clients.await.unwrap();
        eprintln!(
            "multishot accept: {}",
            ringloop::features().multishot_accept
        );
    });
}

#[test]
fn incoming_single_shot_fallback_accepts_and_rearms() {
    ringloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = listener.incoming().multishot(false);
        assert!(!incoming.is_multishot());
        for round in 0..3u8 {
            let client = TcpStream::connect(addr).await.unwrap();
            let (res, _) = client.write_all(vec![round]).await;
            res.unwrap();
            let server = incoming.next().await.unwrap().unwrap();
            let (res, b) = server.read_exact(vec![0u8; 1]).await;
            res.unwrap();
            assert_eq!(b, [round]);
        }
        let multi = listener.incoming().multishot(true);
        assert_eq!(multi.is_multishot(), ringloop::features().multishot_accept);
    });
}

#[test]
fn accept_reports_peer_and_local_addresses() {
    ringloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        assert_eq!(client.peer_addr().unwrap(), addr);
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.set_nodelay(false).unwrap();
        assert!(!client.nodelay().unwrap());
    });
}

#[test]
fn connect_by_host_name_tries_each_address() {
    ringloop::run(async {
        // Listening on IPv4 only: if "localhost" resolves to ::1 first, that
        // attempt is refused and the next address is tried.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect(("localhost", port)).await.unwrap();
        let (_server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    });
}

#[test]
fn reuse_port_lets_two_listeners_share_a_port() {
    ringloop::run(async {
        let opts = ListenOptions::new().reuse_port(true).backlog(16);
        let a = TcpListener::bind_with("127.0.0.1:0", &opts).unwrap();
        let addr = a.local_addr().unwrap();
        let b = TcpListener::bind_with(addr, &opts).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
        // Without SO_REUSEPORT the port is taken.
        let err = TcpListener::bind(addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    });
}

#[test]
fn short_write_and_read_report_counts() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (res, buf) = client.write(b"hello world".to_vec()).await;
        let n = res.unwrap();
        assert!(n > 0 && n <= buf.len());
        let (res, buf) = server.read(Vec::with_capacity(64)).await;
        let m = res.unwrap();
        assert_eq!(buf.len(), m);
        assert_eq!(&buf[..], &b"hello world"[..m]);
    });
}

#[test]
fn read_exact_at_eof_keeps_partial_data() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (res, _) = client.write_all(&b"abc"[..]).await;
        res.unwrap();
        drop(client);
        let (res, buf) = server.read_exact(Vec::with_capacity(10)).await;
        let err = res.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("3 of the 10"), "{err}");
        assert_eq!(buf, b"abc");
    });
}

#[test]
fn rebinding_a_port_in_time_wait_works_thanks_to_so_reuseaddr() {
    ringloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        // The server side closes first, leaving its end in TIME_WAIT.
        drop(server);
        let (res, _) = client.read(Vec::with_capacity(1)).await;
        assert_eq!(res.unwrap(), 0);
        drop(client);
        drop(listener);
        let again = TcpListener::bind(addr).expect("SO_REUSEADDR allows rebinding");
        assert_eq!(again.local_addr().unwrap(), addr);
    });
}

#[test]
fn a_dropped_stream_sends_its_fin_at_once() {
    use std::io::Read;
    ringloop::run(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        // A bound on the blocking read in case of a bug (not a timing assertion).
        peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let (res, _) = stream.write_all(b"bye".to_vec()).await;
        res.unwrap();
        drop(stream);
        // No await in between: the peer sees the end of stream while this
        // task still runs.
        let mut got = Vec::new();
        peer.read_to_end(&mut got)
            .expect("the peer sees the FIN of the dropped stream");
        assert_eq!(got, b"bye");
    });
}

#[test]
fn a_read_dropped_before_its_first_poll_takes_no_bytes() {
    ringloop::run(async {
        let (a, b) = tcp_pair().await;
        // Never polled: no RECV was submitted, so none may be left in flight
        // to swallow (or later hand out) the bytes sent next.
        drop(a.read(Vec::with_capacity(16)));
        let (res, _) = b.write_all(b"first".to_vec()).await;
        res.unwrap();
        let (res, buf) = a.read_exact(Vec::with_capacity(5)).await;
        res.unwrap();
        assert_eq!(buf, b"first");
        // A read polled once and dropped in flight keeps its RECV; the
        // next read returns what that RECV received.
        let read = a.read(Vec::with_capacity(16));
        let timed_out = ringloop::time::timeout(std::time::Duration::from_millis(20), read).await;
        assert!(timed_out.is_err(), "nothing was sent yet");
        let (res, _) = b.write_all(b"second".to_vec()).await;
        res.unwrap();
        let (res, buf) = a.read_exact(Vec::with_capacity(6)).await;
        res.unwrap();
        assert_eq!(buf, b"second");
    });
}

#[test]
fn write_all_larger_than_the_socket_buffers_arrives_whole() {
    ringloop::run(async {
        let (a, b) = tcp_pair().await;
        // Far more than loopback's socket buffers hold: the sends come back
        // short and write_all goes on from where each one stopped.
        let data = pattern(7, 8 << 20);
        let reader = ringloop::spawn(async move {
            let (res, got) = b.read_exact(Vec::with_capacity(8 << 20)).await;
            res.unwrap();
            got
        });
        let (res, back) = a.write_all(data).await;
        res.unwrap();
        assert_eq!(
            reader.await.unwrap(),
            back,
            "the peer got every byte, in order"
        );
    });
}
