//! Address resolution: host names are looked up on the blocking pool, never
//! on the loop thread; literal addresses never touch the pool.

use ringloop::net::{open_connection, start_server, TcpListener, TcpStream, UdpSocket};
use ringloop::Runtime;
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::mpsc;

/// A runtime whose blocking pool has a single thread, which the test can
/// hold busy to show that a lookup waits for the pool.
fn one_thread_pool() -> Runtime {
    Runtime::builder().max_blocking_threads(1).build().unwrap()
}

#[test]
fn host_name_connect_waits_on_the_pool_while_other_tasks_run() {
    let rt = one_thread_pool();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();

        // Occupy the only pool thread until the test lets go.
        let (release, held) = mpsc::channel::<()>();
        let blocker = ringloop::to_thread(move || held.recv().is_ok());

        let connected = Rc::new(Cell::new(false));
        let flag = connected.clone();
        // Listening on IPv4 only: if "localhost" resolves to ::1 first, that
        // attempt is refused and 127.0.0.1 is tried next.
        let client = ringloop::spawn(async move {
            let stream = TcpStream::connect(format!("localhost:{port}")).await;
            flag.set(true);
            stream
        });
        let ticks = Rc::new(Cell::new(0u32));
        let t = ticks.clone();
        let ticker = ringloop::spawn(async move {
            for _ in 0..20 {
                t.set(t.get() + 1);
                ringloop::yield_now().await;
            }
        });
        ticker.await.unwrap();
        // A loop turn with ring I/O in between, so a connect that had resolved
        // on the loop would have had its CONNECT completed by now.
        ringloop::time::sleep(std::time::Duration::from_millis(5)).await;
        assert_eq!(ticks.get(), 20, "other tasks kept running");
        assert!(
            !connected.get(),
            "the host name must be resolved on the (busy) blocking pool, not on the loop"
        );

        release.send(()).unwrap();
        assert!(blocker.await.unwrap());
        let stream = client.await.unwrap().unwrap();
        let (_server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
    });
}

#[test]
fn literal_addresses_do_not_use_the_pool() {
    let rt = one_thread_pool();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let port = addr.port();
        let _a = TcpStream::connect(addr).await.unwrap();
        let _b = TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let _c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _d = TcpStream::connect((IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .await
            .unwrap();
        let list = [SocketAddr::from(([127, 0, 0, 1], 1)), addr];
        let _e = TcpStream::connect(&list[..]).await.unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.connect(udp.local_addr().unwrap()).await.unwrap();
        let (res, _) = udp.send_to(b"x".to_vec(), "127.0.0.1:9").await;
        res.unwrap();
    });
    assert_eq!(rt.blocking_threads(), 0, "no lookup was sent to the pool");
}

#[test]
fn host_names_resolve_for_udp_and_servers() {
    ringloop::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = b.local_addr().unwrap().port();
        // If "localhost" comes first as ::1, the IPv4 socket cannot connect
        // to it and the next address, 127.0.0.1, is tried.
        a.connect(format!("localhost:{port}")).await.unwrap();
        let (res, _) = a.send(b"hi".to_vec()).await;
        res.unwrap();
        let (res, buf) = b.recv_from(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap(), (2, a.local_addr().unwrap()));
        assert_eq!(buf, b"hi");

        let server = start_server(("localhost", 0), |_r, _w| async {})
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (_r, _w) = open_connection(addr).await.unwrap();
        server.close();
    });
}

#[test]
fn unresolvable_host_name_says_which_and_what_to_do() {
    ringloop::run(async {
        // `.invalid` is reserved (RFC 2606): it never resolves.
        let err = TcpStream::connect("no-such-host.invalid:80")
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no-such-host.invalid:80"), "{msg}");
        assert!(msg.contains("could not resolve"), "{msg}");
        assert!(msg.contains("ip:port"), "{msg}");

        let err = TcpStream::connect(("no-such-host.invalid", 80))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no-such-host.invalid"), "{err}");

        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (res, buf) = udp
            .send_to(b"lost".to_vec(), "no-such-host.invalid:9")
            .await;
        assert!(res.is_err());
        assert_eq!(buf, b"lost", "the buffer comes back on error");

        // A string that is neither an address nor "host:port".
        let err = TcpStream::connect("no port here").await.unwrap_err();
        assert!(err.to_string().contains("could not resolve"), "{err}");
    });
}
