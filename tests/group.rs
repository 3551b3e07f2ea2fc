//! One runtime per core: the launcher (`Builder::run_per_thread`,
//! `thread_index`, pinning, panics), `Handle::spawn` from threads and
//! other runtimes, and `sync::mpsc` across runtimes and threads.

use ringloop::sync::mpsc;
use ringloop::{thread_index, Handle, Runtime};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The CPUs this thread may run on.
fn my_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set, which
    // sched_getaffinity fills; CPU_ISSET reads inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0
        );
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

#[test]
fn run_per_thread_returns_outputs_in_thread_order() {
    assert_eq!(thread_index(), 0, "0 outside a group");
    let out = Runtime::builder()
        .threads(3)
        .run_per_thread(|| async {
            // Each thread runs its own loop: a task and a timer work there.
            let i = ringloop::spawn(async { thread_index() }).await.unwrap();
            ringloop::time::sleep(Duration::from_millis(5 * (3 - i as u64))).await;
            (i, std::thread::current().name().map(str::to_owned))
        })
        .unwrap();
    let indexes: Vec<usize> = out.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, [0, 1, 2]);
    assert_eq!(out[2].1.as_deref(), Some("ringloop-2"));
    // threads(0), the default: one per CPU the process may use.
    let n = Runtime::builder()
        .run_per_thread(|| async { thread_index() })
        .unwrap()
        .len();
    assert_eq!(n, my_cpus().len());
}

#[test]
fn pinned_threads_run_on_their_cpu_and_extra_threads_run_unpinned() {
    let cpus = my_cpus();
    let extra = cpus.len() + 1;
    let seen = Runtime::builder()
        .threads(extra)
        .pin_to_cores(true)
        .run_per_thread(|| async { my_cpus() })
        .unwrap();
    for (i, set) in seen.iter().enumerate() {
        match cpus.get(i) {
            Some(&cpu) => assert_eq!(set, &[cpu], "thread {i}"),
            None => assert_eq!(set, &cpus, "thread {i} beyond the CPUs is unpinned"),
        }
    }
}

#[test]
fn pinning_uses_only_the_cpus_the_launching_thread_may_use() {
    // Restrict the launching thread to one CPU: the launcher pins thread 0
    // there and leaves thread 1 (beyond the allowed set) unpinned, on it too.
    let cpus = my_cpus();
    if cpus.len() < 2 {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    let err = std::thread::spawn(move || {
        // SAFETY: as in `my_cpus`; sched_setaffinity only reads the set.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpus[0], &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
        let ok = Runtime::builder()
            .threads(2)
            .pin_to_cores(true)
            .run_per_thread(|| async { my_cpus() })
            .unwrap();
        assert_eq!(ok, [vec![cpus[0]], vec![cpus[0]]]);
        "no error"
    })
    .join()
    .unwrap();
    assert_eq!(err, "no error");
}

#[test]
fn a_panic_on_one_thread_is_its_error_and_the_others_finish() {
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let err = Runtime::builder()
        .threads(3)
        .run_per_thread(move || {
            let f = f.clone();
            async move {
                if thread_index() == 1 {
                    panic!("planned panic on thread 1");
                }
                ringloop::time::sleep(Duration::from_millis(50)).await;
                f.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("thread 1") && msg.contains("planned panic"),
        "{msg}"
    );
    assert_eq!(
        finished.load(Ordering::SeqCst),
        2,
        "the other threads kept running"
    );
}

#[test]
fn handle_spawn_from_a_plain_thread_and_from_another_runtime() {
    // Thread 0 publishes its handle; thread 1 runs a !Send future on it
    // and awaits the result; a plain thread joins another.
    let (tx, rx) = std::sync::mpsc::channel::<Handle>();
    let rx = std::sync::Mutex::new(rx);
    let out = Runtime::builder()
        .threads(2)
        .run_per_thread(|| {
            let tx = tx.clone();
            let rx = &rx;
            async move {
                if thread_index() == 0 {
                    tx.send(Handle::current()).unwrap();
                    // Serve remote work for a while.
                    ringloop::time::sleep(Duration::from_millis(300)).await;
                    return 0;
                }
                let handle = rx.lock().unwrap().recv().unwrap();
                let remote = handle.spawn(|| async {
                    let not_send = std::rc::Rc::new(thread_index());
                    ringloop::yield_now().await;
                    *not_send + 100
                });
                let from_thread = {
                    let handle = handle.clone();
                    std::thread::spawn(move || handle.spawn(|| async { thread_index() + 7 }).join())
                };
                let got = remote.await.unwrap();
                let joined = ringloop::to_thread(move || from_thread.join().unwrap())
                    .await
                    .unwrap()
                    .unwrap();
                got + joined
            }
        })
        .unwrap();
    assert_eq!(out, [0, 100 + 7]);
}

#[test]
fn handle_spawn_reports_panics_and_shut_down_runtimes() {
    let rt = Runtime::new().unwrap();
    let handle = rt.handle();
    let (panicked, made_badly) = std::thread::scope(|s| {
        let h = handle.clone();
        let worker = s.spawn(move || {
            let a = h.spawn(|| async { panic!("in the task") }).join();
            let b = h
                .spawn(|| -> std::future::Ready<()> { panic!("in the closure") })
                .join();
            (a, b)
        });
        rt.block_on(async {
            while !worker.is_finished() {
                ringloop::time::sleep(Duration::from_millis(1)).await;
            }
        });
        worker.join().unwrap()
    });
    assert!(panicked.unwrap_err().is_panic());
    assert!(made_badly.unwrap_err().is_panic());
    // A task still running when its runtime is dropped is cancelled.
    let pending = handle.spawn(std::future::pending::<()>);
    rt.block_on(ringloop::yield_now());
    drop(rt);
    assert!(pending.join().unwrap_err().is_cancelled());
    // After shutdown: a clear cancellation, never a hang.
    assert!(handle.is_closed());
    assert!(handle
        .spawn(|| async { 1 })
        .join()
        .unwrap_err()
        .is_cancelled());
}

#[test]
fn mpsc_crosses_runtimes_and_threads_in_order() {
    let (tx, rx) = mpsc::channel::<(usize, u32)>(8);
    let rx = std::sync::Mutex::new(Some(rx));
    // Two runtimes send 1000 each; a plain thread sends 1000 with
    // blocking_send; runtime 2 receives everything.
    let plain = {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for i in 0..1000 {
                tx.blocking_send((9, i)).unwrap();
            }
        })
    };
    let out = Runtime::builder()
        .threads(3)
        .run_per_thread(|| {
            let tx = tx.clone();
            let me = thread_index();
            let rx = if me == 2 {
                rx.lock().unwrap().take()
            } else {
                None
            };
            async move {
                if me < 2 {
                    for i in 0..1000 {
                        tx.send((me, i)).await.unwrap();
                    }
                    return Vec::new();
                }
                drop(tx);
                let mut rx = rx.expect("thread 2 takes the receiver");
                let mut got = Vec::new();
                for _ in 0..3000 {
                    got.push(rx.recv().await.expect("3000 values come"));
                }
                got
            }
        })
        .unwrap();
    drop(tx);
    plain.join().unwrap();
    let got = &out[2];
    assert_eq!(got.len(), 3000);
    for sender in [0, 1, 9] {
        let seq: Vec<u32> = got.iter().filter(|v| v.0 == sender).map(|v| v.1).collect();
        assert_eq!(
            seq,
            (0..1000).collect::<Vec<_>>(),
            "sender {sender} in order, once each"
        );
    }
}

#[test]
fn mpsc_close_drains_then_ends_and_a_dropped_receiver_hands_values_back() {
    let (tx, mut rx) = mpsc::unbounded();
    tx.send_blocking_all();
    tx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.try_send(99).unwrap_err(), mpsc::TrySendError::Closed(99));
    let drained: Vec<i32> = std::iter::from_fn(|| rx.blocking_recv()).collect();
    assert_eq!(drained, [1, 2, 3]);
    let (tx, rx) = mpsc::channel::<String>(1);
    drop(rx);
    let err = tx.blocking_send("kept".to_string()).unwrap_err();
    assert_eq!(err.0, "kept");
    assert!(err.to_string().contains("handed back"));
}

trait SendAll {
    fn send_blocking_all(&self);
}

impl SendAll for mpsc::Sender<i32> {
    fn send_blocking_all(&self) {
        for i in 1..=3 {
            self.blocking_send(i).unwrap();
        }
    }
}

#[test]
fn mpsc_cancelled_sends_and_receives_lose_nothing() {
    ringloop::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        tx.send(0).await.unwrap();
        // Two senders wait for room; the first gives up.
        let mut first = Box::pin(tx.send(1));
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(first.as_mut().poll(cx).is_pending()))
                .await;
        assert!(polled, "no room: the first sender waits");
        let tx2 = tx.clone();
        let second = ringloop::spawn(async move { tx2.send(2).await });
        ringloop::yield_now().await;
        // A receive that is cancelled before anything arrives takes nothing.
        assert_eq!(rx.recv().await, Some(0));
        drop(first); // its turn passes to the second sender
        assert!(second.await.unwrap().is_ok());
        assert_eq!(rx.recv().await, Some(2));
        let cancelled = ringloop::time::timeout(Duration::from_millis(5), rx.recv()).await;
        assert!(cancelled.is_err());
        tx.send(3).await.unwrap();
        assert_eq!(rx.recv().await, Some(3));
        drop(tx);
        assert_eq!(rx.recv().await, None);
    });
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Producers on plain threads (blocking_send) and on their own
        /// runtimes (send, with cancelled attempts mixed in) feed one
        /// receiver, on a runtime or a plain thread: each value arrives
        /// exactly once, in its producer's order, whatever the capacity.
        #[test]
        fn every_value_arrives_once_in_order(
            cap in 1usize..16,
            producers in proptest::collection::vec((0u32..300, any::<bool>()), 1..5),
            async_receiver in any::<bool>(),
        ) {
            let (tx, mut rx) = mpsc::channel::<(usize, u32)>(cap);
            let total: u32 = producers.iter().map(|p| p.0).sum();
            let threads: Vec<_> = producers
                .iter()
                .enumerate()
                .map(|(p, &(count, on_runtime))| {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        if !on_runtime {
                            for i in 0..count {
                                tx.blocking_send((p, i)).unwrap();
                            }
                            return;
                        }
                        ringloop::run(async move {
                            for i in 0..count {
                                // A send given up at once is retried: it
                                // must neither deliver nor lose a value.
                                let quick = ringloop::time::timeout(Duration::ZERO, tx.send((p, i))).await;
                                if quick.is_err() {
                                    tx.send((p, i)).await.unwrap();
                                }
                            }
                        });
                    })
                })
                .collect();
            drop(tx);
            let got: Vec<(usize, u32)> = if async_receiver {
                ringloop::run(async move {
                    let mut got = Vec::new();
                    while let Some(v) = rx.recv().await {
                        got.push(v);
                    }
                    got
                })
            } else {
                std::iter::from_fn(|| rx.blocking_recv()).collect()
            };
            for t in threads {
                t.join().unwrap();
            }
            prop_assert_eq!(got.len() as u32, total);
            for (p, &(count, _)) in producers.iter().enumerate() {
                let seq: Vec<u32> = got.iter().filter(|v| v.0 == p).map(|v| v.1).collect();
                prop_assert_eq!(seq, (0..count).collect::<Vec<_>>());
            }
        }
    }
}

#[test]
fn a_wake_sent_just_before_block_on_returns_is_not_lost() {
    // Runtime A's last act sends a value and returns from block_on: the
    // MSG_RING that wakes B must still leave A's ring, though A never
    // turns again (it stays alive, idle, until the end of the test).
    for msg_ring in [true, false] {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let b = std::thread::spawn(move || {
            Runtime::builder()
                .msg_ring(msg_ring)
                .build()
                .unwrap()
                .block_on(async move {
                    ready_tx.send(()).unwrap();
                    // A lost wake-up leaves B asleep until this guard's
                    // timer, 3 s on; delivered, the value comes within
                    // microseconds.
                    let start = std::time::Instant::now();
                    let got = ringloop::time::timeout(Duration::from_secs(3), rx.recv()).await;
                    (got, start.elapsed() < Duration::from_secs(2))
                })
        });
        ready_rx.recv().unwrap();
        // Give B time to go to sleep in its ring.
        std::thread::sleep(Duration::from_millis(50));
        let a = Runtime::builder().msg_ring(msg_ring).build().unwrap();
        a.block_on(async { tx.send(7).await.unwrap() });
        let (got, woken) = b.join().unwrap();
        assert_eq!(got, Ok(Some(7)), "msg_ring {msg_ring}");
        assert!(woken, "msg_ring {msg_ring}: B slept until its guard timer");
        drop(a);
    }
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: as in `my_cpus`; sched_setaffinity only reads the set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
}

#[test]
fn steer_by_cpu_sends_each_connection_to_the_runtime_on_its_cpu() {
    use ringloop::net::{ListenOptions, TcpListener};
    let cpus = my_cpus();
    if cpus.len() < 2 {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    // On loopback the SYN is handled on the connecting thread's CPU, so a
    // client pinned to the CPU of runtime i must reach runtime i.
    const PER_CPU: usize = 8;
    let (port_tx, port_rx) = std::sync::mpsc::channel::<u16>();
    let (main_tx, main_rx) = std::sync::mpsc::channel::<u16>();
    let port_rx = std::sync::Mutex::new(port_rx);
    let (accepted_tx, mut accepted_rx) = mpsc::unbounded::<usize>();
    let server = std::thread::spawn(move || {
        Runtime::builder()
            .threads(2)
            .pin_to_cores(true)
            .run_per_thread(|| {
                let me = thread_index();
                // Thread 0 listens first, then tells thread 1 the port, so
                // the group's order is the threads' order.
                let port = if me == 0 {
                    0
                } else {
                    port_rx.lock().unwrap().recv().unwrap()
                };
                let opts = ListenOptions::new().steer_by_cpu(true);
                let listener = TcpListener::bind_with(("127.0.0.1", port), &opts).unwrap();
                let bound = listener.local_addr().unwrap().port();
                if me == 0 {
                    port_tx.send(bound).unwrap();
                } else {
                    main_tx.send(bound).unwrap();
                }
                let accepted_tx = accepted_tx.clone();
                async move {
                    for _ in 0..PER_CPU {
                        let _conn = listener.accept().await.unwrap();
                        accepted_tx.send(me).await.unwrap();
                    }
                }
            })
            .unwrap();
    });
    // Both listen once thread 1 has reported its port.
    let port = main_rx.recv().unwrap();
    for (runtime, &cpu) in cpus.iter().take(2).enumerate() {
        let got: Vec<usize> = std::thread::spawn(move || {
            pin(cpu);
            (0..PER_CPU)
                .map(|_| {
                    let _s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                    std::thread::sleep(Duration::from_millis(1));
                    0
                })
                .count()
        })
        .join()
        .map(|n| {
            (0..n)
                .map(|_| accepted_rx.blocking_recv().unwrap())
                .collect()
        })
        .unwrap();
        assert_eq!(got, vec![runtime; PER_CPU], "clients on CPU {cpu}");
    }
    server.join().unwrap();
}

#[test]
fn mpsc_shutdown_races_wake_every_waiter_and_hand_values_back() {
    // Senders blocked on a full channel, on a runtime and on plain
    // threads, while the receiver takes one value and is dropped from yet
    // another thread: the one freed place goes to at most one sender, and
    // every other send returns its own value; none hangs.
    for _ in 0..20 {
        let (tx, mut rx) = mpsc::channel::<u64>(1);
        tx.try_send(0).unwrap();
        let blocked: Vec<_> = (1..4u64)
            .map(|v| {
                let tx = tx.clone();
                std::thread::spawn(move || vec![(v, tx.blocking_send(v).map_err(|e| e.0))])
            })
            .collect();
        let on_runtime = {
            let tx = tx.clone();
            std::thread::spawn(move || {
                ringloop::run(async move {
                    let sends: Vec<_> = (10..13u64)
                        .map(|v| {
                            let tx = tx.clone();
                            ringloop::spawn(async move { (v, tx.send(v).await.map_err(|e| e.0)) })
                        })
                        .collect();
                    let mut out = Vec::new();
                    for s in sends {
                        out.push(s.await.unwrap());
                    }
                    out
                })
            })
        };
        std::thread::sleep(Duration::from_millis(5));
        std::thread::spawn(move || {
            assert_eq!(rx.try_recv(), Ok(0));
            drop(rx);
        })
        .join()
        .unwrap();
        let mut results: Vec<(u64, Result<(), u64>)> = blocked
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        results.extend(on_runtime.join().unwrap());
        assert_eq!(results.len(), 6);
        // The place may also go unused if the receiver was gone before
        // the woken sender ran: its send fails too.
        let delivered = results.iter().filter(|r| r.1.is_ok()).count();
        assert!(delivered <= 1, "{results:?}");
        for (v, r) in &results {
            if let Err(back) = r {
                assert_eq!(back, v, "a send got another's value back");
            }
        }
        assert!(tx.is_closed());
    }
}
