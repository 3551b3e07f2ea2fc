//! A Unix listener, or a Unix datagram socket bound to a path, removes its
//! socket file when it closes — only if the path still names the file it
//! created — unless told not to.

#[path = "util/net.rs"]
mod util;

use ringloop::net::{
    start_unix_server, DatagramOptions, ListenOptions, Server, UnixDatagram, UnixListener,
    UnixStream,
};
use std::future::{poll_fn, Future};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::pin::pin;
use std::task::Poll;
use util::unix_path;

fn inode(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).unwrap().ino()
}

#[test]
fn dropped_listener_removes_its_socket_file() {
    ringloop::run(async {
        let path = unix_path("cleanup");
        let listener = UnixListener::bind(&path).unwrap();
        assert!(path.exists());
        let _client = UnixStream::connect(&path).await.unwrap();
        drop(listener);
        assert!(!path.exists(), "the socket file outlived its listener");
        // The path is free for the next bind without manual clean-up.
        let again = UnixListener::bind(&path).unwrap();
        drop(again);
        assert!(!path.exists());
    });
}

/// Binds a socket with `bind` at three paths and, before dropping it, puts
/// another socket (`bind_other`), a plain file, or nothing at its path:
/// dropping ours must leave each as it is.
fn replaced_paths_are_left_alone<S, O>(
    prefix: &str,
    bind: impl Fn(&Path) -> S,
    bind_other: impl Fn(&Path) -> O,
) {
    // Another socket bound at the path after ours was unlinked.
    let path = unix_path(&format!("{prefix}replaced-socket"));
    let ours = bind(&path);
    std::fs::remove_file(&path).unwrap();
    let other = bind_other(&path);
    let other_ino = inode(&path);
    drop(ours);
    assert!(path.exists(), "removed a socket file another socket owns");
    assert_eq!(inode(&path), other_ino);
    drop(other);
    std::fs::remove_file(&path).unwrap();

    // A plain file put in its place.
    let path = unix_path(&format!("{prefix}replaced-file"));
    let ours = bind(&path);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"not a socket").unwrap();
    drop(ours);
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    std::fs::remove_file(&path).unwrap();

    // Already gone: dropping is quiet.
    let path = unix_path(&format!("{prefix}gone"));
    let ours = bind(&path);
    std::fs::remove_file(&path).unwrap();
    drop(ours);
    assert!(!path.exists());
}

#[test]
fn a_file_replaced_at_the_path_is_left_alone() {
    ringloop::run(async {
        replaced_paths_are_left_alone(
            "",
            |p| UnixListener::bind(p).unwrap(),
            |p| std::os::unix::net::UnixListener::bind(p).unwrap(),
        );
    });
}

#[test]
fn cleanup_can_be_turned_off() {
    ringloop::run(async {
        let path = unix_path("keep");
        let opts = ListenOptions::new().cleanup_socket(false);
        let listener = UnixListener::bind_with(&path, &opts).unwrap();
        drop(listener);
        assert!(path.exists(), "cleanup_socket(false) keeps the file");
        std::fs::remove_file(&path).unwrap();

        // The same through a server.
        let listener = UnixListener::bind_with(&path, &opts).unwrap();
        let server = Server::from_unix_listener(listener, |_r, _w| async {});
        server.close();
        server.wait_closed().await;
        assert!(path.exists());
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn server_removes_its_socket_file_on_close() {
    ringloop::run(async {
        let path = unix_path("server-cleanup");
        let server = start_unix_server(&path, |_r, _w| async {}).await.unwrap();
        let _conn = UnixStream::connect(&path).await.unwrap();
        assert!(path.exists(), "a running server keeps its socket file");
        server.close();
        server.wait_closed().await;
        assert!(!path.exists(), "the closed server left its socket file");
    });
}

#[test]
fn abstract_sockets_have_no_file_to_remove() {
    ringloop::run(async {
        let name = format!("\0ringloop-abstract-{}", std::process::id());
        let listener = UnixListener::bind(&name).unwrap();
        assert_eq!(listener.local_addr().unwrap(), None);
        let _client = UnixStream::connect(&name).await.unwrap();
        drop(listener);
    });
}

#[test]
fn dropped_datagram_socket_removes_its_socket_file() {
    ringloop::run(async {
        let path = unix_path("dgram-cleanup");
        let sock = UnixDatagram::bind(&path).unwrap();
        assert!(path.exists());
        let client = UnixDatagram::unbound().unwrap();
        let (res, _) = client.send_to(b"hi".to_vec(), &path).await;
        assert_eq!(res.unwrap(), 2);
        let (res, buf) = sock.recv_from(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap(), (2, None));
        assert_eq!(buf, b"hi");
        drop(sock);
        assert!(
            !path.exists(),
            "the socket file outlived its datagram socket"
        );
        // The path is free for the next bind without manual clean-up.
        let again = UnixDatagram::bind(&path).unwrap();
        drop(again);
        assert!(!path.exists());

        // Also with a receive parked in flight (a cancelled recv).
        let sock = UnixDatagram::bind(&path).unwrap();
        {
            let mut recv = pin!(sock.recv(Vec::with_capacity(8)));
            let polled = poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx).is_pending())).await;
            assert!(polled, "nothing was sent");
        }
        drop(sock);
        assert!(!path.exists(), "a parked receive kept the socket file");
    });
}

#[test]
fn datagram_cleanup_can_be_turned_off() {
    ringloop::run(async {
        let path = unix_path("dgram-keep");
        let opts = DatagramOptions::new().cleanup_socket(false);
        let sock = UnixDatagram::bind_with(&path, &opts).unwrap();
        drop(sock);
        assert!(path.exists(), "cleanup_socket(false) keeps the file");
        std::fs::remove_file(&path).unwrap();

        // The default options do clean up.
        let sock = UnixDatagram::bind_with(&path, &DatagramOptions::default()).unwrap();
        drop(sock);
        assert!(!path.exists());
    });
}

#[test]
fn a_file_replaced_at_a_datagram_path_is_left_alone() {
    ringloop::run(async {
        replaced_paths_are_left_alone(
            "dgram-",
            |p| UnixDatagram::bind(p).unwrap(),
            |p| std::os::unix::net::UnixDatagram::bind(p).unwrap(),
        );
    });
}

#[test]
fn abstract_and_unnamed_datagram_sockets_have_no_file_to_remove() {
    ringloop::run(async {
        let name = format!("\0ringloop-dgram-abstract-{}", std::process::id());
        let sock = UnixDatagram::bind(&name).unwrap();
        assert_eq!(sock.local_addr().unwrap(), None);
        let client = UnixDatagram::unbound().unwrap();
        let (res, _) = client.send_to(b"x".to_vec(), &name).await;
        assert_eq!(res.unwrap(), 1);
        let (res, _) = sock.recv(Vec::with_capacity(1)).await;
        assert_eq!(res.unwrap(), 1);
        drop(sock);
        drop(client);

        // Unnamed: unbound and pairs.
        drop(UnixDatagram::unbound().unwrap());
        let (a, b) = UnixDatagram::pair().unwrap();
        assert_eq!(a.local_addr().unwrap(), None);
        drop(a);
        drop(b);
    });
}
