//! PollStream: the futures-io traits, driven by futures-util's extension
//! traits and `copy`.

#[path = "util/net.rs"]
mod util;

use futures_util::io::{copy, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use util::{pattern, tcp_pair};

#[test]
fn copy_echo_server_with_split_halves() {
    ringloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ringloop::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut rd, mut wr) = stream.into_poll_stream().split();
            let n = copy(&mut rd, &mut wr).await.unwrap();
            wr.close().await.unwrap();
            n
        });
        let mut client = TcpStream::connect(addr).await.unwrap().into_poll_stream();
        let data = pattern(3, 300_000);
        let (mut rd, mut wr) = (&mut client).split();
        let writer = async {
            wr.write_all(&data).await.unwrap();
            wr.close().await.unwrap();
        };
        let reader = async {
            let mut back = Vec::new();
            rd.read_to_end(&mut back).await.unwrap();
            back
        };
        let ((), back) = futures_util::future::join(writer, reader).await;
        assert_eq!(server.await.unwrap(), data.len() as u64);
        assert!(back == data, "echoed bytes differ");
    });
}

#[test]
fn buf_read_lines_and_read_exact() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let (res, _) = client
            .write_all(&b"first line\nsecond\n0123456789"[..])
            .await;
        res.unwrap();
        drop(client);
        let mut s = server.into_poll_stream();
        let mut line = String::new();
        s.read_line(&mut line).await.unwrap();
        assert_eq!(line, "first line\n");
        line.clear();
        s.read_line(&mut line).await.unwrap();
        assert_eq!(line, "second\n");
        let mut ten = [0u8; 10];
        s.read_exact(&mut ten).await.unwrap();
        assert_eq!(&ten, b"0123456789");
        assert_eq!(s.read(&mut ten).await.unwrap(), 0, "end of stream");
        assert_eq!(s.read(&mut []).await.unwrap(), 0, "empty buffer");
    });
}

#[test]
fn unix_stream_poll_adapter_and_leftovers_from_cancelled_reads() {
    ringloop::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        // A read dropped before data arrives: its op stays parked in the stream
        // and its bytes must reach the adapter made afterwards.
        let r = ringloop::time::timeout(
            std::time::Duration::from_millis(5),
            b.read(Vec::with_capacity(64)),
        )
        .await;
        assert!(r.is_err(), "nothing was sent yet");
        let (res, _) = a.write_all(&b"parked bytes|then more"[..]).await;
        res.unwrap();
        drop(a);
        let mut s = b.into_poll_stream();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"parked bytes|then more");
    });
}

/// Polls `poll_write` once with `data`: `Some(n)` if it accepted `n` bytes,
/// `None` if it returned `Pending`.
async fn write_once(s: &mut ringloop::net::PollStream, data: &[u8]) -> Option<usize> {
    use futures_util::io::AsyncWrite;
    use std::pin::Pin;
    use std::task::Poll;
    std::future::poll_fn(|cx| match Pin::new(&mut *s).poll_write(cx, data) {
        Poll::Ready(res) => Poll::Ready(Some(res.expect("poll_write"))),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

#[test]
fn a_write_retried_with_other_data_sends_exactly_what_was_accepted() {
    // A caller may give up on a pending write and write something else
    // (a cancelled write_all, say). The peer must then receive exactly the
    // bytes each accepted poll_write reported, in order: no count may be
    // credited to data other than its own call's.
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let mut w = client.into_poll_stream();
        let mut accepted = Vec::new();
        let mut pendings = 0;
        let mut round = 0u8;
        // Nobody reads yet: the socket buffers fill and writes go pending.
        while pendings < 20 {
            round = round.wrapping_add(1);
            let data = vec![round; 7_000 + usize::from(round) * 13];
            match write_once(&mut w, &data).await {
                Some(n) => accepted.extend_from_slice(&data[..n]),
                None => {
                    pendings += 1;
                    // Let the loop turn so sends can complete meanwhile.
                    ringloop::yield_now().await;
                }
            }
        }
        let reader = ringloop::spawn(async move {
            let mut r = server.into_poll_stream();
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            got
        });
        w.close().await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), accepted.len());
        assert!(
            got == accepted,
            "the peer received other bytes than were accepted"
        );
    });
}

#[test]
fn a_large_buffered_write_all_arrives_whole_after_flush() {
    ringloop::run(async {
        let (client, server) = tcp_pair().await;
        let data = pattern(7, 2_000_003);
        let reader = ringloop::spawn(async move {
            let mut r = server.into_poll_stream();
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut w = client.into_poll_stream();
        w.write_all(&data).await.unwrap();
        w.flush().await.unwrap();
        w.close().await.unwrap();
        let got = reader.await.unwrap();
        assert!(got == data, "received bytes differ");
    });
}
