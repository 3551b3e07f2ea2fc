//! asyncio-style streams: open_connection/start_server, the Reader's
//! read/read_line/read_until/read_exact with their errors, the Writer's
//! back-pressure and non-interleaving, and the Server's close/shutdown.

#[path = "util/net.rs"]
mod util;

use ringloop::net::{
    open_connection, open_unix_connection, start_server, start_unix_server, IncompleteRead,
    LimitOverrun, TcpListener, TcpStream,
};
use ringloop::time::{sleep, timeout};
use std::io;
use std::time::Duration;
use util::{pattern, tcp_pair, unix_path};

async fn line_echo(mut reader: ringloop::net::Reader, writer: ringloop::net::Writer) {
    while let Ok(line) = reader.read_line().await {
        if line.is_empty() || writer.write(line).await.is_err() {
            break;
        }
    }
}

#[test]
fn open_connection_and_start_server_echo_lines() {
    ringloop::run(async {
        let server = start_server("127.0.0.1:0", line_echo).await.unwrap();
        let addr = server.local_addr().unwrap();
        let (mut reader, writer) = open_connection(addr).await.unwrap();
        assert_eq!(writer.peer_addr(), Some(addr));
        for i in 0..20 {
            let msg = format!("message {i}\n");
            writer.write(msg.clone()).await.unwrap();
            assert_eq!(reader.read_line().await.unwrap(), msg.as_bytes());
        }
        writer.write_eof().await.unwrap();
        assert_eq!(reader.read_line().await.unwrap(), &b""[..]);
        assert!(reader.at_eof());
        assert_eq!(server.shutdown(Duration::from_secs(5)).await.aborted, 0);
    });
}

#[test]
fn reader_read_until_and_read_n() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (mut reader, _writer) = server.into_split();
        let (res, _) = client.write_all(&b"head\r\n\r\nbodyTAIL--rest"[..]).await;
        res.unwrap();
        assert_eq!(
            reader.read_until(b"\r\n\r\n").await.unwrap(),
            &b"head\r\n\r\n"[..]
        );
        assert_eq!(reader.read_exact(4).await.unwrap(), &b"body"[..]);
        assert_eq!(reader.read_until(b"--").await.unwrap(), &b"TAIL--"[..]);
        assert_eq!(reader.read(2).await.unwrap(), &b"re"[..]);
        assert_eq!(reader.read(0).await.unwrap(), &b""[..]);
        drop(client);
        assert_eq!(reader.read_to_end().await.unwrap(), &b"st"[..]);
        assert_eq!(reader.read(10).await.unwrap(), &b""[..]);
    });
}

/// `read_to_end` hands over its buffer: turning the result into a `Vec`
/// (as `process::Child::output` does with 100 MB of stdout) takes the
/// allocation instead of copying it. It used to keep a reference in the
/// reader, which made `Vec::from` copy everything once more.
#[test]
fn read_to_end_hands_its_buffer_over_without_a_copy() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (mut reader, _writer) = server.into_split();
        let sent = pattern(7, 1 << 20);
        let feed = ringloop::spawn(async move {
            let (res, _) = client.write_all(sent).await;
            res.unwrap();
        });
        let all = reader.read_to_end().await.unwrap();
        feed.await.unwrap();
        let at = all.as_ptr();
        let vec = Vec::from(all);
        assert_eq!(
            vec.as_ptr(),
            at,
            "Vec::from copied the bytes read_to_end returned"
        );
        assert_eq!(vec, pattern(7, 1 << 20));
        assert_eq!(
            reader.read(10).await.unwrap(),
            &b""[..],
            "still at end of stream"
        );
    });
}

#[test]
fn read_exact_and_read_until_at_eof_carry_the_partial_data() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (mut reader, _w) = server.into_split();
        let (res, _) = client.write_all(&b"12345"[..]).await;
        res.unwrap();
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
        assert_eq!(reader.read_exact(2).await.unwrap(), &b"12"[..]);
        let err = reader.read_exact(10).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let inc = IncompleteRead::of(&err).expect("carries IncompleteRead");
        assert_eq!(&inc.partial[..], b"345");
        assert_eq!(inc.expected, Some(10));
        assert!(err.to_string().contains("3 of 10"), "{err}");

        let (client, server) = tcp_pair().await;
        let (mut reader, _w) = server.into_split();
        let (res, _) = client.write_all(&b"no delimiter"[..]).await;
        res.unwrap();
        drop(client);
        let err = reader.read_until(b";").await.unwrap_err();
        let inc = IncompleteRead::of(&err).unwrap();
        assert_eq!(&inc.partial[..], b"no delimiter");
        assert_eq!(inc.expected, None);
    });
}

#[test]
fn read_line_returns_the_last_unterminated_line() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (mut reader, _w) = server.into_split();
        let (res, _) = client.write_all(&b"one\ntwo"[..]).await;
        res.unwrap();
        drop(client);
        assert_eq!(reader.read_line().await.unwrap(), &b"one\n"[..]);
        assert_eq!(reader.read_line().await.unwrap(), &b"two"[..]);
        assert_eq!(reader.read_line().await.unwrap(), &b""[..]);
    });
}

#[test]
fn line_limit_overrun_is_a_clear_error() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (mut reader, _w) = server.into_split();
        reader.set_limit(16);
        let mut data = vec![b'x'; 40];
        data.extend_from_slice(b"\nshort\n");
        let (res, _) = client.write_all(data).await;
        res.unwrap();
        let err = reader.read_line().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let overrun = LimitOverrun::of(&err).expect("carries LimitOverrun");
        assert_eq!(overrun.limit, 16);
        assert!(err.to_string().contains("limit of 16 bytes"), "{err}");
        // The overlong line is discarded; reading goes on with the next one.
        let mut next = reader.read_line().await;
        while let Err(e) = &next {
            // The rest of the long line may arrive after the first error.
            assert!(LimitOverrun::of(e).is_some(), "{e}");
            next = reader.read_line().await;
        }
        let mut line = next.unwrap();
        if line != b"short\n"[..] {
            // The error came before the long line's end was read: its tail
            // is returned as a line of its own, as asyncio's readline does.
            assert!(line.len() < 40 && line.ends_with(b"x\n"), "{line:?}");
            line = reader.read_line().await.unwrap();
        }
        assert_eq!(line, &b"short\n"[..]);
        // read_until leaves overrun data buffered for `read`.
        let (client, server) = tcp_pair().await;
        let (mut reader, _w) = server.into_split();
        reader.set_limit(8);
        let (res, _) = client.write_all(&b"0123456789abcdef;"[..]).await;
        res.unwrap();
        let err = reader.read_until(b";").await.unwrap_err();
        assert!(LimitOverrun::of(&err).is_some());
        let mut rest = Vec::new();
        while rest.len() < 17 {
            rest.extend_from_slice(&reader.read(100).await.unwrap());
        }
        assert_eq!(rest, b"0123456789abcdef;");
    });
}

#[test]
fn writer_applies_backpressure_from_a_slow_peer() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (_r, writer) = client.into_split();
        // Far more than loopback socket buffers hold.
        let data = pattern(7, 32 << 20);
        let expected = data.clone();
        let w = writer.clone();
        let write = ringloop::spawn(async move { w.write(data).await });
        sleep(Duration::from_millis(100)).await;
        assert!(
            !write.is_finished(),
            "a 32 MiB write completed although the peer read nothing"
        );
        let (res, got) = server.read_exact(Vec::with_capacity(expected.len())).await;
        res.unwrap();
        write.await.unwrap().unwrap();
        assert!(got == expected, "data arrived altered");
    });
}

#[test]
fn a_write_cancelled_midway_poisons_the_writer_and_its_clones() {
    ringloop::run(async {
        let (client, _server) = tcp_pair().await;
        let (_r, writer) = client.into_split();
        let other = writer.clone();
        // The peer reads nothing, so 32 MiB cannot all be sent: the write is
        // cancelled after it started sending.
        let cut = timeout(
            Duration::from_millis(50),
            writer.write(pattern(3, 32 << 20)),
        )
        .await;
        assert!(cut.is_err(), "the write could not have finished");
        let err = other.write(&b"next message"[..]).await.unwrap_err();
        assert!(err.to_string().contains("cancelled midway"), "{err}");
        assert!(!err.to_string().contains("  "), "stray spaces in: {err}");
        assert!(writer.write_lines([&b"a"[..]]).await.is_err());
    });
}

#[test]
fn a_write_cancelled_while_waiting_for_its_turn_is_harmless() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (_r, writer) = client.into_split();
        // Hold the writer's turn with a slow 32 MiB write in another task...
        let w = writer.clone();
        let big = ringloop::spawn(async move { w.write(pattern(5, 32 << 20)).await });
        ringloop::yield_now().await;
        // ...so this write only waits for its turn when it is cancelled.
        let waiting = timeout(Duration::from_millis(20), writer.write(&b"never sent"[..])).await;
        assert!(waiting.is_err());
        let (res, got) = server.read_exact(Vec::with_capacity(32 << 20)).await;
        res.unwrap();
        big.await.unwrap().unwrap();
        assert!(got == pattern(5, 32 << 20));
        writer.write(&b"still usable"[..]).await.unwrap();
    });
}

#[test]
fn writer_clones_never_interleave_messages() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (_r, writer) = client.into_split();
        const TASKS: u8 = 8;
        const MSGS: usize = 6;
        const LEN: usize = 200_000;
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let w = writer.clone();
            handles.push(ringloop::spawn(async move {
                for _ in 0..MSGS {
                    w.write(vec![t; LEN]).await.unwrap();
                    ringloop::yield_now().await;
                }
            }));
        }
        let reader = ringloop::spawn(async move {
            let total = TASKS as usize * MSGS * LEN;
            let (res, buf) = server.read_exact(Vec::with_capacity(total)).await;
            res.unwrap();
            buf
        });
        for h in handles {
            h.await.unwrap();
        }
        let buf = reader.await.unwrap();
        let mut counts = [0usize; TASKS as usize];
        for msg in buf.chunks(LEN) {
            let t = msg[0];
            assert!(
                msg.iter().all(|&b| b == t),
                "a message was interleaved with another"
            );
            counts[t as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c == MSGS));
    });
}

#[test]
fn close_stops_accepting_and_serve_forever_returns() {
    ringloop::run(async {
        let server = start_server("127.0.0.1:0", line_echo).await.unwrap();
        let addr = server.local_addr().unwrap();
        let (mut reader, writer) = open_connection(addr).await.unwrap();
        // One round trip: the connection has been accepted before the close.
        writer.write(&b"accepted?\n"[..]).await.unwrap();
        assert_eq!(reader.read_line().await.unwrap(), &b"accepted?\n"[..]);
        let s = server.clone();
        let forever = ringloop::spawn(async move { s.serve_forever().await });
        sleep(Duration::from_millis(5)).await;
        assert!(!forever.is_finished());
        server.close();
        forever.await.unwrap();
        assert!(server.is_closed());
        // The open connection keeps working.
        writer.write(&b"still here\n"[..]).await.unwrap();
        assert_eq!(reader.read_line().await.unwrap(), &b"still here\n"[..]);
        drop((reader, writer));
        server.wait_closed().await;
        assert_eq!(server.connections(), 0);
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn shutdown_waits_for_connections_then_aborts_the_rest() {
    ringloop::run(async {
        // Handlers that echo one line, then either finish or hang forever.
        let server = start_server("127.0.0.1:0", |mut reader, writer| async move {
            let line = reader.read_line().await.unwrap_or_default();
            let _ = writer.write(line.clone()).await;
            if &line[..] == b"hang\n" {
                sleep(Duration::from_secs(3600)).await;
            }
        })
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        let (mut r1, w1) = open_connection(addr).await.unwrap();
        let (mut r2, w2) = open_connection(addr).await.unwrap();
        w1.write(&b"hang\n"[..]).await.unwrap();
        assert_eq!(r1.read_line().await.unwrap(), &b"hang\n"[..]);
        assert_eq!(server.connections(), 2);
        let s = server.clone();
        // Runs once `shutdown` below has started waiting (the main future is
        // polled first), so it finishes an open connection during the grace.
        let finishing = ringloop::spawn(async move {
            w2.write(&b"bye\n"[..]).await.unwrap();
            r2.read_line().await.unwrap()
        });
        // The hanging handler holds shutdown for the whole grace, so it is
        // short; it is still far longer than one loopback round trip.
        let report = server.shutdown(Duration::from_secs(1)).await;
        assert_eq!(report.finished, 1);
        assert_eq!(report.aborted, 1);
        assert_eq!(finishing.await.unwrap(), &b"bye\n"[..]);
        assert_eq!(s.connections(), 0);
        // The aborted handler's socket was closed.
        assert_eq!(r1.read_line().await.unwrap(), &b""[..]);
        drop(w1);
    });
}

#[test]
fn unix_server_and_connection() {
    ringloop::run(async {
        let path = unix_path("server");
        let server = start_unix_server(&path, line_echo).await.unwrap();
        assert_eq!(server.local_addr(), None);
        let (mut reader, writer) = open_unix_connection(&path).await.unwrap();
        writer
            .write_lines([&b"a\n"[..], &b"b\n"[..]])
            .await
            .unwrap();
        assert_eq!(reader.read_line().await.unwrap(), &b"a\n"[..]);
        assert_eq!(reader.read_line().await.unwrap(), &b"b\n"[..]);
        writer.close().await.unwrap();
        let report = timeout(
            Duration::from_secs(10),
            server.shutdown(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        assert_eq!(report.aborted, 0);
        assert!(!path.exists(), "a closed server removes its socket file");
    });
}

#[test]
fn listener_from_options_serves() {
    ringloop::run(async {
        let listener = TcpListener::bind_with(
            "127.0.0.1:0",
            &ringloop::net::ListenOptions::new().reuse_port(true),
        )
        .unwrap();
        let server = ringloop::net::Server::from_listener(listener, line_echo).unwrap();
        let (mut reader, writer) = open_connection(server.local_addr().unwrap()).await.unwrap();
        writer.write(&b"x\n"[..]).await.unwrap();
        assert_eq!(reader.read_line().await.unwrap(), &b"x\n"[..]);
        assert_eq!(server.accept_errors(), 0);
    });
}

#[test]
fn a_panicking_handler_does_not_stop_the_server() {
    ringloop::run(async {
        let server = start_server("127.0.0.1:0", |mut reader, writer| async move {
            let line = reader.read_line().await.unwrap();
            if &line[..] == b"panic\n" {
                panic!("handler panics on purpose (expected in this test)");
            }
            writer.write(line).await.unwrap();
        })
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        let (mut r1, w1) = open_connection(addr).await.unwrap();
        w1.write(&b"panic\n"[..]).await.unwrap();
        // The panicking handler's connection is closed...
        assert_eq!(r1.read_line().await.unwrap(), &b""[..]);
        // ...and the server keeps serving.
        let (mut r2, w2) = open_connection(addr).await.unwrap();
        w2.write(&b"fine\n"[..]).await.unwrap();
        assert_eq!(r2.read_line().await.unwrap(), &b"fine\n"[..]);
        drop((r2, w2));
        let report = server.shutdown(Duration::from_secs(5)).await;
        assert_eq!(report.aborted, 0);
        assert_eq!(server.connections(), 0);
    });
}

/// Records when it is dropped: the end of a cancelled write's task.
struct Stamp(std::rc::Rc<std::cell::RefCell<Vec<std::time::Instant>>>);

impl Drop for Stamp {
    fn drop(&mut self) {
        self.0.borrow_mut().push(std::time::Instant::now());
    }
}

/// Queues `n` writes, each in a task of its own, behind a write the peer
/// never lets finish, aborts them together, and returns (the time from the
/// first aborted task ending to the last, the longest gap a 1 ms ticker
/// saw meanwhile).
async fn cancel_queued_writes(n: usize) -> (Duration, Duration) {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Instant;
    let (client, _server) = tcp_pair().await;
    let (_r, writer) = client.into_split();
    // Holds the writer's turn: the peer never reads, so this stalls.
    let w = writer.clone();
    let stalled = ringloop::spawn(async move { w.write(vec![0u8; 64 << 20]).await });
    ringloop::yield_now().await;
    let ends = Rc::new(RefCell::new(Vec::with_capacity(n)));
    let writes: Vec<_> = (0..n)
        .map(|_| {
            let (w, stamp) = (writer.clone(), Stamp(ends.clone()));
            ringloop::spawn(async move {
                let _stamp = stamp;
                w.write(&b"queued"[..]).await
            })
        })
        .collect();
    // Every write takes its place in the queue.
    ringloop::yield_now().await;
    assert!(writes.iter().all(|w| !w.is_finished()));
    let stop = Rc::new(Cell::new(false));
    let ticker = {
        let stop = stop.clone();
        ringloop::spawn(async move {
            let mut longest = Duration::ZERO;
            let mut prev = Instant::now();
            while !stop.get() {
                sleep(Duration::from_millis(1)).await;
                let now = Instant::now();
                longest = longest.max(now - prev);
                prev = now;
            }
            longest
        })
    };
    sleep(Duration::from_millis(5)).await;
    for w in &writes {
        w.abort();
    }
    for w in writes {
        assert!(w.await.unwrap_err().is_cancelled());
    }
    stop.set(true);
    let longest_gap = ticker.await.unwrap();
    stalled.abort();
    let ends = ends.borrow();
    (ends[ends.len() - 1] - ends[0], longest_gap)
}

#[test]
fn cancelling_many_queued_writes_takes_linear_time_and_never_stalls_the_loop() {
    // A waiter that leaves the writer's queue must cost O(1): with a scan
    // per cancelled waiter, 100,000 cancellations cost 100x more each than
    // 1,000 do, and every other task on the loop stalls meanwhile.
    ringloop::run(async {
        const SMALL: usize = 1_000;
        const LARGE: usize = 100_000;
        // The small run is short and noisy: take its best of three.
        let mut small = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let (storm, gap) = cancel_queued_writes(SMALL).await;
            small = (small.0.min(storm), small.1.min(gap));
        }
        let (storm, gap) = cancel_queued_writes(LARGE).await;
        let scale = (LARGE / SMALL) as f64;
        // Cost per cancelled write, large ÷ small (1 for linear time, about
        // 100 for a quadratic one). The 1 ms floor keeps a too-fast small
        // run from inflating the ratio.
        let floor = Duration::from_millis(1);
        let per_write = storm.as_secs_f64() / scale / small.0.max(floor).as_secs_f64();
        assert!(
            per_write < 8.0,
            "each of {LARGE} cancelled writes cost {per_write:.1}x what each of {SMALL} did \
             ({storm:?} against {:?})",
            small.0
        );
        // The ticker waits at most for the storm to drain, so its longest
        // gap grows at most in proportion to the number of writes.
        let stall = gap.as_secs_f64() / scale / small.1.max(floor).as_secs_f64();
        assert!(
            stall < 8.0,
            "a 1 ms ticker stalled {gap:?} while {LARGE} queued writes were cancelled \
             ({:?} for {SMALL})",
            small.1
        );
    });
}
