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
