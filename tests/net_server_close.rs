//! `Server::wait_closed` holds every caller until the server is closed, its
//! listener is gone and its connection handlers have returned.

#[path = "util/net.rs"]
mod util;

use futures_util::future::join;
use ringloop::net::{open_unix_connection, start_server, start_unix_server, Server};
use ringloop::sync::Event;
use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use util::unix_path;

#[test]
fn two_waiters_in_one_task_both_wait_for_the_listener() {
    ringloop::run(async {
        // The Unix server's socket file goes away with its listener, which
        // makes "the listener is gone" observable.
        let path = unix_path("two-waiters");
        let server = start_unix_server(&path, |_r, _w| async {}).await.unwrap();
        server.close();
        let mut first = pin!(server.wait_closed());
        let second = server.wait_closed();
        // Poll the first waiter once before anything else runs, so the two
        // are in flight together when the accept loop has not ended yet.
        poll_fn(|cx| {
            assert!(first.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        let gone = |who: &str| {
            assert!(
                !path.exists(),
                "{who} waiter returned before the listener was gone"
            )
        };
        join(
            async {
                first.await;
                gone("the first");
            },
            async {
                second.await;
                gone("the second");
            },
        )
        .await;
    });
}

#[test]
fn two_waiting_tasks_wait_for_the_connections() {
    ringloop::run(async {
        let release = Rc::new(Event::new());
        let handler_done = Rc::new(Cell::new(false));
        let (r, d) = (release.clone(), handler_done.clone());
        let server = start_server("127.0.0.1:0", move |_reader, _writer| {
            let (r, d) = (r.clone(), d.clone());
            async move {
                r.wait().await;
                d.set(true);
            }
        })
        .await
        .unwrap();
        let conn = ringloop::net::open_connection(server.local_addr().unwrap())
            .await
            .unwrap();
        while server.connections() == 0 {
            ringloop::yield_now().await;
        }

        let returned = Rc::new(RefCell::new(Vec::new()));
        let waiters: Vec<_> = (0..2)
            .map(|i| {
                let (server, returned, done) =
                    (server.clone(), returned.clone(), handler_done.clone());
                ringloop::spawn(async move {
                    server.wait_closed().await;
                    assert!(done.get(), "waiter {i} returned while a handler ran");
                    returned.borrow_mut().push(i);
                })
            })
            .collect();
        server.close();
        for _ in 0..20 {
            ringloop::yield_now().await;
        }
        assert!(returned.borrow().is_empty(), "a waiter did not wait");
        release.set();
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(returned.borrow().len(), 2);
        drop(conn);
    });
}

#[test]
fn a_cancelled_waiter_does_not_release_the_others() {
    ringloop::run(async {
        let path = unix_path("cancelled-waiter");
        let server: Server = start_unix_server(&path, |mut reader, _w| async move {
            let _ = reader.read_line().await;
        })
        .await
        .unwrap();
        let (_r, writer) = open_unix_connection(&path).await.unwrap();
        while server.connections() == 0 {
            ringloop::yield_now().await;
        }
        server.close();
        // A waiter given up on (as `shutdown`'s grace timeout does).
        let cancelled =
            ringloop::time::timeout(std::time::Duration::from_millis(1), server.wait_closed())
                .await;
        assert!(cancelled.is_err(), "the connection is still open");
        let other = server.clone();
        let waiter = ringloop::spawn(async move { other.wait_closed().await });
        for _ in 0..20 {
            ringloop::yield_now().await;
        }
        assert!(!waiter.is_finished(), "the second waiter did not wait");
        writer.close().await.unwrap();
        waiter.await.unwrap();
        assert!(!path.exists());
    });
}
