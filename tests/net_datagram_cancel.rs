//! Datagram receives are cancel-safe: receives dropped at random points
//! (after one poll, or by a short timeout) never lose or duplicate a
//! datagram, and keep the order and boundaries — for UDP and Unix datagram
//! sockets, through `recv` and `recv_from`.

use futures_util::FutureExt;
use proptest::prelude::*;
use ringloop::net::{UdpSocket, UnixDatagram};
use ringloop::time::timeout;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// The receiving end under test.
enum Receiver {
    /// Connected to the sender, whose address `recv_from` must report.
    Udp(UdpSocket, SocketAddr),
    Unix(UnixDatagram),
}

impl Receiver {
    /// One receive, through `recv` or `recv_from`.
    async fn recv(&self, from: bool, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        match (self, from) {
            (Receiver::Udp(s, _), false) => s.recv(buf).await,
            (Receiver::Udp(s, peer), true) => {
                let (res, buf) = s.recv_from(buf).await;
                let res = res.map(|(n, addr)| {
                    assert_eq!(addr, *peer, "the source of a datagram");
                    n
                });
                (res, buf)
            }
            (Receiver::Unix(s), false) => s.recv(buf).await,
            (Receiver::Unix(s), true) => {
                let (res, buf) = s.recv_from(buf).await;
                (
                    res.map(|(n, path)| {
                        assert_eq!(path, None, "the sender is unnamed");
                        n
                    }),
                    buf,
                )
            }
        }
    }
}

/// The sending end.
enum Sender {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

impl Sender {
    async fn send(&self, data: Vec<u8>) {
        let (res, _) = match self {
            Sender::Udp(s) => s.send(data).await,
            Sender::Unix(s) => s.send(data).await,
        };
        res.unwrap();
    }
}

async fn udp_pair() -> (Sender, Receiver) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    a.connect(b_addr).await.unwrap();
    b.connect(a_addr).await.unwrap();
    (Sender::Udp(a), Receiver::Udp(b, a_addr))
}

fn unix_pair() -> (Sender, Receiver) {
    let (a, b) = UnixDatagram::pair().unwrap();
    (Sender::Unix(a), Receiver::Unix(b))
}

/// Datagram `i`: its index, then `len` filler bytes (0 to 255 in all).
fn datagram(i: usize, len: usize) -> Vec<u8> {
    let mut d = (i as u32).to_le_bytes().to_vec();
    d.extend((0..len).map(|k| (i + k) as u8));
    d
}

/// What the receiver does next.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Sends the next datagram, if any is left.
    Send,
    /// Polls a receive once and drops it unless it completed at once.
    PollOnceThenDrop { from: bool },
    /// Races a receive against a timer of this many microseconds.
    Timeout { from: bool, micros: u64 },
    /// Lets the loop turn.
    Yield,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Send),
        3 => any::<bool>().prop_map(|from| Step::PollOnceThenDrop { from }),
        2 => (any::<bool>(), 0u64..200).prop_map(|(from, micros)| Step::Timeout { from, micros }),
        1 => Just(Step::Yield),
    ]
}

/// Runs `steps`, then sends what is left and receives until every datagram
/// came back; returns the datagrams received, in order.
async fn run_plan(
    sender: Sender,
    receiver: Receiver,
    sent: &[Vec<u8>],
    steps: &[Step],
) -> Vec<Vec<u8>> {
    let mut next = 0;
    let mut got = Vec::new();
    let keep = |res: io::Result<usize>, buf: Vec<u8>, got: &mut Vec<Vec<u8>>| {
        let n = res.expect("a receive failed");
        got.push(buf[..n].to_vec());
    };
    for step in steps {
        match *step {
            Step::Send => {
                if let Some(d) = sent.get(next) {
                    sender.send(d.clone()).await;
                    next += 1;
                }
            }
            Step::PollOnceThenDrop { from } => {
                let mut recv = pin!(receiver.recv(from, Vec::with_capacity(512)));
                let done = poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await;
                if let Poll::Ready((res, buf)) = done {
                    keep(res, buf, &mut got);
                }
            }
            Step::Timeout { from, micros } => {
                let recv = receiver.recv(from, Vec::with_capacity(512));
                if let Ok((res, buf)) = timeout(Duration::from_micros(micros), recv).await {
                    keep(res, buf, &mut got);
                }
            }
            Step::Yield => ringloop::yield_now().await,
        }
    }
    for d in &sent[next..] {
        sender.send(d.clone()).await;
    }
    let mut from = false;
    while got.len() < sent.len() {
        // Every datagram is already sent: a receive that waits at all found
        // nothing, i.e. a datagram was lost. The generous timeout only turns
        // that hang into a failure; passing never depends on it.
        let recv = receiver.recv(from, Vec::with_capacity(512));
        let Ok((res, buf)) = timeout(Duration::from_secs(2), recv).await else {
            panic!("lost datagrams: got {} of {}", got.len(), sent.len());
        };
        keep(res, buf, &mut got);
        from = !from;
    }
    // Nothing more is ready: a receive polled once finds no datagram left
    // over from the cancelled ones.
    let extra = receiver.recv(false, Vec::with_capacity(512)).now_or_never();
    assert!(extra.is_none(), "a datagram arrived twice");
    got
}

fn check(udp: bool, lens: Vec<usize>, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let sent: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &len)| datagram(i, len))
        .collect();
    let expected = sent.clone();
    let got = ringloop::run(async move {
        let (sender, receiver) = if udp { udp_pair().await } else { unix_pair() };
        run_plan(sender, receiver, &sent, &steps).await
    });
    prop_assert_eq!(got.len(), expected.len(), "datagrams received vs sent");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        prop_assert_eq!(
            g,
            e,
            "datagram {} differs (lost, duplicated or reordered)",
            i
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 16, ..ProptestConfig::default() })]

    #[test]
    fn udp_receives_dropped_at_random_lose_nothing(
        lens in proptest::collection::vec(0usize..256, 1..40),
        steps in proptest::collection::vec(step(), 0..120),
    ) {
        check(true, lens, steps)?;
    }

    #[test]
    fn unix_datagram_receives_dropped_at_random_lose_nothing(
        lens in proptest::collection::vec(0usize..256, 1..40),
        steps in proptest::collection::vec(step(), 0..120),
    ) {
        check(false, lens, steps)?;
    }
}

#[test]
fn a_parked_datagram_keeps_its_boundaries_and_truncation() {
    ringloop::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        // A receive with a 4-byte buffer, dropped after it was submitted.
        {
            let mut recv = pin!(b.recv(Vec::with_capacity(4)));
            let first = poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "nothing was sent yet");
        }
        let (res, _) = a.send(b"abcdefgh".to_vec()).await;
        res.unwrap();
        let (res, _) = a.send(b"second".to_vec()).await;
        res.unwrap();
        // The dropped receive took the first datagram, truncated to its
        // 4 bytes; the next receive gets that, not the second datagram.
        let recv = timeout(Duration::from_secs(5), b.recv(Vec::with_capacity(64)));
        let (res, buf) = recv.await.expect("the parked datagram was lost");
        assert_eq!(&buf[..res.unwrap()], b"abcd");
        // Truncated again to a smaller buffer than the parked one's.
        {
            let mut recv = pin!(b.recv_from(Vec::with_capacity(64)));
            let _ = poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await;
        }
        let recv = timeout(Duration::from_secs(5), b.recv(Vec::with_capacity(3)));
        let (res, buf) = recv.await.expect("the parked datagram was lost");
        assert_eq!(&buf[..res.unwrap()], b"sec");
        let (res, _) = a.send(b"third".to_vec()).await;
        res.unwrap();
        let (res, buf) = b.recv(Vec::with_capacity(64)).await;
        assert_eq!(&buf[..res.unwrap()], b"third");
    });
}

#[test]
fn a_parked_recv_on_an_unconnected_socket_reports_its_unknown_source() {
    ringloop::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        {
            let mut recv = pin!(b.recv(Vec::with_capacity(16)));
            let first = poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "nothing was sent yet");
        }
        let to = b.local_addr().unwrap();
        for msg in [&b"one"[..], b"two"] {
            let (res, _) = a.send_to(msg.to_vec(), to).await;
            res.unwrap();
        }
        // RECV reports no source, and `b` has no peer to stand in for it:
        // the data is handed over with an error that says why.
        let recv = timeout(Duration::from_secs(5), b.recv_from(Vec::with_capacity(16)));
        let (res, buf) = recv.await.expect("the parked datagram was lost");
        let err = res.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("use recv_from"), "{err}");
        assert_eq!(buf, b"one");
        let (res, buf) = b.recv_from(Vec::with_capacity(16)).await;
        assert_eq!(res.unwrap(), (3, a.local_addr().unwrap()));
        assert_eq!(buf, b"two");
    });
}
