//! hyper on ringloop in one process: the serve helpers with ringloop's
//! client helpers (HTTP/1.1, HTTP/2, TCP and Unix), `!Send` service state,
//! abandoned reads, the header-read timeout, graceful shutdown, and no fd
//! left after many connections.

#[path = "../../runtime/tests/util/fds.rs"]
mod fds;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::rt::{Read as _, ReadBuf};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use ringloop_http::{client, serve, Http, HyperIo};
use ringloop_net::{TcpListener, TcpStream, UnixListener, UnixStream};
use ringloop_runtime::{run, spawn};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

type Body = Full<Bytes>;

fn text(s: impl Into<Bytes>) -> Response<Body> {
    Response::new(Full::new(s.into()))
}

/// `/` hello, `/echo` the body back (collected), `/slow` after 300 ms,
/// `/count` a per-server counter held in an `Rc` (no `Send` needed).
fn service() -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<Response<Body>, Infallible>>,
> + Clone {
    let count = Rc::new(Cell::new(0u32));
    service_fn(move |req: Request<Incoming>| {
        let count = count.clone();
        async move {
            Ok(match req.uri().path() {
                "/" => text("hello"),
                "/echo" => text(req.into_body().collect().await.unwrap().to_bytes()),
                "/slow" => {
                    ringloop_timer::sleep(Duration::from_millis(300)).await;
                    text("slow done")
                }
                "/count" => {
                    count.set(count.get() + 1);
                    text(count.get().to_string())
                }
                _ => {
                    let mut r = text("");
                    *r.status_mut() = StatusCode::NOT_FOUND;
                    r
                }
            })
        }
    })
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(format!("http://localhost{path}"))
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap()
}

async fn body_of(res: Response<Incoming>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[test]
fn http1_and_http2_clients_over_tcp() {
    run(async {
        let server = serve(TcpListener::bind("127.0.0.1:0").unwrap(), service()).unwrap();
        let addr = server.local_addr().unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut h1 = client::http1(tcp.into_poll_stream()).await.unwrap();
        for _ in 0..10 {
            let res = h1.send_request(get("/")).await.unwrap();
            assert_eq!(res.version(), hyper::Version::HTTP_11);
            assert_eq!(body_of(res).await, "hello");
        }
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let req = Request::post("/echo")
            .header("host", "localhost")
            .body(Full::new(Bytes::from(big.clone())))
            .unwrap();
        let mut h1b = client::http1(TcpStream::connect(addr).await.unwrap().into_poll_stream())
            .await
            .unwrap();
        let res = h1b.send_request(req).await.unwrap();
        assert!(res.into_body().collect().await.unwrap().to_bytes() == big[..]);

        // HTTP/2 prior knowledge on the same port: 50 concurrent streams on
        // one connection, all counted by the one `Rc` counter.
        let h2 = client::http2(TcpStream::connect(addr).await.unwrap().into_poll_stream())
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let mut h2 = h2.clone();
            tasks.push(spawn(async move {
                let res = h2.send_request(get("/count")).await.unwrap();
                assert_eq!(res.version(), hyper::Version::HTTP_2);
                body_of(res).await.parse::<u32>().unwrap()
            }));
        }
        let mut seen: Vec<u32> = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort();
        assert_eq!(seen, (1..=50).collect::<Vec<_>>());
        let report = server.shutdown(Duration::from_secs(5)).await;
        assert_eq!(report.aborted, 0);
    });
}

#[test]
fn http_over_a_unix_socket() {
    let path = std::env::temp_dir().join(format!("ringloop-http-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    run(async {
        let server = Http::new().serve_unix(UnixListener::bind(&path).unwrap(), service());
        let stream = UnixStream::connect(&path).await.unwrap();
        let mut h1 = client::http1(stream.into_poll_stream()).await.unwrap();
        let res = h1.send_request(get("/")).await.unwrap();
        assert_eq!(body_of(res).await, "hello");
        server.shutdown(Duration::from_secs(1)).await;
    });
    let _ = std::fs::remove_file(&path);
}

/// Reads what is there into a fresh buffer, through hyper's `Read`.
async fn hyper_read(io: &mut HyperIo<ringloop_net::PollStream>) -> Vec<u8> {
    let mut storage = [0u8; 256];
    let mut buf = ReadBuf::new(&mut storage);
    poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf.unfilled()))
        .await
        .unwrap();
    buf.filled().to_vec()
}

#[test]
fn reads_hyper_abandons_lose_no_bytes() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (server, _) = listener.accept().await.unwrap();
        let peer = peer.await.unwrap();
        let mut io = HyperIo::new(server.into_poll_stream());
        for round in 0..200u32 {
            // hyper polls a read, then drops interest in it (a timeout, a
            // select): the receive stays in flight inside the stream.
            let r = ringloop_timer::timeout(Duration::from_micros(200), hyper_read(&mut io)).await;
            assert!(r.is_err(), "nothing was sent yet");
            let msg = format!("round {round};");
            peer.write_all(msg.clone().into_bytes()).await.0.unwrap();
            let mut got = Vec::new();
            while got.len() < msg.len() {
                got.extend(hyper_read(&mut io).await);
            }
            assert_eq!(String::from_utf8(got).unwrap(), msg);
        }
    });
}

#[test]
fn slow_headers_hit_the_header_read_timeout() {
    run(async {
        let mut http = Http::new();
        http.builder()
            .http1()
            .header_read_timeout(Duration::from_millis(200));
        let server = http
            .serve(TcpListener::bind("127.0.0.1:0").unwrap(), service())
            .unwrap();
        let addr = server.local_addr().unwrap();
        let slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n".to_vec())
            .await
            .0
            .unwrap();
        let start = Instant::now();
        // The server answers 408 or just closes; either way the stream ends.
        let mut got = Vec::new();
        loop {
            let (res, buf) = slow.read(Vec::with_capacity(1024)).await;
            match res {
                Ok(0) | Err(_) => break,
                Ok(_) => got.extend_from_slice(&buf),
            }
        }
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "closed before the timeout"
        );
        assert!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
            "{got:?}"
        );
        // A prompt client on the same server is served.
        let mut h1 = client::http1(TcpStream::connect(addr).await.unwrap().into_poll_stream())
            .await
            .unwrap();
        assert_eq!(
            body_of(h1.send_request(get("/")).await.unwrap()).await,
            "hello"
        );
    });
}

#[test]
fn graceful_shutdown_finishes_requests_in_flight() {
    run(async {
        let server = serve(TcpListener::bind("127.0.0.1:0").unwrap(), service()).unwrap();
        let addr = server.local_addr().unwrap();
        let mut h1 = client::http1(TcpStream::connect(addr).await.unwrap().into_poll_stream())
            .await
            .unwrap();
        let h2 = client::http2(TcpStream::connect(addr).await.unwrap().into_poll_stream())
            .await
            .unwrap();
        let slow1 =
            spawn(async move { body_of(h1.send_request(get("/slow")).await.unwrap()).await });
        let mut h2b = h2.clone();
        let slow2 =
            spawn(async move { body_of(h2b.send_request(get("/slow")).await.unwrap()).await });
        ringloop_timer::sleep(Duration::from_millis(50)).await;
        let report = server.shutdown(Duration::from_secs(5)).await;
        assert_eq!(slow1.await.unwrap(), "slow done");
        assert_eq!(slow2.await.unwrap(), "slow done");
        assert_eq!((report.finished, report.aborted), (2, 0));
        assert_eq!(server.connections(), 0);
        // The listener is closed: new connections are refused.
        assert!(TcpStream::connect(addr).await.is_err());
    });
}

#[test]
fn shutdown_aborts_what_outlives_the_grace_period() {
    run(async {
        let hang = service_fn(|_req: Request<Incoming>| async {
            ringloop_timer::sleep(Duration::from_secs(3600)).await;
            Ok::<_, Infallible>(text("never"))
        });
        let server = serve(TcpListener::bind("127.0.0.1:0").unwrap(), hang).unwrap();
        let addr = server.local_addr().unwrap();
        let mut h1 = client::http1(TcpStream::connect(addr).await.unwrap().into_poll_stream())
            .await
            .unwrap();
        let waiting = spawn(async move { h1.send_request(get("/")).await });
        ringloop_timer::sleep(Duration::from_millis(50)).await;
        let report = server.shutdown(Duration::from_millis(100)).await;
        assert_eq!((report.finished, report.aborted), (0, 1));
        assert!(
            waiting.await.unwrap().is_err(),
            "the aborted request got an answer"
        );
    });
}

#[test]
fn many_connections_leave_no_fd_behind() {
    let _lock = fds::fd_lock();
    run(async {
        let server = serve(TcpListener::bind("127.0.0.1:0").unwrap(), service()).unwrap();
        let addr = server.local_addr().unwrap();
        let before = fds::fd_count();
        for i in 0..200 {
            let stream = TcpStream::connect(addr).await.unwrap().into_poll_stream();
            if i % 2 == 0 {
                let mut h1 = client::http1(stream).await.unwrap();
                assert_eq!(
                    body_of(h1.send_request(get("/")).await.unwrap()).await,
                    "hello"
                );
            } else {
                let mut h2 = client::http2(stream).await.unwrap();
                assert_eq!(
                    body_of(h2.send_request(get("/")).await.unwrap()).await,
                    "hello"
                );
            }
        }
        // Client connections end when their senders drop; the server's
        // when it reads their end.
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.connections() > 0 && Instant::now() < deadline {
            ringloop_timer::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(server.connections(), 0);
        assert!(
            fds::fd_count() <= before,
            "{} fds, {before} before",
            fds::fd_count()
        );
        server.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn a_client_gone_mid_headers_ends_its_connection() {
    run(async {
        let server = serve(TcpListener::bind("127.0.0.1:0").unwrap(), service()).unwrap();
        let addr = server.local_addr().unwrap();
        for partial in [&b"GET / HTTP/1.1\r\nhost"[..], b"PRI * HTTP/2.0\r\n", b"G"] {
            let c = TcpStream::connect(addr).await.unwrap();
            c.write_all(partial.to_vec()).await.0.unwrap();
            drop(c);
        }
        // Each server connection sees the end of its stream and closes
        // (this spun, re-reading the end, before the fix).
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.connections() > 0 && Instant::now() < deadline {
            ringloop_timer::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(server.connections(), 0);
    });
}
