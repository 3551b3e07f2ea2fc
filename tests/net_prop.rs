//! Property tests: random byte streams in random chunk sizes through an
//! echo server arrive identical; reads cancelled at random points (a
//! timeout drops the read future) never lose or duplicate a byte that a
//! completed read reported — for raw stream reads and for the Reader.

#[path = "util/net.rs"]
mod util;

use proptest::prelude::*;
use ringloop::net::TcpStream;
use ringloop::time::{sleep, timeout};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;
use util::spawn_echo_server;

/// Writes `data` in chunks of the given sizes (cycled), pausing `pause_us`
/// microseconds after chunks whose index is odd, then shuts down writing.
async fn send_chunked(stream: Rc<TcpStream>, data: Vec<u8>, chunks: Vec<usize>, pause_us: u64) {
    let mut pos = 0;
    let mut i = 0;
    while pos < data.len() {
        let n = chunks[i % chunks.len()].min(data.len() - pos);
        let (res, _) = stream.write_all(data[pos..pos + n].to_vec()).await;
        res.unwrap();
        pos += n;
        if pause_us > 0 && i % 2 == 1 {
            sleep(Duration::from_micros(pause_us)).await;
        }
        i += 1;
    }
    stream.shutdown(Shutdown::Write).await.unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn echo_returns_random_streams_intact(
        data in proptest::collection::vec(any::<u8>(), 0..100_000),
        chunks in proptest::collection::vec(1usize..8192, 1..40),
        read_sizes in proptest::collection::vec(1usize..10_000, 1..20),
    ) {
        let back = ringloop::run(async move {
            let addr = spawn_echo_server();
            let stream = Rc::new(TcpStream::connect(addr).await.unwrap());
            let writer = ringloop::spawn(send_chunked(stream.clone(), data.clone(), chunks, 0));
            let mut back = Vec::new();
            for i in 0.. {
                let (res, buf) = stream.read(Vec::with_capacity(read_sizes[i % read_sizes.len()])).await;
                if res.unwrap() == 0 {
                    break;
                }
                back.extend_from_slice(&buf);
            }
            writer.await.unwrap();
            (back, data)
        });
        prop_assert!(back.0 == back.1, "echoed {} bytes, sent {}", back.0.len(), back.1.len());
    }

    #[test]
    fn cancelled_stream_reads_lose_and_duplicate_nothing(
        data in proptest::collection::vec(any::<u8>(), 1..50_000),
        chunks in proptest::collection::vec(1usize..4096, 1..20),
        pause_us in 0u64..400,
        read_plan in proptest::collection::vec((1usize..5000, 0u64..300), 1..30),
    ) {
        let (got, sent) = ringloop::run(async move {
            let addr = spawn_echo_server();
            let stream = Rc::new(TcpStream::connect(addr).await.unwrap());
            let writer = ringloop::spawn(send_chunked(stream.clone(), data.clone(), chunks, pause_us));
            let mut got = Vec::new();
            let mut cancelled = 0;
            for i in 0.. {
                let (cap, wait_us) = read_plan[i % read_plan.len()];
                // A deadline of 0 drops the read right after its first poll.
                match timeout(Duration::from_micros(wait_us), stream.read(Vec::with_capacity(cap))).await {
                    Ok((res, buf)) => {
                        if res.unwrap() == 0 {
                            break;
                        }
                        got.extend_from_slice(&buf);
                    }
                    Err(_) => cancelled += 1,
                }
            }
            writer.await.unwrap();
            eprintln!("cancelled reads: {cancelled}");
            (got, data)
        });
        prop_assert!(got == sent, "read {} bytes, sent {}", got.len(), sent.len());
    }

    #[test]
    fn cancelled_reader_calls_lose_and_duplicate_nothing(
        data in proptest::collection::vec(any::<u8>(), 1..30_000),
        chunks in proptest::collection::vec(1usize..2048, 1..20),
        pause_us in 0u64..300,
        plan in proptest::collection::vec((0u8..3, 1usize..3000, 0u64..300), 1..30),
    ) {
        let (got, sent) = ringloop::run(async move {
            let addr = spawn_echo_server();
            let (mut reader, writer) = TcpStream::connect(addr).await.unwrap().into_split();
            let data2 = data.clone();
            let chunks2 = chunks.clone();
            let w = ringloop::spawn(async move {
                let mut pos = 0;
                let mut i = 0;
                while pos < data2.len() {
                    let n = chunks2[i % chunks2.len()].min(data2.len() - pos);
                    writer.write(data2[pos..pos + n].to_vec()).await.unwrap();
                    pos += n;
                    if pause_us > 0 && i % 2 == 1 {
                        sleep(Duration::from_micros(pause_us)).await;
                    }
                    i += 1;
                }
                writer.write_eof().await.unwrap();
            });
            let mut got = Vec::new();
            for i in 0.. {
                let (kind, n, wait_us) = plan[i % plan.len()];
                let dur = Duration::from_micros(wait_us);
                let res = match kind {
                    0 => timeout(dur, reader.read(n)).await,
                    1 => timeout(dur, reader.read_exact(n)).await,
                    _ => timeout(dur, reader.read_until(&[data[0]])).await,
                };
                match res {
                    Ok(Ok(bytes)) => got.extend_from_slice(&bytes),
                    // End of stream inside read_exact/read_until: the rest is in the error.
                    Ok(Err(e)) => {
                        let inc = ringloop::net::IncompleteRead::of(&e).expect("only EOF errors");
                        got.extend_from_slice(&inc.partial);
                    }
                    // A timeout whose deadline passed before its first poll
                    // returns at once, without letting the loop turn: if every
                    // planned timeout did, this loop would spin and the reads
                    // it cancels could never complete. Let the loop run.
                    Err(_) => ringloop::yield_now().await,
                }
                if reader.at_eof() {
                    break;
                }
            }
            w.await.unwrap();
            (got, data)
        });
        prop_assert!(got == sent, "read {} bytes, sent {}", got.len(), sent.len());
    }
}
